package wire

import (
	"math"
)

// AppendResultOK appends the success result section [count u32 = 0].
func AppendResultOK(b []byte) []byte { return appendU32(b, 0) }

// AppendResultError appends a committed rejection: one entry {index 0, result code}.
func AppendResultError(b []byte, code uint32) []byte {
	return appendU32(appendU32(appendU32(b, 1), 0), code)
}

// SplitResult strips the result section of a result-framed reply body. It returns the first
// non-zero entry result (0 on success) and the payload after the section.
func SplitResult(body []byte) (code uint32, payload []byte, err error) {
	r := Reader{b: body}
	n := r.U32("result count")
	if r.err == nil && uint64(n)*8 > uint64(r.Len()) {
		r.Fail("result entries", "%d entries need %d bytes, %d left", n, uint64(n)*8, r.Len())
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		r.U32("result index")
		if c := r.U32("result code"); c != 0 && code == 0 {
			code = c
		}
	}
	if r.err != nil {
		return 0, nil, r.err
	}
	return code, r.Rest(), nil
}

// LoginReply is the payload of a successful login (after the result section).
type LoginReply struct {
	UserID          uint32
	Session         uint64
	ProtocolVersion uint32
	ServerVersion   string
}

// Append appends the payload.
func (p *LoginReply) Append(b []byte) []byte {
	return appendName(appendU32(appendU64(appendU32(b, p.UserID), p.Session), p.ProtocolVersion), p.ServerVersion)
}

// Decode decodes the payload. Bytes after the server version are ignored (newer servers may add
// fields).
func (p *LoginReply) Decode(b []byte) error {
	r := Reader{b: b}
	p.UserID = r.U32("user_id")
	p.Session = r.U64("session")
	p.ProtocolVersion = r.U32("server protocol version")
	if r.Len() > 0 {
		p.ServerVersion = r.Name("server version")
	}
	return r.err
}

// Stream is a StreamResponse.
type Stream struct {
	ID            uint32
	CreatedAt     uint64
	TopicsCount   uint32
	SizeBytes     uint64
	MessagesCount uint64
	Name          string
	Options       []Header
}

func appendOptions(b []byte, opts []Header) []byte {
	return AppendHeaders(appendU32(b, uint32(HeadersLen(opts))), opts)
}

func readOptions(r *Reader, field string) []Header {
	n := r.U32(field + " length")
	raw := r.Bytes(int(min(n, math.MaxInt32)), field)
	if r.err != nil || len(raw) == 0 {
		return nil
	}
	hs, err := DecodeHeaders(raw, nil)
	if err != nil {
		r.Fail(field, "%v", err)
	}
	return hs
}

// Append appends the stream.
func (s *Stream) Append(b []byte) []byte {
	b = appendU64(appendU32(b, s.ID), s.CreatedAt)
	b = appendU64(appendU64(appendU32(b, s.TopicsCount), s.SizeBytes), s.MessagesCount)
	return appendOptions(appendName(b, s.Name), s.Options)
}

func readStream(r *Reader) Stream {
	return Stream{
		ID: r.U32("stream id"), CreatedAt: r.U64("stream created_at"), TopicsCount: r.U32("topics_count"),
		SizeBytes: r.U64("stream size_bytes"), MessagesCount: r.U64("stream messages_count"),
		Name: r.Name("stream name"), Options: readOptions(r, "stream options"),
	}
}

// Topic is a TopicHeader.
type Topic struct {
	ID              uint32
	CreatedAt       uint64
	PartitionsCount uint32
	MessageExpiry   uint64 // 0 server default, MaxUint64 never, else µs
	Compression     uint8  // 1 none, 2 gzip
	MaxTopicSize    uint64 // 0 default, MaxUint64 unlimited, else bytes
	SizeBytes       uint64
	MessagesCount   uint64
	Name            string
	Options         []Header
	DerivedOptions  []Header
}

// Append appends the topic header.
func (t *Topic) Append(b []byte) []byte {
	b = appendU32(appendU64(appendU32(b, t.ID), t.CreatedAt), t.PartitionsCount)
	b = appendU64(append(appendU64(b, t.MessageExpiry), t.Compression), t.MaxTopicSize)
	b = appendU64(appendU64(b, t.SizeBytes), t.MessagesCount)
	return appendOptions(appendOptions(appendName(b, t.Name), t.Options), t.DerivedOptions)
}

func readTopic(r *Reader) Topic {
	return Topic{
		ID: r.U32("topic id"), CreatedAt: r.U64("topic created_at"), PartitionsCount: r.U32("partitions_count"),
		MessageExpiry: r.U64("message_expiry"), Compression: r.U8("compression"), MaxTopicSize: r.U64("max_topic_size"),
		SizeBytes: r.U64("topic size_bytes"), MessagesCount: r.U64("topic messages_count"), Name: r.Name("topic name"),
		Options: readOptions(r, "topic options"), DerivedOptions: readOptions(r, "topic derived options"),
	}
}

// Partition is a PartitionResponse (40 bytes).
type Partition struct {
	ID            uint32
	CreatedAt     uint64
	SegmentsCount uint32
	CurrentOffset uint64
	SizeBytes     uint64
	MessagesCount uint64
}

// Append appends the partition.
func (p *Partition) Append(b []byte) []byte {
	b = appendU32(appendU64(appendU32(b, p.ID), p.CreatedAt), p.SegmentsCount)
	return appendU64(appendU64(appendU64(b, p.CurrentOffset), p.SizeBytes), p.MessagesCount)
}

// StreamDetails is a GetStream reply: the stream and its topic headers.
type StreamDetails struct {
	Stream
	Topics []Topic
}

// Append appends the reply.
func (s *StreamDetails) Append(b []byte) []byte {
	b = s.Stream.Append(b)
	for i := range s.Topics {
		b = s.Topics[i].Append(b)
	}
	return b
}

// DecodeStreamDetails decodes a GetStream (or CreateStream payload) reply.
func DecodeStreamDetails(b []byte) (StreamDetails, error) {
	r := Reader{b: b}
	d := StreamDetails{Stream: readStream(&r)}
	for r.err == nil && r.Len() > 0 {
		d.Topics = append(d.Topics, readTopic(&r))
	}
	return d, r.err
}

// DecodeStreams decodes a GetStreams reply.
func DecodeStreams(b []byte) ([]Stream, error) {
	r := Reader{b: b}
	var out []Stream
	for r.err == nil && r.Len() > 0 {
		out = append(out, readStream(&r))
	}
	return out, r.err
}

// TopicDetails is a GetTopic reply: the topic header and its partitions.
type TopicDetails struct {
	Topic
	Partitions []Partition
}

// Append appends the reply.
func (t *TopicDetails) Append(b []byte) []byte {
	b = t.Topic.Append(b)
	for i := range t.Partitions {
		b = t.Partitions[i].Append(b)
	}
	return b
}

// DecodeTopicDetails decodes a GetTopic (or CreateTopic payload) reply.
func DecodeTopicDetails(b []byte) (TopicDetails, error) {
	r := Reader{b: b}
	d := TopicDetails{Topic: readTopic(&r)}
	for r.err == nil && r.Len() > 0 {
		d.Partitions = append(d.Partitions, Partition{
			ID: r.U32("partition id"), CreatedAt: r.U64("partition created_at"), SegmentsCount: r.U32("segments_count"),
			CurrentOffset: r.U64("current_offset"), SizeBytes: r.U64("partition size_bytes"), MessagesCount: r.U64("partition messages_count"),
		})
	}
	return d, r.err
}

// AppendTopics appends a GetTopics reply.
func AppendTopics(b []byte, ts []Topic) []byte {
	b = appendU32(b, uint32(len(ts)))
	for i := range ts {
		b = ts[i].Append(b)
	}
	return b
}

// DecodeTopics decodes a GetTopics reply.
func DecodeTopics(b []byte) ([]Topic, error) {
	r := Reader{b: b}
	n := r.U32("topics count")
	var out []Topic
	for i := uint32(0); i < n && r.err == nil; i++ {
		out = append(out, readTopic(&r))
	}
	return out, r.Done("topics reply")
}

// SendConfirmation is one entry of a SendMessages reply.
type SendConfirmation struct {
	StreamID, TopicID, PartitionID uint32
	BaseOffset                     uint64
}

// AppendSendReply appends a SendMessages reply.
func AppendSendReply(b []byte, cs []SendConfirmation) []byte {
	b = appendU32(b, uint32(len(cs)))
	for _, c := range cs {
		b = appendU64(appendU32(appendU32(appendU32(b, c.StreamID), c.TopicID), c.PartitionID), c.BaseOffset)
	}
	return b
}

// DecodeSendReply decodes a SendMessages reply.
func DecodeSendReply(b []byte) ([]SendConfirmation, error) {
	r := Reader{b: b}
	n := r.U32("confirmations count")
	if r.err == nil && uint64(n)*20 != uint64(r.Len()) {
		r.Fail("confirmations", "%d confirmations need %d bytes, have %d", n, uint64(n)*20, r.Len())
	}
	var out []SendConfirmation
	for i := uint32(0); i < n && r.err == nil; i++ {
		out = append(out, SendConfirmation{StreamID: r.U32("stream_id"), TopicID: r.U32("topic_id"),
			PartitionID: r.U32("partition_id"), BaseOffset: r.U64("base_offset")})
	}
	return out, r.err
}

// PollReply is a decoded PollMessages reply.
type PollReply struct {
	PartitionID   uint32
	CurrentOffset uint64
	Messages      []Message
}

// AppendPollReplyHeader appends the 16-byte head of a poll reply; the records follow.
func AppendPollReplyHeader(b []byte, partitionID uint32, currentOffset uint64, count uint32) []byte {
	return appendU32(appendU64(appendU32(b, partitionID), currentOffset), count)
}

// DecodePollReply decodes a poll reply; messages are appended to dst[:0] and alias b.
func DecodePollReply(b []byte, dst []Message) (PollReply, error) {
	r := Reader{b: b}
	p := PollReply{PartitionID: r.U32("partition_id"), CurrentOffset: r.U64("current_offset")}
	hint := r.U32("messages_count")
	if r.err != nil {
		return p, r.err
	}
	var err error
	p.Messages, err = decodeRecords(r.Rest(), dst[:0], int(min(hint, 1<<16)))
	if err != nil {
		if de, ok := err.(*DecodeError); ok {
			de.Offset += 16
		}
	}
	return p, err
}

// ConsumerOffsetInfo is a GetConsumerOffset reply.
type ConsumerOffsetInfo struct {
	PartitionID   uint32
	CurrentOffset uint64
	StoredOffset  uint64
}

// Append appends the reply.
func (o *ConsumerOffsetInfo) Append(b []byte) []byte {
	return appendU64(appendU64(appendU32(b, o.PartitionID), o.CurrentOffset), o.StoredOffset)
}

// Decode decodes the reply.
func (o *ConsumerOffsetInfo) Decode(b []byte) error {
	r := Reader{b: b}
	o.PartitionID, o.CurrentOffset, o.StoredOffset = r.U32("partition_id"), r.U64("current_offset"), r.U64("stored_offset")
	return r.Done("consumer offset reply")
}

// ConsumerGroup is a consumer group header.
type ConsumerGroup struct {
	ID              uint32
	PartitionsCount uint32
	MembersCount    uint32
	Name            string
}

// Append appends the header.
func (g *ConsumerGroup) Append(b []byte) []byte {
	return appendName(appendU32(appendU32(appendU32(b, g.ID), g.PartitionsCount), g.MembersCount), g.Name)
}

func readGroup(r *Reader) ConsumerGroup {
	return ConsumerGroup{ID: r.U32("group id"), PartitionsCount: r.U32("group partitions_count"),
		MembersCount: r.U32("members_count"), Name: r.Name("group name")}
}

// GroupMember is a member entry of a GetConsumerGroup reply.
type GroupMember struct {
	ID         uint32
	Partitions []uint32
}

// ConsumerGroupDetails is a GetConsumerGroup reply.
type ConsumerGroupDetails struct {
	ConsumerGroup
	Members []GroupMember
}

// Append appends the reply.
func (g *ConsumerGroupDetails) Append(b []byte) []byte {
	b = g.ConsumerGroup.Append(b)
	for _, m := range g.Members {
		b = appendU32(appendU32(b, m.ID), uint32(len(m.Partitions)))
		for _, p := range m.Partitions {
			b = appendU32(b, p)
		}
	}
	return b
}

// DecodeGroupDetails decodes a GetConsumerGroup (or CreateConsumerGroup payload) reply.
func DecodeGroupDetails(b []byte) (ConsumerGroupDetails, error) {
	r := Reader{b: b}
	g := ConsumerGroupDetails{ConsumerGroup: readGroup(&r)}
	for i := uint32(0); i < g.MembersCount && r.err == nil; i++ {
		m := GroupMember{ID: r.U32("member id")}
		n := r.U32("member partitions_count")
		if r.err == nil && uint64(n)*4 > uint64(r.Len()) {
			r.Fail("member partitions", "%d partitions need %d bytes, %d left", n, uint64(n)*4, r.Len())
		}
		for j := uint32(0); j < n && r.err == nil; j++ {
			m.Partitions = append(m.Partitions, r.U32("member partition"))
		}
		g.Members = append(g.Members, m)
	}
	return g, r.Done("consumer group reply")
}

// DecodeGroups decodes a GetConsumerGroups reply.
func DecodeGroups(b []byte) ([]ConsumerGroup, error) {
	r := Reader{b: b}
	var out []ConsumerGroup
	for r.err == nil && r.Len() > 0 {
		out = append(out, readGroup(&r))
	}
	return out, r.err
}

// SyncReply is a SyncConsumerGroup reply: the calling member's assignment.
type SyncReply struct {
	Generation uint64
	Partitions []uint32
}

// Append appends the reply.
func (s *SyncReply) Append(b []byte) []byte {
	b = appendU32(appendU64(b, s.Generation), uint32(len(s.Partitions)))
	for _, p := range s.Partitions {
		b = appendU32(b, p)
	}
	return b
}

// Decode decodes the reply.
func (s *SyncReply) Decode(b []byte) error {
	r := Reader{b: b}
	s.Generation = r.U64("generation")
	n := r.U32("partitions count")
	if r.err == nil && uint64(n)*4 != uint64(r.Len()) {
		r.Fail("partitions", "%d partitions need %d bytes, have %d", n, uint64(n)*4, r.Len())
	}
	s.Partitions = s.Partitions[:0]
	for i := uint32(0); i < n && r.err == nil; i++ {
		s.Partitions = append(s.Partitions, r.U32("partition"))
	}
	return r.err
}

// GroupRefIDs names a group a client belongs to (GetMe).
type GroupRefIDs struct{ StreamID, TopicID, GroupID uint32 }

// ClientInfo is a GetMe reply.
type ClientInfo struct {
	ClientID  uint32
	UserID    uint32
	Transport uint8 // 1 TCP, 2 QUIC, 4 WebSocket
	Address   string
	Groups    []GroupRefIDs
}

// Append appends the reply.
func (c *ClientInfo) Append(b []byte) []byte {
	b = append(appendU32(appendU32(b, c.ClientID), c.UserID), c.Transport)
	b = appendU32(appendStr32(b, c.Address), uint32(len(c.Groups)))
	for _, g := range c.Groups {
		b = appendU32(appendU32(appendU32(b, g.StreamID), g.TopicID), g.GroupID)
	}
	return b
}

// Decode decodes the reply.
func (c *ClientInfo) Decode(b []byte) error {
	r := Reader{b: b}
	c.ClientID, c.UserID, c.Transport = r.U32("client_id"), r.U32("user_id"), r.U8("transport")
	c.Address = r.Str32("address", 1024)
	n := r.U32("groups count")
	if r.err == nil && uint64(n)*12 != uint64(r.Len()) {
		r.Fail("groups", "%d groups need %d bytes, have %d", n, uint64(n)*12, r.Len())
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		c.Groups = append(c.Groups, GroupRefIDs{r.U32("stream_id"), r.U32("topic_id"), r.U32("group_id")})
	}
	return r.err
}

// CacheMetric is one cache entry of a GetStats reply.
type CacheMetric struct {
	Stream, Topic, Partition uint32
	Hits, Misses             uint64
	HitRatio                 float32
}

// Stats is a GetStats reply.
type Stats struct {
	ProcessID           uint32
	CPUUsage            float32
	TotalCPUUsage       float32
	MemoryUsage         uint64
	TotalMemory         uint64
	AvailableMemory     uint64
	RunTime             uint64
	StartTime           uint64
	ReadBytes           uint64
	WrittenBytes        uint64
	MessagesSizeBytes   uint64
	StreamsCount        uint32
	TopicsCount         uint32
	PartitionsCount     uint32
	SegmentsCount       uint32
	MessagesCount       uint64
	ClientsCount        uint32
	ConsumerGroupsCount uint32
	Hostname            string
	OSName              string
	OSVersion           string
	KernelVersion       string
	ServerVersion       string
	ServerSemver        uint32
	CacheMetrics        []CacheMetric
	ThreadsCount        uint32
	FreeDiskSpace       uint64
	TotalDiskSpace      uint64
}

// Append appends the reply.
func (s *Stats) Append(b []byte) []byte {
	b = appendU32(b, s.ProcessID)
	b = appendU32(b, math.Float32bits(s.CPUUsage))
	b = appendU32(b, math.Float32bits(s.TotalCPUUsage))
	for _, v := range []uint64{s.MemoryUsage, s.TotalMemory, s.AvailableMemory, s.RunTime, s.StartTime, s.ReadBytes, s.WrittenBytes, s.MessagesSizeBytes} {
		b = appendU64(b, v)
	}
	b = appendU32(appendU32(appendU32(appendU32(b, s.StreamsCount), s.TopicsCount), s.PartitionsCount), s.SegmentsCount)
	b = appendU32(appendU32(appendU64(b, s.MessagesCount), s.ClientsCount), s.ConsumerGroupsCount)
	for _, v := range []string{s.Hostname, s.OSName, s.OSVersion, s.KernelVersion, s.ServerVersion} {
		b = appendStr32(b, v)
	}
	b = appendU32(appendU32(b, s.ServerSemver), uint32(len(s.CacheMetrics)))
	for _, c := range s.CacheMetrics {
		b = appendU64(appendU64(appendU32(appendU32(appendU32(b, c.Stream), c.Topic), c.Partition), c.Hits), c.Misses)
		b = appendU32(b, math.Float32bits(c.HitRatio))
	}
	return appendU64(appendU64(appendU32(b, s.ThreadsCount), s.FreeDiskSpace), s.TotalDiskSpace)
}

// Decode decodes the reply. Trailing fields added by newer servers are ignored; fields missing
// at the end (older servers) stay zero.
func (s *Stats) Decode(b []byte) error {
	r := Reader{b: b}
	s.ProcessID = r.U32("process_id")
	s.CPUUsage = math.Float32frombits(r.U32("cpu_usage"))
	s.TotalCPUUsage = math.Float32frombits(r.U32("total_cpu_usage"))
	s.MemoryUsage, s.TotalMemory, s.AvailableMemory = r.U64("memory_usage"), r.U64("total_memory"), r.U64("available_memory")
	s.RunTime, s.StartTime = r.U64("run_time"), r.U64("start_time")
	s.ReadBytes, s.WrittenBytes, s.MessagesSizeBytes = r.U64("read_bytes"), r.U64("written_bytes"), r.U64("messages_size_bytes")
	s.StreamsCount, s.TopicsCount, s.PartitionsCount, s.SegmentsCount = r.U32("streams_count"), r.U32("topics_count"), r.U32("partitions_count"), r.U32("segments_count")
	s.MessagesCount, s.ClientsCount, s.ConsumerGroupsCount = r.U64("messages_count"), r.U32("clients_count"), r.U32("consumer_groups_count")
	s.Hostname, s.OSName, s.OSVersion = r.Str32("hostname", 1<<16), r.Str32("os_name", 1<<16), r.Str32("os_version", 1<<16)
	s.KernelVersion, s.ServerVersion = r.Str32("kernel_version", 1<<16), r.Str32("server_version", 1<<16)
	if r.err != nil || r.Len() == 0 {
		return r.err
	}
	s.ServerSemver = r.U32("server_semver")
	n := r.U32("cache_metrics count")
	if r.err == nil && uint64(n)*40 > uint64(r.Len()) {
		r.Fail("cache metrics", "%d entries need %d bytes, %d left", n, uint64(n)*40, r.Len())
	}
	for i := uint32(0); i < n && r.err == nil; i++ {
		s.CacheMetrics = append(s.CacheMetrics, CacheMetric{Stream: r.U32("stream"), Topic: r.U32("topic"), Partition: r.U32("partition"),
			Hits: r.U64("hits"), Misses: r.U64("misses"), HitRatio: math.Float32frombits(r.U32("hit_ratio"))})
	}
	if r.err != nil || r.Len() == 0 {
		return r.err
	}
	s.ThreadsCount, s.FreeDiskSpace, s.TotalDiskSpace = r.U32("threads_count"), r.U64("free_disk_space"), r.U64("total_disk_space")
	return r.err
}

// RawToken is a CreatePersonalAccessToken reply: the token, shown once.
type RawToken struct{ Token string }

// Append appends the reply.
func (t *RawToken) Append(b []byte) []byte { return appendName(b, t.Token) }

// Decode decodes the reply.
func (t *RawToken) Decode(b []byte) error {
	r := Reader{b: b}
	t.Token = r.Name("token")
	return r.Done("token reply")
}

// PATInfo is one entry of a GetPersonalAccessTokens reply.
type PATInfo struct {
	Name     string
	ExpiryAt uint64 // µs since epoch; 0 = never
}

// AppendPATs appends a GetPersonalAccessTokens reply.
func AppendPATs(b []byte, ts []PATInfo) []byte {
	for _, t := range ts {
		b = appendU64(appendName(b, t.Name), t.ExpiryAt)
	}
	return b
}

// DecodePATs decodes a GetPersonalAccessTokens reply.
func DecodePATs(b []byte) ([]PATInfo, error) {
	r := Reader{b: b}
	var out []PATInfo
	for r.err == nil && r.Len() > 0 {
		out = append(out, PATInfo{Name: r.Name("token name"), ExpiryAt: r.U64("token expiry")})
	}
	return out, r.err
}

// ClusterNode is one node of a GetClusterMetadata reply. Role 0 is leader, 1 follower; status 0
// is healthy.
type ClusterNode struct {
	Name, IP                   string
	TCP, QUIC, HTTP, WebSocket uint16
	Role, Status               uint8
}

// ClusterMetadata is a GetClusterMetadata reply.
type ClusterMetadata struct {
	Name  string
	Nodes []ClusterNode
}

// Append appends the reply.
func (m *ClusterMetadata) Append(b []byte) []byte {
	b = appendU32(appendStr32(b, m.Name), uint32(len(m.Nodes)))
	for _, n := range m.Nodes {
		b = appendStr32(appendStr32(b, n.Name), n.IP)
		b = appendU16(appendU16(appendU16(appendU16(b, n.TCP), n.QUIC), n.HTTP), n.WebSocket)
		b = append(b, n.Role, n.Status)
	}
	return b
}

// Decode decodes the reply.
func (m *ClusterMetadata) Decode(b []byte) error {
	r := Reader{b: b}
	m.Name = r.Str32("cluster name", 1<<16)
	n := r.U32("nodes count")
	for i := uint32(0); i < n && r.err == nil; i++ {
		m.Nodes = append(m.Nodes, ClusterNode{Name: r.Str32("node name", 1<<16), IP: r.Str32("node ip", 1<<16),
			TCP: r.U16("tcp port"), QUIC: r.U16("quic port"), HTTP: r.U16("http port"), WebSocket: r.U16("websocket port"),
			Role: r.U8("role"), Status: r.U8("status")})
	}
	return r.Done("cluster metadata reply")
}
