// Package sdk is the Go SDK for iggy-connectors plugins.
//
// A plugin is a Go main package built with -buildmode=c-shared. It declares its connector with
// NewSink or NewSource and registers it in one line with the export package, which exports every
// symbol of the plugin ABI (abi/iggy_connector.h):
//
//	package main
//
//	import (
//		"github.com/iggy-go/connectors/sdk/export"
//		"example.com/myconnector"
//	)
//
//	func init() { export.Register(myconnector.Plugin) }
//
//	func main() {}
//
// The runtime owns everything generic: Iggy connections, batching, retries with backoff, consumer
// offsets, source state files, transforms, codecs, metrics. A connector only talks to its external
// system. The SDK turns the C calls into calls of the interfaces below, recovers every panic at the
// boundary (a panic becomes a permanent error, never a crash of the runtime) and forwards logs
// written to Env.Logger to the runtime.
package sdk

import (
	"context"
	"log/slog"
	"time"

	"github.com/iggy-go/connectors/abi"
)

// Records shared with the runtime, re-exported so connector code needs only this package.
type (
	// Message is one Iggy message handed to a sink. Payload is read according to SinkBatch.Schema.
	Message = abi.Message
	// SinkBatch is the input of Sink.Consume: messages of one partition, in offset order.
	SinkBatch = abi.SinkBatch
	// SourceMessage is one message a source produces.
	SourceMessage = abi.SourceMessage
	// Header is a typed user header of a message.
	Header = abi.Header
	// ID is a 128-bit Iggy message id.
	ID = abi.ID
	// Schema names how payload bytes are read: json, raw, text, proto, flatbuffer.
	Schema = abi.Schema
)

// Info describes a plugin to the runtime (`iggy-connectors plugin inspect`).
type Info struct {
	// Name is the connector's short name, e.g. "postgres".
	Name string
	// Version is the plugin's own version, e.g. "0.1.0".
	Version string
	// Description is one sentence for humans.
	Description string
}

// Env is what the SDK hands to a connector's constructor. It is valid for the life of the instance.
type Env struct {
	// Instance is the id the runtime gave this instance; unique among the library's open instances.
	Instance uint32
	// Logger forwards records to the runtime, which logs them under the connector's key. Records
	// below the runtime's level are dropped inside the plugin. Safe for concurrent use, including from
	// the connector's own goroutines.
	Logger *slog.Logger
}

// Sink writes batches of Iggy messages to an external system.
//
// Lifecycle: the constructor given to NewSink receives the decoded and validated config, then the SDK
// calls Open once, Consume any number of times, and Close once. The runtime never calls one
// instance concurrently (Open, Consume and Close of an instance are serialised), but different
// instances of the same library run concurrently, so package-level state must be synchronised.
//
// Contexts: ctx is cancelled only when the library unloads. The runtime cannot interrupt a call, so
// a call should bound its own I/O with timeouts and return within a few seconds.
type Sink interface {
	// Open connects to the external system and prepares it (e.g. creates a table). An error marked
	// with Permanent (or a *FieldError) fails the connector; any other error is treated as transient
	// and the runtime calls Open again after a backoff.
	Open(ctx context.Context) error

	// Consume writes one batch. Writes should be idempotent (keyed by stream, topic, partition and
	// offset, or by message id): after a crash the runtime offers the same messages again.
	//
	// A nil error with an empty Result means every message was written; the runtime then stores the
	// consumer offset past the batch. Result.Failures lists messages that were not written (by index in
	// batch.Messages); the runtime commits only the prefix before the first unresolved failure.
	// A non-nil error means nothing may be assumed written: unless marked Permanent it is retried with
	// backoff; a Permanent error applies the connector's on_error policy to the whole batch.
	Consume(ctx context.Context, batch *SinkBatch) (Result, error)

	// Close flushes and releases resources. Called once, after the last Consume returned.
	Close(ctx context.Context) error
}

// Result reports the outcome of Sink.Consume for individual messages.
type Result struct {
	// Failures lists the messages that were not written. A failure whose Err is marked Retryable is
	// offered again after a backoff; any other failure is permanent and follows on_error (stop, skip or
	// dead_letter).
	Failures []Failure
}

// Failure is one message of a batch that was not written.
type Failure struct {
	Index int   // position in SinkBatch.Messages
	Err   error // why; mark with Retryable when writing it again may succeed
}

// Source reads records from an external system for the runtime to produce to Iggy.
//
// Lifecycle: the constructor given to NewSource receives the decoded and validated config and the
// last persisted state (nil on first start), then the SDK calls Open once, Poll repeatedly, and Close
// once. Calls for one instance are serialised; see Sink for contexts and concurrency.
type Source interface {
	// Open connects to the external system. Error rules as for Sink.Open.
	Open(ctx context.Context) error

	// Poll returns the next batch, or an empty batch when nothing is ready (return promptly; set
	// Batch.WaitHint to say when polling again is worthwhile). An error is treated as transient unless
	// marked Permanent.
	//
	// Nothing a batch implies may become permanent in the external system (deleting or marking rows,
	// advancing a replication slot) before its OnCommit runs: the runtime may crash before the batch
	// is durably in Iggy, and after a restart the source resumes from the last committed state. The
	// runtime may call Poll again before the previous batch is committed, so Poll continues after the
	// previous batch, not after the committed one.
	Poll(ctx context.Context) (Batch, error)

	// Close releases resources. Uncommitted batches are abandoned and will be read again after the
	// next Open.
	Close(ctx context.Context) error
}

// Batch is what Source.Poll returns.
type Batch struct {
	// Schema says how the payloads are encoded (json, raw, text, ...). Empty means json.
	Schema Schema
	// Messages to produce, in order.
	Messages []SourceMessage
	// State, when non-nil, is persisted by the runtime once the batch is in Iggy and handed to the
	// constructor on the next start. MessagePack by convention: see EncodeState.
	State []byte
	// WaitHint is how long the runtime should wait before the next Poll when Messages is empty
	// (0 = the connector's poll_interval).
	WaitHint time.Duration
	// OnCommit, when set, runs after the batch is durably in Iggy and its state is persisted, in batch
	// order, at most once. Make the batch's side effects permanent here (delete rows, advance
	// cursors). An error is reported on the connector; the data is in Iggy either way.
	OnCommit func(ctx context.Context) error
}
