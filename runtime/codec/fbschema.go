package codec

import (
	"fmt"
	"sort"

	"github.com/iggy-go/connectors/runtime/codec/reflection"
)

// FlatBuffers support driven by a binary schema (.bfbs).
//
// Supported: tables, structs (including nested structs and fixed-size arrays of scalars or structs
// inside structs), all scalar types, enums (written and read by name; numbers accepted on input),
// strings, vectors of scalars, enums, strings, structs and tables, nested tables, and unions of
// tables (JSON field "<name>_type" holds the member's name, "<name>" its table, as flatc does).
// Not supported (rejected when the schema is loaded, naming the field): vectors of unions, unions
// whose members are structs or strings, 64-bit offsets (vector64, offset64), and fixed-size arrays
// outside structs. bit_flags enums are read and written as numbers unless the value is a single
// declared name. Nested flatbuffers and flexbuffers fields are plain [ubyte] vectors.

type fbType struct {
	base    reflection.BaseType
	element reflection.BaseType
	index   int32
	fixed   int // fixed_length of arrays
}

type fbField struct {
	name       string
	id         int
	offset     int // vtable offset (tables) or byte offset (structs)
	typ        fbType
	defInt     int64
	defReal    float64
	deprecated bool
	required   bool
	optional   bool // scalar with a null default
}

type fbObject struct {
	name     string
	isStruct bool
	minalign int
	bytesize int
	fields   []*fbField // by id for tables, by offset for structs
	byName   map[string]*fbField
	maxID    int
}

type fbEnumVal struct {
	name  string
	value int64
	union int32 // object index of a union member, -1 for NONE
}

type fbEnum struct {
	name       string
	isUnion    bool
	underlying reflection.BaseType
	values     []fbEnumVal
	byName     map[string]*fbEnumVal
	byValue    map[int64]*fbEnumVal
}

type fbSchema struct {
	path    string
	objects []*fbObject
	enums   []*fbEnum
	root    *fbObject
	ident   string
}

// scalarSize is the size in bytes of a scalar base type (0 for others).
func scalarSize(t reflection.BaseType) int {
	switch t {
	case reflection.BaseTypeUType, reflection.BaseTypeBool, reflection.BaseTypeByte, reflection.BaseTypeUByte:
		return 1
	case reflection.BaseTypeShort, reflection.BaseTypeUShort:
		return 2
	case reflection.BaseTypeInt, reflection.BaseTypeUInt, reflection.BaseTypeFloat:
		return 4
	case reflection.BaseTypeLong, reflection.BaseTypeULong, reflection.BaseTypeDouble:
		return 8
	}
	return 0
}

func isScalar(t reflection.BaseType) bool { return scalarSize(t) > 0 }

func loadFlatBufferSchema(opts Options) (*fbSchema, error) {
	raw, err := readOptionFile("flatbuffer_schema", opts.FlatBufferSchema)
	if err != nil {
		return nil, err
	}
	s, err := parseBFBS(raw)
	if err != nil {
		return nil, fmt.Errorf("flatbuffer_schema %q: %w", opts.FlatBufferSchema, err)
	}
	s.path = opts.FlatBufferSchema
	if opts.FlatBufferRootTable != "" {
		s.root = nil
		for _, o := range s.objects {
			if o.name == opts.FlatBufferRootTable {
				s.root = o
			}
		}
		if s.root == nil {
			return nil, fmt.Errorf("flatbuffer_root_table %q: no such table in %q", opts.FlatBufferRootTable, opts.FlatBufferSchema)
		}
		if s.root.isStruct {
			return nil, fmt.Errorf("flatbuffer_root_table %q: is a struct, a root must be a table", opts.FlatBufferRootTable)
		}
	}
	if s.root == nil {
		return nil, fmt.Errorf("flatbuffer_schema %q declares no root_type: set flatbuffer_root_table", opts.FlatBufferSchema)
	}
	return s, nil
}

// parseBFBS reads a binary schema. The generated reflection accessors panic on malformed input, so a
// panic is turned into an error.
func parseBFBS(raw []byte) (s *fbSchema, err error) {
	if len(raw) < 8 || string(raw[4:8]) != "BFBS" {
		return nil, fmt.Errorf("not a binary FlatBuffers schema (no BFBS identifier; write it with flatc --binary --schema)")
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("malformed binary schema: %v", r)
		}
	}()
	rs := reflection.GetRootAsSchema(raw, 0)
	s = &fbSchema{ident: string(rs.FileIdent())}
	var o reflection.Object
	for i := 0; i < rs.ObjectsLength(); i++ {
		rs.Objects(&o, i)
		s.objects = append(s.objects, readObject(&o))
	}
	var e reflection.Enum
	for i := 0; i < rs.EnumsLength(); i++ {
		rs.Enums(&e, i)
		s.enums = append(s.enums, readEnum(&e))
	}
	var root reflection.Object
	if rs.RootTable(&root) != nil {
		name := string(root.Name())
		for _, obj := range s.objects {
			if obj.name == name {
				s.root = obj
			}
		}
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return s, nil
}

func readType(t *reflection.Type) fbType {
	return fbType{base: t.BaseType(), element: t.Element(), index: t.Index(), fixed: int(t.FixedLength())}
}

func readObject(o *reflection.Object) *fbObject {
	obj := &fbObject{
		name: string(o.Name()), isStruct: o.IsStruct(),
		minalign: int(o.Minalign()), bytesize: int(o.Bytesize()),
		byName: map[string]*fbField{}, maxID: -1,
	}
	var f reflection.Field
	var t reflection.Type
	for i := 0; i < o.FieldsLength(); i++ {
		o.Fields(&f, i)
		fld := &fbField{
			name: string(f.Name()), id: int(f.Id()), offset: int(f.Offset()),
			typ: readType(f.Type(&t)), defInt: f.DefaultInteger(), defReal: f.DefaultReal(),
			deprecated: f.Deprecated(), required: f.Required(), optional: f.Optional(),
		}
		obj.fields = append(obj.fields, fld)
		obj.byName[fld.name] = fld
		obj.maxID = max(obj.maxID, fld.id)
	}
	if obj.isStruct {
		sort.Slice(obj.fields, func(i, j int) bool { return obj.fields[i].offset < obj.fields[j].offset })
	} else {
		sort.Slice(obj.fields, func(i, j int) bool { return obj.fields[i].id < obj.fields[j].id })
	}
	return obj
}

func readEnum(e *reflection.Enum) *fbEnum {
	var t reflection.Type
	en := &fbEnum{
		name: string(e.Name()), isUnion: e.IsUnion(), underlying: e.UnderlyingType(&t).BaseType(),
		byName: map[string]*fbEnumVal{}, byValue: map[int64]*fbEnumVal{},
	}
	var v reflection.EnumVal
	for i := 0; i < e.ValuesLength(); i++ {
		e.Values(&v, i)
		ev := fbEnumVal{name: string(v.Name()), value: v.Value(), union: -1}
		if ut := v.UnionType(&t); ut != nil && ut.BaseType() == reflection.BaseTypeObj {
			ev.union = ut.Index()
		}
		en.values = append(en.values, ev)
	}
	for i := range en.values {
		en.byName[en.values[i].name] = &en.values[i]
		if _, dup := en.byValue[en.values[i].value]; !dup {
			en.byValue[en.values[i].value] = &en.values[i]
		}
	}
	return en
}

// check rejects what the converter does not support, naming the field, and validates indexes.
func (s *fbSchema) check() error {
	objOK := func(i int32) bool { return i >= 0 && int(i) < len(s.objects) }
	enumOK := func(i int32) bool { return i >= 0 && int(i) < len(s.enums) }
	for _, o := range s.objects {
		for _, f := range o.fields {
			where := fmt.Sprintf("field %s.%s", o.name, f.name)
			t := f.typ
			if f.deprecated {
				continue
			}
			switch t.base {
			case reflection.BaseTypeVector64:
				return fmt.Errorf("%s: 64-bit vectors are not supported", where)
			case reflection.BaseTypeObj:
				if !objOK(t.index) {
					return fmt.Errorf("%s: bad object index %d", where, t.index)
				}
			case reflection.BaseTypeUnion:
				if !enumOK(t.index) {
					return fmt.Errorf("%s: bad union index %d", where, t.index)
				}
				for _, v := range s.enums[t.index].values {
					if v.value != 0 && (v.union < 0 || !objOK(v.union) || s.objects[v.union].isStruct) {
						return fmt.Errorf("%s: union member %s is not a table (unions of structs or strings are not supported)", where, v.name)
					}
				}
			case reflection.BaseTypeVector:
				switch t.element {
				case reflection.BaseTypeUnion:
					return fmt.Errorf("%s: vectors of unions are not supported", where)
				case reflection.BaseTypeObj:
					if !objOK(t.index) {
						return fmt.Errorf("%s: bad object index %d", where, t.index)
					}
				case reflection.BaseTypeString:
				default:
					if !isScalar(t.element) {
						return fmt.Errorf("%s: vectors of %s are not supported", where, reflection.EnumNamesBaseType[t.element])
					}
				}
			case reflection.BaseTypeArray:
				if !o.isStruct {
					return fmt.Errorf("%s: fixed-size arrays outside structs are not supported", where)
				}
				if t.element == reflection.BaseTypeObj && !objOK(t.index) {
					return fmt.Errorf("%s: bad object index %d", where, t.index)
				}
			case reflection.BaseTypeString:
			default:
				if !isScalar(t.base) {
					return fmt.Errorf("%s: type %s is not supported", where, reflection.EnumNamesBaseType[t.base])
				}
			}
			if isScalar(t.base) && t.index >= 0 && !enumOK(t.index) {
				return fmt.Errorf("%s: bad enum index %d", where, t.index)
			}
		}
	}
	return nil
}

// enumOf returns the enum of a scalar type, or nil.
func (s *fbSchema) enumOf(t reflection.BaseType, index int32) *fbEnum {
	if index >= 0 && isScalar(t) && int(index) < len(s.enums) {
		return s.enums[index]
	}
	return nil
}
