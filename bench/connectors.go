package bench

import (
	"fmt"
	"path/filepath"
	"regexp"
)

// The connector files the scenarios give the runtime. plugin is the library's path
// (Harness.plugin).

// sourceTOML is the B1 source: the random source in zero_cost mode producing batch records of
// MessageSize bytes per poll, as fast as it can (interval 0, linger_time 0), stopping after
// maxCount messages (0 = never). inFlight is max_in_flight (batches polled and not yet committed;
// 2 polls the next batch while the previous one is sent).
// defaultInFlight is the runtime's default max_in_flight (runtime/config), written out explicitly
// in the B1 connector files so a run says what it measured.
const defaultInFlight = 2

func sourceTOML(plugin, topic string, batch, inFlight int, maxCount uint64) string {
	maxLine := ""
	if maxCount > 0 {
		maxLine = fmt.Sprintf("max_count = %d\n", maxCount)
	}
	return fmt.Sprintf(`type = "source"
key = "bench_source"
enabled = true
version = 0
name = "benchmark source"
path = %q
max_in_flight = %d

[[streams]]
stream = %q
topic = %q
schema = "json"
batch_length = %d
linger_time = "0"

[plugin_config]
interval = "0"
messages_range = [%d, %d]
payload_size = %d
generator = "zero_cost"
%s`, plugin, inFlight, benchStream, topic, batch, batch, batch, ZeroCostTextSize(MessageSize), maxLine)
}

// sinkTOML is the B2 sink: the discard sink (test/plugins/discard) reading topic as group.
// transforms adds the B5 chain.
func sinkTOML(plugin, key, topic, group string, batch int, transforms bool) string {
	s := fmt.Sprintf(`type = "sink"
key = %q
enabled = true
version = 0
name = "benchmark sink"
path = %q

[[streams]]
stream = %q
topics = [%q]
schema = "json"
batch_length = %d
poll_interval = "5ms"
consumer_group = %q

[plugin_config]
`, key, plugin, benchStream, topic, batch, group)
	if transforms {
		s += TransformChainTOML
	}
	return s
}

// TransformChainTOML is the B5 chain: the chain of runtime/transform's BenchmarkTransformChain
// (add_fields with a static and a computed value, a conditional update_fields, filter_fields
// dropping debug_* keys, delete_fields), in file order.
const TransformChainTOML = `
[[transforms]]
type = "add_fields"
fields = [
  { key = "source", value.static = "iggy" },
  { key = "ingested_at", value.computed = "timestamp_millis" },
]

[[transforms]]
type = "update_fields"
fields = [{ key = "status", value.static = "processed", condition = "key_exists" }]

[[transforms]]
type = "filter_fields"
include_matching = false
patterns = [{ key_pattern.starts_with = "debug_" }]

[[transforms]]
type = "delete_fields"
fields = ["password", "ssn"]
`

// pgSinkTOML is the B3 sink: the PostgreSQL sink writing topic into table (created beforehand with
// the sink's own DDL) in rounds of 1000 rows, the default payload_format bytea. O3 gives the same
// file to the original (whose defaults are the same), with a bare table name.
func pgSinkTOML(plugin, topic, group, table, pgURL string) string {
	return fmt.Sprintf(`type = "sink"
key = "bench_pg"
enabled = true
version = 0
name = "benchmark PostgreSQL sink"
path = %q

[[streams]]
stream = %q
topics = [%q]
schema = "json"
batch_length = 1000
poll_interval = "5ms"
consumer_group = %q

[plugin_config]
connection_string = %q
target_table = %q
batch_size = 1000
auto_create_table = true
`, plugin, benchStream, topic, group, pgURL, table)
}

// pathLine matches the plugin path of a connector file.
var pathLine = regexp.MustCompile(`(?m)^path = "([^"/]+)"$`)

// withPluginDir makes a connector file's bare plugin name (path = "libx") a path in dir.
func withPluginDir(toml, dir string) string {
	return pathLine.ReplaceAllStringFunc(toml, func(line string) string {
		name := pathLine.FindStringSubmatch(line)[1]
		return fmt.Sprintf("path = %q", filepath.Join(dir, name))
	})
}

// --- the O scenarios: ours and the original runtime with the same connectors ----------------------

// randomSourceTOML is the O1 source of either runtime: the random source generating random text
// (generator "random", the original's only kind) in records of MessageSize bytes, batch records
// per poll, as fast as it can (interval and linger_time 0). The original draws a batch's size from
// messages_range as [min, max) and ours as [min, max], so each gets the range that always gives
// batch; the original has no generator key. The original runs its single batch in flight; ours
// runs at its default max_in_flight.
func randomSourceTOML(plugin, stream, topic string, batch int, original bool) string {
	hi, gen := batch, "generator = \"random\"\n"
	if original {
		hi, gen = batch+1, ""
	}
	return fmt.Sprintf(`type = "source"
key = "bench_random"
enabled = true
version = 0
name = "benchmark random source"
path = %q

[[streams]]
stream = %q
topic = %q
schema = "json"
batch_length = %d
linger_time = "0"

[plugin_config]
interval = "0"
messages_range = [%d, %d]
payload_size = %d
%s`, plugin, stream, topic, batch, batch, hi, ZeroCostTextSize(MessageSize), gen)
}

// stdoutSinkTOML is the O2 sink of either runtime (the files are the same): the stdout sink with
// its default print_payload = false (one log line per batch; printing every payload would measure
// the plugins' formatting, which in the original goes through a debug-formatted log line per
// message), reading topic as group in polls of batch messages. The harness sends standard output
// to /dev/null.
func stdoutSinkTOML(plugin, stream, topic, group string, batch int) string {
	return fmt.Sprintf(`type = "sink"
key = "bench_stdout"
enabled = true
version = 0
name = "benchmark stdout sink"
path = %q

[[streams]]
stream = %q
topics = [%q]
schema = "json"
batch_length = %d
poll_interval = "5ms"
consumer_group = %q

[plugin_config]
print_payload = false
`, plugin, stream, topic, batch, group)
}

// originalConfigTOML is the original runtime's main config.toml: the Iggy server and credentials,
// connector files in connectorsDir (the local provider), source state in stateDir, HTTP API and
// telemetry off. Everything else keeps the defaults compiled into the original.
func originalConfigTOML(addr, username, password, stateDir, connectorsDir string) string {
	return fmt.Sprintf(`[http]
enabled = false

[iggy]
address = %q
username = %q
password = %q
token = ""

[state]
path = %q

[connectors]
config_type = "local"
config_dir = %q

[telemetry]
enabled = false
`, addr, username, password, stateDir, connectorsDir)
}
