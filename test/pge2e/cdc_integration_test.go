//go:build integration

package pge2e

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iggy-go/connectors/test/harness"
	"github.com/jackc/pgx/v5"
)

// change is one row change as the CDC source must report it.
type change struct {
	op string // INSERT, UPDATE, DELETE
	id int64
	v  int64 // the row's v after the change (0 for DELETE)
}

func (c change) key() string { return fmt.Sprintf("%s/%d/%d", c.op, c.id, c.v) }

// cdcWriter applies transactions to the items table and remembers every committed change in
// commit order.
type cdcWriter struct {
	t       *testing.T
	conn    *pgx.Conn
	table   string
	mu      sync.Mutex
	changes []change
	live    map[int64]int64 // id → v of existing rows
	nextID  int64
}

// tx runs one transaction of inserts, updates of random live rows and deletes.
func (w *cdcWriter) tx(rng *mrand.Rand, inserts, updates, deletes int) {
	w.t.Helper()
	ctx := context.Background()
	tx, err := w.conn.Begin(ctx)
	if err != nil {
		w.t.Error(err)
		return
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var done []change
	live := map[int64]int64{}
	w.mu.Lock()
	for id, v := range w.live {
		live[id] = v
	}
	next := w.nextID
	w.mu.Unlock()
	for i := 0; i < inserts; i++ {
		next++
		if _, err := tx.Exec(ctx, "INSERT INTO "+w.table+" (id, v, note) VALUES ($1, 1, $2)", next, fmt.Sprintf("row %d ünïcode 'q'", next)); err != nil {
			w.t.Error(err)
			return
		}
		live[next] = 1
		done = append(done, change{"INSERT", next, 1})
	}
	ids := make([]int64, 0, len(live))
	for id := range live {
		ids = append(ids, id)
	}
	for i := 0; i < updates && len(ids) > 0; i++ {
		id := ids[rng.IntN(len(ids))]
		if _, err := tx.Exec(ctx, "UPDATE "+w.table+" SET v = v + 1 WHERE id = $1", id); err != nil {
			w.t.Error(err)
			return
		}
		live[id]++
		done = append(done, change{"UPDATE", id, live[id]})
	}
	for i := 0; i < deletes && len(ids) > 0; i++ {
		j := rng.IntN(len(ids))
		id := ids[j]
		ids = append(ids[:j], ids[j+1:]...)
		if _, ok := live[id]; !ok {
			continue
		}
		if _, err := tx.Exec(ctx, "DELETE FROM "+w.table+" WHERE id = $1", id); err != nil {
			w.t.Error(err)
			return
		}
		delete(live, id)
		done = append(done, change{"DELETE", id, 0})
	}
	if err := tx.Commit(ctx); err != nil {
		w.t.Error(err)
		return
	}
	w.mu.Lock()
	w.live, w.nextID = live, next
	w.changes = append(w.changes, done...)
	w.mu.Unlock()
}

func (w *cdcWriter) expected() []change {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]change(nil), w.changes...)
}

// TestCDCRestartAndKill9 is the CDC acceptance through the runtime binary: changes made while the
// runtime is stopped (one transaction larger than a batch among them) are delivered after the
// restart; then, under a steady stream of transactions, the runtime is killed with SIGKILL four
// times: at random moments, and frozen with SIGSTOP right after Iggy received changes and killed
// when the frozen state shows changes sent but not covered by the saved state, or a saved state
// ahead of the slot's confirmed position (at least one such kill is required). Every committed
// change reaches Iggy, in commit order per row (first deliveries); duplicates are bounded by the
// changes the kills left between send and state save (and by max_in_flight batches per kill: the
// default, 2) and repeat the same message id.
func TestCDCRestartAndKill9(t *testing.T) {
	db := newTestDB(t)
	const batch = 400
	const inFlight = 2 // the default max_in_flight: batches sent and not yet recorded at a kill
	db.exec(fmt.Sprintf(`CREATE TABLE %s (id BIGINT PRIMARY KEY, v BIGINT NOT NULL, note TEXT)`, db.q("items")))
	slot, pub := "pge2e_slot_"+db.suffix, "pge2e_pub_"+db.suffix
	t.Cleanup(func() { dropSlot(t, db.url, slot, pub) })

	addr := startDevserver(t)
	stream := harness.Stream(t, "pge2e_cdc_"+db.suffix) // deleted at the end on a shared server
	rt := newRuntime(t, "runtime", addr, map[string]string{"items_cdc.toml": fmt.Sprintf(`
type = "source"
key = "items_cdc"
enabled = true
version = 0
name = "Items CDC (pge2e)"
path = "libiggy_connector_postgres_source"

[[streams]]
stream = %q
topic = "items"
schema = "json"
batch_length = 1000
auto_create = true

[plugin_config]
connection_string = %q
mode = "cdc"
tables = [%q]
replication_slot = %q
publication = %q
batch_size = %d
poll_interval = "100ms"
`, stream, db.url, db.table("items"), slot, pub, batch)})
	client := dialIggy(t, addr)
	w := &cdcWriter{t: t, conn: db.connect(), table: db.q("items"), live: map[int64]int64{}}
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 11))

	// check verifies that every committed change is in Iggy; it returns the message count and the
	// number of duplicates.
	check := func(label string, final bool) (total, dups int) {
		t.Helper()
		msgs := readTopic(t, client, stream, "items")
		seenKey := map[string]int{}
		idOfKey := map[string][16]byte{}
		firstOrder := map[int64][]string{} // row id → change keys in order of first delivery
		for _, m := range msgs {
			r, data := decodeRecord(t, m.Message)
			if r.TableName != "items" {
				t.Fatalf("%s: record of table %q", label, r.TableName)
			}
			c := change{op: r.OperationType, id: idOf(t, data)}
			if c.op != "DELETE" {
				v, ok := data["v"].(float64)
				if !ok {
					t.Fatalf("%s: %s record without v: %s", label, c.op, m.Payload)
				}
				c.v = int64(v)
				if want := fmt.Sprintf("row %d ünïcode 'q'", c.id); data["note"] != want {
					t.Fatalf("%s: note %q, want %q", label, data["note"], want)
				}
			}
			k := c.key()
			if prev, ok := idOfKey[k]; ok && prev != m.ID {
				t.Fatalf("%s: change %s delivered twice with different message ids", label, k)
			}
			idOfKey[k] = m.ID
			if seenKey[k] == 0 {
				firstOrder[c.id] = append(firstOrder[c.id], k)
			}
			seenKey[k]++
		}
		exp := w.expected()
		wantOrder := map[int64][]string{}
		var missing []string
		for _, c := range exp {
			wantOrder[c.id] = append(wantOrder[c.id], c.key())
			if seenKey[c.key()] == 0 {
				missing = append(missing, c.key())
			}
		}
		// While the writer runs, a change can reach Iggy before the writer has recorded its commit:
		// only the final check (writer stopped) requires Iggy to hold nothing else.
		if final && len(seenKey) > len(exp) {
			t.Fatalf("%s: %d distinct changes in Iggy, but only %d were committed", label, len(seenKey), len(exp))
		}
		if final && len(missing) > 0 {
			t.Fatalf("%s: %d committed change(s) never reached Iggy, e.g. %v", label, len(missing), missing[:min(10, len(missing))])
		}
		for id, got := range firstOrder {
			want := wantOrder[id]
			n := min(len(got), len(want))
			if (final && len(got) != len(want)) || strings.Join(got[:n], ",") != strings.Join(want[:n], ",") {
				t.Fatalf("%s: changes of row %d delivered in order %v, committed in order %v", label, id, got, want)
			}
		}
		return len(msgs), len(msgs) - len(seenKey)
	}
	waitAll := func(what string) {
		t.Helper()
		want := len(w.expected())
		waitFor(t, 60*time.Second, what, func() bool {
			if rt.Proc().Exited() {
				t.Fatalf("runtime exited: %v", rt.Proc().Err())
			}
			if topicCount(t, client, stream, "items") < uint64(want) {
				return false
			}
			total, dups := check(what, false)
			return total-dups >= want
		})
		check(what, true)
	}

	// Phase A: running.
	rt.Start()
	rt.waitLog(1, 30*time.Second, `msg="source running"`)
	for i := 0; i < 5; i++ {
		w.tx(rng, 100, 0, 0)
	}
	waitAll("phase A: 500 inserts while running")

	// Phase B: stopped (graceful), then restarted.
	rt.Stop()
	w.tx(rng, 2*batch+100, 0, 0) // one transaction larger than two batches
	w.tx(rng, 0, 200, 0)
	w.tx(rng, 0, 0, 100)
	w.tx(rng, 20, 20, 5)
	rt.Start()
	waitAll("phase B: changes made while the runtime was stopped")
	total, dups := check("phase B", true)
	t.Logf("stopped/restarted: %d changes committed, %d messages in Iggy, %d duplicates", len(w.expected()), total, dups)
	if dups != 0 {
		t.Fatalf("a graceful stop must not cause duplicates: %d", dups)
	}

	// Phase C: transactions keep coming while the runtime is killed.
	stopWriter := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		wr := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 13))
		for {
			select {
			case <-stopWriter:
				return
			default:
			}
			if wr.IntN(50) == 0 {
				w.tx(wr, 3*batch/2, 10, 10) // now and then one larger than a batch
			} else {
				w.tx(wr, 1+wr.IntN(10), wr.IntN(6), wr.IntN(2))
			}
			time.Sleep(3 * time.Millisecond)
		}
	}()
	kills, windows, windowKills := 0, 0, 0
	prevUnsaved := int64(0)
	slotLSN := func() uint64 {
		var lsn uint64
		if err := db.conn.QueryRow(context.Background(), "SELECT (confirmed_flush_lsn - '0/0')::bigint FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&lsn); err != nil {
			t.Fatal(err)
		}
		return lsn
	}
	// inWindow: Iggy holds changes the saved state does not cover (sent, state not saved yet), or
	// the saved state is ahead of the slot's confirmed position (commit not done yet).
	inWindow := func() (bool, string) {
		total := topicCount(t, client, stream, "items")
		st, _ := rt.readState("items_cdc")
		unsaved := int64(total) - int64(st.ProcessedRows) - prevUnsaved
		ahead := st.CDC.FlushLSN > slotLSN()
		return unsaved > 0 || ahead, fmt.Sprintf("%d change(s) sent after the saved state, saved state ahead of the slot: %v", unsaved, ahead)
	}
	for round := 1; round <= 4; round++ {
		if round > 1 {
			rt.Start()
		}
		rt.waitLog(rt.Starts(), 30*time.Second, `msg="source running"`)
		var label string
		if round%2 == 1 {
			d := time.Duration(200+rng.IntN(600)) * time.Millisecond
			time.Sleep(d)
			rt.Kill()
			label = fmt.Sprintf("kill %d (random, %s after start):", round, d)
		} else {
			hit, attempts, desc := rt.killInWindow(20*time.Second, growth(t, client, stream, "items"), inWindow)
			label = fmt.Sprintf("kill %d (between send and commit: %v after %d freeze(s); %s):", round, hit, attempts, desc)
			if hit {
				windowKills++
			}
		}
		kills++
		total, dups := check(label, false)
		st, _ := rt.readState("items_cdc")
		unsaved := int64(total) - int64(st.ProcessedRows)
		windows += int(unsaved - prevUnsaved)
		t.Logf("%s Iggy %d messages (%d duplicates), %d changes committed; sent after the saved state %d",
			label, total, dups, len(w.expected()), unsaved-prevUnsaved)
		prevUnsaved = unsaved
	}
	close(stopWriter)
	<-writerDone
	rt.Start()
	waitAll("phase C: every change after the kills")
	rt.Stop()
	total, dups = check("final", true)
	t.Logf("cdc source: %d changes committed, %d kills, %d messages in Iggy, %d duplicates (crash windows held %d, bound %d)",
		len(w.expected()), kills, total, dups, windows, kills*inFlight*batch)
	if windowKills == 0 {
		t.Fatalf("no kill landed between an Iggy send and its commit")
	}
	if dups > kills*inFlight*batch || dups > windows {
		t.Fatalf("%d duplicates after %d kills: more than max_in_flight (%d) batches of %d per kill, or more than the crash windows held (%d)",
			dups, kills, inFlight, batch, windows)
	}
}

// dropSlot removes the test's replication slot (waiting for its walsender to go) and publication.
func dropSlot(t *testing.T, url, slot, pub string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer c.Close(context.Background())
	for ctx.Err() == nil {
		_, err = c.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", slot)
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("cleanup: replication slot %s not dropped: %v", slot, err)
	}
	if _, err := c.Exec(context.Background(), `DROP PUBLICATION IF EXISTS "`+pub+`"`); err != nil {
		t.Errorf("cleanup: publication %s: %v", pub, err)
	}
}
