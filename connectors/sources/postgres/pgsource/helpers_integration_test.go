//go:build integration

package pgsource

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/sdk"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgURL returns IGGY_TEST_PG_URL or fails: integration tests need a real PostgreSQL with
// wal_level=logical (scripts/postgres.sh start && eval "$(scripts/postgres.sh env)").
func pgURL(tb testing.TB) string {
	u := os.Getenv("IGGY_TEST_PG_URL")
	if u == "" {
		tb.Fatal("IGGY_TEST_PG_URL is not set: run scripts/postgres.sh start && eval \"$(scripts/postgres.sh env)\"")
	}
	return u
}

// testDB is a pool for setup and checks plus a schema of the test's own, dropped afterwards.
type testDB struct {
	url    string
	pool   *pgxpool.Pool
	schema string
	suffix string // unique per test, for slot and publication names
}

func newTestDB(tb testing.TB) *testDB {
	tb.Helper()
	u := pgURL(tb)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		tb.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	name := strings.ToLower(tb.Name())
	name = strings.NewReplacer("/", "_", " ", "_", "-", "_").Replace(name)
	if len(name) > 40 {
		name = name[:40]
	}
	schema := "src_" + name + "_" + suffix
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+QuoteIdent(schema)); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), "DROP SCHEMA "+QuoteIdent(schema)+" CASCADE")
		pool.Close()
	})
	return &testDB{url: u, pool: pool, schema: schema, suffix: suffix}
}

func (d *testDB) table(name string) string { return d.schema + "." + name }

func (d *testDB) q(name string) string { return QuoteIdent(d.schema) + "." + QuoteIdent(name) }

func (d *testDB) exec(tb testing.TB, sql string, args ...any) {
	tb.Helper()
	if _, err := d.pool.Exec(context.Background(), sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

func (d *testDB) count(tb testing.TB, where string) int {
	tb.Helper()
	var n int
	if err := d.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+where).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// sourceConfig builds a config the way the runtime does: JSON through the SDK's decoder.
func sourceConfig(tb testing.TB, url string, kv map[string]any) *Config {
	tb.Helper()
	m := map[string]any{"connection_string": url, "retry_delay": "20ms", "poll_interval": "50ms"}
	for k, v := range kv {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	cfg, err := sdk.DecodeConfig[Config](b)
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

func openSource(tb testing.TB, cfg *Config, state []byte) *Source {
	tb.Helper()
	s, err := newSource(cfg, state, testLogger(tb))
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

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
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
