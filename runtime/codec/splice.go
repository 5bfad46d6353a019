package codec

// Members reads the top-level members of a compact JSON object one at a time, validating the
// object as it goes, and builds from the members the caller keeps, replaces and appends the payload
// a chain of field transforms produces: the splice path of package transform. The result is a list
// of pieces, not an index: a run of adjacent kept members is one piece, copied by Payload.Bytes with
// one copy, never re-rendered; a replaced or appended member is another. When every member is kept
// the payload is its input as it is.
//
// Validation is the json decoder's, byte for byte the same checks (the same scanner), so every
// input the decoder rejects, Members rejects too. Members gives up — Next returns false and Done
// reports false — on anything the splice path does not handle, and the caller then takes the tree
// path (Decoder.Decode, then the transforms on Payload.Object), which produces the decoder's error
// for invalid JSON:
//   - invalid JSON (anywhere, also in members the caller drops);
//   - insignificant whitespace anywhere (the output must be compact; the tree path compacts);
//   - a duplicate top-level key (the tree path collapses duplicates into the first occurrence with
//     the last value, which the one-pass splice cannot do); a 64-bit hash collision between two
//     different keys is treated the same way (harmless: the tree path gives the same result).
//
// Use: Start, then for every Next one of Keep, Drop or Replace, then any Append, then Done. A
// Members is used by one goroutine; the zero value is ready for use and can be reused after Done or
// Abort.
type Members struct {
	s       scanner
	obj     *Object
	i       int // offset of the next member's key, or of the closing '}'
	first   bool
	ks, ke  int // the current member's key literal
	vs, ve  int // and value
	escaped bool
	key     []byte
	hash    uint64
	ok, end bool
	changed bool // a member was dropped, replaced or appended
	// runStart:runEnd is the run of kept members not yet added to the pieces (none when runEnd is 0)
	runStart, runEnd int
	bloom            [8]uint64 // one bit per top-level key hash (512 bits), to find duplicates
	nh               int       // hashes of the keys read so far: the first nh in hashBuf, then more
	more             []uint64
	hashBuf          [64]uint64
}

// Start begins reading b, which must start with '{' (no leading whitespace; anything else reports
// false and the caller takes the tree path). b is aliased by the resulting payload.
func (m *Members) Start(b []byte) bool {
	if len(b) < 2 || b[0] != '{' {
		return false
	}
	m.s = scanner{b: b}
	m.obj = newObject(b)
	m.obj.scratch = m.obj.scratch[:0]
	m.obj.spliced, m.obj.pieces = true, m.obj.pieceBuf[:0]
	m.runEnd, m.changed = 0, false
	m.i, m.first, m.ok, m.end = 1, true, true, false
	m.bloom = [8]uint64{}
	m.nh, m.more = 0, m.more[:0]
	return true
}

func (m *Members) fail() bool {
	m.ok = false
	return false
}

// Next validates the next member and reports whether there is one. After false, Done tells whether
// the whole object was read and valid.
func (m *Members) Next() bool {
	if !m.ok || m.end {
		return false
	}
	s := &m.s
	b := s.b
	i := m.i
	if m.first {
		m.first = false
		if i < len(b) && b[i] == '}' {
			return m.close(i)
		}
	}
	if i >= len(b) || b[i] != '"' {
		return m.fail()
	}
	s.escaped = false
	end, err := s.str(i)
	if err != nil || end >= len(b) || b[end] != ':' {
		return m.fail()
	}
	m.ks, m.ke, m.escaped = i, end, s.escaped
	m.vs = end + 1
	if m.vs < len(b) && b[m.vs] == '"' {
		m.ve, err = s.str(m.vs) // the most common value, without the dispatch
	} else {
		m.ve, err = s.value(m.vs, 1)
	}
	if err != nil || s.ws || m.ve >= len(b) {
		return m.fail()
	}
	if m.escaped {
		m.key = unquoteJSON(b[m.ks:m.ke])
	} else {
		m.key = b[m.ks+1 : m.ke-1]
	}
	h := keyHash(m.key)
	m.hash = h
	w, bit := (h>>55)>>6, uint64(1)<<((h>>55)&63)
	if m.bloom[w]&bit != 0 && m.seenHash(h) {
		return m.fail() // duplicate key (or a hash collision): tree path
	}
	m.bloom[w] |= bit
	if m.nh < len(m.hashBuf) {
		m.hashBuf[m.nh] = h
		m.nh++
	} else {
		m.more = append(m.more, h)
	}
	switch b[m.ve] {
	case ',':
		m.i = m.ve + 1
	case '}':
		m.close(m.ve) // the last member
	default:
		return m.fail()
	}
	return true
}

func (m *Members) seenHash(h uint64) bool {
	for _, x := range m.hashBuf[:m.nh] {
		if x == h {
			return true
		}
	}
	for _, x := range m.more {
		if x == h {
			return true
		}
	}
	return false
}

// close checks that the '}' at b[i] ends the input; it returns false (no further member).
func (m *Members) close(i int) bool {
	m.end = true
	if i+1 != len(m.s.b) {
		m.ok = false
	}
	return false
}

// Key returns the current member's decoded key. It must not be modified or kept.
func (m *Members) Key() []byte { return m.key }

// Value returns the current member's raw, compact JSON value. It must not be modified or kept.
func (m *Members) Value() []byte { return m.s.b[m.vs:m.ve] }

// Scratch returns an arena for values the caller builds for Replace and Append. Append to it; a
// value stays valid (even when a later append moves the arena) until Done or Abort. Its storage is
// reused across payloads.
func (m *Members) Scratch() *[]byte { return &m.obj.scratch }

// KeySet is a set of keys prepared for Members.Find.
type KeySet struct {
	keys  []Key
	bloom uint64 // one bit of each key's hash
}

// NewKeySet prepares keys (their order gives Find's indices).
func NewKeySet(keys []Key) *KeySet {
	ks := &KeySet{keys: keys}
	for _, k := range keys {
		ks.bloom |= uint64(1) << (k.hash >> 58)
	}
	return ks
}

// Find returns the index in ks of the current member's key, or -1.
func (m *Members) Find(ks *KeySet) int {
	if ks.bloom&(uint64(1)<<(m.hash>>58)) == 0 {
		return -1
	}
	for i := range ks.keys {
		if ks.keys[i].hash == m.hash && ks.keys[i].name == string(m.key) {
			return i
		}
	}
	return -1
}

// Keep keeps the current member as it is: it extends the run of kept members that Payload.Bytes
// copies with one copy, or starts one.
func (m *Members) Keep() {
	if m.runEnd == m.ks-1 && m.runEnd > 0 {
		m.runEnd = m.ve
		return
	}
	m.flush()
	m.runStart, m.runEnd = m.ks, m.ve
}

// flush ends the run of kept members.
func (m *Members) flush() {
	if m.runEnd > 0 {
		m.obj.pieces = append(m.obj.pieces, span{off: uint32(m.runStart), n: uint32(m.runEnd - m.runStart)})
		m.runEnd = 0
	}
}

// Replace keeps the current member's key, at its position, with the value raw (valid compact JSON,
// copied).
func (m *Members) Replace(raw []byte) {
	m.flush()
	m.changed = true
	m.addMember(m.s.b[m.ks:m.ke], raw)
}

// Drop leaves the current member out.
func (m *Members) Drop() {
	m.flush()
	m.changed = true
}

func (m *Members) addMember(keyJSON, raw []byte) {
	o := m.obj
	if o.ext == nil {
		o.ext = o.extBuf[:0]
	}
	start := len(o.ext)
	o.ext = append(o.ext, keyJSON...)
	o.ext = append(o.ext, ':')
	o.ext = append(o.ext, raw...)
	o.pieces = append(o.pieces, span{off: uint32(start), n: uint32(len(o.ext) - start), ext: true})
}

// Append adds key k with the value raw (valid compact JSON, copied) after the members read so far.
// k must not be a key kept, replaced or appended before (the caller knows its keys' fates).
func (m *Members) Append(k Key, raw []byte) {
	m.flush()
	m.changed = true
	m.addMember(k.quoted, raw)
}

// Done returns the payload built, reporting false (and releasing what was built) when the object
// was not read to its end or gave up (see Members). The payload's Spliced reports true.
func (m *Members) Done() (Payload, bool) {
	if !m.ok || !m.end {
		m.Abort()
		return Payload{}, false
	}
	p := jsonPayload(m.s.b, true)
	p.spliced = true
	if m.changed {
		m.flush()
		m.obj.dirty = true
		p.obj = m.obj
	} else {
		releaseObject(m.obj) // every member kept: the payload is its input
	}
	m.obj, m.s = nil, scanner{}
	return p, true
}

// Abort releases what was built; use it when stopping before Done.
func (m *Members) Abort() {
	if m.obj != nil {
		releaseObject(m.obj)
	}
	m.obj, m.s, m.ok = nil, scanner{}, false
}
