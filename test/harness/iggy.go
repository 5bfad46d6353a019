package harness

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
)

// Dial connects the project's Go client to the Iggy server at addr as iggy/iggy (the external
// server's credentials and TLS in external-server mode; its logs discarded); the client is closed
// when the test ends.
func Dial(tb testing.TB, addr string) *iggy.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := iggy.Dial(ctx, ClientConfig(addr))
	if err != nil {
		tb.Fatalf("dial Iggy at %s: %v", addr, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// retry runs a read-only call again while it fails with a retryable error (the server is being
// restarted), for up to 10 seconds.
func retry(op func(ctx context.Context) error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := op(ctx)
		cancel()
		if err == nil || !iggy.IsRetryable(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// EnsureTopic creates stream/topic with partitions partitions unless it exists.
func EnsureTopic(tb testing.TB, c *iggy.Client, stream, topic string, partitions uint32) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.EnsureTopic(ctx, stream, topic, partitions); err != nil {
		tb.Fatalf("create %s/%s: %v", stream, topic, err)
	}
}

// Send produces msgs to stream/topic (balanced) in one request.
func Send(tb testing.TB, c *iggy.Client, stream, topic string, msgs []iggy.Message) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.SendMessages(ctx, iggy.NamedID(stream), iggy.NamedID(topic), iggy.Balanced(), msgs); err != nil {
		tb.Fatalf("send to %s/%s: %v", stream, topic, err)
	}
}

// getTopic returns the topic, or nil when it does not exist.
func getTopic(tb testing.TB, c *iggy.Client, stream, topic string) *iggy.TopicDetails {
	tb.Helper()
	var td *iggy.TopicDetails
	err := retry(func(ctx context.Context) (err error) {
		td, err = c.GetTopic(ctx, iggy.NamedID(stream), iggy.NamedID(topic))
		return err
	})
	if errors.Is(err, iggy.ErrNotFound) {
		return nil
	}
	if err != nil {
		tb.Fatalf("get topic %s/%s: %v", stream, topic, err)
	}
	return td
}

// TopicCount returns how many messages stream/topic holds (0 when it does not exist).
func TopicCount(tb testing.TB, c *iggy.Client, stream, topic string) uint64 {
	tb.Helper()
	td := getTopic(tb, c, stream, topic)
	if td == nil {
		return 0
	}
	var n uint64
	for _, p := range td.Partitions {
		n += p.MessagesCount
	}
	return n
}

// Stored is a message read back from Iggy, with its partition.
type Stored struct {
	Partition uint32
	iggy.Message
}

// ReadTopic returns every message of stream/topic, partition by partition in offset order (none
// when the topic does not exist), read by a plain consumer that stores no offset.
func ReadTopic(tb testing.TB, c *iggy.Client, stream, topic string) []Stored {
	tb.Helper()
	td := getTopic(tb, c, stream, topic)
	if td == nil {
		return nil
	}
	var out []Stored
	for _, p := range td.Partitions {
		for next := uint64(0); ; {
			var res *iggy.Polled
			err := retry(func(ctx context.Context) (err error) {
				res, err = c.PollMessages(ctx, iggy.NamedID(stream), iggy.NamedID(topic), iggy.SingleConsumer(7),
					iggy.Part(p.ID), iggy.StrategyOffset(next), 1000, false)
				return err
			})
			if err != nil {
				tb.Fatalf("poll %s/%s partition %d at %d: %v", stream, topic, p.ID, next, err)
			}
			if len(res.Messages) == 0 {
				break
			}
			for _, m := range res.Messages {
				m.Payload = bytes.Clone(m.Payload)
				hs := make([]iggy.Header, len(m.Headers))
				for i, h := range m.Headers {
					hs[i] = iggy.Header{KeyKind: h.KeyKind, Key: bytes.Clone(h.Key), ValueKind: h.ValueKind, Value: bytes.Clone(h.Value)}
				}
				m.Headers = hs
				out = append(out, Stored{Partition: res.PartitionID, Message: m})
			}
			next = res.Messages[len(res.Messages)-1].Offset + 1
		}
	}
	return out
}

// GroupOffset returns the offset consumer group has stored in a partition of stream/topic, or -1
// when it has stored none.
func GroupOffset(tb testing.TB, c *iggy.Client, stream, topic, group string, partition uint32) int64 {
	tb.Helper()
	var info *iggy.ConsumerOffsetInfo
	err := retry(func(ctx context.Context) (err error) {
		info, err = c.GetConsumerOffset(ctx, iggy.GroupConsumerOf(iggy.NamedID(group)), iggy.NamedID(stream),
			iggy.NamedID(topic), iggy.Part(partition))
		return err
	})
	if errors.Is(err, iggy.ErrNotFound) {
		return -1
	}
	if err != nil {
		tb.Fatalf("offset of group %s on %s/%s partition %d: %v", group, stream, topic, partition, err)
	}
	return int64(info.StoredOffset)
}
