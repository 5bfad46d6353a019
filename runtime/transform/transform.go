// Package transform implements the message transforms a connector config lists under
// [transforms.<type>] (or as an ordered [[transforms]] array with type = "<type>"): add_fields,
// delete_fields, filter_fields, update_fields and unwrap_envelope, with the semantics of the original
// Iggy connectors runtime.
//
// Rules common to every transform:
//   - Transforms act only on JSON payloads whose value is an object, and only on its top-level keys.
//     Any other payload (raw, text, opaque protobuf/FlatBuffers, or JSON that is an array, string,
//     number, boolean or null) passes through unchanged. No built-in transform drops a message.
//   - A chain applies its transforms in the order given (file order). The original stored transforms
//     in a hash map, so its order was random per run; here it is deterministic.
//   - Every transform table accepts "enabled" (a boolean). The original required it; here it defaults
//     to true when absent. A disabled transform is skipped, but its config is still checked.
//   - Unknown keys in a transform's config are an error naming the key (the original ignored them).
//   - Errors name the config path, e.g.
//     "transforms.filter_fields.patterns[0].key_pattern.regex: invalid regex ...".
//
// The transforms, with their config keys:
//
// add_fields — fields = [{ key = "k", value = <value> }, ...]: sets every key, overwriting an
// existing value (in place) or appending the key. An empty list is a no-op.
//
// update_fields — fields = [{ key = "k", value = <value>, condition = "always" | "key_exists" |
// "key_not_exists" }, ...] (condition defaults to "always"): sets the key when the condition holds
// for the object as it is at that point.
//
// A <value> is either { static = <any TOML/JSON value> } or { computed = "<kind>" }, where kind is
// date_time (RFC 3339 string of the current UTC time, e.g. "2026-01-02T03:04:05.123456789+00:00",
// with 0, 3, 6 or 9 fractional digits like the original), timestamp_nanos, timestamp_micros,
// timestamp_millis, timestamp_seconds (integers since the Unix epoch), uuid_v4 or uuid_v7
// (hyphenated lowercase strings). Computed values are evaluated for every message and every field.
//
// delete_fields — fields = ["a", "b"]: removes those top-level keys; missing keys are ignored.
//
// filter_fields — keep_fields = [...], patterns = [{ key_pattern = ..., value_pattern = ... }, ...],
// include_matching = true (default): a key listed in keep_fields is always kept; any other key is
// kept when (it matches at least one pattern) == include_matching. A pattern matches a member when
// every part it has matches (a pattern with neither part matches every member). keep_fields alone
// therefore keeps only those keys; with neither keep_fields nor patterns the transform is a no-op.
// key_pattern is one of { exact = "s" }, { starts_with = "s" }, { ends_with = "s" },
// { contains = "s" }, { regex = "re" } (Go RE2 syntax, unanchored). value_pattern is one of
// { equals = <value> } (JSON equality: strings by content, numbers by value so 1 equals 1.0,
// objects regardless of key order), { contains = "s" } and { regex = "re" } (string values only),
// { greater_than = n }, { less_than = n }, { between = [a, b] } (inclusive; numbers only, compared
// as float64), or one of the strings "is_null", "is_not_null", "is_string", "is_number",
// "is_boolean", "is_object", "is_array".
//
// unwrap_envelope — field = "data" (required, non-empty): replaces the payload by the value of that
// top-level key, whatever its type; when the key is missing the payload is unchanged.
//
// Execution: a chain of add_fields, update_fields, delete_fields and filter_fields runs on the
// splice path where it can — while a json payload is validated, in one pass, copying untouched
// members as they are (Chain.Decoder; splice.go describes it and when it falls back). Everything
// else runs on the tree path: Chain.Apply on the payload's top-level index (codec.Object). Both give
// the same bytes.
//
// The original's proto_convert, flat_buffer_convert and avro_convert transforms are not supported:
// protobuf, FlatBuffers and Avro payloads are converted by the stream codecs (package runtime/codec)
// when the stream has a schema.
package transform

import (
	"fmt"
	"strings"

	"github.com/iggy-go/connectors/runtime/codec"
)

// Transform type names.
const (
	TypeAddFields      = "add_fields"
	TypeDeleteFields   = "delete_fields"
	TypeFilterFields   = "filter_fields"
	TypeUpdateFields   = "update_fields"
	TypeUnwrapEnvelope = "unwrap_envelope"
)

// Types lists the supported transform types.
var Types = []string{TypeAddFields, TypeDeleteFields, TypeFilterFields, TypeUpdateFields, TypeUnwrapEnvelope}

// Spec is one transform as configured.
type Spec struct {
	// Type is the transform type, e.g. "add_fields".
	Type string
	// Config is the transform's table as decoded from TOML by go-toml/v2 (int64, float64, string,
	// bool, []any, map[string]any, dates) or from JSON (float64 or json.Number), including "enabled".
	Config map[string]any
	// Path names the table in errors; default "transforms.<Type>". Set it to e.g. "transforms[2]"
	// for the [[transforms]] array form.
	Path string
}

func (s Spec) path() string {
	if s.Path != "" {
		return s.Path
	}
	return "transforms." + s.Type
}

// Meta identifies the stream and topic a message belongs to.
type Meta struct {
	Stream, Topic string
}

// Transform modifies one message payload in place. Implementations are immutable after
// construction and safe for concurrent use on different payloads.
type Transform interface {
	// Type is the transform type name.
	Type() string
	// Apply transforms p. Payloads the transform does not apply to are left unchanged. An error means
	// the message cannot be processed (on the sink path it is handled by the connector's on_error
	// policy; on the source path the batch is rejected).
	Apply(meta Meta, p *codec.Payload) error
}

// New builds one transform from its spec, ignoring "enabled" (see NewChain). Errors name the
// config path and key.
func New(spec Spec) (Transform, error) {
	t, _, err := build(spec)
	return t, err
}

func build(spec Spec) (Transform, bool, error) {
	path := spec.path()
	cfg, err := normalizeConfig(path, spec.Config)
	if err != nil {
		return nil, false, err
	}
	o := &cfgObj{path: path, m: cfg, used: map[string]bool{}}
	enabled, err := o.boolean("enabled", true)
	if err != nil {
		return nil, false, err
	}
	var t Transform
	switch spec.Type {
	case TypeAddFields:
		t, err = newAddFields(o)
	case TypeUpdateFields:
		t, err = newUpdateFields(o)
	case TypeDeleteFields:
		t, err = newDeleteFields(o)
	case TypeFilterFields:
		t, err = newFilterFields(o)
	case TypeUnwrapEnvelope:
		t, err = newUnwrapEnvelope(o)
	case "proto_convert", "flat_buffer_convert", "avro_convert":
		return nil, false, fmt.Errorf("%s: transform type %q of the original runtime is not supported by this runtime "+
			"(protobuf, FlatBuffers and Avro payloads are converted by the stream schema options proto_descriptor_set/"+
			"proto_message_type, flatbuffer_schema and avro_schema_path; supported transforms: %s)", path, spec.Type, strings.Join(Types, ", "))
	case "":
		return nil, false, fmt.Errorf("%s: transform type is missing (supported: %s)", path, strings.Join(Types, ", "))
	default:
		return nil, false, fmt.Errorf("%s: unknown transform type %q (supported: %s)", path, spec.Type, strings.Join(Types, ", "))
	}
	if err != nil {
		return nil, false, err
	}
	if err := o.done(); err != nil {
		return nil, false, err
	}
	return t, enabled, nil
}

// Chain is an ordered list of enabled transforms. The zero Chain has no transforms. A Chain is
// immutable and safe for concurrent use on different payloads.
type Chain struct {
	ts   []Transform
	plan *splicePlan // nil: no splice path (see splice.go)
}

// NewChain builds the transforms of specs in order, leaving out disabled ones. Every spec's config
// is checked, disabled or not; the first error is returned.
func NewChain(specs []Spec) (Chain, error) {
	var c Chain
	for _, s := range specs {
		t, enabled, err := build(s)
		if err != nil {
			return Chain{}, err
		}
		if enabled {
			c.ts = append(c.ts, t)
		}
	}
	c.plan = compileSplice(c.ts)
	return c, nil
}

// Len is the number of enabled transforms; 0 means Apply never changes a payload.
func (c Chain) Len() int { return len(c.ts) }

// Types lists the chain's transform types in order.
func (c Chain) Types() []string {
	out := make([]string, len(c.ts))
	for i, t := range c.ts {
		out[i] = t.Type()
	}
	return out
}

// Apply runs the transforms in order on p; it stops at the first error, which names the transform.
// A payload the chain's Decoder already transformed on the splice path (Payload.Spliced) is left
// alone.
func (c Chain) Apply(meta Meta, p *codec.Payload) error {
	if len(c.ts) == 0 || p.Kind() != codec.KindJSON || p.Spliced() {
		return nil
	}
	return c.applyTree(meta, p)
}

// applyTree runs the transforms on a copy of *p, so that p itself does not escape to the heap (the
// transforms are called through an interface) and a caller's Payload can live on its stack when
// the splice path took it.
func (c Chain) applyTree(meta Meta, p *codec.Payload) error {
	q := new(codec.Payload)
	*q = *p
	defer func() { *p = *q }()
	for _, t := range c.ts {
		if err := t.Apply(meta, q); err != nil {
			return fmt.Errorf("transform %s: %w", t.Type(), err)
		}
	}
	return nil
}
