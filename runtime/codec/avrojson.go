package codec

import (
	"math"
	"strconv"

	"github.com/hamba/avro/v2"
)

// rawAvroWriter is the Avro encoder's fast path: it walks the bytes of valid, compact JSON (a
// payload's) along the schema instead of decoding them into Go values first. It follows the same
// mapping and reports the same errors as avroWriter, which it embeds for the path and for field
// defaults (Go values from the parsed schema). Map entries are written in document order.
type rawAvroWriter struct {
	avroWriter
}

// rawMember is one member of a JSON object: the unquoted key and the raw value.
type rawMember struct {
	key, val []byte
}

// rawMembers lists the members of the compact JSON object b, appending to ms.
func rawMembers(ms []rawMember, b []byte) []rawMember {
	i := 1
	for b[i] != '}' {
		kEnd, _ := skipString(b, i)
		key := unquoteJSON(b[i:kEnd])
		vStart := kEnd + 1 // ':'
		vEnd := skipValue(b, vStart)
		ms = append(ms, rawMember{key: key, val: b[vStart:vEnd]})
		i = vEnd
		if b[i] == ',' {
			i++
		}
	}
	return ms
}

// lastWins drops members whose key comes again later (the last value wins, as with encoding/json),
// keeping document order otherwise.
func lastWins(ms []rawMember) []rawMember {
	if len(ms) < 2 {
		return ms
	}
	last := make(map[string]int, len(ms))
	for i, m := range ms {
		last[string(m.key)] = i
	}
	if len(last) == len(ms) {
		return ms
	}
	out := ms[:0]
	for i, m := range ms {
		if last[string(m.key)] == i {
			out = append(out, m)
		}
	}
	return out
}

// rawElements calls f with each element of the compact JSON array b.
func rawElements(b []byte, f func(i int, v []byte) error) error {
	n := 0
	for i := 1; b[i] != ']'; n++ {
		end := skipValue(b, i)
		if err := f(n, b[i:end]); err != nil {
			return err
		}
		i = end
		if b[i] == ',' {
			i++
		}
	}
	return nil
}

// describeRaw names a raw JSON value in errors, as describeJSON does for decoded ones.
func describeRaw(b []byte) string {
	switch b[0] {
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	case '"':
		s := string(unquoteJSON(b))
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return "the string " + strconv.Quote(s)
	case '[':
		return "an array"
	case '{':
		return "an object"
	}
	return "the number " + string(b)
}

func (w *rawAvroWriter) rchild(dst []byte, seg avroSeg, s avro.Schema, b []byte) ([]byte, error) {
	if len(w.path) >= maxAvroDepth {
		err := w.errf("nested more than %d levels deep", maxAvroDepth)
		err.(*avroWriteError).depth++
		return nil, err
	}
	w.path = append(w.path, seg)
	dst, err := w.raw(dst, s, b)
	w.path = w.path[:len(w.path)-1]
	return dst, err
}

// rawBytes returns the bytes of a bytes/fixed value: a string of code points up to U+00FF or an
// array of integers 0..255.
func (w *rawAvroWriter) rawBytes(b []byte) ([]byte, error) {
	switch b[0] {
	case '"':
		s := unquoteJSON(b)
		out := make([]byte, 0, len(s))
		for _, r := range string(s) {
			if r > 0xff {
				return nil, w.errf("bytes are written as a string of code points U+0000..U+00FF (or an array of 0..255), got %q", r)
			}
			out = append(out, byte(r))
		}
		return out, nil
	case '[':
		var out []byte
		err := rawElements(b, func(i int, v []byte) error {
			x, err := strconv.ParseUint(string(v), 10, 8)
			if err != nil {
				return w.errf("bytes array element %d is %s, not an integer 0..255", i, describeRaw(v))
			}
			out = append(out, byte(x))
			return nil
		})
		return out, err
	}
	return nil, w.errf("expected bytes (a string or an array of 0..255), got %s", describeRaw(b))
}

// rawInt parses a JSON integer token of at most bits bits; ok is false for anything else (a
// fraction, an exponent, not a number), rangeErr when it does not fit.
func rawInt(b []byte, bits uint) (v int64, ok, rangeErr bool) {
	i, neg := 0, false
	if len(b) > 0 && b[0] == '-' {
		i, neg = 1, true
	}
	if i == len(b) {
		return 0, false, false
	}
	limit := uint64(1) << (bits - 1) // magnitude bound: 2^(bits-1) for negatives, one less otherwise
	var u uint64
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false, false
		}
		if u > (math.MaxUint64-9)/10 {
			rangeErr = true
			continue
		}
		u = u*10 + uint64(c-'0')
	}
	if rangeErr || u > limit || (!neg && u == limit) {
		return 0, true, true
	}
	if neg {
		return -int64(u-1) - 1, true, false
	}
	return int64(u), true, false
}

// raw writes the JSON value b (valid, compact) as a datum of s.
func (w *rawAvroWriter) raw(dst []byte, s avro.Schema, b []byte) ([]byte, error) {
	switch s := s.(type) {
	case *avro.RefSchema:
		return w.raw(dst, s.Schema(), b)
	case *avro.NullSchema:
		return w.rawPrimitive(dst, avro.Null, b)
	case *avro.PrimitiveSchema:
		return w.rawPrimitive(dst, s.Type(), b)
	case *avro.FixedSchema:
		v, err := w.rawBytes(b)
		if err != nil {
			return nil, err
		}
		if len(v) != s.Size() {
			return nil, w.errf("fixed %s needs %d bytes, got %d", s.FullName(), s.Size(), len(v))
		}
		return append(dst, v...), nil
	case *avro.EnumSchema:
		if b[0] != '"' {
			return nil, w.errf("expected a symbol of enum %s, got %s", s.FullName(), describeRaw(b))
		}
		sym := unquoteJSON(b)
		for i, name := range s.Symbols() {
			if name == string(sym) {
				return appendLong(dst, int64(i)), nil
			}
		}
		return w.avroWriter.value(dst, s, string(sym)) // the error message
	case *avro.ArraySchema:
		if b[0] != '[' {
			return nil, w.errf("expected an array, got %s", describeRaw(b))
		}
		n := 0
		_ = rawElements(b, func(int, []byte) error { n++; return nil })
		if n > 0 {
			dst = appendLong(dst, int64(n))
			err := rawElements(b, func(i int, v []byte) error {
				var err error
				dst, err = w.rchild(dst, indexSeg(i), s.Items(), v)
				return err
			})
			if err != nil {
				return nil, err
			}
		}
		return append(dst, 0), nil
	case *avro.MapSchema:
		if b[0] != '{' {
			return nil, w.errf("expected an object (a map), got %s", describeRaw(b))
		}
		var buf [16]rawMember
		ms := lastWins(rawMembers(buf[:0], b))
		if len(ms) > 0 {
			dst = appendLong(dst, int64(len(ms)))
			for _, m := range ms {
				dst = appendLong(dst, int64(len(m.key)))
				dst = append(dst, m.key...)
				var err error
				if dst, err = w.rchild(dst, keySeg(string(m.key)), s.Values(), m.val); err != nil {
					return nil, err
				}
			}
		}
		return append(dst, 0), nil
	case *avro.RecordSchema:
		if b[0] != '{' {
			return nil, w.errf("expected an object (record %s), got %s", s.FullName(), describeRaw(b))
		}
		var buf [16]rawMember
		ms := rawMembers(buf[:0], b)
		for _, f := range s.Fields() {
			var val []byte
			for i := len(ms) - 1; i >= 0; i-- { // of duplicate keys the last wins, as encoding/json
				if string(ms[i].key) == f.Name() {
					val = ms[i].val
					break
				}
			}
			var err error
			if val != nil {
				dst, err = w.rchild(dst, fieldSeg(f.Name()), f.Type(), val)
			} else {
				dst, err = w.avroWriter.field(dst, f, nil, false)
			}
			if err != nil {
				return nil, err
			}
		}
		return dst, nil
	case *avro.UnionSchema:
		var deepest *avroWriteError
		for i, t := range s.Types() {
			out, err := w.raw(appendLong(dst, int64(i)), t, b)
			if err == nil {
				return out, nil
			}
			if we, ok := err.(*avroWriteError); ok && (deepest == nil || we.depth > deepest.depth) {
				deepest = we
			}
		}
		if deepest != nil && deepest.depth > len(w.path) {
			return nil, deepest
		}
		return nil, w.unionErr(s, describeRaw(b))
	}
	return nil, w.errf("unsupported Avro schema type %s", s.Type())
}

func (w *rawAvroWriter) rawPrimitive(dst []byte, t avro.Type, b []byte) ([]byte, error) {
	switch t {
	case avro.Null:
		if b[0] != 'n' {
			return nil, w.errf("expected null, got %s", describeRaw(b))
		}
		return dst, nil
	case avro.Boolean:
		switch b[0] {
		case 't':
			return append(dst, 1), nil
		case 'f':
			return append(dst, 0), nil
		}
		return nil, w.errf("expected a boolean, got %s", describeRaw(b))
	case avro.Int, avro.Long:
		bits := uint(64)
		if t == avro.Int {
			bits = 32
		}
		v, ok, rangeErr := rawInt(b, bits)
		switch {
		case rangeErr:
			return nil, w.errf("%s out of the %s range", b, t)
		case !ok:
			return nil, w.errf("expected an integer (%s), got %s", t, describeRaw(b))
		}
		return appendLong(dst, v), nil
	case avro.Float, avro.Double:
		if c := b[0]; c != '-' && (c < '0' || c > '9') {
			return nil, w.errf("expected a number (%s), got %s", t, describeRaw(b))
		}
		// The same conversion as the decoded path (a json.Number), so both round alike.
		return w.avroWriter.primitive(dst, t, jsonNumber(b))
	case avro.String:
		if b[0] != '"' {
			return nil, w.errf("expected a string, got %s", describeRaw(b))
		}
		s := unquoteJSON(b)
		dst = appendLong(dst, int64(len(s)))
		return append(dst, s...), nil
	case avro.Bytes:
		v, err := w.rawBytes(b)
		if err != nil {
			return nil, err
		}
		dst = appendLong(dst, int64(len(v)))
		return append(dst, v...), nil
	}
	return nil, w.errf("unsupported Avro type %s", t)
}
