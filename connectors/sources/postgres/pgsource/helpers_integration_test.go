//go:build integration

package pgsource

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/connectors/internal/pgutil/pgtest"
	"github.com/iggy-go/connectors/sdk"
)

// newTestDB is a pool plus a schema of the test's own ("src_..."), dropped afterwards; its Suffix
// is unique per test, for slot and publication names.
func newTestDB(tb testing.TB) *pgtest.DB { return pgtest.NewDB(tb, "src_") }

// sourceConfig builds a config the way the runtime does: JSON through the SDK's decoder.
func sourceConfig(tb testing.TB, url string, kv map[string]any) *Config {
	tb.Helper()
	return pgtest.Config[Config](tb, map[string]any{"connection_string": url, "retry_delay": "20ms", "poll_interval": "50ms"}, kv)
}

func openSource(tb testing.TB, cfg *Config, state []byte) *Source {
	tb.Helper()
	s, err := newSource(cfg, state, pgtest.Logger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Open(context.Background()); err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func poll(tb testing.TB, s *Source) sdk.Batch {
	tb.Helper()
	b, err := s.Poll(context.Background())
	if err != nil {
		tb.Fatalf("poll: %v", err)
	}
	return b
}

func commit(tb testing.TB, b sdk.Batch) {
	tb.Helper()
	if b.OnCommit != nil {
		if err := b.OnCommit(context.Background()); err != nil {
			tb.Fatalf("commit: %v", err)
		}
	}
}

// record is the DatabaseRecord a JSON message carries.
type record struct {
	TableName     string         `json:"table_name"`
	OperationType string         `json:"operation_type"`
	Timestamp     string         `json:"timestamp"`
	Data          map[string]any `json:"data"`
	OldData       map[string]any `json:"old_data"`
}

func decodeRecords(tb testing.TB, msgs []sdk.SourceMessage) []record {
	tb.Helper()
	out := make([]record, len(msgs))
	for i, m := range msgs {
		dec := json.NewDecoder(strings.NewReader(string(m.Payload)))
		dec.UseNumber()
		if err := dec.Decode(&out[i]); err != nil {
			tb.Fatalf("message %d is not a record: %v: %s", i, err, m.Payload)
		}
	}
	return out
}

// waitFor polls (committing every batch when commitEach) until n messages arrived or the timeout.
func waitFor(tb testing.TB, s *Source, n int, commitEach bool, timeout time.Duration) ([]sdk.SourceMessage, []sdk.Batch) {
	tb.Helper()
	var msgs []sdk.SourceMessage
	var batches []sdk.Batch
	deadline := time.Now().Add(timeout)
	for len(msgs) < n && time.Now().Before(deadline) {
		b := poll(tb, s)
		if len(b.Messages) > 0 {
			msgs = append(msgs, b.Messages...)
			batches = append(batches, b)
			if commitEach {
				commit(tb, b)
			}
		}
	}
	if len(msgs) < n {
		tb.Fatalf("got %d messages within %v, want %d", len(msgs), timeout, n)
	}
	return msgs, batches
}
