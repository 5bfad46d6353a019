package plugin

import (
	"errors"
	"fmt"
	"strings"

	"github.com/iggy-go/connectors/abi"
)

// Reasons a library fails to load; a *LoadError wraps exactly one (test with errors.Is).
var (
	ErrNotFound         = errors.New("plugin library not found")
	ErrNotSharedLibrary = errors.New("not a shared library")
	ErrMissingSymbol    = errors.New("missing symbol")
	ErrABIMismatch      = errors.New("ABI major version mismatch")
	ErrBadInfo          = errors.New("bad plugin info")
	ErrHost             = errors.New("plugin host process failed")
)

var loadReasons = []error{nil, ErrNotFound, ErrNotSharedLibrary, ErrMissingSymbol, ErrABIMismatch, ErrBadInfo, ErrHost}

// LoadError says why a library could not be loaded. Error() names the library and the cause, e.g.
// `plugin library "/opt/p/libx.so": missing symbol iggy_sink_consume (required of a sink by ABI 1.1)`.
type LoadError struct {
	Library string // the path as given, or resolved when resolution succeeded
	Reason  error  // one of the Err* reasons above
	Detail  string // human-readable cause
}

func (e *LoadError) Error() string { return fmt.Sprintf("plugin library %q: %s", e.Library, e.Detail) }

// Unwrap returns the reason, so errors.Is(err, ErrMissingSymbol) works.
func (e *LoadError) Unwrap() error { return e.Reason }

func reasonIndex(err error) byte {
	for i, r := range loadReasons {
		if r != nil && errors.Is(err, r) {
			return byte(i)
		}
	}
	return 0
}

// CodeProcessDied is the Error code of a call that failed because the plugin process died.
const CodeProcessDied = "plugin_process_died"

// CodeTransport is the Error code of a call that failed in the runtime before or after reaching the
// plugin (cancelled, closed instance, undecodable output).
const CodeTransport = "transport"

// CallError is a lifecycle call that did not succeed: the plugin returned a non-OK status (Record is
// its Error record, or one synthesised by the runtime when it returned none), the runtime could not
// decode its output, or the plugin process died (Status retryable, Record.Code CodeProcessDied).
type CallError struct {
	Library   string     // library path
	Op        string     // e.g. "sink_consume"
	Connector string     // connector key ("" for library-level calls)
	Instance  uint32     // instance id (0 for library-level calls)
	Status    abi.Status // what the call returned
	Record    abi.Error  // the plugin's error record
	Err       error      // underlying runtime-side error, if any (e.g. context.Canceled)
}

func (e *CallError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plugin %q", e.Library)
	if e.Connector != "" || e.Instance != 0 {
		fmt.Fprintf(&b, " (connector %q, instance %d)", e.Connector, e.Instance)
	}
	fmt.Fprintf(&b, ": %s: %s: %s", e.Op, e.Status, e.Record.Code)
	if e.Record.Message != "" {
		b.WriteString(": " + e.Record.Message)
	}
	if e.Record.Field != "" {
		fmt.Fprintf(&b, " (field %q)", e.Record.Field)
	}
	return b.String()
}

// Unwrap returns the runtime-side cause, if any.
func (e *CallError) Unwrap() error { return e.Err }

// Retryable reports whether retrying the same call may succeed (status RETRYABLE, which includes a
// dead plugin process that is being restarted).
func (e *CallError) Retryable() bool { return e.Status == abi.StatusRetryable }

// Field is the plugin_config key the error is about, if any.
func (e *CallError) Field() string { return e.Record.Field }
