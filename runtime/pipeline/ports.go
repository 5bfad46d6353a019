// Package pipeline runs connector instances: the runtime-owned wrappers that sit between Iggy and a
// plugin and own everything generic — batching, bounded in-flight work, retries with backoff, the
// on_error policy, offsets and source state, status and counters — so plugins stay small.
//
// Delivery contract (stronger than the original runtime's):
//   - Sinks are at-least-once. The consumer offset is stored only for the prefix of a batch whose
//     messages are resolved: written by the plugin, filtered by a transform, or handled by on_error
//     (skipped or dead-lettered). Retryable failures are retried with backoff, never dropped.
//   - Sources persist state and call the plugin's commit only after Iggy accepted every message of the
//     batch on every configured stream. A crash before that replays the batch (duplicates limited to
//     that batch), never loses it.
//
// The pipeline talks to the rest of the runtime through the small interfaces in this file, so it can
// be driven by the real Iggy client, plugin loader and state store (see the adapters in package
// runtime/engine) and by tests.
package pipeline

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/iggy-go/connectors/abi"
)

// SinkPlugin is an opened sink instance (runtime/plugin.SinkInstance).
type SinkPlugin interface {
	Consume(ctx context.Context, batch *abi.SinkBatch) (abi.SinkResult, error)
}

// SourcePlugin is an opened source instance (runtime/plugin.SourceInstance).
type SourcePlugin interface {
	Poll(ctx context.Context) (*abi.PollResult, error)
	Commit(ctx context.Context, batchID uint64) error
}

// PollReleaser is optionally implemented by a SourcePlugin whose poll results' message bytes can be
// reused (runtime/plugin.SourceInstance). The source calls ReleasePoll once per non-empty result,
// after the batch was sent to every stream (or dropped), when nothing refers to its messages' bytes
// any more; the result's State and BatchID stay in use until the batch is finished.
type PollReleaser interface {
	ReleasePoll(res *abi.PollResult)
}

// ConsumedBatch is what a Consumer returns: messages of one partition in offset order.
type ConsumedBatch struct {
	PartitionID   uint32
	CurrentOffset uint64
	Messages      []abi.Message
	// Release, when not nil, hands the memory the messages' payloads and headers alias (the Iggy
	// reply buffer) back to the consumer for reuse by later polls. The sink calls it exactly once
	// per batch it got from Poll, when nothing refers to those bytes any more: after the plugin's
	// Consume calls for the batch returned (a plugin keeps nothing of a batch after Consume; see
	// abi), the commit, and any dead-lettering — or when it drops the batch (stop, revoked
	// partition). Nil: the memory is garbage-collected.
	Release func()
}

// release calls b.Release when set.
func (b ConsumedBatch) release() {
	if b.Release != nil {
		b.Release()
	}
}

// Consumer reads one stream/topic as a member of the sink's consumer group with auto-commit off.
// Messages that are not committed are delivered again (to this or another member) after a restart or
// a rebalance. The sink polls the next batch while it delivers the previous one (Poll and Commit
// may run concurrently); calls of each method are not concurrent with themselves.
type Consumer interface {
	// Poll returns up to max messages of one assigned partition (an empty batch when none are ready).
	// A non-empty batch's message slice must stay valid until the second non-empty batch after it
	// has been returned: the consumer may reuse the slice from then on (the sink has delivered the
	// batch or copied the slice by then). What payloads and headers point to stays valid until the
	// batch's Release (see ConsumedBatch).
	Poll(ctx context.Context, max int) (ConsumedBatch, error)
	// Commit stores offset as the group's position in the partition (the next poll starts after it).
	Commit(ctx context.Context, partitionID uint32, offset uint64) error
}

// PartitionOwner is implemented by consumers that know their current partition assignment (consumer
// groups). The sink asks it before delivering a batch polled earlier: a batch of a partition that a
// rebalance gave to another member is dropped uncommitted (its new owner reads it from the group's
// stored offset), so a revoked partition is written twice for at most the one batch that was
// already in the plugin's hands. Owns may be called concurrently with Poll and Commit; it may ask
// the server (bounded by ctx) and answers false when it cannot tell.
type PartitionOwner interface {
	Owns(ctx context.Context, partitionID uint32) bool
}

// ErrPartitionRevoked is wrapped by a Consumer's Commit error when the partition no longer belongs
// to this member (a rebalance moved it): nothing was stored, and the new owner delivers the
// uncommitted messages again. The sink logs it as a rebalance, not as a failure.
var ErrPartitionRevoked = errors.New("partition revoked by a consumer-group rebalance")

// OutMessage is a message the runtime produces to Iggy.
type OutMessage struct {
	ID              abi.ID
	Headers         []abi.Header
	Payload         []byte
	OriginTimestamp uint64 // µs; 0 = now
	Key             []byte // non-nil: messages-key partitioning
}

// Producer sends messages to Iggy.
type Producer interface {
	// Send produces msgs to stream/topic, in order. It returns only after Iggy acknowledged them all, or
	// with an error (then any subset may have been stored; the pipeline resends the whole call).
	Send(ctx context.Context, stream, topic string, msgs []OutMessage) error
}

// StateStore persists source state (runtime/state).
type StateStore interface {
	Save(key string, data []byte) error
}

// Observer receives timings of pipeline stages (for latency histograms); may be nil.
type Observer interface {
	ObserveStage(stage string, d time.Duration)
}

// retryableError is implemented by errors that know whether retrying may help (plugin call errors,
// Iggy transport errors).
type retryableError interface{ Retryable() bool }

// IsRetryable reports whether err is worth retrying: an error that says so through a
// Retryable() bool method anywhere in its chain. Context cancellation is never retryable.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var r retryableError
	if errors.As(err, &r) {
		return r.Retryable()
	}
	return false
}

// OnError is the policy for a message that failed permanently.
type OnError string

// Policies.
const (
	OnErrorStop       OnError = "stop"        // stop the connector (status error); nothing after it is committed
	OnErrorSkip       OnError = "skip"        // count, log and move on
	OnErrorDeadLetter OnError = "dead_letter" // produce the original message plus error headers to a topic
)

// DeadLetter is where on_error = dead_letter sends failed messages.
type DeadLetter struct {
	Stream, Topic string
	Producer      Producer
}

// Headers added to dead-lettered messages (string values). The error message is cut to Iggy's
// limit of 255 bytes per header value (at a character boundary, ending in "...").
const (
	HeaderErrorConnector = "iggy-connect-error-connector"
	HeaderErrorStage     = "iggy-connect-error-stage"
	HeaderErrorMessage   = "iggy-connect-error-message"
	HeaderErrorStream    = "iggy-connect-error-stream"
	HeaderErrorTopic     = "iggy-connect-error-topic"
	HeaderErrorPartition = "iggy-connect-error-partition"
	HeaderErrorOffset    = "iggy-connect-error-offset"
)

// maxHeaderValue is Iggy's limit on a header value's length.
const maxHeaderValue = 255

// headerValue fits s into a header value: at most 255 bytes, cut at a UTF-8 character boundary
// with "..." appended when it is longer.
func headerValue(s string) string {
	if len(s) <= maxHeaderValue {
		return s
	}
	cut := maxHeaderValue - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
