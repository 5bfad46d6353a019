package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// normalizeConfig turns a config map as decoded from TOML (go-toml/v2: int64, float64, string, bool,
// []any, map[string]any, dates) or from JSON (float64 or json.Number) into one representation:
// map[string]any, []any, string, bool, json.Number and nil.
func normalizeConfig(path string, cfg map[string]any) (map[string]any, error) {
	if cfg == nil {
		return map[string]any{}, nil
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: config cannot be represented as JSON: %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// cfgObj reads one table of a transform config, recording which keys were used so that unknown keys
// can be reported.
type cfgObj struct {
	path string
	m    map[string]any
	used map[string]bool
}

func newCfgObj(path string, v any) (*cfgObj, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a table, got %s", path, typeName(v))
	}
	return &cfgObj{path: path, m: m, used: map[string]bool{}}, nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "nothing (null)"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", v)
}

func (o *cfgObj) sub(key string) string { return o.path + "." + key }

func (o *cfgObj) get(key string) (any, bool) {
	o.used[key] = true
	v, ok := o.m[key]
	return v, ok
}

func (o *cfgObj) str(key string, required bool) (string, error) {
	v, ok := o.get(key)
	if !ok {
		if required {
			return "", fmt.Errorf("%s: missing (a string is required)", o.sub(key))
		}
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: want a string, got %s", o.sub(key), typeName(v))
	}
	return s, nil
}

func (o *cfgObj) boolean(key string, def bool) (bool, error) {
	v, ok := o.get(key)
	if !ok {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%s: want true or false, got %s", o.sub(key), typeName(v))
	}
	return b, nil
}

func (o *cfgObj) list(key string) ([]any, error) {
	v, ok := o.get(key)
	if !ok {
		return nil, nil
	}
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: want an array, got %s", o.sub(key), typeName(v))
	}
	return l, nil
}

func (o *cfgObj) strings(key string) ([]string, error) {
	l, err := o.list(key)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(l))
	for i, v := range l {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s[%d]: want a string, got %s", o.sub(key), i, typeName(v))
		}
		out[i] = s
	}
	return out, nil
}

// done reports keys that were never read.
func (o *cfgObj) done() error {
	var unknown []string
	for k := range o.m {
		if !o.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	known := make([]string, 0, len(o.used))
	for k := range o.used {
		known = append(known, k)
	}
	sort.Strings(known)
	return fmt.Errorf("%s: unknown key %q (known keys: %s)", o.path, unknown[0], strings.Join(known, ", "))
}

// variant reads an externally tagged enum value: a table with exactly one key, which must be one of
// names. It returns the key and its value.
func variant(path string, v any, names ...string) (string, any, error) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil, fmt.Errorf("%s: want a table with exactly one of the keys %s, got %s", path, strings.Join(names, ", "), describe(v))
	}
	for k, val := range m {
		for _, n := range names {
			if k == n {
				return k, val, nil
			}
		}
		return "", nil, fmt.Errorf("%s: unknown key %q (want one of %s)", path, k, strings.Join(names, ", "))
	}
	panic("unreachable")
}

func describe(v any) string {
	if m, ok := v.(map[string]any); ok {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return fmt.Sprintf("a table with keys [%s]", strings.Join(keys, ", "))
	}
	return typeName(v)
}

// marshalValue renders a normalized config value as compact JSON, numbers with their original text.
func marshalValue(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
