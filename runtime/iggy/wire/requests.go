package wire

import (
	"fmt"
	"math"
)

// ClientVersion is the login prefix [protocol u32][sdk_name][sdk_version].
type ClientVersion struct {
	Protocol   uint32
	SDKName    string
	SDKVersion string
}

func appendClientVersion(b []byte, v ClientVersion) []byte {
	return appendName(appendName(appendU32(b, v.Protocol), v.SDKName), v.SDKVersion)
}

func readClientVersion(r *Reader) ClientVersion {
	return ClientVersion{Protocol: r.U32("protocol_version"), SDKName: r.Name("sdk_name"), SDKVersion: r.Name("sdk_version")}
}

// LoginRequest is LoginRegister (40): username/password login.
type LoginRequest struct {
	Version  ClientVersion
	Username string
	Password string
	Context  []byte
}

// Append appends the body.
func (q *LoginRequest) Append(b []byte) []byte {
	b = appendClientVersion(b, q.Version)
	b = appendName(b, q.Username)
	b = append(append(b, byte(len(q.Password))), q.Password...)
	b = appendU32(b, uint32(len(q.Context)))
	return append(b, q.Context...)
}

// Decode decodes the body (exactly, no trailing bytes).
func (q *LoginRequest) Decode(b []byte) error {
	r := Reader{b: b}
	q.Version = readClientVersion(&r)
	q.Username = r.Name("username")
	pl := int(r.U8("password length"))
	q.Password = string(r.Bytes(pl, "password"))
	q.Context = r.Bytes(int(r.U32("context length")), "context")
	return r.Done("login body")
}

// PATLoginRequest is LoginRegisterWithPat (45).
type PATLoginRequest struct {
	Version ClientVersion
	Token   string
	Context []byte
}

// Append appends the body.
func (q *PATLoginRequest) Append(b []byte) []byte {
	b = appendClientVersion(b, q.Version)
	b = append(append(b, byte(len(q.Token))), q.Token...)
	b = appendU32(b, uint32(len(q.Context)))
	return append(b, q.Context...)
}

// Decode decodes the body.
func (q *PATLoginRequest) Decode(b []byte) error {
	r := Reader{b: b}
	q.Version = readClientVersion(&r)
	n := int(r.U8("token length"))
	if r.err == nil && n == 0 {
		r.Fail("token", "empty token")
	}
	q.Token = string(r.Bytes(n, "token"))
	q.Context = r.Bytes(int(r.U32("context length")), "context")
	return r.Done("token login body")
}

// CreateStreamRequest is CreateStream (202).
type CreateStreamRequest struct {
	Name    string
	Options []Header
}

// Append appends the body.
func (q *CreateStreamRequest) Append(b []byte) []byte {
	return AppendHeaders(appendName(b, q.Name), q.Options)
}

// Decode decodes the body.
func (q *CreateStreamRequest) Decode(b []byte) error {
	r := Reader{b: b}
	q.Name = r.Name("stream name")
	if r.err != nil {
		return r.err
	}
	var err error
	q.Options, err = DecodeHeaders(r.Rest(), nil)
	return err
}

// StreamRef carries one stream identifier (GetStream 200, DeleteStream 203, PurgeStream 205,
// GetTopics 301).
type StreamRef struct{ Stream Identifier }

// Append appends the body.
func (q *StreamRef) Append(b []byte) []byte { return AppendIdentifier(b, q.Stream) }

// Decode decodes the body.
func (q *StreamRef) Decode(b []byte) error {
	r := Reader{b: b}
	q.Stream = ReadIdentifier(&r, "stream_id")
	return r.Done("stream body")
}

// TopicRef carries stream and topic identifiers (GetTopic 300, DeleteTopic 303, PurgeTopic 305,
// GetConsumerGroups 601).
type TopicRef struct{ Stream, Topic Identifier }

// Append appends the body.
func (q *TopicRef) Append(b []byte) []byte {
	return AppendIdentifier(AppendIdentifier(b, q.Stream), q.Topic)
}

// Decode decodes the body.
func (q *TopicRef) Decode(b []byte) error {
	r := Reader{b: b}
	q.Stream = ReadIdentifier(&r, "stream_id")
	q.Topic = ReadIdentifier(&r, "topic_id")
	return r.Done("topic body")
}

// CreateTopicRequest is CreateTopic (302).
type CreateTopicRequest struct {
	Stream     Identifier
	Partitions uint32
	Name       string
	Options    []Header
}

// Append appends the body.
func (q *CreateTopicRequest) Append(b []byte) []byte {
	b = appendU32(AppendIdentifier(b, q.Stream), q.Partitions)
	return AppendHeaders(appendName(b, q.Name), q.Options)
}

// Decode decodes the body.
func (q *CreateTopicRequest) Decode(b []byte) error {
	r := Reader{b: b}
	q.Stream = ReadIdentifier(&r, "stream_id")
	q.Partitions = r.U32("partitions_count")
	q.Name = r.Name("topic name")
	if r.err != nil {
		return r.err
	}
	var err error
	q.Options, err = DecodeHeaders(r.Rest(), nil)
	return err
}

// PartitionsRequest is CreatePartitions (402) / DeletePartitions (403).
type PartitionsRequest struct {
	Stream, Topic Identifier
	Count         uint32
}

// Append appends the body.
func (q *PartitionsRequest) Append(b []byte) []byte {
	return appendU32(AppendIdentifier(AppendIdentifier(b, q.Stream), q.Topic), q.Count)
}

// Decode decodes the body.
func (q *PartitionsRequest) Decode(b []byte) error {
	r := Reader{b: b}
	q.Stream = ReadIdentifier(&r, "stream_id")
	q.Topic = ReadIdentifier(&r, "topic_id")
	q.Count = r.U32("partitions_count")
	return r.Done("partitions body")
}

// SendMessagesRequest is the decoded form of a SendMessages (101) body.
type SendMessagesRequest struct {
	Stream, Topic Identifier
	Partitioning  Partitioning
	Count         uint32
	Batch         []byte // the batch record, aliasing the body
}

// AppendSendMessages appends a SendMessages body: the metadata block and the producer batch of msgs.
func AppendSendMessages(b []byte, stream, topic Identifier, p Partitioning, msgs []Message) ([]byte, error) {
	return AppendSendMessagesAt(b, stream, topic, p, msgs, 0)
}

// AppendSendMessagesAt is AppendSendMessages where messages without an origin timestamp get now
// (µs); msgs are not modified.
func AppendSendMessagesAt(b []byte, stream, topic Identifier, p Partitioning, msgs []Message, now uint64) ([]byte, error) {
	out, _, err := AppendSendMessagesVec(b, stream, topic, p, msgs, now, math.MaxInt, nil)
	return out, err
}

// AppendSendMessagesVec is AppendSendMessagesAt for a vectored write (writev): payloads of at
// least minRef bytes are referenced, not copied. It returns b with the body minus those payloads
// appended, and segs with the segments that, written in order, are all of b (from byte 0) with
// the referenced payloads in their places; when no payload is referenced segs is returned
// unchanged and b alone is the request. The payloads must not change until the segments are
// written. Checksums are the same as AppendSendMessagesAt's.
func AppendSendMessagesVec(b []byte, stream, topic Identifier, p Partitioning, msgs []Message, now uint64, minRef int, segs [][]byte) ([]byte, [][]byte, error) {
	if err := stream.Validate(); err != nil {
		return b, segs, err
	}
	if err := topic.Validate(); err != nil {
		return b, segs, err
	}
	if err := p.Validate(); err != nil {
		return b, segs, err
	}
	start := len(b)
	b = appendU32(b, 0)
	b = AppendIdentifier(b, stream)
	b = AppendIdentifier(b, topic)
	b = AppendPartitioning(b, p)
	b = appendU32(b, uint32(len(msgs)))
	putU32(b[start:], uint32(len(b)-start-4))
	out, segs, err := appendBatchVec(b, msgs, now, minRef, segs)
	if err != nil {
		return b[:start], segs, err
	}
	return out, segs, nil
}

// SegmentsLen returns the total length of segs.
func SegmentsLen(segs [][]byte) int {
	n := 0
	for _, s := range segs {
		n += len(s)
	}
	return n
}

// DecodeSendMessages decodes the metadata block of a SendMessages body; the batch record is
// returned unvalidated (see ValidateBatch).
func DecodeSendMessages(b []byte) (SendMessagesRequest, error) {
	var q SendMessagesRequest
	r := Reader{b: b}
	ml := r.U32("metadata_length")
	mstart := r.off
	q.Stream = ReadIdentifier(&r, "stream_id")
	q.Topic = ReadIdentifier(&r, "topic_id")
	q.Partitioning = ReadPartitioning(&r)
	q.Count = r.U32("messages_count")
	if r.err == nil && uint32(r.off-mstart) != ml {
		r.Fail("metadata_length", "metadata_length %d but the metadata takes %d bytes", ml, r.off-mstart)
	}
	q.Batch = r.Rest()
	return q, r.err
}

// PollMessagesRequest is PollMessages (100).
type PollMessagesRequest struct {
	Consumer      Consumer
	Stream, Topic Identifier
	Partition     OptPartition
	Strategy      PollingStrategy
	Count         uint32
	AutoCommit    bool
}

// Append appends the body.
func (q *PollMessagesRequest) Append(b []byte) []byte {
	b = AppendConsumer(b, q.Consumer)
	b = AppendIdentifier(AppendIdentifier(b, q.Stream), q.Topic)
	b = appendOptPartition(b, q.Partition)
	b = appendStrategy(b, q.Strategy)
	return appendBool(appendU32(b, q.Count), q.AutoCommit)
}

// Decode decodes the body.
func (q *PollMessagesRequest) Decode(b []byte) error {
	r := Reader{b: b}
	q.Consumer = ReadConsumer(&r)
	q.Stream = ReadIdentifier(&r, "stream_id")
	q.Topic = ReadIdentifier(&r, "topic_id")
	q.Partition = readOptPartition(&r)
	q.Strategy = readStrategy(&r)
	q.Count = r.U32("count")
	ac := r.U8("auto_commit")
	if r.err == nil && ac > 1 {
		r.Fail("auto_commit", "%d is neither 0 nor 1", ac)
	}
	q.AutoCommit = ac == 1
	return r.Done("poll body")
}

// ConsumerOffsetRequest is Store (121), Get (120) and Delete (122) ConsumerOffset. Offset is used
// by Store only; Ack by Store and Delete (the SDK sends 1).
type ConsumerOffsetRequest struct {
	Consumer      Consumer
	Stream, Topic Identifier
	Partition     OptPartition
	Offset        uint64
	Ack           uint8
}

// AppendStore appends a StoreConsumerOffset body.
func (q *ConsumerOffsetRequest) AppendStore(b []byte) []byte {
	return append(appendU64(q.appendRef(b), q.Offset), q.Ack)
}

// AppendGet appends a GetConsumerOffset body.
func (q *ConsumerOffsetRequest) AppendGet(b []byte) []byte { return q.appendRef(b) }

// AppendDelete appends a DeleteConsumerOffset body.
func (q *ConsumerOffsetRequest) AppendDelete(b []byte) []byte { return append(q.appendRef(b), q.Ack) }

func (q *ConsumerOffsetRequest) appendRef(b []byte) []byte {
	b = AppendConsumer(b, q.Consumer)
	b = AppendIdentifier(AppendIdentifier(b, q.Stream), q.Topic)
	return appendOptPartition(b, q.Partition)
}

func (q *ConsumerOffsetRequest) readRef(r *Reader) {
	q.Consumer = ReadConsumer(r)
	q.Stream = ReadIdentifier(r, "stream_id")
	q.Topic = ReadIdentifier(r, "topic_id")
	q.Partition = readOptPartition(r)
}

// DecodeStore decodes a StoreConsumerOffset body. The trailing ack byte is optional (edge.2..4
// clients did not send it).
func (q *ConsumerOffsetRequest) DecodeStore(b []byte) error {
	r := Reader{b: b}
	q.readRef(&r)
	q.Offset = r.U64("offset")
	q.Ack = 1
	if r.err == nil && r.Len() == 1 {
		q.Ack = r.U8("ack")
	}
	return r.Done("store offset body")
}

// DecodeGet decodes a GetConsumerOffset body.
func (q *ConsumerOffsetRequest) DecodeGet(b []byte) error {
	r := Reader{b: b}
	q.readRef(&r)
	return r.Done("get offset body")
}

// DecodeDelete decodes a DeleteConsumerOffset body (ack optional).
func (q *ConsumerOffsetRequest) DecodeDelete(b []byte) error {
	r := Reader{b: b}
	q.readRef(&r)
	q.Ack = 1
	if r.err == nil && r.Len() == 1 {
		q.Ack = r.U8("ack")
	}
	return r.Done("delete offset body")
}

// GroupRef is Get (600), Delete (603), Join (604), Leave (605) and Sync (606) consumer group.
type GroupRef struct{ Stream, Topic, Group Identifier }

// Append appends the body.
func (q *GroupRef) Append(b []byte) []byte {
	return AppendIdentifier(AppendIdentifier(AppendIdentifier(b, q.Stream), q.Topic), q.Group)
}

// Decode decodes the body.
func (q *GroupRef) Decode(b []byte) error {
	r := Reader{b: b}
	q.Stream = ReadIdentifier(&r, "stream_id")
	q.Topic = ReadIdentifier(&r, "topic_id")
	q.Group = ReadIdentifier(&r, "group_id")
	return r.Done("consumer group body")
}

// CreateGroupRequest is CreateConsumerGroup (602).
type CreateGroupRequest struct {
	Stream, Topic Identifier
	Name          string
}

// Append appends the body.
func (q *CreateGroupRequest) Append(b []byte) []byte {
	return appendName(AppendIdentifier(AppendIdentifier(b, q.Stream), q.Topic), q.Name)
}

// Decode decodes the body.
func (q *CreateGroupRequest) Decode(b []byte) error {
	r := Reader{b: b}
	q.Stream = ReadIdentifier(&r, "stream_id")
	q.Topic = ReadIdentifier(&r, "topic_id")
	q.Name = r.Name("group name")
	return r.Done("create group body")
}

// CreatePATRequest is CreatePersonalAccessToken (42): [name][expiry u64 µs, 0 = never].
type CreatePATRequest struct {
	Name   string
	Expiry uint64
}

// Append appends the body.
func (q *CreatePATRequest) Append(b []byte) []byte { return appendU64(appendName(b, q.Name), q.Expiry) }

// Decode decodes the body.
func (q *CreatePATRequest) Decode(b []byte) error {
	r := Reader{b: b}
	q.Name = r.Name("token name")
	q.Expiry = r.U64("expiry")
	return r.Done("create token body")
}

// NameRequest carries a single name (DeletePersonalAccessToken 43).
type NameRequest struct{ Name string }

// Append appends the body.
func (q *NameRequest) Append(b []byte) []byte { return appendName(b, q.Name) }

// Decode decodes the body.
func (q *NameRequest) Decode(b []byte) error {
	r := Reader{b: b}
	q.Name = r.Name("name")
	return r.Done("name body")
}

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// EmptyBody checks that a body that must be empty is.
func EmptyBody(b []byte, what string) error {
	if len(b) != 0 {
		return &DecodeError{Field: what, Reason: fmt.Sprintf("expected an empty body, got %d bytes", len(b))}
	}
	return nil
}
