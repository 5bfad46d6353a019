package codec

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/iggy-go/connectors/runtime/codec/reflection"
)

// Limits when reading a buffer. Offsets may point to shared (or the same) tables and strings, so a
// small hostile buffer could otherwise expand into an enormous JSON document.
const (
	maxFBDepth  = 64        // table nesting (FlatBuffers' verifier default)
	maxFBVisits = 1_000_000 // tables and vector elements visited (the verifier's max_tables)
	fbExpansion = 64        // JSON output at most this many times the buffer size, plus 64 KiB
)

// fbReader converts a FlatBuffer to JSON, checking every offset against the buffer.
type fbReader struct {
	s      *fbSchema
	buf    []byte
	out    []byte
	visits int
	maxOut int
}

// visit counts one table or vector element and checks the limits.
func (r *fbReader) visit(pos int) error {
	r.visits++
	if r.visits > maxFBVisits {
		return r.fail(pos, "buffer references more than %d tables and vector elements", maxFBVisits)
	}
	if len(r.out) > r.maxOut {
		return r.fail(pos, "buffer expands to more than %d bytes of JSON (shared offsets?)", r.maxOut)
	}
	return nil
}

type fbErr struct {
	pos int
	msg string
}

func (e *fbErr) Error() string { return e.msg }

func (r *fbReader) fail(pos int, format string, args ...any) error {
	return &fbErr{pos: pos, msg: fmt.Sprintf(format, args...)}
}

func (r *fbReader) need(pos, n int, what string) error {
	if pos < 0 || n < 0 || pos > len(r.buf) || len(r.buf)-pos < n {
		return r.fail(pos, "%s at offset %d (%d bytes) lies outside the %d-byte buffer", what, pos, n, len(r.buf))
	}
	return nil
}

func (r *fbReader) u16(pos int) int { return int(binary.LittleEndian.Uint16(r.buf[pos:])) }
func (r *fbReader) u32(pos int) int { return int(binary.LittleEndian.Uint32(r.buf[pos:])) }

// deref follows the uoffset stored at pos.
func (r *fbReader) deref(pos int, what string) (int, error) {
	if err := r.need(pos, 4, what+" offset"); err != nil {
		return 0, err
	}
	target := pos + r.u32(pos)
	if err := r.need(target, 4, what); err != nil {
		return 0, err
	}
	return target, nil
}

// decodeFlatBuffer converts buf, whose root is s.root, to compact JSON.
func (s *fbSchema) decode(buf []byte) ([]byte, error) {
	r := fbReader{s: s, buf: buf, out: make([]byte, 0, 2*len(buf)+64), maxOut: fbExpansion*len(buf) + 64<<10}
	if len(buf) < 8 {
		return nil, r.fail(0, "a FlatBuffer needs at least 8 bytes, got %d", len(buf))
	}
	root, err := r.deref(0, "root table")
	if err != nil {
		return nil, err
	}
	if err := r.table(s.root, root, 0); err != nil {
		return nil, err
	}
	return r.out, nil
}

func (r *fbReader) table(obj *fbObject, pos, depth int) error {
	if depth >= maxFBDepth {
		return r.fail(pos, "tables nested deeper than %d levels", maxFBDepth)
	}
	if err := r.visit(pos); err != nil {
		return err
	}
	if err := r.need(pos, 4, "table "+obj.name); err != nil {
		return err
	}
	vt := pos - int(int32(binary.LittleEndian.Uint32(r.buf[pos:])))
	if err := r.need(vt, 4, "vtable of "+obj.name); err != nil {
		return err
	}
	vtSize, tSize := r.u16(vt), r.u16(vt+2)
	if vtSize < 4 || vtSize%2 != 0 {
		return r.fail(vt, "vtable of %s has invalid size %d", obj.name, vtSize)
	}
	if err := r.need(vt, vtSize, "vtable of "+obj.name); err != nil {
		return err
	}
	if err := r.need(pos, tSize, "table "+obj.name); err != nil {
		return err
	}
	fieldPos := func(f *fbField) int {
		slot := 4 + 2*f.id
		if slot+2 > vtSize {
			return 0
		}
		if o := r.u16(vt + slot); o != 0 {
			return pos + o
		}
		return 0
	}
	r.out = append(r.out, '{')
	first := true
	sep := func(name string) {
		if !first {
			r.out = append(r.out, ',')
		}
		first = false
		r.out = appendJSONString(r.out, name)
		r.out = append(r.out, ':')
	}
	for _, f := range obj.fields {
		if f.deprecated {
			continue
		}
		fp := fieldPos(f)
		t := f.typ
		switch {
		case isScalar(t.base):
			if fp == 0 {
				if f.optional {
					continue
				}
				sep(f.name)
				r.out = r.appendDefault(r.out, f)
				continue
			}
			size := scalarSize(t.base)
			if err := r.need(fp, size, "field "+obj.name+"."+f.name); err != nil {
				return err
			}
			sep(f.name)
			r.out = r.appendScalar(r.out, t.base, t.index, fp)
		case fp == 0:
			if f.required {
				return r.fail(pos, "required field %s.%s is missing", obj.name, f.name)
			}
		case t.base == reflection.BaseTypeString:
			sep(f.name)
			if err := r.str(fp, obj.name+"."+f.name); err != nil {
				return err
			}
		case t.base == reflection.BaseTypeObj:
			sub := r.s.objects[t.index]
			sep(f.name)
			if sub.isStruct {
				if err := r.need(fp, sub.bytesize, "struct "+obj.name+"."+f.name); err != nil {
					return err
				}
				r.structAt(sub, fp)
				continue
			}
			target, err := r.deref(fp, "table "+obj.name+"."+f.name)
			if err != nil {
				return err
			}
			if err := r.table(sub, target, depth+1); err != nil {
				return err
			}
		case t.base == reflection.BaseTypeUnion:
			typeField := obj.byName[f.name+"_type"]
			if typeField == nil {
				return r.fail(pos, "union %s.%s has no %s_type field", obj.name, f.name, f.name)
			}
			tp := fieldPos(typeField)
			if tp == 0 || r.need(tp, 1, "union type") != nil || r.buf[tp] == 0 {
				continue
			}
			ev := r.s.enums[t.index].byValue[int64(r.buf[tp])]
			if ev == nil || ev.union < 0 {
				return r.fail(tp, "union %s.%s has unknown type %d", obj.name, f.name, r.buf[tp])
			}
			target, err := r.deref(fp, "union "+obj.name+"."+f.name)
			if err != nil {
				return err
			}
			sep(f.name)
			if err := r.table(r.s.objects[ev.union], target, depth+1); err != nil {
				return err
			}
		case t.base == reflection.BaseTypeVector:
			sep(f.name)
			if err := r.vector(obj, f, fp, depth); err != nil {
				return err
			}
		}
	}
	r.out = append(r.out, '}')
	return nil
}

func (r *fbReader) str(fp int, what string) error {
	target, err := r.deref(fp, "string "+what)
	if err != nil {
		return err
	}
	n := r.u32(target)
	if err := r.need(target+4, n, "string "+what); err != nil {
		return err
	}
	r.out = appendJSONString(r.out, string(r.buf[target+4:target+4+n]))
	return nil
}

func (r *fbReader) vector(obj *fbObject, f *fbField, fp, depth int) error {
	what := "vector " + obj.name + "." + f.name
	target, err := r.deref(fp, what)
	if err != nil {
		return err
	}
	n := r.u32(target)
	start := target + 4
	t := f.typ
	var elem int
	var sub *fbObject
	switch {
	case t.element == reflection.BaseTypeObj:
		sub = r.s.objects[t.index]
		elem = 4
		if sub.isStruct {
			elem = sub.bytesize
		}
	case t.element == reflection.BaseTypeString:
		elem = 4
	default:
		elem = scalarSize(t.element)
	}
	if uint64(n)*uint64(elem) > uint64(len(r.buf)) {
		return r.fail(target, "%s claims %d elements, more than the buffer holds", what, n)
	}
	if err := r.need(start, n*elem, what); err != nil {
		return err
	}
	r.out = append(r.out, '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			r.out = append(r.out, ',')
		}
		p := start + i*elem
		if err := r.visit(p); err != nil {
			return err
		}
		switch {
		case sub != nil && sub.isStruct:
			r.structAt(sub, p)
		case sub != nil:
			tp, err := r.deref(p, what+" element")
			if err != nil {
				return err
			}
			if err := r.table(sub, tp, depth+1); err != nil {
				return err
			}
		case t.element == reflection.BaseTypeString:
			if err := r.str(p, obj.name+"."+f.name); err != nil {
				return err
			}
		default:
			r.out = r.appendScalar(r.out, t.element, t.index, p)
		}
	}
	r.out = append(r.out, ']')
	return nil
}

// structAt renders the struct at pos (bounds already checked).
func (r *fbReader) structAt(obj *fbObject, pos int) {
	r.out = append(r.out, '{')
	for i, f := range obj.fields {
		if i > 0 {
			r.out = append(r.out, ',')
		}
		r.out = appendJSONString(r.out, f.name)
		r.out = append(r.out, ':')
		p := pos + f.offset
		t := f.typ
		switch t.base {
		case reflection.BaseTypeObj:
			r.structAt(r.s.objects[t.index], p)
		case reflection.BaseTypeArray:
			r.out = append(r.out, '[')
			var sub *fbObject
			size := scalarSize(t.element)
			if t.element == reflection.BaseTypeObj {
				sub = r.s.objects[t.index]
				size = sub.bytesize
			}
			for j := 0; j < t.fixed; j++ {
				if j > 0 {
					r.out = append(r.out, ',')
				}
				if sub != nil {
					r.structAt(sub, p+j*size)
				} else {
					r.out = r.appendScalar(r.out, t.element, t.index, p+j*size)
				}
			}
			r.out = append(r.out, ']')
		default:
			r.out = r.appendScalar(r.out, t.base, t.index, p)
		}
	}
	r.out = append(r.out, '}')
}

// scalarBits reads the scalar of type t at pos as int64 (integers) or float64.
func (r *fbReader) scalarBits(t reflection.BaseType, pos int) (i int64, u uint64, f float64) {
	b := r.buf[pos:]
	switch t {
	case reflection.BaseTypeBool, reflection.BaseTypeUByte, reflection.BaseTypeUType:
		return int64(b[0]), 0, 0
	case reflection.BaseTypeByte:
		return int64(int8(b[0])), 0, 0
	case reflection.BaseTypeShort:
		return int64(int16(binary.LittleEndian.Uint16(b))), 0, 0
	case reflection.BaseTypeUShort:
		return int64(binary.LittleEndian.Uint16(b)), 0, 0
	case reflection.BaseTypeInt:
		return int64(int32(binary.LittleEndian.Uint32(b))), 0, 0
	case reflection.BaseTypeUInt:
		return int64(binary.LittleEndian.Uint32(b)), 0, 0
	case reflection.BaseTypeLong:
		return int64(binary.LittleEndian.Uint64(b)), 0, 0
	case reflection.BaseTypeULong:
		v := binary.LittleEndian.Uint64(b)
		return int64(v), v, 0
	case reflection.BaseTypeFloat:
		return 0, 0, float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	case reflection.BaseTypeDouble:
		return 0, 0, math.Float64frombits(binary.LittleEndian.Uint64(b))
	}
	return 0, 0, 0
}

func (r *fbReader) appendScalar(dst []byte, t reflection.BaseType, enumIndex int32, pos int) []byte {
	i, u, f := r.scalarBits(t, pos)
	return r.s.appendScalarValue(dst, t, enumIndex, i, u, f)
}

func (r *fbReader) appendDefault(dst []byte, f *fbField) []byte {
	return r.s.appendScalarValue(dst, f.typ.base, f.typ.index, f.defInt, uint64(f.defInt), f.defReal)
}

// appendScalarValue renders a scalar: booleans as true/false, enum values by name when declared,
// floats in the shortest form that round-trips (NaN and infinities, which JSON cannot express, as
// null), integers exactly.
func (s *fbSchema) appendScalarValue(dst []byte, t reflection.BaseType, enumIndex int32, i int64, u uint64, f float64) []byte {
	switch t {
	case reflection.BaseTypeBool:
		return strconv.AppendBool(dst, i != 0)
	case reflection.BaseTypeFloat, reflection.BaseTypeDouble:
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(dst, "null"...)
		}
		bits := 64
		if t == reflection.BaseTypeFloat {
			bits = 32
		}
		return strconv.AppendFloat(dst, f, 'g', -1, bits)
	}
	if e := s.enumOf(t, enumIndex); e != nil {
		if ev := e.byValue[i]; ev != nil {
			return appendJSONString(dst, ev.name)
		}
	}
	if t == reflection.BaseTypeULong {
		return strconv.AppendUint(dst, u, 10)
	}
	return strconv.AppendInt(dst, i, 10)
}
