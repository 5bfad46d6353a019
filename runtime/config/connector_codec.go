package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/iggy-go/connectors/sdk"
	"reflect"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// ConnectorDoc is a parsed connector document (a TOML file, or JSON from the HTTP provider or an
// API body) whose kind and key are known but which is not yet decoded. The local provider parses
// every file first, so that environment variables can be matched against all keys (see
// SplitConnectorEnv), then decodes each document with its variables.
type ConnectorDoc struct {
	File  string // where it came from (path or URL), for problems
	Kind  Kind
	Key   string
	tree  map[string]any
	order map[string][]string
	full  bool
}

// ParseConnectorTOML parses a connector file. Problems are errors for this file only: a file that
// is not valid TOML, or whose `type`/`key` are missing or wrong, yields a nil document.
func ParseConnectorTOML(file string, data []byte) (*ConnectorDoc, Problems) {
	var ps Problems
	tree := map[string]any{}
	if err := toml.Unmarshal(data, &tree); err != nil {
		ps.Add(file, tomlErrorKey(err, data), "%s", tomlErrorMessage(err))
		return nil, ps
	}
	return identify(&ConnectorDoc{File: file, tree: tree, order: tomlKeyOrder(data), full: true})
}

// GuessConnectorTOML is ParseConnectorTOML for a file whose `type` or `key` is misspelt (`typ =
// "sink"`): it takes them from the misspelt keys, which stay in the document (decoding reports them
// as unknown keys). Only `validate` uses it, to go on checking such a file; nil when the file is
// not TOML or has no usable misspelling either.
func GuessConnectorTOML(file string, data []byte) *ConnectorDoc {
	tree := map[string]any{}
	if err := toml.Unmarshal(data, &tree); err != nil {
		return nil
	}
	doc := &ConnectorDoc{File: file, tree: tree, order: tomlKeyOrder(data), full: true}
	for _, k := range []string{"type", "key"} {
		if _, ok := tree[k]; !ok {
			if v, ok := doc.MisspeltString(k); ok {
				tree[k] = v
			}
		}
	}
	doc, _ = identify(doc)
	return doc
}

// identify sets the document's kind and key from its `type` and `key`.
func identify(doc *ConnectorDoc) (*ConnectorDoc, Problems) {
	var ps Problems
	file, tree := doc.File, doc.tree
	switch t := tree["type"].(type) {
	case string:
		switch Kind(strings.ToLower(t)) {
		case KindSink, KindSource:
			doc.Kind = Kind(strings.ToLower(t))
			tree["type"] = string(doc.Kind)
		default:
			ps.Add(file, "type", "must be \"sink\" or \"source\", got %q%s", t, suggestion(strings.ToLower(t), []string{"sink", "source"}))
			return nil, ps
		}
	case nil:
		ps.Add(file, "type", "missing required key (\"sink\" or \"source\")")
		return nil, ps
	default:
		ps.Add(file, "type", "expected a string (\"sink\" or \"source\"), got %s", describe(t))
		return nil, ps
	}
	switch k := tree["key"].(type) {
	case string:
		doc.Key = k
	case nil:
		ps.Add(file, "key", "missing required key")
		return nil, ps
	default:
		ps.Add(file, "key", "expected a string, got %s", describe(k))
		return nil, ps
	}
	return doc, ps
}

// PeekIdentity guesses the type and key of a connector file that is not valid TOML, from its
// top-level `type = "..."` and `key = "..."` lines, so that a broken file can still be tied to its
// connector (the local provider then refuses to fall back to an older version of it).
func PeekIdentity(data []byte) (Kind, string, bool) {
	var kind Kind
	var key string
	for _, line := range strings.Split(string(data), "\n") {
		if tableHeader.MatchString(line) {
			break
		}
		if m := identityLine.FindStringSubmatch(line); m != nil {
			switch m[1] {
			case "type":
				kind = Kind(strings.ToLower(m[2]))
			case "key":
				key = m[2]
			}
		}
	}
	ok := (kind == KindSink || kind == KindSource) && key != ""
	return kind, key, ok
}

var identityLine = regexp.MustCompile(`^\s*(type|key)\s*=\s*["']([^"']*)["']\s*(#.*)?$`)

// Version returns the document's `version` when it is a valid one (used to tell which version a
// file that fails to decode was meant to be).
func (d *ConnectorDoc) Version() (uint64, bool) {
	return asUint(d.tree["version"])
}

func tomlErrorMessage(err error) string {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		return fmt.Sprintf("invalid TOML at line %d, column %d: %s", row, col, strings.TrimPrefix(de.Error(), "toml: "))
	}
	return "invalid TOML: " + strings.TrimPrefix(err.Error(), "toml: ")
}

// tomlErrorKey returns the full key path of a TOML decode error, e.g. "http.enabled" for a
// duplicate key under [http] ("" when go-toml names no key).
func tomlErrorKey(err error, data []byte) string {
	var de *toml.DecodeError
	if !errors.As(err, &de) || len(de.Key()) == 0 {
		return ""
	}
	key := strings.Join(de.Key(), ".")
	row, _ := de.Position()
	table := ""
	for i, line := range strings.Split(string(data), "\n") {
		if i+1 >= row {
			break
		}
		if m := tableHeader.FindStringSubmatch(line); m != nil {
			table = strings.Join(strings.Fields(strings.ReplaceAll(m[1], " ", "")), "")
		}
	}
	if table != "" && !strings.HasPrefix(key, table+".") {
		return table + "." + key
	}
	return key
}

var tableHeader = regexp.MustCompile(`^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$`)

// ParseConnectorJSON parses a connector config in the API's JSON shape (spec §5: key, enabled,
// version, name, path, transforms, streams, plugin_config_format, plugin_config, verbose,
// benchmark, plus this runtime's extensions; null = absent). kind comes from the context (the URL),
// as the original's JSON has no "type". complete = a stored config (key and version required);
// otherwise a create body, where key is taken from keyHint and version is assigned by the provider.
// A complete config without "key" takes keyHint when it is not empty.
func ParseConnectorJSON(kind Kind, file string, data []byte, complete bool, keyHint string) (*ConnectorDoc, Problems) {
	var ps Problems
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		ps.Add(file, "", "invalid JSON: %v", err)
		return nil, ps
	}
	tree, ok := v.(map[string]any)
	if !ok {
		ps.Add(file, "", "expected a JSON object, got %s", describe(v))
		return nil, ps
	}
	if t, ok := tree["type"].(string); ok && Kind(t) != kind {
		ps.Add(file, "type", "is %q, but a %s config was expected", t, kind)
		return nil, ps
	}
	tree["type"] = string(kind)
	doc := &ConnectorDoc{File: file, Kind: kind, tree: tree, full: complete,
		order: map[string][]string{"transforms": jsonKeyOrder(data, "transforms")}}
	if complete {
		if tree["key"] == nil && keyHint != "" {
			tree["key"] = keyHint
		}
		k, ok := tree["key"].(string)
		if !ok {
			if tree["key"] == nil {
				ps.Add(file, "key", "missing required key")
			} else {
				ps.Add(file, "key", "expected a string, got %s", describe(tree["key"]))
			}
			return nil, ps
		}
		doc.Key = k
	} else {
		delete(tree, "key")
		delete(tree, "version")
		doc.Key = keyHint
	}
	return doc, ps
}

// Config decodes the document with the connector's environment overrides (full variable names,
// as returned by SplitConnectorEnv; nil = none), fills defaults and validates. The config is nil
// when there are error-severity problems.
func (d *ConnectorDoc) Config(envVars map[string]string) (*ConnectorConfig, Problems) {
	c, ps := d.Decode(envVars)
	if ps.HasErrors() {
		return nil, ps
	}
	return c, ps
}

// Decode is Config without the verdict: it returns the config decoded as far as possible even when
// there are errors (bad values left at their defaults), with every problem the decoder and
// Validate find (Validate's problem for a key the decoder already reported is left out), so that
// `validate` can go on checking the plugin, transforms and codecs of a file that has errors. A
// config with errors must never be run.
func (d *ConnectorDoc) Decode(envVars map[string]string) (*ConnectorConfig, Problems) {
	var ps Problems
	tree := d.tree
	var set map[string]string
	prefix := ConnectorEnvPrefix(d.Kind, d.Key)
	if len(envVars) > 0 {
		envT, envSet, unknown, envPs := envTree(envVars, prefix, reflect.TypeFor[ConnectorConfig](), d.Kind)
		ps = append(ps, envPs...)
		if len(unknown) > 0 {
			known := envNames(reflect.TypeFor[ConnectorConfig](), d.Kind, prefix)
			for _, n := range unknown {
				ps.Add(EnvFile, n, "no such %s config key%s", d.Kind, suggestion(n, known))
			}
		}
		tree = deepCopyTree(d.tree)
		mergeTree(tree, envT)
		set = envSet
	}
	c := &ConnectorConfig{}
	c.setDefaults()
	dec := &decoder{file: d.File, kind: d.Kind, full: d.full, problems: &ps, order: d.order, envSet: set, envPrefix: prefix}
	dec.decodeStruct("", tree, reflect.ValueOf(c).Elem(), true)
	if !d.full {
		c.Key = d.Key
	}
	c.Kind = d.Kind
	c.File = d.File
	c.finish()
	reported := map[string]bool{}
	for _, p := range ps {
		reported[p.File+"\x00"+p.Key] = true
	}
	for _, p := range c.Validate(d.File) {
		if !reported[p.File+"\x00"+p.Key] {
			ps = append(ps, p)
		}
	}
	return c, ps
}

func deepCopyTree(m map[string]any) map[string]any {
	return normalize(m).(map[string]any)
}

// MisspeltString returns the string value of an unknown top-level key that is close to key (the
// first in name order), e.g. the value of `pth` for "path". `validate` uses it to go on checking a file whose required key is misspelt (the file
// is rejected all the same); ok is false when no such key exists.
func (d *ConnectorDoc) MisspeltString(key string) (string, bool) {
	known := map[string]bool{}
	for _, f := range fieldsOf(reflect.TypeFor[ConnectorConfig](), "") {
		known[f.key] = true
	}
	for _, k := range sortedKeys(d.tree) {
		if v, isStr := d.tree[k].(string); isStr && !known[k] && sdk.Suggest(k, []string{key}) == key {
			return v, true
		}
	}
	return "", false
}

// LoadConnectorTOML parses and decodes one connector file without environment overrides.
func LoadConnectorTOML(file string, data []byte) (*ConnectorConfig, Problems) {
	doc, ps := ParseConnectorTOML(file, data)
	if doc == nil {
		return nil, ps
	}
	c, more := doc.Config(nil)
	return c, append(ps, more...)
}

// DecodeConnectorJSON parses and decodes a connector config in JSON (see ParseConnectorJSON).
func DecodeConnectorJSON(kind Kind, file string, data []byte, complete bool, keyHint string) (*ConnectorConfig, Problems) {
	doc, ps := ParseConnectorJSON(kind, file, data, complete, keyHint)
	if doc == nil {
		return nil, ps
	}
	c, more := doc.Config(nil)
	return c, append(ps, more...)
}

// PluginConfigJSON is the plugin_config handed to the plugin: a JSON object, "{}" when absent.
func (c *ConnectorConfig) PluginConfigJSON() ([]byte, error) {
	if len(c.PluginConfig) == 0 {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(c.PluginConfig)
	if err != nil {
		return nil, fmt.Errorf("plugin_config of %s: %w", c.ID(), err)
	}
	return b, nil
}

// connectorOut is the shape of a connector config in files and JSON, in the original's key order.
type connectorOut struct {
	Type               string            `toml:"type" json:"-"`
	Key                string            `toml:"key" json:"key"`
	Enabled            bool              `toml:"enabled" json:"enabled"`
	Version            uint64            `toml:"version" json:"version"`
	Name               string            `toml:"name" json:"name"`
	Path               string            `toml:"path" json:"path"`
	Transforms         Transforms        `toml:"-" json:"transforms"`
	Streams            any               `toml:"streams" json:"streams"`
	PluginConfigFormat *string           `toml:"plugin_config_format,omitempty" json:"plugin_config_format"`
	PluginConfig       map[string]any    `toml:"plugin_config" json:"plugin_config"`
	Verbose            bool              `toml:"verbose" json:"verbose"`
	Benchmark          bool              `toml:"benchmark" json:"benchmark"`
	Transport          string            `toml:"transport" json:"transport"`
	OnError            string            `toml:"on_error" json:"on_error"`
	DeadLetter         *DeadLetterConfig `toml:"dead_letter,omitempty" json:"dead_letter,omitempty"`
	Retry              RetryPolicy       `toml:"retry" json:"retry"`
	MaxInFlight        *uint32           `toml:"max_in_flight,omitempty" json:"max_in_flight,omitempty"`
	PollInterval       *Duration         `toml:"poll_interval,omitempty" json:"poll_interval,omitempty"`
	OnCorruptState     string            `toml:"on_corrupt_state,omitempty" json:"on_corrupt_state,omitempty"`
}

func (c *ConnectorConfig) out() connectorOut {
	o := connectorOut{Type: string(c.Kind), Key: c.Key, Enabled: c.Enabled, Version: c.Version, Name: c.Name,
		Path: c.Path, Transforms: c.Transforms, PluginConfig: c.PluginConfig, Verbose: c.Verbose,
		Benchmark: c.Benchmark, Transport: c.Transport, OnError: c.OnError, DeadLetter: c.DeadLetter, Retry: c.Retry}
	if o.PluginConfig == nil {
		o.PluginConfig = map[string]any{}
	}
	if c.PluginConfigFormat != "" {
		f := c.PluginConfigFormat
		o.PluginConfigFormat = &f
	}
	if c.Kind == KindSource {
		o.Streams = nonNil(c.SourceStreams)
		m, p := c.MaxInFlight, c.PollInterval
		o.MaxInFlight, o.PollInterval = &m, &p
		o.OnCorruptState = c.OnCorruptState
	} else {
		o.Streams = nonNil(c.SinkStreams)
	}
	return o
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// MarshalJSON renders the config in the API's shape (spec §5; no "type"), secrets included:
// the API is what shows and edits configs. Use Redacted first for logs.
func (c *ConnectorConfig) MarshalJSON() ([]byte, error) {
	return json.Marshal(c.out())
}

// MarshalTOML renders the config as a connector file (with `type`), secrets included, which
// ParseConnectorTOML reads back to an equal config. Transforms are written as the original's
// [transforms.<type>] tables in order, or as a [[transforms]] array when a type repeats.
func (c *ConnectorConfig) MarshalTOML() ([]byte, error) {
	var b bytes.Buffer
	enc := toml.NewEncoder(&b)
	enc.SetIndentTables(false)
	if err := enc.Encode(c.out()); err != nil {
		return nil, fmt.Errorf("encoding %s as TOML: %w", c.ID(), err)
	}
	if len(c.Transforms) == 0 {
		return b.Bytes(), nil
	}
	if c.Transforms.hasDuplicates() {
		arr := make([]map[string]any, len(c.Transforms))
		for i, t := range c.Transforms {
			m := t.Table()
			m["type"] = t.Type
			arr[i] = m
		}
		part, err := toml.Marshal(map[string]any{"transforms": arr})
		if err != nil {
			return nil, fmt.Errorf("encoding transforms of %s as TOML: %w", c.ID(), err)
		}
		b.WriteString("\n")
		b.Write(part)
		return b.Bytes(), nil
	}
	for _, t := range c.Transforms {
		part, err := toml.Marshal(map[string]any{"transforms": map[string]any{t.Type: t.Table()}})
		if err != nil {
			return nil, fmt.Errorf("encoding transforms.%s of %s as TOML: %w", t.Type, c.ID(), err)
		}
		part = bytes.TrimPrefix(part, []byte("[transforms]\n"))
		b.WriteString("\n")
		b.Write(part)
	}
	return b.Bytes(), nil
}

// Clone returns a deep copy.
func (c *ConnectorConfig) Clone() *ConnectorConfig {
	n := *c
	n.Transforms = make(Transforms, len(c.Transforms))
	for i, t := range c.Transforms {
		t.Config = normalize(t.Config).(map[string]any)
		n.Transforms[i] = t
	}
	if c.Transforms == nil {
		n.Transforms = nil
	}
	if c.PluginConfig != nil {
		n.PluginConfig = normalize(c.PluginConfig).(map[string]any)
	}
	if c.SinkStreams != nil {
		n.SinkStreams = make([]SinkStream, len(c.SinkStreams))
		for i, s := range c.SinkStreams {
			s.Topics = append([]string(nil), s.Topics...)
			n.SinkStreams[i] = s
		}
	}
	if c.SourceStreams != nil {
		n.SourceStreams = make([]SourceStream, len(c.SourceStreams))
		for i, s := range c.SourceStreams {
			if s.PartitionID != nil {
				p := *s.PartitionID
				s.PartitionID = &p
			}
			n.SourceStreams[i] = s
		}
	}
	if c.DeadLetter != nil {
		dl := *c.DeadLetter
		n.DeadLetter = &dl
	}
	n.SecretKeys = append([]string(nil), c.SecretKeys...)
	return &n
}
