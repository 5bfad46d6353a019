package icebergsink

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

func testConverter(t *testing.T, reject bool) *converter {
	t.Helper()
	asch, err := table.SchemaToArrowSchema(testSchemaUnit(), nil, true, false)
	if err != nil {
		t.Fatal(err)
	}
	c, err := newConverter(asch, reject)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConverterCheck(t *testing.T) {
	c := testConverter(t, false)
	tests := []struct{ name, json, errPart string }{
		{"full row", `{"id":1,"i":2,"f":1.5,"b":true,"s":"x","d":"2026-03-01","t":"10:11:12.5","ts":"2026-03-01T10:00:00+02:00","tsl":"2026-03-01 10:00:00","dec":"12.34","u":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","bin":"AAE=","l":[1,null,3],"st":{"a":"x"},"m":{"k":1}}`, ""},
		{"only required", `{"id":1}`, ""},
		{"nulls", `{"id":1,"s":null,"l":null}`, ""},
		{"integral float", `{"id":1e3}`, ""},
		{"number timestamp", `{"id":1,"ts":1700000000000000,"d":19000}`, ""},
		{"unknown field ignored", `{"id":1,"zzz":1}`, ""},
		{"string in long", `{"id":"1"}`, `field "id": want an integer, got a string`},
		{"missing required", `{"s":"x"}`, `field "id": required`},
		{"fraction in long", `{"id":1.5}`, `field "id"`},
		{"int overflow", `{"id":1,"i":3000000000}`, `field "i"`},
		{"bad date", `{"id":1,"d":"01/03/2026"}`, `field "d"`},
		{"bad timestamp", `{"id":1,"ts":"yesterday"}`, `field "ts"`},
		{"bad decimal", `{"id":1,"dec":"abc"}`, `field "dec"`},
		{"decimal too precise", `{"id":1,"dec":"123456789012.5"}`, `field "dec"`},
		{"bad uuid", `{"id":1,"u":"nope"}`, `field "u"`},
		{"bad base64", `{"id":1,"bin":"!!"}`, `field "bin"`},
		{"list element", `{"id":1,"l":[1,"x"]}`, `field "l": [1]`},
		{"struct field", `{"id":1,"st":{"a":5}}`, `field "st": a:`},
		{"struct not object", `{"id":1,"st":[1]}`, `field "st": want an object`},
		{"map value", `{"id":1,"m":{"k":"v"}}`, `field "m"`},
		{"bool", `{"id":1,"b":"true"}`, `field "b"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := decodeObject([]byte(tc.json), nil)
			if err != nil {
				t.Fatal(err)
			}
			err = c.check(obj)
			if tc.errPart == "" && err != nil {
				t.Fatalf("unexpected: %v", err)
			}
			if tc.errPart != "" && (err == nil || !strings.Contains(err.Error(), tc.errPart)) {
				t.Fatalf("error %v, want it to contain %q", err, tc.errPart)
			}
		})
	}
}

func TestDecodeObjectRejects(t *testing.T) {
	for _, p := range []string{`[1]`, `null`, `"x"`, `{"a":1} {"b":2}`, `{"a":`, ``} {
		if _, err := decodeObject([]byte(p), nil); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
	obj, err := decodeObject([]byte(`{"big":9223372036854775807}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := parseInt(obj["big"], 64); err != nil || n != 9223372036854775807 {
		t.Fatalf("long lost precision: %d %v", n, err)
	}
}

func TestConverterRejectUnknown(t *testing.T) {
	c := testConverter(t, true)
	obj, _ := decodeObject([]byte(`{"id":1,"zzz":1}`), nil)
	if err := c.check(obj); err == nil || !strings.Contains(err.Error(), `"zzz"`) {
		t.Fatalf("unknown field accepted: %v", err)
	}
}

func TestConverterBuild(t *testing.T) {
	c := testConverter(t, false)
	var objs []map[string]any
	for _, p := range []string{
		`{"id":7,"s":"a","l":[1,2],"st":{"a":"x"},"m":{"k":3},"ts":"2026-03-01T00:00:01Z","u":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","dec":"1.5"}`,
		`{"id":8}`,
	} {
		obj, err := decodeObject([]byte(p), nil)
		if err != nil || c.check(obj) != nil {
			t.Fatal(p, err, c.check(obj))
		}
		objs = append(objs, obj)
	}
	rec := c.build(objs)
	defer rec.Release()
	if rec.NumRows() != 2 {
		t.Fatalf("%d rows", rec.NumRows())
	}
	col := func(name string) arrow.Array { return rec.Column(c.byName[name]) }
	if v := col("id").(*array.Int64).Value(1); v != 8 {
		t.Errorf("id %d", v)
	}
	if !col("s").IsNull(1) || col("s").(*array.String).Value(0) != "a" {
		t.Errorf("s column wrong")
	}
	if l := col("l").(*array.List); l.IsNull(0) || !l.IsNull(1) || l.ListValues().Len() != 2 {
		t.Errorf("list column wrong")
	}
	if ts := col("ts").(*array.Timestamp).Value(0); ts != arrow.Timestamp(1772323201000000) {
		t.Errorf("ts %d", ts)
	}
	if u := col("u").(*extensions.UUIDArray).Value(0).String(); u != "6ba7b810-9dad-11d1-80b4-00c04fd430c8" {
		t.Errorf("uuid %s", u)
	}
	if d := col("dec").(*array.Decimal128).Value(0); d.ToString(2) != "1.50" {
		t.Errorf("decimal %s", d.ToString(2))
	}
}

func testSchemaUnit() *iceberg.Schema {
	return iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "i", Type: iceberg.PrimitiveTypes.Int32},
		iceberg.NestedField{ID: 3, Name: "f", Type: iceberg.PrimitiveTypes.Float32},
		iceberg.NestedField{ID: 4, Name: "b", Type: iceberg.PrimitiveTypes.Bool},
		iceberg.NestedField{ID: 5, Name: "s", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 6, Name: "d", Type: iceberg.PrimitiveTypes.Date},
		iceberg.NestedField{ID: 7, Name: "t", Type: iceberg.PrimitiveTypes.Time},
		iceberg.NestedField{ID: 8, Name: "ts", Type: iceberg.PrimitiveTypes.TimestampTz},
		iceberg.NestedField{ID: 9, Name: "tsl", Type: iceberg.PrimitiveTypes.Timestamp},
		iceberg.NestedField{ID: 10, Name: "dec", Type: iceberg.DecimalTypeOf(12, 2)},
		iceberg.NestedField{ID: 11, Name: "u", Type: iceberg.PrimitiveTypes.UUID},
		iceberg.NestedField{ID: 12, Name: "bin", Type: iceberg.PrimitiveTypes.Binary},
		iceberg.NestedField{ID: 13, Name: "l", Type: &iceberg.ListType{ElementID: 14, Element: iceberg.PrimitiveTypes.Int64}},
		iceberg.NestedField{ID: 15, Name: "st", Type: &iceberg.StructType{FieldList: []iceberg.NestedField{{ID: 16, Name: "a", Type: iceberg.PrimitiveTypes.String}}}},
		iceberg.NestedField{ID: 17, Name: "m", Type: &iceberg.MapType{KeyID: 18, KeyType: iceberg.PrimitiveTypes.String, ValueID: 19, ValueType: iceberg.PrimitiveTypes.Int64}},
	)
}
