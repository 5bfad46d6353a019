package abi

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"
	"unsafe"
)

// ABI 1.1: sink batches by reference (iggy_connector.h §6). Instead of one CBOR SinkBatch holding a
// copy of every payload, iggy_sink_consume_ref receives a SinkBatchRef: a fixed-layout descriptor
// with one MessageRef per message whose payload (and header) pointers point into the runtime's own
// memory (the Iggy reply buffer), valid only for the duration of the call. Neither side copies or
// walks the payload bytes; the plugin touches only the payloads it reads.
//
// The Go structs below have exactly the C layout of IggySinkBatchRef and IggyMessageRef on every
// platform Go supports (uintptr is size_t; unsafe.Pointer is a C pointer), so the runtime passes a
// *SinkBatchRef to C and the Go SDK reads one from C without conversion.

// SinkBatchRef mirrors IggySinkBatchRef.
type SinkBatchRef struct {
	Size          uint32         // sizeof(IggySinkBatchRef) as written by the runtime
	PartitionID   uint32         //
	CurrentOffset uint64         //
	Stream        unsafe.Pointer // UTF-8, not NUL-terminated
	StreamLen     uintptr        //
	Topic         unsafe.Pointer //
	TopicLen      uintptr        //
	Schema        unsafe.Pointer //
	SchemaLen     uintptr        //
	Messages      unsafe.Pointer // MessagesLen entries, MessageSize bytes apart
	MessagesLen   uintptr        //
	MessageSize   uintptr        // sizeof(IggyMessageRef) as written by the runtime
}

// MessageRef mirrors IggyMessageRef.
type MessageRef struct {
	ID              ID             // u128 big-endian
	Offset          uint64         //
	Checksum        uint64         //
	Timestamp       uint64         //
	OriginTimestamp uint64         //
	Headers         unsafe.Pointer // the CBOR [Header] array of ABI 1.0, NULL / 0 when none
	HeadersLen      uintptr        //
	Payload         unsafe.Pointer //
	PayloadLen      uintptr        //
}

// Sizes of the 1.1 records on this platform (88 and 80 bytes on 64-bit platforms).
const (
	SinkBatchRefSize = uint32(unsafe.Sizeof(SinkBatchRef{}))
	MessageRefSize   = uintptr(unsafe.Sizeof(MessageRef{}))
)

// SinkBatchRefBuilder builds the SinkBatchRef of a SinkBatch in memory it reuses from one Build to
// the next (the runtime side of iggy_sink_consume_ref). The zero value is ready to use; it is not
// safe for concurrent use.
//
// The descriptors point into b's memory (payloads, strings) and into the builder's own header
// buffer; all of it is Go heap (or static) memory, which Go's collector never moves. The caller must
// keep b and the builder reachable until the C call returns (runtime.KeepAlive) and must not modify
// b meanwhile. The builder keeps b's payloads reachable until the next Build or Reset.
type SinkBatchRefBuilder struct {
	ref  SinkBatchRef
	msgs []MessageRef
	hdrs []byte // CBOR header arrays of the messages that have headers
}

// Build fills the descriptor for b and returns it.
func (bl *SinkBatchRefBuilder) Build(b *SinkBatch) *SinkBatchRef {
	n := len(b.Messages)
	if cap(bl.msgs) < n {
		bl.msgs = make([]MessageRef, n)
	} else {
		old := len(bl.msgs)
		bl.msgs = bl.msgs[:n]
		if old > n {
			clear(bl.msgs[n:old:old]) // drop references to an earlier, larger batch
		}
	}
	// The header arrays are encoded into hdrs in the same pass that fills the descriptors; hdrs is
	// first sized for all of them (need is an upper bound), so it does not move. (Were it to move,
	// the descriptors written before would still be right: they keep the old array alive.)
	need := 0
	for i := range b.Messages {
		if hs := b.Messages[i].Headers; len(hs) > 0 {
			need += 9
			for j := range hs {
				need += 23 + len(hs[j].Key) + len(hs[j].Value) // 0x84, two kinds, two length heads
			}
		}
	}
	if cap(bl.hdrs) < need {
		bl.hdrs = make([]byte, 0, need)
	}
	bl.hdrs = bl.hdrs[:0]
	for i := range b.Messages {
		m, r := &b.Messages[i], &bl.msgs[i]
		r.ID, r.Offset, r.Checksum, r.Timestamp, r.OriginTimestamp = m.ID, m.Offset, m.Checksum, m.Timestamp, m.OriginTimestamp
		r.Payload, r.PayloadLen = unsafe.Pointer(unsafe.SliceData(m.Payload)), uintptr(len(m.Payload))
		r.Headers, r.HeadersLen = nil, 0
		if len(m.Headers) > 0 {
			start := len(bl.hdrs)
			bl.hdrs = appendHeaders(bl.hdrs, m.Headers)
			r.Headers, r.HeadersLen = unsafe.Pointer(&bl.hdrs[start]), uintptr(len(bl.hdrs)-start)
		}
	}
	bl.ref = SinkBatchRef{
		Size: SinkBatchRefSize, PartitionID: b.PartitionID, CurrentOffset: b.CurrentOffset,
		Stream: unsafe.Pointer(unsafe.StringData(b.Stream)), StreamLen: uintptr(len(b.Stream)),
		Topic: unsafe.Pointer(unsafe.StringData(b.Topic)), TopicLen: uintptr(len(b.Topic)),
		Schema: unsafe.Pointer(unsafe.StringData(string(b.Schema))), SchemaLen: uintptr(len(b.Schema)),
		Messages: unsafe.Pointer(unsafe.SliceData(bl.msgs)), MessagesLen: uintptr(n), MessageSize: MessageRefSize,
	}
	return &bl.ref
}

// Reset drops every reference to the last batch.
func (bl *SinkBatchRefBuilder) Reset() {
	clear(bl.msgs)
	bl.msgs = bl.msgs[:0]
	bl.ref = SinkBatchRef{}
}

var noBytes = []byte{}

// view returns the n bytes at p (nil for n == 0); p must be valid for n bytes.
func view(p unsafe.Pointer, n uintptr) []byte {
	if n == 0 || p == nil {
		return nil
	}
	return unsafe.Slice((*byte)(p), n)
}

// DecodeRef turns a SinkBatchRef (the plugin side of iggy_sink_consume_ref) into a SinkBatch. With
// borrow, payloads and header bytes alias the referenced memory, which is valid only during the
// call (the sdk.BatchBorrower contract), and the result lives in memory reused by the next Decode or
// DecodeRef. Without borrow, every byte is copied into fresh memory (one allocation for the
// payloads) and the result may be kept. A malformed descriptor (NULL pointer with a length, a size
// smaller than 1.1's, invalid UTF-8, undecodable headers) is an error naming the field.
func (dec *SinkBatchDecoder) DecodeRef(r *SinkBatchRef, borrow bool) (*SinkBatch, error) {
	if r == nil {
		return nil, fmt.Errorf("decode SinkBatchRef: NULL batch")
	}
	if r.Size < SinkBatchRefSize {
		return nil, fmt.Errorf("decode SinkBatchRef: size %d is smaller than ABI 1.1's %d", r.Size, SinkBatchRefSize)
	}
	if r.MessagesLen > 0 && (r.Messages == nil || r.MessageSize < MessageRefSize) {
		return nil, fmt.Errorf("decode SinkBatchRef: messages: %d messages at %p with stride %d (want a pointer and stride >= %d)",
			r.MessagesLen, r.Messages, r.MessageSize, MessageRefSize)
	}
	if r.MessagesLen > math.MaxInt32 {
		return nil, fmt.Errorf("decode SinkBatchRef: messages_len %d is too large", r.MessagesLen)
	}
	b := SinkBatch{PartitionID: r.PartitionID, CurrentOffset: r.CurrentOffset}
	prev := dec.batch
	var err error
	if b.Stream, err = refText("stream", r.Stream, r.StreamLen, prev.Stream); err != nil {
		return nil, err
	}
	if b.Topic, err = refText("topic", r.Topic, r.TopicLen, prev.Topic); err != nil {
		return nil, err
	}
	s, err := refText("schema", r.Schema, r.SchemaLen, string(prev.Schema))
	if err != nil {
		return nil, err
	}
	b.Schema = Schema(s)
	n := int(r.MessagesLen)
	d := fastDecoder{}
	var msgs []Message
	var slab []byte
	if borrow {
		if cap(dec.msgs) < n {
			dec.msgs = make([]Message, n)
		}
		msgs = dec.msgs[:n]
		d.hslab = dec.hslab[:0]
	} else {
		msgs = make([]Message, n)
		var total uintptr
		for i := range n {
			mr := (*MessageRef)(unsafe.Add(r.Messages, uintptr(i)*r.MessageSize))
			total += mr.PayloadLen + mr.HeadersLen
			if mr.PayloadLen > math.MaxInt32 || mr.HeadersLen > math.MaxInt32 || total > math.MaxInt/2 {
				return nil, fmt.Errorf("decode SinkBatchRef: messages[%d]: lengths %d/%d are too large", i, mr.PayloadLen, mr.HeadersLen)
			}
		}
		slab = make([]byte, 0, total)
	}
	for i := range n {
		mr := (*MessageRef)(unsafe.Add(r.Messages, uintptr(i)*r.MessageSize))
		m := &msgs[i]
		m.ID, m.Offset, m.Checksum, m.Timestamp, m.OriginTimestamp = mr.ID, mr.Offset, mr.Checksum, mr.Timestamp, mr.OriginTimestamp
		if mr.PayloadLen > 0 && mr.Payload == nil {
			return nil, fmt.Errorf("decode SinkBatchRef: messages[%d].payload: NULL with length %d", i, mr.PayloadLen)
		}
		if mr.HeadersLen > 0 && mr.Headers == nil {
			return nil, fmt.Errorf("decode SinkBatchRef: messages[%d].headers: NULL with length %d", i, mr.HeadersLen)
		}
		p, h := view(mr.Payload, mr.PayloadLen), view(mr.Headers, mr.HeadersLen)
		if !borrow {
			if p != nil {
				slab = append(slab, p...)
				p = slab[len(slab)-len(p) : len(slab) : len(slab)]
			}
			if h != nil {
				slab = append(slab, h...)
				h = slab[len(slab)-len(h) : len(slab) : len(slab)]
			}
		}
		if p == nil {
			p = noBytes // as the CBOR decoder gives for an empty byte string
		}
		m.Payload, m.Headers = p, nil
		if len(h) > 0 {
			d.buf, d.off = h, 0
			hs, ok := d.headers()
			if !ok || d.off != len(h) {
				hs = nil
				if err := Unmarshal(h, &hs); err != nil {
					return nil, fmt.Errorf("decode SinkBatchRef: messages[%d].headers: %w", i, err)
				}
			}
			m.Headers = hs
		}
	}
	if msgs == nil {
		msgs = []Message{} // as the CBOR decoder gives for an empty array
	}
	b.Messages = msgs
	if borrow {
		if cap(d.hslab) > cap(dec.hslab) {
			dec.hslab = d.hslab[:0]
		}
		dec.batch = b
		return &dec.batch, nil
	}
	return &b, nil
}

// refText reads a text field of a SinkBatchRef, reusing prev (no allocation) when equal.
func refText(field string, p unsafe.Pointer, n uintptr, prev string) (string, error) {
	if n > 0 && p == nil {
		return "", fmt.Errorf("decode SinkBatchRef: %s: NULL with length %d", field, n)
	}
	b := view(p, n)
	if string(b) == prev {
		return prev, nil
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("decode SinkBatchRef: %s: invalid UTF-8", field)
	}
	return string(b), nil
}

// Batch images. An image is a SinkBatchRef laid out in one byte buffer of a 64-bit little-endian
// platform: the 88-byte IggySinkBatchRef at offset 0, the 80-byte IggyMessageRefs after it, then the
// bytes (stream, topic, schema, then each message's headers and payload), every pointer written as
// its offset from the start of the image (0 = NULL). It is the golden vector sink_batch_ref.bin
// (iggy_connector.h §6) and the form in which the process transport hands a batch to a plugin-host
// child through shared memory: the child turns it back into real descriptors (ImageRef) by walking
// only the descriptor array, never the payloads.

const (
	imageBatchSize = 88
	imageMsgSize   = 80
)

// AppendSinkBatchImage appends the image of b to dst. Offsets are relative to len(dst) at the call,
// so the image must be read from there.
func AppendSinkBatchImage(dst []byte, b *SinkBatch) []byte {
	base := len(dst)
	need := imageBatchSize + imageMsgSize*len(b.Messages) + len(b.Stream) + len(b.Topic) + len(b.Schema)
	for i := range b.Messages {
		need += len(b.Messages[i].Payload)
		for _, h := range b.Messages[i].Headers {
			need += 24 + len(h.Key) + len(h.Value)
		}
	}
	dst = grow(dst, need)
	dst = dst[:base+imageBatchSize+imageMsgSize*len(b.Messages)]
	img := dst[base:]
	clear(img)
	le := binary.LittleEndian
	le.PutUint32(img[0:], imageBatchSize)
	le.PutUint32(img[4:], b.PartitionID)
	le.PutUint64(img[8:], b.CurrentOffset)
	put := func(at int, p string) {
		if len(p) > 0 {
			le.PutUint64(dst[base+at:], uint64(len(dst)-base))
			le.PutUint64(dst[base+at+8:], uint64(len(p)))
			dst = append(dst, p...)
		}
	}
	put(16, b.Stream)
	put(32, b.Topic)
	put(48, string(b.Schema))
	if len(b.Messages) > 0 {
		le.PutUint64(dst[base+64:], imageBatchSize)
	}
	le.PutUint64(dst[base+72:], uint64(len(b.Messages)))
	le.PutUint64(dst[base+80:], imageMsgSize)
	for i := range b.Messages {
		m := &b.Messages[i]
		at := base + imageBatchSize + imageMsgSize*i
		copy(dst[at:], m.ID[:])
		le.PutUint64(dst[at+16:], m.Offset)
		le.PutUint64(dst[at+24:], m.Checksum)
		le.PutUint64(dst[at+32:], m.Timestamp)
		le.PutUint64(dst[at+40:], m.OriginTimestamp)
		if len(m.Headers) > 0 {
			start := len(dst)
			dst = appendHeaders(dst, m.Headers)
			le.PutUint64(dst[at+48:], uint64(start-base))
			le.PutUint64(dst[at+56:], uint64(len(dst)-start))
		}
		if len(m.Payload) > 0 {
			le.PutUint64(dst[at+64:], uint64(len(dst)-base))
			le.PutUint64(dst[at+72:], uint64(len(m.Payload)))
			dst = append(dst, m.Payload...)
		}
	}
	return dst
}

// ImageRef turns an image (AppendSinkBatchImage) into real descriptors pointing into img, in memory
// the builder reuses. Every offset and length is checked against img; a bad one is an error naming
// the field. img must stay unchanged and reachable while the descriptors are used.
func (bl *SinkBatchRefBuilder) ImageRef(img []byte) (*SinkBatchRef, error) {
	le := binary.LittleEndian
	if len(img) < imageBatchSize {
		return nil, fmt.Errorf("batch image: %d bytes, shorter than its header", len(img))
	}
	if le.Uint32(img) != imageBatchSize || le.Uint64(img[80:]) != imageMsgSize {
		return nil, fmt.Errorf("batch image: sizes %d/%d, want %d/%d", le.Uint32(img), le.Uint64(img[80:]), imageBatchSize, imageMsgSize)
	}
	span := func(at int, field string, i int) (unsafe.Pointer, uintptr, error) {
		off, n := le.Uint64(img[at:]), le.Uint64(img[at+8:])
		if n == 0 {
			return nil, 0, nil
		}
		if off == 0 || off > uint64(len(img)) || n > uint64(len(img))-off {
			if i >= 0 {
				field = fmt.Sprintf("messages[%d].%s", i, field)
			}
			return nil, 0, fmt.Errorf("batch image: %s: %d bytes at %d outside the image of %d bytes", field, n, off, len(img))
		}
		return unsafe.Pointer(&img[off]), uintptr(n), nil
	}
	r := &bl.ref
	*r = SinkBatchRef{Size: SinkBatchRefSize, PartitionID: le.Uint32(img[4:]), CurrentOffset: le.Uint64(img[8:]), MessageSize: MessageRefSize}
	var err error
	if r.Stream, r.StreamLen, err = span(16, "stream", -1); err != nil {
		return nil, err
	}
	if r.Topic, r.TopicLen, err = span(32, "topic", -1); err != nil {
		return nil, err
	}
	if r.Schema, r.SchemaLen, err = span(48, "schema", -1); err != nil {
		return nil, err
	}
	n, first := le.Uint64(img[72:]), le.Uint64(img[64:])
	if n > 0 && (first != imageBatchSize || n > uint64(len(img)-imageBatchSize)/imageMsgSize) {
		return nil, fmt.Errorf("batch image: %d messages at %d do not fit in %d bytes", n, first, len(img))
	}
	if cap(bl.msgs) < int(n) {
		bl.msgs = make([]MessageRef, n)
	}
	bl.msgs = bl.msgs[:n]
	for i := range bl.msgs {
		at := imageBatchSize + imageMsgSize*i
		m := &bl.msgs[i]
		copy(m.ID[:], img[at:at+16])
		m.Offset, m.Checksum = le.Uint64(img[at+16:]), le.Uint64(img[at+24:])
		m.Timestamp, m.OriginTimestamp = le.Uint64(img[at+32:]), le.Uint64(img[at+40:])
		if m.Headers, m.HeadersLen, err = span(at+48, "headers", i); err != nil {
			return nil, err
		}
		if m.Payload, m.PayloadLen, err = span(at+64, "payload", i); err != nil {
			return nil, err
		}
	}
	r.MessagesLen = uintptr(n)
	if n > 0 {
		r.Messages = unsafe.Pointer(&bl.msgs[0])
	}
	return r, nil
}
