package mongosink

import (
	"context"
	"errors"
	"strings"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// Server error codes the sink treats specially.
const (
	codeDuplicateKey       = 11000 // E11000: the _id is already there, i.e. the message was written before
	codeDuplicateKeyUpdate = 11001
)

// transientCodes are server error codes after which the same write may succeed: the server or
// replica set is shutting down, stepping down, electing, unreachable, or out of time. They are the
// codes the MongoDB drivers' retryable-writes specification lists, plus time limits, write-concern
// failures, lock and write conflicts, and FerretDB's InternalError (1), which it returns when its
// PostgreSQL backend is unavailable.
var transientCodes = map[int]bool{
	1:     true, // InternalError (FerretDB: backend errors)
	6:     true, // HostUnreachable
	7:     true, // HostNotFound
	46:    true, // LockBusy
	50:    true, // MaxTimeMSExpired
	64:    true, // WriteConcernFailed (wtimeout)
	89:    true, // NetworkTimeout
	91:    true, // ShutdownInProgress
	112:   true, // WriteConflict
	133:   true, // FailedToSatisfyReadPreference
	134:   true, // ReadConcernMajorityNotAvailableYet
	189:   true, // PrimarySteppedDown
	262:   true, // ExceededTimeLimit
	9001:  true, // SocketException
	10107: true, // NotWritablePrimary
	11600: true, // InterruptedAtShutdown
	11602: true, // InterruptedDueToReplStateChange
	13435: true, // NotPrimaryNoSecondaryOk
	13436: true, // NotPrimaryOrSecondary
}

// isDuplicateKey reports whether a write error code means "already there".
func isDuplicateKey(code int) bool { return code == codeDuplicateKey || code == codeDuplicateKeyUpdate }

// isTransientCode reports whether a server error code is worth retrying.
func isTransientCode(code int) bool { return transientCodes[code] }

// isTransient reports whether an error of a whole insertMany call (not a per-document write
// error) may go away when the same write is tried again: network errors and timeouts, server
// selection failures, cleared connection pools, errors the server labels retryable, transient
// server codes, and server errors of unknown meaning (a retry loses nothing; a message wrongly
// treated as rejected would go to on_error). Errors of the driver itself (e.g. a document it cannot
// encode) and server errors with other known codes (authentication, authorization, invalid
// namespace, validation) are permanent.
func isTransient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		mongo.IsNetworkError(err) || mongo.IsTimeout(err) {
		return true
	}
	var sse topology.ServerSelectionError
	if errors.As(err, &sse) {
		return true
	}
	var rpe driver.RetryablePoolError
	if errors.As(err, &rpe) && rpe.Retryable() {
		return true
	}
	var le mongo.LabeledError
	if errors.As(err, &le) && (le.HasErrorLabel("RetryableWriteError") || le.HasErrorLabel("TransientTransactionError") ||
		le.HasErrorLabel("NetworkError") || le.HasErrorLabel("SystemOverloadedError") || le.HasErrorLabel("RetryableError")) {
		return true
	}
	var ce mongo.CommandError
	if errors.As(err, &ce) {
		if isDataError(err) {
			return false
		}
		return isTransientCode(int(ce.Code)) || !permanentCodes[int(ce.Code)]
	}
	var we mongo.WriteException
	if errors.As(err, &we) {
		if we.WriteConcernError != nil {
			return true
		}
		for _, e := range we.WriteErrors {
			if !isTransientCode(e.Code) {
				return false
			}
		}
		return len(we.WriteErrors) > 0
	}
	return false
}

// permanentCodes are command error codes that no retry fixes.
var permanentCodes = map[int]bool{
	2:     true, // BadValue
	9:     true, // FailedToParse
	13:    true, // Unauthorized
	14:    true, // TypeMismatch
	18:    true, // AuthenticationFailed
	20:    true, // IllegalOperation
	26:    true, // NamespaceNotFound
	40:    true, // ConflictingUpdateOperators
	48:    true, // NamespaceExists
	59:    true, // CommandNotFound
	67:    true, // CannotCreateIndex
	72:    true, // InvalidOptions
	73:    true, // InvalidNamespace
	115:   true, // CommandNotSupported
	121:   true, // DocumentValidationFailure
	166:   true, // CommandNotSupportedOnView
	238:   true, // NotImplemented
	8000:  true, // AtlasError (Atlas: quota, permissions)
	10334: true, // BSONObjectTooLarge
	11000: true, // DuplicateKey
	16755: true, // Location16755 (bad geo index data)
}

// isDataError reports whether the server refused a whole insertMany because of what some document
// holds, not for a reason that concerns every document, so that splitting the chunk isolates the
// culprit. MongoDB reports such documents one by one (write errors) except for
// BSONObjectTooLarge (10334). FerretDB v1 refuses the whole command with InternalError (1) quoting
// its PostgreSQL backend's error, and a data exception or integrity violation there (SQLSTATE class
// 22 or 23: e.g. 22P05, a string holding a NUL character, which jsonb cannot store) is such a
// document; its other internal errors (the backend unreachable) stay transient.
func isDataError(err error) bool {
	var ce mongo.CommandError
	if !errors.As(err, &ce) {
		return false
	}
	switch ce.Code {
	case 10334:
		return true
	case 1:
		return strings.Contains(ce.Message, "(SQLSTATE 22") || strings.Contains(ce.Message, "(SQLSTATE 23")
	}
	return false
}
