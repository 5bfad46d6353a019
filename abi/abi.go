// Package abi defines the records that cross the iggy-connectors plugin boundary (ABI v1).
//
// The normative contract is the C header iggy_connector.h in this directory: symbols, status codes,
// buffer ownership and threading rules. This package holds the same records as Go types with their
// CBOR encoding (maps with small integer keys), the ABI version and status constants, and the
// encode/decode helpers that both the runtime and the Go SDK use, so both sides always agree.
//
// The golden vectors in testdata/ are produced from these types (go test -run TestGolden -update) and
// decoded by the Go, C, Rust and Python tests.
package abi

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// ABI version. A plugin whose major version differs from VersionMajor is refused.
const (
	VersionMajor uint32 = 1
	VersionMinor uint32 = 1
	Version             = VersionMajor<<16 | VersionMinor
	// Version10 is ABI 1.0: sink batches cross as CBOR SinkBatch records only. The runtime still
	// serves 1.0 plugins that way; a 1.1 plugin also gets iggy_sink_consume_ref (sink batches by
	// reference, ref.go).
	Version10 = VersionMajor << 16
)

// SinkBatchesByRef reports whether a plugin speaking ABI version v may take sink batches by
// reference (ABI 1.1 and later minors, when it exports iggy_sink_consume_ref).
func SinkBatchesByRef(v uint32) bool { return v>>16 == VersionMajor && v&0xffff >= 1 }

// VersionString renders a packed ABI version as "major.minor".
func VersionString(v uint32) string { return fmt.Sprintf("%d.%d", v>>16, v&0xffff) }

// Status is the int32 every lifecycle call returns.
type Status int32

// Status codes; see iggy_connector.h §5.
const (
	StatusOK              Status = 0
	StatusRetryable       Status = 1
	StatusPermanent       Status = 2
	StatusUnknownInstance Status = 3
	StatusBadInput        Status = 4
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusRetryable:
		return "retryable"
	case StatusPermanent:
		return "permanent"
	case StatusUnknownInstance:
		return "unknown_instance"
	case StatusBadInput:
		return "bad_input"
	}
	return fmt.Sprintf("status(%d)", int32(s))
}

// Kind of a plugin.
type Kind string

// Plugin kinds.
const (
	KindSink   Kind = "sink"
	KindSource Kind = "source"
)

// Symbol names of ABI v1 (1.0, plus iggy_sink_consume_ref from 1.1).
const (
	SymABIVersion     = "iggy_plugin_abi_version"
	SymInfo           = "iggy_plugin_info"
	SymFree           = "iggy_plugin_free"
	SymDrainLogs      = "iggy_plugin_drain_logs"
	SymValidateConfig = "iggy_plugin_validate_config" // optional
	SymSinkOpen       = "iggy_sink_open"
	SymSinkConsume    = "iggy_sink_consume"
	SymSinkClose      = "iggy_sink_close"
	SymSinkConsumeRef = "iggy_sink_consume_ref" // ABI 1.1, optional: sink batches by reference
	SymSourceOpen     = "iggy_source_open"
	SymSourcePoll     = "iggy_source_poll"
	SymSourceCommit   = "iggy_source_commit"
	SymSourceClose    = "iggy_source_close"
)

// Error codes carried in Error.Code. Plugins may use other snake_case words.
const (
	CodeInvalidConfig   = "invalid_config"
	CodeBadInput        = "bad_input"
	CodeUnknownInstance = "unknown_instance"
	CodeAlreadyOpen     = "already_open"
	CodePanic           = "panic"
	CodeConnection      = "connection"
	CodeWriteFailed     = "write_failed"
	CodeInternal        = "internal"
	// CodeCorruptState: iggy_source_open cannot decode the persisted state it was given. The
	// runtime names the state file and applies the connector's on_corrupt_state.
	CodeCorruptState = "corrupt_state"
)

// PluginInfo describes a library. Returned by iggy_plugin_info.
type PluginInfo struct {
	ABIVersion   uint32        `cbor:"1,keyasint" json:"abi_version"`
	Kind         Kind          `cbor:"2,keyasint" json:"kind"`
	Name         string        `cbor:"3,keyasint" json:"name"`
	Version      string        `cbor:"4,keyasint" json:"version"`
	Description  string        `cbor:"5,keyasint,omitempty" json:"description,omitempty"`
	ConfigFields []ConfigField `cbor:"6,keyasint,omitempty" json:"config_fields,omitempty"`
	SDK          string        `cbor:"7,keyasint,omitempty" json:"sdk,omitempty"`
}

// ConfigField describes one key of a plugin's plugin_config.
type ConfigField struct {
	Name        string `cbor:"1,keyasint" json:"name"`
	Type        string `cbor:"2,keyasint" json:"type"` // string|int|float|bool|duration|array|object|any
	Required    bool   `cbor:"3,keyasint,omitempty" json:"required,omitempty"`
	Default     string `cbor:"4,keyasint,omitempty" json:"default,omitempty"` // JSON text
	Description string `cbor:"5,keyasint,omitempty" json:"description,omitempty"`
	Secret      bool   `cbor:"6,keyasint,omitempty" json:"secret,omitempty"`
}

// Error is the record returned with every non-OK status.
type Error struct {
	Code      string `cbor:"1,keyasint" json:"code"`
	Message   string `cbor:"2,keyasint" json:"message"`
	Retryable bool   `cbor:"3,keyasint,omitempty" json:"retryable,omitempty"`
	Field     string `cbor:"4,keyasint,omitempty" json:"field,omitempty"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (field %q)", e.Code, e.Message, e.Field)
	}
	return e.Code + ": " + e.Message
}

// HeaderKind is the Iggy kind of a header key or value.
type HeaderKind uint8

// Header kinds, numbered as on the Iggy wire.
const (
	HeaderRaw     HeaderKind = 1
	HeaderString  HeaderKind = 2
	HeaderBool    HeaderKind = 3
	HeaderInt8    HeaderKind = 4
	HeaderInt16   HeaderKind = 5
	HeaderInt32   HeaderKind = 6
	HeaderInt64   HeaderKind = 7
	HeaderInt128  HeaderKind = 8
	HeaderUint8   HeaderKind = 9
	HeaderUint16  HeaderKind = 10
	HeaderUint32  HeaderKind = 11
	HeaderUint64  HeaderKind = 12
	HeaderUint128 HeaderKind = 13
	HeaderFloat32 HeaderKind = 14
	HeaderFloat64 HeaderKind = 15
)

// Header is one user header of a message: a typed key and a typed value. It is encoded as the
// 4-element CBOR array [key_kind, key, value_kind, value].
type Header struct {
	_         struct{}   `cbor:",toarray"`
	KeyKind   HeaderKind `json:"key_kind"`
	Key       []byte     `json:"key"`
	ValueKind HeaderKind `json:"value_kind"`
	Value     []byte     `json:"value"`
}

// StringHeader is a header with a string key and a string value, the common case.
func StringHeader(key, value string) Header {
	return Header{KeyKind: HeaderString, Key: []byte(key), ValueKind: HeaderString, Value: []byte(value)}
}

// ID is an Iggy message id (u128) as 16 big-endian bytes.
type ID [16]byte

// IDFromUint64s builds an ID from the high and low halves of the u128.
func IDFromUint64s(hi, lo uint64) ID {
	var id ID
	binary.BigEndian.PutUint64(id[:8], hi)
	binary.BigEndian.PutUint64(id[8:], lo)
	return id
}

// Uint64s returns the high and low halves of the u128.
func (id ID) Uint64s() (hi, lo uint64) {
	return binary.BigEndian.Uint64(id[:8]), binary.BigEndian.Uint64(id[8:])
}

// IsZero reports whether the id is 0.
func (id ID) IsZero() bool { return id == ID{} }

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Message is one Iggy message handed to a sink.
type Message struct {
	ID              ID       `cbor:"1,keyasint" json:"id"`
	Offset          uint64   `cbor:"2,keyasint" json:"offset"`
	Checksum        uint64   `cbor:"3,keyasint" json:"checksum"`
	Timestamp       uint64   `cbor:"4,keyasint" json:"timestamp"`        // broker time, µs since epoch
	OriginTimestamp uint64   `cbor:"5,keyasint" json:"origin_timestamp"` // producer time, µs since epoch
	Headers         []Header `cbor:"6,keyasint,omitempty" json:"headers,omitempty"`
	Payload         []byte   `cbor:"7,keyasint" json:"payload"`
}

// Schema names how payload bytes are to be read.
type Schema string

// Schemas.
const (
	SchemaJSON       Schema = "json"
	SchemaRaw        Schema = "raw"
	SchemaText       Schema = "text"
	SchemaProto      Schema = "proto"
	SchemaFlatBuffer Schema = "flatbuffer"
)

// SinkBatch is the input of iggy_sink_consume: messages of one partition, in offset order.
type SinkBatch struct {
	Stream        string    `cbor:"1,keyasint" json:"stream"`
	Topic         string    `cbor:"2,keyasint" json:"topic"`
	PartitionID   uint32    `cbor:"3,keyasint" json:"partition_id"`
	CurrentOffset uint64    `cbor:"4,keyasint" json:"current_offset"`
	Schema        Schema    `cbor:"5,keyasint" json:"schema"`
	Messages      []Message `cbor:"6,keyasint" json:"messages"`
}

// SinkResult is the optional output of a successful iggy_sink_consume.
type SinkResult struct {
	Failures []MessageFailure `cbor:"1,keyasint,omitempty" json:"failures,omitempty"`
}

// MessageFailure reports one message of a batch that was not written.
type MessageFailure struct {
	Index uint32 `cbor:"1,keyasint" json:"index"`
	Error Error  `cbor:"2,keyasint" json:"error"`
}

// SourceMessage is one message produced by a source.
type SourceMessage struct {
	ID              *ID      `cbor:"1,keyasint,omitempty" json:"id,omitempty"`
	Headers         []Header `cbor:"2,keyasint,omitempty" json:"headers,omitempty"`
	Payload         []byte   `cbor:"3,keyasint" json:"payload"`
	OriginTimestamp uint64   `cbor:"4,keyasint,omitempty" json:"origin_timestamp,omitempty"`
	Key             []byte   `cbor:"5,keyasint,omitempty" json:"key,omitempty"`
}

// PollResult is the output of iggy_source_poll.
type PollResult struct {
	BatchID    uint64          `cbor:"1,keyasint" json:"batch_id"`
	Schema     Schema          `cbor:"2,keyasint" json:"schema"`
	Messages   []SourceMessage `cbor:"3,keyasint,omitempty" json:"messages,omitempty"`
	State      []byte          `cbor:"4,keyasint,omitempty" json:"state,omitempty"`
	WaitHintMs uint64          `cbor:"5,keyasint,omitempty" json:"wait_hint_ms,omitempty"`
}

// LogLevel of a LogRecord.
type LogLevel uint8

// Log levels, as in the original runtime's log callback.
const (
	LogTrace LogLevel = 0
	LogDebug LogLevel = 1
	LogInfo  LogLevel = 2
	LogWarn  LogLevel = 3
	LogError LogLevel = 4
)

// LogRecord is one log line produced inside a plugin.
type LogRecord struct {
	Level    LogLevel  `cbor:"1,keyasint" json:"level"`
	Instance uint32    `cbor:"2,keyasint,omitempty" json:"instance,omitempty"`
	Message  string    `cbor:"3,keyasint" json:"message"`
	Target   string    `cbor:"4,keyasint,omitempty" json:"target,omitempty"`
	TimeUs   uint64    `cbor:"5,keyasint,omitempty" json:"time_us,omitempty"`
	Attrs    []LogAttr `cbor:"6,keyasint,omitempty" json:"attrs,omitempty"`
}

// LogAttr is a key/value attribute of a log record, encoded as [key, value].
type LogAttr struct {
	_     struct{} `cbor:",toarray"`
	Key   string   `json:"key"`
	Value string   `json:"value"`
}
