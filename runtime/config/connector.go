package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/iggy-go/connectors/runtime/backoff"
)

// Kind is the type of a connector: "sink" or "source" (the `type` key of a connector file).
type Kind string

// Connector kinds.
const (
	KindSink   Kind = "sink"
	KindSource Kind = "source"
)

// Plural returns "sinks" or "sources" (table names in .active_versions.toml and API paths).
func (k Kind) Plural() string { return string(k) + "s" }

// ConnectorConfig is one version of one connector's configuration: a connector TOML file of the
// local provider, or a config served by the HTTP provider. Keys, types and defaults are the
// original's (spec §4.2) plus this runtime's extensions (transport, on_error, dead_letter, retry,
// max_in_flight, poll_interval, on_corrupt_state and the extra stream keys).
//
// Differences from the original, on purpose:
//   - enabled inside a transform defaults to true when absent (the original rejects the file);
//   - plugin_config absent means {} (never null) for the plugin and in JSON;
//   - transforms keep file order (the original's order is random), and the ordered
//     [[transforms]] type = "..." form is accepted too;
//   - a source uses every [[streams]] entry (the original only the last).
type ConnectorConfig struct {
	Kind    Kind   `toml:"type" required:"file" oneof:"sink|source"`
	Key     string `toml:"key" required:"file"`
	Enabled bool   `toml:"enabled" required:"true"`
	Version uint64 `toml:"version" required:"file"`
	Name    string `toml:"name" required:"true"`
	// Path is the plugin library as written in the config; resolve it with the plugin resolver.
	Path string `toml:"path" required:"true"`
	// Transforms in application order; disabled ones are kept (Enabled false) so configs
	// round-trip. EnabledTransforms returns the ones to run.
	Transforms Transforms `toml:"transforms" env:"-"`
	// SinkStreams is [[streams]] of a sink; SourceStreams of a source. The other one is nil.
	SinkStreams   []SinkStream   `toml:"streams" only:"sink" required:"true"`
	SourceStreams []SourceStream `toml:"streams" only:"source" required:"true"`
	// PluginConfigFormat is only used to render plugin_config by the API ("" = toml).
	PluginConfigFormat string `toml:"plugin_config_format" oneof:"json|yaml|toml|text" fold:"true"`
	// PluginConfig is handed to the plugin as JSON (PluginConfigJSON); never nil after loading.
	PluginConfig map[string]any `toml:"plugin_config"`
	Verbose      bool           `toml:"verbose"`
	Benchmark    bool           `toml:"benchmark"`

	// Extensions of this runtime.

	// Transport runs the plugin in the runtime's process ("in_process", default) or in a child
	// plugin-host process ("process").
	Transport string `toml:"transport" oneof:"in_process|process"`
	// OnError is what happens to a message the plugin rejects permanently: "stop" the connector
	// (default), "skip" it (counted and logged) or "dead_letter" it to DeadLetter's topic.
	OnError    string            `toml:"on_error" oneof:"stop|skip|dead_letter"`
	DeadLetter *DeadLetterConfig `toml:"dead_letter"`
	// Retry is the backoff for retryable plugin errors and Iggy failures.
	Retry RetryPolicy `toml:"retry"`
	// MaxInFlight is how many source batches may be polled and not yet committed at once (default 2:
	// the next batch is polled and sent while the previous one's state is saved; a crash replays
	// at most this many batches).
	MaxInFlight uint32 `toml:"max_in_flight" only:"source"`
	// PollInterval is how long a source waits after an empty poll when the plugin gives no hint
	// (default 100ms).
	PollInterval Duration `toml:"poll_interval" only:"source"`
	// OnCorruptState is what a source does when its state file exists but cannot be used (empty,
	// unreadable, or the plugin cannot decode it): "stop" with an error naming the file (default),
	// or "reset": set the file aside (renamed, kept) and start without state.
	OnCorruptState string `toml:"on_corrupt_state" only:"source" oneof:"stop|reset"`

	// File is where this config was read from (file path or URL); not part of the config.
	File string `toml:"-"`
	// SecretKeys are plugin_config keys to redact besides those that look secret (e.g. the fields
	// the plugin's info marks secret); not part of the config.
	SecretKeys []string `toml:"-"`
}

// Transport values.
const (
	TransportInProcess = "in_process"
	TransportProcess   = "process"
)

// OnError values.
const (
	OnErrorStop       = "stop"
	OnErrorSkip       = "skip"
	OnErrorDeadLetter = "dead_letter"
)

// OnCorruptState values.
const (
	OnCorruptStateStop  = "stop"
	OnCorruptStateReset = "reset"
)

// Schema names of [[streams]] schema.
var Schemas = []string{"json", "raw", "text", "proto", "flatbuffer", "avro"}

// SinkStream is one [[streams]] entry of a sink: a consumer group on every topic listed.
type SinkStream struct {
	Stream string   `toml:"stream" json:"stream" required:"true"`
	Topics []string `toml:"topics" json:"topics" required:"true"`
	Schema string   `toml:"schema" json:"schema" required:"true" oneof:"json|raw|text|proto|flatbuffer|avro" fold:"true"`
	// BatchLength is the maximum number of messages per poll (default 1000).
	BatchLength uint32 `toml:"batch_length" json:"batch_length"`
	// PollInterval is the wait between polls that returned nothing (default 5ms).
	PollInterval Duration `toml:"poll_interval" json:"poll_interval"`
	// ConsumerGroup defaults to "iggy-connect-sink-{key}".
	ConsumerGroup string `toml:"consumer_group" json:"consumer_group"`
	// LingerTime (extension, default 0) waits up to this long to fill a batch before handing it to
	// the plugin.
	LingerTime Duration `toml:"linger_time,omitempty" json:"linger_time,omitempty"`
	CodecOptions
}

// SourceStream is one [[streams]] entry of a source: where its records are produced.
type SourceStream struct {
	Stream string `toml:"stream" json:"stream" required:"true"`
	Topic  string `toml:"topic" json:"topic" required:"true"`
	Schema string `toml:"schema" json:"schema" required:"true" oneof:"json|raw|text|proto|flatbuffer|avro" fold:"true"`
	// BatchLength is the maximum number of messages per send request (default 1000).
	BatchLength uint32 `toml:"batch_length" json:"batch_length"`
	// LingerTime is the minimum gap between sends (default 5ms).
	LingerTime Duration `toml:"linger_time" json:"linger_time"`
	// PartitionID (extension) sends everything to one partition; nil = balanced, and messages that
	// carry a key are partitioned by key.
	PartitionID *uint32 `toml:"partition_id,omitempty" json:"partition_id,omitempty"`
	// AutoCreate (extension) creates the stream and topic when missing, with Partitions
	// partitions (default 1).
	AutoCreate bool   `toml:"auto_create" json:"auto_create"`
	Partitions uint32 `toml:"partitions" json:"partitions"`
	CodecOptions
}

// CodecOptions are the schema options of a stream (embedded in both stream kinds). The avro keys
// avro_schema_json and avro_schema_path are the original's; avro_confluent_schema_id is an extension.
type CodecOptions struct {
	AvroSchemaJSON        string `toml:"avro_schema_json,omitempty" json:"avro_schema_json,omitempty"`                 // the writer's schema, inline
	AvroSchemaPath        string `toml:"avro_schema_path,omitempty" json:"avro_schema_path,omitempty"`                 // path of an .avsc file
	AvroConfluentSchemaID uint32 `toml:"avro_confluent_schema_id,omitempty" json:"avro_confluent_schema_id,omitempty"` // Confluent wire format when not 0
	ProtoDescriptorSet    string `toml:"proto_descriptor_set,omitempty" json:"proto_descriptor_set,omitempty"`         // path of a FileDescriptorSet (protoc -o)
	ProtoMessageType      string `toml:"proto_message_type,omitempty" json:"proto_message_type,omitempty"`             // fully qualified message name
	FlatbufferSchema      string `toml:"flatbuffer_schema,omitempty" json:"flatbuffer_schema,omitempty"`               // path of a .bfbs/.fbs schema
	FlatbufferRootTable   string `toml:"flatbuffer_root_table,omitempty" json:"flatbuffer_root_table,omitempty"`
}

// DeadLetterConfig is [dead_letter]: where messages go when on_error = "dead_letter".
type DeadLetterConfig struct {
	Stream string `toml:"stream" json:"stream" required:"true"`
	Topic  string `toml:"topic" json:"topic" required:"true"`
}

// RetryPolicy is a connector's [retry] table.
type RetryPolicy struct {
	// MaxAttempts is how many calls (the first try included) a retryable failure gets before it is
	// treated as permanent (on_error applies); 0 = unlimited (default).
	MaxAttempts    uint32   `toml:"max_attempts" json:"max_attempts"`
	InitialBackoff Duration `toml:"initial_backoff" json:"initial_backoff"` // default 100ms
	MaxBackoff     Duration `toml:"max_backoff" json:"max_backoff"`         // default 30s
	Multiplier     float64  `toml:"multiplier" json:"multiplier"`           // default 2.0
	Jitter         float64  `toml:"jitter" json:"jitter"`                   // 0..1, default 0.2
}

// Policy converts the retry table into the shared backoff schedule.
func (r RetryPolicy) Policy() backoff.Policy {
	return backoff.Policy{Initial: r.InitialBackoff.D(), Max: r.MaxBackoff.D(), Multiplier: r.Multiplier,
		Jitter: r.Jitter, MaxAttempts: int(r.MaxAttempts)}
}

// Defaults of the connector extensions and stream keys.
const (
	DefaultBatchLength     = 1000
	DefaultSinkPoll        = 5 * time.Millisecond
	DefaultSourceLinger    = 5 * time.Millisecond
	DefaultSourcePoll      = 100 * time.Millisecond
	DefaultInitialBackoff  = 100 * time.Millisecond
	DefaultMaxBackoff      = 30 * time.Second
	DefaultRetryMultiplier = 2.0
	DefaultRetryJitter     = 0.2
)

// DefaultConsumerGroup is the consumer group of a sink stream that names none.
func DefaultConsumerGroup(key string) string { return "iggy-connect-sink-" + key }

func (c *ConnectorConfig) setDefaults() {
	c.Transport = TransportInProcess
	c.OnError = OnErrorStop
	c.Retry.setDefaults()
	c.MaxInFlight = 2
	c.PollInterval = Duration(DefaultSourcePoll)
	c.OnCorruptState = OnCorruptStateStop
}

func (r *RetryPolicy) setDefaults() {
	*r = RetryPolicy{InitialBackoff: Duration(DefaultInitialBackoff), MaxBackoff: Duration(DefaultMaxBackoff),
		Multiplier: DefaultRetryMultiplier, Jitter: DefaultRetryJitter}
}

func (s *SinkStream) setDefaults() {
	s.BatchLength = DefaultBatchLength
	s.PollInterval = Duration(DefaultSinkPoll)
}

func (s *SourceStream) setDefaults() {
	s.BatchLength = DefaultBatchLength
	s.LingerTime = Duration(DefaultSourceLinger)
	s.Partitions = 1
}

// NewConnectorConfig returns a config of the given kind with every default set.
func NewConnectorConfig(kind Kind) *ConnectorConfig {
	c := &ConnectorConfig{Kind: kind}
	c.setDefaults()
	c.finish()
	return c
}

// finish fills defaults that depend on other keys and normalises absent values.
func (c *ConnectorConfig) finish() {
	if c.PluginConfig == nil {
		c.PluginConfig = map[string]any{}
	}
	for i := range c.SinkStreams {
		if c.SinkStreams[i].ConsumerGroup == "" {
			c.SinkStreams[i].ConsumerGroup = DefaultConsumerGroup(c.Key)
		}
	}
	if c.Kind == KindSink {
		c.SourceStreams = nil
	} else {
		c.SinkStreams = nil
	}
}

// Streams returns the number of [[streams]] entries.
func (c *ConnectorConfig) Streams() int {
	if c.Kind == KindSink {
		return len(c.SinkStreams)
	}
	return len(c.SourceStreams)
}

// EnabledTransforms returns the transforms to apply, in order.
func (c *ConnectorConfig) EnabledTransforms() []TransformSpec {
	var out []TransformSpec
	for _, t := range c.Transforms {
		if t.Enabled {
			out = append(out, t)
		}
	}
	return out
}

// ID names the connector in messages: "sink pg (version 3)".
func (c *ConnectorConfig) ID() string {
	return fmt.Sprintf("%s %s (version %d)", c.Kind, c.Key, c.Version)
}

// KeyPattern is the pattern every connector key matches, wherever it comes from: a connector file,
// the HTTP config provider or a path of the management API. A key names files (connector configs
// sink_{key}_{version}.toml, source state source_{key}.state) and environment variables
// (IGGY_CONNECTORS_SINK_{KEY}_...), so it is short and made of letters, digits, "_", "-" and ".",
// starting with a letter, digit or "_" (so never "." or ".."). Sinks and sources are separate
// namespaces.
const KeyPattern = `^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`

// MaxKeyLength is the longest connector key KeyPattern allows.
const MaxKeyLength = 64

var keyRE = regexp.MustCompile(KeyPattern)

// CheckKey returns nil when key matches KeyPattern, else an error that quotes the key (control
// characters escaped) and says what is allowed.
func CheckKey(key string) error {
	switch {
	case key == "":
		return errors.New("must not be empty")
	case len(key) > MaxKeyLength:
		return fmt.Errorf("%.40q... is %d characters long; a connector key has at most %d", key, len(key), MaxKeyLength)
	case !keyRE.MatchString(key):
		return fmt.Errorf("%q is not a valid connector key: use letters, digits, \"_\", \"-\" and \".\", starting with a letter, digit or \"_\" (pattern %s)", key, KeyPattern)
	}
	return nil
}

// Validate checks the rules the decoder cannot (cross-key rules, non-empty values, ranges). file
// is used in the problems.
func (c *ConnectorConfig) Validate(file string) Problems {
	var ps Problems
	if c.Kind != KindSink && c.Kind != KindSource {
		ps.Add(file, "type", "must be \"sink\" or \"source\", got %q", c.Kind)
		return ps
	}
	if err := CheckKey(c.Key); err != nil {
		ps.Add(file, "key", "%v", err)
	}
	if strings.TrimSpace(c.Path) == "" {
		ps.Add(file, "path", "must not be empty")
	}
	if c.Kind == KindSink {
		if len(c.SinkStreams) == 0 {
			ps.Add(file, "streams", "a sink needs at least one [[streams]] entry")
		}
		for i, s := range c.SinkStreams {
			p := indexPath("streams", i)
			if s.Stream == "" {
				ps.Add(file, p+".stream", "must not be empty")
			}
			if len(s.Topics) == 0 {
				ps.Add(file, p+".topics", "must list at least one topic")
			}
			for j, t := range s.Topics {
				if t == "" {
					ps.Add(file, indexPath(p+".topics", j), "must not be empty")
				}
			}
			if s.BatchLength == 0 {
				ps.Add(file, p+".batch_length", "must be at least 1")
			}
			validateCodec(&ps, file, p, s.Schema, s.CodecOptions)
		}
	} else {
		if len(c.SourceStreams) == 0 {
			ps.Add(file, "streams", "a source needs at least one [[streams]] entry")
		}
		for i, s := range c.SourceStreams {
			p := indexPath("streams", i)
			if s.Stream == "" {
				ps.Add(file, p+".stream", "must not be empty")
			}
			if s.Topic == "" {
				ps.Add(file, p+".topic", "must not be empty")
			}
			if s.BatchLength == 0 {
				ps.Add(file, p+".batch_length", "must be at least 1")
			}
			if s.AutoCreate && s.Partitions == 0 {
				ps.Add(file, p+".partitions", "must be at least 1 when auto_create is true")
			}
			validateCodec(&ps, file, p, s.Schema, s.CodecOptions)
		}
		if c.MaxInFlight == 0 {
			ps.Add(file, "max_in_flight", "must be at least 1")
		}
	}
	switch {
	case c.OnError == OnErrorDeadLetter && c.DeadLetter == nil:
		ps.Add(file, "dead_letter", "required when on_error = \"dead_letter\" ([dead_letter] with stream and topic)")
	case c.OnError == OnErrorDeadLetter:
		if c.DeadLetter.Stream == "" {
			ps.Add(file, "dead_letter.stream", "must not be empty")
		}
		if c.DeadLetter.Topic == "" {
			ps.Add(file, "dead_letter.topic", "must not be empty")
		}
	case c.DeadLetter != nil:
		ps.Warn(file, "dead_letter", "ignored: on_error is %q, not \"dead_letter\"", c.OnError)
	}
	r := c.Retry
	if r.Multiplier < 1 {
		ps.Add(file, "retry.multiplier", "must be at least 1, got %v", r.Multiplier)
	}
	if r.Jitter < 0 || r.Jitter > 1 {
		ps.Add(file, "retry.jitter", "must be between 0 and 1, got %v", r.Jitter)
	}
	if r.InitialBackoff == 0 {
		ps.Add(file, "retry.initial_backoff", "must be greater than zero")
	}
	if r.MaxBackoff < r.InitialBackoff {
		ps.Add(file, "retry.max_backoff", "%s is less than initial_backoff %s", r.MaxBackoff, r.InitialBackoff)
	}
	return ps
}

// validateCodec checks the schema options of stream p. Files named by options, and the Avro schema's
// text, are checked by the codecs (validate, setup).
func validateCodec(ps *Problems, file, p, schema string, o CodecOptions) {
	switch schema {
	case "proto":
		if o.ProtoMessageType != "" && o.ProtoDescriptorSet == "" {
			ps.Add(file, p+".proto_descriptor_set", "required when proto_message_type is set")
		}
		if o.ProtoDescriptorSet != "" && o.ProtoMessageType == "" {
			ps.Add(file, p+".proto_message_type", "required when proto_descriptor_set is set")
		}
	case "flatbuffer":
		if o.FlatbufferRootTable != "" && o.FlatbufferSchema == "" {
			ps.Add(file, p+".flatbuffer_schema", "required when flatbuffer_root_table is set")
		}
	case "avro":
		switch {
		case o.AvroSchemaJSON == "" && o.AvroSchemaPath == "":
			ps.Add(file, p+".avro_schema_path", "schema avro needs the writer's schema: set avro_schema_path (an .avsc file) or avro_schema_json")
		case o.AvroSchemaJSON != "" && o.AvroSchemaPath != "":
			ps.Add(file, p+".avro_schema_json", "set either avro_schema_json or avro_schema_path, not both")
		}
	}
	for _, opt := range []struct{ key, value, schema string }{
		{"proto_descriptor_set", o.ProtoDescriptorSet, "proto"}, {"proto_message_type", o.ProtoMessageType, "proto"},
		{"flatbuffer_schema", o.FlatbufferSchema, "flatbuffer"}, {"flatbuffer_root_table", o.FlatbufferRootTable, "flatbuffer"},
		{"avro_schema_json", o.AvroSchemaJSON, "avro"}, {"avro_schema_path", o.AvroSchemaPath, "avro"},
	} {
		if opt.value != "" && schema != opt.schema {
			ps.Add(file, p+"."+opt.key, "only valid for schema %q, not %q", opt.schema, schema)
		}
	}
	if o.AvroConfluentSchemaID != 0 && schema != "avro" {
		ps.Add(file, p+".avro_confluent_schema_id", "only valid for schema %q, not %q", "avro", schema)
	}
}
