package pipeline

import (
	"fmt"

	"github.com/iggy-go/connectors/abi"
)

// Meta names the Iggy stream and topic a message belongs to (what transforms see).
type Meta struct {
	Stream, Topic string
}

// SinkProcessor turns payloads as stored in Iggy into what the sink plugin receives: decode with the
// stream's schema, apply the transforms in order, render for the plugin.
type SinkProcessor interface {
	// Schema is the SinkBatch.schema of the payloads Process produces.
	Schema() abi.Schema
	// Process rewrites msg.Payload in place. keep=false means a transform dropped the message on
	// purpose. A non-nil error is permanent for this message and should be a *StageError.
	Process(meta Meta, msg *abi.Message) (keep bool, err error)
}

// SourceProcessor turns payloads produced by a source plugin into what is sent to Iggy.
type SourceProcessor interface {
	// Process decodes payload (written by the plugin in schema in), applies the transforms and encodes
	// the result once per target stream (out[i] for the source's i-th stream). keep=false means a
	// transform dropped the message. A non-nil error is permanent for this message (*StageError).
	Process(in abi.Schema, payload []byte) (out [][]byte, keep bool, err error)
}

// StageError is a per-message failure with the stage it happened in (decode, transform, encode).
type StageError struct {
	Stage string
	Err   error
}

func (e *StageError) Error() string { return fmt.Sprintf("%s: %v", e.Stage, e.Err) }
func (e *StageError) Unwrap() error { return e.Err }

// passthroughSink hands payloads to the plugin untouched, tagged with the stream's schema.
type passthroughSink struct{ schema abi.Schema }

// PassthroughSink is the SinkProcessor for a stream without transforms whose payloads need no
// conversion: zero work per message.
func PassthroughSink(schema abi.Schema) SinkProcessor { return passthroughSink{schema} }

func (p passthroughSink) Schema() abi.Schema                     { return p.schema }
func (passthroughSink) Process(Meta, *abi.Message) (bool, error) { return true, nil }
