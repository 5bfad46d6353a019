package iggy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy/wire"
)

// Protocol types, shared with the wire package.
type (
	Identifier           = wire.Identifier
	Consumer             = wire.Consumer
	Partitioning         = wire.Partitioning
	PollingStrategy      = wire.PollingStrategy
	OptPartition         = wire.OptPartition
	Header               = wire.Header
	Message              = wire.Message
	Stream               = wire.Stream
	StreamDetails        = wire.StreamDetails
	Topic                = wire.Topic
	TopicDetails         = wire.TopicDetails
	Partition            = wire.Partition
	SendConfirmation     = wire.SendConfirmation
	ConsumerOffsetInfo   = wire.ConsumerOffsetInfo
	ConsumerGroup        = wire.ConsumerGroup
	ConsumerGroupDetails = wire.ConsumerGroupDetails
	GroupMember          = wire.GroupMember
	ClientInfo           = wire.ClientInfo
	Stats                = wire.Stats
	PATInfo              = wire.PATInfo
)

// Header kinds (Iggy 1..15).
const (
	KindRaw     = wire.KindRaw
	KindString  = wire.KindString
	KindBool    = wire.KindBool
	KindInt8    = wire.KindInt8
	KindInt16   = wire.KindInt16
	KindInt32   = wire.KindInt32
	KindInt64   = wire.KindInt64
	KindInt128  = wire.KindInt128
	KindUint8   = wire.KindUint8
	KindUint16  = wire.KindUint16
	KindUint32  = wire.KindUint32
	KindUint64  = wire.KindUint64
	KindUint128 = wire.KindUint128
	KindFloat32 = wire.KindFloat32
	KindFloat64 = wire.KindFloat64
)

// Identifier, consumer, partitioning and strategy constructors.
var (
	NumericID         = wire.NumericID
	NamedID           = wire.NamedID
	Balanced          = wire.Balanced
	PartitionID       = wire.PartitionID
	MessagesKey       = wire.MessagesKey
	StrategyOffset    = wire.StrategyOffset
	StrategyTimestamp = wire.StrategyTimestamp
	StrategyFirst     = wire.StrategyFirst
	StrategyLast      = wire.StrategyLast
	StrategyNext      = wire.StrategyNext
	Part              = wire.Part
	StringHeader      = wire.StringHeader
	IDFromUint64      = wire.IDFromUint64
)

// SingleConsumer is a plain consumer with a numeric id.
func SingleConsumer(id uint32) Consumer {
	return Consumer{Kind: wire.ConsumerKindSingle, ID: wire.NumericID(id)}
}

// NamedConsumer is a plain consumer with a string id (stored under XXH32 of the name).
func NamedConsumer(name string) Consumer {
	return Consumer{Kind: wire.ConsumerKindSingle, ID: wire.NamedID(name)}
}

// GroupConsumerOf addresses a consumer group as the consumer of a poll or offset call.
func GroupConsumerOf(group Identifier) Consumer {
	return Consumer{Kind: wire.ConsumerKindGroup, ID: group}
}

// notFoundIfEmpty turns an empty "nothing" reply into ErrNotFound.
func notFoundIfEmpty(what string, b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("iggy: %s: %w", what, ErrNotFound)
	}
	return nil
}

func validID(what string, id Identifier) error {
	if err := id.Validate(); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidArgument, what, err)
	}
	return nil
}

// Ping checks the connection (and reconnects when it is down).
func (c *Client) Ping(ctx context.Context) error {
	return c.call(ctx, wire.CodePing, nil, nil)
}

// Logout ends the session; the next call logs in again on a new connection.
func (c *Client) Logout(ctx context.Context) error {
	if err := c.acquire(ctx); err != nil {
		return err
	}
	defer c.release()
	err := c.roundTrip(ctx, wire.CodeLogoutUser, nil, nil)
	c.dropLocked(nil)
	return err
}

// GetMe returns this connection as the server sees it.
func (c *Client) GetMe(ctx context.Context) (*ClientInfo, error) {
	var info ClientInfo
	err := c.call(ctx, wire.CodeGetMe, nil, info.Decode)
	return &info, err
}

// GetStats returns server statistics.
func (c *Client) GetStats(ctx context.Context) (*Stats, error) {
	var s Stats
	err := c.call(ctx, wire.CodeGetStats, nil, s.Decode)
	return &s, err
}

// GetStream returns a stream and its topics; ErrNotFound when absent.
func (c *Client) GetStream(ctx context.Context, stream Identifier) (*StreamDetails, error) {
	if err := validID("stream", stream); err != nil {
		return nil, err
	}
	var d StreamDetails
	err := c.call(ctx, wire.CodeGetStream, func(b []byte) ([]byte, error) {
		return (&wire.StreamRef{Stream: stream}).Append(b), nil
	}, func(p []byte) (err error) {
		if err := notFoundIfEmpty("stream "+stream.String(), p); err != nil {
			return err
		}
		d, err = wire.DecodeStreamDetails(p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// GetStreams lists all streams.
func (c *Client) GetStreams(ctx context.Context) ([]Stream, error) {
	var out []Stream
	err := c.call(ctx, wire.CodeGetStreams, nil, func(p []byte) (err error) {
		out, err = wire.DecodeStreams(p)
		return err
	})
	return out, err
}

// CreateStream creates a stream; ErrAlreadyExists when the name is taken.
func (c *Client) CreateStream(ctx context.Context, name string) (*StreamDetails, error) {
	if err := wire.ValidName("stream name", name); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	var d StreamDetails
	err := c.call(ctx, wire.CodeCreateStream, func(b []byte) ([]byte, error) {
		return (&wire.CreateStreamRequest{Name: name}).Append(b), nil
	}, func(p []byte) (err error) {
		d, err = wire.DecodeStreamDetails(p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// DeleteStream deletes a stream with its topics and messages.
func (c *Client) DeleteStream(ctx context.Context, stream Identifier) error {
	if err := validID("stream", stream); err != nil {
		return err
	}
	return c.call(ctx, wire.CodeDeleteStream, func(b []byte) ([]byte, error) {
		return (&wire.StreamRef{Stream: stream}).Append(b), nil
	}, nil)
}

// GetTopic returns a topic and its partitions; ErrNotFound when absent.
func (c *Client) GetTopic(ctx context.Context, stream, topic Identifier) (*TopicDetails, error) {
	if err := validID("stream", stream); err != nil {
		return nil, err
	}
	if err := validID("topic", topic); err != nil {
		return nil, err
	}
	var d TopicDetails
	err := c.call(ctx, wire.CodeGetTopic, func(b []byte) ([]byte, error) {
		return (&wire.TopicRef{Stream: stream, Topic: topic}).Append(b), nil
	}, func(p []byte) (err error) {
		if err := notFoundIfEmpty("topic "+topic.String()+" in stream "+stream.String(), p); err != nil {
			return err
		}
		d, err = wire.DecodeTopicDetails(p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// GetTopics lists the topics of a stream (empty for an unknown stream).
func (c *Client) GetTopics(ctx context.Context, stream Identifier) ([]Topic, error) {
	if err := validID("stream", stream); err != nil {
		return nil, err
	}
	var out []Topic
	err := c.call(ctx, wire.CodeGetTopics, func(b []byte) ([]byte, error) {
		return (&wire.StreamRef{Stream: stream}).Append(b), nil
	}, func(p []byte) (err error) {
		out, err = wire.DecodeTopics(p)
		return err
	})
	return out, err
}

// ExpiryOption is the topic option message_expiry (0 = never expire).
func ExpiryOption(d time.Duration) Header {
	v := uint64(d.Microseconds())
	if d <= 0 {
		v = ^uint64(0)
	}
	return wire.Uint64Header("message_expiry", v)
}

// CreateTopic creates a topic with partitions partitions and options (string-keyed TLV, see
// spec: compression_algorithm, message_expiry, max_topic_size, ...); only the options given are
// sent (nil: the server's defaults). When the server refuses an option key (4041
// UnsupportedOptionKey) and options holds keys outside the real server's catalog
// (wire.OptionalTopicOptionKeys: durability, consumer_offset_durability), it retries once without
// those and logs that once per client. ErrAlreadyExists when the name is taken, ErrNotFound when
// the stream is missing.
func (c *Client) CreateTopic(ctx context.Context, stream Identifier, name string, partitions uint32, options []Header) (*TopicDetails, error) {
	if err := validID("stream", stream); err != nil {
		return nil, err
	}
	if err := wire.ValidName("topic name", name); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	create := func(options []Header) (*TopicDetails, error) {
		var d TopicDetails
		err := c.call(ctx, wire.CodeCreateTopic, func(b []byte) ([]byte, error) {
			return (&wire.CreateTopicRequest{Stream: stream, Partitions: partitions, Name: name, Options: options}).Append(b), nil
		}, func(p []byte) (err error) {
			d, err = wire.DecodeTopicDetails(p)
			return err
		})
		if err != nil {
			return nil, err
		}
		return &d, nil
	}
	d, err := create(options)
	if code, _ := ErrorCode(err); code != wire.ErrCodeUnsupportedOptionKey {
		return d, err
	}
	var kept []Header
	var dropped []string
	for _, h := range options {
		if wire.OptionalTopicOptionKeys[string(h.Key)] {
			dropped = append(dropped, string(h.Key))
		} else {
			kept = append(kept, h)
		}
	}
	if len(dropped) == 0 {
		return nil, fmt.Errorf("%w (topic options sent: %s)", err, optionKeys(options))
	}
	c.optionsOnce.Do(func() {
		c.log.Warn("iggy: the server refuses optional topic options (UnsupportedOptionKey); creating topics without them",
			"address", c.cfg.Address, "dropped", dropped)
	})
	d, err = create(kept)
	if code, _ := ErrorCode(err); code == wire.ErrCodeUnsupportedOptionKey {
		return nil, fmt.Errorf("%w (topic options sent: %s)", err, optionKeys(kept))
	}
	return d, err
}

func optionKeys(hs []Header) string {
	keys := make([]string, len(hs))
	for i, h := range hs {
		keys[i] = string(h.Key)
	}
	return strings.Join(keys, ", ")
}

// DeleteTopic deletes a topic with its messages.
func (c *Client) DeleteTopic(ctx context.Context, stream, topic Identifier) error {
	return c.call(ctx, wire.CodeDeleteTopic, func(b []byte) ([]byte, error) {
		return (&wire.TopicRef{Stream: stream, Topic: topic}).Append(b), nil
	}, nil)
}

// CreatePartitions adds count partitions to a topic (consumer groups rebalance).
func (c *Client) CreatePartitions(ctx context.Context, stream, topic Identifier, count uint32) error {
	return c.call(ctx, wire.CodeCreatePartitions, func(b []byte) ([]byte, error) {
		return (&wire.PartitionsRequest{Stream: stream, Topic: topic, Count: count}).Append(b), nil
	}, nil)
}

// DeletePartitions removes the last count partitions of a topic with their messages.
func (c *Client) DeletePartitions(ctx context.Context, stream, topic Identifier, count uint32) error {
	return c.call(ctx, wire.CodeDeletePartitions, func(b []byte) ([]byte, error) {
		return (&wire.PartitionsRequest{Stream: stream, Topic: topic, Count: count}).Append(b), nil
	}, nil)
}

// EnsureStream returns the stream named name, creating it when missing (a concurrent creation
// by someone else is fine).
func (c *Client) EnsureStream(ctx context.Context, name string) (*StreamDetails, error) {
	d, err := c.GetStream(ctx, NamedID(name))
	if err == nil {
		return d, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	d, err = c.CreateStream(ctx, name)
	if errors.Is(err, ErrAlreadyExists) {
		return c.GetStream(ctx, NamedID(name))
	}
	return d, err
}

// EnsureTopic returns topic in stream, creating the stream and the topic (with partitions
// partitions) when missing. An existing topic is returned as is, whatever its partition count.
func (c *Client) EnsureTopic(ctx context.Context, stream, topic string, partitions uint32) (*TopicDetails, error) {
	if _, err := c.EnsureStream(ctx, stream); err != nil {
		return nil, err
	}
	d, err := c.GetTopic(ctx, NamedID(stream), NamedID(topic))
	if err == nil {
		return d, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	d, err = c.CreateTopic(ctx, NamedID(stream), topic, partitions, nil)
	if errors.Is(err, ErrAlreadyExists) {
		return c.GetTopic(ctx, NamedID(stream), NamedID(topic))
	}
	return d, err
}

// SendMessages appends msgs, in order, to one partition chosen by p (Balanced: the server
// round-robins; MessagesKey: XXH32(key) mod partitions). Messages with OriginTimestamp 0 are sent
// with the current time (msgs are not modified); IDs are sent as given (0 stays 0). It returns
// once the server acknowledged the batch (with --data-dir, written to the log). On an
// ErrTransport error the batch may or may not have been stored.
func (c *Client) SendMessages(ctx context.Context, stream, topic Identifier, p Partitioning, msgs []Message) ([]SendConfirmation, error) {
	if len(msgs) == 0 {
		return nil, fmt.Errorf("%w: SendMessages: no messages", ErrInvalidArgument)
	}
	now := uint64(time.Now().UnixMicro())
	var out []SendConfirmation
	err := c.call(ctx, wire.CodeSendMessages, func(b []byte) ([]byte, error) {
		if _, plain := c.nc.(*net.TCPConn); !plain {
			return wire.AppendSendMessagesAt(b, stream, topic, p, msgs, now) // TLS: one record per segment otherwise
		}
		// Plain TCP: payloads of vecMinPayload bytes or more are written from where they lie (writev).
		var err error
		b, c.segs, err = wire.AppendSendMessagesVec(b, stream, topic, p, msgs, now, vecMinPayload, c.segs[:0])
		return b, err
	}, func(body []byte) (err error) {
		out, err = wire.DecodeSendReply(body)
		return err
	})
	return out, err
}

// vecMinPayload is the payload size from which SendMessages writes a payload from where it lies
// (a writev segment) instead of copying it into the request frame. Below it the copy is cheaper
// than the extra segment: measured against iggy-devserver (client CPU for 1 MB batches), 1 KB
// payloads cost about 15% more client CPU written as segments, 4 KB and 16 KB ones 7-12% less.
var vecMinPayload = 4096

// Polled is the result of a poll: messages of one partition in offset order. Messages (the slice,
// payloads and headers) alias reply memory owned by this result: valid until Release, or for as
// long as the caller keeps them if it never calls Release.
type Polled struct {
	PartitionID   uint32
	CurrentOffset uint64 // highest offset in the partition
	Messages      []Message
	lease         *lease
}

// Release hands the memory Messages alias back to the client, to be reused by a later poll.
// After Release nothing of Messages may be used any more: not the slice, not a payload or header
// slice taken from it (copy what must outlive it first); a later poll overwrites it. Calling
// Release is optional (unreleased memory is garbage-collected) and idempotent; it may be called
// from any goroutine, also on a nil result.
func (p *Polled) Release() {
	if p != nil {
		p.lease.release()
	}
}

// PollMessages reads up to count messages of one partition for consumer. partition may be
// absent for a plain consumer (partition 0); a group consumer must name a partition it owns
// (otherwise the reply is empty, or ErrPartitionNotOwned for a partition it no longer owns).
// autoCommit stores the offset of the last returned message.
func (c *Client) PollMessages(ctx context.Context, stream, topic Identifier, consumer Consumer, partition OptPartition,
	strategy PollingStrategy, count uint32, autoCommit bool) (*Polled, error) {
	var res Polled
	q := wire.PollMessagesRequest{Consumer: consumer, Stream: stream, Topic: topic, Partition: partition,
		Strategy: strategy, Count: count, AutoCommit: autoCommit}
	err := c.call(ctx, wire.CodePollMessages, func(b []byte) ([]byte, error) { return q.Append(b), nil },
		func(body []byte) error {
			if len(body) == 0 {
				return nil
			}
			mem := c.pollMem // the memory body lies in (sem held)
			dst := mem.msgs[:0]
			if cap(dst) < min(int(count), 1024) {
				dst = make([]Message, 0, min(int(count), 1024))
			}
			r, err := wire.DecodePollReply(body, dst)
			if cap(r.Messages) > cap(mem.msgs) {
				mem.msgs = r.Messages[:0]
			}
			if err != nil {
				return err
			}
			res = Polled{PartitionID: r.PartitionID, CurrentOffset: r.CurrentOffset, Messages: r.Messages}
			if len(r.Messages) > 0 {
				res.lease, c.pollMem = newLease(mem), nil // the result keeps the memory
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	if res.PartitionID == wire.PartitionResync {
		res.Release()
		return nil, fmt.Errorf("iggy: PollMessages: partition %d: %w", partition.ID, ErrPartitionNotOwned)
	}
	return &res, nil
}

// StoreConsumerOffset stores offset as consumer's position in a partition (the next Next poll
// starts after it).
func (c *Client) StoreConsumerOffset(ctx context.Context, consumer Consumer, stream, topic Identifier, partition OptPartition, offset uint64) error {
	q := wire.ConsumerOffsetRequest{Consumer: consumer, Stream: stream, Topic: topic, Partition: partition, Offset: offset, Ack: 1}
	return c.call(ctx, wire.CodeStoreConsumerOffset, func(b []byte) ([]byte, error) { return q.AppendStore(b), nil }, nil)
}

// GetConsumerOffset returns consumer's stored offset; ErrNotFound when none is stored.
func (c *Client) GetConsumerOffset(ctx context.Context, consumer Consumer, stream, topic Identifier, partition OptPartition) (*ConsumerOffsetInfo, error) {
	q := wire.ConsumerOffsetRequest{Consumer: consumer, Stream: stream, Topic: topic, Partition: partition}
	var info ConsumerOffsetInfo
	err := c.call(ctx, wire.CodeGetConsumerOffset, func(b []byte) ([]byte, error) { return q.AppendGet(b), nil },
		func(p []byte) error {
			if err := notFoundIfEmpty("consumer offset", p); err != nil {
				return err
			}
			return info.Decode(p)
		})
	if err != nil {
		return nil, err
	}
	return &info, nil
}

// DeleteConsumerOffset forgets consumer's stored offset.
func (c *Client) DeleteConsumerOffset(ctx context.Context, consumer Consumer, stream, topic Identifier, partition OptPartition) error {
	q := wire.ConsumerOffsetRequest{Consumer: consumer, Stream: stream, Topic: topic, Partition: partition, Ack: 1}
	return c.call(ctx, wire.CodeDeleteConsumerOffset, func(b []byte) ([]byte, error) { return q.AppendDelete(b), nil }, nil)
}

// CreateConsumerGroup creates a group; ErrAlreadyExists when the name is taken.
func (c *Client) CreateConsumerGroup(ctx context.Context, stream, topic Identifier, name string) (*ConsumerGroupDetails, error) {
	if err := wire.ValidName("consumer group name", name); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	var d ConsumerGroupDetails
	err := c.call(ctx, wire.CodeCreateConsumerGroup, func(b []byte) ([]byte, error) {
		return (&wire.CreateGroupRequest{Stream: stream, Topic: topic, Name: name}).Append(b), nil
	}, func(p []byte) (err error) {
		d, err = wire.DecodeGroupDetails(p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// GetConsumerGroup returns a group with its members; ErrNotFound when absent.
func (c *Client) GetConsumerGroup(ctx context.Context, stream, topic, group Identifier) (*ConsumerGroupDetails, error) {
	var d ConsumerGroupDetails
	err := c.call(ctx, wire.CodeGetConsumerGroup, func(b []byte) ([]byte, error) {
		return (&wire.GroupRef{Stream: stream, Topic: topic, Group: group}).Append(b), nil
	}, func(p []byte) (err error) {
		if err := notFoundIfEmpty("consumer group "+group.String(), p); err != nil {
			return err
		}
		d, err = wire.DecodeGroupDetails(p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// GetConsumerGroups lists the groups of a topic.
func (c *Client) GetConsumerGroups(ctx context.Context, stream, topic Identifier) ([]ConsumerGroup, error) {
	var out []ConsumerGroup
	err := c.call(ctx, wire.CodeGetConsumerGroups, func(b []byte) ([]byte, error) {
		return (&wire.TopicRef{Stream: stream, Topic: topic}).Append(b), nil
	}, func(p []byte) (err error) {
		out, err = wire.DecodeGroups(p)
		return err
	})
	return out, err
}

func (c *Client) groupCall(ctx context.Context, code uint32, stream, topic, group Identifier) error {
	return c.call(ctx, code, func(b []byte) ([]byte, error) {
		return (&wire.GroupRef{Stream: stream, Topic: topic, Group: group}).Append(b), nil
	}, nil)
}

// DeleteConsumerGroup deletes a group and its stored offsets.
func (c *Client) DeleteConsumerGroup(ctx context.Context, stream, topic, group Identifier) error {
	return c.groupCall(ctx, wire.CodeDeleteConsumerGroup, stream, topic, group)
}

// JoinConsumerGroup makes this connection a member of group. Membership ends when the
// connection does (see ConnectionEpoch).
func (c *Client) JoinConsumerGroup(ctx context.Context, stream, topic, group Identifier) error {
	_, err := c.joinConsumerGroup(ctx, stream, topic, group)
	return err
}

// joinConsumerGroup joins and returns the connection epoch the membership belongs to.
func (c *Client) joinConsumerGroup(ctx context.Context, stream, topic, group Identifier) (uint64, error) {
	return c.callEpoch(ctx, wire.CodeJoinConsumerGroup, func(b []byte) ([]byte, error) {
		return (&wire.GroupRef{Stream: stream, Topic: topic, Group: group}).Append(b), nil
	}, nil)
}

// LeaveConsumerGroup ends this connection's membership.
func (c *Client) LeaveConsumerGroup(ctx context.Context, stream, topic, group Identifier) error {
	return c.groupCall(ctx, wire.CodeLeaveConsumerGroup, stream, topic, group)
}

// Assignment is this member's share of a consumer group.
type Assignment struct {
	Generation uint64
	Partitions []uint32
}

// SyncConsumerGroup returns this connection's assigned partitions; ErrNotFound when it is not a
// member (or the group does not exist).
func (c *Client) SyncConsumerGroup(ctx context.Context, stream, topic, group Identifier) (*Assignment, error) {
	var r wire.SyncReply
	err := c.call(ctx, wire.CodeSyncConsumerGroup, func(b []byte) ([]byte, error) {
		return (&wire.GroupRef{Stream: stream, Topic: topic, Group: group}).Append(b), nil
	}, func(p []byte) error {
		if err := notFoundIfEmpty("consumer group membership "+group.String(), p); err != nil {
			return err
		}
		return r.Decode(p)
	})
	if err != nil {
		return nil, err
	}
	return &Assignment{Generation: r.Generation, Partitions: r.Partitions}, nil
}

// CreatePersonalAccessToken creates a token for the logged-in user and returns it (shown once).
// expiry 0 means never.
func (c *Client) CreatePersonalAccessToken(ctx context.Context, name string, expiry time.Duration) (string, error) {
	if err := wire.ValidName("token name", name); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	var t wire.RawToken
	err := c.call(ctx, wire.CodeCreatePAT, func(b []byte) ([]byte, error) {
		return (&wire.CreatePATRequest{Name: name, Expiry: uint64(max(expiry, 0).Microseconds())}).Append(b), nil
	}, t.Decode)
	return t.Token, err
}

// DeletePersonalAccessToken deletes a token of the logged-in user.
func (c *Client) DeletePersonalAccessToken(ctx context.Context, name string) error {
	return c.call(ctx, wire.CodeDeletePAT, func(b []byte) ([]byte, error) {
		return (&wire.NameRequest{Name: name}).Append(b), nil
	}, nil)
}

// GetPersonalAccessTokens lists the logged-in user's tokens.
func (c *Client) GetPersonalAccessTokens(ctx context.Context) ([]PATInfo, error) {
	var out []PATInfo
	err := c.call(ctx, wire.CodeGetPATs, nil, func(p []byte) (err error) {
		out, err = wire.DecodePATs(p)
		return err
	})
	return out, err
}
