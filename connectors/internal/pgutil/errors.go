package pgutil

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/iggy-go/connectors/sdk"
	"github.com/jackc/pgx/v5/pgconn"
)

// transientStates are the SQLSTATEs the original connectors retry, besides the whole connection
// exception class 08: serialization failure, deadlock, admin/crash/cannot-connect-now shutdowns.
var transientStates = map[string]bool{
	"40001": true, "40P01": true,
	"57P01": true, "57P02": true, "57P03": true,
	"53300": true, // too_many_connections: another client holds the slots for now
}

// SQLState returns the SQLSTATE of the PostgreSQL server error in err's chain, or "" when err
// carries none (I/O errors, closed connections, failed dials, client-side errors).
func SQLState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// IsTransient reports whether retrying the same statement on a (new) connection may succeed: the
// transient SQLSTATEs above, class 08, the caller's extra SQLSTATEs, and any error that is not a
// server error at all (I/O, closed connection, failed dial), except context cancellation.
func IsTransient(err error, extra ...string) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return true
	}
	return transientStates[pe.Code] || strings.HasPrefix(pe.Code, "08") || slices.Contains(extra, pe.Code)
}

// IsDataError reports whether err is the server rejecting a value: SQLSTATE class 22 (data
// exception, e.g. invalid JSON for jsonb, invalid byte sequence) or 23 (integrity constraint
// violation, e.g. NOT NULL or CHECK). Such errors concern a row, not the batch.
func IsDataError(err error) bool {
	code := SQLState(err)
	return strings.HasPrefix(code, "22") || strings.HasPrefix(code, "23")
}

// IsUniqueViolation reports whether err is SQLSTATE 23505 (unique_violation).
func IsUniqueViolation(err error) bool { return SQLState(err) == "23505" }

// Classify marks err for the runtime: sdk.Retryable when IsTransient(err, extra...) holds,
// sdk.Permanent otherwise.
func Classify(err error, extra ...string) error {
	if IsTransient(err, extra...) {
		return sdk.Retryable(err)
	}
	return sdk.Permanent(err)
}
