//go:build integration

package pgutil_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/connectors/internal/pgutil"
	"github.com/iggy-go/connectors/connectors/internal/pgutil/pgtest"
	"github.com/jackc/pgx/v5"
)

// Errors raised by a real server (and a refused connection) are classified as the connectors need.
func TestClassificationOfRealErrors(t *testing.T) {
	db := pgtest.NewDB(t, "pgutil_")
	ctx := context.Background()
	db.Exec(t, fmt.Sprintf("CREATE TABLE %s (id INT PRIMARY KEY, v INT NOT NULL CHECK (v > 0), doc JSONB)", db.Q("t")))
	db.Exec(t, "INSERT INTO "+db.Q("t")+" VALUES (1, 1, NULL)")
	raise := func(state string) string {
		return fmt.Sprintf(`DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '%s'; END $$`, state)
	}
	cases := []struct {
		sql                     string
		state                   string
		transient, data, unique bool
	}{
		{raise("40001"), "40001", true, false, false},
		{raise("40P01"), "40P01", true, false, false},
		{raise("57P01"), "57P01", true, false, false},
		{raise("08006"), "08006", true, false, false},
		{raise("55006"), "55006", false, false, false},
		{"INSERT INTO " + db.Q("t") + " VALUES (1, 2, NULL)", "23505", false, true, true},
		{"INSERT INTO " + db.Q("t") + " VALUES (2, NULL, NULL)", "23502", false, true, false},
		{"INSERT INTO " + db.Q("t") + " VALUES (3, -1, NULL)", "23514", false, true, false},
		{"INSERT INTO " + db.Q("t") + ` VALUES (4, 1, '{not json')`, "22P02", false, true, false},
		{"SELECT * FROM " + db.Q("missing"), "42P01", false, false, false},
		{"SELEC 1", "42601", false, false, false},
	}
	for _, c := range cases {
		_, err := db.Pool.Exec(ctx, c.sql)
		if got := pgutil.SQLState(err); got != c.state {
			t.Errorf("%s: SQLSTATE %q (%v), want %s", c.sql, got, err, c.state)
			continue
		}
		if pgutil.IsTransient(err) != c.transient || pgutil.IsDataError(err) != c.data || pgutil.IsUniqueViolation(err) != c.unique {
			t.Errorf("%s (%s): transient %v data %v unique %v, want %v %v %v", c.sql, c.state, pgutil.IsTransient(err),
				pgutil.IsDataError(err), pgutil.IsUniqueViolation(err), c.transient, c.data, c.unique)
		}
	}

	// Nothing listens on a port that was just closed: a failed dial is transient.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = pgx.Connect(dctx, "postgres://postgres@"+addr+"/postgres?sslmode=disable&connect_timeout=2")
	if err == nil || !pgutil.IsTransient(err) || pgutil.SQLState(err) != "" {
		t.Errorf("refused dial: %v (transient %v)", err, pgutil.IsTransient(err))
	}
}

// Retry.Do retries a statement the server fails transiently and stops at the first permanent error.
func TestRetryAgainstServer(t *testing.T) {
	db := pgtest.NewDB(t, "pgutil_")
	db.Exec(t, "CREATE SEQUENCE "+db.Q("calls"))
	// Each call counts itself (a sequence survives the rollback), then fails with 40001 until the
	// third call.
	stmt := fmt.Sprintf(`DO $$ BEGIN
		IF nextval('%s') < 3 THEN RAISE EXCEPTION 'try again' USING ERRCODE = '40001'; END IF; END $$`, db.Q("calls"))
	var waits []time.Duration
	r := pgutil.Retry{Attempts: 5, Delay: time.Millisecond, OnRetry: func(_, _ int, d time.Duration, _ error) { waits = append(waits, d) }}
	err := r.Do(context.Background(), "count", func(ctx context.Context) error {
		_, err := db.Pool.Exec(ctx, stmt)
		return err
	}, func(what string, err error) error { return fmt.Errorf("%s: %w", what, err) })
	var calls int64
	if err := db.Pool.QueryRow(context.Background(), "SELECT last_value FROM "+db.Q("calls")).Scan(&calls); err != nil {
		t.Fatal(err)
	}
	if err != nil || calls != 3 || len(waits) != 2 {
		t.Fatalf("err %v, calls %d, waits %v", err, calls, waits)
	}
	err = r.Do(context.Background(), "bad", func(ctx context.Context) error {
		_, err := db.Pool.Exec(ctx, "SELEC 1")
		return err
	}, func(what string, err error) error { return fmt.Errorf("%s: %w", what, err) })
	if pgutil.SQLState(err) != "42601" || !strings.HasPrefix(err.Error(), "bad (attempt 1 of 5): ") {
		t.Fatalf("permanent error: %v", err)
	}
}
