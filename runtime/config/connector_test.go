package config

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const minimalSinkHead = `
type = "sink"
key = "pg"
enabled = true
version = 3
name = "Postgres"
path = "libpg"
`

const minimalSinkStreams = `
[[streams]]
stream = "s"
topics = ["t"]
schema = "json"
`

const minimalSink = minimalSinkHead + minimalSinkStreams

const minimalSource = `
type = "source"
key = "rnd"
enabled = false
version = 0
name = "Random"
path = "librnd"
[[streams]]
stream = "s"
topic = "t"
schema = "text"
`

func mustLoad(t *testing.T, file, src string) *ConnectorConfig {
	t.Helper()
	c, ps := LoadConnectorTOML(file, []byte(src))
	if c == nil || len(ps) > 0 {
		t.Fatalf("%s: %v", file, ps)
	}
	return c
}

func TestConnectorDefaults(t *testing.T) {
	sink := mustLoad(t, "pg.toml", minimalSink)
	src := mustLoad(t, "rnd.toml", minimalSource)
	retry := RetryPolicy{MaxAttempts: 0, InitialBackoff: Duration(100 * time.Millisecond), MaxBackoff: Duration(30 * time.Second), Multiplier: 2, Jitter: 0.2}
	cases := []struct {
		name      string
		got, want any
	}{
		{"sink kind", sink.Kind, KindSink},
		{"sink version", sink.Version, uint64(3)},
		{"sink batch_length", sink.SinkStreams[0].BatchLength, uint32(1000)},
		{"sink poll_interval", sink.SinkStreams[0].PollInterval.D(), 5 * time.Millisecond},
		{"sink consumer_group", sink.SinkStreams[0].ConsumerGroup, "iggy-connect-sink-pg"},
		{"sink linger_time", sink.SinkStreams[0].LingerTime.D(), time.Duration(0)},
		{"sink schema", sink.SinkStreams[0].Schema, "json"},
		{"transport", sink.Transport, "in_process"},
		{"on_error", sink.OnError, "stop"},
		{"dead_letter", sink.DeadLetter, (*DeadLetterConfig)(nil)},
		{"retry", sink.Retry, retry},
		{"verbose", sink.Verbose, false},
		{"benchmark", sink.Benchmark, false},
		{"plugin_config_format", sink.PluginConfigFormat, ""},
		{"plugin_config", sink.PluginConfig, map[string]any{}},
		{"transforms", len(sink.Transforms), 0},
		{"source streams of a sink", sink.SourceStreams, []SourceStream(nil)},
		{"source enabled", src.Enabled, false},
		{"source batch_length", src.SourceStreams[0].BatchLength, uint32(1000)},
		{"source linger_time", src.SourceStreams[0].LingerTime.D(), 5 * time.Millisecond},
		{"source partition_id", src.SourceStreams[0].PartitionID, (*uint32)(nil)},
		{"source auto_create", src.SourceStreams[0].AutoCreate, false},
		{"source partitions", src.SourceStreams[0].Partitions, uint32(1)},
		{"source max_in_flight", src.MaxInFlight, uint32(2)},
		{"source poll_interval", src.PollInterval.D(), 100 * time.Millisecond},
		{"source retry", src.Retry, retry},
		{"sink streams of a source", src.SinkStreams, []SinkStream(nil)},
	}
	for _, tc := range cases {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s = %#v, want %#v", tc.name, tc.got, tc.want)
		}
	}
	// The original's avro keys load (the codec parses the schema), plus the Confluent framing key.
	avro := mustLoad(t, "avro.toml", strings.Replace(minimalSink, `schema = "json"`, "schema = \"avro\"\navro_schema_path = \"s.avsc\"\navro_confluent_schema_id = 12", 1))
	if s := avro.SinkStreams[0]; s.Schema != "avro" || s.AvroSchemaPath != "s.avsc" || s.AvroConfluentSchemaID != 12 {
		t.Errorf("avro stream %+v", s)
	}
	avroJSON := mustLoad(t, "avro.toml", strings.Replace(minimalSink, `schema = "json"`, "schema = \"avro\"\navro_schema_json = '{\"type\":\"string\"}'", 1))
	if s := avroJSON.SinkStreams[0]; s.AvroSchemaJSON != `{"type":"string"}` {
		t.Errorf("avro stream %+v", s)
	}
	if j, _ := sink.PluginConfigJSON(); string(j) != "{}" {
		t.Errorf("plugin config JSON %s, want {}", j)
	}
	if p := sink.Retry.Policy(); p.Initial != 100*time.Millisecond || p.Max != 30*time.Second || p.Multiplier != 2 || p.Jitter != 0.2 || p.MaxAttempts != 0 {
		t.Errorf("policy %+v", p)
	}
}

func TestConnectorExtensions(t *testing.T) {
	c := mustLoad(t, "x.toml", `
type = "source"
key = "x"
enabled = true
version = 1
name = "X"
path = "libx"
transport = "process"
on_error = "dead_letter"
max_in_flight = 4
poll_interval = "1s"
on_corrupt_state = "reset"
[dead_letter]
stream = "dlq"
topic = "failed"
[retry]
max_attempts = 5
initial_backoff = "10ms"
max_backoff = "1m"
multiplier = 1.5
jitter = 0
[[streams]]
stream = "a"
topic = "b"
schema = "proto"
partition_id = 2
auto_create = true
partitions = 3
proto_descriptor_set = "d.pb"
proto_message_type = "pkg.Msg"
[[streams]]
stream = "c"
topic = "d"
schema = "flatbuffer"
flatbuffer_schema = "s.bfbs"
flatbuffer_root_table = "Root"
`)
	want := &ConnectorConfig{Kind: KindSource, Key: "x", Enabled: true, Version: 1, Name: "X", Path: "libx",
		PluginConfig: map[string]any{}, Transport: "process", OnError: "dead_letter",
		DeadLetter:  &DeadLetterConfig{Stream: "dlq", Topic: "failed"},
		Retry:       RetryPolicy{MaxAttempts: 5, InitialBackoff: Duration(10 * time.Millisecond), MaxBackoff: Duration(time.Minute), Multiplier: 1.5},
		MaxInFlight: 4, PollInterval: Duration(time.Second), OnCorruptState: "reset", File: "x.toml",
		SourceStreams: []SourceStream{
			{Stream: "a", Topic: "b", Schema: "proto", BatchLength: 1000, LingerTime: Duration(5 * time.Millisecond), PartitionID: ptrTo(uint32(2)),
				AutoCreate: true, Partitions: 3, CodecOptions: CodecOptions{ProtoDescriptorSet: "d.pb", ProtoMessageType: "pkg.Msg"}},
			{Stream: "c", Topic: "d", Schema: "flatbuffer", BatchLength: 1000, LingerTime: Duration(5 * time.Millisecond), Partitions: 1,
				CodecOptions: CodecOptions{FlatbufferSchema: "s.bfbs", FlatbufferRootTable: "Root"}},
		}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %#v\nwant %#v", c, want)
	}
}

func ptrTo[T any](v T) *T { return &v }

// TestCheckKey: the key pattern accepts what connector files of the original use and refuses what
// cannot be a file name or an environment variable part.
func TestCheckKey(t *testing.T) {
	for _, k := range []string{"pg", "stdout", "random", "pg_2", "pg-cdc.v2", "_x", "A1", strings.Repeat("k", 64)} {
		if err := CheckKey(k); err != nil {
			t.Errorf("CheckKey(%q) = %v", k, err)
		}
	}
	for _, k := range []string{"", ".", "..", ".hidden", "-x", "a/b", `a\b`, "a b", "a\n\"]", "a\x00", "ü", strings.Repeat("k", 65), strings.Repeat("k", 300)} {
		if err := CheckKey(k); err == nil {
			t.Errorf("CheckKey(%q) accepted", k)
		} else if strings.ContainsAny(err.Error(), "\n\x00") {
			t.Errorf("CheckKey(%q) error carries a raw control character: %q", k, err)
		}
	}
}

// Each bad config names the file and the exact key.
func TestBadConnectorConfig(t *testing.T) {
	base := func(kind, extra string) string {
		if kind == "source" {
			return "type = \"source\"\nkey = \"k\"\nenabled = true\nversion = 0\nname = \"n\"\npath = \"p\"\n" + extra
		}
		return "type = \"sink\"\nkey = \"k\"\nenabled = true\nversion = 0\nname = \"n\"\npath = \"p\"\n" + extra
	}
	sinkStream := "[[streams]]\nstream = \"s\"\ntopics = [\"t\"]\nschema = \"json\"\n"
	cases := []struct {
		name, src, key, msg string
		severity            Severity
	}{
		{"missing required key", strings.Replace(base("sink", sinkStream), "name = \"n\"\n", "", 1), "name", "missing required key", SeverityError},
		{"missing version", strings.Replace(base("sink", sinkStream), "version = 0\n", "", 1), "version", "missing required key", SeverityError},
		{"missing streams", base("sink", ""), "streams", "missing required key", SeverityError},
		{"missing stream key", base("sink", "[[streams]]\nstream = \"s\"\ntopics = [\"t\"]\n"), "streams[0].schema", "missing required key", SeverityError},
		{"missing type", "key = \"k\"\n", "type", "missing required key", SeverityError},
		{"bad type", strings.Replace(base("sink", sinkStream), `"sink"`, `"sinc"`, 1), "type", `must be "sink" or "source", got "sinc" (did you mean "sink"?)`, SeverityError},
		{"wrong type bool", strings.Replace(base("sink", sinkStream), "enabled = true", "enabled = \"yes\"", 1), "enabled", `expected a boolean (true or false), got string "yes"`, SeverityError},
		{"wrong type version", strings.Replace(base("sink", sinkStream), "version = 0", "version = \"1\"", 1), "version", `expected a non-negative integer, got string "1"`, SeverityError},
		{"wrong type array", base("sink", "[[streams]]\nstream = \"s\"\ntopics = \"t\"\nschema = \"json\"\n"), "streams[0].topics", `expected an array, got string "t"`, SeverityError},
		{"negative", base("sink", sinkStream+"batch_length = -5\n"), "streams[0].batch_length", "must not be negative, got -5", SeverityError},
		{"out of range", base("sink", sinkStream+"batch_length = 5000000000\n"), "streams[0].batch_length", "integer 5000000000 out of range", SeverityError},
		{"zero batch", base("sink", sinkStream+"batch_length = 0\n"), "streams[0].batch_length", "must be at least 1", SeverityError},
		{"unknown key", base("sink", sinkStream+"poll_intervall = \"5ms\"\n"), "streams[0].poll_intervall", `unknown key (did you mean "poll_interval"?)`, SeverityError},
		{"unknown top-level key", base("sink", sinkStream+"[plugin_confg]\na = 1\n"), "plugin_confg", `unknown key (did you mean "plugin_config"?)`, SeverityError},
		{"source key in a sink", base("sink", sinkStream+"max_in_flight = 2\n"), "streams[0].max_in_flight", "unknown key", SeverityError},
		{"bad duration", base("sink", sinkStream+"poll_interval = \"5 parsecs\"\n"), "streams[0].poll_interval", `invalid duration "5 parsecs": unknown unit "parsecs"`, SeverityError},
		{"duration without unit", base("source", "[[streams]]\nstream = \"s\"\ntopic = \"t\"\nschema = \"json\"\nlinger_time = \"5\"\n"), "streams[0].linger_time", `invalid duration "5": missing unit`, SeverityError},
		{"bad schema", base("sink", "[[streams]]\nstream = \"s\"\ntopics = [\"t\"]\nschema = \"jsn\"\n"), "streams[0].schema", `invalid value "jsn": must be one of "json", "raw", "text", "proto", "flatbuffer", "avro" (did you mean "json"?)`, SeverityError},
		{"proto options half set", base("sink", "[[streams]]\nstream = \"s\"\ntopics = [\"t\"]\nschema = \"proto\"\nproto_message_type = \"a.B\"\n"), "streams[0].proto_descriptor_set", "required when proto_message_type is set", SeverityError},
		{"avro without schema", base("sink", "[[streams]]\nstream = \"s\"\ntopics = [\"t\"]\nschema = \"avro\"\n"), "streams[0].avro_schema_path", "schema avro needs the writer's schema", SeverityError},
		{"avro both schemas", base("source", "[[streams]]\nstream = \"s\"\ntopic = \"t\"\nschema = \"avro\"\navro_schema_path = \"a.avsc\"\navro_schema_json = '\"string\"'\n"), "streams[0].avro_schema_json", "set either avro_schema_json or avro_schema_path, not both", SeverityError},
		{"avro option on json", base("sink", "[[streams]]\nstream = \"s\"\ntopics = [\"t\"]\nschema = \"json\"\navro_schema_path = \"a.avsc\"\n"), "streams[0].avro_schema_path", `only valid for schema "avro", not "json"`, SeverityError},
		{"confluent id on raw", base("sink", "[[streams]]\nstream = \"s\"\ntopics = [\"t\"]\nschema = \"raw\"\navro_confluent_schema_id = 4\n"), "streams[0].avro_confluent_schema_id", `only valid for schema "avro", not "raw"`, SeverityError},
		{"proto option on json", base("sink", "[[streams]]\nstream = \"s\"\ntopics = [\"t\"]\nschema = \"json\"\nproto_message_type = \"a.B\"\n"), "streams[0].proto_message_type", `only valid for schema "proto", not "json"`, SeverityError},
		{"empty topics", base("sink", "[[streams]]\nstream = \"s\"\ntopics = []\nschema = \"json\"\n"), "streams[0].topics", "must list at least one topic", SeverityError},
		{"no streams", base("sink", "streams = []\n"), "streams", "at least one [[streams]] entry", SeverityError},
		{"source without topic", base("source", "[[streams]]\nstream = \"s\"\nschema = \"json\"\n"), "streams[0].topic", "missing required key", SeverityError},
		{"unknown transform", base("sink", sinkStream+"[transforms.add_field]\nenabled = true\n"), "transforms.add_field", `unknown transform type "add_field" (did you mean "add_fields"?)`, SeverityError},
		{"transform enabled not bool", base("sink", sinkStream+"[transforms.add_fields]\nenabled = \"true\"\n"), "transforms.add_fields.enabled", `expected a boolean (true or false), got string "true"`, SeverityError},
		{"transform not a table", base("sink", sinkStream+"[transforms]\ndelete_fields = [\"a\"]\n"), "transforms.delete_fields", "expected a table", SeverityError},
		{"transform array without type", base("sink", sinkStream+"[[transforms]]\nfields = [\"a\"]\n"), "transforms[0].type", "missing required key", SeverityError},
		{"transforms wrong type", base("sink", "transforms = 5\n"+sinkStream), "transforms", "expected [transforms.<type>] tables or a [[transforms]] array", SeverityError},
		{"bad transport", base("sink", "transport = \"thread\"\n"+sinkStream), "transport", `invalid value "thread": must be one of "in_process", "process"`, SeverityError},
		{"bad on_error", base("sink", "on_error = \"ignore\"\n"+sinkStream), "on_error", `must be one of "stop", "skip", "dead_letter"`, SeverityError},
		{"dead letter missing", base("sink", "on_error = \"dead_letter\"\n"+sinkStream), "dead_letter", `required when on_error = "dead_letter"`, SeverityError},
		{"dead letter incomplete", base("sink", "on_error = \"dead_letter\"\n[dead_letter]\nstream = \"d\"\n"+sinkStream), "dead_letter.topic", "missing required key", SeverityError},
		{"dead letter unused", base("sink", "[dead_letter]\nstream = \"d\"\ntopic = \"t\"\n"+sinkStream), "dead_letter", `ignored: on_error is "stop"`, SeverityWarning},
		{"bad jitter", base("sink", sinkStream+"[retry]\njitter = 2.0\n"), "retry.jitter", "must be between 0 and 1, got 2", SeverityError},
		{"bad retry bounds", base("sink", sinkStream+"[retry]\ninitial_backoff = \"10s\"\nmax_backoff = \"1s\"\n"), "retry.max_backoff", "1s is less than initial_backoff 10s", SeverityError},
		{"bad plugin_config_format", base("sink", "plugin_config_format = \"xml\"\n"+sinkStream), "plugin_config_format", `invalid value "xml"`, SeverityError},
		{"plugin_config not a table", base("sink", "plugin_config = 3\n"+sinkStream), "plugin_config", "expected a table, got integer 3", SeverityError},
		{"key with slash", strings.Replace(base("sink", sinkStream), `key = "k"`, `key = "a/b"`, 1), "key", `"a/b" is not a valid connector key`, SeverityError},
		{"key with newline", strings.Replace(base("sink", sinkStream), `key = "k"`, `key = "a\n\"]"`, 1), "key", `"a\n\"]" is not a valid connector key`, SeverityError},
		{"key too long", strings.Replace(base("sink", sinkStream), `key = "k"`, `key = "`+strings.Repeat("k", 300)+`"`, 1), "key", "is 300 characters long; a connector key has at most 64", SeverityError},
		{"key dot", strings.Replace(base("sink", sinkStream), `key = "k"`, `key = ".."`, 1), "key", `".." is not a valid connector key`, SeverityError},
		{"key empty", strings.Replace(base("sink", sinkStream), `key = "k"`, `key = ""`, 1), "key", "must not be empty", SeverityError},
		{"invalid toml", "type = \"sink\"\nkey = \n", "", "invalid TOML at line 2", SeverityError},
	}
	const file = "sinks/pg.toml"
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, ps := LoadConnectorTOML(file, []byte(tc.src))
			if (c == nil) != (tc.severity == SeverityError) {
				t.Errorf("config %v with problems %v", c, ps)
			}
			var found bool
			for _, p := range ps {
				if p.File == file && p.Key == tc.key && strings.Contains(p.Message, tc.msg) && p.Severity == tc.severity {
					found = true
				}
			}
			if !found {
				t.Errorf("want %s %s: %s: %s\ngot %v", tc.severity, file, tc.key, tc.msg, ps)
			}
		})
	}
	// The rendering the issue asks for, exactly.
	_, ps := LoadConnectorTOML(file, []byte(base("sink", sinkStream+"poll_interval = \"5 parsecs\"\n")))
	if len(ps) != 1 || ps[0].Error() != `sinks/pg.toml: streams[0].poll_interval: invalid duration "5 parsecs": unknown unit "parsecs"` {
		t.Errorf("got %q", ps.Error())
	}
}

func TestTransformsOrder(t *testing.T) {
	cases := []struct {
		name    string
		src     string
		types   []string
		enabled []bool
	}{
		{"tables in file order", `
[transforms.delete_fields]
enabled = true
fields = ["a"]
[transforms.add_fields]
enabled = false
[[transforms.add_fields.fields]]
key = "k"
value.static = 1
[transforms.filter_fields]
keep_fields = ["k"]
`, []string{"delete_fields", "add_fields", "filter_fields"}, []bool{true, false, true}},
		{"dotted and inline", `
[transforms]
unwrap_envelope.field = "data"
update_fields = { fields = [] }
delete_fields = { enabled = true, fields = ["x"] }
`, []string{"unwrap_envelope", "update_fields", "delete_fields"}, []bool{true, true, true}},
		{"subtables declared before parents", `
[[transforms.update_fields.fields]]
key = "a"
value.static = 1
[transforms.add_fields]
[transforms.update_fields]
enabled = true
`, []string{"update_fields", "add_fields"}, []bool{true, true}},
		{"array form with a repeated type", `
[[transforms]]
type = "add_fields"
fields = [{ key = "a", value.static = 1 }]
[[transforms]]
type = "delete_fields"
enabled = false
fields = ["b"]
[[transforms]]
type = "add_fields"
fields = [{ key = "c", value.computed = "uuid_v4" }]
`, []string{"add_fields", "delete_fields", "add_fields"}, []bool{true, false, true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustLoad(t, "t.toml", minimalSinkHead+tc.src+minimalSinkStreams)
			var types []string
			var enabled []bool
			for _, tr := range c.Transforms {
				types = append(types, tr.Type)
				enabled = append(enabled, tr.Enabled)
				if _, has := tr.Config["enabled"]; has {
					t.Errorf("%s: Config keeps enabled", tr.Type)
				}
				if _, has := tr.Config["type"]; has {
					t.Errorf("%s: Config keeps type", tr.Type)
				}
			}
			if !reflect.DeepEqual(types, tc.types) || !reflect.DeepEqual(enabled, tc.enabled) {
				t.Errorf("types %v enabled %v", types, enabled)
			}
			var en []string
			for _, tr := range c.EnabledTransforms() {
				en = append(en, tr.Type)
			}
			for i, tr := range c.Transforms {
				if tr.Table()["enabled"] != tc.enabled[i] {
					t.Errorf("Table() of %s lacks enabled", tr.Type)
				}
			}
			// Round trip through TOML and JSON keeps the order.
			assertRoundTrip(t, c)
		})
	}
	c := mustLoad(t, "t.toml", minimalSinkHead+cases[0].src+minimalSinkStreams)
	if c.Transforms[1].Path != "transforms.add_fields" || c.Transforms[1].Config["fields"].([]any)[0].(map[string]any)["value"].(map[string]any)["static"] != int64(1) {
		t.Errorf("spec %+v", c.Transforms[1])
	}
}

// assertRoundTrip checks that c survives TOML (files) and JSON (API, HTTP provider) unchanged.
func assertRoundTrip(t *testing.T, c *ConnectorConfig) {
	t.Helper()
	data, err := c.MarshalTOML()
	if err != nil {
		t.Fatal(err)
	}
	back, ps := LoadConnectorTOML(c.File, data)
	if back == nil {
		t.Fatalf("re-reading TOML: %v\n%s", ps, data)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("TOML round trip differs:\n%s\nfrom %#v\nback %#v", data, c, back)
	}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, ps = DecodeConnectorJSON(c.Kind, c.File, j, true, "")
	if back == nil {
		t.Fatalf("re-reading JSON: %v\n%s", ps, j)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("JSON round trip differs:\n%s\nfrom %#v\nback %#v", j, c, back)
	}
}

func TestRoundTripOriginalFiles(t *testing.T) {
	dir := "../../test/testdata/original-config/connectors"
	files, _ := filepath.Glob(filepath.Join(dir, "[a-z]*.toml"))
	if len(files) < 5 {
		t.Fatalf("testdata missing: %v", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		assertRoundTrip(t, mustLoad(t, f, string(data)))
	}
	data, _ := os.ReadFile(filepath.Join(dir, "postgres_sink.toml"))
	c := mustLoad(t, "pg.toml", string(data))
	j, _ := json.Marshal(c)
	// The API's field names (spec §5), transforms as an ordered {type: config} object.
	for _, want := range []string{`"key":"pg"`, `"enabled":true`, `"version":0`, `"name":"Postgres sink"`, `"path":"build/plugins/libiggy_connector_postgres_sink"`,
		`"transforms":{"add_fields":{`, `},"delete_fields":{"enabled":true,"fields":["email","created_at"]}}`,
		`"streams":[{"stream":"orders","topics":["created"],"schema":"json","batch_length":100,"poll_interval":"5ms","consumer_group":"pg_sink_connector"}]`,
		`"plugin_config_format":"toml"`, `"plugin_config":{`, `"verbose":false`, `"benchmark":false`} {
		if !strings.Contains(string(j), want) {
			t.Errorf("JSON lacks %s:\n%s", want, j)
		}
	}
	if strings.Contains(string(j), `"type"`) {
		t.Errorf("JSON must not carry type (as the original): %s", j)
	}
	// No transforms and no plugin_config_format render as null, like the original's Option.
	j, _ = json.Marshal(mustLoad(t, "m.toml", minimalSink))
	if !strings.Contains(string(j), `"transforms":null`) || !strings.Contains(string(j), `"plugin_config_format":null`) || !strings.Contains(string(j), `"plugin_config":{}`) {
		t.Errorf("JSON %s", j)
	}
}

func TestConnectorJSONInput(t *testing.T) {
	// A create body (the original's CreateSinkConfig): no key/version; nulls mean absent.
	body := `{"enabled": true, "name": "pg", "path": "libpg", "version": 99, "key": "ignored",
		"transforms": {"delete_fields": {"enabled": true, "fields": ["a"]}, "add_fields": {"fields": []}},
		"streams": [{"stream": "s", "topics": ["t"], "schema": "json", "batch_length": 10, "poll_interval": "1 s", "consumer_group": null}],
		"plugin_config_format": null, "plugin_config": null, "verbose": true}`
	c, ps := DecodeConnectorJSON(KindSink, "POST /sinks/pg/configs", []byte(body), false, "pg")
	if c == nil {
		t.Fatal(ps)
	}
	if c.Key != "pg" || c.Version != 0 || !c.Verbose || len(c.PluginConfig) != 0 || c.SinkStreams[0].PollInterval.D() != time.Second ||
		c.SinkStreams[0].ConsumerGroup != "iggy-connect-sink-pg" || c.SinkStreams[0].BatchLength != 10 {
		t.Errorf("%+v", c)
	}
	if len(c.Transforms) != 2 || c.Transforms[0].Type != "delete_fields" || c.Transforms[1].Type != "add_fields" || !c.Transforms[1].Enabled {
		t.Errorf("transforms %+v", c.Transforms)
	}
	// Integers from JSON are int64 like from TOML.
	c, _ = DecodeConnectorJSON(KindSink, "x", []byte(`{"key":"k","enabled":true,"version":1,"name":"n","path":"p","streams":[{"stream":"s","topics":["t"],"schema":"raw"}],"plugin_config":{"n":5,"f":1.5,"big":18446744073709551615}}`), true, "")
	if c == nil || c.PluginConfig["n"] != int64(5) || c.PluginConfig["f"] != 1.5 {
		t.Errorf("plugin config %#v", c)
	}
	// A complete config needs version; problems name the JSON source and key.
	_, ps = DecodeConnectorJSON(KindSource, "http://cfg/sources/r/configs/1", []byte(`{"key":"r","enabled":true,"name":"n","path":"p","streams":[{"stream":"s","topic":"t","schema":"json","linger_time":"fast"}]}`), true, "")
	want := map[string]bool{"version": false, "streams[0].linger_time": false}
	for _, p := range ps {
		if p.File == "http://cfg/sources/r/configs/1" {
			if _, ok := want[p.Key]; ok {
				want[p.Key] = true
			}
		}
	}
	for k, ok := range want {
		if !ok {
			t.Errorf("no problem at %s: %v", k, ps)
		}
	}
	if _, ps := DecodeConnectorJSON(KindSink, "x", []byte(`[1]`), true, ""); len(ps) != 1 || !strings.Contains(ps[0].Message, "expected a JSON object") {
		t.Errorf("%v", ps)
	}
}

func TestConnectorEnvOverrides(t *testing.T) {
	sinkFile := `
type = "sink"
key = "my-pg"
enabled = true
version = 0
name = "pg"
path = "libpg"
[[streams]]
stream = "s"
topics = ["t"]
schema = "json"
[plugin_config]
target_table = "t1"
`
	srcFile := strings.Replace(minimalSource, `key = "rnd"`, `key = "rnd"`, 1)
	cases := []struct {
		name  string
		kind  Kind
		vars  map[string]string
		check func(*ConnectorConfig) bool
	}{
		{"enabled", KindSink, map[string]string{"IGGY_CONNECTORS_SINK_MY-PG_ENABLED": "false"}, func(c *ConnectorConfig) bool { return !c.Enabled }},
		{"name and path", KindSink, map[string]string{"IGGY_CONNECTORS_SINK_MY-PG_NAME": "N", "IGGY_CONNECTORS_SINK_MY-PG_PATH": "/opt/lib.so"}, func(c *ConnectorConfig) bool { return c.Name == "N" && c.Path == "/opt/lib.so" }},
		{"verbose benchmark format", KindSink, map[string]string{"IGGY_CONNECTORS_SINK_MY-PG_VERBOSE": "true", "IGGY_CONNECTORS_SINK_MY-PG_BENCHMARK": "TRUE", "IGGY_CONNECTORS_SINK_MY-PG_PLUGIN_CONFIG_FORMAT": "json"},
			func(c *ConnectorConfig) bool { return c.Verbose && c.Benchmark && c.PluginConfigFormat == "json" }},
		{"version", KindSink, map[string]string{"IGGY_CONNECTORS_SINK_MY-PG_VERSION": "4"}, func(c *ConnectorConfig) bool { return c.Version == 4 }},
		{"streams array replaced", KindSink, map[string]string{
			"IGGY_CONNECTORS_SINK_MY-PG_STREAMS_0_STREAM": "orders", "IGGY_CONNECTORS_SINK_MY-PG_STREAMS_0_TOPICS": "[a, b]",
			"IGGY_CONNECTORS_SINK_MY-PG_STREAMS_0_SCHEMA": "raw", "IGGY_CONNECTORS_SINK_MY-PG_STREAMS_0_BATCH_LENGTH": "50",
			"IGGY_CONNECTORS_SINK_MY-PG_STREAMS_0_POLL_INTERVAL": "20ms", "IGGY_CONNECTORS_SINK_MY-PG_STREAMS_0_CONSUMER_GROUP": "g",
			"IGGY_CONNECTORS_SINK_MY-PG_STREAMS_1_STREAM": "more", "IGGY_CONNECTORS_SINK_MY-PG_STREAMS_1_TOPICS_0": "x",
			"IGGY_CONNECTORS_SINK_MY-PG_STREAMS_1_TOPICS_1": "y", "IGGY_CONNECTORS_SINK_MY-PG_STREAMS_1_SCHEMA": "text"},
			func(c *ConnectorConfig) bool {
				return reflect.DeepEqual(c.SinkStreams, []SinkStream{
					{Stream: "orders", Topics: []string{"a", "b"}, Schema: "raw", BatchLength: 50, PollInterval: Duration(20 * time.Millisecond), ConsumerGroup: "g"},
					{Stream: "more", Topics: []string{"x", "y"}, Schema: "text", BatchLength: 1000, PollInterval: Duration(5 * time.Millisecond), ConsumerGroup: "iggy-connect-sink-my-pg"}})
			}},
		{"plugin config fields", KindSink, map[string]string{
			"IGGY_CONNECTORS_SINK_MY-PG_PLUGIN_CONFIG_TABLES": "[users]", "IGGY_CONNECTORS_SINK_MY-PG_PLUGIN_CONFIG_BATCH_SIZE": "500",
			"IGGY_CONNECTORS_SINK_MY-PG_PLUGIN_CONFIG_RATIO": "0.5", "IGGY_CONNECTORS_SINK_MY-PG_PLUGIN_CONFIG_AUTO_CREATE_TABLE": "true",
			"IGGY_CONNECTORS_SINK_MY-PG_PLUGIN_CONFIG_TARGET_TABLE": "t2"},
			func(c *ConnectorConfig) bool {
				return reflect.DeepEqual(c.PluginConfig, map[string]any{"tables": []any{"users"}, "batch_size": int64(500), "ratio": 0.5,
					"auto_create_table": true, "target_table": "t2"})
			}},
		{"extensions", KindSink, map[string]string{"IGGY_CONNECTORS_SINK_MY-PG_ON_ERROR": "dead_letter", "IGGY_CONNECTORS_SINK_MY-PG_DEAD_LETTER_STREAM": "d",
			"IGGY_CONNECTORS_SINK_MY-PG_DEAD_LETTER_TOPIC": "e", "IGGY_CONNECTORS_SINK_MY-PG_RETRY_MAX_ATTEMPTS": "9", "IGGY_CONNECTORS_SINK_MY-PG_TRANSPORT": "process"},
			func(c *ConnectorConfig) bool {
				return c.OnError == "dead_letter" && *c.DeadLetter == DeadLetterConfig{Stream: "d", Topic: "e"} && c.Retry.MaxAttempts == 9 && c.Retry.Multiplier == 2 && c.Transport == "process"
			}},
		{"source keys", KindSource, map[string]string{"IGGY_CONNECTORS_SOURCE_RND_MAX_IN_FLIGHT": "4", "IGGY_CONNECTORS_SOURCE_RND_POLL_INTERVAL": "1s",
			"IGGY_CONNECTORS_SOURCE_RND_STREAMS_0_STREAM": "a", "IGGY_CONNECTORS_SOURCE_RND_STREAMS_0_TOPIC": "b", "IGGY_CONNECTORS_SOURCE_RND_STREAMS_0_SCHEMA": "json",
			"IGGY_CONNECTORS_SOURCE_RND_STREAMS_0_LINGER_TIME": "none", "IGGY_CONNECTORS_SOURCE_RND_STREAMS_0_PARTITION_ID": "3"},
			func(c *ConnectorConfig) bool {
				s := c.SourceStreams
				return c.MaxInFlight == 4 && c.PollInterval.D() == time.Second && len(s) == 1 && s[0].Topic == "b" && s[0].LingerTime == 0 && *s[0].PartitionID == 3
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := sinkFile
			if tc.kind == KindSource {
				src = srcFile
			}
			doc, ps := ParseConnectorTOML("c.toml", []byte(src))
			if doc == nil {
				t.Fatal(ps)
			}
			split, ps := SplitConnectorEnv(tc.vars, map[Kind][]string{doc.Kind: {doc.Key}})
			if len(ps) > 0 {
				t.Fatal(ps)
			}
			c, ps := doc.Config(split[doc.Kind][doc.Key])
			if c == nil || len(ps) > 0 {
				t.Fatalf("%v", ps)
			}
			if !tc.check(c) {
				t.Errorf("override not applied: %#v", c)
			}
		})
	}
}

func TestConnectorEnvProblems(t *testing.T) {
	doc, _ := ParseConnectorTOML("sinks/pg.toml", []byte(minimalSink))
	cases := []struct {
		name     string
		vars     map[string]string
		key, msg string
		severity Severity
	}{
		{"partial array element", map[string]string{"IGGY_CONNECTORS_SINK_PG_STREAMS_0_POLL_INTERVAL": "10ms"}, "IGGY_CONNECTORS_SINK_PG_STREAMS_0_STREAM", "missing required key", SeverityError},
		{"bad value", map[string]string{"IGGY_CONNECTORS_SINK_PG_ENABLED": "nope"}, "IGGY_CONNECTORS_SINK_PG_ENABLED", `expected true or false, got "nope"`, SeverityError},
		{"bad duration in env", map[string]string{"IGGY_CONNECTORS_SINK_PG_STREAMS_0_STREAM": "s", "IGGY_CONNECTORS_SINK_PG_STREAMS_0_TOPICS": "[t]", "IGGY_CONNECTORS_SINK_PG_STREAMS_0_SCHEMA": "json",
			"IGGY_CONNECTORS_SINK_PG_STREAMS_0_POLL_INTERVAL": "5 parsecs"}, "IGGY_CONNECTORS_SINK_PG_STREAMS_0_POLL_INTERVAL", `invalid duration "5 parsecs": unknown unit "parsecs"`, SeverityError},
		{"unknown field", map[string]string{"IGGY_CONNECTORS_SINK_PG_ENABLD": "true"}, "IGGY_CONNECTORS_SINK_PG_ENABLD", `no such sink config key (did you mean "IGGY_CONNECTORS_SINK_PG_ENABLED"?)`, SeverityError},
		{"transforms are not overridable", map[string]string{"IGGY_CONNECTORS_SINK_PG_TRANSFORMS_ADD_FIELDS_ENABLED": "true"}, "IGGY_CONNECTORS_SINK_PG_TRANSFORMS_ADD_FIELDS_ENABLED", "no such sink config key", SeverityError},
		{"source-only key on a sink", map[string]string{"IGGY_CONNECTORS_SINK_PG_MAX_IN_FLIGHT": "2"}, "IGGY_CONNECTORS_SINK_PG_MAX_IN_FLIGHT", "no such sink config key", SeverityError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, ps := doc.Config(tc.vars)
			if (c == nil) != (tc.severity == SeverityError) {
				t.Errorf("config %v, problems %v", c, ps)
			}
			var found bool
			for _, p := range ps {
				found = found || p.File == EnvFile && p.Key == tc.key && strings.Contains(p.Message, tc.msg) && p.Severity == tc.severity
			}
			if !found {
				t.Errorf("want %s %s: %s\ngot %v", tc.severity, tc.key, tc.msg, ps)
			}
		})
	}
}

func TestSplitConnectorEnv(t *testing.T) {
	env := map[string]string{
		"IGGY_CONNECTORS_SINK_PG_ENABLED":    "true",
		"IGGY_CONNECTORS_SINK_PG_2_ENABLED":  "false",
		"IGGY_CONNECTORS_SOURCE_PG_NAME":     "src",
		"IGGY_CONNECTORS_SINK_MONGO_ENABLED": "true",
		"IGGY_CONNECTORS_SINK_EMPTY_VALUE_X": "",
		"IGGY_CONNECTORS_IGGY_ADDRESS":       "x",
	}
	split, ps := SplitConnectorEnv(env, map[Kind][]string{KindSink: {"pg", "pg_2"}, KindSource: {"pg"}})
	want := map[Kind]map[string]map[string]string{
		KindSink:   {"pg": {"IGGY_CONNECTORS_SINK_PG_ENABLED": "true"}, "pg_2": {"IGGY_CONNECTORS_SINK_PG_2_ENABLED": "false"}},
		KindSource: {"pg": {"IGGY_CONNECTORS_SOURCE_PG_NAME": "src"}},
	}
	if !reflect.DeepEqual(split, want) {
		t.Errorf("split %v", split)
	}
	if len(ps) != 1 || ps[0].Key != "IGGY_CONNECTORS_SINK_MONGO_ENABLED" || ps[0].Severity != SeverityWarning || !strings.Contains(ps[0].Message, "no sink has a key matching") {
		t.Errorf("problems %v", ps)
	}
}

func TestConnectorRedaction(t *testing.T) {
	c := mustLoad(t, "r.toml", minimalSink+`
[plugin_config]
connection_string = "postgresql://user:pg-s3cr3t@db:5432/app"
dsn = "host=db user=u password=dsn-s3cr3t dbname=x"
password = "pw-s3cr3t"
api_key = "key-s3cr3t"
plugin_token = "tok-s3cr3t"
custom = "custom-s3cr3t"
nested = { secret_key = "nested-s3cr3t", list = ["mongodb://a:list-s3cr3t@h/db"] }
target_table = "visible_table"
[transforms.add_fields]
fields = [{ key = "auth", value.static = "http://x:tr-s3cr3t@h" }]
`)
	c.MarkSecret("custom")
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("connector", "cfg", c)
	for name, out := range map[string]string{"String": c.String(), "LogValue": logBuf.String()} {
		if strings.Contains(out, "s3cr3t") {
			t.Errorf("%s leaks: %s", name, out)
		}
		if !strings.Contains(out, "visible_table") || !strings.Contains(out, "postgresql://user:***@db:5432/app") || !strings.Contains(out, "password=***") {
			t.Errorf("%s over-redacts: %s", name, out)
		}
	}
	// Files and the API keep the values.
	data, _ := c.MarshalTOML()
	j, _ := json.Marshal(c)
	pj, _ := c.PluginConfigJSON()
	for name, out := range map[string][]byte{"TOML": data, "JSON": j, "plugin JSON": pj} {
		if bytes.Count(out, []byte("s3cr3t")) < 7 {
			t.Errorf("%s lost values: %s", name, out)
		}
	}
	if c.PluginConfig["password"] != "pw-s3cr3t" {
		t.Error("Redacted modified the config")
	}
}

func TestRedactString(t *testing.T) {
	cases := map[string]string{
		"postgres://u:p@h:5432/db?sslmode=disable": "postgres://u:***@h:5432/db?sslmode=disable",
		"mongodb://h:27017":                        "mongodb://h:27017",
		"http://user@h":                            "http://user@h",
		"host=h password='a b' user=u":             "host=h password=*** user=u",
		"Server=h;Password=x;Db=d":                 "Server=h;Password=***;Db=d",
		"plain text":                               "plain text",
	}
	for in, want := range cases {
		if got := RedactString(in); got != want {
			t.Errorf("RedactString(%q) = %q, want %q", in, got, want)
		}
	}
}
