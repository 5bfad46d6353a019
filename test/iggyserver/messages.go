package iggyserver

import (
	"bytes"
	"errors"
	"sort"

	"github.com/iggy-go/connectors/runtime/iggy/wire"
)

// maxPollBytes bounds one poll reply; at least one message is always returned.
const maxPollBytes = 32 << 20

func (c *conn) send(body, out []byte) ([]byte, error) {
	s := c.s
	q, err := wire.DecodeSendMessages(body)
	if err != nil {
		return nil, badBody(err)
	}
	str := s.st.findStream(q.Stream)
	if str == nil {
		return nil, statusErr(wire.ErrCodeResourceNotFound, "stream %v not found", q.Stream)
	}
	t := str.findTopic(q.Topic)
	if t == nil {
		return nil, statusErr(wire.ErrCodeResourceNotFound, "topic %v not found", q.Topic)
	}
	n := uint32(len(t.partitions))
	if n == 0 {
		return nil, statusErr(wire.ErrCodeResourceNotFound, "topic %q has no partitions", t.name)
	}
	var pid uint32
	switch q.Partitioning.Kind {
	case wire.PartitionByID:
		pid = q.Partitioning.PartitionID
		if pid >= n {
			return nil, statusErr(wire.ErrCodeResourceNotFound, "partition %d not found (topic %q has %d)", pid, t.name, n)
		}
	case wire.PartitionBalanced:
		pid = t.rr % n
		t.rr++
	case wire.PartitionByMessageKey:
		pid = wire.XXH32(q.Partitioning.Key, 0) % n
	}
	// The official server checks the permission once the namespace (stream, topic, partition) resolved.
	if !canSend(s.st.perms(c.userID), str.id, t.id) {
		return nil, deny(false, "sending to topic %q of stream %q needs send_messages", t.name, str.name)
	}
	if err := wire.ValidateBatch(q.Batch, q.Count); err != nil {
		var ce *wire.CodeError
		if errors.As(err, &ce) {
			return nil, statusErr(ce.Code, "%s", ce.Reason)
		}
		return nil, statusErr(wire.ErrCodeInvalidFormat, "%v", err)
	}
	p := t.partitions[pid]
	rec := q.Batch
	if !c.owned { // the frame buffer is reused: keep a copy
		rec = bytes.Clone(q.Batch)
	}
	c.owned = false
	ts := max(nowMicros(), p.lastTS)
	base := p.next
	wire.StampBatch(rec, pid, base, ts)
	if err := s.st.append(p, rec, ts); err != nil {
		s.log.Error("iggy-devserver: appending to partition log failed", "err", err)
		return nil, statusErr(wire.ErrCodeError, "persisting messages: %v", err)
	}
	s.commit.Add(1)
	return wire.AppendSendReply(out, []wire.SendConfirmation{{StreamID: str.id, TopicID: t.id, PartitionID: pid, BaseOffset: base}}), nil
}

// resolvePartition resolves stream/topic/partition of a poll or offset request. A plain consumer
// without a partition reads partition 0.
func (st *state) resolvePartition(sid, tid wire.Identifier, part wire.OptPartition) (*topic, *partition, error) {
	str := st.findStream(sid)
	if str == nil {
		return nil, nil, statusErr(wire.ErrCodeStreamIDNotFound, "stream %v not found", sid)
	}
	t := str.findTopic(tid)
	if t == nil {
		return nil, nil, statusErr(wire.ErrCodeTopicIDNotFound, "topic %v not found", tid)
	}
	p := t.partition(part.ID)
	if p == nil {
		return t, nil, statusErr(wire.ErrCodePartitionNotFound, "partition %d not found (topic %q has %d)", part.ID, t.name, len(t.partitions))
	}
	return t, p, nil
}

// offsetOwner returns the key offsets of consumer are stored under, and for a group consumer the
// group (nil result and an error when the group does not exist).
func offsetOwner(t *topic, cons wire.Consumer) (offsetKey, *group, error) {
	if cons.Kind == wire.ConsumerKindGroup {
		g := t.findGroup(cons.ID)
		if g == nil {
			return offsetKey{}, nil, statusErr(wire.ErrCodeConsumerGroupIDNotFound, "consumer group %v not found", cons.ID)
		}
		return offsetKey{wire.ConsumerKindGroup, g.id}, g, nil
	}
	return offsetKey{wire.ConsumerKindSingle, wire.ConsumerKey(cons.ID)}, nil, nil
}

func emptyPoll(out []byte, pid uint32, cur uint64) []byte {
	return wire.AppendPollReplyHeader(out, pid, cur, 0)
}

func (p *partition) current() uint64 {
	if p.next == 0 {
		return 0
	}
	return p.next - 1
}

func (c *conn) poll(body, out []byte) ([]byte, error) {
	s := c.s
	var q wire.PollMessagesRequest
	if err := q.Decode(body); err != nil {
		return nil, badBody(err)
	}
	if err := c.gateRead(q.Stream, q.Topic, "polling"); err != nil {
		return nil, err
	}
	group := q.Consumer.Kind == wire.ConsumerKindGroup
	if group && !q.Partition.Set {
		// Resolve the topic and group for their errors, then answer empty: group members must
		// name a partition they own.
		str := s.st.findStream(q.Stream)
		if str == nil {
			return nil, statusErr(wire.ErrCodeStreamIDNotFound, "stream %v not found", q.Stream)
		}
		t := str.findTopic(q.Topic)
		if t == nil {
			return nil, statusErr(wire.ErrCodeTopicIDNotFound, "topic %v not found", q.Topic)
		}
		if _, _, err := offsetOwner(t, q.Consumer); err != nil {
			return nil, err
		}
		return emptyPoll(out, 0, 0), nil
	}
	t, p, err := s.st.resolvePartition(q.Stream, q.Topic, q.Partition)
	if err != nil {
		return nil, err
	}
	key, g, err := offsetOwner(t, q.Consumer)
	if err != nil {
		return nil, err
	}
	if g != nil && !g.owns(c, p.id) {
		return emptyPoll(out, wire.PartitionResync, 0), nil
	}
	cur := p.current()
	if q.Count == 0 || p.next == 0 {
		return emptyPoll(out, p.id, cur), nil
	}
	var start uint64
	switch q.Strategy.Kind {
	case wire.PollOffset:
		start = q.Strategy.Value
	case wire.PollFirst:
		start = 0
	case wire.PollLast:
		if uint64(q.Count) <= cur {
			start = cur - uint64(q.Count-1)
		}
	case wire.PollNext:
		if o, ok := p.offsets[key]; ok {
			start = o + 1
		}
	case wire.PollTimestamp:
		i := sort.Search(len(p.batches), func(i int) bool { return p.batches[i].ts >= q.Strategy.Value })
		if i == len(p.batches) {
			return emptyPoll(out, p.id, cur), nil
		}
		start = p.batches[i].base
	}
	if start >= p.next {
		return emptyPoll(out, p.id, cur), nil
	}
	end := min(p.next, start+uint64(q.Count))
	head := len(out)
	out = wire.AppendPollReplyHeader(out, p.id, cur, 0)
	bi := sort.Search(len(p.batches), func(i int) bool { return p.batches[i].base+p.batches[i].count() > start })
	var n uint64
	size := 0
	for ; bi < len(p.batches) && start < end; bi++ {
		b := &p.batches[bi]
		from := start - b.base
		to := min(b.count(), end-b.base)
		if n > 0 && size+int(b.spans[to]-b.spans[from]) > maxPollBytes {
			break
		}
		// Records go out as extra write segments aliasing the stored batch (immutable once
		// stored); a partial batch gets a rewritten 256-byte header of its own.
		if from == 0 && to == b.count() {
			c.addTail(b.rec)
		} else {
			frames := b.rec[b.spans[from]:b.spans[to]]
			c.addTail(wire.AppendRecordSliceHeader(make([]byte, 0, wire.BatchHeaderSize), b.rec, frames, uint32(to-from)))
			c.addTail(frames)
		}
		size += int(b.spans[to] - b.spans[from])
		n += to - from
		start = b.base + to
	}
	putCount(out[head+12:], uint32(n))
	if q.AutoCommit && n > 0 {
		p.offsets[key] = start - 1
		s.commit.Add(1)
		if err := s.st.save(); err != nil {
			s.log.Error("iggy-devserver: saving offsets failed", "err", err)
		}
	}
	return out, nil
}

// gateRead denies a poll or offset read of stream/topic the user may not poll (status 41); a
// stream or topic that does not resolve passes, so the caller's own not-found answer holds.
func (c *conn) gateRead(sid, tid wire.Identifier, what string) error {
	str := c.s.st.findStream(sid)
	if str == nil {
		return nil
	}
	t := str.findTopic(tid)
	if t == nil || canPoll(c.s.st.perms(c.userID), str.id, t.id) {
		return nil
	}
	return deny(false, "%s topic %q of stream %q needs poll_messages", what, t.name, str.name)
}

func (c *conn) addTail(b []byte) {
	c.tail = append(c.tail, b)
	c.tailLen += len(b)
}

func putCount(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

func (c *conn) storeOffset(body, out []byte) ([]byte, error) {
	s := c.s
	var q wire.ConsumerOffsetRequest
	if err := q.DecodeStore(body); err != nil {
		return nil, badBody(err)
	}
	t, p, err := s.st.resolvePartition(q.Stream, q.Topic, q.Partition)
	if err != nil {
		return nil, statusErr(wire.ErrCodeResourceNotFound, "%v", err)
	}
	if !canPoll(s.st.perms(c.userID), t.stream.id, t.id) {
		return nil, deny(false, "storing an offset in topic %q needs poll_messages", t.name)
	}
	key, g, err := offsetOwner(t, q.Consumer)
	if err != nil {
		return nil, statusErr(wire.ErrCodeResourceNotFound, "%v", err)
	}
	if g != nil && !g.owns(c, p.id) {
		return nil, statusErr(wire.ErrCodeResourceNotFound, "consumer group %q member does not own partition %d", g.name, p.id)
	}
	if p.next == 0 || q.Offset > p.current() {
		return nil, statusErr(wire.ErrCodeInvalidOffset, "offset %d beyond current offset of partition %d (%d messages)", q.Offset, p.id, p.next)
	}
	p.offsets[key] = q.Offset
	return s.commitMeta(out)
}

func (c *conn) getOffset(body, out []byte) ([]byte, error) {
	s := c.s
	var q wire.ConsumerOffsetRequest
	if err := q.DecodeGet(body); err != nil {
		return nil, badBody(err)
	}
	if err := c.gateRead(q.Stream, q.Topic, "reading an offset of"); err != nil {
		return nil, err
	}
	t, p, err := s.st.resolvePartition(q.Stream, q.Topic, q.Partition)
	if err != nil {
		var er *errReply
		if errors.As(err, &er) && er.code == wire.ErrCodePartitionNotFound {
			return nil, err
		}
		return out, nil
	}
	key, _, err := offsetOwner(t, q.Consumer)
	if err != nil {
		return out, nil
	}
	o, ok := p.offsets[key]
	if !ok {
		return out, nil
	}
	info := wire.ConsumerOffsetInfo{PartitionID: p.id, CurrentOffset: p.current(), StoredOffset: o}
	return info.Append(out), nil
}

func (c *conn) deleteOffset(body, out []byte) ([]byte, error) {
	s := c.s
	var q wire.ConsumerOffsetRequest
	if err := q.DecodeDelete(body); err != nil {
		return nil, badBody(err)
	}
	t, p, err := s.st.resolvePartition(q.Stream, q.Topic, q.Partition)
	if err != nil {
		return nil, statusErr(wire.ErrCodeResourceNotFound, "%v", err)
	}
	if !canPoll(s.st.perms(c.userID), t.stream.id, t.id) {
		return nil, deny(false, "deleting an offset in topic %q needs poll_messages", t.name)
	}
	key, _, err := offsetOwner(t, q.Consumer)
	if err != nil {
		return nil, statusErr(wire.ErrCodeResourceNotFound, "%v", err)
	}
	if _, ok := p.offsets[key]; !ok {
		// A typed deny before anything is committed: status 3021, empty body (official server).
		return nil, statusErr(wire.ErrCodeConsumerOffsetNotFound, "no stored offset for consumer %v in partition %d", q.Consumer.ID, p.id)
	}
	delete(p.offsets, key)
	return s.commitMeta(out)
}
