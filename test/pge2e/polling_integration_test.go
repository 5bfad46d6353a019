//go:build integration

package pge2e

import (
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/harness"
)

// dbRecord is the PostgreSQL source's DatabaseRecord (include_metadata = true).
type dbRecord struct {
	TableName     string          `json:"table_name"`
	OperationType string          `json:"operation_type"`
	Timestamp     string          `json:"timestamp"`
	Data          json.RawMessage `json:"data"`
	OldData       json.RawMessage `json:"old_data"`
}

func decodeRecord(t *testing.T, m iggy.Message) (dbRecord, map[string]any) {
	t.Helper()
	var r dbRecord
	if err := json.Unmarshal(m.Payload, &r); err != nil {
		t.Fatalf("Iggy message at offset %d is not a DatabaseRecord: %v: %.200s", m.Offset, err, m.Payload)
	}
	var data map[string]any
	if err := json.Unmarshal(r.Data, &data); err != nil {
		t.Fatalf("offset %d: data: %v", m.Offset, err)
	}
	return r, data
}

func idOf(t *testing.T, data map[string]any) int64 {
	t.Helper()
	f, ok := data["id"].(float64)
	if !ok {
		t.Fatalf("record without a numeric id: %v", data)
	}
	return int64(f)
}

// TestPollingDeleteAfterReadSurvivesKill9 is the source-polling crash acceptance: a table drained
// with delete_after_read in large batches, the runtime killed with SIGKILL in several rounds —
// once deterministically inside the window between the Iggy send and the commit (the commit's
// DELETE is held on a table lock after the batch reached Iggy and the state was saved), then at
// random moments and, twice, frozen with SIGSTOP right after Iggy received messages and killed
// when Iggy holds rows the table still has. After every kill, every row is still in the table or in
// Iggy (or both); at the end the table is empty, every row is in Iggy, and the duplicates are
// bounded by what the kills left between send and commit (and by max_in_flight batches per kill:
// the default, 2) and carry
// the same message id.
func TestPollingDeleteAfterReadSurvivesKill9(t *testing.T) {
	db := newTestDB(t)
	const rows, batch = 30000, 3000
	const inFlight = 2 // the default max_in_flight: batches sent and not yet committed at a kill
	db.exec(fmt.Sprintf(`CREATE TABLE %s (id BIGINT PRIMARY KEY, body JSONB NOT NULL, note TEXT);
		INSERT INTO %[1]s SELECT g, jsonb_build_object('n', g, 'tags', jsonb_build_array('t', g %% 7), 'nested', jsonb_build_object('x', g * 1.5)),
		'note ' || g FROM generate_series(1, %d) g`, db.q("outbox"), rows))

	addr := startDevserver(t)
	stream := harness.Stream(t, "pge2e_poll_"+db.suffix) // deleted at the end on a shared server
	rt := newRuntime(t, "runtime", addr, map[string]string{"outbox.toml": fmt.Sprintf(`
type = "source"
key = "outbox"
enabled = true
version = 0
name = "Outbox (pge2e)"
path = "libiggy_connector_postgres_source"

[[streams]]
stream = %q
topic = "outbox"
schema = "json"
batch_length = 1000
linger_time = "40ms"
auto_create = true

[plugin_config]
connection_string = %q
mode = "polling"
tables = [%q]
tracking_column = "id"
delete_after_read = true
batch_size = %d
poll_interval = "100ms"
`, stream, db.url, db.table("outbox"), batch)})
	client := dialIggy(t, addr)

	lost := func(label string) (total, distinct, left, sentNotDeleted int) {
		t.Helper()
		msgs := readTopic(t, client, stream, "outbox")
		seen := map[int64]int{}
		msgID := map[int64][16]byte{}
		for _, m := range msgs {
			r, data := decodeRecord(t, m.Message)
			if r.TableName != "outbox" || r.OperationType != "SELECT" {
				t.Fatalf("%s: unexpected record %s", label, m.Payload)
			}
			id := idOf(t, data)
			seen[id]++
			if prev, ok := msgID[id]; ok && prev != m.ID {
				t.Fatalf("%s: row %d was sent twice with different message ids (replays must be recognisable)", label, id)
			}
			msgID[id] = m.ID
		}
		inTable := map[int64]bool{}
		for _, id := range db.int64s("SELECT id FROM " + db.q("outbox")) {
			inTable[id] = true
		}
		var missing []int64
		for id := int64(1); id <= rows; id++ {
			if !inTable[id] && seen[id] == 0 {
				missing = append(missing, id)
			}
			if inTable[id] && seen[id] > 0 {
				sentNotDeleted++
			}
		}
		if len(missing) > 0 {
			t.Fatalf("%s: %d row(s) are neither in the table nor in Iggy (deleted before delivery), e.g. %v",
				label, len(missing), missing[:min(10, len(missing))])
		}
		return len(msgs), len(seen), len(inTable), sentNotDeleted
	}
	// report logs, right after a kill, what the crash left between the Iggy send and the commit:
	// rows in Iggy and still in the table (sent, not deleted), which the next run reads again, and
	// how many of them are behind the saved cursor (re-read only since the fix of the postgres
	// source) or were sent after the state was saved. The sum over all kills bounds the duplicates.
	windows := 0
	prevUnsaved := int64(0)
	report := func(label string) {
		t.Helper()
		total, distinct, left, sentNotDeleted := lost(label)
		st, _ := rt.readState("outbox")
		cursor, _ := strconv.ParseInt(st.TrackingOffsets[db.table("outbox")], 10, 64)
		behind := db.count(fmt.Sprintf("%s WHERE id <= %d", db.q("outbox"), cursor))
		unsaved := int64(total) - int64(st.ProcessedRows)
		windows += sentNotDeleted
		t.Logf("%-36s Iggy %5d messages (%5d rows, %4d duplicates); table %5d rows; sent but not deleted %4d "+
			"(%4d behind the saved cursor %5d, %4d messages sent after the saved state)",
			label, total, distinct, total-distinct, left, sentNotDeleted, behind, cursor, unsaved-prevUnsaved)
		prevUnsaved = unsaved
	}

	// Round 1, deterministic: the commit's DELETE cannot run while this transaction holds SHARE
	// (SELECT still works), so the runtime polls, sends to Iggy, saves the state and then blocks
	// in the commit. Kill it there.
	kills := 0
	lockConn := db.connect()
	tx, err := lockConn.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), "LOCK TABLE "+db.q("outbox")+" IN SHARE MODE"); err != nil {
		t.Fatal(err)
	}
	rt.Start()
	waitFor(t, 60*time.Second, "the first batch in Iggy, its state saved and its DELETE waiting on the lock", func() bool {
		if rt.Proc().Exited() {
			t.Fatalf("runtime exited: %v", rt.Proc().Err())
		}
		_, saved := rt.readState("outbox")
		return saved && topicCount(t, client, stream, "outbox") >= batch &&
			db.count(fmt.Sprintf(`pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM %s%%'`, db.q("outbox"))) > 0
	})
	rt.Kill()
	kills++
	if err := tx.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The DELETE the dead runtime had sent still runs once the lock is gone (PostgreSQL notices the
	// closed connection only afterwards): those rows are in Iggy already, which lost() checks.
	waitFor(t, 30*time.Second, "the orphaned DELETE to finish", func() bool {
		return db.count(fmt.Sprintf(`pg_stat_activity WHERE state = 'active' AND query LIKE 'DELETE FROM %s%%'`, db.q("outbox"))) == 0
	})
	report("kill 1 (inside the commit, locked):")

	// Rounds 2..5: at a random moment, or frozen (SIGSTOP) after Iggy received messages and killed
	// if the frozen system is inside the window between the send and the commit.
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 7))
	windowKills := 1
	inWindow := func() (bool, string) {
		total := topicCount(t, client, stream, "outbox")
		st, _ := rt.readState("outbox")
		cursor, _ := strconv.ParseInt(st.TrackingOffsets[db.table("outbox")], 10, 64)
		behind := db.count(fmt.Sprintf("%s WHERE id <= %d", db.q("outbox"), cursor))
		unsaved := int64(total) - int64(st.ProcessedRows) - prevUnsaved
		return unsaved > 0 || behind > 0, fmt.Sprintf("%d sent after the saved state, %d behind the saved cursor", unsaved, behind)
	}
	for round := 2; round <= 5; round++ {
		rt.Start()
		rt.waitLog(rt.Starts(), 30*time.Second, `msg="source running"`)
		var label string
		if round%2 == 0 {
			d := time.Duration(rng.IntN(300)) * time.Millisecond
			time.Sleep(d)
			rt.Kill()
			label = fmt.Sprintf("kill %d (random, %s after start):", round, d)
		} else {
			hit, attempts, _ := rt.killInWindow(20*time.Second, growth(t, client, stream, "outbox"), inWindow)
			label = fmt.Sprintf("kill %d (send..commit: %v, freeze %d):", round, hit, attempts)
			if hit {
				windowKills++
			}
		}
		kills++
		report(label)
	}

	// Final run to the end: the table drains completely.
	rt.Start()
	waitFor(t, 90*time.Second, "the outbox table to be empty", func() bool {
		if rt.Proc().Exited() {
			t.Fatalf("runtime exited: %v", rt.Proc().Err())
		}
		return db.count(db.q("outbox")) == 0
	})
	rt.Stop()
	total, distinct, left, _ := lost("final")
	if distinct != rows || left != 0 {
		t.Fatalf("final: %d distinct rows in Iggy (want %d), %d left in the table (want 0)", distinct, rows, left)
	}
	if dup := total - distinct; dup > kills*inFlight*batch || dup > windows {
		t.Fatalf("%d duplicates after %d kills: more than max_in_flight (%d) batches of %d per kill, or more than the crash windows held (%d)",
			dup, kills, inFlight, batch, windows)
	}
	t.Logf("polling source: %d rows, %d kills (%d inside send..commit), %d messages in Iggy, %d duplicates (crash windows held %d, bound %d)",
		rows, kills, windowKills, total, total-distinct, windows, kills*inFlight*batch)
}
