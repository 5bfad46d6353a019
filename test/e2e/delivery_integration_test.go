//go:build integration

package e2e

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/runtime/iggy"
)

// retryFast is the retry section every test connector uses: quick backoff, unlimited attempts.
const retryFast = `
[retry]
initial_backoff = "20ms"
max_backoff = "200ms"
`

// TestDelivery runs both directions in one runtime: a source (seq, JSON with headers) whose
// transforms are in the ordered [[transforms]] form, a sink reading what the test produced with the
// Go client (typed headers, ids) whose transforms are in the original's table form, a raw sink
// that must get byte-exact payloads, and a sink chained behind the source. Every message must
// arrive exactly once with exact payload, headers, id and transform result, in order.
func TestDelivery(t *testing.T) {
	e := newEnv(t)
	const total = 100
	e.writeConnector("source", `
type = "source"
key = "src"
enabled = true
version = 0
name = "seq json"
path = "libiggy_connector_seq_source"
`+retryFast+`
[[streams]]
stream = "e2e"
topic = "produced"
schema = "json"
batch_length = 10
linger_time = "0"
auto_create = true

[plugin_config]
format = "json"
headers = true
batch_size = 25
limit = `+strconv.Itoa(total)+`

# File order: add, update (sees the added key), delete, add again (re-adds a deleted key).
[[transforms]]
type = "add_fields"
fields = [{ key = "stage", value.static = "added" }, { key = "tag", value.static = "t1" }]

[[transforms]]
type = "update_fields"
fields = [{ key = "stage", value.static = "updated", condition = "key_exists" }]

[[transforms]]
type = "delete_fields"
fields = ["secret", "tag"]

[[transforms]]
type = "add_fields"
fields = [{ key = "tag", value.static = "re-added" }]
`)
	e.createTopic("e2e", "input", 1)
	e.createTopic("e2e", "rawin", 1)
	sinkOut, rawOut, chainOut := e.path("sink.jsonl"), e.path("raw.jsonl"), e.path("chain.jsonl")
	e.writeConnector("sink", `
type = "sink"
key = "snk"
enabled = true
version = 0
name = "faulty json"
path = "libiggy_connector_faulty_sink"
`+retryFast+`
[[streams]]
stream = "e2e"
topics = ["input"]
schema = "json"
batch_length = 7
poll_interval = "10ms"

[plugin_config]
output = "`+sinkOut+`"

# The original's table form, applied in file order: update first (no "stage" yet: nothing), then
# add. The reverse order would give "updated".
[transforms.update_fields]
enabled = true
fields = [{ key = "stage", value.static = "updated", condition = "key_exists" }]

[transforms.add_fields]
enabled = true
fields = [{ key = "stage", value.static = "added" }]

[transforms.delete_fields]
fields = ["drop"]
`)
	e.writeConnector("raw", `
type = "sink"
key = "raw"
enabled = true
version = 0
name = "faulty raw"
path = "libiggy_connector_faulty_sink"
`+retryFast+`
[[streams]]
stream = "e2e"
topics = ["rawin"]
schema = "raw"
poll_interval = "10ms"

[plugin_config]
output = "`+rawOut+`"
`)
	e.writeConnector("chain", `
type = "sink"
key = "chain"
enabled = true
version = 0
name = "faulty chained behind the source"
path = "libiggy_connector_faulty_sink"
`+retryFast+`
[[streams]]
stream = "e2e"
topics = ["produced"]
schema = "json"
batch_length = 33
poll_interval = "10ms"

[plugin_config]
output = "`+chainOut+`"
`)

	// What the test produces: 3 sends of 10 JSON messages, and 2 sends of raw payloads holding every
	// byte value.
	var input []iggy.Message
	for i := range 30 {
		input = append(input, iggy.Message{ID: iggy.IDFromUint64(uint64(1000 + i)),
			Payload: fmt.Appendf(nil, `{"i":%d,"drop":true,"s":"é\"x"}`, i),
			Headers: []iggy.Header{iggy.StringHeader("trace", "t-"+strconv.Itoa(i)),
				{KeyKind: iggy.KindString, Key: []byte("num"), ValueKind: iggy.KindUint64, Value: binary.LittleEndian.AppendUint64(nil, uint64(i))}}})
	}
	var rawInput []iggy.Message
	for i := range 8 {
		p := make([]byte, 256+i)
		for j := range p {
			p[j] = byte(j + i)
		}
		rawInput = append(rawInput, iggy.Message{ID: iggy.IDFromUint64(uint64(5000 + i)), Payload: p})
	}
	for i := 0; i < 30; i += 10 {
		e.send("e2e", "input", input[i:i+10])
	}
	e.send("e2e", "rawin", rawInput[:3])

	rt := e.startRuntime()
	e.send("e2e", "rawin", rawInput[3:]) // while running, too

	waitFor(t, 30*time.Second, "every message at the sinks", func() bool {
		return len(readSink(t, sinkOut).Msgs) >= 30 && len(readSink(t, rawOut).Msgs) >= 8 &&
			len(readSink(t, chainOut).Msgs) >= total
	})
	if code, took := rt.SignalWait(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("runtime exit code %d after SIGTERM (took %v)", code, took)
	}
	rt.noErrors()

	// Source direction: what Iggy holds.
	produced := e.readAll("e2e", "produced")
	if len(produced) != total {
		t.Fatalf("Iggy holds %d messages from the source, want %d", len(produced), total)
	}
	for k, m := range produced {
		want := fmt.Sprintf(`{"k":%d,"name":"msg-%d","stage":"updated","tag":"re-added"}`, k, k)
		if string(m.Payload) != want {
			t.Fatalf("source message %d: payload %s, want %s", k, m.Payload, want)
		}
		// The plugin's ids are kept; id 0 means "none" and gets a random one (as Iggy does).
		if wantID := [16]byte(abi.IDFromUint64s(0, uint64(k))); (k > 0 && m.ID != wantID) || (k == 0 && m.ID == wantID) {
			t.Fatalf("source message %d: id %x", k, m.ID)
		}
		h := headerMap(m.Headers)
		if h["k"] != strconv.Itoa(k) || h["n"] != fmt.Sprintf("%x", binary.LittleEndian.AppendUint64(nil, uint64(k))) || len(h) != 2 {
			t.Fatalf("source message %d: headers %v", k, h)
		}
		if m.Offset != uint64(k) {
			t.Fatalf("source message %d stored at offset %d (order)", k, m.Offset)
		}
	}

	// Sink direction: what the plugin got.
	got := readSink(t, sinkOut)
	if len(got.Msgs) != 30 {
		t.Fatalf("json sink wrote %d messages, want 30 exactly once", len(got.Msgs))
	}
	for i, m := range got.Msgs {
		want := fmt.Sprintf(`{"i":%d,"s":"é\"x","stage":"added"}`, i)
		if m.Offset != uint64(i) || string(m.Payload) != want || m.Schema != "json" || m.Stream != e.stream("e2e") || m.Topic != "input" {
			t.Fatalf("json sink message %d: offset %d schema %s %s/%s payload %s, want payload %s", i, m.Offset, m.Schema, m.Stream, m.Topic, m.Payload, want)
		}
		if m.ID != fmt.Sprintf("%x", input[i].ID[:]) {
			t.Fatalf("json sink message %d: id %s, want %x", i, m.ID, input[i].ID)
		}
		if m.Headers["trace"] != "t-"+strconv.Itoa(i) || m.Headers["num"] != fmt.Sprintf("%x", binary.LittleEndian.AppendUint64(nil, uint64(i))) || len(m.Headers) != 2 {
			t.Fatalf("json sink message %d: headers %v", i, m.Headers)
		}
	}
	raw := readSink(t, rawOut)
	if len(raw.Msgs) != len(rawInput) {
		t.Fatalf("raw sink wrote %d messages, want %d", len(raw.Msgs), len(rawInput))
	}
	for i, m := range raw.Msgs {
		if string(m.Payload) != string(rawInput[i].Payload) || m.Schema != "raw" || m.Offset != uint64(i) {
			t.Fatalf("raw sink message %d: offset %d schema %s payload %x", i, m.Offset, m.Schema, m.Payload)
		}
	}
	chain := readSink(t, chainOut)
	if len(chain.Msgs) != total {
		t.Fatalf("chained sink wrote %d messages, want %d", len(chain.Msgs), total)
	}
	for i, m := range chain.Msgs {
		if string(m.Payload) != string(produced[i].Payload) || m.Headers["k"] != strconv.Itoa(i) {
			t.Fatalf("chained sink message %d: %s headers %v, Iggy holds %s", i, m.Payload, m.Headers, produced[i].Payload)
		}
	}
	// Offsets stored for each sink: the last message.
	for _, c := range []struct{ topic, group string }{{"input", "iggy-connect-sink-snk"}, {"rawin", "iggy-connect-sink-raw"},
		{"produced", "iggy-connect-sink-chain"}} {
		want := map[string]int64{"input": 29, "rawin": 7, "produced": total - 1}[c.topic]
		if got := e.storedOffset("e2e", c.topic, c.group, 0); got != want {
			t.Errorf("group %s stored offset %d, want %d", c.group, got, want)
		}
	}
	t.Logf("source: %d messages with transforms in file order; sinks: %d json, %d raw, %d chained; calls: json %d, chained %d",
		len(produced), len(got.Msgs), len(raw.Msgs), len(chain.Msgs), len(got.Calls), len(chain.Calls))
}

// TestReload: SIGHUP re-reads the connector configs; a changed sink is restarted with its new
// config (its transform's output changes from the next message on, nothing lost or repeated),
// an unchanged source keeps running untouched.
func TestReload(t *testing.T) {
	e := newEnv(t)
	e.createTopic("r", "in", 1)
	out := e.path("sink.jsonl")
	sink := func(tag string) string {
		return `
type = "sink"
key = "snk"
enabled = true
version = 0
name = "faulty"
path = "libiggy_connector_faulty_sink"
` + retryFast + `
[[streams]]
stream = "r"
topics = ["in"]
schema = "json"
poll_interval = "10ms"

[plugin_config]
output = "` + out + `"

[[transforms]]
type = "add_fields"
fields = [{ key = "tag", value.static = "` + tag + `" }]
`
	}
	e.writeConnector("sink", sink("v1"))
	e.writeConnector("source", fmt.Sprintf(seqSourceTOML, "src", "", "reload", 5, 0, 50))
	e.send("r", "in", jsonMessages(10, ok))
	rt := e.startRuntime()
	waitFor(t, 20*time.Second, "the first 10 messages written", func() bool { return len(readSink(t, out).Msgs) >= 10 })
	e.writeConnector("sink", sink("v2"))
	rt.Signal(syscall.SIGHUP)
	rt.waitLog(10*time.Second, `msg="connector configs reloaded" changed=[sink/snk]`)
	e.send("r", "in", jsonMessages(10, func(i int) string { return ok(10 + i) }))
	waitFor(t, 20*time.Second, "the next 10 messages written", func() bool { return len(readSink(t, out).Msgs) >= 20 })
	if code, _ := rt.SignalWait(syscall.SIGTERM, stopBound); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	rt.noErrors()
	o := readSink(t, out)
	checkOnce(t, "reloaded sink", o, seqOffsets(0, 19))
	for i, m := range o.Msgs {
		tag := "v1"
		if i >= 10 {
			tag = "v2"
		}
		if want := fmt.Sprintf(`{"i":%d,"tag":"%s"}`, i, tag); string(m.Payload) != want {
			t.Fatalf("message %d: %s, want %s", i, m.Payload, want)
		}
	}
	log := rt.Log.Contents()
	if n := strings.Count(log, `msg="source running" connector=src`); n != 1 {
		t.Fatalf("the unchanged source started %d times, want once", n)
	}
	if n := strings.Count(log, `msg="sink running" connector=snk`); n != 2 {
		t.Fatalf("the changed sink started %d times, want twice", n)
	}
	// The source kept its sequence across the reload: no gap, no repeat.
	for i, k := range e.seqKs("c", "reload") {
		if k != uint64(i) {
			t.Fatalf("source message %d has k %d", i, k)
		}
	}
}

// TestSinkLinger: with linger_time, a sink waits to fill its batches: messages produced in small
// sends reach the plugin in a few full calls instead of one call per send — all of them, in order.
func TestSinkLinger(t *testing.T) {
	e := newEnv(t)
	for _, topic := range []string{"linger", "eager"} {
		e.createTopic("l", topic, 1)
	}
	outs := map[string]string{}
	for _, c := range []struct{ key, linger string }{{"linger", `linger_time = "2s"`}, {"eager", ""}} {
		outs[c.key] = e.path(c.key + ".jsonl")
		e.writeConnector(c.key, `
type = "sink"
key = "`+c.key+`"
enabled = true
version = 0
name = "faulty"
path = "libiggy_connector_faulty_sink"
`+retryFast+`
[[streams]]
stream = "l"
topics = ["`+c.key+`"]
schema = "json"
batch_length = 40
poll_interval = "10ms"
`+c.linger+`

[plugin_config]
output = "`+outs[c.key]+`"
`)
	}
	rt := e.startRuntime()
	time.Sleep(300 * time.Millisecond) // the sinks are polling
	for i := 0; i < 80; i += 5 {
		for _, topic := range []string{"linger", "eager"} {
			e.send("l", topic, jsonMessages(5, func(j int) string { return ok(i + j) }))
		}
		time.Sleep(30 * time.Millisecond)
	}
	waitFor(t, 20*time.Second, "80 messages at both sinks", func() bool {
		return len(readSink(t, outs["linger"]).Msgs) >= 80 && len(readSink(t, outs["eager"]).Msgs) >= 80
	})
	if code, _ := rt.SignalWait(syscall.SIGTERM, stopBound); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	rt.noErrors()
	lingered, eager := readSink(t, outs["linger"]), readSink(t, outs["eager"])
	checkOnce(t, "lingering sink", lingered, seqOffsets(0, 79))
	checkOnce(t, "eager sink", eager, seqOffsets(0, 79))
	// 16 sends 30ms apart take ~0.5s, well within the 2s linger: 40 + 40 (a little slack for a
	// slow machine). Without linger it is about one call per send (logged, not asserted: timing).
	if len(lingered.Calls) > 4 {
		t.Fatalf("plugin calls: %d with linger_time, want at most 4 (%d without)", len(lingered.Calls), len(eager.Calls))
	}
	t.Logf("80 messages in 16 sends: %d calls with linger_time, %d without", len(lingered.Calls), len(eager.Calls))
}
