package iggy

import (
	"context"
	"errors"
	"fmt"

	"github.com/iggy-go/connectors/runtime/iggy/wire"
)

// Sentinel errors, usable with errors.Is on anything the client returns.
var (
	// ErrNotFound: the stream, topic, partition, consumer group, member, stored offset or token
	// does not exist (server codes 20, 1009, 2010, 3007, 5000, 5006, 52, or an empty reply to a read).
	ErrNotFound = errors.New("iggy: not found")
	// ErrAlreadyExists: a stream, topic, consumer group, user or token of that name exists
	// (codes 46, 51, 1012, 2013, 5004).
	ErrAlreadyExists = errors.New("iggy: already exists")
	// ErrUnauthenticated: not logged in, bad credentials or token (codes 40, 42, 53, evictions
	// 1, 7-12). Retrying with the same credentials does not help.
	ErrUnauthenticated = errors.New("iggy: unauthenticated")
	// ErrUnauthorized: logged in, but not allowed (code 41).
	ErrUnauthorized = errors.New("iggy: unauthorized")
	// ErrPartitionNotOwned: a consumer-group member used a partition it is not (or no longer)
	// assigned (code 5009, or the 0xFFFFFFFF resync sentinel).
	ErrPartitionNotOwned = errors.New("iggy: partition not owned by this consumer-group member")
	// ErrTransport: the connection failed or was lost (dial, TLS, read, write, timeout,
	// eviction of a stale client, malformed reply). The client reconnects by itself; the call may
	// be retried. For a send the outcome is unknown: the messages may or may not be stored.
	ErrTransport = errors.New("iggy: transport error")
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("iggy: client closed")
	// ErrInvalidArgument: the request was refused before it was sent (bad name, empty batch...).
	ErrInvalidArgument = errors.New("iggy: invalid argument")
)

// ServerError is an error code returned by the server (header status or result section).
type ServerError struct {
	Code    uint32 // Iggy error code (spec 1.9)
	Command string // the command that failed, e.g. "CreateStream"
}

func (e *ServerError) Error() string {
	name := wire.ErrorName(e.Code)
	if name == "" {
		name = "error"
	}
	return fmt.Sprintf("iggy: %s: server returned %s (code %d)", e.Command, name, e.Code)
}

// Is maps codes to the sentinel errors.
func (e *ServerError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		switch e.Code {
		case wire.ErrCodeResourceNotFound, wire.ErrCodeStreamIDNotFound, wire.ErrCodeTopicIDNotFound,
			wire.ErrCodePartitionNotFound, wire.ErrCodeConsumerGroupIDNotFound, wire.ErrCodeConsumerGroupMemberNotFound,
			wire.ErrCodePATNotFound:
			return true
		}
	case ErrAlreadyExists:
		switch e.Code {
		case wire.ErrCodeUserAlreadyExists, wire.ErrCodePATNameAlreadyExists, wire.ErrCodeStreamNameAlreadyExists,
			wire.ErrCodeTopicNameAlreadyExists, wire.ErrCodeConsumerGroupNameExists:
			return true
		}
	case ErrUnauthenticated:
		switch e.Code {
		case wire.ErrCodeUnauthenticated, wire.ErrCodeInvalidCredentials, wire.ErrCodeInvalidPAT, wire.ErrCodeUserInactive:
			return true
		}
	case ErrUnauthorized:
		return e.Code == wire.ErrCodeUnauthorized
	case ErrPartitionNotOwned:
		return e.Code == wire.ErrCodeConsumerGroupPartitionUnowned
	case ErrTransport:
		return e.Code == wire.ErrCodeTransientNotCommitted || e.Code == wire.ErrCodeTransientNotAccepted
	}
	return false
}

// EvictedError is an eviction frame: the server ended the session.
type EvictedError struct {
	Reason uint8
	Code   uint32 // the error code the official SDKs map the reason to
	// ServerProtocol and ServerProtocolMin are the protocol versions (packed) the server accepts,
	// sent with reason 14 (incompatible protocol version); zero otherwise.
	ServerProtocol, ServerProtocolMin uint32
}

func (e *EvictedError) Error() string {
	name := wire.EvictionReasonName(e.Reason)
	if name == "" {
		name = "unknown reason"
	}
	if e.Reason == wire.EvictIncompatibleProtocol {
		return fmt.Sprintf("iggy: session evicted by the server: %s: this client speaks protocol %s, the server accepts %s",
			name, wire.FormatVersion(wire.ProtocolVersion), protocolWindow(e.ServerProtocolMin, e.ServerProtocol))
	}
	return fmt.Sprintf("iggy: session evicted by the server: %s (reason %d, %s)", name, e.Reason, wire.ErrorName(e.Code))
}

// protocolWindow renders the versions a server accepts: min up to max's major.minor (any patch).
func protocolWindow(minV, maxV uint32) string {
	if minV == 0 && maxV == 0 {
		return "an unknown version (the eviction carried no version window)"
	}
	major, minor, _ := wire.UnpackVersion(maxV)
	return fmt.Sprintf("%s up to %d.%d.x (server protocol %s)", wire.FormatVersion(minV), major, minor, wire.FormatVersion(maxV))
}

// LoginError is a refused login: bad credentials or token, an inactive user, or a protocol version
// the server does not accept. It is permanent for the configured credentials (retrying with the
// same ones cannot help; an operator may fix them). errors.Is(err, ErrUnauthenticated) is true for
// credential problems.
type LoginError struct {
	User string // the username, or "" for a personal access token
	Err  error  // the eviction or server error
}

func (e *LoginError) Error() string {
	var code uint32
	if c, ok := ErrorCode(e.Err); ok {
		code = c
	}
	who := fmt.Sprintf("user %q", e.User)
	if e.User == "" {
		who = "the personal access token"
	}
	switch code {
	case wire.ErrCodeInvalidCredentials:
		return fmt.Sprintf("iggy: login failed: invalid credentials for %s", who)
	case wire.ErrCodeInvalidPAT:
		return "iggy: login failed: invalid or expired personal access token"
	case wire.ErrCodeUserInactive:
		return fmt.Sprintf("iggy: login failed: %s is inactive", who)
	}
	return fmt.Sprintf("iggy: login failed for %s: %v", who, e.Err)
}

func (e *LoginError) Unwrap() error { return e.Err }

// UnexpectedReplyError is a reply that does not answer the request that was sent (another
// request number or operation). The connection is dropped (the stream can no longer be trusted);
// errors.Is(err, ErrTransport) is true. Status and Result carry what the reply said, so a
// refusal the client could not match is still reported.
type UnexpectedReplyError struct {
	Command                 string
	WantRequest, GotRequest uint64
	WantOp, GotOp           uint8
	Status, Result          uint32 // header status; first result code of a result-framed body (0 = none)
}

func (e *UnexpectedReplyError) Error() string {
	s := fmt.Sprintf("iggy: %s: the server answered request %d operation %d, expected request %d operation %d",
		e.Command, e.GotRequest, e.GotOp, e.WantRequest, e.WantOp)
	if code := max(e.Status, e.Result); code != 0 {
		name := wire.ErrorName(code)
		if name == "" {
			name = "error"
		}
		s += fmt.Sprintf(" with %s (code %d)", name, code)
	} else {
		s += " with success"
	}
	return s
}

func (e *UnexpectedReplyError) Is(target error) bool { return target == ErrTransport }

// Is maps the eviction to ErrUnauthenticated (login failures, no session) or ErrTransport (stale
// client: reconnecting helps).
func (e *EvictedError) Is(target error) bool {
	switch target {
	case ErrUnauthenticated:
		return e.Code == wire.ErrCodeUnauthenticated || e.Code == wire.ErrCodeInvalidCredentials || e.Code == wire.ErrCodeInvalidPAT
	case ErrTransport:
		return e.Reason == wire.EvictStaleClient
	}
	return false
}

// TransportError wraps a connection failure; errors.Is(err, ErrTransport) is true.
type TransportError struct {
	Op  string // "dial", "write", "read", ...
	Err error
}

func (e *TransportError) Error() string        { return fmt.Sprintf("iggy: %s: %v", e.Op, e.Err) }
func (e *TransportError) Unwrap() error        { return e.Err }
func (e *TransportError) Is(target error) bool { return target == ErrTransport }

// IsRetryable reports whether retrying the call (after a backoff) may succeed: transport errors,
// transient server results (57, 58) and stale-client evictions. Context cancellation is not
// retryable.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, ErrClosed) {
		return false
	}
	return errors.Is(err, ErrTransport)
}

// ErrorCode returns the Iggy error code carried by err (a ServerError or an eviction).
func ErrorCode(err error) (uint32, bool) {
	var se *ServerError
	if errors.As(err, &se) {
		return se.Code, true
	}
	var ee *EvictedError
	if errors.As(err, &ee) {
		return ee.Code, true
	}
	return 0, false
}
