package codec

import "bytes"

// Key is a top-level object key prepared for repeated lookups (build it once, at configuration time).
type Key struct {
	name   string
	b      []byte // name as bytes
	quoted []byte // name as a JSON string literal
}

// NewKey prepares name for use with Object and Payload.Unwrap.
func NewKey(name string) Key {
	return Key{name: name, b: []byte(name), quoted: appendJSONString(nil, name)}
}

// String returns the key's name.
func (k Key) String() string { return k.name }

// field is one member of an Object.
type field struct {
	key     []byte // decoded key
	keyJSON []byte // key as a JSON string literal
	val     []byte // raw, compact JSON value
}

// Object is the top level of a JSON object payload: its members in order, each value kept as raw
// compact JSON text. Get it from Payload.Object; every change is serialised by Payload.Bytes.
// Values handed to Set must be valid, compact JSON (see AppendString and friends); values returned by
// Get and Range alias the payload and must not be modified.
type Object struct {
	fields []field
	dirty  bool
}

// keyBit is a cheap 1-of-64 fingerprint of a key, used to skip the duplicate search for most keys.
func keyBit(k []byte) uint64 {
	if len(k) == 0 {
		return 1
	}
	h := uint(len(k))*0x9E + uint(k[0])*0x3B + uint(k[len(k)-1])*0x1F + uint(k[len(k)/2])
	return 1 << (h & 63)
}

// indexObject indexes the top level of the valid, compact JSON object b.
func indexObject(b []byte) *Object {
	o := &Object{fields: make([]field, 0, 16)}
	var seen uint64
	i := 1
	if b[i] == '}' {
		return o
	}
	for {
		end, escaped := skipString(b, i)
		keyJSON := b[i:end]
		key := keyJSON[1 : len(keyJSON)-1]
		if escaped {
			key = unquoteJSON(keyJSON)
		}
		i = end + 1 // ':'
		vEnd := skipValue(b, i)
		f := field{key: key, keyJSON: keyJSON, val: b[i:vEnd]}
		i = vEnd
		bit := keyBit(key)
		dup := false
		if seen&bit != 0 {
			for j := range o.fields {
				if bytes.Equal(o.fields[j].key, key) {
					o.fields[j].val = f.val
					dup = true
					break
				}
			}
		}
		if !dup {
			seen |= bit
			o.fields = append(o.fields, f)
		}
		if b[i] == '}' {
			return o
		}
		i++ // ','
	}
}

// Len returns the number of members.
func (o *Object) Len() int { return len(o.fields) }

func (o *Object) find(k Key) int {
	for i := range o.fields {
		if string(o.fields[i].key) == k.name {
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
		return o.fields[i].val, true
	}
	return nil, false
}

// Set sets key k to the raw JSON value raw, replacing the value in place when the key exists and
// appending the key otherwise. raw must be valid compact JSON; Set does not check it.
func (o *Object) Set(k Key, raw []byte) {
	o.dirty = true
	if i := o.find(k); i >= 0 {
		o.fields[i].val = raw
		return
	}
	o.fields = append(o.fields, field{key: k.b, keyJSON: k.quoted, val: raw})
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
// the raw value; neither may be modified or retained.
func (o *Object) Retain(keep func(key, raw []byte) bool) {
	n := 0
	for _, f := range o.fields {
		if keep(f.key, f.val) {
			o.fields[n] = f
			n++
		}
	}
	if n != len(o.fields) {
		clear(o.fields[n:])
		o.fields = o.fields[:n]
		o.dirty = true
	}
}

// Range calls fn for every member in order until fn returns false.
func (o *Object) Range(fn func(key, raw []byte) bool) {
	for _, f := range o.fields {
		if !fn(f.key, f.val) {
			return
		}
	}
}

func (o *Object) size() int {
	n := 2
	for _, f := range o.fields {
		n += len(f.keyJSON) + len(f.val) + 2
	}
	return n
}

func (o *Object) appendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	for i, f := range o.fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, f.keyJSON...)
		dst = append(dst, ':')
		dst = append(dst, f.val...)
	}
	return append(dst, '}')
}
