package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/iggy-go/connectors/abi"
)

// SDKVersion is reported in PluginInfo.sdk.
const SDKVersion = "go-sdk/0.1.0"

// Plugin is a connector declared with NewSink or NewSource, ready to be registered with the export
// package. Its methods are what the export shim (and tests) call; connector code does not need them.
type Plugin struct {
	kind      abi.Kind
	info      Info
	fields    []abi.ConfigField
	decode    func(cfgJSON []byte) (any, error)
	newSink   func(cfg any, env Env) (Sink, error)
	newSource func(cfg any, state []byte, env Env) (Source, error)
}

// NewSink declares a sink plugin whose plugin_config decodes into C.
//
// C is a struct; each field's `json` tag names its plugin_config key. Optional tags: `default:"<JSON>"`
// (value used when the key is absent), `required:"true"`, `desc:"..."`. Fields of type Secret are
// redacted everywhere. Decoding rejects unknown keys (suggesting the closest known one), missing
// required keys and values of the wrong type, each as a *FieldError; then, if *C has a
// `Validate() error` method, it is called. Validation must be pure: no network, no files.
// newSink receives the decoded config and builds the (not yet opened) sink.
func NewSink[C any](info Info, newSink func(cfg *C, env Env) (Sink, error)) *Plugin {
	return &Plugin{
		kind: abi.KindSink, info: info, fields: configFields(reflect.TypeFor[C]()),
		decode:  func(b []byte) (any, error) { return DecodeConfig[C](b) },
		newSink: func(cfg any, env Env) (Sink, error) { return newSink(cfg.(*C), env) },
	}
}

// NewSource declares a source plugin whose plugin_config decodes into C (same rules as NewSink).
// newSource also receives the last persisted state (nil when there is none).
func NewSource[C any](info Info, newSource func(cfg *C, state []byte, env Env) (Source, error)) *Plugin {
	return &Plugin{
		kind: abi.KindSource, info: info, fields: configFields(reflect.TypeFor[C]()),
		decode: func(b []byte) (any, error) { return DecodeConfig[C](b) },
		newSource: func(cfg any, state []byte, env Env) (Source, error) {
			return newSource(cfg.(*C), state, env)
		},
	}
}

// Kind is abi.KindSink or abi.KindSource.
func (p *Plugin) Kind() abi.Kind { return p.kind }

// PluginInfo is the record iggy_plugin_info returns.
func (p *Plugin) PluginInfo() abi.PluginInfo {
	return abi.PluginInfo{
		ABIVersion: abi.Version, Kind: p.kind, Name: p.info.Name, Version: p.info.Version,
		Description: p.info.Description, ConfigFields: p.fields, SDK: SDKVersion,
	}
}

// ValidateConfig decodes and validates a plugin config without building the connector.
func (p *Plugin) ValidateConfig(cfgJSON []byte) error {
	_, err := p.decode(cfgJSON)
	return err
}

// BuildSink decodes the config and calls the sink constructor. The sink is not opened yet.
func (p *Plugin) BuildSink(cfgJSON []byte, env Env) (Sink, error) {
	if p.kind != abi.KindSink {
		return nil, Permanent(fmt.Errorf("plugin %q is a %s, not a sink", p.info.Name, p.kind))
	}
	cfg, err := p.decode(cfgJSON)
	if err != nil {
		return nil, err
	}
	return p.newSink(cfg, env)
}

// BuildSource decodes the config and calls the source constructor. The source is not opened yet.
func (p *Plugin) BuildSource(cfgJSON, state []byte, env Env) (Source, error) {
	if p.kind != abi.KindSource {
		return nil, Permanent(fmt.Errorf("plugin %q is a %s, not a source", p.info.Name, p.kind))
	}
	cfg, err := p.decode(cfgJSON)
	if err != nil {
		return nil, err
	}
	return p.newSource(cfg, state, env)
}

// DecodeConfig decodes a JSON plugin_config into a new C following the rules described at NewSink.
func DecodeConfig[C any](cfgJSON []byte) (*C, error) {
	cfg := new(C)
	rv := reflect.ValueOf(cfg).Elem()
	if rv.Kind() != reflect.Struct {
		return nil, Permanent(fmt.Errorf("config type %T is not a struct", *cfg))
	}
	raw := map[string]json.RawMessage{}
	trimmed := bytes.TrimSpace(cfgJSON)
	if len(trimmed) > 0 && !bytes.Equal(trimmed, []byte("null")) {
		if err := json.Unmarshal(trimmed, &raw); err != nil {
			return nil, fmt.Errorf("%w: plugin_config must be a JSON object: %v", ErrMalformedConfig, err)
		}
	}
	fields := structFields(rv.Type())
	known := make([]string, 0, len(fields))
	for _, f := range fields {
		known = append(known, f.key)
	}
	var unknown []string
	for k := range raw {
		if _, ok := fieldByKey(fields, k); !ok {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		k := unknown[0]
		msg := "unknown key"
		if s := Suggest(k, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return nil, &FieldError{Field: k, Message: msg}
	}
	for _, f := range fields {
		fv := rv.FieldByIndex(f.index)
		val, present := raw[f.key]
		if !present || bytes.Equal(bytes.TrimSpace(val), []byte("null")) {
			if f.required {
				return nil, &FieldError{Field: f.key, Message: "is required"}
			}
			if f.def == "" {
				continue
			}
			val = json.RawMessage(f.def)
		}
		if err := json.Unmarshal(val, fv.Addr().Interface()); err != nil {
			return nil, &FieldError{Field: f.key, Message: cleanJSONError(err)}
		}
	}
	if v, ok := any(cfg).(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

type fieldSpec struct {
	key      string
	index    []int
	def      string
	required bool
	desc     string
	typ      reflect.Type
}

func structFields(t reflect.Type) []fieldSpec {
	var out []fieldSpec
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out = append(out, fieldSpec{key: name, index: sf.Index, def: sf.Tag.Get("default"),
			required: sf.Tag.Get("required") == "true", desc: sf.Tag.Get("desc"), typ: sf.Type})
	}
	return out
}

func fieldByKey(fields []fieldSpec, key string) (fieldSpec, bool) {
	for _, f := range fields {
		if f.key == key {
			return f, true
		}
	}
	return fieldSpec{}, false
}

var (
	durationType = reflect.TypeFor[Duration]()
	secretType   = reflect.TypeFor[Secret]()
)

func configFields(t reflect.Type) []abi.ConfigField {
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []abi.ConfigField
	for _, f := range structFields(t) {
		out = append(out, abi.ConfigField{Name: f.key, Type: typeName(f.typ), Required: f.required,
			Default: f.def, Description: f.desc, Secret: f.typ == secretType})
	}
	return out
}

func typeName(t reflect.Type) string {
	if t == durationType {
		return "duration"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "int"
	case reflect.Float32, reflect.Float64:
		return "float"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return "any"
}

// cleanJSONError turns encoding/json's messages into something about the value, not Go types.
func cleanJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("expected %s, got %s", typeName(te.Type), te.Value)
	}
	return err.Error()
}

// Suggest returns the candidate closest to s by edit distance, or "" when none is close enough.
func Suggest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := levenshtein(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
