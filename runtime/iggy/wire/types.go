package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Identifier kinds.
const (
	IDNumeric uint8 = 1
	IDString  uint8 = 2
)

// Identifier names a stream, topic, consumer group, user or consumer: a u32 id or a name.
// The zero value is invalid.
type Identifier struct {
	Kind uint8 // IDNumeric or IDString
	Num  uint32
	Str  string
}

// NumericID returns an identifier for id.
func NumericID(id uint32) Identifier { return Identifier{Kind: IDNumeric, Num: id} }

// NamedID returns an identifier for name.
func NamedID(name string) Identifier { return Identifier{Kind: IDString, Str: name} }

func (id Identifier) String() string {
	switch id.Kind {
	case IDNumeric:
		return strconv.FormatUint(uint64(id.Num), 10)
	case IDString:
		return strconv.Quote(id.Str)
	}
	return fmt.Sprintf("<invalid identifier kind %d>", id.Kind)
}

// Validate checks the kind and the name length.
func (id Identifier) Validate() error {
	switch id.Kind {
	case IDNumeric:
		return nil
	case IDString:
		return ValidName("identifier", id.Str)
	}
	return fmt.Errorf("iggy wire: identifier kind %d is neither numeric (1) nor string (2)", id.Kind)
}

// AppendIdentifier appends [kind][len][value].
func AppendIdentifier(b []byte, id Identifier) []byte {
	if id.Kind == IDNumeric {
		b = append(b, IDNumeric, 4)
		return appendU32(b, id.Num)
	}
	b = append(b, IDString, byte(len(id.Str)))
	return append(b, id.Str...)
}

// ReadIdentifier decodes an identifier.
func ReadIdentifier(r *Reader, field string) Identifier {
	kind := r.U8(field + " kind")
	n := int(r.U8(field + " length"))
	if r.err != nil {
		return Identifier{}
	}
	switch kind {
	case IDNumeric:
		if n != 4 {
			r.Fail(field, "numeric identifier length %d, want 4", n)
			return Identifier{}
		}
		return NumericID(r.U32(field))
	case IDString:
		if n == 0 {
			r.Fail(field, "empty string identifier")
			return Identifier{}
		}
		v := r.Bytes(n, field)
		if r.err == nil && !utf8.Valid(v) {
			r.Fail(field, "string identifier is not valid UTF-8")
		}
		return NamedID(string(v))
	}
	r.Fail(field, "unknown identifier kind %d", kind)
	return Identifier{}
}

// Consumer kinds.
const (
	ConsumerKindSingle uint8 = 1
	ConsumerKindGroup  uint8 = 2
)

// Consumer is who polls and owns stored offsets: a plain consumer or a consumer group.
type Consumer struct {
	Kind uint8 // ConsumerKindSingle or ConsumerKindGroup
	ID   Identifier
}

// AppendConsumer appends [kind][identifier].
func AppendConsumer(b []byte, c Consumer) []byte {
	return AppendIdentifier(append(b, c.Kind), c.ID)
}

// ReadConsumer decodes a consumer.
func ReadConsumer(r *Reader) Consumer {
	kind := r.U8("consumer kind")
	if r.err == nil && kind != ConsumerKindSingle && kind != ConsumerKindGroup {
		r.Fail("consumer kind", "unknown consumer kind %d", kind)
	}
	return Consumer{Kind: kind, ID: ReadIdentifier(r, "consumer id")}
}

// ConsumerKey returns the u32 a consumer's offsets are stored under: the numeric id, or XXH32
// (seed 0) of a string id.
func ConsumerKey(id Identifier) uint32 {
	if id.Kind == IDNumeric {
		return id.Num
	}
	return XXH32([]byte(id.Str), 0)
}

// Partitioning kinds.
const (
	PartitionBalanced     uint8 = 1
	PartitionByID         uint8 = 2
	PartitionByMessageKey uint8 = 3
)

// Partitioning tells the server which partition a send goes to.
type Partitioning struct {
	Kind        uint8
	PartitionID uint32 // PartitionByID
	Key         []byte // PartitionByMessageKey, 1..255 bytes
}

// Balanced lets the server pick partitions round-robin.
func Balanced() Partitioning { return Partitioning{Kind: PartitionBalanced} }

// PartitionID sends to one partition.
func PartitionID(id uint32) Partitioning { return Partitioning{Kind: PartitionByID, PartitionID: id} }

// MessagesKey sends to XXH32(key) % partitions.
func MessagesKey(key []byte) Partitioning { return Partitioning{Kind: PartitionByMessageKey, Key: key} }

// Validate checks kind and key length.
func (p Partitioning) Validate() error {
	switch p.Kind {
	case PartitionBalanced, PartitionByID:
		return nil
	case PartitionByMessageKey:
		if len(p.Key) == 0 || len(p.Key) > 255 {
			return fmt.Errorf("iggy wire: messages key must be 1..255 bytes, got %d", len(p.Key))
		}
		return nil
	}
	return fmt.Errorf("iggy wire: unknown partitioning kind %d", p.Kind)
}

func (p Partitioning) encodedLen() int {
	switch p.Kind {
	case PartitionByID:
		return 6
	case PartitionByMessageKey:
		return 2 + len(p.Key)
	}
	return 2
}

// AppendPartitioning appends [kind][len][value].
func AppendPartitioning(b []byte, p Partitioning) []byte {
	switch p.Kind {
	case PartitionByID:
		return appendU32(append(b, PartitionByID, 4), p.PartitionID)
	case PartitionByMessageKey:
		return append(append(b, PartitionByMessageKey, byte(len(p.Key))), p.Key...)
	}
	return append(b, p.Kind, 0)
}

// ReadPartitioning decodes a partitioning.
func ReadPartitioning(r *Reader) Partitioning {
	kind := r.U8("partitioning kind")
	n := int(r.U8("partitioning length"))
	if r.err != nil {
		return Partitioning{}
	}
	switch kind {
	case PartitionBalanced:
		if n != 0 {
			r.Fail("partitioning", "balanced partitioning with %d value bytes", n)
		}
		return Balanced()
	case PartitionByID:
		if n != 4 {
			r.Fail("partitioning", "partition id length %d, want 4", n)
			return Partitioning{}
		}
		return PartitionID(r.U32("partition id"))
	case PartitionByMessageKey:
		if n == 0 {
			r.Fail("partitioning", "empty messages key")
			return Partitioning{}
		}
		return MessagesKey(r.Bytes(n, "messages key"))
	}
	r.Fail("partitioning kind", "unknown partitioning kind %d", kind)
	return Partitioning{}
}

// Polling strategy kinds.
const (
	PollOffset    uint8 = 1
	PollTimestamp uint8 = 2
	PollFirst     uint8 = 3
	PollLast      uint8 = 4
	PollNext      uint8 = 5
)

// PollingStrategy says where a poll starts.
type PollingStrategy struct {
	Kind  uint8
	Value uint64 // offset (PollOffset) or microseconds (PollTimestamp)
}

// Strategy constructors.
func StrategyOffset(o uint64) PollingStrategy { return PollingStrategy{Kind: PollOffset, Value: o} }
func StrategyTimestamp(us uint64) PollingStrategy {
	return PollingStrategy{Kind: PollTimestamp, Value: us}
}
func StrategyFirst() PollingStrategy { return PollingStrategy{Kind: PollFirst} }
func StrategyLast() PollingStrategy  { return PollingStrategy{Kind: PollLast} }
func StrategyNext() PollingStrategy  { return PollingStrategy{Kind: PollNext} }

func appendStrategy(b []byte, s PollingStrategy) []byte { return appendU64(append(b, s.Kind), s.Value) }

func readStrategy(r *Reader) PollingStrategy {
	s := PollingStrategy{Kind: r.U8("polling strategy kind"), Value: r.U64("polling strategy value")}
	if r.err == nil && (s.Kind < PollOffset || s.Kind > PollNext) {
		r.Fail("polling strategy kind", "unknown polling strategy %d", s.Kind)
	}
	return s
}

// OptPartition is an optional partition id ([flag u8][u32] on the wire).
type OptPartition struct {
	Set bool
	ID  uint32
}

// Part returns a present optional partition.
func Part(id uint32) OptPartition { return OptPartition{Set: true, ID: id} }

func appendOptPartition(b []byte, p OptPartition) []byte {
	return appendU32(appendBool(b, p.Set), p.ID)
}

func readOptPartition(r *Reader) OptPartition {
	flag := r.U8("partition flag")
	id := r.U32("partition id")
	if r.err == nil && flag > 1 {
		r.Fail("partition flag", "flag %d is neither 0 nor 1", flag)
	}
	return OptPartition{Set: flag == 1, ID: id}
}

// Header (and option) value kinds.
const (
	KindRaw     uint8 = 1
	KindString  uint8 = 2
	KindBool    uint8 = 3
	KindInt8    uint8 = 4
	KindInt16   uint8 = 5
	KindInt32   uint8 = 6
	KindInt64   uint8 = 7
	KindInt128  uint8 = 8
	KindUint8   uint8 = 9
	KindUint16  uint8 = 10
	KindUint32  uint8 = 11
	KindUint64  uint8 = 12
	KindUint128 uint8 = 13
	KindFloat32 uint8 = 14
	KindFloat64 uint8 = 15
)

// kindSize returns the fixed size of a numeric kind, 0 for variable kinds (Raw, String), -1 for
// invalid kinds.
func kindSize(k uint8) int {
	switch k {
	case KindRaw, KindString:
		return 0
	case KindBool, KindInt8, KindUint8:
		return 1
	case KindInt16, KindUint16:
		return 2
	case KindInt32, KindUint32, KindFloat32:
		return 4
	case KindInt64, KindUint64, KindFloat64:
		return 8
	case KindInt128, KindUint128:
		return 16
	}
	return -1
}

// Header is one typed key/value pair: a message user header or a topic option. Key and Value
// hold the encoded bytes (numbers little-endian). Decoded headers alias the input buffer.
type Header struct {
	KeyKind   uint8
	Key       []byte
	ValueKind uint8
	Value     []byte
}

// StringHeader returns a header with string key and value.
func StringHeader(k, v string) Header {
	return Header{KeyKind: KindString, Key: []byte(k), ValueKind: KindString, Value: []byte(v)}
}

// Uint64Header returns a header with a string key and a u64 value.
func Uint64Header(k string, v uint64) Header {
	return Header{KeyKind: KindString, Key: []byte(k), ValueKind: KindUint64, Value: binary.LittleEndian.AppendUint64(nil, v)}
}

// Float64Header returns a header with a string key and an f64 value.
func Float64Header(k string, v float64) Header {
	return Header{KeyKind: KindString, Key: []byte(k), ValueKind: KindFloat64, Value: binary.LittleEndian.AppendUint64(nil, math.Float64bits(v))}
}

func validKV(kind uint8, v []byte, what string) error {
	sz := kindSize(kind)
	if sz < 0 {
		return fmt.Errorf("iggy wire: %s kind %d is not 1..15", what, kind)
	}
	if len(v) == 0 || len(v) > 255 {
		return fmt.Errorf("iggy wire: %s must be 1..255 bytes, got %d", what, len(v))
	}
	if sz > 0 && len(v) != sz {
		return fmt.Errorf("iggy wire: %s of kind %d must be %d bytes, got %d", what, kind, sz, len(v))
	}
	if kind == KindBool && v[0] > 1 {
		return fmt.Errorf("iggy wire: %s bool byte %d is neither 0 nor 1", what, v[0])
	}
	if kind == KindString && !utf8.Valid(v) {
		return fmt.Errorf("iggy wire: %s string is not valid UTF-8", what)
	}
	return nil
}

// Validate checks kinds and lengths of a header.
func (h Header) Validate() error {
	if err := validKV(h.KeyKind, h.Key, "header key"); err != nil {
		return err
	}
	return validKV(h.ValueKind, h.Value, "header value")
}

// HeadersLen returns the encoded size of hs.
func HeadersLen(hs []Header) int {
	n := 0
	for i := range hs {
		n += 10 + len(hs[i].Key) + len(hs[i].Value)
	}
	return n
}

// AppendHeaders appends the key/value TLV of hs.
func AppendHeaders(b []byte, hs []Header) []byte {
	for i := range hs {
		h := &hs[i]
		b = appendU32(append(b, h.KeyKind), uint32(len(h.Key)))
		b = append(b, h.Key...)
		b = appendU32(append(b, h.ValueKind), uint32(len(h.Value)))
		b = append(b, h.Value...)
	}
	return b
}

// DecodeHeaders decodes a complete key/value TLV (no trailing bytes). dst is reused; the keys and
// values alias b.
func DecodeHeaders(b []byte, dst []Header) ([]Header, error) {
	r := Reader{b: b}
	dst = dst[:0]
	for r.Len() > 0 && r.err == nil {
		var h Header
		h.KeyKind = r.U8("header key kind")
		kl := r.U32("header key length")
		if r.err == nil && (kl == 0 || kl > 255) {
			r.Fail("header key length", "length %d not in 1..255", kl)
		}
		h.Key = r.Bytes(int(kl), "header key")
		h.ValueKind = r.U8("header value kind")
		vl := r.U32("header value length")
		if r.err == nil && (vl == 0 || vl > 255) {
			r.Fail("header value length", "length %d not in 1..255", vl)
		}
		h.Value = r.Bytes(int(vl), "header value")
		if r.err != nil {
			break
		}
		if err := h.Validate(); err != nil {
			return dst, &DecodeError{Field: "header", Offset: r.off, Reason: err.Error()}
		}
		dst = append(dst, h)
	}
	return dst, r.err
}

// Option keys the server understands for topics.
var TopicOptionKeys = map[string]bool{
	"compression_algorithm": true, "message_expiry": true, "max_topic_size": true, "segment_size": true,
	"enforce_fsync": true, "messages_required_to_save": true, "size_of_messages_required_to_save": true,
	"preallocate_segments": true,
	// Sent by the official 0.9.0 client (apache-iggy wheel) on every create_topic; not in the spec.
	"durability": true, "consumer_offset_durability": true,
}

// OptionalTopicOptionKeys are topic option keys outside the real server's option catalog
// (apache/iggy 0.9.0-edge.5 knows only the other TopicOptionKeys and answers 4041
// UnsupportedOptionKey to these): a client may drop them and retry when a server refuses an
// option key.
var OptionalTopicOptionKeys = map[string]bool{"durability": true, "consumer_offset_durability": true}
