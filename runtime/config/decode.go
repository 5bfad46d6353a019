package config

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/iggy-go/connectors/sdk"
)

// This file holds the one decoder used for every config source: the main config file, the
// embedded defaults, environment overrides, connector TOML files and connector JSON (HTTP provider
// responses and API bodies). Each source is first parsed into a generic tree (map[string]any,
// []any, scalars); the decoder then walks a Go struct and the tree together, setting only the keys
// present (so layers apply in order), and records every problem with its file and key path instead
// of stopping at the first one.
//
// Struct tags understood (besides `toml:"name"`, which names the key; "-" skips the field):
//
//	only:"sink" | only:"source"   the key exists only in sink / source connector configs
//	required:"true"               the key must be present whenever its table is given
//	required:"file"               required in a complete connector config (not in API create bodies)
//	oneof:"a|b|c"                 a string restricted to these values
//	fold:"true"                   oneof compares case-insensitively and stores the lower-case form
//	env:"-"                       not settable through environment variables
//	secret:"true"                 redacted whenever the config is rendered (String, LogValue)

// configDecoder is implemented by types that read themselves from a tree value.
type configDecoder interface {
	decodeConfig(d *decoder, path string, src any)
}

// defaulter is implemented by structs that have non-zero defaults; the decoder calls setDefaults on
// every new element it creates (array elements, optional tables) before filling it.
type defaulter interface {
	setDefaults()
}

type decoder struct {
	file     string              // Problem.File for keys not set by the environment
	kind     Kind                // filters fields tagged only:"..."; "" keeps them all
	full     bool                // enforce required:"file" keys
	problems *Problems           // where problems go
	order    map[string][]string // key order of tables whose order matters (by key path)
	// envSet maps key paths set by environment variables to the variable names (see envTree);
	// problems at or below such a path are reported against the variable. envPrefix renders
	// variable names for paths below an array root.
	envSet    map[string]string
	envPrefix string
}

// locate returns the Problem file and key for key path p.
func (d *decoder) locate(p string) (string, string) {
	for q := p; q != ""; q = parentPath(q) {
		if name, ok := d.envSet[q]; ok {
			if q == p {
				return EnvFile, name
			}
			return EnvFile, envName(d.envPrefix, p)
		}
	}
	return d.file, p
}

// parentPath strips the last element of a key path: "a.b[2]" → "a.b", "a.b" → "a".
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

func (d *decoder) problemf(path, format string, args ...any) {
	f, k := d.locate(path)
	d.problems.Add(f, k, format, args...)
}

func (d *decoder) warnf(path, format string, args ...any) {
	f, k := d.locate(path)
	d.problems.Warn(f, k, format, args...)
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexPath(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// field describes one struct field as a config key.
type field struct {
	key      string
	index    []int
	only     Kind
	required string
	oneof    []string
	fold     bool
	noEnv    bool
	secret   bool
	typ      reflect.Type
}

// fieldsOf lists the config keys of struct type t applicable to kind ("" = all).
func fieldsOf(t reflect.Type, kind Kind) []field {
	var out []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("toml"), ",")
		if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct {
			for _, inner := range fieldsOf(sf.Type, kind) {
				inner.index = append(append([]int{}, sf.Index...), inner.index...)
				out = append(out, inner)
			}
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		f := field{key: name, index: sf.Index, only: Kind(sf.Tag.Get("only")), required: sf.Tag.Get("required"),
			fold: sf.Tag.Get("fold") == "true", noEnv: sf.Tag.Get("env") == "-", secret: sf.Tag.Get("secret") == "true",
			typ: sf.Type}
		if kind != "" && f.only != "" && f.only != kind {
			continue
		}
		if o := sf.Tag.Get("oneof"); o != "" {
			f.oneof = strings.Split(o, "|")
		}
		out = append(out, f)
	}
	return out
}

func fieldNames(fs []field) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.key
	}
	return out
}

// unknownKey records an unknown key as an error with a "did you mean" suggestion. The rule is the
// same at every level of every config (main file, connector file, [[streams]], tables, variables):
// a key the runtime would ignore is a typo until proven otherwise, so it never passes silently.
func (d *decoder) unknownKey(path, key string, candidates []string) {
	msg := "unknown key"
	if s := sdk.Suggest(key, candidates); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	} else if len(candidates) > 0 {
		msg += " (known keys: " + strings.Join(candidates, ", ") + ")"
	}
	d.problemf(joinPath(path, key), "%s", msg)
}

// decodeStruct fills struct rv from table src. checkRequired enforces required keys (a table
// introduced by this source, e.g. a new array element or the root of a complete file).
func (d *decoder) decodeStruct(path string, src any, rv reflect.Value, checkRequired bool) {
	tbl, ok := src.(map[string]any)
	if !ok {
		d.problemf(path, "expected a table, got %s", describe(src))
		return
	}
	fs := fieldsOf(rv.Type(), d.kind)
	byKey := make(map[string]field, len(fs))
	for _, f := range fs {
		byKey[f.key] = f
	}
	keys := sortedKeys(tbl)
	for _, k := range keys {
		if tbl[k] == nil { // JSON null = absent
			continue
		}
		f, ok := byKey[k]
		if !ok {
			d.unknownKey(path, k, fieldNames(fs))
			continue
		}
		fp := joinPath(path, k)
		fv := rv.FieldByIndex(f.index)
		d.decodeValue(fp, tbl[k], fv)
		if len(f.oneof) > 0 && fv.Kind() == reflect.String {
			d.checkOneOf(fp, fv, f)
		}
	}
	if checkRequired {
		for _, f := range fs {
			if v, present := tbl[f.key]; present && v != nil {
				continue
			}
			if f.required == "true" || f.required == "file" && d.full {
				d.problemf(joinPath(path, f.key), "missing required key")
			}
		}
	}
}

func (d *decoder) checkOneOf(path string, fv reflect.Value, f field) {
	v := fv.String()
	if v == "" && f.required == "" {
		return
	}
	for _, o := range f.oneof {
		if v == o || f.fold && strings.EqualFold(v, o) {
			fv.SetString(o)
			return
		}
	}
	msg := fmt.Sprintf("invalid value %q: must be one of %s", v, quoteList(f.oneof))
	if s := sdk.Suggest(strings.ToLower(v), f.oneof); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	d.problemf(path, "%s", msg)
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

// decodeValue sets rv from src.
func (d *decoder) decodeValue(path string, src any, rv reflect.Value) {
	if rv.CanAddr() {
		if cd, ok := rv.Addr().Interface().(configDecoder); ok {
			cd.decodeConfig(d, path, src)
			return
		}
	}
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			n := reflect.New(rv.Type().Elem())
			setDefaults(n)
			if n.Elem().Kind() == reflect.Struct {
				d.decodeStruct(path, src, n.Elem(), true)
			} else {
				d.decodeValue(path, src, n.Elem())
			}
			rv.Set(n)
			return
		}
		d.decodeValue(path, src, rv.Elem())
	case reflect.Struct:
		d.decodeStruct(path, src, rv, false)
	case reflect.String:
		s, ok := src.(string)
		if !ok {
			d.problemf(path, "expected a string, got %s", describe(src))
			return
		}
		rv.SetString(s)
	case reflect.Bool:
		b, ok := src.(bool)
		if !ok {
			d.problemf(path, "expected a boolean (true or false), got %s", describe(src))
			return
		}
		rv.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := asInt(src)
		if !ok {
			d.problemf(path, "expected an integer, got %s", describe(src))
			return
		}
		if rv.OverflowInt(n) {
			d.problemf(path, "integer %d out of range", n)
			return
		}
		rv.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := asUint(src)
		if !ok {
			if i, isInt := asInt(src); isInt && i < 0 {
				d.problemf(path, "must not be negative, got %d", i)
				return
			}
			d.problemf(path, "expected a non-negative integer, got %s", describe(src))
			return
		}
		if rv.OverflowUint(n) {
			d.problemf(path, "integer %d out of range (max %d)", n, maxUint(rv.Type()))
			return
		}
		rv.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, ok := asFloat(src)
		if !ok {
			d.problemf(path, "expected a number, got %s", describe(src))
			return
		}
		rv.SetFloat(f)
	case reflect.Slice:
		arr, ok := src.([]any)
		if !ok {
			d.problemf(path, "expected an array, got %s", describe(src))
			return
		}
		out := reflect.MakeSlice(rv.Type(), len(arr), len(arr))
		for i, el := range arr {
			ev := out.Index(i)
			setDefaults(ev.Addr())
			if ev.Kind() == reflect.Struct {
				d.decodeStruct(indexPath(path, i), el, ev, true)
			} else {
				d.decodeValue(indexPath(path, i), el, ev)
			}
		}
		rv.Set(out)
	case reflect.Map:
		tbl, ok := src.(map[string]any)
		if !ok {
			d.problemf(path, "expected a table, got %s", describe(src))
			return
		}
		if rv.Type().Key().Kind() != reflect.String {
			panic("config: map keys must be strings")
		}
		if rv.IsNil() {
			rv.Set(reflect.MakeMapWithSize(rv.Type(), len(tbl)))
		}
		for _, k := range sortedKeys(tbl) {
			ev := reflect.New(rv.Type().Elem()).Elem()
			if ev.Kind() == reflect.Interface {
				ev.Set(reflect.ValueOf(normalize(tbl[k])))
			} else {
				if old := rv.MapIndex(reflect.ValueOf(k)); old.IsValid() {
					ev.Set(old)
				}
				d.decodeValue(joinPath(path, k), tbl[k], ev)
			}
			rv.SetMapIndex(reflect.ValueOf(k).Convert(rv.Type().Key()), ev)
		}
	case reflect.Interface:
		if src == nil {
			rv.SetZero()
			return
		}
		rv.Set(reflect.ValueOf(normalize(src)))
	default:
		panic(fmt.Sprintf("config: unsupported field type %s at %s", rv.Type(), path))
	}
}

func maxUint(t reflect.Type) uint64 {
	return math.MaxUint64 >> (64 - t.Bits())
}

// setDefaults calls setDefaults on p (a pointer) when its type has one.
func setDefaults(p reflect.Value) {
	if df, ok := p.Interface().(defaulter); ok {
		df.setDefaults()
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case uint64:
		if n > math.MaxInt64 {
			return 0, false
		}
		return int64(n), true
	case float64:
		if n == math.Trunc(n) && n >= math.MinInt64 && n <= math.MaxInt64 {
			return int64(n), true
		}
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, true
		}
	}
	return 0, false
}

func asUint(v any) (uint64, bool) {
	switch n := v.(type) {
	case uint64:
		return n, true
	case json.Number:
		if u, err := strconv.ParseUint(string(n), 10, 64); err == nil {
			return u, true
		}
	case float64:
		if n == math.Trunc(n) && n >= 0 && n <= math.MaxUint64 {
			return uint64(n), true
		}
		return 0, false
	}
	if i, ok := asInt(v); ok && i >= 0 {
		return uint64(i), true
	}
	return 0, false
}

func asFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		if f, err := n.Float64(); err == nil {
			return f, true
		}
	}
	return 0, false
}

// describe names a tree value for messages: `integer 5`, `string "x"`, `a table`.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "nothing (null)"
	case string:
		return fmt.Sprintf("string %q", x)
	case bool:
		return fmt.Sprintf("boolean %t", x)
	case int64, int, uint64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return fmt.Sprintf("float %v", x)
	case json.Number:
		return "number " + string(x)
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case time.Time:
		return "date-time " + x.Format(time.RFC3339)
	case fmt.Stringer:
		return fmt.Sprintf("%T %s", v, x)
	}
	return fmt.Sprintf("%T", v)
}

// normalize deep-copies a tree value so the result owns its maps and slices, and turns JSON
// numbers into int64 (integral values) or float64, so that configs read from TOML and from JSON
// hold the same Go types: string, bool, int64, float64, []any, map[string]any, and TOML's date
// and time types.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return string(x)
	case int:
		return int64(x)
	}
	return v
}
