//go:build integration

package e2e

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/runtime/pipeline"
)

// sinkTOML is a faulty-sink connector on stream f, topic = key, with extra plugin_config lines and
// extra top-level keys (before [[streams]]).
func sinkTOML(key, top, pluginConfig string) string {
	return `
type = "sink"
key = "` + key + `"
enabled = true
version = 0
name = "faulty ` + key + `"
path = "libiggy_connector_faulty_sink"
` + top + `
` + retryFast + `
[[streams]]
stream = "f"
topics = ["` + key + `"]
schema = "json"
batch_length = 100
poll_interval = "10ms"

[plugin_config]
` + pluginConfig + "\n"
}

func jsonMessages(n int, payload func(i int) string) []iggy.Message {
	msgs := make([]iggy.Message, n)
	for i := range msgs {
		msgs[i] = iggy.Message{ID: iggy.IDFromUint64(uint64(i + 1)), Payload: []byte(payload(i)),
			Headers: []iggy.Header{iggy.StringHeader("orig", strconv.Itoa(i))}}
	}
	return msgs
}

func ok(i int) string { return fmt.Sprintf(`{"i":%d}`, i) }

// checkOnce fails unless the sink wrote exactly the offsets in want, each once, in order.
func checkOnce(t *testing.T, name string, out sinkOutput, want []uint64) {
	t.Helper()
	var got []uint64
	for _, m := range out.Msgs {
		got = append(got, m.Offset)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s wrote offsets %v, want %v (each once, in order)", name, got, want)
	}
}

func seqOffsets(from, to uint64, except ...uint64) []uint64 {
	var out []uint64
next:
	for o := from; o <= to; o++ {
		for _, x := range except {
			if o == x {
				continue next
			}
		}
		out = append(out, o)
	}
	return out
}

// TestSinkRetryable: a sink call failing retryably is retried with the same batch until it
// succeeds (no loss, no skip), and no offset is stored while it fails.
func TestSinkRetryable(t *testing.T) {
	e := newEnv(t)
	e.createTopic("f", "counted", 1)
	e.createTopic("f", "gated", 1)
	counted, gated, gate := e.path("counted.jsonl"), e.path("gated.jsonl"), e.path("gate")
	e.writeConnector("counted", sinkTOML("counted", "", `output = "`+counted+`"
fail_retryable_calls = 3`))
	e.writeConnector("gated", sinkTOML("gated", "", `output = "`+gated+`"
fail_until_file = "`+gate+`"`))
	e.send("f", "counted", jsonMessages(20, ok))
	e.send("f", "gated", jsonMessages(20, ok))
	rt := e.startRuntime()

	// The gated sink fails until the gate exists: its group must not store any offset meanwhile.
	waitFor(t, 20*time.Second, "5 failed calls of the gated sink", func() bool { return len(readSink(t, gated).Calls) >= 5 })
	if off := e.storedOffset("f", "gated", "iggy-connect-sink-gated", 0); off != -1 {
		t.Fatalf("offset %d stored while every call failed", off)
	}
	if n := len(readSink(t, gated).Msgs); n != 0 {
		t.Fatalf("gated sink wrote %d messages while failing", n)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "both sinks done", func() bool {
		return len(readSink(t, gated).Msgs) >= 20 && len(readSink(t, counted).Msgs) >= 20
	})
	waitFor(t, 10*time.Second, "offsets stored", func() bool {
		return e.storedOffset("f", "gated", "iggy-connect-sink-gated", 0) == 19 &&
			e.storedOffset("f", "counted", "iggy-connect-sink-counted", 0) == 19
	})
	if code, _ := rt.SignalWait(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	rt.noErrors()
	c := readSink(t, counted)
	checkOnce(t, "counted sink", c, seqOffsets(0, 19))
	var outcomes []string
	for _, call := range c.Calls {
		outcomes = append(outcomes, fmt.Sprintf("%s[%d-%d]", call.Outcome, call.First, call.Last))
	}
	if want := "retryable[0-19] retryable[0-19] retryable[0-19] ok[0-19]"; strings.Join(outcomes, " ") != want {
		t.Fatalf("counted sink calls: %v, want %s (the same batch until it succeeds)", outcomes, want)
	}
	g := readSink(t, gated)
	checkOnce(t, "gated sink", g, seqOffsets(0, 19))
	t.Logf("counted: %v; gated: %d failed calls before the gate opened", outcomes, len(g.Calls)-1)
}

// TestSinkPartial: the plugin writes part of a batch and reports the other messages retryable.
// Only the resolved prefix is committed while the rest is retried; the rest is written once it
// succeeds, and nothing is written twice.
func TestSinkPartial(t *testing.T) {
	e := newEnv(t)
	e.createTopic("f", "partial", 1)
	out, gate := e.path("partial.jsonl"), e.path("gate")
	e.writeConnector("partial", sinkTOML("partial", "", `output = "`+out+`"
retry_offsets = [3, 4, 7, 8, 9]
retry_until_file = "`+gate+`"`))
	e.send("f", "partial", jsonMessages(10, ok))
	rt := e.startRuntime()

	waitFor(t, 20*time.Second, "4 calls of the partial sink", func() bool { return len(readSink(t, out).Calls) >= 4 })
	// Written: 0,1,2 and 5,6; the prefix 0..2 is resolved, so offset 2 is stored, and stays there.
	for range 5 {
		if off := e.storedOffset("f", "partial", "iggy-connect-sink-partial", 0); off != 2 {
			t.Fatalf("stored offset %d while 3 and 4 are not written, want 2 (the written prefix)", off)
		}
		time.Sleep(50 * time.Millisecond)
	}
	first := readSink(t, out)
	checkOnce(t, "partial sink before the gate", first, []uint64{0, 1, 2, 5, 6})
	for _, c := range first.Calls[1:] {
		// Retries carry only the messages still unwritten.
		if c.Messages != 5 || c.First != 3 || c.Last != 9 {
			t.Fatalf("retry call %+v, want the 5 unwritten messages 3..9", c)
		}
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "offset 9 stored", func() bool {
		return e.storedOffset("f", "partial", "iggy-connect-sink-partial", 0) == 9
	})
	if code, _ := rt.SignalWait(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	rt.noErrors()
	checkOnce(t, "partial sink", readSink(t, out), []uint64{0, 1, 2, 5, 6, 3, 4, 7, 8, 9})
}

// TestOnError: permanent per-message failures (the plugin rejecting offsets 3 and 7, a payload
// that is not JSON at offset 5 failing to decode) under each on_error policy.
func TestOnError(t *testing.T) {
	e := newEnv(t)
	payload := func(i int) string {
		if i == 5 {
			return `{"i":5,` // not JSON: the decode stage fails (the stream has transforms)
		}
		return ok(i)
	}
	// A sink-side transform, so the plugin's payload differs from what Iggy holds: dead letters must
	// carry the original.
	const transform = `
[[transforms]]
type = "add_fields"
fields = [{ key = "seen", value.static = true }]
`
	outs := map[string]string{}
	for _, policy := range []string{"stop", "skip", "dead_letter"} {
		key := strings.ReplaceAll(policy, "_", "")
		outs[policy] = e.path(key + ".jsonl")
		top := `on_error = "` + policy + `"`
		if policy == "dead_letter" {
			top += "\ndead_letter = { stream = \"f\", topic = \"dlq\" }"
		}
		e.createTopic("f", key, 1)
		e.writeConnector(key, sinkTOML(key, top, `output = "`+outs[policy]+`"
fail_permanent_offsets = [3, 7]`)+transform)
		e.send("f", key, jsonMessages(10, payload))
	}
	e.createTopic("f", "dlq", 1)
	rt := e.startRuntime()
	waitFor(t, 20*time.Second, "skip and dead_letter sinks done", func() bool {
		return e.storedOffset("f", "skip", "iggy-connect-sink-skip", 0) == 9 &&
			e.storedOffset("f", "deadletter", "iggy-connect-sink-deadletter", 0) == 9
	})
	rt.waitLog(10*time.Second, `connector failed" connector=stop`)

	t.Run("stop", func(t *testing.T) {
		// Offset 5 failed to decode, so the plugin got 0..4 only; it wrote all but 3, but only the
		// prefix before offset 3 is committed; the connector stopped with an error naming it.
		if off := e.storedOffset("f", "stop", "iggy-connect-sink-stop", 0); off != 2 {
			t.Fatalf("stored offset %d, want 2 (the prefix before the failed message)", off)
		}
		log := rt.Log.Contents()
		if !strings.Contains(log, "partition 0 offset 3 failed at plugin") || !strings.Contains(log, "offset 3 rejected") {
			t.Fatalf("the connector error does not name offset 3 and the plugin's reason")
		}
		checkOnce(t, "stop sink", readSink(t, outs["stop"]), []uint64{0, 1, 2, 4})
	})
	t.Run("skip", func(t *testing.T) {
		checkOnce(t, "skip sink", readSink(t, outs["skip"]), seqOffsets(0, 9, 3, 5, 7))
		if !strings.Contains(rt.Log.Contents(), `message skipped (on_error = skip)" connector=skip`) {
			t.Fatal("no log line for the skipped messages")
		}
	})
	t.Run("dead_letter", func(t *testing.T) {
		got := readSink(t, outs["dead_letter"])
		checkOnce(t, "dead_letter sink", got, seqOffsets(0, 9, 3, 5, 7))
		if string(got.Msgs[0].Payload) != `{"i":0,"seen":true}` {
			t.Fatalf("transformed payload %s", got.Msgs[0].Payload)
		}
		dlq := e.readAll("f", "dlq")
		// The decode failure is dead-lettered while the batch is prepared, before the plugin call.
		sort.Slice(dlq, func(i, j int) bool {
			return headerMap(dlq[i].Headers)[pipeline.HeaderErrorOffset] < headerMap(dlq[j].Headers)[pipeline.HeaderErrorOffset]
		})
		if len(dlq) != 3 {
			t.Fatalf("dead-letter topic holds %d messages, want 3 (offsets 3, 5, 7)", len(dlq))
		}
		for i, want := range []struct {
			offset int
			stage  string
			reason string
		}{{3, "plugin", "offset 3 rejected"}, {5, "decode", "json"}, {7, "plugin", "offset 7 rejected"}} {
			m := dlq[i]
			if string(m.Payload) != payload(want.offset) {
				t.Errorf("dead letter %d: payload %q, want the original %q", i, m.Payload, payload(want.offset))
			}
			if m.ID != iggy.IDFromUint64(uint64(want.offset+1)) {
				t.Errorf("dead letter %d: id %x, want the original message's", i, m.ID)
			}
			h := headerMap(m.Headers)
			for k, v := range map[string]string{"orig": strconv.Itoa(want.offset), pipeline.HeaderErrorConnector: "deadletter",
				pipeline.HeaderErrorStage: want.stage, pipeline.HeaderErrorStream: e.stream("f"), pipeline.HeaderErrorTopic: "deadletter",
				pipeline.HeaderErrorPartition: "0", pipeline.HeaderErrorOffset: strconv.Itoa(want.offset)} {
				if h[k] != v {
					t.Errorf("dead letter %d: header %s = %q, want %q (all: %v)", i, k, h[k], v, h)
				}
			}
			if !strings.Contains(strings.ToLower(h[pipeline.HeaderErrorMessage]), want.reason) {
				t.Errorf("dead letter %d: error message %q does not say %q", i, h[pipeline.HeaderErrorMessage], want.reason)
			}
		}
	})
	if code, _ := rt.SignalWait(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}

	// After a restart the stopped sink gets the uncommitted messages again (at-least-once) and stops
	// at offset 3 again; the others have nothing left to do.
	rt2 := e.startRuntime()
	rt2.waitLog(20*time.Second, `connector failed" connector=stop`)
	time.Sleep(200 * time.Millisecond)
	if code, _ := rt2.SignalWait(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	checkOnce(t, "stop sink after restart", readSink(t, outs["stop"]), []uint64{0, 1, 2, 4, 4})
	if off := e.storedOffset("f", "stop", "iggy-connect-sink-stop", 0); off != 2 {
		t.Fatalf("stop sink: stored offset %d after restart, want 2", off)
	}
	checkOnce(t, "skip sink after restart", readSink(t, outs["skip"]), seqOffsets(0, 9, 3, 5, 7))
	if n := len(e.readAll("f", "dlq")); n != 3 {
		t.Fatalf("dead-letter topic holds %d messages after restart, want 3", n)
	}
}

// TestSinkRetryLimit: with retry.max_attempts set, a retryable failure that lasts that many calls
// becomes permanent and follows on_error — for a whole call and for single messages of a partial
// result. Here the messages are dead-lettered, saying why, and the offset moves on.
func TestSinkRetryLimit(t *testing.T) {
	e := newEnv(t)
	never := e.path("never") // the gate files are never created
	const top = `on_error = "dead_letter"
dead_letter = { stream = "f", topic = "dlq" }
retry = { max_attempts = 3, initial_backoff = "20ms", max_backoff = "100ms" }`
	outs := map[string]string{"whole": e.path("whole.jsonl"), "single": e.path("single.jsonl")}
	e.createTopic("f", "dlq", 1)
	for key, extra := range map[string]string{"whole": `fail_until_file = "` + never + `"`,
		"single": `retry_offsets = [2]
retry_until_file = "` + never + `"`} {
		e.createTopic("f", key, 1)
		// sinkTOML's own [retry] table comes after these keys; drop it, the inline table above rules.
		e.writeConnector(key, strings.Replace(sinkTOML(key, top, `output = "`+outs[key]+`"
`+extra), retryFast, "", 1))
		e.send("f", key, jsonMessages(5, ok))
	}
	rt := e.startRuntime()
	waitFor(t, 20*time.Second, "both sinks past the failing messages", func() bool {
		return e.storedOffset("f", "whole", "iggy-connect-sink-whole", 0) == 4 &&
			e.storedOffset("f", "single", "iggy-connect-sink-single", 0) == 4
	})
	if code, _ := rt.SignalWait(syscall.SIGTERM, stopBound); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	whole, single := readSink(t, outs["whole"]), readSink(t, outs["single"])
	if len(whole.Calls) != 3 || len(whole.Msgs) != 0 {
		t.Fatalf("whole-call failures: %d calls, %d written; want 3 calls (max_attempts), nothing written", len(whole.Calls), len(whole.Msgs))
	}
	checkOnce(t, "single-message failures", single, []uint64{0, 1, 3, 4})
	if len(single.Calls) != 3 {
		t.Fatalf("single-message failures: %d calls, want 3", len(single.Calls))
	}
	byTopic := map[string][]string{}
	for _, m := range e.readAll("f", "dlq") {
		h := headerMap(m.Headers)
		if !strings.Contains(h[pipeline.HeaderErrorMessage], "gave up after 3 attempts") {
			t.Fatalf("dead letter error %q does not say the retries were exhausted", h[pipeline.HeaderErrorMessage])
		}
		byTopic[h[pipeline.HeaderErrorTopic]] = append(byTopic[h[pipeline.HeaderErrorTopic]], h[pipeline.HeaderErrorOffset])
	}
	if fmt.Sprint(byTopic["whole"]) != "[0 1 2 3 4]" || fmt.Sprint(byTopic["single"]) != "[2]" {
		t.Fatalf("dead letters by topic: %v", byTopic)
	}
}

// TestSourceOnError: a source whose plugin writes invalid JSON for every 7th record (the decode
// before the transform fails) under each on_error policy. stop rejects the whole batch (nothing of
// it is sent, its state not saved) and stops the source; skip sends the rest; dead_letter sends
// the rest and the bad records, as they were, to the dead-letter topic with error headers.
func TestSourceOnError(t *testing.T) {
	e := newEnv(t)
	const limit = 40
	bad := map[uint64]bool{6: true, 13: true, 20: true, 27: true, 34: true}
	for _, policy := range []string{"stop", "skip", "dead_letter"} {
		key := strings.ReplaceAll(policy, "_", "")
		top := `on_error = "` + policy + `"`
		if policy == "dead_letter" {
			top += "\ndead_letter = { stream = \"c\", topic = \"sdlq\" }"
		}
		e.writeConnector(key, fmt.Sprintf(seqSourceTOML, key, top, key, 10, limit, 0)+`bad_every = 7

[[transforms]]
type = "add_fields"
fields = [{ key = "via", value.static = "`+key+`" }]
`)
	}
	e.createTopic("c", "sdlq", 1)
	rt := e.startRuntime()
	waitFor(t, 20*time.Second, "skip and dead_letter sources done", func() bool {
		return e.seqState("skip") == limit && e.seqState("deadletter") == limit
	})
	rt.waitLog(10*time.Second, `msg="connector failed" connector=stop`)
	if code, _ := rt.SignalWait(syscall.SIGTERM, stopBound); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if n := e.countAll("c", "stop"); n != 0 || e.seqState("stop") != -1 {
		t.Fatalf("stop: %d messages sent, state %d; want the whole first batch rejected, no state", n, e.seqState("stop"))
	}
	if log := rt.Log.Contents(); !strings.Contains(log, "source batch 1 message 6 failed at decode") {
		t.Fatal("stop: the connector error does not name batch 1 message 6 and the decode stage")
	}
	for _, key := range []string{"skip", "deadletter"} {
		var want []string
		for k := uint64(0); k < limit; k++ {
			if !bad[k] {
				want = append(want, fmt.Sprintf(`{"k":%d,"name":"msg-%d","secret":"s-%d","via":"%s"}`, k, k, k, key))
			}
		}
		var got []string
		for _, m := range e.readAll("c", key) {
			got = append(got, string(m.Payload))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("%s: Iggy holds\n%s\nwant\n%s", key, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	dlq := e.readAll("c", "sdlq")
	if len(dlq) != len(bad) {
		t.Fatalf("dead-letter topic holds %d messages, want %d", len(dlq), len(bad))
	}
	for i, k := range []uint64{6, 13, 20, 27, 34} {
		m := dlq[i]
		h := headerMap(m.Headers)
		if string(m.Payload) != fmt.Sprintf(`{"k":%d,`, k) || h[pipeline.HeaderErrorConnector] != "deadletter" ||
			h[pipeline.HeaderErrorStage] != "decode" || !strings.Contains(h[pipeline.HeaderErrorMessage], "json") {
			t.Fatalf("dead letter %d: payload %q headers %v", i, m.Payload, h)
		}
	}
}
