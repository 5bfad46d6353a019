//go:build integration

package pgsource

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/connectors/internal/pgutil"
	"github.com/iggy-go/connectors/connectors/internal/pgutil/pgtest"
	"github.com/iggy-go/connectors/sdk"
	"github.com/jackc/pglogrepl"
)

// cdcSetup makes a schema with the tables, and a config with a slot and publication of the test's
// own (dropped afterwards).
func cdcSetup(t *testing.T, ddl string, kv map[string]any) (*pgtest.DB, *Config) {
	t.Helper()
	db := newTestDB(t)
	db.Exec(t, fmt.Sprintf(ddl, pgutil.QuoteIdent(db.Schema)))
	slot, pub := "iggy_test_slot_"+db.Suffix, "iggy_test_pub_"+db.Suffix
	m := map[string]any{"mode": "cdc", "replication_slot": slot, "publication": pub, "batch_size": 100}
	for k, v := range kv {
		m[k] = v
	}
	cfg := sourceConfig(t, db.URL, m)
	t.Cleanup(func() {
		ctx := context.Background()
		for i := 0; i < 50; i++ { // the walsender of a closed source may still hold the slot for a moment
			if _, err := db.Pool.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, slot); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		_, _ = db.Pool.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pgutil.QuoteIdent(pub))
	})
	return db, cfg
}

func confirmedLSN(t *testing.T, db *pgtest.DB, slot string) pglogrepl.LSN {
	t.Helper()
	var s string
	if err := db.Pool.QueryRow(context.Background(), `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&s); err != nil {
		t.Fatal(err)
	}
	lsn, err := pglogrepl.ParseLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return lsn
}

// The original's CDC scenario: insert, update, primary-key-changing update, delete; a rolled-back
// transaction and an untracked table produce nothing.
func TestCDCChangesAndFilters(t *testing.T) {
	db, cfg := cdcSetup(t, `CREATE TABLE %[1]s.users (id INT PRIMARY KEY, name TEXT, code CHAR(4));
		CREATE TABLE %[1]s.other (id INT PRIMARY KEY)`, map[string]any{"tables": []string{"users"}})
	s := openSource(t, cfg, nil)
	u, o := db.Q("users"), db.Q("other")
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s VALUES (1, 'ann', 'ab')`, u))
	db.Exec(t, fmt.Sprintf(`UPDATE %s SET name = 'bob' WHERE id = 1`, u))
	db.Exec(t, fmt.Sprintf(`UPDATE %s SET id = 2 WHERE id = 1`, u))
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s VALUES (5)`, o))
	tx, err := db.Pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), fmt.Sprintf(`INSERT INTO %s VALUES (99, 'ghost', 'x')`, u)); err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback(context.Background())
	db.Exec(t, fmt.Sprintf(`DELETE FROM %s WHERE id = 2`, u))
	msgs, _ := waitFor(t, s, 4, true, 10*time.Second)
	time.Sleep(100 * time.Millisecond)
	if extra := poll(t, s); len(extra.Messages) != 0 {
		t.Fatalf("unexpected extra messages: %s", extra.Messages[0].Payload)
	}
	recs := decodeRecords(t, msgs)
	var got []string
	for _, r := range recs {
		if r.TableName != "users" {
			t.Errorf("table %q", r.TableName)
		}
		got = append(got, fmt.Sprintf("%s data=%v old=%v", r.OperationType, r.Data, r.OldData))
	}
	want := []string{
		"INSERT data=map[code:ab   id:1 name:ann] old=map[]",
		"UPDATE data=map[code:ab   id:1 name:bob] old=map[]",
		"UPDATE data=map[code:ab   id:2 name:bob] old=map[id:1]",
		"DELETE data=map[id:2] old=map[]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("changes:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := time.Parse(time.RFC3339, recs[0].Timestamp); err != nil {
		t.Error(err)
	}
}

// One transaction of 25 rows arrives in one batch, in order.
func TestCDCOrdered25RowBatch(t *testing.T) {
	db, cfg := cdcSetup(t, `CREATE TABLE %[1]s.items (id INT PRIMARY KEY, v TEXT)`, map[string]any{"tables": []string{"items"}})
	s := openSource(t, cfg, nil)
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s SELECT g, 'v' || g FROM generate_series(1, 25) g`, db.Q("items")))
	_, batches := waitFor(t, s, 25, true, 10*time.Second)
	if len(batches) != 1 || len(batches[0].Messages) != 25 {
		t.Fatalf("%d batches", len(batches))
	}
	for i, r := range decodeRecords(t, batches[0].Messages) {
		if r.OperationType != "INSERT" || fmt.Sprint(r.Data["id"]) != fmt.Sprint(i+1) {
			t.Fatalf("message %d: %+v", i, r)
		}
	}
}

// Changes made while the source was closed are delivered after re-open; the slot's confirmed LSN
// moves only in OnCommit.
func TestCDCChangesWhileClosedAndConfirmOnCommit(t *testing.T) {
	db, cfg := cdcSetup(t, `CREATE TABLE %[1]s.t (id INT PRIMARY KEY)`, map[string]any{"tables": []string{"t"}})
	s := openSource(t, cfg, nil)
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s VALUES (1)`, db.Q("t")))
	_, batches := waitFor(t, s, 1, false, 10*time.Second)
	var st State
	if err := sdk.DecodeState(batches[0].State, &st); err != nil || st.CDC.FlushLSN == 0 {
		t.Fatalf("state %+v %v", st, err)
	}
	before := confirmedLSN(t, db, cfg.ReplicationSlot)
	for i := 0; i < 3; i++ { // polls send status updates, but only with the committed position
		poll(t, s)
	}
	if now := confirmedLSN(t, db, cfg.ReplicationSlot); now != before || uint64(now) >= st.CDC.FlushLSN {
		t.Fatalf("slot confirmed %s before commit (was %s, batch ends at %s)", now, before, pglogrepl.LSN(st.CDC.FlushLSN))
	}
	commit(t, batches[0])
	deadline := time.Now().Add(5 * time.Second)
	for uint64(confirmedLSN(t, db, cfg.ReplicationSlot)) < st.CDC.FlushLSN {
		if time.Now().After(deadline) {
			t.Fatalf("slot not confirmed up to %s after commit", pglogrepl.LSN(st.CDC.FlushLSN))
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = s.Close(context.Background())
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s VALUES (2), (3); DELETE FROM %[1]s WHERE id = 1`, db.Q("t")))
	s2 := openSource(t, cfg, batches[0].State)
	msgs, _ := waitFor(t, s2, 3, true, 10*time.Second)
	var got []string
	for _, r := range decodeRecords(t, msgs) {
		got = append(got, fmt.Sprint(r.OperationType, r.Data["id"]))
	}
	if strings.Join(got, ",") != "INSERT2,INSERT3,DELETE1" {
		t.Fatalf("after re-open: %v", got)
	}
}

// A transaction larger than batch_size is split across batches; the state records how much of it
// was delivered, so after a crash exactly the rest arrives, even when the slot was never confirmed
// (crash after the runtime persisted the state but before OnCommit).
func TestCDCSplitTransactionExactlyOnce(t *testing.T) {
	db, cfg := cdcSetup(t, `CREATE TABLE %[1]s.t (id INT PRIMARY KEY)`, map[string]any{"tables": []string{"t"}, "batch_size": 10})
	s := openSource(t, cfg, nil)
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s SELECT generate_series(1, 5)`, db.Q("t")))
	_, small := waitFor(t, s, 5, false, 10*time.Second) // state persisted, OnCommit never ran
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s SELECT generate_series(6, 30)`, db.Q("t")))
	m1, b1 := waitFor(t, s, 10, false, 10*time.Second)
	m2, _ := waitFor(t, s, 10, false, 10*time.Second) // never committed: crash
	if len(b1) != 1 || len(m1) != 10 || len(m2) != 10 {
		t.Fatalf("batches of %d and %d", len(m1), len(m2))
	}
	var st State
	_ = sdk.DecodeState(b1[0].State, &st)
	if st.CDC.PartialLSN == 0 || st.CDC.PartialCount != 10 {
		t.Fatalf("state of a split transaction: %+v", st.CDC)
	}
	_ = small
	_ = s.Close(context.Background())

	s2 := openSource(t, cfg, b1[0].State)
	rest, _ := waitFor(t, s2, 15, true, 10*time.Second)
	time.Sleep(100 * time.Millisecond)
	if extra := poll(t, s2); len(extra.Messages) != 0 {
		t.Fatalf("extra message after the rest: %s", extra.Messages[0].Payload)
	}
	var ids []string
	for _, r := range decodeRecords(t, rest) {
		ids = append(ids, fmt.Sprint(r.Data["id"]))
	}
	if strings.Join(ids, ",") != "16,17,18,19,20,21,22,23,24,25,26,27,28,29,30" {
		t.Fatalf("after crash: %v", ids)
	}
	for i := range m2 {
		if *rest[i].ID != *m2[i].ID {
			t.Fatalf("message %d: id differs on replay", i)
		}
	}
}

// capture_operations keeps only the listed operations.
func TestCDCCaptureOperations(t *testing.T) {
	db, cfg := cdcSetup(t, `CREATE TABLE %[1]s.t (id INT PRIMARY KEY, v INT)`, map[string]any{"tables": []string{"t"},
		"capture_operations": []string{"insert", "DELETE"}})
	s := openSource(t, cfg, nil)
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s VALUES (1, 1); UPDATE %[1]s SET v = 2; DELETE FROM %[1]s; INSERT INTO %[1]s VALUES (7, 7)`, db.Q("t")))
	msgs, _ := waitFor(t, s, 3, true, 10*time.Second)
	var got []string
	for _, r := range decodeRecords(t, msgs) {
		got = append(got, r.OperationType)
	}
	if strings.Join(got, ",") != "INSERT,DELETE,INSERT" {
		t.Fatal(got)
	}
}

// REPLICA IDENTITY FULL gives the whole old row for updates and deletes; include_metadata = false
// sends just the columns.
func TestCDCReplicaIdentityFullAndNoMetadata(t *testing.T) {
	db, cfg := cdcSetup(t, `CREATE TABLE %[1]s.t (id INT PRIMARY KEY, v TEXT); ALTER TABLE %[1]s.t REPLICA IDENTITY FULL`,
		map[string]any{"tables": []string{"t"}})
	s := openSource(t, cfg, nil)
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s VALUES (1, 'a'); UPDATE %[1]s SET v = 'b'; DELETE FROM %[1]s`, db.Q("t")))
	recs := decodeRecords(t, must(waitFor(t, s, 3, true, 10*time.Second)))
	if fmt.Sprint(recs[1].OldData) != "map[id:1 v:a]" || fmt.Sprint(recs[2].Data) != "map[id:1 v:b]" {
		t.Fatalf("old row: %v / delete data: %v", recs[1].OldData, recs[2].Data)
	}
	_ = s.Close(context.Background())
	cfg.IncludeMetadata = false
	s2 := openSource(t, cfg, nil)
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s VALUES (2, 'x')`, db.Q("t")))
	msgs := must(waitFor(t, s2, 1, true, 10*time.Second))
	if string(msgs[0].Payload) != `{"id":2,"v":"x"}` {
		t.Fatalf("payload %s", msgs[0].Payload)
	}
}

func must(m []sdk.SourceMessage, _ []sdk.Batch) []sdk.SourceMessage { return m }

// An existing slot with another plugin is an open error naming the slot; after it is dropped the
// source opens and creates its own.
func TestCDCForeignSlotRejected(t *testing.T) {
	db, cfg := cdcSetup(t, `CREATE TABLE %[1]s.t (id INT PRIMARY KEY)`, map[string]any{"tables": []string{"t"}})
	db.Exec(t, `SELECT pg_create_logical_replication_slot($1, 'test_decoding')`, cfg.ReplicationSlot)
	s, _ := newSource(cfg, nil, nil)
	err := s.Open(context.Background())
	var fe *sdk.FieldError
	if !errors.As(err, &fe) || fe.Field != "replication_slot" || !strings.Contains(fe.Message, cfg.ReplicationSlot) ||
		!strings.Contains(fe.Message, "test_decoding") {
		t.Fatalf("want a replication_slot error naming the slot and plugin, got %v", err)
	}
	db.Exec(t, `SELECT pg_drop_replication_slot($1)`, cfg.ReplicationSlot)
	s2 := openSource(t, cfg, nil)
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s VALUES (1)`, db.Q("t")))
	waitFor(t, s2, 1, true, 10*time.Second)
}

// The replication connection is terminated while a batch is uncommitted: Poll reports a retryable
// error, the next Poll reconnects, and nothing already delivered is delivered twice.
func TestCDCReconnectsWithoutDuplicates(t *testing.T) {
	db, cfg := cdcSetup(t, `CREATE TABLE %[1]s.t (id INT PRIMARY KEY)`, map[string]any{"tables": []string{"t"}})
	s := openSource(t, cfg, nil)
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s VALUES (1)`, db.Q("t")))
	waitFor(t, s, 1, true, 10*time.Second)
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s VALUES (2)`, db.Q("t")))
	_, pending := waitFor(t, s, 1, false, 10*time.Second)
	db.Exec(t, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1`, cfg.ReplicationSlot)
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s VALUES (3)`, db.Q("t")))
	var got []string
	sawError := false
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < 1 && time.Now().Before(deadline) {
		b, err := s.Poll(context.Background())
		if err != nil {
			if !sdk.IsRetryable(err, false) {
				t.Fatalf("stream loss must be retryable: %v", err)
			}
			sawError = true
			continue
		}
		for _, r := range decodeRecords(t, b.Messages) {
			got = append(got, fmt.Sprint(r.Data["id"]))
		}
		commit(t, b)
	}
	commit(t, pending[0])
	if !sawError || strings.Join(got, ",") != "3" {
		t.Fatalf("after reconnect: error seen %v, ids %v (want only 3)", sawError, got)
	}
}

// A polled batch that is never committed (crash between send and commit) is delivered again after
// re-open with the last committed state, with the same ids; a committed one is not.
func TestCDCUncommittedBatchRedelivered(t *testing.T) {
	db, cfg := cdcSetup(t, `CREATE TABLE %[1]s.t (id INT PRIMARY KEY)`, map[string]any{"tables": []string{"t"}})
	s := openSource(t, cfg, nil)
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s VALUES (1), (2)`, db.Q("t")))
	_, b1 := waitFor(t, s, 2, true, 10*time.Second)
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s VALUES (3)`, db.Q("t")))
	m2, b2 := waitFor(t, s, 1, false, 10*time.Second) // polled, never committed
	_ = s.Close(context.Background())

	s2 := openSource(t, cfg, b1[len(b1)-1].State)
	again, _ := waitFor(t, s2, 1, true, 10*time.Second)
	if *again[0].ID != *m2[0].ID || string(again[0].Payload) != string(m2[0].Payload) {
		t.Fatalf("redelivered %s, want %s", again[0].Payload, m2[0].Payload)
	}
	_ = b2
	_ = s2.Close(context.Background())
	// committed now: a third instance gets nothing old
	s3 := openSource(t, cfg, nil)
	time.Sleep(200 * time.Millisecond)
	for i := 0; i < 3; i++ {
		if b := poll(t, s3); len(b.Messages) != 0 {
			t.Fatalf("committed change delivered again: %s", b.Messages[0].Payload)
		}
	}
}

// While the tables are quiet and everything is committed, the slot follows the server (changes of
// untracked tables need no batch), and re-opening with an older state never moves it back.
func TestCDCQuietSlotAdvancesAndNeverMovesBack(t *testing.T) {
	db, cfg := cdcSetup(t, `CREATE TABLE %[1]s.t (id INT PRIMARY KEY); CREATE TABLE %[1]s.other (id INT PRIMARY KEY)`,
		map[string]any{"tables": []string{"t"}})
	s := openSource(t, cfg, nil)
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s VALUES (1)`, db.Q("t")))
	_, b := waitFor(t, s, 1, true, 10*time.Second)
	var st State
	_ = sdk.DecodeState(b[0].State, &st)
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s SELECT generate_series(1, 100)`, db.Q("other")))
	deadline := time.Now().Add(10 * time.Second)
	var advanced pglogrepl.LSN
	for {
		if got := poll(t, s); len(got.Messages) != 0 {
			t.Fatalf("untracked change delivered: %s", got.Messages[0].Payload)
		}
		if advanced = confirmedLSN(t, db, cfg.ReplicationSlot); uint64(advanced) > st.CDC.FlushLSN {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot stayed at %s while quiet", advanced)
		}
	}
	_ = s.Close(context.Background())
	s2 := openSource(t, cfg, b[0].State) // older than the slot
	for i := 0; i < 3; i++ {
		if got := poll(t, s2); len(got.Messages) != 0 {
			t.Fatalf("delivered again: %s", got.Messages[0].Payload)
		}
	}
	if now := confirmedLSN(t, db, cfg.ReplicationSlot); now < advanced {
		t.Fatalf("slot moved back from %s to %s", advanced, now)
	}
}
