package transform

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/iggy-go/connectors/runtime/codec"
)

var meta = Meta{Stream: "s", Topic: "t"}

// tomlSpecs parses connector TOML the way the config loader hands transforms over, for both shapes:
// [transforms.<type>] tables (in file order, as listed) and a [[transforms]] array.
func tomlSpecs(t *testing.T, src string) []Spec {
	t.Helper()
	var doc struct {
		Transforms any `toml:"transforms"`
	}
	if err := toml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("toml: %v", err)
	}
	var specs []Spec
	switch v := doc.Transforms.(type) {
	case []any:
		for _, item := range v {
			m := item.(map[string]any)
			typ, _ := m["type"].(string)
			delete(m, "type")
			specs = append(specs, Spec{Type: typ, Config: m})
		}
	case map[string]any:
		// go-toml maps lose file order; tests using this shape list one table or don't depend on it
		for typ, cfg := range v {
			specs = append(specs, Spec{Type: typ, Config: cfg.(map[string]any)})
		}
	}
	return specs
}

// apply runs c on the JSON in, decoded both ways the runtime may decode it (object indexed while
// validating, and indexed lazily by the first transform); both must give the same result.
func apply(t *testing.T, c Chain, in string) string {
	t.Helper()
	var results [2]string
	for i, index := range []bool{false, true} {
		dec, err := codec.NewDecoder("json", codec.Options{IndexObjects: index})
		if err != nil {
			t.Fatal(err)
		}
		p, err := dec.Decode([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Apply(meta, &p); err != nil {
			t.Fatal(err)
		}
		results[i] = string(p.Bytes())
	}
	if results[0] != results[1] && !strings.Contains(results[0], "-") { // computed values differ per run
		t.Fatalf("lazy index gives %s, index while validating gives %s", results[0], results[1])
	}
	return results[1]
}

func chain(t *testing.T, src string) Chain {
	t.Helper()
	c, err := NewChain(tomlSpecs(t, src))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTransforms(t *testing.T) {
	cases := []struct {
		name, toml, in, want string
	}{
		// add_fields
		{"add static values", `
[[transforms]]
type = "add_fields"
fields = [
  { key = "s", value.static = "x" },
  { key = "n", value.static = 42 },
  { key = "f", value.static = 1.5 },
  { key = "b", value.static = true },
  { key = "a", value.static = [1, "two"] },
  { key = "o", value.static = { k = "v" } },
]`, `{"id":1}`, `{"id":1,"s":"x","n":42,"f":1.5,"b":true,"a":[1,"two"],"o":{"k":"v"}}`},
		{"add overwrites in place", `
[transforms.add_fields]
enabled = true
fields = [{ key = "id", value.static = "new" }]`, `{"id":1,"x":2}`, `{"id":"new","x":2}`},
		{"add with empty list is a no-op", `
[transforms.add_fields]
enabled = true
fields = []`, `{ "id" : 1 }`, `{"id":1}`},
		{"add with html characters and unicode", `
[transforms.add_fields]
fields = [{ key = "h", value.static = "<a&b> é" }]`, `{}`, `{"h":"<a&b> é"}`},

		// update_fields
		{"update always (default)", `
[transforms.update_fields]
enabled = true
fields = [{ key = "status", value.static = "updated" }, { key = "new", value.static = 1 }]`,
			`{"id":1,"status":"pending"}`, `{"id":1,"status":"updated","new":1}`},
		{"update key_exists", `
[transforms.update_fields]
fields = [
  { key = "status", value.static = "updated", condition = "key_exists" },
  { key = "missing", value.static = "no", condition = "key_exists" },
]`, `{"id":1,"status":"pending"}`, `{"id":1,"status":"updated"}`},
		{"update key_not_exists", `
[transforms.update_fields]
fields = [
  { key = "status", value.static = "no", condition = "key_not_exists" },
  { key = "created_at", value.static = "2023-01-01", condition = "key_not_exists" },
]`, `{"id":1,"status":"pending"}`, `{"id":1,"status":"pending","created_at":"2023-01-01"}`},
		{"update conditions see earlier fields", `
[transforms.update_fields]
fields = [
  { key = "a", value.static = 1, condition = "always" },
  { key = "a", value.static = 2, condition = "key_not_exists" },
  { key = "a", value.static = 3, condition = "key_exists" },
]`, `{}`, `{"a":3}`},

		// delete_fields
		{"delete", `
[transforms.delete_fields]
enabled = true
fields = ["password", "missing", "ssn"]`, `{"id":1,"password":"p","name":"n","ssn":"s"}`, `{"id":1,"name":"n"}`},
		{"delete all", `
[transforms.delete_fields]
fields = ["a"]`, `{"a":1}`, `{}`},
		{"delete nothing listed", `
[transforms.delete_fields]
fields = []`, `{"a":1}`, `{"a":1}`},

		// filter_fields
		{"filter keep_fields only", `
[transforms.filter_fields]
enabled = true
keep_fields = ["id", "name"]`, `{"id":1,"name":"test","description":"x","created_at":"2023"}`, `{"id":1,"name":"test"}`},
		{"filter key starts_with include", `
[transforms.filter_fields]
patterns = [{ key_pattern.starts_with = "meta_" }]`,
			`{"id":1,"meta_created":"a","meta_updated":"b","content":"c"}`, `{"meta_created":"a","meta_updated":"b"}`},
		{"filter exclude matching", `
[transforms.filter_fields]
include_matching = false
patterns = [{ key_pattern.starts_with = "temp_" }]`,
			`{"id":1,"name":"n","temp_value":100,"temp_flag":true}`, `{"id":1,"name":"n"}`},
		{"filter key exact, ends_with, contains, regex", `
[transforms.filter_fields]
patterns = [
  { key_pattern.exact = "id" },
  { key_pattern.ends_with = "_at" },
  { key_pattern.contains = "mid" },
  { key_pattern.regex = "^x[0-9]+$" },
]`, `{"id":1,"idx":2,"created_at":3,"a_mid_b":4,"x12":5,"x1a":6}`, `{"id":1,"created_at":3,"a_mid_b":4,"x12":5}`},
		{"filter value is_number", `
[transforms.filter_fields]
patterns = [{ value_pattern = "is_number" }]`, `{"id":1,"count":-4.2e1,"name":"t","active":true}`, `{"id":1,"count":-4.2e1}`},
		{"filter value type tests", `
[[transforms]]
type = "filter_fields"
patterns = [{ value_pattern = "is_null" }, { value_pattern = "is_boolean" }, { value_pattern = "is_object" }]`,
			`{"n":null,"b":false,"o":{},"a":[],"s":"x","i":0}`, `{"n":null,"b":false,"o":{}}`},
		{"filter value is_string, is_array", `
[[transforms]]
type = "filter_fields"
patterns = [{ value_pattern = "is_string" }, { value_pattern = "is_array" }]`,
			`{"n":null,"b":false,"o":{},"a":[],"s":"x","i":0}`, `{"a":[],"s":"x"}`},
		{"filter value is_not_null", `
[[transforms]]
type = "filter_fields"
patterns = [{ value_pattern = "is_not_null" }]`, `{"n":null,"b":false}`, `{"b":false}`},
		{"filter key and value must both match", `
[transforms.filter_fields]
patterns = [{ key_pattern.contains = "date", value_pattern = "is_string" }]`,
			`{"id":1,"created_date":"a","updated_date":"b","expired_date":null,"version":"1.0"}`, `{"created_date":"a","updated_date":"b"}`},
		{"filter keep_fields plus patterns", `
[transforms.filter_fields]
keep_fields = ["id"]
patterns = [{ key_pattern.starts_with = "meta_" }]`, `{"id":1,"name":"t","meta_created":"a","description":"d"}`, `{"id":1,"meta_created":"a"}`},
		{"filter keep_fields survive exclusion", `
[transforms.filter_fields]
keep_fields = ["temp_keep"]
include_matching = false
patterns = [{ key_pattern.starts_with = "temp_" }]`, `{"temp_keep":1,"temp_x":2,"y":3}`, `{"temp_keep":1,"y":3}`},
		{"filter no rules is a no-op", `
[transforms.filter_fields]
include_matching = false`, `{"id":1,"name":"t"}`, `{"id":1,"name":"t"}`},
		{"filter empty pattern matches everything", `
[transforms.filter_fields]
include_matching = false
patterns = [{}]`, `{"id":1,"name":"t"}`, `{}`},
		{"filter value equals", `
[transforms.filter_fields]
patterns = [
  { value_pattern.equals = "x" },
  { value_pattern.equals = 1 },
  { value_pattern.equals = { a = [1, 2] } },
  { value_pattern.equals = false },
]`, `{"s":"x","s2":"\u0078","s3":"y","n":1.0,"n2":10e-1,"n3":2,"o":{"a":[1,2.0]},"o2":{"a":[2,1]},"b":false,"b2":true,"z":null}`,
			`{"s":"x","s2":"\u0078","n":1.0,"n2":10e-1,"o":{"a":[1,2.0]},"b":false}`},
		{"filter value string contains and regex", `
[transforms.filter_fields]
patterns = [{ value_pattern.contains = "@example" }, { value_pattern.regex = "^\\d{3}-\\d{4}$" }]`,
			`{"email":"a@example.com","phone":"555-1234","other":"555-12345","num":5551234,"esc":"x\u0040example"}`,
			`{"email":"a@example.com","phone":"555-1234","esc":"x\u0040example"}`},
		{"filter value numeric comparisons", `
[transforms.filter_fields]
patterns = [{ key_pattern.starts_with = "g", value_pattern.greater_than = 10 },
            { key_pattern.starts_with = "l", value_pattern.less_than = 0 },
            { key_pattern.starts_with = "b", value_pattern.between = [1, 2.5] }]`,
			`{"g1":11,"g2":10,"g3":"11","l1":-0.5,"l2":0,"b1":1,"b2":2.5,"b3":2.6,"b4":true,"b5":1e0}`,
			`{"g1":11,"l1":-0.5,"b1":1,"b2":2.5,"b5":1e0}`},

		// unwrap_envelope
		{"unwrap object", `
[transforms.unwrap_envelope]
enabled = true
field = "data"`, `{"table":"t","op":"INSERT","data":{"id":1,"x":[1]},"old_data":null}`, `{"id":1,"x":[1]}`},
		{"unwrap scalar", `
[transforms.unwrap_envelope]
field = "data"`, `{"data":"just a string"}`, `"just a string"`},
		{"unwrap null", `
[transforms.unwrap_envelope]
field = "data"`, `{"data":null}`, `null`},
		{"unwrap missing key leaves payload", `
[transforms.unwrap_envelope]
field = "data"`, `{"other":1}`, `{"other":1}`},

		// non-object JSON passes through every transform
		{"array passes", `
[[transforms]]
type = "add_fields"
fields = [{ key = "a", value.static = 1 }]
[[transforms]]
type = "filter_fields"
keep_fields = ["x"]
[[transforms]]
type = "unwrap_envelope"
field = "a"`, `[{"a":1}]`, `[{"a":1}]`},

		// order: file order, deterministic
		{"order add then delete", `
[[transforms]]
type = "add_fields"
fields = [{ key = "a", value.static = 1 }]
[[transforms]]
type = "delete_fields"
fields = ["a"]`, `{"b":2}`, `{"b":2}`},
		{"order delete then add", `
[[transforms]]
type = "delete_fields"
fields = ["a"]
[[transforms]]
type = "add_fields"
fields = [{ key = "a", value.static = 1 }]`, `{"a":0,"b":2}`, `{"b":2,"a":1}`},
		{"repeated types in array form", `
[[transforms]]
type = "add_fields"
fields = [{ key = "a", value.static = 1 }]
[[transforms]]
type = "unwrap_envelope"
field = "env"
[[transforms]]
type = "add_fields"
fields = [{ key = "b", value.static = 2 }]`, `{"env":{"x":0}}`, `{"x":0,"b":2}`},
		{"disabled transforms are skipped", `
[[transforms]]
type = "delete_fields"
enabled = false
fields = ["a"]`, `{"a":1}`, `{"a":1}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := apply(t, chain(t, c.toml), c.in); got != c.want {
				t.Errorf("\n got %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestNonJSONPayloadsPassUnchanged(t *testing.T) {
	c := chain(t, `
[[transforms]]
type = "add_fields"
fields = [{ key = "a", value.static = 1 }]
[[transforms]]
type = "filter_fields"
keep_fields = ["x"]
[[transforms]]
type = "delete_fields"
fields = ["a"]
[[transforms]]
type = "update_fields"
fields = [{ key = "a", value.static = 1 }]
[[transforms]]
type = "unwrap_envelope"
field = "a"`)
	for _, k := range []codec.Kind{codec.KindRaw, codec.KindText, codec.KindProto, codec.KindFlatBuffer} {
		in := []byte(`{"a":1,"x":2}`)
		p, _ := codec.NewPayload(k, in)
		if err := c.Apply(meta, &p); err != nil {
			t.Fatal(err)
		}
		// Each transform on its own, too (the chain short-cuts non-JSON payloads).
		for _, tr := range c.ts {
			if err := tr.Apply(meta, &p); err != nil {
				t.Fatal(err)
			}
		}
		if out := p.Bytes(); &out[0] != &in[0] || p.Kind() != k {
			t.Errorf("%v payload changed: %s", k, out)
		}
	}
}

func TestComputedValues(t *testing.T) {
	fixed := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
	now = func() time.Time { return fixed }
	defer func() { now = time.Now }()

	c := chain(t, `
[[transforms]]
type = "add_fields"
fields = [
  { key = "dt", value.computed = "date_time" },
  { key = "ns", value.computed = "timestamp_nanos" },
  { key = "us", value.computed = "timestamp_micros" },
  { key = "ms", value.computed = "timestamp_millis" },
  { key = "s", value.computed = "timestamp_seconds" },
  { key = "u4", value.computed = "uuid_v4" },
  { key = "u7", value.computed = "uuid_v7" },
  { key = "u4b", value.computed = "uuid_v4" },
]`)
	out := apply(t, c, `{}`)
	var got map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	want := map[string]string{
		"dt": "2026-03-04T05:06:07.123456789+00:00",
		"ns": "1772600767123456789", "us": "1772600767123456", "ms": "1772600767123", "s": "1772600767",
	}
	for k, v := range want {
		if s := fmt.Sprint(got[k]); s != v {
			t.Errorf("%s = %s, want %s", k, s, v)
		}
	}
	for k, version := range map[string]string{"u4": "4", "u7": "7", "u4b": "4"} {
		s, _ := got[k].(string)
		if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-` + version + `[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(s) {
			t.Errorf("%s = %q is not a UUID v%s", k, s, version)
		}
	}
	if got["u4"] == got["u4b"] {
		t.Error("every field gets its own value")
	}
	// Per message: a second message gets new UUIDs.
	var again map[string]any
	json.Unmarshal([]byte(apply(t, c, `{}`)), &again)
	if again["u4"] == got["u4"] || again["u7"] == got["u7"] {
		t.Error("every message gets new values")
	}

	// date_time precision follows chrono: 0, 3, 6 or 9 digits.
	for ns, want := range map[int]string{0: "2026-03-04T05:06:07+00:00", 120_000_000: "2026-03-04T05:06:07.120+00:00",
		123_000: "2026-03-04T05:06:07.000123+00:00", 123_400: "2026-03-04T05:06:07.000123400+00:00", 5: "2026-03-04T05:06:07.000000005+00:00"} {
		ts := time.Date(2026, 3, 4, 5, 6, 7, ns, time.UTC)
		if got := string(appendRFC3339(nil, ts)); got != `"`+want+`"` {
			t.Errorf("%d ns: %s, want %q", ns, got, want)
		}
	}
	// A non-UTC clock is rendered in UTC.
	now = func() time.Time { return fixed.In(time.FixedZone("X", 3600)) }
	if v, _ := compute(ComputedDateTime); string(v) != `"2026-03-04T05:06:07.123456789+00:00"` {
		t.Errorf("non-UTC clock: %s", v)
	}
}

func TestConfigShapes(t *testing.T) {
	// The same transform from TOML (int64/float64), from JSON via encoding/json (float64) and with
	// json.Number gives the same result.
	want := `{"id":1,"n":7,"f":0.5,"big":9007199254740993}`
	fromTOML := chain(t, `
[transforms.add_fields]
enabled = true
fields = [{ key = "n", value = { static = 7 } }, { key = "f", value = { static = 0.5 } }, { key = "big", value.static = 9007199254740993 }]`)
	if got := apply(t, fromTOML, `{"id":1}`); got != want {
		t.Errorf("toml: %s", got)
	}
	var cfg map[string]any
	json.Unmarshal([]byte(`{"enabled":true,"fields":[{"key":"n","value":{"static":7}},{"key":"f","value":{"static":0.5}},{"key":"big","value":{"static":9007199254740993}}]}`), &cfg)
	c, err := NewChain([]Spec{{Type: "add_fields", Config: cfg}})
	if err != nil {
		t.Fatal(err)
	}
	// float64 cannot hold 9007199254740993: encoding/json's float64 config rounds it, as expected.
	if got := apply(t, c, `{"id":1}`); got != `{"id":1,"n":7,"f":0.5,"big":9007199254740992}` {
		t.Errorf("json float64: %s", got)
	}
	dec := json.NewDecoder(strings.NewReader(`{"fields":[{"key":"n","value":{"static":7}},{"key":"f","value":{"static":0.5}},{"key":"big","value":{"static":9007199254740993}}]}`))
	dec.UseNumber()
	cfg = nil
	dec.Decode(&cfg)
	c, err = NewChain([]Spec{{Type: "add_fields", Config: cfg}})
	if err != nil {
		t.Fatal(err)
	}
	if got := apply(t, c, `{"id":1}`); got != want {
		t.Errorf("json.Number: %s", got)
	}
	// TOML dates become strings.
	dc := chain(t, `
[transforms.add_fields]
fields = [{ key = "d", value.static = 2024-01-02 }]`)
	if got := apply(t, dc, `{}`); got != `{"d":"2024-01-02"}` {
		t.Errorf("toml date: %s", got)
	}
	if c.Len() != 1 || c.Types()[0] != "add_fields" {
		t.Errorf("Len/Types: %d %v", c.Len(), c.Types())
	}
	var zero Chain
	p, _ := codec.NewPayload(codec.KindJSON, []byte(`{}`))
	if zero.Len() != 0 || zero.Apply(meta, &p) != nil {
		t.Error("zero chain")
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		spec Spec
		want string
	}{
		{Spec{Type: "proto_convert"}, `transforms.proto_convert: transform type "proto_convert" of the original runtime is not supported`},
		{Spec{Type: "flat_buffer_convert"}, `"flat_buffer_convert" of the original runtime is not supported`},
		{Spec{Type: "avro_convert"}, `"avro_convert" of the original runtime is not supported`},
		{Spec{Type: "rename_fields"}, `transforms.rename_fields: unknown transform type "rename_fields" (supported: add_fields, delete_fields, filter_fields, update_fields, unwrap_envelope)`},
		{Spec{Type: "", Path: "transforms[3]"}, `transforms[3]: transform type is missing`},
		{Spec{Type: "add_fields", Config: map[string]any{"enabled": "yes"}}, `transforms.add_fields.enabled: want true or false, got a string`},
		{Spec{Type: "add_fields", Config: map[string]any{"fields": "x"}}, `transforms.add_fields.fields: want an array, got a string`},
		{Spec{Type: "add_fields", Config: map[string]any{"field": []any{}}}, `transforms.add_fields: unknown key "field" (known keys: enabled, fields)`},
		{Spec{Type: "add_fields", Config: map[string]any{"fields": []any{"x"}}}, `transforms.add_fields.fields[0]: want a table, got a string`},
		{Spec{Type: "add_fields", Config: map[string]any{"fields": []any{map[string]any{"value": map[string]any{"static": 1}}}}}, `transforms.add_fields.fields[0].key: missing`},
		{Spec{Type: "add_fields", Config: map[string]any{"fields": []any{map[string]any{"key": "k"}}}}, `transforms.add_fields.fields[0].value: missing`},
		{Spec{Type: "add_fields", Config: map[string]any{"fields": []any{map[string]any{"key": "k", "value": map[string]any{"computed": "uuid_v9"}}}}}, `transforms.add_fields.fields[0].value.computed: unknown computed value "uuid_v9"`},
		{Spec{Type: "add_fields", Config: map[string]any{"fields": []any{map[string]any{"key": "k", "value": map[string]any{"static": 1, "computed": "uuid_v4"}}}}}, `transforms.add_fields.fields[0].value: want a table with exactly one of the keys static, computed, got a table with keys [computed, static]`},
		{Spec{Type: "add_fields", Config: map[string]any{"fields": []any{map[string]any{"key": "k", "value": "x"}}}}, `fields[0].value: want a table with exactly one of the keys static, computed, got a string`},
		{Spec{Type: "add_fields", Config: map[string]any{"fields": []any{map[string]any{"key": "k", "value": map[string]any{"static": 1}, "condition": "always"}}}}, `transforms.add_fields.fields[0]: unknown key "condition"`},
		{Spec{Type: "update_fields", Config: map[string]any{"fields": []any{map[string]any{"key": "k", "value": map[string]any{"static": 1}, "condition": "sometimes"}}}}, `transforms.update_fields.fields[0].condition: unknown condition "sometimes"`},
		{Spec{Type: "delete_fields", Config: map[string]any{"fields": []any{"a", int64(1)}}}, `transforms.delete_fields.fields[1]: want a string, got a number`},
		{Spec{Type: "filter_fields", Config: map[string]any{"patterns": []any{map[string]any{"key_pattern": map[string]any{"regex": "("}}}}}, "transforms.filter_fields.patterns[0].key_pattern.regex: invalid regex \"(\""},
		{Spec{Type: "filter_fields", Config: map[string]any{"patterns": []any{map[string]any{"value_pattern": map[string]any{"regex": "[z-a]"}}}}}, "transforms.filter_fields.patterns[0].value_pattern.regex: invalid regex"},
		{Spec{Type: "filter_fields", Config: map[string]any{"patterns": []any{map[string]any{"key_pattern": map[string]any{"prefix": "a"}}}}}, `transforms.filter_fields.patterns[0].key_pattern: unknown key "prefix" (want one of exact, starts_with, ends_with, contains, regex)`},
		{Spec{Type: "filter_fields", Config: map[string]any{"patterns": []any{map[string]any{"key_pattern": map[string]any{"exact": 1}}}}}, `patterns[0].key_pattern.exact: want a string, got a number`},
		{Spec{Type: "filter_fields", Config: map[string]any{"patterns": []any{map[string]any{"value_pattern": "is_date"}}}}, `transforms.filter_fields.patterns[0].value_pattern: unknown value test "is_date"`},
		{Spec{Type: "filter_fields", Config: map[string]any{"patterns": []any{map[string]any{"value_pattern": map[string]any{"greater_than": "5"}}}}}, `patterns[0].value_pattern.greater_than: want a number, got a string`},
		{Spec{Type: "filter_fields", Config: map[string]any{"patterns": []any{map[string]any{"value_pattern": map[string]any{"between": []any{int64(1)}}}}}}, `patterns[0].value_pattern.between: want [low, high], got an array`},
		{Spec{Type: "filter_fields", Config: map[string]any{"patterns": []any{map[string]any{"value_pattern": map[string]any{"between": []any{int64(1), "x"}}}}}}, `patterns[0].value_pattern.between[1]: want a number, got a string`},
		{Spec{Type: "filter_fields", Config: map[string]any{"patterns": []any{map[string]any{"value_patern": "is_null"}}}}, `transforms.filter_fields.patterns[0]: unknown key "value_patern"`},
		{Spec{Type: "filter_fields", Config: map[string]any{"include_matching": int64(1)}}, `transforms.filter_fields.include_matching: want true or false, got a number`},
		{Spec{Type: "unwrap_envelope", Config: map[string]any{}}, `transforms.unwrap_envelope.field: missing (a string is required)`},
		{Spec{Type: "unwrap_envelope", Config: map[string]any{"field": ""}}, `transforms.unwrap_envelope.field: must not be empty`},
	}
	for _, c := range cases {
		_, err := New(c.spec)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v:\n got %v\nwant %q", c.spec.Type, c.spec.Config, err, c.want)
		}
		if _, cerr := NewChain([]Spec{{Type: "delete_fields", Config: map[string]any{"fields": []any{"a"}}}, c.spec}); cerr == nil || cerr.Error() != err.Error() {
			t.Errorf("NewChain must report the same error: %v", cerr)
		}
	}
	// A disabled transform's config is still checked.
	if _, err := NewChain([]Spec{{Type: "unwrap_envelope", Config: map[string]any{"enabled": false}}}); err == nil {
		t.Error("disabled transforms are validated too")
	}
}

func TestJSONEqual(t *testing.T) {
	cases := []struct {
		a, b string
		eq   bool
	}{
		{`1`, `1.0`, true}, {`1`, `10e-1`, true}, {`-0`, `0`, true}, {`0.0e5`, `0`, true},
		{`100`, `1e2`, true}, {`1E2`, `100.00`, true}, {`123456789012345678901`, `123456789012345678901.0`, true},
		{`123456789012345678901`, `123456789012345678902`, false}, {`1`, `-1`, false}, {`1`, `"1"`, false},
		{`"a"`, `"\u0061"`, true}, {`"a"`, `"b"`, false}, {`true`, `true`, true}, {`true`, `false`, false},
		{`null`, `null`, true}, {`null`, `false`, false},
		{`{"a":1,"b":[1,2]}`, `{"b":[1,2.0],"a":1}`, true}, {`{"a":1}`, `{"a":1,"b":2}`, false},
		{`[1,2]`, `[2,1]`, false}, {`[]`, `{}`, false},
	}
	for _, c := range cases {
		if got := jsonEqual([]byte(c.a), []byte(c.b)); got != c.eq {
			t.Errorf("jsonEqual(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	c := chain(t, `
[[transforms]]
type = "add_fields"
fields = [{ key = "id2", value.computed = "uuid_v7" }, { key = "k", value.static = "v" }]
[[transforms]]
type = "filter_fields"
include_matching = false
patterns = [{ key_pattern.starts_with = "tmp" }]
[[transforms]]
type = "unwrap_envelope"
field = "missing"`)
	dec, _ := codec.NewDecoder("json", codec.Options{IndexObjects: true})
	enc, _ := codec.NewEncoder("json", codec.Options{})
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				in := fmt.Sprintf(`{"g":%d,"i":%d,"tmp":1}`, g, i)
				p, err := dec.Decode([]byte(in))
				if err != nil {
					errs <- err.Error()
					return
				}
				if err := c.Apply(meta, &p); err != nil {
					errs <- err.Error()
					return
				}
				out, _ := enc.Encode(&p)
				want := fmt.Sprintf(`{"g":%d,"i":%d,"id2":"`, g, i)
				if !strings.HasPrefix(string(out), want) || !strings.HasSuffix(string(out), `","k":"v"}`) {
					errs <- string(out)
					return
				}
				p.Release()
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}
