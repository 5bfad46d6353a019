// Package pgtest is the kit of the PostgreSQL connectors' integration tests (build tag
// integration): the real server they run against (IGGY_TEST_PG_URL), a schema of each test's own,
// a logger writing to the test's log and plugin configs decoded the way the runtime hands them over.
// Helpers fail the test (tb.Fatal) instead of returning errors; call them from the test's goroutine.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"maps"
	"os"
	"strings"
	"testing"

	"github.com/iggy-go/connectors/connectors/internal/pgutil"
	"github.com/iggy-go/connectors/sdk"
	"github.com/jackc/pgx/v5/pgxpool"
)

// URL returns IGGY_TEST_PG_URL, or fails tb saying how to get a server.
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("IGGY_TEST_PG_URL")
	if u == "" {
		tb.Fatal(`IGGY_TEST_PG_URL is not set: these tests need a real PostgreSQL with wal_level=logical; ` +
			`run scripts/postgres.sh start && eval "$(scripts/postgres.sh env)"`)
	}
	return u
}

// DB is a connection pool for set-up and checks plus a schema of the test's own, dropped with
// everything in it (CASCADE) when the test ends.
type DB struct {
	URL    string
	Pool   *pgxpool.Pool
	Schema string // prefix, the test's name (lower case, at most 40 characters), "_", Suffix
	Suffix string // 8 random hex digits, unique per DB: for slot, publication and stream names
}

// NewDB connects to URL(tb) and creates a fresh schema whose name starts with prefix.
func NewDB(tb testing.TB, prefix string) *DB {
	tb.Helper()
	u := URL(tb)
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
	schema := prefix + name + "_" + suffix
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+pgutil.QuoteIdent(schema)); err != nil {
		pool.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_, _ = pool.Exec(context.Background(), "DROP SCHEMA "+pgutil.QuoteIdent(schema)+" CASCADE")
		pool.Close()
	})
	return &DB{URL: u, Pool: pool, Schema: schema, Suffix: suffix}
}

// Table returns "schema.name", a table of the test's schema as a connector config names it.
func (d *DB) Table(name string) string { return d.Schema + "." + name }

// Q returns the quoted "schema"."name" of a table of the test's schema, for SQL text.
func (d *DB) Q(name string) string {
	return pgutil.QuoteIdent(d.Schema) + "." + pgutil.QuoteIdent(name)
}

// Exec runs sql, failing tb with the statement when it fails.
func (d *DB) Exec(tb testing.TB, sql string, args ...any) {
	tb.Helper()
	if _, err := d.Pool.Exec(context.Background(), sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// Count returns SELECT count(*) FROM from (a quoted table name, possibly with a WHERE clause).
func (d *DB) Count(tb testing.TB, from string) int {
	tb.Helper()
	var n int
	if err := d.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+from).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Logger returns a debug-level text logger writing to tb's log; a benchmark's logger discards
// (its iterations would drown the output).
func Logger(tb testing.TB) *slog.Logger {
	if _, ok := tb.(*testing.B); ok {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Config builds a plugin config the way the runtime does, as JSON through sdk.DecodeConfig: the
// settings of base with those of kv over them.
func Config[C any](tb testing.TB, base, kv map[string]any) *C {
	tb.Helper()
	m := make(map[string]any, len(base)+len(kv))
	maps.Copy(m, base)
	maps.Copy(m, kv)
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	cfg, err := sdk.DecodeConfig[C](b)
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}
