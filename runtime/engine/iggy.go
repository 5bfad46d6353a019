package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/runtime/pipeline"
)

// iggyError gives Iggy client errors the Retryable method the pipeline classifies with.
type iggyError struct{ err error }

func (e *iggyError) Error() string   { return e.err.Error() }
func (e *iggyError) Unwrap() error   { return e.err }
func (e *iggyError) Retryable() bool { return iggy.IsRetryable(e.err) }

func wrapIggy(err error) error {
	if err == nil {
		return nil
	}
	return &iggyError{err}
}

// permissionError is an Iggy Unauthorized (41) answer to a call the runtime made for a connector,
// named with the permission that call needs. The server only says "Unauthorized"; the runtime
// knows which grant is missing. It is retryable: nothing was written, and an operator can grant
// the permission while the connector waits (with backoff, status and last_error saying why).
type permissionError struct {
	err        error
	user       string // who the runtime logs in as, e.g. `Iggy user "conn"`
	permission string // e.g. "send_messages"
	stream     string
	topic      string
}

func (e *permissionError) Error() string {
	return fmt.Sprintf("%s lacks the %s permission on stream %q topic %q (grant it on the topic, the stream or globally; "+
		"retrying until it is granted): %v", e.user, e.permission, e.stream, e.topic, e.err)
}
func (e *permissionError) Unwrap() error   { return e.err }
func (e *permissionError) Retryable() bool { return true }

// wrapDenied is wrapIggy, except that an Unauthorized answer becomes a permissionError naming the
// permission the refused command needs (neededPermission).
func wrapDenied(err error, user, stream, topic string) error {
	if err != nil && errors.Is(err, iggy.ErrUnauthorized) {
		permission := "required"
		var se *iggy.ServerError
		if errors.As(err, &se) {
			permission = neededPermission(se.Command)
		}
		return &permissionError{err: err, user: user, permission: permission, stream: stream, topic: topic}
	}
	return wrapIggy(err)
}

// neededPermission names the least permission Apache Iggy requires for a command the runtime sends
// (its permissioner rules; see docs/iggy-protocol-notes.md).
func neededPermission(command string) string {
	switch {
	case command == "SendMessages":
		return "send_messages"
	case command == "PollMessages" || strings.Contains(command, "ConsumerOffset"):
		return "poll_messages"
	case command == "GetStream":
		return "read_stream"
	case command == "CreateStream":
		return "manage_streams"
	case command == "CreateTopic":
		return "manage_topics"
	case command == "GetTopic" || strings.Contains(command, "ConsumerGroup"):
		return "read_topic"
	}
	return "required"
}

// iggyUser names the account the runtime logs in to Iggy with, for errors.
func iggyUser(cfg config.IggyConfig) string {
	if cfg.Token != "" {
		return "the Iggy user of the configured personal access token"
	}
	return fmt.Sprintf("Iggy user %q", cfg.Username)
}

// groupConsumer adapts an iggy.GroupConsumer to pipeline.Consumer.
type groupConsumer struct {
	g                   *iggy.GroupConsumer
	user, stream, topic string // for permission errors
	// Message slices used by turns: the pipeline delivers a batch before it asks for the batch after
	// the next one (pipeline.Consumer), so the slice of the poll before last is free again.
	msgs [2][]abi.Message
	turn int
}

func (c *groupConsumer) Poll(ctx context.Context, max int) (pipeline.ConsumedBatch, error) {
	b, err := c.g.Poll(ctx, max)
	if err != nil {
		return pipeline.ConsumedBatch{}, wrapDenied(err, c.user, c.stream, c.topic)
	}
	if len(b.Messages) == 0 {
		b.Release()
		return pipeline.ConsumedBatch{PartitionID: b.PartitionID, CurrentOffset: b.CurrentOffset}, nil
	}
	c.turn ^= 1 // only non-empty polls take a turn: an empty one holds no memory
	msgs := c.msgs[c.turn][:0]
	for i := range b.Messages {
		m := &b.Messages[i]
		msgs = append(msgs, abi.Message{ID: abi.ID(m.ID), Offset: m.Offset, Checksum: m.Checksum,
			Timestamp: m.Timestamp, OriginTimestamp: m.OriginTimestamp, Headers: toABIHeaders(m.Headers), Payload: m.Payload})
	}
	c.msgs[c.turn] = msgs
	// Payloads and headers alias the client's reply memory: the sink hands it back when done.
	return pipeline.ConsumedBatch{PartitionID: b.PartitionID, CurrentOffset: b.CurrentOffset, Messages: msgs, Release: b.Release}, nil
}

// Commit stores the offset; a partition the member lost (or that another member advanced while this
// one's batch was in flight: see iggy.GroupConsumer.Commit) wraps pipeline.ErrPartitionRevoked.
func (c *groupConsumer) Commit(ctx context.Context, partitionID uint32, offset uint64) error {
	err := c.g.Commit(ctx, partitionID, offset)
	if errors.Is(err, iggy.ErrPartitionNotOwned) {
		return fmt.Errorf("%w: %w", pipeline.ErrPartitionRevoked, err)
	}
	return wrapDenied(err, c.user, c.stream, c.topic)
}

// Owns implements pipeline.PartitionOwner.
func (c *groupConsumer) Owns(ctx context.Context, partitionID uint32) bool {
	return c.g.Owns(ctx, partitionID)
}

func toABIHeaders(hs []iggy.Header) []abi.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]abi.Header, len(hs))
	for i, h := range hs {
		out[i] = abi.Header{KeyKind: abi.HeaderKind(h.KeyKind), Key: h.Key, ValueKind: abi.HeaderKind(h.ValueKind), Value: h.Value}
	}
	return out
}

func toIggyHeaders(hs []abi.Header) []iggy.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]iggy.Header, len(hs))
	for i, h := range hs {
		out[i] = iggy.Header{KeyKind: uint8(h.KeyKind), Key: h.Key, ValueKind: uint8(h.ValueKind), Value: h.Value}
	}
	return out
}

// producer adapts an iggy.Client to pipeline.Producer.
type producer struct {
	c           *iggy.Client
	user        string  // iggyUser, for permission errors
	partitionID *uint32 // nil: balanced (or by key for messages that carry one)
	buf         []iggy.Message
}

// Send produces msgs in order. Consecutive messages with the same partitioning go in one request:
// a fixed partition when configured, else messages-key partitioning for messages with a key and
// balanced for the others.
func (p *producer) Send(ctx context.Context, stream, topic string, msgs []pipeline.OutMessage) error {
	s, t := iggy.NamedID(stream), iggy.NamedID(topic)
	for start := 0; start < len(msgs); {
		end := start + 1
		if p.partitionID == nil {
			for end < len(msgs) && bytes.Equal(msgs[end].Key, msgs[start].Key) {
				end++
			}
		} else {
			end = len(msgs)
		}
		part := iggy.Balanced()
		switch {
		case p.partitionID != nil:
			part = iggy.PartitionID(*p.partitionID)
		case len(msgs[start].Key) > 0:
			if len(msgs[start].Key) > 255 {
				return fmt.Errorf("message key of %d bytes is longer than Iggy's 255", len(msgs[start].Key))
			}
			part = iggy.MessagesKey(msgs[start].Key)
		}
		batch := p.buf[:0]
		for _, m := range msgs[start:end] {
			batch = append(batch, iggy.Message{ID: [16]byte(m.ID), OriginTimestamp: m.OriginTimestamp,
				Headers: toIggyHeaders(m.Headers), Payload: m.Payload})
		}
		p.buf = batch
		if _, err := p.c.SendMessages(ctx, s, t, part, batch); err != nil {
			return wrapDenied(err, p.user, stream, topic)
		}
		start = end
	}
	return nil
}

// ensureTopic checks that stream/topic exist, creating them when create is set. user (iggyUser)
// names the account in a permission error.
func ensureTopic(ctx context.Context, c *iggy.Client, user, stream, topic string, create bool, partitions uint32) error {
	if create {
		if partitions == 0 {
			partitions = 1
		}
		_, err := c.EnsureTopic(ctx, stream, topic, partitions)
		return wrapDenied(err, user, stream, topic)
	}
	_, err := c.GetTopic(ctx, iggy.NamedID(stream), iggy.NamedID(topic))
	if errors.Is(err, iggy.ErrNotFound) {
		return fmt.Errorf("Iggy stream %q / topic %q does not exist (create it, or set auto_create = true on the source stream)", stream, topic)
	}
	return wrapDenied(err, user, stream, topic)
}
