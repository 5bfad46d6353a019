package pgsource

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

func TestAppendValue(t *testing.T) {
	c := newConverter(false, nil)
	cases := []struct {
		oid  uint32
		text string
		null bool
		want string
	}{
		{pgtype.BoolOID, "t", false, "true"},
		{pgtype.BoolOID, "f", false, "false"},
		{pgtype.Int8OID, "-9223372036854775808", false, "-9223372036854775808"},
		{pgtype.Int4OID, "12x", false, "null"},
		{pgtype.Float8OID, "NaN", false, "null"},
		{pgtype.Float8OID, "-Infinity", false, "null"},
		{pgtype.Float4OID, "1.5e+20", false, "150000000000000000000"},
		{pgtype.NumericOID, "12.50", false, "12.5"},
		{pgtype.NumericOID, "NaN", false, "null"},
		{pgtype.BPCharOID, "ab   ", false, `"ab   "`},
		{pgtype.TextOID, "say \"hi\"\n", false, `"say \"hi\"\n"`},
		{pgtype.TimestamptzOID, "2024-05-06 05:08:09.123456+00", false, `"2024-05-06T05:08:09.123456Z"`},
		{pgtype.TimestamptzOID, "2024-05-06 07:08:09+02", false, `"2024-05-06T05:08:09Z"`},
		{pgtype.TimestamptzOID, "2024-05-06 07:08:09+05:30", false, `"2024-05-06T01:38:09Z"`},
		{pgtype.TimestamptzOID, "infinity", false, `"infinity"`},
		{pgtype.TimestampOID, "2024-05-06 07:08:09", false, `"2024-05-06 07:08:09"`},
		{pgtype.IntervalOID, "1 year 2 mons 3 days 04:05:06", false, `"1 year 2 mons 3 days 04:05:06"`},
		{pgtype.JSONBOID, `{"a": [1, 2]}`, false, `{"a": [1, 2]}`},
		{pgtype.ByteaOID, `\x00ff10`, false, `"AP8Q"`},
		{pgtype.UUIDOID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", false, `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`},
		{pgtype.Int4ArrayOID, "{1,NULL,3}", false, "[1,null,3]"},
		{pgtype.TextArrayOID, `{a,"b c","d\"e"}`, false, `["a","b c","d\"e"]`},
		{pgtype.Int4OID, "", true, "null"},
		{999999, "custom", false, `"custom"`},
	}
	for _, tc := range cases {
		col := column{Name: "c", OID: tc.oid, Null: tc.null}
		if !tc.null {
			col.Text = []byte(tc.text)
		}
		if got := string(c.appendValue(nil, col)); got != tc.want {
			t.Errorf("oid %d %q: got %s want %s", tc.oid, tc.text, got, tc.want)
		}
	}
}

func TestAppendRecord(t *testing.T) {
	c := newConverter(true, nil)
	cols := []column{{Name: "ID", OID: pgtype.Int4OID, Text: []byte("1")}, {Name: "firstName", OID: pgtype.TextOID, Text: []byte("x")}}
	ts := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	got := string(c.appendRecord(nil, true, recordMeta{Table: "users", Op: OpUpdate, Time: ts}, cols, cols[:1]))
	want := `{"table_name":"users","operation_type":"UPDATE","timestamp":"2025-01-02T03:04:05Z","data":{"id":1,"first_name":"x"},"old_data":{"id":1}}`
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	if got := string(c.appendRecord(nil, false, recordMeta{}, cols, nil)); got != `{"id":1,"first_name":"x"}` {
		t.Fatal(got)
	}
}

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{"UserName": "user_name", "userID": "user_id", "HTTPCode": "http_code",
		"already_snake": "already_snake", "first name": "first_name", "a-b": "a_b", "Col1Value": "col1_value", "ID": "id"} {
		if got := SnakeCase(in); got != want {
			t.Errorf("%q: %q want %q", in, got, want)
		}
	}
}

func TestMessageIDDeterministic(t *testing.T) {
	a, b := MessageID("poll", "t", "1", "1"), MessageID("poll", "t", "1", "1")
	if a != b || a.IsZero() {
		t.Fatal("same parts must give the same non-zero id")
	}
	// length prefixes keep ("ab","c") and ("a","bc") apart
	if MessageID("ab", "c") == MessageID("a", "bc") || MessageID("poll", "t", "1", "2") == a {
		t.Fatal("different parts must give different ids")
	}
}

func TestTableFilter(t *testing.T) {
	f := newTableFilter([]string{"users", "app.orders"})
	for _, c := range []struct {
		schema, table string
		want          bool
	}{{"public", "users", true}, {"other", "users", true}, {"app", "orders", true}, {"public", "orders", false}, {"app", "x", false}} {
		if got := f.match(c.schema, c.table); got != c.want {
			t.Errorf("%s.%s: %v", c.schema, c.table, got)
		}
	}
}
