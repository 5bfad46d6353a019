//go:build integration

package pge2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/iggy-go/connectors/test/harness"
	"github.com/jackc/pgx/v5"
)

// TestPostgresToPostgresWithSinkKill9 is the end-to-end acceptance: a PostgreSQL table → polling
// source → Iggy → sink → other PostgreSQL tables, with sources and sinks in two runtime processes.
// One source sends whole rows (jsonb payloads into a jsonb sink table), another the row's jsonb
// column itself. The sink runtime is killed with SIGKILL three times while a write is held inside
// a batch (rounds already committed in PostgreSQL, the Iggy offset not yet stored), so the restart
// replays those messages. psql then reads both sides: counts equal, no duplicate, every row equal to
// its source row.
func TestPostgresToPostgresWithSinkKill9(t *testing.T) {
	db := newTestDB(t)
	const rows = 20000
	db.exec(fmt.Sprintf(`CREATE TABLE %s (id BIGINT PRIMARY KEY, customer TEXT NOT NULL, amount NUMERIC(12,2) NOT NULL,
		paid BOOLEAN NOT NULL, doc JSONB NOT NULL, note TEXT)`, db.q("orders")))
	db.exec(fmt.Sprintf(`INSERT INTO %s SELECT g,
		'customer ' || g || CASE g %% 4 WHEN 0 THEN ' "quoted" \ back' WHEN 1 THEN ' ünïcødé ✓ 日本' WHEN 2 THEN E' tab\there\nnewline' ELSE '' END,
		(g * 1.25)::numeric(12,2), g %% 2 = 0,
		jsonb_build_object('n', g, 'items', jsonb_build_array(jsonb_build_object('sku', 'A-' || g, 'qty', g %% 9), 'x', 1.5, false),
			'nested', jsonb_build_object('deep', jsonb_build_object('k', g * 0.5, 'z', NULL, 'big', 9007199254740993)),
			'text', E'línea "' || g || E'"\n\\ \u00e9 \u2603'),
		CASE WHEN g %% 3 = 0 THEN NULL ELSE 'note ' || g END
		FROM generate_series(1, %d) g`, db.q("orders"), rows))

	addr := startDevserver(t)
	stream := harness.Stream(t, "pge2e_e2e_"+db.suffix) // deleted at the end on a shared server
	client := dialIggy(t, addr)
	ensureTopic(t, client, stream, "orders")
	ensureTopic(t, client, stream, "docs")

	source := func(key, topic, extra string) string {
		return fmt.Sprintf(`
type = "source"
key = %q
enabled = true
version = 0
name = "pge2e source %[1]s"
path = "libiggy_connector_postgres_source"

[[streams]]
stream = %q
topic = %q
schema = "json"
batch_length = 1000

[plugin_config]
connection_string = %q
mode = "polling"
tables = [%q]
tracking_column = "id"
batch_size = 1000
poll_interval = "100ms"
%s`, key, stream, topic, db.url, db.table("orders"), extra)
	}
	sink := func(key, topic, table string) string {
		return fmt.Sprintf(`
type = "sink"
key = %q
enabled = true
version = 0
name = "pge2e sink %[1]s"
path = "libiggy_connector_postgres_sink"

[[streams]]
stream = %[2]q
topics = [%[3]q]
schema = "json"
batch_length = 2000
poll_interval = "5ms"
consumer_group = %[1]q

[plugin_config]
connection_string = %[4]q
target_table = %[5]q
auto_create_table = true
payload_format = "jsonb"
batch_size = 200
`, key, stream, topic, db.url, db.table(table))
	}
	srcRT := newRuntime(t, "source runtime", addr, map[string]string{
		"orders_src.toml": source("orders_src", "orders", "include_metadata = false\n"),
		"docs_src.toml":   source("docs_src", "docs", "payload_column = \"doc\"\npayload_format = \"jsonb\"\n"),
	})
	sinkRT := newRuntime(t, "sink runtime", addr, map[string]string{
		"orders_sink.toml": sink("orders_sink", "orders", "orders_copy"),
		"docs_sink.toml":   sink("docs_sink", "docs", "docs_copy"),
	})

	// The sources fill Iggy first, so the sink reads full batches (2000 messages, written in rounds
	// of 200) and a held write is inside a batch.
	srcRT.Start()
	waitFor(t, 60*time.Second, "the sources to send every row", func() bool {
		if srcRT.Proc().Exited() {
			t.Fatal("the source runtime exited")
		}
		return topicCount(t, client, stream, "orders") >= rows && topicCount(t, client, stream, "docs") >= rows
	})
	sinkRT.Start()

	// Three kills with a write held inside a batch: LOCK ... IN SHARE MODE lets the round in
	// progress commit, then blocks the next one; the rows written so far in this batch are in
	// PostgreSQL while the consumer offset is not stored (window = rows beyond the stored offset).
	kills, replayed := 0, 0
	lockConn := db.connect()
	for kills < 3 {
		if kills > 0 {
			sinkRT.Start()
		}
		sinkRT.waitLog(2*sinkRT.Starts(), 30*time.Second, `msg="sink running"`)
		// Let the sink get further each time (the previous kill's replay first), to a point inside
		// a batch.
		target := (kills+1)*rows/5 + 700
		waitFor(t, 60*time.Second, fmt.Sprintf("the sink to write %d rows", target), func() bool {
			if sinkRT.Proc().Exited() {
				t.Fatal("the sink runtime exited")
			}
			var n int
			err := db.conn.QueryRow(context.Background(), "SELECT count(*) FROM "+db.q("orders_copy")).Scan(&n)
			return err == nil && n >= target
		})
		if db.count(db.q("orders_copy")) >= rows {
			t.Fatalf("the sink finished before kill %d: too fast to be caught, raise rows", kills+1)
		}
		// Hold the writes. If they stop at the first round of a batch (nothing written beyond the
		// stored offset), let that one round through and hold again.
		var (
			tx                        pgx.Tx
			committed                 int64
			window, written, attempts int
		)
		for attempts = 1; ; attempts++ {
			var err error
			if tx, err = lockConn.Begin(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(context.Background(), "LOCK TABLE "+db.q("orders_copy")+" IN SHARE MODE"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 30*time.Second, "a sink write waiting on the lock", func() bool {
				return db.count(`pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%orders_copy%' AND query NOT LIKE 'LOCK%'`) > 0
			})
			committed = groupOffset(t, client, stream, "orders", "orders_sink")
			window = db.count(fmt.Sprintf("%s WHERE iggy_offset > %d", db.q("orders_copy"), committed))
			written = db.count(db.q("orders_copy"))
			if window > 0 || attempts == 5 {
				break
			}
			if err := tx.Rollback(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if window == 0 {
			t.Fatalf("kill %d: the held writes never left rows beyond the stored offset in %d attempts", kills+1, attempts)
		}
		sinkRT.Kill()
		kills++
		replayed += window
		_ = tx.Rollback(context.Background())
		waitFor(t, 30*time.Second, "the dead sink's statements to end", func() bool {
			return db.count(`pg_stat_activity WHERE state <> 'idle' AND query LIKE '%orders_copy%' AND pid <> pg_backend_pid()`) == 0
		})
		t.Logf("sink kill %d (write held, attempt %d): %5d rows written, stored offset %5d, %4d rows written beyond it (replayed after the restart)",
			kills, attempts, written, committed, window)
	}

	sinkRT.Start()
	waitFor(t, 90*time.Second, "both sink tables to hold every row", func() bool {
		if sinkRT.Proc().Exited() || srcRT.Proc().Exited() {
			t.Fatal("a runtime exited")
		}
		return db.count(db.q("orders_copy")) >= rows && db.count(db.q("docs_copy")) >= rows
	})
	time.Sleep(300 * time.Millisecond) // anything still in flight would show as an extra row
	srcRT.Stop()
	sinkRT.Stop()

	// psql, as an independent reader.
	src, ordersCopy, docsCopy := db.q("orders"), db.q("orders_copy"), db.q("docs_copy")
	counts := db.psql(fmt.Sprintf(`SELECT (SELECT count(*) FROM %s) || ' ' || (SELECT count(*) FROM %s) || ' ' || (SELECT count(*) FROM %s)`,
		src, ordersCopy, docsCopy))
	if want := fmt.Sprintf("%d %d %d", rows, rows, rows); counts != want {
		t.Fatalf("row counts source / orders_copy / docs_copy = %s, want %s", counts, want)
	}
	dups := db.psql(fmt.Sprintf(`SELECT (SELECT count(*) - count(DISTINCT payload->>'id') FROM %s) || ' ' || (SELECT count(*) - count(DISTINCT payload->>'n') FROM %s)`,
		ordersCopy, docsCopy))
	if dups != "0 0" {
		t.Fatalf("duplicate rows (orders_copy, docs_copy): %s", dups)
	}
	// Every copied row is exactly its source row as jsonb (types: bigint, text with quotes,
	// backslashes, control characters and non-ASCII, numeric, boolean, nested jsonb, NULL).
	diff := db.psql(fmt.Sprintf(`SELECT count(*) FROM %s s FULL JOIN %s d ON (d.payload->>'id')::bigint = s.id
		WHERE s.id IS NULL OR d.payload IS NULL OR d.payload <> to_jsonb(s)`, src, ordersCopy))
	if diff != "0" {
		sample := db.psql(fmt.Sprintf(`SELECT to_jsonb(s)::text || E'\n  vs ' || coalesce(d.payload::text, 'missing') FROM %s s
			LEFT JOIN %s d ON (d.payload->>'id')::bigint = s.id WHERE d.payload IS DISTINCT FROM to_jsonb(s) LIMIT 3`, src, ordersCopy))
		t.Fatalf("%s rows differ between orders and orders_copy, e.g.\n%s", diff, sample)
	}
	docDiff := db.psql(fmt.Sprintf(`SELECT (SELECT count(*) FROM (SELECT doc FROM %s EXCEPT ALL SELECT payload FROM %s) a) || ' ' ||
		(SELECT count(*) FROM (SELECT payload FROM %[2]s EXCEPT ALL SELECT doc FROM %[1]s) b)`, src, docsCopy))
	if docDiff != "0 0" {
		t.Fatalf("jsonb documents differ between orders.doc and docs_copy.payload (missing, extra): %s", docDiff)
	}
	meta := db.psql(fmt.Sprintf(`SELECT count(*) FROM %s WHERE iggy_stream <> '%s' OR iggy_topic <> 'orders' OR iggy_offset < 0 OR iggy_offset >= %d`,
		ordersCopy, stream, rows))
	if meta != "0" {
		t.Fatalf("%s rows of orders_copy with wrong Iggy metadata", meta)
	}
	t.Logf("PostgreSQL → Iggy → PostgreSQL: %d rows, jsonb documents %d, %d sink kills, %d rows replayed, 0 duplicates, contents equal (psql)",
		rows, rows, kills, replayed)
}
