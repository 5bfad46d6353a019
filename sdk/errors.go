package sdk

import (
	"errors"
	"fmt"
	"net"
)

// ErrMalformedConfig is wrapped by DecodeConfig's error when the plugin config is not a JSON object
// at all; the export shim reports it with status BAD_INPUT (abi/iggy_connector.h), like the C and Rust
// SDKs.
var ErrMalformedConfig = errors.New("malformed plugin config")

// FieldError is a problem with one plugin_config key. Constructors and Validate methods return it so
// that the runtime (and `iggy-connectors validate`) can name the offending key. It is permanent.
type FieldError struct {
	Field   string // the plugin_config key, e.g. "batch_size" or "tables[1]"
	Message string // what is wrong, e.g. "must be at least 1"
}

func (e *FieldError) Error() string { return fmt.Sprintf("plugin_config.%s: %s", e.Field, e.Message) }

// FieldErrorf builds a *FieldError.
func FieldErrorf(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

type classified struct {
	err       error
	retryable bool
}

func (c *classified) Error() string { return c.err.Error() }
func (c *classified) Unwrap() error { return c.err }

// Retryable marks err as transient: the runtime retries the call (or the message) with backoff.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &classified{err: err, retryable: true}
}

// Permanent marks err as permanent: retrying will not help, the connector's on_error policy applies
// (for Open and Poll: the connector goes to status "error").
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &classified{err: err, retryable: false}
}

// IsRetryable reports how the runtime will treat err. An explicit Retryable or Permanent mark wins; a
// *FieldError is permanent; a net.Error timeout is retryable; otherwise def is returned (the SDK uses
// true for whole-call errors of Open, Consume and Poll, false for per-message Failures).
func IsRetryable(err error, def bool) bool {
	var c *classified
	if errors.As(err, &c) {
		return c.retryable
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return def
}
