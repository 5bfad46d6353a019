package pgutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/iggy-go/connectors/sdk"
	"github.com/jackc/pgx/v5/pgconn"
)

func pgErr(code string) error {
	return fmt.Errorf("statement: %w", &pgconn.PgError{Severity: "ERROR", Code: code, Message: "m"})
}

func TestClassification(t *testing.T) {
	cases := []struct {
		name                    string
		err                     error
		extra                   []string
		transient, data, unique bool
	}{
		{"nil", nil, nil, false, false, false},
		{"serialization failure", pgErr("40001"), nil, true, false, false},
		{"deadlock", pgErr("40P01"), nil, true, false, false},
		{"admin shutdown", pgErr("57P01"), nil, true, false, false},
		{"crash shutdown", pgErr("57P02"), nil, true, false, false},
		{"cannot connect now", pgErr("57P03"), nil, true, false, false},
		{"too many connections", pgErr("53300"), nil, true, false, false},
		{"connection exception class", pgErr("08006"), nil, true, false, false},
		{"object in use, not listed", pgErr("55006"), nil, false, false, false},
		{"object in use, extra", pgErr("55006"), []string{"55006"}, true, false, false},
		{"syntax error", pgErr("42601"), nil, false, false, false},
		{"undefined table", pgErr("42P01"), []string{"55006"}, false, false, false},
		{"invalid JSON", pgErr("22P02"), nil, false, true, false},
		{"not null violation", pgErr("23502"), nil, false, true, false},
		{"unique violation", pgErr("23505"), nil, false, true, true},
		{"I/O error", fmt.Errorf("write: %w", io.ErrUnexpectedEOF), nil, true, false, false},
		{"canceled", fmt.Errorf("query: %w", context.Canceled), nil, false, false, false},
		{"deadline", context.DeadlineExceeded, nil, true, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := IsTransient(c.err, c.extra...); got != c.transient {
				t.Errorf("IsTransient = %v, want %v", got, c.transient)
			}
			if got := IsDataError(c.err); got != c.data {
				t.Errorf("IsDataError = %v, want %v", got, c.data)
			}
			if got := IsUniqueViolation(c.err); got != c.unique {
				t.Errorf("IsUniqueViolation = %v, want %v", got, c.unique)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	if err := Classify(pgErr("40001")); !sdk.IsRetryable(err, false) || SQLState(err) != "40001" {
		t.Errorf("40001: %v (retryable %v)", err, sdk.IsRetryable(err, false))
	}
	if err := Classify(pgErr("55006"), "55006"); !sdk.IsRetryable(err, false) {
		t.Errorf("55006 listed as extra: %v", err)
	}
	if err := Classify(pgErr("42601")); sdk.IsRetryable(err, true) || SQLState(err) != "42601" {
		t.Errorf("42601: %v (retryable %v)", err, sdk.IsRetryable(err, true))
	}
	if SQLState(errors.New("plain")) != "" {
		t.Error("a plain error has no SQLSTATE")
	}
}
