package codec

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
	"github.com/iggy-go/connectors/abi"
)

// schemaAvro is the stream schema of Avro payloads.
const schemaAvro abi.Schema = "avro"

// Avro support: a payload is one Avro datum in binary encoding (no object container file), written
// with the stream's schema, optionally behind the Confluent wire-format header (magic byte 0, then the
// schema id as a 4-byte big-endian integer). The schema is parsed by github.com/hamba/avro/v2; the
// conversion between the binary encoding and JSON is done here, driven by the parsed schema, so that
// record fields keep their schema order, long values keep every digit, and an error names the field
// where it happened.
//
// JSON mapping (Avro → JSON on decode; JSON → Avro on encode):
//
//	null, boolean, string     null, true/false, a JSON string (strings must be valid UTF-8)
//	int, long                 a JSON integer (range-checked on encode; 3.0 is not an int)
//	float, double             a JSON number; NaN and infinities have no JSON form (decode error)
//	bytes, fixed              a JSON string with one code point U+0000..U+00FF per byte (the Avro
//	                          specification's JSON encoding); encode also takes an array of 0..255
//	enum                      the symbol as a string
//	array, map                a JSON array, a JSON object (encode writes the entries in the object's
//	                          order; of a repeated key the last value, as encoding/json)
//	record                    a JSON object with the fields in schema order; on encode a missing
//	                          field takes its default, else null when the field's type allows null,
//	                          else it is an error; JSON members the record does not declare are ignored
//	union                     the value of the branch, unwrapped (no {"type": value} wrapper); on
//	                          encode the first branch that accepts the value is written
//
// Logical types are carried as their underlying type (timestamp-millis as a long, decimal as bytes).

// maxAvroDepth bounds the nesting of records, arrays and maps (recursive schemas), as the JSON
// decoder bounds JSON nesting.
const maxAvroDepth = 1000

// avroCodec is what an Avro decoder and encoder share: the parsed schema and the framing.
type avroCodec struct {
	schema  avro.Schema
	framed  bool    // Confluent wire format
	header  [5]byte // 0, schema id (big-endian)
	idValue uint32
}

// loadAvro parses the schema named by opts. Errors start with the config key they concern.
func loadAvro(opts Options) (*avroCodec, error) {
	var text []byte
	key := "avro_schema_json"
	switch {
	case opts.AvroSchemaJSON != "" && opts.AvroSchemaPath != "":
		return nil, errors.New("avro_schema_json: set either avro_schema_json or avro_schema_path, not both")
	case opts.AvroSchemaJSON != "":
		text = []byte(opts.AvroSchemaJSON)
	case opts.AvroSchemaPath != "":
		key = "avro_schema_path"
		b, err := readOptionFile(key, opts.AvroSchemaPath)
		if err != nil {
			return nil, err
		}
		text = b
	default:
		return nil, errors.New("avro_schema_path: schema avro needs the writer's schema: set avro_schema_path (an .avsc file) or avro_schema_json")
	}
	s, err := avro.ParseBytesWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		where := ""
		if key == "avro_schema_path" {
			where = fmt.Sprintf("%q: ", opts.AvroSchemaPath)
		}
		return nil, fmt.Errorf("%s: %sinvalid Avro schema: %w", key, where, err)
	}
	c := &avroCodec{schema: s}
	if opts.AvroConfluentSchemaID != 0 {
		c.framed, c.idValue = true, opts.AvroConfluentSchemaID
		binary.BigEndian.PutUint32(c.header[1:], opts.AvroConfluentSchemaID)
	}
	return c, nil
}

// avroDecoder turns Avro datums into JSON payloads.
type avroDecoder struct {
	base
	c *avroCodec
}

func (*avroDecoder) Kind() Kind { return KindJSON }

func (d *avroDecoder) Decode(b []byte) (Payload, error) {
	out, off, err := d.c.toJSON(make([]byte, 0, 2*len(b)+16), b)
	if err != nil {
		return Payload{}, d.err("decode", off, err)
	}
	return jsonPayload(out, true), nil
}

// toJSON appends the JSON form of the datum b to dst. On error it returns the byte offset where
// the problem was found.
func (c *avroCodec) toJSON(dst, b []byte) ([]byte, int, error) {
	start := 0
	if c.framed {
		if len(b) < 5 {
			return nil, 0, fmt.Errorf("truncated Confluent wire-format header: %d bytes, need 5", len(b))
		}
		if b[0] != 0 {
			return nil, 0, fmt.Errorf("not the Confluent wire format: magic byte 0x%02x, want 0x00", b[0])
		}
		if id := binary.BigEndian.Uint32(b[1:5]); id != c.idValue {
			return nil, 1, fmt.Errorf("written with schema id %d, but this stream reads schema id %d (avro_confluent_schema_id)", id, c.idValue)
		}
		start = 5
	}
	r := avroReader{b: b, pos: start}
	out := r.value(dst, c.schema)
	if r.err != nil {
		return nil, r.errPos, r.err
	}
	if r.pos != len(b) {
		return nil, r.pos, fmt.Errorf("%d bytes left after the datum: the payload was not written with this schema", len(b)-r.pos)
	}
	return out, 0, nil
}

// avroSeg is one step of the path to the value being converted: a record field (name), an array
// element (index >= 0) or a map entry (key set). It is rendered only for error messages.
type avroSeg struct {
	name  string
	index int
	key   bool
}

func fieldSeg(name string) avroSeg { return avroSeg{name: name, index: -1} }
func indexSeg(i int) avroSeg       { return avroSeg{index: i} }
func keySeg(k string) avroSeg      { return avroSeg{name: k, index: -1, key: true} }

// avroPath is the position of the value being converted, e.g. field items[2].price.
type avroPath []avroSeg

func (p avroPath) String() string {
	if len(p) == 0 {
		return "the top-level value"
	}
	var b strings.Builder
	b.WriteString("field ")
	for i, s := range p {
		if len(p) > 24 && i >= 8 && i < len(p)-8 {
			if i == 8 {
				fmt.Fprintf(&b, "...(%d more)...", len(p)-16)
			}
			continue
		}
		switch {
		case s.key:
			b.WriteString("[" + strconv.Quote(s.name) + "]")
		case s.index >= 0:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.name)
		}
	}
	return b.String()
}

// avroReader reads one binary datum. The first error stops it (later reads return nothing).
type avroReader struct {
	b      []byte
	pos    int
	path   avroPath
	err    error
	errPos int
}

func (r *avroReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %s", r.path, fmt.Sprintf(format, args...))
		r.errPos = r.pos
	}
}

func (r *avroReader) long() int64 {
	var u uint64
	for shift := uint(0); ; shift += 7 {
		if r.pos >= len(r.b) {
			r.fail("truncated: the payload ends inside a varint")
			return 0
		}
		if shift >= 64 {
			r.fail("invalid varint (longer than 10 bytes)")
			return 0
		}
		c := r.b[r.pos]
		r.pos++
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
	}
	return int64(u>>1) ^ -int64(u&1)
}

func (r *avroReader) take(n int64, what string) []byte {
	if n < 0 {
		r.fail("negative %s length %d", what, n)
		return nil
	}
	if n > int64(len(r.b)-r.pos) {
		r.fail("truncated: %s of %d bytes, but only %d bytes left", what, n, len(r.b)-r.pos)
		return nil
	}
	s := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return s
}

// blockCount reads an array or map block header (a negative count is followed by the block size).
func (r *avroReader) blockCount(item avro.Schema) int64 {
	n := r.long()
	if n < 0 {
		n = -n
		r.long()
	}
	if r.err == nil && n > int64(len(r.b)-r.pos) && !zeroSize(item, 0) {
		r.fail("truncated: a block of %d items, but only %d bytes left", n, len(r.b)-r.pos)
		return 0
	}
	if n > 1<<24 {
		r.fail("a block of %d items is more than this codec accepts", n)
		return 0
	}
	return n
}

// zeroSize reports whether values of s may take no bytes (so item counts cannot be checked against
// the bytes left).
func zeroSize(s avro.Schema, depth int) bool {
	if depth > 32 {
		return true // a (degenerate) recursive record: do not check the count
	}
	switch s := s.(type) {
	case *avro.RefSchema:
		return zeroSize(s.Schema(), depth+1)
	case *avro.NullSchema:
		return true
	case *avro.FixedSchema:
		return s.Size() == 0
	case *avro.RecordSchema:
		for _, f := range s.Fields() {
			if !zeroSize(f.Type(), depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// child reads the part seg of the current value.
func (r *avroReader) child(dst []byte, seg avroSeg, s avro.Schema) []byte {
	if len(r.path) >= maxAvroDepth {
		r.fail("nested more than %d levels deep", maxAvroDepth)
		return dst
	}
	r.path = append(r.path, seg)
	dst = r.value(dst, s)
	r.path = r.path[:len(r.path)-1]
	return dst
}

func (r *avroReader) value(dst []byte, s avro.Schema) []byte {
	if r.err != nil {
		return dst
	}
	switch s := s.(type) {
	case *avro.RefSchema:
		return r.value(dst, s.Schema())
	case *avro.PrimitiveSchema:
		return r.primitive(dst, s.Type())
	case *avro.NullSchema:
		return append(dst, "null"...)
	case *avro.FixedSchema:
		return appendLatin1(dst, r.take(int64(s.Size()), "fixed"))
	case *avro.EnumSchema:
		i := r.long()
		syms := s.Symbols()
		if r.err == nil && (i < 0 || i >= int64(len(syms))) {
			r.fail("enum index %d out of range (enum %s has %d symbols)", i, s.FullName(), len(syms))
			return dst
		}
		if r.err != nil {
			return dst
		}
		return appendJSONString(dst, syms[i])
	case *avro.ArraySchema:
		dst = append(dst, '[')
		n := 0
		for r.err == nil {
			c := r.blockCount(s.Items())
			if c == 0 {
				break
			}
			for ; c > 0 && r.err == nil; c-- {
				if n > 0 {
					dst = append(dst, ',')
				}
				dst = r.child(dst, indexSeg(n), s.Items())
				n++
			}
		}
		return append(dst, ']')
	case *avro.MapSchema:
		dst = append(dst, '{')
		n := 0
		for r.err == nil {
			c := r.blockCount(s.Values())
			if c == 0 {
				break
			}
			for ; c > 0 && r.err == nil; c-- {
				k := r.take(r.long(), "map key")
				if r.err == nil && !utf8.Valid(k) {
					r.fail("map key is not valid UTF-8")
				}
				if r.err != nil {
					break
				}
				if n > 0 {
					dst = append(dst, ',')
				}
				dst = appendJSONString(dst, string(k))
				dst = append(dst, ':')
				dst = r.child(dst, keySeg(string(k)), s.Values())
				n++
			}
		}
		return append(dst, '}')
	case *avro.RecordSchema:
		dst = append(dst, '{')
		for i, f := range s.Fields() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, f.Name())
			dst = append(dst, ':')
			dst = r.child(dst, fieldSeg(f.Name()), f.Type())
		}
		return append(dst, '}')
	case *avro.UnionSchema:
		i := r.long()
		types := s.Types()
		if r.err == nil && (i < 0 || i >= int64(len(types))) {
			r.fail("union branch %d out of range (the union has %d branches)", i, len(types))
		}
		if r.err != nil {
			return dst
		}
		return r.value(dst, types[i])
	}
	r.fail("unsupported Avro schema type %s", s.Type())
	return dst
}

func (r *avroReader) primitive(dst []byte, t avro.Type) []byte {
	switch t {
	case avro.Null:
		return append(dst, "null"...)
	case avro.Boolean:
		b := r.take(1, "boolean")
		if r.err != nil {
			return dst
		}
		switch b[0] {
		case 0:
			return append(dst, "false"...)
		case 1:
			return append(dst, "true"...)
		}
		r.pos--
		r.fail("invalid boolean byte 0x%02x", b[0])
	case avro.Int:
		v := r.long()
		if r.err == nil && (v < math.MinInt32 || v > math.MaxInt32) {
			r.fail("int value %d out of the 32-bit range", v)
		}
		return strconv.AppendInt(dst, v, 10)
	case avro.Long:
		return strconv.AppendInt(dst, r.long(), 10)
	case avro.Float:
		b := r.take(4, "float")
		if r.err != nil {
			return dst
		}
		return r.float(dst, float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), 32)
	case avro.Double:
		b := r.take(8, "double")
		if r.err != nil {
			return dst
		}
		return r.float(dst, math.Float64frombits(binary.LittleEndian.Uint64(b)), 64)
	case avro.String:
		s := r.take(r.long(), "string")
		if r.err == nil && !utf8.Valid(s) {
			r.fail("string is not valid UTF-8")
		}
		if r.err != nil {
			return dst
		}
		return appendJSONString(dst, string(s))
	case avro.Bytes:
		return appendLatin1(dst, r.take(r.long(), "bytes"))
	default:
		r.fail("unsupported Avro type %s", t)
	}
	return dst
}

func (r *avroReader) float(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		r.fail("%v has no JSON representation", f)
		return dst
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// appendLatin1 appends b as a JSON string with one code point per byte.
func appendLatin1(dst, b []byte) []byte {
	rs := make([]rune, len(b))
	for i, c := range b {
		rs[i] = rune(c)
	}
	return appendJSONString(dst, string(rs))
}

// avroEncoder turns JSON payloads into Avro datums.
type avroEncoder struct {
	base
	c *avroCodec
}

// Encode: KindJSON, and KindText holding JSON, are converted with the schema; KindRaw must already
// be a datum of the schema (in the stream's framing) and is passed on as is; other kinds are errors.
func (e *avroEncoder) Encode(p *Payload) ([]byte, error) {
	switch p.kind {
	case KindRaw:
		if _, off, err := e.c.toJSON(nil, p.data); err != nil {
			return nil, e.errf("encode", off, "raw payload is not an Avro datum of the stream's schema: %w", err)
		}
		return p.data, nil
	case KindJSON, KindText:
	default:
		return nil, e.errf("encode", -1, "a %s payload cannot be encoded as Avro (json, text holding JSON, or raw Avro)", p.kind)
	}
	js := p.Bytes()
	if p.kind == KindText {
		compact, err := validateJSON(js)
		if err != nil {
			return nil, e.errf("encode", errPos(err), "text payload is not JSON: %w", err)
		}
		if !compact {
			js = appendCompact(make([]byte, 0, len(js)), js)
		}
	}
	var out []byte
	if e.c.framed {
		out = append(make([]byte, 0, len(js)+5), e.c.header[:]...)
	} else {
		out = make([]byte, 0, len(js))
	}
	var w rawAvroWriter
	out, err := w.raw(out, e.c.schema, js)
	if err != nil {
		return nil, e.err("encode", -1, err)
	}
	return out, nil
}

// encodeDecoded is the reference encoder the fast path is tested against: it decodes the JSON into
// Go values (encoding/json, UseNumber) and writes them with avroWriter.
func encodeDecoded(s avro.Schema, js []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var w avroWriter
	return w.value(nil, s, v)
}

// avroWriter writes JSON values (decoded with UseNumber) as binary Avro.
type avroWriter struct {
	path avroPath
}

// avroWriteError is an encoding error at a depth of the value (for choosing among union branches).
type avroWriteError struct {
	depth int
	msg   string
}

func (e *avroWriteError) Error() string { return e.msg }

func (w *avroWriter) errf(format string, args ...any) error {
	return &avroWriteError{depth: len(w.path), msg: fmt.Sprintf("%s: %s", w.path, fmt.Sprintf(format, args...))}
}

func appendLong(dst []byte, v int64) []byte {
	return binary.AppendUvarint(dst, uint64(v<<1)^uint64(v>>63))
}

func describeJSON(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + string(v)
	case string:
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return "the string " + strconv.Quote(v)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// number returns v as a JSON number; field defaults from the schema come as Go numbers.
func number(v any) (json.Number, bool) {
	switch n := v.(type) {
	case json.Number:
		return n, true
	case int:
		return json.Number(strconv.Itoa(n)), true
	case int32:
		return json.Number(strconv.FormatInt(int64(n), 10)), true
	case int64:
		return json.Number(strconv.FormatInt(n, 10)), true
	case float32:
		return json.Number(strconv.FormatFloat(float64(n), 'g', -1, 32)), true
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return json.Number(strconv.FormatInt(int64(n), 10)), true
		}
		return json.Number(strconv.FormatFloat(n, 'g', -1, 64)), true
	}
	return "", false
}

// byteString returns the bytes of a bytes/fixed value: a string of code points up to U+00FF, an
// array of integers 0..255, or []byte (schema defaults).
func (w *avroWriter) byteString(v any) ([]byte, error) {
	switch v := v.(type) {
	case []byte:
		return v, nil
	case string:
		out := make([]byte, 0, len(v))
		for _, r := range v {
			if r > 0xff {
				return nil, w.errf("bytes are written as a string of code points U+0000..U+00FF (or an array of 0..255), got %q", r)
			}
			out = append(out, byte(r))
		}
		return out, nil
	case []any:
		out := make([]byte, len(v))
		for i, e := range v {
			n, ok := number(e)
			x, err := strconv.ParseUint(string(n), 10, 8)
			if !ok || err != nil {
				return nil, w.errf("bytes array element %d is %s, not an integer 0..255", i, describeJSON(e))
			}
			out[i] = byte(x)
		}
		return out, nil
	}
	return nil, w.errf("expected bytes (a string or an array of 0..255), got %s", describeJSON(v))
}

// child writes v, the part seg of the current value.
func (w *avroWriter) child(dst []byte, seg avroSeg, s avro.Schema, v any) ([]byte, error) {
	if len(w.path) >= maxAvroDepth {
		err := w.errf("nested more than %d levels deep", maxAvroDepth)
		err.(*avroWriteError).depth++ // inside the value, so a union reports it
		return nil, err
	}
	w.path = append(w.path, seg)
	dst, err := w.value(dst, s, v)
	w.path = w.path[:len(w.path)-1]
	return dst, err
}

func (w *avroWriter) value(dst []byte, s avro.Schema, v any) ([]byte, error) {
	switch s := s.(type) {
	case *avro.RefSchema:
		return w.value(dst, s.Schema(), v)
	case *avro.PrimitiveSchema:
		return w.primitive(dst, s.Type(), v)
	case *avro.NullSchema:
		return w.primitive(dst, avro.Null, v)
	case *avro.FixedSchema:
		b, err := w.byteString(v)
		if err != nil {
			return nil, err
		}
		if len(b) != s.Size() {
			return nil, w.errf("fixed %s needs %d bytes, got %d", s.FullName(), s.Size(), len(b))
		}
		return append(dst, b...), nil
	case *avro.EnumSchema:
		str, ok := v.(string)
		if !ok {
			return nil, w.errf("expected a symbol of enum %s, got %s", s.FullName(), describeJSON(v))
		}
		for i, sym := range s.Symbols() {
			if sym == str {
				return appendLong(dst, int64(i)), nil
			}
		}
		return nil, w.errf("%q is not a symbol of enum %s (%s)", str, s.FullName(), strings.Join(s.Symbols(), ", "))
	case *avro.ArraySchema:
		arr, ok := v.([]any)
		if !ok {
			return nil, w.errf("expected an array, got %s", describeJSON(v))
		}
		if len(arr) > 0 {
			dst = appendLong(dst, int64(len(arr)))
			for i, e := range arr {
				var err error
				if dst, err = w.child(dst, indexSeg(i), s.Items(), e); err != nil {
					return nil, err
				}
			}
		}
		return append(dst, 0), nil
	case *avro.MapSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, w.errf("expected an object (a map), got %s", describeJSON(v))
		}
		if len(m) > 0 {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			dst = appendLong(dst, int64(len(m)))
			for _, k := range keys {
				dst = appendLong(dst, int64(len(k)))
				dst = append(dst, k...)
				var err error
				if dst, err = w.child(dst, keySeg(k), s.Values(), m[k]); err != nil {
					return nil, err
				}
			}
		}
		return append(dst, 0), nil
	case *avro.RecordSchema:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, w.errf("expected an object (record %s), got %s", s.FullName(), describeJSON(v))
		}
		for _, f := range s.Fields() {
			fv, present := m[f.Name()]
			var err error
			if dst, err = w.field(dst, f, fv, present); err != nil {
				return nil, err
			}
		}
		return dst, nil
	case *avro.UnionSchema:
		// When no branch accepts the value, the error from deepest inside it is the useful one
		// (a branch of the right shape with a bad member); otherwise say no branch fits.
		var deepest *avroWriteError
		for i, t := range s.Types() {
			out, err := w.value(appendLong(dst, int64(i)), t, v)
			if err == nil {
				return out, nil
			}
			var we *avroWriteError
			if errors.As(err, &we) && (deepest == nil || we.depth > deepest.depth) {
				deepest = we
			}
		}
		if deepest != nil && deepest.depth > len(w.path) {
			return nil, deepest
		}
		return nil, w.unionErr(s, describeJSON(v))
	}
	return nil, w.errf("unsupported Avro schema type %s", s.Type())
}

// field writes record field f: v when present, else its default, else null when its type allows
// null; otherwise it is an error.
func (w *avroWriter) field(dst []byte, f *avro.Field, v any, present bool) ([]byte, error) {
	if !present {
		switch {
		case f.HasDefault():
			v = f.Default()
		case allowsNull(f.Type()):
			v = nil
		default:
			w.path = append(w.path, fieldSeg(f.Name()))
			err := w.errf("missing (the field has no default and its type %s does not allow null)", typeName(f.Type()))
			w.path = w.path[:len(w.path)-1]
			return nil, err
		}
	}
	return w.child(dst, fieldSeg(f.Name()), f.Type(), v)
}

// unionErr says that no branch of union s accepts the value described by desc.
func (w *avroWriter) unionErr(s *avro.UnionSchema, desc string) error {
	names := make([]string, len(s.Types()))
	for i, t := range s.Types() {
		names[i] = typeName(t)
	}
	return w.errf("no branch of the union [%s] accepts %s", strings.Join(names, ", "), desc)
}

// jsonNumber is the number token b as a json.Number.
func jsonNumber(b []byte) json.Number { return json.Number(b) }

func allowsNull(s avro.Schema) bool {
	switch s := s.(type) {
	case *avro.NullSchema:
		return true
	case *avro.UnionSchema:
		for _, t := range s.Types() {
			if t.Type() == avro.Null {
				return true
			}
		}
	}
	return false
}

func typeName(s avro.Schema) string {
	switch s := s.(type) {
	case avro.NamedSchema:
		return s.FullName()
	case *avro.RefSchema:
		return s.Schema().FullName()
	}
	return string(s.Type())
}

func (w *avroWriter) primitive(dst []byte, t avro.Type, v any) ([]byte, error) {
	switch t {
	case avro.Null:
		if v != nil {
			return nil, w.errf("expected null, got %s", describeJSON(v))
		}
		return dst, nil
	case avro.Boolean:
		b, ok := v.(bool)
		if !ok {
			return nil, w.errf("expected a boolean, got %s", describeJSON(v))
		}
		if b {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	case avro.Int, avro.Long:
		n, ok := number(v)
		bits := 64
		if t == avro.Int {
			bits = 32
		}
		if !ok {
			return nil, w.errf("expected an integer (%s), got %s", t, describeJSON(v))
		}
		x, err := strconv.ParseInt(string(n), 10, bits)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return nil, w.errf("%s out of the %s range", n, t)
			}
			return nil, w.errf("expected an integer (%s), got %s", t, describeJSON(v))
		}
		return appendLong(dst, x), nil
	case avro.Float, avro.Double:
		n, ok := number(v)
		if !ok {
			return nil, w.errf("expected a number (%s), got %s", t, describeJSON(v))
		}
		if t == avro.Float {
			f, err := strconv.ParseFloat(string(n), 32)
			if err != nil {
				return nil, w.errf("%s does not fit a float", n)
			}
			return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(f))), nil
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return nil, w.errf("%s does not fit a double", n)
		}
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f)), nil
	case avro.String:
		str, ok := v.(string)
		if !ok {
			return nil, w.errf("expected a string, got %s", describeJSON(v))
		}
		dst = appendLong(dst, int64(len(str)))
		return append(dst, str...), nil
	case avro.Bytes:
		b, err := w.byteString(v)
		if err != nil {
			return nil, err
		}
		dst = appendLong(dst, int64(len(b)))
		return append(dst, b...), nil
	}
	return nil, w.errf("unsupported Avro type %s", t)
}
