//go:build integration

package pgsink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/sdk"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgURL returns IGGY_TEST_PG_URL or fails: integration tests need a real PostgreSQL
// (eval "$(scripts/postgres.sh env)" after scripts/postgres.sh start).
func pgURL(tb testing.TB) string {
	u := os.Getenv("IGGY_TEST_PG_URL")
	if u == "" {
		tb.Fatal("IGGY_TEST_PG_URL is not set: run scripts/postgres.sh start && eval \"$(scripts/postgres.sh env)\"")
	}
	return u
}

// testDB is a connection pool for checks plus a schema of the test's own, dropped afterwards.
type testDB struct {
	url    string
	pool   *pgxpool.Pool
	schema string
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
	name := strings.ToLower(tb.Name())
	name = strings.NewReplacer("/", "_", " ", "_", "-", "_").Replace(name)
	if len(name) > 40 {
		name = name[:40]
	}
	schema := "sink_" + name + "_" + hex.EncodeToString(b[:])
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+QuoteIdent(schema)); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), "DROP SCHEMA "+QuoteIdent(schema)+" CASCADE")
		pool.Close()
	})
	return &testDB{url: u, pool: pool, schema: schema}
}

// table returns "schema.name" as target_table would be written.
func (d *testDB) table(name string) string { return d.schema + "." + name }

func (d *testDB) exec(tb testing.TB, sql string, args ...any) {
	tb.Helper()
	if _, err := d.pool.Exec(context.Background(), sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

func (d *testDB) count(tb testing.TB, table string) int {
	tb.Helper()
	var n int
	if err := d.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+QuoteIdent(d.schema)+"."+QuoteIdent(table)).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// sinkConfig builds a config the way the runtime does: JSON through the SDK's decoder.
func sinkConfig(tb testing.TB, url string, kv map[string]any) *Config {
	tb.Helper()
	m := map[string]any{"connection_string": url, "retry_delay": "20ms"}
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

func openSink(tb testing.TB, cfg *Config) *Sink {
	tb.Helper()
	s, err := newSink(cfg, testLogger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Open(context.Background()); err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(tb testing.TB) *slog.Logger {
	if _, ok := tb.(*testing.B); ok {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
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
