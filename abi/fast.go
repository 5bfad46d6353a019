package abi

import (
	"encoding/binary"
	"math"
	"unicode/utf8"
)

// Hand-written CBOR for the two records that carry messages (SinkBatch and PollResult), the hot path
// of the boundary. The encoders produce exactly the bytes Marshal produces (core deterministic
// encoding, nil slices as empty byte strings and arrays, omitempty as declared on the types); the decoders read the canonical
// form directly and fall back to Unmarshal for anything else (indefinite lengths, tags, duplicate or
// non-integer keys, invalid UTF-8, truncated input), so they accept and reject exactly what Unmarshal
// does and their errors are Unmarshal's. fast_test.go proves both against the golden vectors and
// against Marshal/Unmarshal on random values.

// AppendSinkBatch appends the CBOR encoding of b to dst (byte-identical to Marshal(b)).
func AppendSinkBatch(dst []byte, b *SinkBatch) []byte {
	need := 64 + len(b.Stream) + len(b.Topic) + len(b.Schema)
	for i := range b.Messages {
		need += 64 + len(b.Messages[i].Payload)
		for _, h := range b.Messages[i].Headers {
			need += 24 + len(h.Key) + len(h.Value)
		}
	}
	dst = grow(dst, need)
	dst = append(dst, 0xa6)
	dst = append(dst, 0x01)
	dst = appendText(dst, b.Stream)
	dst = append(dst, 0x02)
	dst = appendText(dst, b.Topic)
	dst = append(dst, 0x03)
	dst = appendUint(dst, 0x00, uint64(b.PartitionID))
	dst = append(dst, 0x04)
	dst = appendUint(dst, 0x00, b.CurrentOffset)
	dst = append(dst, 0x05)
	dst = appendText(dst, string(b.Schema))
	dst = append(dst, 0x06)
	dst = appendUint(dst, 0x80, uint64(len(b.Messages)))
	for i := range b.Messages {
		m := &b.Messages[i]
		if len(m.Headers) > 0 {
			dst = append(dst, 0xa7)
		} else {
			dst = append(dst, 0xa6)
		}
		dst = append(dst, 0x01, 0x50)
		dst = append(dst, m.ID[:]...)
		dst = append(dst, 0x02)
		dst = appendUint(dst, 0x00, m.Offset)
		dst = append(dst, 0x03)
		dst = appendUint(dst, 0x00, m.Checksum)
		dst = append(dst, 0x04)
		dst = appendUint(dst, 0x00, m.Timestamp)
		dst = append(dst, 0x05)
		dst = appendUint(dst, 0x00, m.OriginTimestamp)
		if len(m.Headers) > 0 {
			dst = append(dst, 0x06)
			dst = appendHeaders(dst, m.Headers)
		}
		dst = append(dst, 0x07)
		dst = appendBytes(dst, m.Payload)
	}
	return dst
}

// AppendPollResult appends the CBOR encoding of r to dst (byte-identical to Marshal(r)).
func AppendPollResult(dst []byte, r *PollResult) []byte {
	need := 48 + len(r.Schema) + len(r.State)
	for i := range r.Messages {
		need += 48 + len(r.Messages[i].Payload) + len(r.Messages[i].Key)
		for _, h := range r.Messages[i].Headers {
			need += 24 + len(h.Key) + len(h.Value)
		}
	}
	dst = grow(dst, need)
	n := 2
	if len(r.Messages) > 0 {
		n++
	}
	if len(r.State) > 0 {
		n++
	}
	if r.WaitHintMs != 0 {
		n++
	}
	dst = append(dst, 0xa0|byte(n))
	dst = append(dst, 0x01)
	dst = appendUint(dst, 0x00, r.BatchID)
	dst = append(dst, 0x02)
	dst = appendText(dst, string(r.Schema))
	if len(r.Messages) > 0 {
		dst = append(dst, 0x03)
		dst = appendUint(dst, 0x80, uint64(len(r.Messages)))
		for i := range r.Messages {
			m := &r.Messages[i]
			n := 1
			if m.ID != nil {
				n++
			}
			if len(m.Headers) > 0 {
				n++
			}
			if m.OriginTimestamp != 0 {
				n++
			}
			if len(m.Key) > 0 {
				n++
			}
			dst = append(dst, 0xa0|byte(n))
			if m.ID != nil {
				dst = append(dst, 0x01, 0x50)
				dst = append(dst, m.ID[:]...)
			}
			if len(m.Headers) > 0 {
				dst = append(dst, 0x02)
				dst = appendHeaders(dst, m.Headers)
			}
			dst = append(dst, 0x03)
			dst = appendBytes(dst, m.Payload)
			if m.OriginTimestamp != 0 {
				dst = append(dst, 0x04)
				dst = appendUint(dst, 0x00, m.OriginTimestamp)
			}
			if len(m.Key) > 0 {
				dst = append(dst, 0x05)
				dst = appendBytes(dst, m.Key)
			}
		}
	}
	if len(r.State) > 0 {
		dst = append(dst, 0x04)
		dst = appendBytes(dst, r.State)
	}
	if r.WaitHintMs != 0 {
		dst = append(dst, 0x05)
		dst = appendUint(dst, 0x00, r.WaitHintMs)
	}
	return dst
}

// grow makes room for n more bytes with at most one reallocation.
func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	g := make([]byte, len(dst), len(dst)+n)
	copy(g, dst)
	return g
}

func appendHeaders(dst []byte, hs []Header) []byte {
	dst = appendUint(dst, 0x80, uint64(len(hs)))
	for i := range hs {
		h := &hs[i]
		dst = append(dst, 0x84)
		dst = appendUint(dst, 0x00, uint64(h.KeyKind))
		dst = appendBytes(dst, h.Key)
		dst = appendUint(dst, 0x00, uint64(h.ValueKind))
		dst = appendBytes(dst, h.Value)
	}
	return dst
}

func appendUint(dst []byte, major byte, v uint64) []byte {
	switch {
	case v < 24:
		return append(dst, major|byte(v))
	case v <= math.MaxUint8:
		return append(dst, major|24, byte(v))
	case v <= math.MaxUint16:
		return append(dst, major|25, byte(v>>8), byte(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, major|26), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(dst, major|27), v)
}

func appendText(dst []byte, s string) []byte {
	dst = appendUint(dst, 0x60, uint64(len(s)))
	return append(dst, s...)
}

func appendBytes(dst []byte, b []byte) []byte {
	dst = appendUint(dst, 0x40, uint64(len(b)))
	return append(dst, b...)
}

// DecodeSinkBatch decodes a SinkBatch. Payloads, keys and header bytes of the result alias data, so
// data must not be modified while the batch is in use (copy data first if it is borrowed).
func DecodeSinkBatch(data []byte) (*SinkBatch, error) {
	var b SinkBatch
	d := fastDecoder{buf: data}
	if d.sinkBatch(&b) && d.off == len(d.buf) {
		return &b, nil
	}
	b = SinkBatch{}
	if err := Unmarshal(data, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// SinkBatchDecoder decodes SinkBatches into memory it reuses from one Decode to the next: after the
// first batches it allocates nothing. The zero value is ready to use; it is not safe for concurrent use.
type SinkBatchDecoder struct {
	batch SinkBatch
	msgs  []Message
	hslab []Header
}

// Decode decodes data like DecodeSinkBatch. The result and everything in it (messages, headers; byte
// slices alias data) are valid only until the next Decode.
func (dec *SinkBatchDecoder) Decode(data []byte) (*SinkBatch, error) {
	d := fastDecoder{buf: data, msgs: dec.msgs[:0], hslab: dec.hslab[:0],
		prev: SinkBatch{Stream: dec.batch.Stream, Topic: dec.batch.Topic, Schema: dec.batch.Schema}}
	dec.batch = SinkBatch{}
	if d.sinkBatch(&dec.batch) && d.off == len(d.buf) {
		if cap(d.msgs) > cap(dec.msgs) {
			dec.msgs = d.msgs[:0]
		}
		if cap(d.hslab) > cap(dec.hslab) {
			dec.hslab = d.hslab[:0]
		}
		return &dec.batch, nil
	}
	return DecodeSinkBatch(data)
}

// DecodePollResult decodes a PollResult. Payloads, keys, header bytes and state of the result alias
// data, so data must not be modified while the result is in use.
func DecodePollResult(data []byte) (*PollResult, error) {
	var r PollResult
	d := fastDecoder{buf: data}
	if d.pollResult(&r) && d.off == len(d.buf) {
		return &r, nil
	}
	r = PollResult{}
	if err := Unmarshal(data, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// fastDecoder reads definite-length CBOR. Every method returns false when the input is anything it
// does not handle; the caller then falls back to Unmarshal.
type fastDecoder struct {
	buf   []byte
	off   int
	msgs  []Message // reusable storage for SinkBatch.Messages (SinkBatchDecoder)
	hslab []Header  // storage for headers, shared by the messages of a batch
	prev  SinkBatch // the previous batch (SinkBatchDecoder): its strings are reused when equal
}

// head reads an item head: major type and argument. Indefinite lengths and reserved values fail.
func (d *fastDecoder) head() (major byte, arg uint64, ok bool) {
	if d.off >= len(d.buf) {
		return 0, 0, false
	}
	b := d.buf[d.off]
	d.off++
	major, info := b>>5, b&0x1f
	switch {
	case info < 24:
		return major, uint64(info), true
	case info == 24:
		if d.off+1 > len(d.buf) {
			return 0, 0, false
		}
		v := uint64(d.buf[d.off])
		d.off++
		return major, v, true
	case info == 25:
		if d.off+2 > len(d.buf) {
			return 0, 0, false
		}
		v := uint64(d.buf[d.off])<<8 | uint64(d.buf[d.off+1])
		d.off += 2
		return major, v, true
	case info == 26:
		if d.off+4 > len(d.buf) {
			return 0, 0, false
		}
		p := d.buf[d.off:]
		v := uint64(p[0])<<24 | uint64(p[1])<<16 | uint64(p[2])<<8 | uint64(p[3])
		d.off += 4
		return major, v, true
	case info == 27:
		if d.off+8 > len(d.buf) {
			return 0, 0, false
		}
		p := d.buf[d.off:]
		v := uint64(p[0])<<56 | uint64(p[1])<<48 | uint64(p[2])<<40 | uint64(p[3])<<32 |
			uint64(p[4])<<24 | uint64(p[5])<<16 | uint64(p[6])<<8 | uint64(p[7])
		d.off += 8
		return major, v, true
	}
	return 0, 0, false
}

func (d *fastDecoder) isNull() bool {
	if d.off < len(d.buf) && d.buf[d.off] == 0xf6 {
		d.off++
		return true
	}
	return false
}

func (d *fastDecoder) uint() (uint64, bool) {
	if d.off < len(d.buf) {
		if b := d.buf[d.off]; b < 24 {
			d.off++
			return uint64(b), true
		} else if b == 27 && d.off+9 <= len(d.buf) {
			v := binary.BigEndian.Uint64(d.buf[d.off+1:])
			d.off += 9
			return v, true
		}
	}
	m, v, ok := d.head()
	return v, ok && m == 0
}

func (d *fastDecoder) length(major byte) (int, bool) {
	m, v, ok := d.head()
	if !ok || m != major || v > uint64(len(d.buf)) {
		return 0, false
	}
	return int(v), true
}

func (d *fastDecoder) rawBytes(major byte) ([]byte, bool) {
	if d.off < len(d.buf) {
		if b := d.buf[d.off]; b>>5 == major && b&0x1f < 24 { // short string: inline length
			n := int(b & 0x1f)
			if d.off+1+n > len(d.buf) {
				return nil, false
			}
			s := d.buf[d.off+1 : d.off+1+n : d.off+1+n]
			d.off += 1 + n
			return s, true
		}
	}
	n, ok := d.length(major)
	if !ok || d.off+n > len(d.buf) {
		return nil, false
	}
	b := d.buf[d.off : d.off+n : d.off+n]
	d.off += n
	return b, true
}

// bytes reads a byte string (or null, giving nil), aliasing the buffer.
func (d *fastDecoder) bytes() ([]byte, bool) {
	if d.isNull() {
		return nil, true
	}
	return d.rawBytes(2)
}

func (d *fastDecoder) text() (string, bool) {
	if d.isNull() {
		return "", true
	}
	b, ok := d.rawBytes(3)
	if !ok || !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}

// textLike reads a text string, returning prev (without allocating) when it has the same bytes.
func (d *fastDecoder) textLike(prev string) (string, bool) {
	if d.isNull() {
		return "", true
	}
	b, ok := d.rawBytes(3)
	if !ok {
		return "", false
	}
	if string(b) == prev {
		return prev, true
	}
	if !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}

func (d *fastDecoder) id(dst *ID) bool {
	b, ok := d.rawBytes(2)
	if !ok || len(b) != len(dst) {
		return false
	}
	copy(dst[:], b)
	return true
}

// mapKey reads the next key of a map with integer keys and checks it was not seen before.
func (d *fastDecoder) mapKey(seen *uint64) (uint64, bool) {
	var k uint64
	if d.off < len(d.buf) && d.buf[d.off] < 24 {
		k = uint64(d.buf[d.off])
		d.off++
	} else {
		var ok bool
		if k, ok = d.uint(); !ok {
			return 0, false
		}
	}
	if k >= 64 || *seen&(1<<k) != 0 {
		return 0, false // duplicate (an error) or a key too large to track: let Unmarshal decide
	}
	*seen |= 1 << k
	return k, true
}

// skip steps over one item whose key is unknown; only plain definite items are handled.
func (d *fastDecoder) skip(depth int) bool {
	if depth > 16 {
		return false
	}
	m, v, ok := d.head()
	if !ok {
		return false
	}
	switch m {
	case 0, 1:
		return true
	case 2, 3:
		if v > uint64(len(d.buf)-d.off) {
			return false
		}
		if m == 3 && !utf8.Valid(d.buf[d.off:d.off+int(v)]) {
			return false
		}
		d.off += int(v)
		return true
	case 4:
		for i := uint64(0); i < v; i++ {
			if !d.skip(depth + 1) {
				return false
			}
		}
		return true
	case 5:
		for i := uint64(0); i < 2*v; i++ {
			if !d.skip(depth + 1) {
				return false
			}
		}
		return true
	case 7:
		return v == 20 || v == 21 || v == 22 // false, true, null
	}
	return false
}

func (d *fastDecoder) headers() ([]Header, bool) {
	if d.isNull() {
		return nil, true
	}
	n, ok := d.length(4)
	if !ok || n > len(d.buf)-d.off {
		return nil, false
	}
	// Headers of a batch share slabs: one allocation for many messages' headers. Each message's
	// slice is capped so an append by its user cannot overwrite a neighbour's.
	if cap(d.hslab)-len(d.hslab) < n {
		d.hslab = make([]Header, 0, max(n, 256, 2*cap(d.hslab)))
	}
	start := len(d.hslab)
	d.hslab = d.hslab[:start+n]
	hs := d.hslab[start : start+n : start+n]
	for i := range hs {
		h := &hs[i]
		if d.canonicalHeader(h) {
			continue
		}
		if l, ok := d.length(4); !ok || l != 4 {
			return nil, false
		}
		kk, ok1 := d.uint()
		h.Key, ok = d.bytes()
		vk, ok2 := d.uint()
		if !ok || !ok1 || !ok2 || kk > math.MaxUint8 || vk > math.MaxUint8 {
			return nil, false
		}
		if h.Value, ok = d.bytes(); !ok {
			return nil, false
		}
		h.KeyKind, h.ValueKind = HeaderKind(kk), HeaderKind(vk)
	}
	return hs, true
}

// canonicalHeader reads the common header form [small kind, short bytes, small kind, short bytes]
// without calls; anything else leaves the offset unchanged and returns false.
func (d *fastDecoder) canonicalHeader(h *Header) bool {
	b, off := d.buf, d.off
	if off+5 > len(b) || b[off] != 0x84 || b[off+1] >= 24 {
		return false
	}
	kk := b[off+1]
	kl := int(b[off+2]) - 0x40
	if kl < 0 || kl >= 24 || off+3+kl+2 > len(b) {
		return false
	}
	key := b[off+3 : off+3+kl : off+3+kl]
	off += 3 + kl
	vk := b[off]
	vl := int(b[off+1]) - 0x40
	if vk >= 24 || vl < 0 || vl >= 24 || off+2+vl > len(b) {
		return false
	}
	h.KeyKind, h.Key, h.ValueKind, h.Value = HeaderKind(kk), key, HeaderKind(vk), b[off+2:off+2+vl:off+2+vl]
	d.off = off + 2 + vl
	return true
}

func (d *fastDecoder) sinkBatch(b *SinkBatch) bool {
	n, ok := d.length(5)
	if !ok {
		return false
	}
	var seen uint64
	for range n {
		k, ok := d.mapKey(&seen)
		if !ok {
			return false
		}
		switch k {
		case 1:
			b.Stream, ok = d.textLike(d.prev.Stream)
		case 2:
			b.Topic, ok = d.textLike(d.prev.Topic)
		case 3:
			var v uint64
			v, ok = d.uint()
			ok = ok && v <= math.MaxUint32
			b.PartitionID = uint32(v)
		case 4:
			b.CurrentOffset, ok = d.uint()
		case 5:
			var s string
			s, ok = d.textLike(string(d.prev.Schema))
			b.Schema = Schema(s)
		case 6:
			ok = d.messages(&b.Messages)
		default:
			ok = d.skip(0)
		}
		if !ok {
			return false
		}
	}
	return true
}

func (d *fastDecoder) messages(dst *[]Message) bool {
	if d.isNull() {
		*dst = nil
		return true
	}
	n, ok := d.length(4)
	if !ok {
		return false
	}
	if n > len(d.buf)-d.off {
		return false
	}
	var ms []Message
	if n > 0 && cap(d.msgs) >= n {
		ms = d.msgs[:n]
	} else {
		ms = make([]Message, n)
		d.msgs = ms
	}
	for i := range ms {
		m := &ms[i]
		if d.canonicalMessage(m) {
			continue
		}
		*m = Message{}
		c, ok := d.length(5)
		if !ok {
			return false
		}
		var seen uint64
		for range c {
			k, ok := d.mapKey(&seen)
			if !ok {
				return false
			}
			switch k {
			case 1:
				ok = d.id(&m.ID)
			case 2:
				m.Offset, ok = d.uint()
			case 3:
				m.Checksum, ok = d.uint()
			case 4:
				m.Timestamp, ok = d.uint()
			case 5:
				m.OriginTimestamp, ok = d.uint()
			case 6:
				m.Headers, ok = d.headers()
			case 7:
				m.Payload, ok = d.bytes()
			default:
				ok = d.skip(0)
			}
			if !ok {
				return false
			}
		}
	}
	*dst = ms
	return true
}

// canonicalMessage reads a Message laid out exactly as AppendSinkBatch writes it (keys 1-5[,6],7 in
// order). On any other layout it restores the offset and returns false for the generic path.
func (d *fastDecoder) canonicalMessage(m *Message) bool {
	start := d.off
	b := d.buf
	if d.off+19 > len(b) || (b[d.off] != 0xa6 && b[d.off] != 0xa7) || b[d.off+1] != 0x01 || b[d.off+2] != 0x50 {
		return false
	}
	withHeaders := b[d.off] == 0xa7
	if !withHeaders {
		m.Headers = nil // reused storage may hold an earlier message
	}
	copy(m.ID[:], b[d.off+3:d.off+19])
	d.off += 19
	var ok bool
	for k, dst := range [4]*uint64{&m.Offset, &m.Checksum, &m.Timestamp, &m.OriginTimestamp} {
		off := d.off
		if off+10 > len(b) || b[off] != byte(k+2) {
			d.off = start
			return false
		}
		switch h := b[off+1]; {
		case h < 24:
			*dst = uint64(h)
			d.off = off + 2
		case h == 24:
			*dst = uint64(b[off+2])
			d.off = off + 3
		case h == 25:
			*dst = uint64(binary.BigEndian.Uint16(b[off+2:]))
			d.off = off + 4
		case h == 26:
			*dst = uint64(binary.BigEndian.Uint32(b[off+2:]))
			d.off = off + 6
		case h == 27:
			*dst = binary.BigEndian.Uint64(b[off+2:])
			d.off = off + 10
		default:
			d.off = start
			return false
		}
	}
	if withHeaders {
		if d.off >= len(b) || b[d.off] != 0x06 {
			d.off = start
			return false
		}
		d.off++
		if m.Headers, ok = d.headers(); !ok {
			d.off = start
			return false
		}
	}
	if d.off >= len(b) || b[d.off] != 0x07 {
		d.off = start
		return false
	}
	d.off++
	if m.Payload, ok = d.bytes(); !ok {
		d.off = start
		return false
	}
	return true
}

func (d *fastDecoder) pollResult(r *PollResult) bool {
	n, ok := d.length(5)
	if !ok {
		return false
	}
	var seen uint64
	for range n {
		k, ok := d.mapKey(&seen)
		if !ok {
			return false
		}
		switch k {
		case 1:
			r.BatchID, ok = d.uint()
		case 2:
			var s string
			s, ok = d.text()
			r.Schema = Schema(s)
		case 3:
			ok = d.sourceMessages(&r.Messages)
		case 4:
			r.State, ok = d.bytes()
		case 5:
			r.WaitHintMs, ok = d.uint()
		default:
			ok = d.skip(0)
		}
		if !ok {
			return false
		}
	}
	return true
}

func (d *fastDecoder) sourceMessages(dst *[]SourceMessage) bool {
	if d.isNull() {
		*dst = nil
		return true
	}
	n, ok := d.length(4)
	if !ok {
		return false
	}
	ms := make([]SourceMessage, n)
	var ids []ID // one allocation for every id of the batch
	for i := range ms {
		m := &ms[i]
		c, ok := d.length(5)
		if !ok {
			return false
		}
		var seen uint64
		for range c {
			k, ok := d.mapKey(&seen)
			if !ok {
				return false
			}
			switch k {
			case 1:
				if d.isNull() {
					m.ID = nil
					break
				}
				if ids == nil {
					ids = make([]ID, n)
				}
				m.ID = &ids[i]
				ok = d.id(m.ID)
			case 2:
				m.Headers, ok = d.headers()
			case 3:
				m.Payload, ok = d.bytes()
			case 4:
				m.OriginTimestamp, ok = d.uint()
			case 5:
				m.Key, ok = d.bytes()
			default:
				ok = d.skip(0)
			}
			if !ok {
				return false
			}
		}
	}
	*dst = ms
	return true
}

// DecodeOwnedPollResult decodes a PollResult like DecodePollResult and then copies every byte slice
// of it (payloads, keys, header keys and values, state) into one fresh allocation, so the result
// does not alias data: the runtime decodes a plugin's output buffer this way and frees the buffer
// right after. One gathering copy of the bytes the result keeps replaces a copy of the whole buffer
// before decoding (the CBOR framing is not copied).
func DecodeOwnedPollResult(data []byte) (*PollResult, error) {
	r, _, err := DecodePollResultInto(data, nil)
	return r, err
}

// DecodePollResultInto is DecodeOwnedPollResult with the messages' bytes (payloads, keys, header
// keys and values) gathered into slab, which is reused when its capacity suffices and replaced by a
// larger allocation otherwise; it returns the slab the messages alias, so the caller can reuse it
// for a later result once nothing refers to this one's messages any more. The state never shares
// the slab: it gets its own allocation, as it outlives the messages (it is saved and kept after
// the batch is sent).
func DecodePollResultInto(data, slab []byte) (*PollResult, []byte, error) {
	r, err := DecodePollResult(data)
	if err != nil {
		return nil, slab, err
	}
	total := 0
	for i := range r.Messages {
		m := &r.Messages[i]
		total += len(m.Payload) + len(m.Key)
		for _, h := range m.Headers {
			total += len(h.Key) + len(h.Value)
		}
	}
	if cap(slab) < total {
		slab = make([]byte, 0, total)
	}
	slab = slab[:0]
	own := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		start := len(slab)
		slab = append(slab, b...)
		return slab[start:len(slab):len(slab)]
	}
	if r.State != nil {
		r.State = append(make([]byte, 0, len(r.State)), r.State...)
	}
	for i := range r.Messages {
		m := &r.Messages[i]
		m.Payload, m.Key = own(m.Payload), own(m.Key)
		for j := range m.Headers {
			h := &m.Headers[j]
			h.Key, h.Value = own(h.Key), own(h.Value)
		}
	}
	return r, slab, nil
}
