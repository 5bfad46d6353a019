package codec

import (
	"bytes"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/iggy-go/connectors/abi"
)

// Kind says how the bytes of a Payload are to be read.
type Kind uint8

// Payload kinds. The zero Kind is invalid.
const (
	// KindJSON: one valid JSON value (UTF-8). Transforms act on JSON objects.
	KindJSON Kind = iota + 1
	// KindRaw: opaque bytes.
	KindRaw
	// KindText: valid UTF-8 text.
	KindText
	// KindProto: a protobuf message in binary wire format, kept opaque (a payload decoded without a
	// descriptor set; with one, protobuf payloads are decoded to KindJSON).
	KindProto
	// KindFlatBuffer: a FlatBuffers buffer, kept opaque (decoded without a binary schema; with one,
	// FlatBuffers payloads are decoded to KindJSON).
	KindFlatBuffer
)

var kindNames = [...]string{KindJSON: "json", KindRaw: "raw", KindText: "text", KindProto: "proto", KindFlatBuffer: "flatbuffer"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Schema is the ABI schema tag that describes bytes of this kind.
func (k Kind) Schema() abi.Schema { return abi.Schema(k.String()) }

// Payload is a message payload after decoding: its Kind and its bytes.
//
// JSON payloads are not decoded into Go values. A Payload keeps the bytes it was decoded from and
// parses lazily, and only the top level of an object (see Object), keeping every value as raw JSON
// text. Consequences:
//   - a payload no transform modified is passed on byte for byte (it is compacted first if it
//     contained insignificant whitespace, so what leaves is always compact JSON);
//   - a modified object is re-serialised by concatenating its keys and raw values, in their original
//     order (new keys at the end), so numbers never lose precision and nested values are untouched;
//   - duplicate top-level keys are collapsed when the object is first accessed: the last value wins,
//     at the position of the first occurrence (serde_json with preserve_order). An unmodified
//     payload keeps its duplicates, and duplicates inside nested values are always kept.
//
// A Payload aliases the byte slice it was created from: the caller must not modify that slice while
// the Payload (or bytes returned by it) are in use. A Payload is used by one goroutine at a time and
// must not be copied after Object was called.
type Payload struct {
	kind      Kind
	data      []byte
	compact   bool // KindJSON: data has no insignificant whitespace
	notObject bool // KindJSON: data was checked and is not an object
	spliced   bool // built by Members: the transforms were applied while decoding
	obj       *Object
}

// NewPayload makes a Payload of the given kind from b, which it aliases. JSON must be valid (with the
// same strictness as the json decoder) and text valid UTF-8; other kinds accept any bytes.
func NewPayload(kind Kind, b []byte) (Payload, error) {
	switch kind {
	case KindJSON:
		compact, err := validateJSON(b)
		if err != nil {
			return Payload{}, fmt.Errorf("invalid JSON at byte offset %d: %w", errPos(err), err)
		}
		return Payload{kind: KindJSON, data: b, compact: compact}, nil
	case KindText:
		if !utf8.Valid(b) {
			return Payload{}, fmt.Errorf("invalid UTF-8 at byte offset %d", invalidUTF8At(b))
		}
		return Payload{kind: KindText, data: b}, nil
	case KindRaw, KindProto, KindFlatBuffer:
		return Payload{kind: kind, data: b}, nil
	}
	return Payload{}, fmt.Errorf("invalid payload kind %v", kind)
}

// jsonPayload wraps JSON that is known to be valid.
func jsonPayload(b []byte, compact bool) Payload {
	return Payload{kind: KindJSON, data: b, compact: compact}
}

func errPos(err error) int {
	if se, ok := err.(*syntaxError); ok {
		return se.pos
	}
	return -1
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}

// Kind of the payload.
func (p *Payload) Kind() Kind { return p.kind }

// Spliced reports whether the payload was built by Members, i.e. a transform chain was already
// applied to it on the splice path while it was decoded (transform.Chain.Apply then leaves it alone).
func (p *Payload) Spliced() bool { return p.spliced }

// Bytes returns the payload in its kind's wire form: compact JSON for KindJSON (serialising any
// modification made through Object), the bytes as they are for every other kind. When nothing had
// to be rewritten the result is the slice the payload was created from. The caller must not modify
// the result.
func (p *Payload) Bytes() []byte {
	if p.kind != KindJSON {
		return p.data
	}
	if p.obj != nil && p.obj.dirty {
		p.data = p.obj.appendJSON(renderBuf(p.obj.size()))
		p.obj.dirty = false
		p.compact = true
	}
	if !p.compact {
		p.data = appendCompact(make([]byte, 0, len(p.data)), p.data)
		p.compact = true
	}
	return p.data
}

// AppendBytes appends the payload's wire form (what Bytes returns) to dst and returns the extended
// slice. Unlike Bytes it never allocates a buffer of its own for a modified JSON object, so a caller
// that gathers a batch into one buffer pays no per-message allocation.
func (p *Payload) AppendBytes(dst []byte) []byte {
	if p.kind == KindJSON && p.obj != nil && p.obj.dirty {
		return p.obj.appendJSON(dst)
	}
	if p.kind == KindJSON && !p.compact {
		return appendCompact(dst, p.data)
	}
	return append(dst, p.data...)
}

// ForPlugin returns what a sink plugin receives for this payload: its bytes (Bytes) and the ABI
// schema tag that describes them. JSON payloads — including protobuf and FlatBuffers payloads that
// were decoded with a schema — go as compact JSON tagged "json"; raw and text go as they are; protobuf
// and FlatBuffers payloads decoded without a schema go as their original bytes tagged "proto" or
// "flatbuffer". (The original runtime sent a JSON view of those under the proto/flatbuffer tag.)
func (p *Payload) ForPlugin() ([]byte, abi.Schema) { return p.Bytes(), p.kind.Schema() }

// Object returns the top-level object of a JSON payload, indexing its keys on first use. ok is false
// when the payload is not JSON or its value is not an object; such payloads pass through transforms
// unchanged.
func (p *Payload) Object() (obj *Object, ok bool) {
	if p.obj != nil && p.obj.spliced { // built by Members: render it and index the result
		data := p.obj.appendJSON(make([]byte, 0, p.obj.size()))
		releaseObject(p.obj)
		p.data, p.compact, p.obj = data, true, indexObject(data)
	}
	if p.obj != nil {
		return p.obj, true
	}
	if p.kind != KindJSON || p.notObject {
		return nil, false
	}
	if i := skipWS(p.data, 0); i >= len(p.data) || p.data[i] != '{' {
		p.notObject = true
		return nil, false
	}
	if !p.compact {
		p.data = appendCompact(make([]byte, 0, len(p.data)), p.data)
		p.compact = true
	}
	p.obj = indexObject(p.data)
	return p.obj, true
}

// Unwrap replaces a JSON object payload by the value of its top-level key k (any JSON value: object,
// array, string, number, boolean or null). It reports false, leaving the payload unchanged, when the
// payload is not a JSON object or has no such key.
func (p *Payload) Unwrap(k Key) bool {
	obj, ok := p.Object()
	if !ok {
		return false
	}
	i := obj.find(k)
	if i < 0 {
		return false
	}
	v := obj.bytes(obj.fields[i].val)
	if obj.fields[i].val.ext {
		v = bytes.Clone(v) // the arena goes back to the pool with the object
	}
	releaseObject(obj)
	p.data = v
	p.compact = true
	p.notObject = false
	p.obj = nil
	return true
}

// Release hands the payload's object index back for reuse by later payloads and empties p. Call it
// when done with a payload that transforms used; it is optional (without it the index is
// garbage-collected). Bytes obtained from p before (Bytes, ForPlugin, an Encoder) stay valid.
func (p *Payload) Release() {
	if p.obj != nil {
		releaseObject(p.obj)
	}
	*p = Payload{}
}

// JSONView renders the payload as JSON the way the original runtime's decoders presented it to JSON
// consumers: KindJSON as is, text as a JSON string literal, an opaque protobuf payload (a
// google.protobuf.Any) as {"type_url":...,"value":<base64>}, an opaque FlatBuffers payload as
// {"buffer_size":N,"has_root_table":true,"raw_data_base64":...}. Raw payloads have no JSON view.
func (p *Payload) JSONView() ([]byte, error) {
	switch p.kind {
	case KindJSON:
		return p.Bytes(), nil
	case KindText:
		return appendJSONString(make([]byte, 0, len(p.data)+2), string(p.data)), nil
	case KindProto:
		return anyJSONView(p.data)
	case KindFlatBuffer:
		return flatBufferJSONView(p.data), nil
	}
	return nil, fmt.Errorf("a %s payload has no JSON representation", p.kind)
}

// Bytes renders modified objects into buffers carved from shared chunks: one allocation per chunk
// instead of one per message, and far fewer objects for the garbage collector. A chunk is freed
// when no buffer carved from it is referenced any more (a buffer kept for long keeps its chunk).
const renderChunk = 64 << 10

type chunkCursor struct{ b []byte }

var renderChunks = sync.Pool{New: func() any { return new(chunkCursor) }}

// renderBuf returns an empty buffer with capacity n.
func renderBuf(n int) []byte {
	if n > renderChunk/8 {
		return make([]byte, 0, n)
	}
	c := renderChunks.Get().(*chunkCursor)
	if cap(c.b)-len(c.b) < n {
		c.b = make([]byte, 0, renderChunk)
	}
	start := len(c.b)
	c.b = c.b[:start+n]
	buf := c.b[start : start : start+n]
	renderChunks.Put(c)
	return buf
}
