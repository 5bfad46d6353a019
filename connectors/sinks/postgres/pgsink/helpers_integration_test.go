//go:build integration

package pgsink

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/connectors/internal/pgutil/pgtest"
	"github.com/iggy-go/connectors/sdk"
)

// newTestDB is a pool plus a schema of the test's own ("sink_..."), dropped afterwards.
func newTestDB(tb testing.TB) *pgtest.DB { return pgtest.NewDB(tb, "sink_") }

// sinkConfig builds a config the way the runtime does: JSON through the SDK's decoder.
func sinkConfig(tb testing.TB, url string, kv map[string]any) *Config {
	tb.Helper()
	return pgtest.Config[Config](tb, map[string]any{"connection_string": url, "retry_delay": "20ms"}, kv)
}

func openSink(tb testing.TB, cfg *Config) *Sink {
	tb.Helper()
	s, err := newSink(cfg, pgtest.Logger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Open(context.Background()); err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// batchOf builds a batch of messages with offsets first.. and the given payloads.
func batchOf(first uint64, payloads ...[]byte) *sdk.SinkBatch {
	b := &sdk.SinkBatch{Stream: "orders", Topic: "created", PartitionID: 3, CurrentOffset: first, Schema: sdk.Schema("json")}
	for i, p := range payloads {
		off := first + uint64(i)
		b.Messages = append(b.Messages, sdk.Message{
			ID: abi.IDFromUint64s(0xABCD, off+1), Offset: off, Checksum: 1000 + off,
			Timestamp:       uint64(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).UnixMicro()) + off,
			OriginTimestamp: uint64(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).UnixMicro()) + off,
			Payload:         p,
		})
	}
	return b
}

func jsonPayloads(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf(`{"n":%d,"name":"user-%d","tags":["a","b"]}`, i, i))
	}
	return out
}
