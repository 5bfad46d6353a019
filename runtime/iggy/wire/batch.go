package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/zeebo/xxh3"
)

// Batch record layout (spec 3.1).
const (
	BatchHeaderSize = 256
	FrameHeaderSize = 48

	bPartitionID     = 0
	bBaseOffset      = 8
	bBaseTimestamp   = 16
	bOriginTimestamp = 24
	bBatchLength     = 32
	bBatchChecksum   = 40
	bMessageCount    = 48

	fChecksum       = 0
	fID             = 8
	fOffsetDelta    = 24
	fTimestampDelta = 28
	fHeadersLen     = 32
	fPayloadLen     = 36
	fReserved       = 40

	// MaxPayload is the largest payload the SDKs accept.
	MaxPayload = 64_000_000
	// MaxHeadersLen bounds the user headers of one message.
	MaxHeadersLen = 100_000
)

// Message is one Iggy message. ID is the u128 id as 16 big-endian bytes (the abi.ID convention;
// on the wire it is little-endian). On send only ID, OriginTimestamp (µs; the client fills 0
// with the current time), Headers and Payload are used. Decoded messages alias the reply buffer.
type Message struct {
	ID              [16]byte
	Offset          uint64
	Timestamp       uint64 // broker timestamp, µs
	OriginTimestamp uint64 // producer timestamp, µs
	Checksum        uint64
	Headers         []Header
	Payload         []byte
}

// IDFromUint64 returns a message id holding v.
func IDFromUint64(v uint64) [16]byte {
	var id [16]byte
	binary.BigEndian.PutUint64(id[8:], v)
	return id
}

func putID(dst []byte, id *[16]byte) {
	for i := 0; i < 16; i++ {
		dst[i] = id[15-i]
	}
}

func getID(src []byte) (id [16]byte) {
	for i := 0; i < 16; i++ {
		id[i] = src[15-i]
	}
	return id
}

// BatchLen returns the encoded size of a batch record holding msgs.
func BatchLen(msgs []Message) int {
	n := BatchHeaderSize
	for i := range msgs {
		n += FrameHeaderSize + len(msgs[i].Payload) + HeadersLen(msgs[i].Headers)
	}
	return n
}

// AppendBatch appends a producer batch record for msgs (spec 3.1 producer rules): partition,
// base offset and base timestamp 0, origin timestamp the minimum of the messages', deltas
// relative to it, offset deltas 0..n-1, message and batch checksums. It fails with a message
// naming the culprit (message index) for an empty batch, an empty or too large payload, bad
// headers, or origin timestamps more than a u32 of microseconds apart.
func AppendBatch(dst []byte, msgs []Message) ([]byte, error) { return appendBatch(dst, msgs, 0) }

// appendBatch is AppendBatch where messages with OriginTimestamp 0 are encoded with now (when
// now is not 0); msgs are not modified.
func appendBatch(dst []byte, msgs []Message, now uint64) ([]byte, error) {
	out, _, err := appendBatchVec(dst, msgs, now, math.MaxInt, nil)
	return out, err
}

// appendBatchVec is appendBatch for a vectored write: payloads of at least minRef bytes are not
// copied into dst but referenced. It returns dst with the record minus those payloads appended,
// and segs with the segments that, written in order, make up all of dst (from byte 0) with the
// referenced payloads in their places. Nothing is referenced (and segs is returned unchanged)
// when minRef exceeds every payload. Each message checksum is computed once, over the frame as it
// will be sent.
func appendBatchVec(dst []byte, msgs []Message, now uint64, minRef int, segs [][]byte) ([]byte, [][]byte, error) {
	origin := func(m *Message) uint64 {
		if m.OriginTimestamp == 0 {
			return now
		}
		return m.OriginTimestamp
	}
	if len(msgs) == 0 {
		return dst, segs, fmt.Errorf("iggy wire: empty message batch")
	}
	minTS := uint64(math.MaxUint64)
	total, inline := BatchHeaderSize, BatchHeaderSize
	for i := range msgs {
		m := &msgs[i]
		if len(m.Payload) == 0 || len(m.Payload) > MaxPayload {
			return dst, segs, fmt.Errorf("iggy wire: message %d: payload must be 1..%d bytes, got %d", i, MaxPayload, len(m.Payload))
		}
		for j := range m.Headers {
			if err := m.Headers[j].Validate(); err != nil {
				return dst, segs, fmt.Errorf("message %d header %d: %w", i, j, err)
			}
		}
		hl := HeadersLen(m.Headers)
		if hl > MaxHeadersLen {
			return dst, segs, fmt.Errorf("iggy wire: message %d: user headers take %d bytes, limit %d", i, hl, MaxHeadersLen)
		}
		minTS = min(minTS, origin(m))
		total += FrameHeaderSize + len(m.Payload) + hl
		inline += FrameHeaderSize + hl
		if len(m.Payload) < minRef {
			inline += len(m.Payload)
		}
	}
	start := len(dst)
	dst = grow(dst, inline) // never grows again below: segs may point into dst
	b := dst[start : start+inline]
	clear(b[:BatchHeaderSize])
	binary.LittleEndian.PutUint64(b[bOriginTimestamp:], minTS)
	binary.LittleEndian.PutUint64(b[bBatchLength:], uint64(total))
	binary.LittleEndian.PutUint32(b[bMessageCount:], uint32(len(msgs)))
	sum := newBatchSummer(b)
	defer sum.release()
	segStart := 0 // start in dst of the segment not yet added to segs
	nsegs := len(segs)
	p := BatchHeaderSize
	for i := range msgs {
		m := &msgs[i]
		delta := origin(m) - minTS
		if delta > math.MaxUint32 {
			return dst[:start], segs[:nsegs], fmt.Errorf("iggy wire: message %d: origin timestamp %d is %d µs after the batch minimum, more than a u32 (code %d)", i, origin(m), delta, ErrCodeInvalidMessageTimestampDelta)
		}
		f := b[p:]
		putID(f[fID:], &m.ID)
		binary.LittleEndian.PutUint32(f[fOffsetDelta:], uint32(i))
		binary.LittleEndian.PutUint32(f[fTimestampDelta:], uint32(delta))
		hl := HeadersLen(m.Headers)
		binary.LittleEndian.PutUint32(f[fHeadersLen:], uint32(hl))
		binary.LittleEndian.PutUint32(f[fPayloadLen:], uint32(len(m.Payload)))
		binary.LittleEndian.PutUint64(f[fReserved:], 0)
		var ck uint64
		if len(m.Payload) < minRef {
			n := copy(f[FrameHeaderSize:], m.Payload)
			AppendHeaders(f[FrameHeaderSize+n:FrameHeaderSize+n], m.Headers)
			flen := FrameHeaderSize + n + hl
			ck = xxh3.Hash(f[8:flen])
			p += flen
		} else {
			AppendHeaders(f[FrameHeaderSize:FrameHeaderSize], m.Headers)
			ck = sum.frameChecksum(f[8:FrameHeaderSize], m.Payload, f[FrameHeaderSize:FrameHeaderSize+hl])
			at := start + p + FrameHeaderSize
			segs = append(segs, dst[segStart:at], m.Payload)
			segStart = at
			p += FrameHeaderSize + hl
		}
		binary.LittleEndian.PutUint64(f[fChecksum:], ck)
		sum.add(ck)
	}
	binary.LittleEndian.PutUint64(b[bBatchChecksum:], sum.sum())
	if segStart > 0 {
		segs = append(segs, dst[segStart:])
	}
	return dst, segs, nil
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n, len(b)+n+len(b)/4)
	copy(nb, b)
	return nb
}

// BatchChecksum computes the batch checksum of a well-formed record (header fields, then every
// frame's checksum). The record must have passed ValidateBatch or come from AppendBatch.
func BatchChecksum(rec []byte) uint64 {
	return batchChecksum(rec[:BatchHeaderSize], rec[BatchHeaderSize:])
}

// batchChecksum computes the checksum of a record given as its header and its frames.
func batchChecksum(hdr, frames []byte) uint64 {
	sum := newBatchSummer(hdr)
	defer sum.release()
	for p := 0; p < len(frames); {
		sum.add(binary.LittleEndian.Uint64(frames[p:]))
		p += FrameHeaderSize + int(binary.LittleEndian.Uint32(frames[p+fPayloadLen:])) + int(binary.LittleEndian.Uint32(frames[p+fHeadersLen:]))
	}
	return sum.sum()
}

// batchSummer computes a batch checksum: XXH3-64 of the header fields before batch_checksum,
// message_count, then every frame's checksum (spec 3.1), fed in as the frames are built or walked.
type batchSummer struct {
	sc        *summer
	buf       []byte
	streaming bool
}

func newBatchSummer(hdr []byte) batchSummer {
	sc := summerPool.Get().(*summer)
	buf := append(sc.buf[:0], hdr[:bBatchChecksum]...)
	return batchSummer{sc: sc, buf: append(buf, hdr[bMessageCount:bMessageCount+4]...)}
}

// add feeds the checksum of the next frame.
func (s *batchSummer) add(frameChecksum uint64) {
	if len(s.buf)+8 > cap(s.buf) {
		if !s.streaming {
			s.sc.h.Reset()
			s.streaming = true
		}
		s.sc.h.Write(s.buf)
		s.buf = s.buf[:0]
	}
	s.buf = binary.LittleEndian.AppendUint64(s.buf, frameChecksum)
}

// sum returns the batch checksum of what was fed.
func (s *batchSummer) sum() uint64 {
	if !s.streaming {
		return xxh3.Hash(s.buf)
	}
	s.sc.h.Write(s.buf)
	return s.sc.h.Sum64()
}

// frameChecksum returns the checksum of a frame held in three pieces (the header after the
// checksum field, the payload, the user headers), as xxh3.Hash of them joined would: joined in a
// small scratch buffer that stays in cache, or streamed through a hasher when larger.
func (s *batchSummer) frameChecksum(head, payload, headers []byte) uint64 {
	n := len(head) + len(payload) + len(headers)
	if n <= cap(s.sc.scratch) {
		b := s.sc.scratch[:n]
		k := copy(b, head)
		k += copy(b[k:], payload)
		copy(b[k:], headers)
		return xxh3.Hash(b)
	}
	h := &s.sc.fh
	h.Reset()
	h.Write(head)
	h.Write(payload)
	h.Write(headers)
	return h.Sum64()
}

func (s *batchSummer) release() {
	s.sc.buf = s.buf[:0]
	summerPool.Put(s.sc)
}

// summer is the reusable state of a batchSummer: a scratch buffer and streaming hashers.
type summer struct {
	h       *xxh3.Hasher
	fh      xxh3.Hasher
	buf     []byte
	scratch []byte // frames joined for their checksum (vectored sends)
}

var summerPool = sync.Pool{New: func() any {
	return &summer{h: xxh3.New(), buf: make([]byte, 0, 16<<10), scratch: make([]byte, 0, 16<<10)}
}}

// CodeError is a validation failure that maps to an Iggy error code.
type CodeError struct {
	Code   uint32
	Reason string
}

func (e *CodeError) Error() string {
	return fmt.Sprintf("iggy wire: %s (code %d %s)", e.Reason, e.Code, ErrorName(e.Code))
}

// ValidateBatch checks a received producer record: the header length and count, zero reserved
// bytes, frames that tile batch_length exactly and number count, offset deltas 0..n-1, zero frame
// reserved fields, payload sizes, well-formed user headers, and both checksums. Errors are
// *CodeError with the code the server answers (4 InvalidFormat, 4027, 4039).
func ValidateBatch(rec []byte, count uint32) error {
	bad := func(format string, a ...any) error {
		return &CodeError{Code: ErrCodeInvalidFormat, Reason: fmt.Sprintf(format, a...)}
	}
	if len(rec) < BatchHeaderSize {
		return bad("batch record of %d bytes is shorter than its 256-byte header", len(rec))
	}
	if bl := binary.LittleEndian.Uint64(rec[bBatchLength:]); bl != uint64(len(rec)) {
		return bad("batch_length %d but the record has %d bytes", bl, len(rec))
	}
	if mc := binary.LittleEndian.Uint32(rec[bMessageCount:]); mc != count {
		return bad("batch message_count %d but messages_count %d", mc, count)
	}
	if count == 0 {
		return bad("empty batch")
	}
	for i := bMessageCount + 4; i < BatchHeaderSize; i++ {
		if rec[i] != 0 {
			return bad("batch header reserved byte %d is not zero", i)
		}
	}
	p := BatchHeaderSize
	var hdrs [8]Header
	for i := uint32(0); i < count; i++ {
		if len(rec)-p < FrameHeaderSize {
			return bad("message %d: frame header truncated at byte %d", i, p)
		}
		f := rec[p:]
		pl := binary.LittleEndian.Uint32(f[fPayloadLen:])
		hl := binary.LittleEndian.Uint32(f[fHeadersLen:])
		if pl == 0 || pl > MaxPayload {
			return bad("message %d: payload length %d not in 1..%d", i, pl, MaxPayload)
		}
		if hl > MaxHeadersLen {
			return bad("message %d: user headers length %d exceeds %d", i, hl, MaxHeadersLen)
		}
		flen := uint64(FrameHeaderSize) + uint64(pl) + uint64(hl)
		if flen > uint64(len(f)) {
			return bad("message %d: frame of %d bytes overruns the record at byte %d", i, flen, p)
		}
		if d := binary.LittleEndian.Uint32(f[fOffsetDelta:]); d != i {
			return bad("message %d: offset_delta %d, want %d", i, d, i)
		}
		if binary.LittleEndian.Uint64(f[fReserved:]) != 0 {
			return bad("message %d: reserved frame field is not zero", i)
		}
		if hl > 0 {
			start := FrameHeaderSize + int(pl)
			if _, err := DecodeHeaders(f[start:start+int(hl)], hdrs[:0]); err != nil {
				return bad("message %d: user headers: %v", i, err)
			}
		}
		if sum := xxh3.Hash(f[8:flen]); sum != binary.LittleEndian.Uint64(f[fChecksum:]) {
			return &CodeError{Code: ErrCodeInvalidMessageChecksum, Reason: fmt.Sprintf("message %d: checksum %016x, computed %016x", i, binary.LittleEndian.Uint64(f[fChecksum:]), sum)}
		}
		p += int(flen)
	}
	if p != len(rec) {
		return bad("%d bytes after the last of %d frames", len(rec)-p, count)
	}
	if sum, got := BatchChecksum(rec), binary.LittleEndian.Uint64(rec[bBatchChecksum:]); sum != got {
		return &CodeError{Code: ErrCodeInvalidBatchChecksum, Reason: fmt.Sprintf("batch checksum %016x, computed %016x", got, sum)}
	}
	return nil
}

// StampBatch sets the server fields of a validated record (partition, base offset, base
// timestamp) and recomputes the batch checksum.
func StampBatch(rec []byte, partitionID uint32, baseOffset, baseTimestamp uint64) {
	binary.LittleEndian.PutUint64(rec[bPartitionID:], uint64(partitionID))
	binary.LittleEndian.PutUint64(rec[bBaseOffset:], baseOffset)
	binary.LittleEndian.PutUint64(rec[bBaseTimestamp:], baseTimestamp)
	binary.LittleEndian.PutUint64(rec[bBatchChecksum:], BatchChecksum(rec))
}

// BatchInfo is the header of a batch record.
type BatchInfo struct {
	PartitionID     uint64
	BaseOffset      uint64
	BaseTimestamp   uint64
	OriginTimestamp uint64
	BatchLength     uint64
	Checksum        uint64
	MessageCount    uint32
}

// ReadBatchInfo decodes the first 256 bytes of a record.
func ReadBatchInfo(rec []byte) (BatchInfo, error) {
	if len(rec) < BatchHeaderSize {
		return BatchInfo{}, &DecodeError{Field: "batch header", Reason: fmt.Sprintf("need 256 bytes, have %d", len(rec))}
	}
	return BatchInfo{
		PartitionID:     binary.LittleEndian.Uint64(rec[bPartitionID:]),
		BaseOffset:      binary.LittleEndian.Uint64(rec[bBaseOffset:]),
		BaseTimestamp:   binary.LittleEndian.Uint64(rec[bBaseTimestamp:]),
		OriginTimestamp: binary.LittleEndian.Uint64(rec[bOriginTimestamp:]),
		BatchLength:     binary.LittleEndian.Uint64(rec[bBatchLength:]),
		Checksum:        binary.LittleEndian.Uint64(rec[bBatchChecksum:]),
		MessageCount:    binary.LittleEndian.Uint32(rec[bMessageCount:]),
	}, nil
}

// FrameSpans returns the byte offsets within rec where each frame starts (and, last, the record
// end). rec must be a validated record.
func FrameSpans(rec []byte, dst []int) []int {
	dst = dst[:0]
	p := BatchHeaderSize
	for p+FrameHeaderSize <= len(rec) {
		dst = append(dst, p)
		p += FrameHeaderSize + int(binary.LittleEndian.Uint32(rec[p+fPayloadLen:])) + int(binary.LittleEndian.Uint32(rec[p+fHeadersLen:]))
	}
	return append(dst, p)
}

// AppendRecordSlice appends a record made of a stored record's header and the contiguous frames
// frames (a sub-range of that record holding count messages), with batch_length, message_count and
// batch_checksum rewritten and every other header field kept (spec 3.3).
func AppendRecordSlice(dst []byte, storedHeader []byte, frames []byte, count uint32) []byte {
	start := len(dst)
	dst = append(dst, storedHeader[:BatchHeaderSize]...)
	dst = append(dst, frames...)
	rec := dst[start:]
	binary.LittleEndian.PutUint64(rec[bBatchLength:], uint64(len(rec)))
	binary.LittleEndian.PutUint32(rec[bMessageCount:], count)
	binary.LittleEndian.PutUint64(rec[bBatchChecksum:], BatchChecksum(rec))
	return dst
}

// AppendRecordSliceHeader appends only the 256-byte header of the record AppendRecordSlice would
// build (the frames are then sent from where they are stored).
func AppendRecordSliceHeader(dst []byte, storedHeader []byte, frames []byte, count uint32) []byte {
	start := len(dst)
	dst = append(dst, storedHeader[:BatchHeaderSize]...)
	h := dst[start:]
	binary.LittleEndian.PutUint64(h[bBatchLength:], uint64(BatchHeaderSize+len(frames)))
	binary.LittleEndian.PutUint32(h[bMessageCount:], count)
	binary.LittleEndian.PutUint64(h[bBatchChecksum:], batchChecksum(h, frames))
	return dst
}

// DecodeRecords decodes consecutive batch records (a poll reply tail, or a log file) into
// messages appended to dst, walking records by batch_length and frames by their lengths
// (message_count is not relied on). Payloads and headers alias b.
func DecodeRecords(b []byte, dst []Message) ([]Message, error) { return decodeRecords(b, dst, 0) }

// decodeRecords is DecodeRecords with a hint of the number of messages (sizes the header slab).
func decodeRecords(b []byte, dst []Message, hint int) ([]Message, error) {
	r := Reader{b: b}
	var slab []Header // headers of all messages, sliced per message (grows geometrically)
	for r.Len() > 0 {
		recStart := r.off
		hdr := r.Bytes(BatchHeaderSize, "batch header")
		if r.err != nil {
			return dst, r.err
		}
		info, _ := ReadBatchInfo(hdr)
		if info.BatchLength < BatchHeaderSize || info.BatchLength > uint64(len(b)-recStart) {
			r.off = recStart + bBatchLength
			r.Fail("batch_length", "%d not in 256..%d", info.BatchLength, len(b)-recStart)
			return dst, r.err
		}
		end := recStart + int(info.BatchLength)
		for r.off < end {
			if end-r.off < FrameHeaderSize {
				r.Fail("message frame", "truncated frame header: %d bytes left in the record", end-r.off)
				return dst, r.err
			}
			f := b[r.off:end]
			pl := binary.LittleEndian.Uint32(f[fPayloadLen:])
			hl := binary.LittleEndian.Uint32(f[fHeadersLen:])
			flen := uint64(FrameHeaderSize) + uint64(pl) + uint64(hl)
			if flen > uint64(len(f)) {
				r.Fail("message frame", "frame of %d bytes overruns its record (%d bytes left)", flen, len(f))
				return dst, r.err
			}
			m := Message{
				ID:              getID(f[fID:]),
				Offset:          info.BaseOffset + uint64(binary.LittleEndian.Uint32(f[fOffsetDelta:])),
				Timestamp:       info.BaseTimestamp,
				OriginTimestamp: info.OriginTimestamp + uint64(binary.LittleEndian.Uint32(f[fTimestampDelta:])),
				Checksum:        binary.LittleEndian.Uint64(f[fChecksum:]),
				Payload:         f[FrameHeaderSize : FrameHeaderSize+int(pl) : FrameHeaderSize+int(pl)],
			}
			if hl > 0 {
				if slab == nil {
					slab = make([]Header, 0, max(hint, 16))
				}
				start := len(slab)
				hs, err := DecodeHeaders(f[FrameHeaderSize+int(pl):flen], slab[start:])
				if err != nil {
					r.Fail("message user headers", "%v", err)
					return dst, r.err
				}
				if len(hs) > 0 && cap(slab)-start >= len(hs) && &slab[:start+1][start] == &hs[0] {
					slab = slab[:start+len(hs)]
				} else {
					// DecodeHeaders outgrew the slab: continue in a new, larger one.
					slab = make([]Header, len(hs), max(2*cap(slab), 64, len(hs)))
					copy(slab, hs)
					start = 0
				}
				m.Headers = slab[start : start+len(hs) : start+len(hs)]
			}
			dst = append(dst, m)
			r.off += int(flen)
		}
	}
	return dst, nil
}
