package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// TransformSpec is one configured transform. Config holds the transform's own keys (everything
// in its table except `enabled`, and `type` in the array form), with TOML/JSON values as
// string, bool, int64, float64, []any and map[string]any.
type TransformSpec struct {
	Type    string
	Enabled bool
	Config  map[string]any
	// Path names the transform's table in messages: "transforms.add_fields" (table form) or
	// "transforms[2]" (array form).
	Path string
}

// Transforms is the ordered list of a connector's transforms. It is read from either form:
//
//	[transforms.add_fields]          # the original's form: one table per type, in file order
//	enabled = true                   # optional here (default true); required by the original
//	fields = [...]
//
//	[[transforms]]                   # ordered array form (also lets a type appear twice)
//	type = "add_fields"
//	fields = [...]
//
// In JSON it is an object {type: config} in order (config includes "enabled"), or an array of
// objects with "type" when a type repeats; null or absent = none.
type Transforms []TransformSpec

// TransformTypes are the transform types the original defines (snake_case names).
var TransformTypes = []string{"add_fields", "delete_fields", "filter_fields", "update_fields",
	"proto_convert", "flat_buffer_convert", "avro_convert", "unwrap_envelope"}

func knownTransform(t string) bool {
	for _, k := range TransformTypes {
		if k == t {
			return true
		}
	}
	return false
}

// decodeConfig reads either form; d.order[path] gives the file order of the table form.
func (ts *Transforms) decodeConfig(d *decoder, path string, src any) {
	var out Transforms
	switch v := src.(type) {
	case nil:
	case map[string]any:
		for _, typ := range orderedKeys(v, d.order[path]) {
			p := joinPath(path, typ)
			tbl, ok := v[typ].(map[string]any)
			if !ok {
				d.problemf(p, "expected a table ([%s.%s] with its options), got %s", path, typ, describe(v[typ]))
				continue
			}
			if spec, ok := d.transformSpec(p, p, typ, tbl, "enabled"); ok {
				spec.Path = p
				out = append(out, spec)
			}
		}
	case []any:
		for i, el := range v {
			p := indexPath(path, i)
			tbl, ok := el.(map[string]any)
			if !ok {
				d.problemf(p, "expected a table with type = \"...\", got %s", describe(el))
				continue
			}
			typ, ok := tbl["type"].(string)
			if !ok {
				if _, present := tbl["type"]; present {
					d.problemf(p+".type", "expected a string, got %s", describe(tbl["type"]))
				} else {
					d.problemf(p+".type", "missing required key (the transform's type, e.g. \"add_fields\")")
				}
				continue
			}
			if spec, ok := d.transformSpec(p, p+".type", typ, tbl, "enabled", "type"); ok {
				spec.Path = p
				out = append(out, spec)
			}
		}
	default:
		d.problemf(path, "expected [transforms.<type>] tables or a [[transforms]] array, got %s", describe(src))
	}
	*ts = out
}

func (d *decoder) transformSpec(p, typePath, typ string, tbl map[string]any, drop ...string) (TransformSpec, bool) {
	if !knownTransform(typ) {
		d.problemf(typePath, "unknown transform type %q%s", typ, suggestion(typ, TransformTypes))
		return TransformSpec{}, false
	}
	spec := TransformSpec{Type: typ, Enabled: true, Config: map[string]any{}}
	if e, present := tbl["enabled"]; present {
		b, ok := e.(bool)
		if !ok {
			d.problemf(p+".enabled", "expected a boolean (true or false), got %s", describe(e))
			return TransformSpec{}, false
		}
		spec.Enabled = b
	}
	for k, v := range tbl {
		if !contains(drop, k) {
			spec.Config[k] = normalize(v)
		}
	}
	return spec, true
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// hasDuplicates reports whether a type appears more than once (then only the array form can hold
// the list).
func (ts Transforms) hasDuplicates() bool {
	seen := map[string]bool{}
	for _, t := range ts {
		if seen[t.Type] {
			return true
		}
		seen[t.Type] = true
	}
	return false
}

// Table returns the transform's table as written in files: its config plus "enabled" (the form
// package transform's Spec.Config takes).
func (t TransformSpec) Table() map[string]any {
	m := make(map[string]any, len(t.Config)+1)
	for k, v := range t.Config {
		m[k] = v
	}
	m["enabled"] = t.Enabled
	return m
}

// MarshalJSON renders {type: config-with-enabled, ...} in order, the array form when a type
// repeats, and null when there are none (like the original's Option).
func (ts Transforms) MarshalJSON() ([]byte, error) {
	if len(ts) == 0 {
		return []byte("null"), nil
	}
	var b bytes.Buffer
	if ts.hasDuplicates() {
		b.WriteByte('[')
		for i, t := range ts {
			if i > 0 {
				b.WriteByte(',')
			}
			m := t.Table()
			m["type"] = t.Type
			v, err := json.Marshal(m)
			if err != nil {
				return nil, fmt.Errorf("transforms[%d]: %w", i, err)
			}
			b.Write(v)
		}
		b.WriteByte(']')
		return b.Bytes(), nil
	}
	b.WriteByte('{')
	for i, t := range ts {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(t.Type)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(t.Table())
		if err != nil {
			return nil, fmt.Errorf("transforms.%s: %w", t.Type, err)
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// String renders "add_fields, delete_fields(disabled)".
func (ts Transforms) String() string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Type
		if !t.Enabled {
			names[i] += "(disabled)"
		}
	}
	return "[" + strings.Join(names, ", ") + "]"
}
