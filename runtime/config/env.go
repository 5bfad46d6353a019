package config

import (
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Environment overrides, as in the original (spec §4.3):
//
//   - Main config: IGGY_CONNECTORS_ + the key path upper-cased with "." → "_", e.g.
//     IGGY_CONNECTORS_IGGY_ADDRESS, IGGY_CONNECTORS_HTTP_CORS_ALLOWED_ORIGINS,
//     IGGY_CONNECTORS_CONNECTORS_RETRY_MAX_ATTEMPTS. connectors.request_headers and
//     connectors.url_templates cannot be set this way.
//   - Connector configs (local provider only): IGGY_CONNECTORS_{SINK|SOURCE}_{KEY}_{FIELD}, KEY
//     upper-cased verbatim (hyphens stay), e.g. IGGY_CONNECTORS_SINK_PG_ENABLED,
//     IGGY_CONNECTORS_SOURCE_RANDOM_STREAMS_0_TOPIC. IGGY_CONNECTORS_SINK_PG_PLUGIN_CONFIG_<FIELD>
//     sets the lower-cased top-level plugin_config key <field>. Transforms cannot be overridden.
//   - Arrays: NAME=[a, "b", c] sets the whole array; NAME_0_..., NAME_1_... set elements (arrays
//     of tables need every required key of each element). An array given in the environment
//     replaces the file's array as a whole.
//   - Values: empty = ignored. A value is read as the type of its key (bool: true/false in any
//     case; integers; floats; durations; strings taken verbatim). Untyped values (plugin_config)
//     are tried as bool, u64, i64, f64, [array], in that order, else kept as a string.
//   - Unknown IGGY_CONNECTORS_* names are reported as warnings with a suggestion, except
//     IGGY_CONNECTORS_CONFIG_PATH, IGGY_CONNECTORS_ENV_PATH and the per-connector names.

// EnvPrefix starts every environment variable of the runtime.
const EnvPrefix = "IGGY_CONNECTORS_"

// Environment variables that are not config keys.
const (
	EnvConfigPath = "IGGY_CONNECTORS_CONFIG_PATH" // main config file
	EnvEnvPath    = "IGGY_CONNECTORS_ENV_PATH"    // dotenv file to load instead of .env
	EnvDisplay    = "IGGY_DISPLAY_CONFIG"         // "1"/"true": print the effective config at startup
)

// EnvFile is the File of problems found in environment variables.
const EnvFile = "environment"

// Environ returns the process environment as a map.
func Environ() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, ok := strings.Cut(kv, "=")
		if ok {
			env[k] = v
		}
	}
	return env
}

// envName renders the variable that sets key path p under prefix: "streams[0].poll_interval" →
// prefix + "STREAMS_0_POLL_INTERVAL".
func envName(prefix, p string) string {
	r := strings.NewReplacer(".", "_", "[", "_", "]", "")
	return prefix + strings.ToUpper(r.Replace(p))
}

// envMatch is a variable resolved against a config struct.
type envMatch struct {
	path    []pathElem
	leaf    reflect.Type // type of the value the variable sets
	untyped bool         // inside a map[string]any: parse by the generic rules
}

type pathElem struct {
	key   string
	index int // >= 0: array element
}

// matchEnvName resolves rest (a variable name without its prefix) against struct type t.
func matchEnvName(rest string, t reflect.Type, kind Kind) (envMatch, bool) {
	fs := fieldsOf(t, kind)
	sort.SliceStable(fs, func(i, j int) bool { return len(fs[i].key) > len(fs[j].key) })
	for _, f := range fs {
		if f.noEnv {
			continue
		}
		up := strings.ToUpper(f.key)
		if rest == up {
			return envMatch{path: []pathElem{{key: f.key, index: -1}}, leaf: f.typ}, true
		}
		if !strings.HasPrefix(rest, up+"_") {
			continue
		}
		sub := rest[len(up)+1:]
		if m, ok := matchEnvType(sub, f.typ, kind); ok {
			m.path = append([]pathElem{{key: f.key, index: -1}}, m.path...)
			return m, true
		}
	}
	return envMatch{}, false
}

// matchEnvType resolves sub (the part after a field's name) against the field's type.
func matchEnvType(sub string, t reflect.Type, kind Kind) (envMatch, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[Duration]():
		return envMatch{}, false
	case t.Kind() == reflect.Struct:
		return matchEnvName(sub, t, kind)
	case t.Kind() == reflect.Slice:
		i := 0
		for i < len(sub) && sub[i] >= '0' && sub[i] <= '9' {
			i++
		}
		if i == 0 || i > 3 {
			return envMatch{}, false
		}
		idx, _ := strconv.Atoi(sub[:i])
		if idx > 255 {
			return envMatch{}, false
		}
		el := t.Elem()
		here := pathElem{index: idx}
		if i == len(sub) {
			if el.Kind() == reflect.Struct {
				return envMatch{}, false
			}
			return envMatch{path: []pathElem{here}, leaf: el}, true
		}
		if sub[i] != '_' || el.Kind() != reflect.Struct {
			return envMatch{}, false
		}
		m, ok := matchEnvName(sub[i+1:], el, kind)
		if !ok {
			return envMatch{}, false
		}
		m.path = append([]pathElem{here}, m.path...)
		return m, true
	case t.Kind() == reflect.Map && t.Elem().Kind() == reflect.Interface:
		if sub == "" {
			return envMatch{}, false
		}
		return envMatch{path: []pathElem{{key: strings.ToLower(sub), index: -1}}, untyped: true}, true
	}
	return envMatch{}, false
}

// envNames lists the variables (without prefix) that set the keys of struct type t; arrays of
// tables appear with index 0. Used for suggestions.
func envNames(t reflect.Type, kind Kind, prefix string) []string {
	var out []string
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for _, f := range fieldsOf(t, kind) {
		if f.noEnv {
			continue
		}
		name := prefix + strings.ToUpper(f.key)
		ft := f.typ
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft == reflect.TypeFor[Duration]():
			out = append(out, name)
		case ft.Kind() == reflect.Struct:
			out = append(out, envNames(ft, kind, name+"_")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, envNames(ft.Elem(), kind, name+"_0_")...)
		case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Interface:
			out = append(out, name+"_<FIELD>")
		default:
			out = append(out, name)
		}
	}
	return out
}

// envTree turns variables (full names) into a config tree for struct type t. prefix is stripped
// from each name. It returns the tree, the key paths the tree sets (array roots and leaves), and
// problems; unmatched variables go to unknown.
func envTree(vars map[string]string, prefix string, t reflect.Type, kind Kind) (tree map[string]any, set map[string]string, unknown []string, ps Problems) {
	tree = map[string]any{}
	set = map[string]string{}
	names := make([]string, 0, len(vars))
	for n := range vars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		val := vars[name]
		if val == "" {
			continue
		}
		m, ok := matchEnvName(strings.TrimPrefix(name, prefix), t, kind)
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		v, err := parseEnvValue(val, m)
		if err != nil {
			ps.Add(EnvFile, name, "%v", err)
			continue
		}
		if err := setTreePath(tree, m.path, v); err != nil {
			ps.Add(EnvFile, name, "%v", err)
			continue
		}
		set[renderPath(m.path)] = name
	}
	// Arrays given by index become real arrays; remember their roots (they replace the file's).
	finishIndexed(tree, "", set, &ps, prefix)
	return tree, set, unknown, ps
}

func renderPath(path []pathElem) string {
	var b strings.Builder
	for _, e := range path {
		if e.index >= 0 {
			fmt.Fprintf(&b, "[%d]", e.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.key)
	}
	return b.String()
}

// indexed collects array elements given by index before they become a []any.
type indexed map[int]any

// setTreePath stores v at path, creating tables and indexed arrays on the way.
func setTreePath(tree map[string]any, path []pathElem, v any) error {
	var cur any = tree
	for i, e := range path {
		last := i == len(path)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				if _, exists := c[e.key]; exists {
					return fmt.Errorf("set twice (as a whole and by index?)")
				}
				c[e.key] = v
				return nil
			}
			next, ok := c[e.key]
			if !ok {
				if path[i+1].index >= 0 {
					next = indexed{}
				} else {
					next = map[string]any{}
				}
				c[e.key] = next
			}
			cur = next
		case indexed:
			if last {
				if _, exists := c[e.index]; exists {
					return fmt.Errorf("set twice")
				}
				c[e.index] = v
				return nil
			}
			next, ok := c[e.index]
			if !ok {
				next = map[string]any{}
				c[e.index] = next
			}
			cur = next
		default:
			return fmt.Errorf("conflicts with a variable that sets the whole array")
		}
	}
	return nil
}

// finishIndexed replaces indexed values by arrays, reporting gaps, and records array roots.
func finishIndexed(tbl map[string]any, path string, set map[string]string, ps *Problems, prefix string) {
	for k, v := range tbl {
		p := joinPath(path, k)
		switch x := v.(type) {
		case map[string]any:
			finishIndexed(x, p, set, ps, prefix)
		case indexed:
			idx := make([]int, 0, len(x))
			for i := range x {
				idx = append(idx, i)
			}
			sort.Ints(idx)
			arr := make([]any, 0, len(idx))
			for n, i := range idx {
				if i != n {
					ps.Add(EnvFile, envName(prefix, indexPath(p, n)), "array element %d is missing (elements are given by index from 0 without gaps; index %d is set)", n, i)
					break
				}
				el := x[i]
				if m, ok := el.(map[string]any); ok {
					finishIndexed(m, indexPath(p, i), set, ps, prefix)
				}
				arr = append(arr, el)
			}
			tbl[k] = arr
			set[p] = envName(prefix, p)
		}
	}
}

// parseEnvValue reads a variable's value as the type of the key it sets.
func parseEnvValue(s string, m envMatch) (any, error) {
	if m.untyped {
		return ParseEnvValue(s), nil
	}
	t := m.leaf
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[Duration]() {
		return s, nil
	}
	switch t.Kind() {
	case reflect.String:
		return s, nil
	case reflect.Bool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("expected true or false, got %q", s)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("expected an integer, got %q", s)
		}
		return n, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("expected a non-negative integer, got %q", s)
		}
		return n, nil
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("expected a number, got %q", s)
		}
		return f, nil
	case reflect.Slice:
		items := []string{s}
		if arr, ok := splitEnvArray(s); ok {
			items = arr
		}
		out := make([]any, len(items))
		for i, it := range items {
			v, err := parseEnvValue(it, envMatch{leaf: t.Elem()})
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out[i] = v
		}
		return out, nil
	case reflect.Interface:
		return ParseEnvValue(s), nil
	}
	return s, nil
}

// ParseEnvValue parses an untyped environment value by the original's rules: true/false (any
// case) → bool; then u64, i64, f64; "[a, "b", c]" → array (split on commas outside quotes, quotes
// stripped, elements parsed by the same rules); anything else → the string itself.
func ParseEnvValue(s string) any {
	switch strings.ToLower(s) {
	case "true":
		return true
	case "false":
		return false
	}
	if u, err := strconv.ParseUint(s, 10, 64); err == nil {
		if u <= 1<<63-1 {
			return int64(u)
		}
		return u
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXpP_") && !isNaNOrInfWord(s) {
		return f
	}
	if arr, ok := splitEnvArray(s); ok {
		out := make([]any, len(arr))
		for i, it := range arr {
			out[i] = ParseEnvValue(it)
		}
		return out
	}
	return s
}

func isNaNOrInfWord(s string) bool {
	switch strings.ToLower(strings.TrimLeft(s, "+-")) {
	case "nan", "inf", "infinity":
		return true
	}
	return false
}

// splitEnvArray splits "[a, "b, c", d]" into ["a", "b, c", "d"]; ok is false when s is not
// bracketed. "[]" is an empty array.
func splitEnvArray(s string) ([]string, bool) {
	t := strings.TrimSpace(s)
	if len(t) < 2 || t[0] != '[' || t[len(t)-1] != ']' {
		return nil, false
	}
	inner := strings.TrimSpace(t[1 : len(t)-1])
	if inner == "" {
		return []string{}, true
	}
	var out []string
	var cur strings.Builder
	var quote byte
	quoted := false
	flush := func() {
		item := cur.String()
		if !quoted {
			item = strings.TrimSpace(item)
		}
		out = append(out, item)
		cur.Reset()
		quoted = false
	}
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote = c
			quoted = true
			cur.Reset()
		case c == ',':
			flush()
		case quoted && (c == ' ' || c == '\t'):
			// spaces after a closing quote
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out, true
}

// MainEnvOverrides resolves the IGGY_CONNECTORS_* variables of env that set main-config keys. It
// returns the override tree (see Load), the key paths it sets mapped to variable names, and
// problems: bad values and unknown IGGY_CONNECTORS_* names (with a suggestion) are errors. It is pure (env is not read from the process).
func MainEnvOverrides(env map[string]string) (tree map[string]any, set map[string]string, ps Problems) {
	vars := map[string]string{}
	for k, v := range env {
		if !strings.HasPrefix(k, EnvPrefix) || k == EnvConfigPath || k == EnvEnvPath ||
			strings.HasPrefix(k, EnvPrefix+"SINK_") || strings.HasPrefix(k, EnvPrefix+"SOURCE_") {
			continue
		}
		vars[k] = v
	}
	tree, set, unknown, ps := envTree(vars, EnvPrefix, reflect.TypeFor[Config](), "")
	if len(unknown) > 0 {
		known := envNames(reflect.TypeFor[Config](), "", EnvPrefix)
		known = append(known, EnvConfigPath, EnvEnvPath)
		for _, n := range unknown {
			ps.Add(EnvFile, n, "unknown variable%s", suggestion(n, known))
		}
	}
	return tree, set, ps
}

// ConnectorEnvPrefix is the prefix of the variables that override connector key's config:
// IGGY_CONNECTORS_SINK_PG_ for sink "pg".
func ConnectorEnvPrefix(kind Kind, key string) string {
	return EnvPrefix + strings.ToUpper(string(kind)) + "_" + strings.ToUpper(key) + "_"
}

// SplitConnectorEnv assigns the IGGY_CONNECTORS_{SINK|SOURCE}_* variables of env to connectors,
// given the keys that exist per kind. A variable goes to the longest key whose prefix it starts
// with (keys "pg" and "pg_2": IGGY_CONNECTORS_SINK_PG_2_ENABLED belongs to "pg_2"). Variables that
// match no key are reported as warnings. The result maps kind → key → variables (full names).
func SplitConnectorEnv(env map[string]string, keys map[Kind][]string) (map[Kind]map[string]map[string]string, Problems) {
	out := map[Kind]map[string]map[string]string{KindSink: {}, KindSource: {}}
	var ps Problems
	names := make([]string, 0)
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, kind := range []Kind{KindSink, KindSource} {
			p := EnvPrefix + strings.ToUpper(string(kind)) + "_"
			if !strings.HasPrefix(name, p) {
				continue
			}
			best := ""
			for _, key := range keys[kind] {
				if strings.HasPrefix(name, ConnectorEnvPrefix(kind, key)) && len(key) > len(best) {
					best = key
				}
			}
			if best == "" {
				if env[name] != "" {
					ps.Warn(EnvFile, name, "no %s has a key matching this variable (known %s keys: %s)", kind, kind, strings.Join(sorted(keys[kind]), ", "))
				}
				continue
			}
			if out[kind][best] == nil {
				out[kind][best] = map[string]string{}
			}
			out[kind][best][name] = env[name]
		}
	}
	return out, ps
}

func sorted(s []string) []string {
	c := append([]string{}, s...)
	sort.Strings(c)
	return c
}

// mergeTree applies src over dst (tables merge key by key; arrays and values replace).
func mergeTree(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeTree(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}
