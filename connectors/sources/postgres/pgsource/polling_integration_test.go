//go:build integration

package pgsource

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/sdk"
)

// Rows of many column types become DatabaseRecords typed as in the original (CHAR(n) padding kept).
func TestPollingJSONRecords(t *testing.T) {
	db := newTestDB(t)
	db.Exec(t, fmt.Sprintf(`CREATE TABLE %s (id SERIAL PRIMARY KEY, name VARCHAR(50), code CHAR(5), active BOOLEAN,
		score NUMERIC(10,2), ratio FLOAT8, big BIGINT, created TIMESTAMPTZ, day DATE, at TIME, local TIMESTAMP,
		meta JSONB, blob BYTEA, tags TEXT[], nums INT[], uid UUID, span INTERVAL, missing TEXT)`, db.Q("users")))
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s (name, code, active, score, ratio, big, created, day, at, local, meta, blob, tags, nums, uid, span) VALUES
		('Ann', 'ab', true, 12.50, 0.25, 9007199254740993, '2024-05-06 07:08:09.123456+02', '2024-05-06', '10:11:12.5', '2024-05-06 07:08:09',
		 '{"k": [1, "x"]}', '\x00ff10', '{a,"b c"}', '{1,2,3}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1 year 2 mons 3 days 04:05:06'),
		('Bob', NULL, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`, db.Q("users")))
	s := openSource(t, sourceConfig(t, db.URL, map[string]any{"mode": "polling", "tables": []string{db.Table("users")}, "poll_interval": "7s"}), nil)
	b := poll(t, s)
	if b.Schema != "json" || len(b.Messages) != 2 || b.State == nil {
		t.Fatalf("batch: schema %q, %d messages, state %v", b.Schema, len(b.Messages), b.State)
	}
	recs := decodeRecords(t, b.Messages)
	r := recs[0]
	if r.TableName != "users" || r.OperationType != "SELECT" || r.OldData != nil {
		t.Fatalf("envelope: %+v", r)
	}
	if _, err := time.Parse(time.RFC3339, r.Timestamp); err != nil {
		t.Fatalf("timestamp %q: %v", r.Timestamp, err)
	}
	want := map[string]string{
		"id": "1", "name": `"Ann"`, "code": `"ab   "`, "active": "true", "score": "12.5", "ratio": "0.25",
		"big": "9007199254740993", "created": `"2024-05-06T05:08:09.123456Z"`, "day": `"2024-05-06"`, "at": `"10:11:12.5"`,
		"local": `"2024-05-06 07:08:09"`, "meta": `{"k":[1,"x"]}`, "blob": `"AP8Q"`, "tags": `["a","b c"]`, "nums": `[1,2,3]`,
		"uid": `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`, "span": `"1 year 2 mons 3 days 04:05:06"`, "missing": "null",
	}
	for k, w := range want {
		got, _ := json.Marshal(r.Data[k])
		if n, ok := r.Data[k].(json.Number); ok {
			got = []byte(n.String())
		}
		if string(got) != w {
			t.Errorf("column %s: got %s want %s", k, got, w)
		}
	}
	if len(r.Data) != len(want) {
		t.Errorf("data has %d keys, want %d: %v", len(r.Data), len(want), r.Data)
	}
	// column order is the table's
	if !strings.HasPrefix(string(b.Messages[0].Payload), `{"table_name":"users","operation_type":"SELECT","timestamp":`) ||
		!strings.Contains(string(b.Messages[0].Payload), `"data":{"id":1,"name":"Ann","code":"ab   "`) {
		t.Errorf("payload layout: %s", b.Messages[0].Payload)
	}
	if recs[1].Data["score"] != nil || recs[1].Data["code"] != nil {
		t.Errorf("NULLs: %v", recs[1].Data)
	}
	// deterministic ids: table + primary key + tracking value
	if *b.Messages[0].ID != MessageID("poll", db.Table("users"), "1", "1") || *b.Messages[0].ID == *b.Messages[1].ID {
		t.Errorf("ids %v %v", b.Messages[0].ID, b.Messages[1].ID)
	}
	// nothing new: empty batch, wait hint = poll_interval, no state
	e := poll(t, s)
	if len(e.Messages) != 0 || e.State != nil || e.WaitHint != 7*time.Second {
		t.Fatalf("empty poll: %+v", e)
	}
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s (name) VALUES ('Cid')`, db.Q("users")))
	n := poll(t, s)
	if len(n.Messages) != 1 || !strings.Contains(string(n.Messages[0].Payload), `"name":"Cid"`) {
		t.Fatalf("new row: %d messages", len(n.Messages))
	}
}

// A bytea payload column is sent byte-exact with schema raw; NULL is an empty payload.
func TestPollingByteaPayload(t *testing.T) {
	db := newTestDB(t)
	db.Exec(t, fmt.Sprintf(`CREATE TABLE %s (id INT PRIMARY KEY, data BYTEA, other TEXT)`, db.Q("blobs")))
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s VALUES (1, $1, 'x'), (2, NULL, 'y'), (3, '', 'z')`, db.Q("blobs")), all)
	for _, format := range []string{"bytea", "raw"} {
		s := openSource(t, sourceConfig(t, db.URL, map[string]any{"mode": "polling", "tables": []string{db.Table("blobs")},
			"payload_column": "data", "payload_format": format}), nil)
		b := poll(t, s)
		if b.Schema != "raw" || len(b.Messages) != 3 {
			t.Fatalf("%s: schema %q, %d messages", format, b.Schema, len(b.Messages))
		}
		if !bytes.Equal(b.Messages[0].Payload, all) || len(b.Messages[1].Payload) != 0 || len(b.Messages[2].Payload) != 0 {
			t.Fatalf("%s: payloads %x / %x / %x", format, b.Messages[0].Payload, b.Messages[1].Payload, b.Messages[2].Payload)
		}
	}
}

// A jsonb payload column with json_direct (and its aliases) is the JSON value itself; text stays text.
func TestPollingJSONDirectAndTextPayload(t *testing.T) {
	db := newTestDB(t)
	db.Exec(t, fmt.Sprintf(`CREATE TABLE %s (id INT PRIMARY KEY, doc JSONB, note TEXT)`, db.Q("docs")))
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s VALUES (1, '{"order": 7, "items": ["a"]}', 'héllo'), (2, NULL, NULL)`, db.Q("docs")))
	for _, format := range []string{"json_direct", "jsonb", "jsonb_direct"} {
		s := openSource(t, sourceConfig(t, db.URL, map[string]any{"mode": "polling", "tables": []string{db.Table("docs")},
			"payload_column": "doc", "payload_format": format}), nil)
		b := poll(t, s)
		if b.Schema != "json" || len(b.Messages) != 2 {
			t.Fatalf("%s: %q %d", format, b.Schema, len(b.Messages))
		}
		var v map[string]any
		if err := json.Unmarshal(b.Messages[0].Payload, &v); err != nil || v["order"] != 7.0 {
			t.Fatalf("%s: payload %s", format, b.Messages[0].Payload)
		}
		if string(b.Messages[1].Payload) != "null" {
			t.Fatalf("%s: NULL payload %q", format, b.Messages[1].Payload)
		}
	}
	s := openSource(t, sourceConfig(t, db.URL, map[string]any{"mode": "polling", "tables": []string{db.Table("docs")},
		"payload_column": "note", "payload_format": "text"}), nil)
	b := poll(t, s)
	if b.Schema != "text" || string(b.Messages[0].Payload) != "héllo" || len(b.Messages[1].Payload) != 0 {
		t.Fatalf("text: %q %q", b.Schema, b.Messages[0].Payload)
	}
}

// delete_after_read deletes only in OnCommit: a polled batch leaves the rows, its commit deletes them.
func TestPollingDeleteAfterRead(t *testing.T) {
	db := newTestDB(t)
	db.Exec(t, fmt.Sprintf(`CREATE TABLE %s (id INT PRIMARY KEY, v TEXT); INSERT INTO %[1]s SELECT g, 'v' || g FROM generate_series(1, 10) g`, db.Q("q")))
	s := openSource(t, sourceConfig(t, db.URL, map[string]any{"mode": "polling", "tables": []string{db.Table("q")},
		"delete_after_read": true, "batch_size": 4}), nil)
	b1 := poll(t, s)
	b2 := poll(t, s) // continues after the uncommitted first batch
	if len(b1.Messages) != 4 || len(b2.Messages) != 4 || db.Count(t, db.Q("q")) != 10 {
		t.Fatalf("before commit: %d + %d messages, %d rows (nothing may be deleted yet)", len(b1.Messages), len(b2.Messages), db.Count(t, db.Q("q")))
	}
	commit(t, b1)
	if n := db.Count(t, db.Q("q")); n != 6 {
		t.Fatalf("after first commit: %d rows", n)
	}
	commit(t, b2)
	b3 := poll(t, s)
	commit(t, b3)
	if n := db.Count(t, db.Q("q")); n != 0 || len(b3.Messages) != 2 {
		t.Fatalf("table must be empty after all commits: %d rows, last batch %d", n, len(b3.Messages))
	}
}

// processed_column marks rows in OnCommit without deleting them; marked rows are not read again.
func TestPollingProcessedColumn(t *testing.T) {
	db := newTestDB(t)
	db.Exec(t, fmt.Sprintf(`CREATE TABLE %s (id INT PRIMARY KEY, v TEXT, done BOOLEAN NOT NULL DEFAULT FALSE);
		INSERT INTO %[1]s (id, v) SELECT g, 'v' || g FROM generate_series(1, 5) g`, db.Q("jobs")))
	cfg := sourceConfig(t, db.URL, map[string]any{"mode": "polling", "tables": []string{db.Table("jobs")}, "processed_column": "done"})
	s := openSource(t, cfg, nil)
	b := poll(t, s)
	if len(b.Messages) != 5 || db.Count(t, db.Q("jobs")+" WHERE done") != 0 {
		t.Fatal("rows marked before commit")
	}
	commit(t, b)
	if db.Count(t, db.Q("jobs")+" WHERE done") != 5 || db.Count(t, db.Q("jobs")) != 5 {
		t.Fatal("rows not marked (or deleted) after commit")
	}
	// a new instance without state reads only unprocessed rows
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s (id, v) VALUES (6, 'v6')`, db.Q("jobs")))
	s2 := openSource(t, cfg, nil)
	b2 := poll(t, s2)
	if len(b2.Messages) != 1 || !strings.Contains(string(b2.Messages[0].Payload), `"id":6`) {
		t.Fatalf("fresh instance: %d messages", len(b2.Messages))
	}
}

// State survives a restart: a new instance built with the state of the last committed batch
// continues after it.
func TestPollingStateSurvivesRestart(t *testing.T) {
	db := newTestDB(t)
	db.Exec(t, fmt.Sprintf(`CREATE TABLE %s (id INT PRIMARY KEY); INSERT INTO %[1]s SELECT generate_series(1, 7)`, db.Q("t")))
	cfg := sourceConfig(t, db.URL, map[string]any{"mode": "polling", "tables": []string{db.Table("t")}, "batch_size": 3})
	s := openSource(t, cfg, nil)
	b := poll(t, s)
	commit(t, b)
	_ = s.Close(context.Background())
	var st State
	if err := sdk.DecodeState(b.State, &st); err != nil || st.TrackingOffsets[db.Table("t")] != "3" || st.ProcessedRows != 3 {
		t.Fatalf("state %+v %v", st, err)
	}
	s2 := openSource(t, cfg, b.State)
	b2 := poll(t, s2)
	if ids := idsOf(t, b2); ids != "[4 5 6]" {
		t.Fatalf("after restart: %s", ids)
	}
}

// A batch polled but never committed (the runtime crashed before Iggy accepted it): after re-opening
// with the last committed state no row is lost and none was deleted or marked.
func TestPollingUncommittedBatchIsNotLost(t *testing.T) {
	for _, mode := range []string{"delete_after_read", "processed_column"} {
		t.Run(mode, func(t *testing.T) {
			db := newTestDB(t)
			db.Exec(t, fmt.Sprintf(`CREATE TABLE %s (id INT PRIMARY KEY, done BOOLEAN DEFAULT FALSE); INSERT INTO %[1]s (id) SELECT generate_series(1, 6)`, db.Q("t")))
			kv := map[string]any{"mode": "polling", "tables": []string{db.Table("t")}, "batch_size": 2}
			if mode == "delete_after_read" {
				kv["delete_after_read"] = true
			} else {
				kv["processed_column"] = "done"
			}
			cfg := sourceConfig(t, db.URL, kv)
			s := openSource(t, cfg, nil)
			b1 := poll(t, s)
			commit(t, b1)
			b2 := poll(t, s) // never committed: crash
			if idsOf(t, b2) != "[3 4]" {
				t.Fatal(idsOf(t, b2))
			}
			_ = s.Close(context.Background())
			left := db.Count(t, db.Q("t")+" WHERE NOT done")
			if left != 4 {
				t.Fatalf("rows still to deliver: %d, want 4 (only the committed batch may be gone)", left)
			}
			s2 := openSource(t, cfg, b1.State)
			b := poll(t, s2)
			if idsOf(t, b) != "[3 4]" || *b.Messages[0].ID != *b2.Messages[0].ID {
				t.Fatalf("after reopen: %s (ids must repeat so the replay is recognisable)", idsOf(t, b))
			}
		})
	}
}

// The runtime saves a batch's state before it calls the batch's commit. A crash in between leaves
// the batch's rows behind the saved cursor, in Iggy but not deleted or marked: a reopened source
// reads them again (same ids) instead of leaving them in the table for ever, and its commit then
// deletes or marks them. With custom_query the persisted cursor is kept ($offset may need it).
func TestPollingCrashAfterStateSavedBeforeCommit(t *testing.T) {
	for _, mode := range []string{"delete_after_read", "processed_column", "custom_query"} {
		t.Run(mode, func(t *testing.T) {
			db := newTestDB(t)
			db.Exec(t, fmt.Sprintf(`CREATE TABLE %s (id INT PRIMARY KEY, done BOOLEAN NOT NULL DEFAULT FALSE); INSERT INTO %[1]s (id) SELECT generate_series(1, 6)`, db.Q("t")))
			kv := map[string]any{"mode": "polling", "tables": []string{db.Table("t")}, "batch_size": 2}
			left := db.Q("t") + " WHERE NOT done"
			switch mode {
			case "delete_after_read":
				kv["delete_after_read"] = true
				left = db.Q("t")
			case "processed_column":
				kv["processed_column"] = "done"
			case "custom_query":
				kv["delete_after_read"] = true
				kv["custom_query"] = "SELECT * FROM $table WHERE id > COALESCE($offset, 0) ORDER BY id LIMIT $limit"
				left = db.Q("t")
			}
			cfg := sourceConfig(t, db.URL, kv)
			s := openSource(t, cfg, nil)
			commit(t, poll(t, s))
			b2 := poll(t, s) // its state is saved, then the runtime dies before calling its commit
			if idsOf(t, b2) != "[3 4]" {
				t.Fatal(idsOf(t, b2))
			}
			_ = s.Close(context.Background())
			s2 := openSource(t, cfg, b2.State)
			b := poll(t, s2)
			if mode == "custom_query" {
				if idsOf(t, b) != "[5 6]" {
					t.Fatalf("custom_query continues after the persisted cursor: %s", idsOf(t, b))
				}
				return
			}
			if idsOf(t, b) != "[3 4]" || *b.Messages[0].ID != *b2.Messages[0].ID {
				t.Fatalf("after reopen: %s, want [3 4] again with the same ids", idsOf(t, b))
			}
			commit(t, b)
			commit(t, poll(t, s2))
			if n := db.Count(t, left); n != 0 {
				t.Fatalf("%d row(s) left undeleted/unmarked", n)
			}
		})
	}
}

// custom_query with every placeholder; a text tracking value with a quote in it is carried safely.
func TestPollingCustomQuery(t *testing.T) {
	db := newTestDB(t)
	db.Exec(t, fmt.Sprintf(`CREATE TABLE %s (name TEXT PRIMARY KEY, created TIMESTAMPTZ DEFAULT now() - interval '1 hour');
		INSERT INTO %[1]s (name) VALUES ('a'), ('b''s'), ('c'), ('d')`, db.Q("people")))
	cfg := sourceConfig(t, db.URL, map[string]any{"mode": "polling", "tables": []string{db.Table("people")}, "tracking_column": "name",
		"custom_query": `SELECT name, created FROM $table WHERE ($offset IS NULL OR name > $offset) AND created < $now AND extract(epoch from created) < $now_unix ORDER BY name LIMIT $limit`,
		"batch_size":   2})
	s := openSource(t, cfg, nil)
	b1 := poll(t, s)
	b2 := poll(t, s)
	b3 := poll(t, s)
	names := func(b sdk.Batch) string {
		var out []string
		for _, r := range decodeRecords(t, b.Messages) {
			out = append(out, r.Data["name"].(string))
		}
		return strings.Join(out, ",")
	}
	if names(b1) != "a,b's" || names(b2) != "c,d" || len(b3.Messages) != 0 {
		t.Fatalf("batches %q %q %d", names(b1), names(b2), len(b3.Messages))
	}
	var st State
	_ = sdk.DecodeState(b1.State, &st)
	if st.TrackingOffsets[db.Table("people")] != "b's" {
		t.Fatalf("offset %q", st.TrackingOffsets[db.Table("people")])
	}
}

// A timestamptz tracking column with microseconds neither skips nor repeats rows; initial_offset
// starts after a given value.
func TestPollingTimestampCursorAndInitialOffset(t *testing.T) {
	db := newTestDB(t)
	db.Exec(t, fmt.Sprintf(`CREATE TABLE %s (id INT PRIMARY KEY, ts TIMESTAMPTZ NOT NULL);
		INSERT INTO %[1]s SELECT g, '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 microsecond' FROM generate_series(1, 9) g`, db.Q("ev")))
	s := openSource(t, sourceConfig(t, db.URL, map[string]any{"mode": "polling", "tables": []string{db.Table("ev")}, "tracking_column": "ts",
		"primary_key_column": "id", "batch_size": 4, "initial_offset": "2024-01-01 00:00:00.000002+00"}), nil)
	var got []string
	for i := 0; i < 4; i++ {
		got = append(got, idsOf(t, poll(t, s)))
	}
	if strings.Join(got, "") != "[3 4 5 6][7 8 9][][]" {
		t.Fatalf("batches %v", got)
	}
	// numeric initial_offset given as a TOML number
	s2 := openSource(t, sourceConfig(t, db.URL, map[string]any{"mode": "polling", "tables": []string{db.Table("ev")}, "initial_offset": 7}), nil)
	if ids := idsOf(t, poll(t, s2)); ids != "[8 9]" {
		t.Fatal(ids)
	}
}

// include_metadata = false sends just the columns (no double nesting); snake_case_columns renames.
func TestPollingWithoutMetadataAndSnakeCase(t *testing.T) {
	db := newTestDB(t)
	db.Exec(t, fmt.Sprintf(`CREATE TABLE %s (id INT PRIMARY KEY, "UserName" TEXT, "createdAt" DATE); INSERT INTO %[1]s VALUES (1, 'x', '2024-02-03')`, db.Q("T")))
	s := openSource(t, sourceConfig(t, db.URL, map[string]any{"mode": "polling", "tables": []string{db.Table("T")},
		"include_metadata": false, "snake_case_columns": true}), nil)
	b := poll(t, s)
	if string(b.Messages[0].Payload) != `{"id":1,"user_name":"x","created_at":"2024-02-03"}` {
		t.Fatalf("payload %s", b.Messages[0].Payload)
	}
}

// Several tables, one with schema.table, in one batch; the state keeps a cursor per table.
func TestPollingSeveralTables(t *testing.T) {
	db := newTestDB(t)
	db.Exec(t, fmt.Sprintf(`CREATE TABLE %s (id INT PRIMARY KEY); CREATE TABLE %s (id INT PRIMARY KEY);
		INSERT INTO %[1]s VALUES (1), (2); INSERT INTO %[2]s VALUES (10)`, db.Q("a"), db.Q("b")))
	s := openSource(t, sourceConfig(t, db.URL, map[string]any{"mode": "polling", "tables": []string{db.Table("a"), db.Table("b")}}), nil)
	b := poll(t, s)
	var st State
	_ = sdk.DecodeState(b.State, &st)
	if len(b.Messages) != 3 || st.TrackingOffsets[db.Table("a")] != "2" || st.TrackingOffsets[db.Table("b")] != "10" {
		t.Fatalf("%d messages, state %+v", len(b.Messages), st)
	}
}

// Connection loss between polls is retried on a fresh connection.
func TestPollingRecoversFromConnectionLoss(t *testing.T) {
	db := newTestDB(t)
	db.Exec(t, fmt.Sprintf(`CREATE TABLE %s (id INT PRIMARY KEY); INSERT INTO %[1]s VALUES (1)`, db.Q("t")))
	url := db.URL + "&application_name=iggy_src_kill"
	s := openSource(t, sourceConfig(t, url, map[string]any{"mode": "polling", "tables": []string{db.Table("t")}, "max_connections": 1}), nil)
	if len(poll(t, s).Messages) != 1 {
		t.Fatal("first poll")
	}
	db.Exec(t, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'iggy_src_kill'`)
	db.Exec(t, fmt.Sprintf(`INSERT INTO %s VALUES (2)`, db.Q("t")))
	if ids := idsOf(t, poll(t, s)); ids != "[2]" {
		t.Fatal(ids)
	}
}

// A state written by the original connector (3-element MessagePack array) is read.
func TestPollingReadsOriginalState(t *testing.T) {
	db := newTestDB(t)
	db.Exec(t, fmt.Sprintf(`CREATE TABLE %s (id INT PRIMARY KEY); INSERT INTO %[1]s SELECT generate_series(1, 5)`, db.Q("t")))
	type original struct {
		LastPollTime    string
		TrackingOffsets map[string]string
		ProcessedRows   uint64
	}
	st, _ := sdk.EncodeState(original{"2024-01-01T00:00:00Z", map[string]string{db.Table("t"): "3"}, 3})
	s := openSource(t, sourceConfig(t, db.URL, map[string]any{"mode": "polling", "tables": []string{db.Table("t")}}), st)
	if ids := idsOf(t, poll(t, s)); ids != "[4 5]" {
		t.Fatal(ids)
	}
}

func idsOf(t *testing.T, b sdk.Batch) string {
	t.Helper()
	var ids []string
	for _, r := range decodeRecords(t, b.Messages) {
		ids = append(ids, fmt.Sprint(r.Data["id"]))
	}
	return "[" + strings.Join(ids, " ") + "]"
}
