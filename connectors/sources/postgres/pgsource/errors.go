package pgsource

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// transientStates are the SQLSTATEs the original connector retries, plus the whole connection
// exception class 08: serialization failure, deadlock, admin/crash/cannot-connect-now shutdowns.
var transientStates = map[string]bool{
	"40001": true, "40P01": true,
	"57P01": true, "57P02": true, "57P03": true,
	"55006": true, // object_in_use: e.g. a replication slot still held by a closing walsender
	"53300": true, // too_many_connections: another client holds the slots for now
}

// IsTransient reports whether retrying the same statement on a (new) connection may succeed:
// the transient SQLSTATEs above, class 08, and any error that is not a server error at all (I/O,
// closed connection, failed dial), except context cancellation.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return transientStates[pe.Code] || strings.HasPrefix(pe.Code, "08")
	}
	return true
}

// IsDataError reports whether err is the server rejecting a value: SQLSTATE class 22 (data
// exception, e.g. invalid JSON for jsonb, invalid byte sequence) or 23 (integrity constraint
// violation, e.g. NOT NULL or CHECK). Such errors concern a row, not the batch, and are isolated.
func IsDataError(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23")
	}
	return false
}
