//go:build integration

package plugintest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/connectors/internal/pgutil"
	"github.com/iggy-go/connectors/connectors/internal/pgutil/pgtest"
	"github.com/iggy-go/connectors/runtime/plugin"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

// newSchema creates a schema of the test's own (dropped at its end) and runs ddl in it, with %[1]s
// standing for the quoted schema name.
func newSchema(t *testing.T, ddl string) *pgtest.DB {
	t.Helper()
	db := pgtest.NewDB(t, "plugin_src_")
	db.Exec(t, fmt.Sprintf(ddl, pgutil.QuoteIdent(db.Schema)))
	return db
}

// Polling with delete_after_read through the real plugin: rows stay until iggy_source_commit, the
// state of a committed batch reopens the source after it.
func TestSourcePollingThroughPluginBoundary(t *testing.T) {
	url := pgtest.URL(t)
	so := pluginbuild.GoPlugin(t, "connectors/sources/postgres", "iggy_connector_postgres_source")
	ctx := context.Background()
	for _, tr := range []plugin.Transport{plugin.TransportInProcess, plugin.TransportProcess} {
		t.Run(string(tr), func(t *testing.T) {
			lib, err := plugin.Open(so, plugin.Options{Transport: tr, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			if info := lib.Info(); info.Kind != abi.KindSource || info.Name != "postgres" {
				t.Fatalf("info %+v", info)
			}
			err = lib.ValidateConfig([]byte(`{"connection_string":"x","mode":"cdc","tables":["t"],"capture_operations":["MERGE"]}`))
			var ce *plugin.CallError
			if !errors.As(err, &ce) || ce.Field() != "capture_operations[0]" {
				t.Fatalf("validation error must name capture_operations[0], got %v", err)
			}
			db := newSchema(t, `CREATE TABLE %[1]s.q (id INT PRIMARY KEY, v TEXT); INSERT INTO %[1]s.q SELECT g, 'v' || g FROM generate_series(1, 5) g`)
			count := func() int { return db.Count(t, db.Q("q")) }
			cfg, _ := json.Marshal(map[string]any{"connection_string": url, "mode": "polling", "tables": []string{db.Table("q")},
				"delete_after_read": true, "batch_size": 2, "poll_interval": "100ms"})
			src, err := lib.OpenSource(ctx, "pg", cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			r1, err := src.Poll(ctx)
			if err != nil || len(r1.Messages) != 2 || r1.Schema != abi.SchemaJSON || len(r1.State) == 0 {
				t.Fatalf("poll: %v %+v", err, r1)
			}
			if !strings.Contains(string(r1.Messages[0].Payload), `"operation_type":"SELECT"`) || r1.Messages[0].ID == nil {
				t.Fatalf("message %s", r1.Messages[0].Payload)
			}
			if count() != 5 {
				t.Fatal("rows deleted before commit")
			}
			if err := src.Commit(ctx, r1.BatchID); err != nil {
				t.Fatal(err)
			}
			if count() != 3 {
				t.Fatalf("after commit: %d rows", count())
			}
			r2, err := src.Poll(ctx) // never committed: the runtime "crashes"
			if err != nil || len(r2.Messages) != 2 {
				t.Fatal(err, r2)
			}
			_ = src.Close(ctx)
			if count() != 3 {
				t.Fatal("an uncommitted batch deleted rows")
			}
			again, err := lib.OpenSource(ctx, "pg", cfg, r1.State)
			if err != nil {
				t.Fatal(err)
			}
			r3, err := again.Poll(ctx)
			if err != nil || len(r3.Messages) != 2 || *r3.Messages[0].ID != *r2.Messages[0].ID {
				t.Fatalf("after reopen with the committed state: %v %+v", err, r3)
			}
			_ = again.Close(ctx)
		})
	}
}

// CDC through the real plugin: a change arrives, and its slot position is confirmed after commit.
func TestSourceCDCThroughPluginBoundary(t *testing.T) {
	url := pgtest.URL(t)
	so := pluginbuild.GoPlugin(t, "connectors/sources/postgres", "iggy_connector_postgres_source")
	ctx := context.Background()
	lib, err := plugin.Open(so, plugin.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	db := newSchema(t, `CREATE TABLE %[1]s.t (id INT PRIMARY KEY, v TEXT)`) // its clean-up runs after the drops below
	slot, pub := "plugin_src_"+db.Suffix+"_slot", "plugin_src_"+db.Suffix+"_pub"
	t.Cleanup(func() {
		for i := 0; i < 50; i++ {
			if _, err := db.Pool.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, slot); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		_, _ = db.Pool.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pub)
	})
	cfg, _ := json.Marshal(map[string]any{"connection_string": url, "mode": "cdc", "tables": []string{db.Table("t")},
		"replication_slot": slot, "publication": pub, "poll_interval": "200ms"})
	src, err := lib.OpenSource(ctx, "cdc", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Close(ctx) }) // runs before the slot is dropped
	db.Exec(t, fmt.Sprintf(`INSERT INTO %[1]s VALUES (1, 'a'); UPDATE %[1]s SET v = 'b'`, db.Q("t")))
	var got []string
	var last *abi.PollResult
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < 2 && time.Now().Before(deadline) {
		r, err := src.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range r.Messages {
			var rec struct {
				Op   string         `json:"operation_type"`
				Data map[string]any `json:"data"`
			}
			if err := json.Unmarshal(m.Payload, &rec); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprint(rec.Op, rec.Data["v"]))
		}
		if len(r.Messages) > 0 {
			last = r
		}
	}
	if strings.Join(got, ",") != "INSERTa,UPDATEb" {
		t.Fatalf("changes %v", got)
	}
	var before string
	_ = db.Pool.QueryRow(ctx, `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&before)
	if err := src.Commit(ctx, last.BatchID); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		var after string
		_ = db.Pool.QueryRow(ctx, `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&after)
		if after != before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot still confirmed at %s after commit", before)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
