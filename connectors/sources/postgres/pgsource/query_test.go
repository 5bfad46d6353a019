package pgsource

import (
	"testing"
	"time"
)

func TestPollQuerySQL(t *testing.T) {
	cases := []struct {
		q    pollQuery
		want string
	}{
		{pollQuery{Table: []string{"users"}, Tracking: "id", Limit: 10},
			`SELECT * FROM "users" ORDER BY "id" ASC LIMIT 10`},
		{pollQuery{Table: []string{"app", "Users"}, Tracking: "id", Offset: "42", HasOffset: true, Limit: 5},
			`SELECT * FROM "app"."Users" WHERE "id" > 42 ORDER BY "id" ASC LIMIT 5`},
		{pollQuery{Table: []string{"t"}, Tracking: "updated_at", Offset: "2024-01-02 03:04:05+00", HasOffset: true, Limit: 1},
			`SELECT * FROM "t" WHERE "updated_at" > '2024-01-02 03:04:05+00' ORDER BY "updated_at" ASC LIMIT 1`},
		{pollQuery{Table: []string{"t"}, Tracking: "k", Offset: "o'clock; DROP TABLE t; --", HasOffset: true, Limit: 1},
			`SELECT * FROM "t" WHERE "k" > 'o''clock; DROP TABLE t; --' ORDER BY "k" ASC LIMIT 1`},
		{pollQuery{Table: []string{"t"}, Tracking: "id", Processed: "done", Limit: 3},
			`SELECT * FROM "t" WHERE "done" = FALSE ORDER BY "id" ASC LIMIT 3`},
		{pollQuery{Table: []string{"t"}, Tracking: `we"ird`, Processed: "done", Offset: "-7", HasOffset: true, Limit: 3},
			`SELECT * FROM "t" WHERE "we""ird" > -7 AND "done" = FALSE ORDER BY "we""ird" ASC LIMIT 3`},
	}
	for _, c := range cases {
		if got := c.q.SQL(); got != c.want {
			t.Errorf("\n got %s\nwant %s", got, c.want)
		}
	}
}

func TestSubstitute(t *testing.T) {
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	base := substitution{Table: []string{"app", "orders"}, Offset: "100", HasOffset: true, Limit: 50, Now: now}
	str := base
	str.Offset = "it's"
	none := base
	none.HasOffset, none.Offset = false, ""
	cases := []struct {
		name, in string
		s        substitution
		want     string
	}{
		{"all tokens", `SELECT * FROM $table WHERE id > $offset AND ts < $now AND epoch < $now_unix LIMIT $limit`, base,
			`SELECT * FROM "app"."orders" WHERE id > 100 AND ts < '2025-03-04T05:06:07Z' AND epoch < 1741064767 LIMIT 50`},
		{"now_unix not corrupted by now", `SELECT $now_unix, $now`, base, `SELECT 1741064767, '2025-03-04T05:06:07Z'`},
		{"string offset quoted", `WHERE k > $offset`, str, `WHERE k > 'it''s'`},
		{"user quotes kept (original style)", `WHERE k > '$offset' AND t < '$now'`, str, `WHERE k > 'it''s' AND t < '2025-03-04T05:06:07Z'`},
		{"escape string", `WHERE k > E'$offset\n'`, substitution{Table: []string{"t"}, Offset: `a\'b`, HasOffset: true}, `WHERE k > E'a\\\'b\n'`},
		{"no offset is NULL", `WHERE id > COALESCE($offset, 0)`, none, `WHERE id > COALESCE(NULL, 0)`},
		{"identifier chars end no token", `SELECT $nowhere, $tables, $1, $offset_x`, base, `SELECT $nowhere, $tables, $1, $offset_x`},
		{"comments untouched", "SELECT 1 -- $offset\n/* $table */ FROM $table", base, "SELECT 1 -- $offset\n/* $table */ FROM \"app\".\"orders\""},
		{"dollar quotes untouched", `SELECT $$ $offset $$, $q$ $limit $q$, $limit`, base, `SELECT $$ $offset $$, $q$ $limit $q$, 50`},
		{"quoted identifier", `SELECT "$offset" FROM t`, base, `SELECT "100" FROM t`},
		{"doubled quotes stay in literal", `WHERE a = 'x''$offset'`, str, `WHERE a = 'x''it''s'`},
		{"injection attempt", `WHERE k > $offset`, substitution{Offset: "0; DROP TABLE x", HasOffset: true}, `WHERE k > '0; DROP TABLE x'`},
	}
	for _, c := range cases {
		if got := Substitute(c.in, c.s); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

func TestInList(t *testing.T) {
	if got := inList([]string{"1", "a'b", "2024-01-01"}); got != `(1, 'a''b', '2024-01-01')` {
		t.Fatal(got)
	}
}
