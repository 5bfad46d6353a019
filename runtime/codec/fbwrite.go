package codec

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/iggy-go/connectors/runtime/codec/reflection"
)

// fbWriter builds a FlatBuffer from a decoded JSON value (encoding/json with UseNumber).
type fbWriter struct {
	s *fbSchema
	b *flatbuffers.Builder
}

// encode builds a buffer whose root is s.root from the JSON object js. Unknown keys, values of the
// wrong type and out-of-range numbers are errors naming the JSON path. null is the same as absent.
func (s *fbSchema) encode(js []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("root table %s needs a JSON object, got %s", s.root.name, jsonTypeName(v))
	}
	w := fbWriter{s: s, b: flatbuffers.NewBuilder(len(js) + 64)}
	root, err := w.table(s.root, m, "$", 0)
	if err != nil {
		return nil, err
	}
	if len(s.ident) == 4 {
		w.b.FinishWithFileIdentifier(root, []byte(s.ident))
	} else {
		w.b.Finish(root)
	}
	return w.b.FinishedBytes(), nil
}

func jsonTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func (w *fbWriter) table(obj *fbObject, m map[string]any, path string, depth int) (flatbuffers.UOffsetT, error) {
	if depth >= maxFBDepth {
		return 0, fmt.Errorf("%s: tables nested deeper than %d levels", path, maxFBDepth)
	}
	for k := range m {
		if f := obj.byName[k]; f == nil || f.deprecated {
			return 0, fmt.Errorf("%s: table %s has no field %q", path, obj.name, k)
		}
	}
	// Children (strings, vectors, tables) are written before the table itself.
	offsets := map[*fbField]flatbuffers.UOffsetT{}
	for _, f := range obj.fields {
		v, present := m[f.name]
		if f.deprecated || !present || v == nil {
			if f.required && !isScalar(f.typ.base) {
				return 0, fmt.Errorf("%s: required field %s.%s is missing", path, obj.name, f.name)
			}
			continue
		}
		fpath := path + "." + f.name
		t := f.typ
		var off flatbuffers.UOffsetT
		var err error
		switch t.base {
		case reflection.BaseTypeString:
			s, ok := v.(string)
			if !ok {
				return 0, fmt.Errorf("%s: want a string, got %s", fpath, jsonTypeName(v))
			}
			off = w.b.CreateString(s)
		case reflection.BaseTypeObj:
			sub := w.s.objects[t.index]
			if sub.isStruct {
				continue // written inline below
			}
			sm, ok := v.(map[string]any)
			if !ok {
				return 0, fmt.Errorf("%s: want an object (table %s), got %s", fpath, sub.name, jsonTypeName(v))
			}
			off, err = w.table(sub, sm, fpath, depth+1)
		case reflection.BaseTypeUnion:
			off, err = w.union(obj, f, m, fpath, depth)
		case reflection.BaseTypeVector:
			off, err = w.vector(f, v, fpath, depth)
		default:
			continue // scalars below
		}
		if err != nil {
			return 0, err
		}
		offsets[f] = off
	}
	w.b.StartObject(obj.maxID + 1)
	for _, f := range obj.fields {
		v, present := m[f.name]
		if f.deprecated || !present || v == nil {
			continue
		}
		fpath := path + "." + f.name
		t := f.typ
		switch {
		case isScalar(t.base):
			if t.base == reflection.BaseTypeUType {
				if _, ok := m[strings.TrimSuffix(f.name, "_type")]; ok {
					continue // written by the union
				}
			}
			if err := w.scalarSlot(f, v, fpath); err != nil {
				return 0, err
			}
		case t.base == reflection.BaseTypeObj && w.s.objects[t.index].isStruct:
			sub := w.s.objects[t.index]
			raw := make([]byte, sub.bytesize)
			if err := w.structBytes(sub, v, raw, fpath); err != nil {
				return 0, err
			}
			w.placeStruct(sub, raw)
			w.b.PrependStructSlot(f.id, w.b.Offset(), 0)
		default:
			if off, ok := offsets[f]; ok {
				w.b.PrependUOffsetTSlot(f.id, off, 0)
			}
		}
	}
	// union type slots
	for _, f := range obj.fields {
		if f.typ.base != reflection.BaseTypeUnion || f.deprecated {
			continue
		}
		if _, ok := offsets[f]; !ok {
			continue
		}
		ev, _ := w.unionType(obj, f, m, path+"."+f.name)
		w.b.PrependByteSlot(obj.byName[f.name+"_type"].id, byte(ev.value), 0)
	}
	return w.b.EndObject(), nil
}

// unionType resolves "<field>_type" of a union field.
func (w *fbWriter) unionType(obj *fbObject, f *fbField, m map[string]any, fpath string) (*fbEnumVal, error) {
	typeField := obj.byName[f.name+"_type"]
	e := w.s.enums[f.typ.index]
	if typeField == nil {
		return nil, fmt.Errorf("%s: union has no %s_type field in the schema", fpath, f.name)
	}
	tv, ok := m[typeField.name]
	if !ok || tv == nil {
		return nil, fmt.Errorf("%s: union value needs %q naming its type (one of %s)", fpath, typeField.name, enumNames(e))
	}
	n, err := w.enumValue(e, tv, fpath+"_type")
	if err != nil {
		return nil, err
	}
	ev := e.byValue[n]
	if ev == nil {
		return nil, fmt.Errorf("%s_type: %v is not a member of union %s", fpath, tv, e.name)
	}
	return ev, nil
}

func (w *fbWriter) union(obj *fbObject, f *fbField, m map[string]any, fpath string, depth int) (flatbuffers.UOffsetT, error) {
	ev, err := w.unionType(obj, f, m, fpath)
	if err != nil {
		return 0, err
	}
	if ev.union < 0 {
		return 0, fmt.Errorf("%s: union type %s carries no value", fpath, ev.name)
	}
	sm, ok := m[f.name].(map[string]any)
	if !ok {
		return 0, fmt.Errorf("%s: want an object (table %s), got %s", fpath, w.s.objects[ev.union].name, jsonTypeName(m[f.name]))
	}
	return w.table(w.s.objects[ev.union], sm, fpath, depth+1)
}

func enumNames(e *fbEnum) string {
	names := make([]string, len(e.values))
	for i, v := range e.values {
		names[i] = v.name
	}
	return strings.Join(names, ", ")
}

func (w *fbWriter) vector(f *fbField, v any, fpath string, depth int) (flatbuffers.UOffsetT, error) {
	arr, ok := v.([]any)
	if !ok {
		return 0, fmt.Errorf("%s: want an array, got %s", fpath, jsonTypeName(v))
	}
	t := f.typ
	n := len(arr)
	switch {
	case t.element == reflection.BaseTypeString:
		offs := make([]flatbuffers.UOffsetT, n)
		for i, e := range arr {
			s, ok := e.(string)
			if !ok {
				return 0, fmt.Errorf("%s[%d]: want a string, got %s", fpath, i, jsonTypeName(e))
			}
			offs[i] = w.b.CreateString(s)
		}
		return w.offsetVector(offs), nil
	case t.element == reflection.BaseTypeObj && !w.s.objects[t.index].isStruct:
		sub := w.s.objects[t.index]
		offs := make([]flatbuffers.UOffsetT, n)
		for i, e := range arr {
			sm, ok := e.(map[string]any)
			if !ok {
				return 0, fmt.Errorf("%s[%d]: want an object (table %s), got %s", fpath, i, sub.name, jsonTypeName(e))
			}
			off, err := w.table(sub, sm, fmt.Sprintf("%s[%d]", fpath, i), depth+1)
			if err != nil {
				return 0, err
			}
			offs[i] = off
		}
		return w.offsetVector(offs), nil
	case t.element == reflection.BaseTypeObj:
		sub := w.s.objects[t.index]
		raws := make([][]byte, n)
		for i, e := range arr {
			raws[i] = make([]byte, sub.bytesize)
			if err := w.structBytes(sub, e, raws[i], fmt.Sprintf("%s[%d]", fpath, i)); err != nil {
				return 0, err
			}
		}
		w.b.StartVector(sub.bytesize, n, sub.minalign)
		for i := n - 1; i >= 0; i-- {
			w.placeStruct(sub, raws[i])
		}
		return w.b.EndVector(n), nil
	default:
		size := scalarSize(t.element)
		raw := make([]byte, size*n)
		for i, e := range arr {
			if err := w.scalarBytes(t.element, t.index, e, raw[i*size:], fmt.Sprintf("%s[%d]", fpath, i)); err != nil {
				return 0, err
			}
		}
		w.b.StartVector(size, n, size)
		for i := len(raw) - 1; i >= 0; i-- {
			w.b.PlaceByte(raw[i])
		}
		return w.b.EndVector(n), nil
	}
}

func (w *fbWriter) offsetVector(offs []flatbuffers.UOffsetT) flatbuffers.UOffsetT {
	w.b.StartVector(4, len(offs), 4)
	for i := len(offs) - 1; i >= 0; i-- {
		w.b.PrependUOffsetT(offs[i])
	}
	return w.b.EndVector(len(offs))
}

// placeStruct writes the little-endian image of a struct at the builder's head.
func (w *fbWriter) placeStruct(obj *fbObject, raw []byte) {
	w.b.Prep(obj.minalign, obj.bytesize)
	for i := len(raw) - 1; i >= 0; i-- {
		w.b.PlaceByte(raw[i])
	}
}

// structBytes fills raw (obj.bytesize bytes, zeroed) with the struct described by the JSON object v.
// Every field of a struct is required.
func (w *fbWriter) structBytes(obj *fbObject, v any, raw []byte, path string) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: want an object (struct %s), got %s", path, obj.name, jsonTypeName(v))
	}
	for k := range m {
		if obj.byName[k] == nil {
			return fmt.Errorf("%s: struct %s has no field %q", path, obj.name, k)
		}
	}
	for _, f := range obj.fields {
		fpath := path + "." + f.name
		fv, ok := m[f.name]
		if !ok || fv == nil {
			return fmt.Errorf("%s: struct field %s.%s is missing (struct fields are required)", fpath, obj.name, f.name)
		}
		t := f.typ
		switch t.base {
		case reflection.BaseTypeObj:
			sub := w.s.objects[t.index]
			if err := w.structBytes(sub, fv, raw[f.offset:f.offset+sub.bytesize], fpath); err != nil {
				return err
			}
		case reflection.BaseTypeArray:
			arr, ok := fv.([]any)
			if !ok {
				return fmt.Errorf("%s: want an array, got %s", fpath, jsonTypeName(fv))
			}
			if len(arr) != t.fixed {
				return fmt.Errorf("%s: want exactly %d elements, got %d", fpath, t.fixed, len(arr))
			}
			size := scalarSize(t.element)
			var sub *fbObject
			if t.element == reflection.BaseTypeObj {
				sub = w.s.objects[t.index]
				size = sub.bytesize
			}
			for i, e := range arr {
				p := f.offset + i*size
				epath := fmt.Sprintf("%s[%d]", fpath, i)
				var err error
				if sub != nil {
					err = w.structBytes(sub, e, raw[p:p+size], epath)
				} else {
					err = w.scalarBytes(t.element, t.index, e, raw[p:], epath)
				}
				if err != nil {
					return err
				}
			}
		default:
			if err := w.scalarBytes(t.base, t.index, fv, raw[f.offset:], fpath); err != nil {
				return err
			}
		}
	}
	return nil
}

// scalarSlot adds a scalar field to the table being built (omitted when equal to its default, unless
// the field is optional).
func (w *fbWriter) scalarSlot(f *fbField, v any, path string) error {
	t := f.typ
	size := scalarSize(t.base)
	var raw [8]byte
	if err := w.scalarBytes(t.base, t.index, v, raw[:], path); err != nil {
		return err
	}
	var def [8]byte
	switch t.base {
	case reflection.BaseTypeFloat:
		binary.LittleEndian.PutUint32(def[:], math.Float32bits(float32(f.defReal)))
	case reflection.BaseTypeDouble:
		binary.LittleEndian.PutUint64(def[:], math.Float64bits(f.defReal))
	default:
		binary.LittleEndian.PutUint64(def[:], uint64(f.defInt))
	}
	if !f.optional && bytes.Equal(raw[:size], def[:size]) {
		return nil
	}
	w.b.Prep(size, 0)
	for i := size - 1; i >= 0; i-- {
		w.b.PlaceByte(raw[i])
	}
	w.b.Slot(f.id)
	return nil
}

// scalarBytes writes the little-endian encoding of the JSON value v as scalar type t into dst.
func (w *fbWriter) scalarBytes(t reflection.BaseType, enumIndex int32, v any, dst []byte, path string) error {
	switch t {
	case reflection.BaseTypeBool:
		switch x := v.(type) {
		case bool:
			if x {
				dst[0] = 1
			} else {
				dst[0] = 0
			}
			return nil
		case json.Number:
			switch x {
			case "0":
				dst[0] = 0
				return nil
			case "1":
				dst[0] = 1
				return nil
			}
		}
		return fmt.Errorf("%s: want a boolean, got %v", path, v)
	case reflection.BaseTypeFloat, reflection.BaseTypeDouble:
		num, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%s: want a number, got %s", path, jsonTypeName(v))
		}
		bits := 64
		if t == reflection.BaseTypeFloat {
			bits = 32
		}
		f, err := strconv.ParseFloat(string(num), bits)
		if err != nil {
			return fmt.Errorf("%s: %s is out of range for a %d-bit float", path, num, bits)
		}
		if bits == 32 {
			binary.LittleEndian.PutUint32(dst, math.Float32bits(float32(f)))
		} else {
			binary.LittleEndian.PutUint64(dst, math.Float64bits(f))
		}
		return nil
	}
	// integers and enums
	var n int64
	var un uint64
	var unsigned bool
	if e := w.s.enumOf(t, enumIndex); e != nil {
		val, err := w.enumValue(e, v, path)
		if err != nil {
			return err
		}
		n, un = val, uint64(val)
		unsigned = t == reflection.BaseTypeULong
	} else {
		num, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%s: want an integer, got %s", path, jsonTypeName(v))
		}
		var err error
		if t == reflection.BaseTypeULong {
			un, err = strconv.ParseUint(string(num), 10, 64)
			unsigned = true
		} else {
			n, err = strconv.ParseInt(string(num), 10, 64)
		}
		if err != nil {
			return fmt.Errorf("%s: %s is not a %s", path, num, intTypeName(t))
		}
	}
	size := scalarSize(t)
	if !unsigned {
		if !intFits(t, n) {
			return fmt.Errorf("%s: %d is out of range for %s", path, n, intTypeName(t))
		}
		un = uint64(n)
	}
	switch size {
	case 1:
		dst[0] = byte(un)
	case 2:
		binary.LittleEndian.PutUint16(dst, uint16(un))
	case 4:
		binary.LittleEndian.PutUint32(dst, uint32(un))
	case 8:
		binary.LittleEndian.PutUint64(dst, un)
	}
	return nil
}

// enumValue resolves a JSON enum value: a declared name or a number.
func (w *fbWriter) enumValue(e *fbEnum, v any, path string) (int64, error) {
	switch x := v.(type) {
	case string:
		if ev := e.byName[x]; ev != nil {
			return ev.value, nil
		}
		return 0, fmt.Errorf("%s: %q is not a value of enum %s (one of %s)", path, x, e.name, enumNames(e))
	case json.Number:
		n, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %s is not a value of enum %s", path, x, e.name)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%s: want a name of enum %s or a number, got %s", path, e.name, jsonTypeName(v))
}

func intTypeName(t reflection.BaseType) string {
	switch t {
	case reflection.BaseTypeByte:
		return "byte (int8)"
	case reflection.BaseTypeUByte, reflection.BaseTypeUType:
		return "ubyte (uint8)"
	case reflection.BaseTypeShort:
		return "short (int16)"
	case reflection.BaseTypeUShort:
		return "ushort (uint16)"
	case reflection.BaseTypeInt:
		return "int (int32)"
	case reflection.BaseTypeUInt:
		return "uint (uint32)"
	case reflection.BaseTypeLong:
		return "long (int64)"
	case reflection.BaseTypeULong:
		return "ulong (uint64)"
	}
	return reflection.EnumNamesBaseType[t]
}

func intFits(t reflection.BaseType, n int64) bool {
	switch t {
	case reflection.BaseTypeByte:
		return n >= math.MinInt8 && n <= math.MaxInt8
	case reflection.BaseTypeUByte, reflection.BaseTypeUType:
		return n >= 0 && n <= math.MaxUint8
	case reflection.BaseTypeShort:
		return n >= math.MinInt16 && n <= math.MaxInt16
	case reflection.BaseTypeUShort:
		return n >= 0 && n <= math.MaxUint16
	case reflection.BaseTypeInt:
		return n >= math.MinInt32 && n <= math.MaxInt32
	case reflection.BaseTypeUInt:
		return n >= 0 && n <= math.MaxUint32
	}
	return true
}
