package bench

import "fmt"

// The connector files the scenarios give the runtime. Plugins are named without directory: the
// runtime finds them in build/plugins next to build/bin.

// sourceTOML is the B1 source: the random source in zero_cost mode producing batch records of
// MessageSize bytes per poll, as fast as it can (interval 0, linger_time 0), stopping after
// maxCount messages (0 = never).
func sourceTOML(topic string, batch int, maxCount uint64) string {
	maxLine := ""
	if maxCount > 0 {
		maxLine = fmt.Sprintf("max_count = %d\n", maxCount)
	}
	return fmt.Sprintf(`type = "source"
key = "bench_source"
enabled = true
version = 0
name = "benchmark source"
path = "libiggy_connector_random_source"

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
%s`, benchStream, topic, batch, batch, batch, ZeroCostTextSize(MessageSize), maxLine)
}

// sinkTOML is the B2 sink: the discard sink (test/plugins/discard) reading topic as group.
// transforms adds the B5 chain.
func sinkTOML(key, topic, group string, batch int, transforms bool) string {
	s := fmt.Sprintf(`type = "sink"
key = %q
enabled = true
version = 0
name = "benchmark sink"
path = "libiggy_connector_discard_sink"

[[streams]]
stream = %q
topics = [%q]
schema = "json"
batch_length = %d
poll_interval = "5ms"
consumer_group = %q

[plugin_config]
`, key, benchStream, topic, batch, group)
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
// the sink's own DDL) in rounds of 1000 rows, the default payload_format bytea.
func pgSinkTOML(topic, group, table, pgURL string) string {
	return fmt.Sprintf(`type = "sink"
key = "bench_pg"
enabled = true
version = 0
name = "benchmark PostgreSQL sink"
path = "libiggy_connector_postgres_sink"

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
`, benchStream, topic, group, pgURL, table)
}
