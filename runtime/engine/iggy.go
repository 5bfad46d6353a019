package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/iggy-go/connectors/abi"
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

// groupConsumer adapts an iggy.GroupConsumer to pipeline.Consumer.
type groupConsumer struct {
	g *iggy.GroupConsumer
	// For the stored-offset check of Commit: the client and the group's address.
	client               *iggy.Client
	stream, topic, group string
	// Message slices used by turns: the pipeline delivers a batch before it asks for the batch after
	// the next one (pipeline.Consumer), so the slice of the poll before last is free again.
	msgs [2][]abi.Message
	turn int
}

func (c *groupConsumer) Poll(ctx context.Context, max int) (pipeline.ConsumedBatch, error) {
	b, err := c.g.Poll(ctx, max)
	if err != nil {
		return pipeline.ConsumedBatch{}, wrapIggy(err)
	}
	if len(b.Messages) == 0 {
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
	return pipeline.ConsumedBatch{PartitionID: b.PartitionID, CurrentOffset: b.CurrentOffset, Messages: msgs}, nil
}

// Commit stores the offset; a partition the member lost wraps pipeline.ErrPartitionRevoked.
//
// It first reads the group's stored offset and stores nothing when that is already at or past
// offset: then another member owned the partition while this one's batch was in flight (this member
// was evicted or the partition moved away and back) and went further; storing the older offset would
// move the group back and re-deliver what that member wrote. Only the partition's owner can store
// an offset (the server refuses the others), so no other commit can slip in between the read and
// the write.
func (c *groupConsumer) Commit(ctx context.Context, partitionID uint32, offset uint64) error {
	info, err := c.client.GetConsumerOffset(ctx, iggy.GroupConsumerOf(iggy.NamedID(c.group)), iggy.NamedID(c.stream),
		iggy.NamedID(c.topic), iggy.Part(partitionID))
	switch {
	case err == nil && info.StoredOffset >= offset:
		return fmt.Errorf("%w: the group's offset of partition %d is already %d, past this batch (%d): another member wrote it meanwhile",
			pipeline.ErrPartitionRevoked, partitionID, info.StoredOffset, offset)
	case err != nil && !errors.Is(err, iggy.ErrNotFound):
		return wrapIggy(err)
	}
	err = c.g.Commit(ctx, partitionID, offset)
	if errors.Is(err, iggy.ErrPartitionNotOwned) {
		return fmt.Errorf("%w: %w", pipeline.ErrPartitionRevoked, err)
	}
	return wrapIggy(err)
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
			return wrapIggy(err)
		}
		start = end
	}
	return nil
}

// ensureTopic checks that stream/topic exist, creating them when create is set.
func ensureTopic(ctx context.Context, c *iggy.Client, stream, topic string, create bool, partitions uint32) error {
	if create {
		if partitions == 0 {
			partitions = 1
		}
		_, err := c.EnsureTopic(ctx, stream, topic, partitions)
		return wrapIggy(err)
	}
	_, err := c.GetTopic(ctx, iggy.NamedID(stream), iggy.NamedID(topic))
	if errors.Is(err, iggy.ErrNotFound) {
		return fmt.Errorf("Iggy stream %q / topic %q does not exist (create it, or set auto_create = true on the source stream)", stream, topic)
	}
	return wrapIggy(err)
}
