//go:build integration

package pgsink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iggy-go/connectors/sdk"
	"github.com/jackc/pgx/v5"
)

// JSON messages stored as bytea (the default) with every metadata column.
func TestSinkJSONMessagesAsBytea(t *testing.T) {
	db := newTestDB(t)
	s := openSink(t, sinkConfig(t, db.URL, map[string]any{"target_table": db.Table("Messages"), "auto_create_table": true}))
	payloads := jsonPayloads(10)
	batch := batchOf(0, payloads...)
	res, err := s.Consume(context.Background(), batch)
	if err != nil || len(res.Failures) != 0 {
		t.Fatalf("consume: %v %+v", err, res.Failures)
	}
	rows, err := db.Pool.Query(context.Background(), fmt.Sprintf(`SELECT id::text, iggy_offset, iggy_timestamp, iggy_stream, iggy_topic,
		iggy_partition_id, iggy_checksum, iggy_origin_timestamp, payload, created_at FROM %q."Messages" ORDER BY iggy_offset`, db.Schema))
	if err != nil {
		t.Fatal(err)
	}
	type dbRow struct {
		ID            string
		Offset        int64
		TS            time.Time
		Stream, Topic string
		Partition     int32
		Checksum      int64
		Origin        time.Time
		Payload       []byte
		CreatedAt     time.Time
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[dbRow])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 {
		t.Fatalf("got %d rows, want 10", len(got))
	}
	for i, r := range got {
		m := batch.Messages[i]
		hi, lo := m.ID.Uint64s()
		if hi != 0xABCD {
			t.Fatal("test assumes hi = 0xABCD")
		}
		if want := u128String(hi, lo); r.ID != want {
			t.Errorf("row %d id %s, want %s", i, r.ID, want)
		}
		if r.Offset != int64(i) || r.Stream != "orders" || r.Topic != "created" || r.Partition != 3 || r.Checksum != int64(1000+i) {
			t.Errorf("row %d metadata: %+v", i, r)
		}
		if r.TS.UnixMicro() != int64(m.Timestamp) || r.Origin.UnixMicro() != int64(m.OriginTimestamp) {
			t.Errorf("row %d timestamps %v %v", i, r.TS, r.Origin)
		}
		if !bytes.Equal(r.Payload, payloads[i]) {
			t.Errorf("row %d payload %q want %q", i, r.Payload, payloads[i])
		}
		if time.Since(r.CreatedAt) > time.Minute {
			t.Errorf("created_at %v", r.CreatedAt)
		}
	}
}

func u128String(hi, lo uint64) string {
	// hi·2^64 + lo in decimal, without math/big in the assertion path of the code under test.
	var digits []byte
	h, l := hi, lo
	for h != 0 || l != 0 {
		// divide the 128-bit number (h,l) by 10
		rh := h % 10
		h /= 10
		// (rh·2^64 + l) / 10, computed in two 32-bit steps
		x := rh<<32 | l>>32
		qx := x / 10
		r2 := x % 10
		y := r2<<32 | l&0xffffffff
		qy := y / 10
		digits = append(digits, byte('0'+y%10))
		l = qx<<32 | qy
	}
	if len(digits) == 0 {
		return "0"
	}
	for i, j := 0, len(digits)-1; i < j; i, j = i+1, j-1 {
		digits[i], digits[j] = digits[j], digits[i]
	}
	return string(digits)
}

// Raw binary payloads come back byte for byte, including NUL bytes and the empty payload.
func TestSinkRawBinaryByteExact(t *testing.T) {
	db := newTestDB(t)
	s := openSink(t, sinkConfig(t, db.URL, map[string]any{"target_table": db.Table("raw"), "auto_create_table": true}))
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	payloads := [][]byte{all, {}, {0}, bytes.Repeat([]byte{0xff, 0x00, 0x5c}, 5000)}
	batch := batchOf(100, payloads...)
	batch.Schema = "raw"
	if res, err := s.Consume(context.Background(), batch); err != nil || len(res.Failures) != 0 {
		t.Fatalf("consume: %v %+v", err, res.Failures)
	}
	for i, p := range payloads {
		var got []byte
		if err := db.Pool.QueryRow(context.Background(), fmt.Sprintf(`SELECT payload FROM %q.raw WHERE iggy_offset = $1`, db.Schema), 100+i).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, p) || got == nil {
			t.Errorf("payload %d: got %d bytes, want %d (byte-exact, never NULL)", i, len(got), len(p))
		}
	}
}

// jsonb storage is queryable; a message that is not JSON is a per-message failure, and one that Go
// accepts but PostgreSQL rejects (\u0000 in jsonb) is isolated by bisection; every other row is written.
func TestSinkJSONBAndPerMessageFailures(t *testing.T) {
	db := newTestDB(t)
	s := openSink(t, sinkConfig(t, db.URL, map[string]any{"target_table": db.Table("docs"), "auto_create_table": true,
		"payload_format": "jsonb", "batch_size": 4}))
	payloads := jsonPayloads(12)
	payloads[2] = []byte(`{"broken":`)
	payloads[7] = []byte(`{"nul":"\u0000"}`) // valid JSON, rejected by jsonb (SQLSTATE 22P05)
	// nested too deeply for the server's stack (SQLSTATE 54001) and for Go's parser
	payloads[10] = []byte(strings.Repeat("[", 200_000) + strings.Repeat("]", 200_000))
	res, err := s.Consume(context.Background(), batchOf(0, payloads...))
	if err != nil {
		t.Fatal(err)
	}
	failed := map[int]string{}
	for _, f := range res.Failures {
		failed[f.Index] = f.Err.Error()
		if sdk.IsRetryable(f.Err, false) {
			t.Errorf("failure %d must be permanent: %v", f.Index, f.Err)
		}
	}
	if len(failed) != 3 || !strings.Contains(failed[2], "not valid JSON") || !strings.Contains(failed[7], "22P05") ||
		!strings.Contains(failed[10], "not valid JSON") {
		t.Fatalf("failures: %v", failed)
	}
	if n := db.Count(t, db.Q("docs")); n != 9 {
		t.Fatalf("rows: %d, want 9", n)
	}
	var name string
	var n int
	if err := db.Pool.QueryRow(context.Background(), fmt.Sprintf(`SELECT payload->>'name', (payload->'n')::int FROM %q.docs WHERE payload @> '{"n": 5}'`, db.Schema)).Scan(&name, &n); err != nil {
		t.Fatal(err)
	}
	if name != "user-5" || n != 5 {
		t.Fatalf("jsonb query: %q %d", name, n)
	}
	var offsets []int64
	rows, _ := db.Pool.Query(context.Background(), fmt.Sprintf(`SELECT iggy_offset FROM %q.docs ORDER BY 1`, db.Schema))
	offsets, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(offsets) != "[0 1 3 4 5 6 8 9 11]" {
		t.Fatalf("written offsets %v", offsets)
	}
}

// A CHECK constraint of a hand-made table rejects one row (SQLSTATE class 23): only it fails.
func TestSinkConstraintViolationIsolated(t *testing.T) {
	db := newTestDB(t)
	db.Exec(t, fmt.Sprintf(`CREATE TABLE %q.small (id NUMERIC(39,0), iggy_offset BIGINT, iggy_timestamp TIMESTAMPTZ,
		iggy_stream TEXT, iggy_topic TEXT, iggy_partition_id INT, iggy_checksum BIGINT, iggy_origin_timestamp TIMESTAMPTZ,
		payload TEXT CHECK (length(payload) < 20), UNIQUE (iggy_stream, iggy_topic, iggy_partition_id, iggy_offset))`, db.Schema))
	s := openSink(t, sinkConfig(t, db.URL, map[string]any{"target_table": db.Table("small"), "payload_format": "text"}))
	payloads := [][]byte{[]byte("short"), []byte("this one is far too long"), []byte("ok"), []byte("fine"), []byte("\xff bad utf8")}
	res, err := s.Consume(context.Background(), batchOf(0, payloads...))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failures) != 2 || res.Failures[0].Index != 4 || res.Failures[1].Index != 1 ||
		!strings.Contains(res.Failures[1].Err.Error(), "23514") {
		t.Fatalf("failures: %+v", res.Failures)
	}
	if n := db.Count(t, db.Q("small")); n != 3 {
		t.Fatalf("rows %d want 3", n)
	}
}

// The same batch offered again (a replay after a crash) and an overlapping one insert nothing twice.
func TestSinkReplayInsertsNothingNew(t *testing.T) {
	db := newTestDB(t)
	s := openSink(t, sinkConfig(t, db.URL, map[string]any{"target_table": db.Table("t"), "auto_create_table": true, "batch_size": 3}))
	payloads := jsonPayloads(10)
	for i := 0; i < 2; i++ {
		if res, err := s.Consume(context.Background(), batchOf(0, payloads...)); err != nil || len(res.Failures) != 0 {
			t.Fatal(err, res.Failures)
		}
	}
	if n := db.Count(t, db.Q("t")); n != 10 {
		t.Fatalf("after replay: %d rows, want 10", n)
	}
	// 4 rounds of ≤3 rows each: first pass direct; the replay conflicts once, then stays on the
	// staging path while rounds keep finding duplicates.
	if st := s.Stats(); st.DirectRounds != 4 || st.Conflicts != 1 || st.StagedRounds != 4 {
		t.Fatalf("stats after replay: %+v", st)
	}
	// overlapping batch 5..14 and another partition with the same offsets
	if _, err := s.Consume(context.Background(), batchOf(5, jsonPayloads(10)...)); err != nil {
		t.Fatal(err)
	}
	other := batchOf(0, payloads[:4]...)
	other.PartitionID = 4
	if _, err := s.Consume(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if n := db.Count(t, db.Q("t")); n != 19 {
		t.Fatalf("rows %d, want 15 of partition 3 + 4 of partition 4", n)
	}
	// a round without duplicates (offsets 12..14 of the overlapping batch) returned to the fast path
	if st := s.Stats(); st.DirectRounds < 5 {
		t.Fatalf("sink never went back to the direct path: %+v", st)
	}
	// a second instance (the runtime restarted) replaying is a no-op as well
	s2 := openSink(t, sinkConfig(t, db.URL, map[string]any{"target_table": db.Table("t"), "auto_create_table": true}))
	if _, err := s2.Consume(context.Background(), batchOf(0, payloads...)); err != nil {
		t.Fatal(err)
	}
	if n := db.Count(t, db.Q("t")); n != 19 {
		t.Fatalf("after restart replay: %d", n)
	}
}

// include_metadata = false: no identity columns; the auto-created table has a partial unique index on
// id (id <> 0), so replays of messages with ids are no-ops and messages without ids (0) are kept.
func TestSinkWithoutMetadataUsesIDAsKey(t *testing.T) {
	db := newTestDB(t)
	s := openSink(t, sinkConfig(t, db.URL, map[string]any{"target_table": db.Table("bare"), "auto_create_table": true,
		"include_metadata": false, "include_checksum": false, "include_origin_timestamp": false, "payload_format": "text"}))
	var cols []string
	rows, _ := db.Pool.Query(context.Background(), `SELECT column_name FROM information_schema.columns WHERE table_schema=$1 AND table_name='bare' ORDER BY ordinal_position`, db.Schema)
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cols, ",") != "id,payload,created_at" {
		t.Fatalf("columns %v", cols)
	}
	b := batchOf(0, []byte("a"), []byte("b"), []byte("c"))
	b.Messages[2].ID = sdk.ID{} // producer set no id
	for i := 0; i < 2; i++ {
		if res, err := s.Consume(context.Background(), b); err != nil || len(res.Failures) != 0 {
			t.Fatal(err, res.Failures)
		}
	}
	var withID, zero int
	if err := db.Pool.QueryRow(context.Background(), fmt.Sprintf(`SELECT count(*) FILTER (WHERE id <> 0), count(*) FILTER (WHERE id = 0) FROM %q.bare`, db.Schema)).Scan(&withID, &zero); err != nil {
		t.Fatal(err)
	}
	if withID != 2 || zero != 2 {
		t.Fatalf("rows with id: %d (want 2, deduplicated), id 0: %d (want 2, never dropped)", withID, zero)
	}
}

// The metadata switches leave their columns out of the created table and of the insert.
func TestSinkMetadataSwitches(t *testing.T) {
	db := newTestDB(t)
	s := openSink(t, sinkConfig(t, db.URL, map[string]any{"target_table": db.Table("m"), "auto_create_table": true,
		"include_checksum": false, "include_origin_timestamp": false, "payload_format": "json"}))
	if _, err := s.Consume(context.Background(), batchOf(0, jsonPayloads(2)...)); err != nil {
		t.Fatal(err)
	}
	rows, _ := db.Pool.Query(context.Background(), `SELECT column_name || ':' || data_type FROM information_schema.columns WHERE table_schema=$1 AND table_name='m' ORDER BY ordinal_position`, db.Schema)
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := "id:numeric,iggy_offset:bigint,iggy_timestamp:timestamp with time zone,iggy_stream:text,iggy_topic:text,iggy_partition_id:integer,payload:jsonb,created_at:timestamp with time zone"
	if strings.Join(cols, ",") != want {
		t.Fatalf("columns\n got %s\nwant %s", strings.Join(cols, ","), want)
	}
	if n := db.Count(t, db.Q("m")); n != 2 {
		t.Fatal(n)
	}
}

// A hand-made table whose column types differ from the sink's (TEXT id, JSON instead of JSONB,
// extra columns) is written through the staging path, where PostgreSQL casts the values; replays
// are no-ops through its own unique key.
func TestSinkHandMadeTableWithOtherTypes(t *testing.T) {
	db := newTestDB(t)
	db.Exec(t, fmt.Sprintf(`CREATE TABLE %q.custom (pk BIGSERIAL PRIMARY KEY, id TEXT, iggy_offset NUMERIC, iggy_timestamp TIMESTAMP,
		iggy_stream VARCHAR(50), iggy_topic VARCHAR(50), iggy_partition_id BIGINT, payload JSON, note TEXT DEFAULT 'x',
		UNIQUE (iggy_stream, iggy_topic, iggy_partition_id, iggy_offset))`, db.Schema))
	s := openSink(t, sinkConfig(t, db.URL, map[string]any{"target_table": db.Table("custom"), "payload_format": "json",
		"include_checksum": false, "include_origin_timestamp": false}))
	for i := 0; i < 2; i++ {
		if res, err := s.Consume(context.Background(), batchOf(0, jsonPayloads(5)...)); err != nil || len(res.Failures) != 0 {
			t.Fatal(err, res.Failures)
		}
	}
	if st := s.Stats(); st.DirectRounds != 0 || st.StagedRounds != 2 {
		t.Fatalf("stats %+v: a table of other types must use the staging path", st)
	}
	var n int
	var name string
	if err := db.Pool.QueryRow(context.Background(), fmt.Sprintf(`SELECT count(*), max(payload->>'name') FROM %q.custom`, db.Schema)).Scan(&n, &name); err != nil {
		t.Fatal(err)
	}
	if n != 5 || name != "user-4" {
		t.Fatalf("rows %d max name %q", n, name)
	}
}

// A missing table without auto_create_table is a permanent open error naming target_table; an
// unreachable server is a retryable one.
func TestSinkOpenErrors(t *testing.T) {
	db := newTestDB(t)
	s, _ := newSink(sinkConfig(t, db.URL, map[string]any{"target_table": db.Table("nope")}), nil)
	err := s.Open(context.Background())
	var fe *sdk.FieldError
	if !errors.As(err, &fe) || fe.Field != "target_table" || !strings.Contains(fe.Message, "does not exist") {
		t.Fatalf("missing table: %v", err)
	}
	s, _ = newSink(sinkConfig(t, "postgres://postgres:secretpw@127.0.0.1:1/postgres?connect_timeout=2", map[string]any{"target_table": "t"}), nil)
	err = s.Open(context.Background())
	if err == nil || !sdk.IsRetryable(err, true) || strings.Contains(err.Error(), "secretpw") {
		t.Fatalf("unreachable server: want a retryable error without the password, got %v", err)
	}
}

// Connection loss: the sink's backends are terminated between batches and while a batch is being
// written; Consume retries on fresh connections and every row arrives exactly once.
func TestSinkRecoversFromConnectionLoss(t *testing.T) {
	db := newTestDB(t)
	url := db.URL + "&application_name=iggy_sink_kill_test"
	if !strings.Contains(db.URL, "?") {
		url = db.URL + "?application_name=iggy_sink_kill_test"
	}
	s := openSink(t, sinkConfig(t, url, map[string]any{"target_table": db.Table("k"), "auto_create_table": true,
		"max_retries": 5, "retry_delay": "50ms", "max_connections": 2}))
	ctx := context.Background()
	kill := func() int {
		var n int
		if err := db.Pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'iggy_sink_kill_test'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := s.Consume(ctx, batchOf(0, jsonPayloads(5)...)); err != nil {
		t.Fatal(err)
	}
	if n := kill(); n == 0 {
		t.Fatal("no sink connection to terminate")
	}
	if res, err := s.Consume(ctx, batchOf(5, jsonPayloads(5)...)); err != nil || len(res.Failures) != 0 {
		t.Fatalf("after terminate between batches: %v %+v", err, res.Failures)
	}

	// During a batch: hold a lock so the sink's INSERT waits, terminate it while it waits, release.
	lockTx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockTx.Exec(ctx, fmt.Sprintf(`LOCK TABLE %q.k IN ACCESS EXCLUSIVE MODE`, db.Schema)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var consumeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, consumeErr = s.Consume(ctx, batchOf(10, jsonPayloads(5)...))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		_ = db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'iggy_sink_kill_test' AND wait_event_type = 'Lock'`).Scan(&waiting)
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sink never blocked on the lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := kill(); n == 0 {
		t.Fatal("nothing terminated during the batch")
	}
	time.Sleep(20 * time.Millisecond)
	_ = lockTx.Rollback(ctx)
	wg.Wait()
	if consumeErr != nil {
		t.Fatalf("during batch: %v", consumeErr)
	}
	var n, distinct int
	if err := db.Pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*), count(DISTINCT iggy_offset) FROM %q.k`, db.Schema)).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != 15 || distinct != 15 {
		t.Fatalf("rows %d distinct %d, want 15", n, distinct)
	}
}

// Transient SQLSTATEs are retried inside Consume: a trigger raises serialization_failure (40001)
// for the first two attempts (a sequence counts them outside the aborted transactions), the third
// attempt succeeds. With a trigger that always fails, Consume gives up after max_retries attempts
// with a retryable error, so the runtime backs off and offers the batch again.
func TestSinkRetriesTransientSQLState(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	s := openSink(t, sinkConfig(t, db.URL, map[string]any{"target_table": db.Table("r"), "auto_create_table": true,
		"max_retries": 3, "retry_delay": "1ms"}))
	var slept []time.Duration
	s.sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	db.Exec(t, fmt.Sprintf(`CREATE SEQUENCE %[1]q.attempts; CREATE TABLE %[1]q.fail_times (n int); INSERT INTO %[1]q.fail_times VALUES (0);
		CREATE FUNCTION %[1]q.flaky() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF nextval('%[1]s.attempts') <= (SELECT n FROM %[1]q.fail_times) THEN
				RAISE EXCEPTION 'simulated conflict' USING ERRCODE = '40001';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER flaky BEFORE INSERT ON %[1]q.r FOR EACH STATEMENT EXECUTE FUNCTION %[1]q.flaky();`, db.Schema))
	setFails := func(n int) {
		db.Exec(t, fmt.Sprintf(`UPDATE %q.fail_times SET n = %d`, db.Schema, n))
		db.Exec(t, fmt.Sprintf(`SELECT setval('%s.attempts', 1, false)`, db.Schema))
	}

	setFails(2)
	res, err := s.Consume(ctx, batchOf(0, jsonPayloads(4)...))
	if err != nil || len(res.Failures) != 0 {
		t.Fatalf("want success on the third attempt, got %v %+v", err, res.Failures)
	}
	if len(slept) != 2 || slept[0] != time.Millisecond || slept[1] != 2*time.Millisecond {
		t.Fatalf("delays %v, want [1ms 2ms] (retry_delay × attempt)", slept)
	}
	if n := db.Count(t, db.Q("r")); n != 4 {
		t.Fatalf("rows %d", n)
	}

	slept = nil
	setFails(100)
	_, err = s.Consume(ctx, batchOf(4, jsonPayloads(4)...))
	if err == nil || !sdk.IsRetryable(err, false) || !strings.Contains(err.Error(), "40001") || len(slept) != 2 {
		t.Fatalf("want a retryable 40001 error after 3 attempts, got %v (sleeps %v)", err, slept)
	}
	if n := db.Count(t, db.Q("r")); n != 4 {
		t.Fatalf("rows %d, nothing of the failed batch may be written", n)
	}
}
