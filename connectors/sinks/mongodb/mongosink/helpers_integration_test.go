//go:build integration

package mongosink

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/connectors/sinks/mongodb/mongotest"
	"github.com/iggy-go/connectors/sdk"
)

// sinkConfig builds a config the way the runtime does: JSON through the SDK's decoder.
func sinkConfig(tb testing.TB, uri, db string, kv map[string]any) *Config {
	tb.Helper()
	m := map[string]any{"connection_uri": uri, "database": db, "collection": "messages", "retry_delay": "20ms"}
	for k, v := range kv {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	cfg, err := sdk.DecodeConfig[Config](b)
	if err != nil {
		tb.Fatalf("config %s: %v", b, err)
	}
	return cfg
}

// testLogger writes the sink's records to the test log.
func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) { w.tb.Log(string(p)); return len(p), nil }

func openSink(tb testing.TB, cfg *Config) *Sink {
	tb.Helper()
	s := newSink(cfg, testLogger(tb))
	if err := s.Open(context.Background()); err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// batchOf builds a batch of messages with offsets first.. and the given payloads; message ids are
// offset+1 (0xABCD in the high half).
func batchOf(first uint64, payloads ...[]byte) *sdk.SinkBatch {
	b := &sdk.SinkBatch{Stream: "orders", Topic: "created", PartitionID: 3, CurrentOffset: first, Schema: sdk.Schema("json")}
	for i, p := range payloads {
		off := first + uint64(i)
		b.Messages = append(b.Messages, sdk.Message{
			ID: abi.IDFromUint64s(0xABCD, off+1), Offset: off, Checksum: 1000 + off,
			Timestamp:       uint64(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).UnixMicro()) + off*1000,
			OriginTimestamp: uint64(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC).UnixMicro()) + off*1000,
			Payload:         p,
		})
	}
	return b
}

// userJSON is message n's JSON payload: nested documents, an array of documents, numbers of both
// kinds, a boolean and a null.
func userJSON(n int) []byte {
	return fmt.Appendf(nil, `{"n":%d,"user":{"name":"user-%d","age":%d,"score":%d.5},"tags":["a","b"],"items":[{"sku":"S%d","qty":%d}],"active":%t,"note":null}`,
		n, n, n%100, n, n%7, n%3+1, n%2 == 0)
}

func newDB(tb testing.TB) *mongotest.DB {
	return mongotest.NewDB(tb, mongotest.URI(tb), "sink_")
}

func consumeOK(tb testing.TB, s *Sink, b *sdk.SinkBatch) {
	tb.Helper()
	res, err := s.Consume(context.Background(), b)
	if err != nil || len(res.Failures) != 0 {
		tb.Fatalf("consume: %v %+v", err, res.Failures)
	}
}
