package codec

import (
	"bytes"
	"encoding/binary"
	"sync"
)

// Key is a top-level object key prepared for repeated lookups (build it once, at configuration time).
type Key struct {
	name   string
	quoted []byte // name as a JSON string literal
	hash   uint64
}

// NewKey prepares name for use with Object and Payload.Unwrap.
func NewKey(name string) Key {
	return Key{name: name, quoted: appendJSONString(nil, name), hash: keyHash([]byte(name))}
}

// String returns the key's name.
func (k Key) String() string { return k.name }

// span locates bytes in the object's source (the payload's bytes) or, when ext is set, in its arena
// of added bytes. Spans hold no pointers, so the member list is cheap to grow and to scan for the GC.
type span struct {
	off, n uint32
	ext    bool
}

// field is one member of an Object.
type field struct {
	hash    uint64 // keyHash of the decoded key
	key     span   // decoded key
	keyJSON span   // key as a JSON string literal
	val     span   // raw, compact JSON value
}

// inlineFields is how many members an Object holds without a further allocation.
const inlineFields = 32

// Object is the top level of a JSON object payload: its members in order, each value kept as raw
// compact JSON text. Get it from Payload.Object; every change is serialised by Payload.Bytes.
// Values handed to Set must be valid, compact JSON (see AppendString); Set copies them. Values
// returned by Get and Range alias the payload and must not be modified or kept.
type Object struct {
	src    []byte // the payload's (compact) bytes; never modified
	ext    []byte // arena of keys and values added by Set and of decoded escaped keys
	fields []field
	dirty  bool
	seen   uint64 // bloom filter (one bit of each key's hash) of every key ever added
	// scratch holds values the splice path computes before it hands them to Members.Replace or
	// Append (see Members.Scratch); its storage is kept across uses of the pooled Object.
	scratch []byte
	// pieces, when spliced is set, replace fields: the object built by Members is the members in
	// these spans (each one or more whole members, runs of src or "key":value in ext), in order.
	// Only Payload renders such an object; Payload.Object turns it back into an index first.
	spliced  bool
	pieces   []span
	pieceBuf [16]span
	inline   [inlineFields]field
	extBuf   [256]byte // initial storage of ext
}

func (o *Object) bytes(s span) []byte {
	if s.ext {
		return o.ext[s.off : s.off+s.n]
	}
	return o.src[s.off : s.off+s.n]
}

func (o *Object) addExt(b []byte) span {
	if o.ext == nil {
		o.ext = o.extBuf[:0]
	}
	s := span{off: uint32(len(o.ext)), n: uint32(len(b)), ext: true}
	o.ext = append(o.ext, b...)
	return s
}

// keyHash is a fast, constant-time hash of a key: it mixes the length and the first and last eight
// bytes. Equal hashes are confirmed by comparing the keys.
func keyHash(k []byte) uint64 {
	n := len(k)
	var a, b uint64
	switch {
	case n >= 8:
		a, b = binary.LittleEndian.Uint64(k), binary.LittleEndian.Uint64(k[n-8:])
	case n >= 4:
		a, b = uint64(binary.LittleEndian.Uint32(k)), uint64(binary.LittleEndian.Uint32(k[n-4:]))
	case n > 0:
		a = uint64(k[0])<<16 | uint64(k[n/2])<<8 | uint64(k[n-1])
	}
	h := (a^0x9E3779B97F4A7C15)*0xBF58476D1CE4E5B9 ^ (b+uint64(n))*0x94D049BB133111EB
	return h ^ h>>31
}

var objectPool = sync.Pool{New: func() any { return new(Object) }}

// newObject returns an empty index over the compact JSON object src.
func newObject(src []byte) *Object {
	o := objectPool.Get().(*Object)
	o.src, o.ext, o.fields, o.dirty, o.seen = src, nil, o.inline[:0], false, 0
	o.spliced, o.pieces = false, nil
	return o
}

// releaseObject puts o back into the pool; o must not be used afterwards.
func releaseObject(o *Object) {
	o.src, o.ext, o.fields, o.pieces = nil, nil, nil, nil
	objectPool.Put(o)
}

// add appends a member found in src, collapsing a duplicate key into its first occurrence (with the
// later value).
func (o *Object) add(f field) {
	bit := uint64(1) << (f.hash >> 58)
	if o.seen&bit != 0 {
		for j := range o.fields {
			if o.fields[j].hash == f.hash && bytes.Equal(o.bytes(o.fields[j].key), o.bytes(f.key)) {
				o.fields[j].val = f.val
				return
			}
		}
	}
	o.seen |= bit
	o.fields = append(o.fields, f)
}

// member records the member whose key literal is src[ks:ke] and value src[vs:ve].
func (o *Object) member(ks, ke, vs, ve int, escaped bool) {
	f := field{
		keyJSON: span{off: uint32(ks), n: uint32(ke - ks)},
		key:     span{off: uint32(ks + 1), n: uint32(ke - ks - 2)},
		val:     span{off: uint32(vs), n: uint32(ve - vs)},
	}
	if escaped {
		f.key = o.addExt(unquoteJSON(o.src[ks:ke]))
	}
	f.hash = keyHash(o.bytes(f.key))
	o.add(f)
}

// indexObject indexes the top level of the valid, compact JSON object b.
func indexObject(b []byte) *Object {
	o := newObject(b)
	i := 1
	if b[i] == '}' {
		return o
	}
	for {
		end, escaped := skipString(b, i)
		vEnd := skipValue(b, end+1)
		o.member(i, end, end+1, vEnd, escaped)
		i = vEnd
		if b[i] == '}' {
			return o
		}
		i++ // ','
	}
}

// Len returns the number of members.
func (o *Object) Len() int { return len(o.fields) }

func (o *Object) find(k Key) int {
	if o.seen&(uint64(1)<<(k.hash>>58)) == 0 {
		return -1 // no key with this fingerprint was ever added
	}
	for i := range o.fields {
		if o.fields[i].hash == k.hash && string(o.bytes(o.fields[i].key)) == k.name {
			return i
		}
	}
	return -1
}

// Has reports whether the object has key k.
func (o *Object) Has(k Key) bool { return o.find(k) >= 0 }

// Get returns the raw JSON value of key k.
func (o *Object) Get(k Key) (raw []byte, ok bool) {
	if i := o.find(k); i >= 0 {
		return o.bytes(o.fields[i].val), true
	}
	return nil, false
}

// Set sets key k to a copy of the raw JSON value raw, replacing the value in place when the key
// exists and appending the key otherwise. raw must be valid compact JSON; Set does not check it.
func (o *Object) Set(k Key, raw []byte) {
	o.dirty = true
	v := o.addExt(raw)
	if i := o.find(k); i >= 0 {
		o.fields[i].val = v
		return
	}
	kj := o.addExt(k.quoted)
	key := kj
	if len(k.quoted) == len(k.name)+2 { // no escapes: the name is inside the literal
		key = span{off: kj.off + 1, n: kj.n - 2, ext: true}
	} else {
		key = o.addExt([]byte(k.name))
	}
	o.seen |= uint64(1) << (k.hash >> 58)
	o.fields = append(o.fields, field{hash: k.hash, key: key, keyJSON: kj, val: v})
}

// Delete removes key k, keeping the order of the other members. It reports whether k was present.
func (o *Object) Delete(k Key) bool {
	i := o.find(k)
	if i < 0 {
		return false
	}
	o.fields = append(o.fields[:i], o.fields[i+1:]...)
	o.dirty = true
	return true
}

// Retain keeps the members for which keep returns true, in order. keep receives the decoded key and
// the raw value; neither may be modified or kept.
func (o *Object) Retain(keep func(key, raw []byte) bool) {
	fs := o.fields
	n := 0
	for i := range fs {
		f := &fs[i]
		if keep(o.bytes(f.key), o.bytes(f.val)) {
			if n != i {
				fs[n] = *f
			}
			n++
		}
	}
	if n != len(o.fields) {
		o.fields = o.fields[:n]
		o.dirty = true
	}
}

// Range calls fn for every member in order until fn returns false. fn must not modify the object.
func (o *Object) Range(fn func(key, raw []byte) bool) {
	for _, f := range o.fields {
		if !fn(o.bytes(f.key), o.bytes(f.val)) {
			return
		}
	}
}

func (o *Object) size() int {
	n := 2
	if o.spliced {
		for _, pc := range o.pieces {
			n += int(pc.n) + 1
		}
		return n
	}
	for _, f := range o.fields {
		n += int(f.keyJSON.n+f.val.n) + 2
	}
	return n
}

// appendJSON serialises the object. Runs of members that are still adjacent in src (with the comma
// between them) are copied with one copy each.
func (o *Object) appendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	if o.spliced {
		for i, pc := range o.pieces {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, o.bytes(pc)...)
		}
		return append(dst, '}')
	}
	runStart, runEnd := uint32(0), uint32(0) // pending run src[runStart:runEnd]; empty when equal
	first := true
	flush := func() {
		if runEnd > runStart {
			if !first {
				dst = append(dst, ',')
			}
			dst = append(dst, o.src[runStart:runEnd]...)
			first = false
			runStart, runEnd = 0, 0
		}
	}
	for _, f := range o.fields {
		if !f.keyJSON.ext && !f.val.ext && f.val.off == f.keyJSON.off+f.keyJSON.n+1 {
			start, end := f.keyJSON.off, f.val.off+f.val.n
			if runEnd > runStart && start == runEnd+1 {
				runEnd = end
				continue
			}
			flush()
			runStart, runEnd = start, end
			continue
		}
		flush()
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, o.bytes(f.keyJSON)...)
		dst = append(dst, ':')
		dst = append(dst, o.bytes(f.val)...)
	}
	flush()
	return append(dst, '}')
}
