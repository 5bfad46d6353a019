//go:build integration

// Package qwe2e runs the Quickwit sink through the real runtime binary (iggy-connectors, the
// plugin loaded with purego, iggy-devserver) against the project's Quickwit STAND-IN (package
// test/quickwitstandin: a contract server written from Quickwit's REST API docs, not Quickwit; no
// Quickwit server can be installed here).
package qwe2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/harness"
	"github.com/iggy-go/connectors/test/pluginbuild"
	"github.com/iggy-go/connectors/test/quickwitstandin"
)

func TestMain(m *testing.M) { harness.Main(m) }

// env is one test's Iggy devserver, Quickwit stand-in and runtime installation
// (harness.Installation, named "runtime", connector files written with WriteConnector).
type env struct {
	*harness.Installation
	t      *testing.T
	client *iggy.Client
	qw     *quickwitstandin.Server
	qwURL  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	pluginbuild.GoPlugin(t, "connectors/sinks/quickwit", "iggy_connector_quickwit_sink")
	e := &env{t: t}
	ds := harness.StartDevserver(t, harness.DevserverOptions{Bin: pluginbuild.Devserver(t), LogLevel: "warn"})
	e.client = harness.Dial(t, ds.Addr)
	e.qw = quickwitstandin.New(nil)
	u, stop, err := e.qw.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	e.qwURL = u
	e.Installation = harness.NewInstallation(t, "runtime", pluginbuild.Runtime(t), ds.Addr, nil)
	return e
}

// docsN returns the "n" of every document of an index (committed or not), in ingest order.
func (e *env) docsN(index string) []int {
	e.t.Helper()
	var out []int
	for _, d := range e.qw.Docs(index) {
		var v struct {
			N *int `json:"n"`
		}
		if err := json.Unmarshal(d, &v); err != nil || v.N == nil {
			e.t.Fatalf("document %s has no n", d)
		}
		out = append(out, *v.N)
	}
	return out
}

const indexYAML = `version: 0.8
index_id: %s
doc_mapping:
  mode: strict
  field_mappings:
    - name: n
      type: i64
    - name: body
      type: text
    - name: pipeline
      type: text
indexing_settings:
  commit_timeout_secs: 1
`

// sinkTOML is a Quickwit sink connector file; batchSize is the plugin's documents per request.
func sinkTOML(key, stream, topic, url, index, extra string, batchLength, batchSize int) string {
	return fmt.Sprintf(`
type = "sink"
key = %[1]q
enabled = true
version = 0
name = "quickwit e2e %[1]s (stand-in)"
path = "libiggy_connector_quickwit_sink"
%[6]s
[[streams]]
stream = %[2]q
topics = [%[3]q]
schema = "json"
batch_length = %[7]d
poll_interval = "5ms"

[plugin_config]
url = %[4]q
index = '''
%[5]s'''
commit = "force"
batch_size = %[8]d
`, key, stream, topic, url, fmt.Sprintf(indexYAML, index), extra, batchLength, batchSize)
}

func (e *env) send(stream, topic string, lo, hi int, payload func(i int) string) {
	e.t.Helper()
	var msgs []iggy.Message
	for i := lo; i < hi; i++ {
		msgs = append(msgs, iggy.Message{ID: iggy.IDFromUint64(uint64(i + 1)), Payload: []byte(payload(i))})
		if len(msgs) == 500 || i == hi-1 {
			harness.Send(e.t, e.client, stream, topic, msgs)
			msgs = nil
		}
	}
}

// TestQuickwitStandInPipelineWithTransformsAndDeadLetters: JSON messages through an add_fields
// transform into a strict index on the stand-in; documents the mapping rejects go to the dead-letter
// topic (per-message failures from the ingest answer), every other one is indexed with the field.
func TestQuickwitStandInPipelineWithTransformsAndDeadLetters(t *testing.T) {
	e := newEnv(t)
	const stream, total = "qwe2e_pipe", 400
	harness.EnsureTopic(t, e.client, stream, "events", 1)
	harness.EnsureTopic(t, e.client, stream, "dlq", 1)
	bad := func(i int) bool { return i%40 == 13 }
	extra := "on_error = \"dead_letter\"\n[dead_letter]\nstream = \"qwe2e_pipe\"\ntopic = \"dlq\"\n" +
		"[[transforms]]\ntype = \"add_fields\"\nfields = [{ key = \"pipeline\", value.static = \"qwe2e\" }]\n"
	e.WriteConnector("qw.toml", sinkTOML("qw_pipe", stream, "events", e.qwURL, "qwe2e-pipe", extra, 100, 50))
	e.send(stream, "events", 0, total, func(i int) string {
		if bad(i) {
			return fmt.Sprintf(`{"n":%d,"undeclared":"strict mapping rejects this"}`, i)
		}
		return fmt.Sprintf(`{"n":%d,"body":"event %d"}`, i, i)
	})
	e.Start()
	nBad := total / 40
	harness.WaitFor(t, 60*time.Second, "every valid document indexed and every bad one dead-lettered", func() bool {
		if e.Proc().Exited() {
			t.Fatalf("runtime exited: %v", e.Proc().Err())
		}
		return len(e.qw.Docs("qwe2e-pipe")) >= total-nBad && harness.TopicCount(t, e.client, stream, "dlq") >= uint64(nBad)
	})
	time.Sleep(300 * time.Millisecond)
	e.Stop()

	docs := e.qw.Docs("qwe2e-pipe")
	seen := map[int]bool{}
	for _, d := range docs {
		var v struct {
			N        int    `json:"n"`
			Pipeline string `json:"pipeline"`
		}
		if err := json.Unmarshal(d, &v); err != nil || v.Pipeline != "qwe2e" || bad(v.N) {
			t.Fatalf("document %s: want a valid one with pipeline=qwe2e", d)
		}
		seen[v.N] = true
	}
	if len(docs) != total-nBad || len(seen) != total-nBad {
		t.Fatalf("%d documents (%d distinct), want %d", len(docs), len(seen), total-nBad)
	}
	dead := harness.ReadTopic(t, e.client, stream, "dlq")
	if len(dead) != nBad {
		t.Fatalf("%d dead letters, want %d", len(dead), nBad)
	}
	for _, m := range dead {
		var v struct {
			N int `json:"n"`
		}
		_ = json.Unmarshal(m.Payload, &v)
		msg := ""
		for _, h := range m.Headers {
			if string(h.Key) == "iggy-connect-error-message" {
				msg = string(h.Value)
			}
		}
		if !bad(v.N) || !strings.Contains(msg, "undeclared") {
			t.Errorf("dead letter %s with error %q: want a strict-mapping rejection of a bad message", m.Payload, msg)
		}
	}
	t.Logf("stand-in pipeline: %d documents indexed with the transform's field, %d rejected by the strict mapping and dead-lettered", len(docs), len(dead))
}

// TestQuickwitStandInKill9 is the sink's crash test: messages stream into Iggy while the runtime is
// killed with SIGKILL three times inside the at-least-once window — by the stand-in's ingest hook,
// after it stored a request's documents and before it answered, so the runtime never learns the
// request succeeded and its offset is not stored — plus once at a random moment. After each restart
// the runtime offers the unacknowledged messages again. Nothing may be lost; duplicates (Quickwit has
// no document ids) may only be documents of the batches the kills interrupted.
//
// Two shapes: one request per batch (batch_size = batch_length), where every in-window kill
// duplicates exactly its request's documents; and four requests per batch, where a kill also
// duplicates the requests of the same batch that went before it (the offset is stored per batch).
func TestQuickwitStandInKill9(t *testing.T) {
	t.Run("OneRequestPerBatch", func(t *testing.T) { kill9(t, 200) })
	t.Run("FourRequestsPerBatch", func(t *testing.T) { kill9(t, 50) })
}

func kill9(t *testing.T, batchSize int) {
	e := newEnv(t)
	const stream, total, index, batchLength = "qwe2e_kill", 6000, "qwe2e-kill", 200
	harness.EnsureTopic(t, e.client, stream, "events", 1)
	e.WriteConnector("qw.toml", sinkTOML("qw_kill", stream, "events", e.qwURL, index, "", batchLength, batchSize))
	perBatch := batchLength / batchSize

	var mu sync.Mutex
	var killAt []int   // ingest request numbers (within the current run) to kill in
	var inWindow []int // documents stored by the requests the kills interrupted
	requests := 0
	e.qw.OnIngest(func(_ string, accepted int) {
		mu.Lock()
		defer mu.Unlock()
		requests++
		if len(killAt) > 0 && requests == killAt[0] {
			killAt = killAt[1:]
			inWindow = append(inWindow, accepted)
			e.Proc().Kill() // SIGKILL while Quickwit holds the documents and the answer is not sent
		}
	})

	sent := 0
	sendMore := func(n int) {
		e.send(stream, "events", sent, sent+n, func(i int) string { return fmt.Sprintf(`{"n":%d,"body":"event %d"}`, i, i) })
		sent += n
	}
	sendMore(1500)
	kills := 0
	for round := 0; round < 3; round++ {
		mu.Lock()
		requests = 0
		killAt = []int{perBatch + 1 + round*(perBatch+1)} // a later request each round
		mu.Unlock()
		e.Start()
		select {
		case <-e.Proc().Done():
		case <-time.After(60 * time.Second):
			t.Fatalf("round %d: the ingest hook never killed the runtime", round)
		}
		kills++
		sendMore(1000)
	}
	// A kill at a random moment, then a clean run to the end.
	e.Start()
	time.Sleep(time.Duration(200+time.Now().UnixNano()%400) * time.Millisecond)
	e.Proc().Kill()
	<-e.Proc().Done()
	kills++
	sendMore(total - sent)
	e.Start()
	harness.WaitFor(t, 90*time.Second, "every message indexed", func() bool {
		if e.Proc().Exited() {
			t.Fatalf("runtime exited: %v", e.Proc().Err())
		}
		seen := map[int]bool{}
		for _, n := range e.docsN(index) {
			seen[n] = true
		}
		return len(seen) == total
	})
	time.Sleep(500 * time.Millisecond) // a late replay would show up as extra duplicates
	e.Stop()

	ns := e.docsN(index)
	count := map[int]int{}
	dups := 0
	for _, n := range ns {
		if n < 0 || n >= total {
			t.Fatalf("document n=%d was never sent", n)
		}
		count[n]++
		if count[n] > 1 {
			dups++
		}
	}
	for n := 0; n < total; n++ {
		if count[n] == 0 {
			t.Fatalf("message n=%d lost (%d documents, %d duplicates)", n, len(ns), dups)
		}
	}
	mu.Lock()
	windowDocs := 0
	for _, d := range inWindow {
		windowDocs += d
	}
	mu.Unlock()
	// Offsets are stored per batch, after Consume returned. A kill inside Consume replays the whole
	// batch: every document its earlier requests and the interrupted one stored comes again. So the
	// documents of the interrupted requests are certainly duplicated, and no kill can duplicate more
	// than one batch (batch_length). With one request per batch the in-window kills duplicate exactly
	// their requests' documents, and only the random kill may add one batch.
	low, high := windowDocs, kills*batchLength
	if perBatch == 1 {
		high = windowDocs + batchLength
	}
	if dups < low || dups > high {
		t.Fatalf("%d duplicates; want between %d (documents of the %d interrupted requests) and %d (%d kills, batch_length %d, %d request(s) per batch)",
			dups, low, len(inWindow), high, kills, batchLength, perBatch)
	}
	t.Logf("stand-in kill -9, %d request(s) per batch: %d messages, %d kills (%d inside ingest requests holding %d documents), %d documents indexed, %d duplicates (bound %d..%d), none lost",
		perBatch, total, kills, len(inWindow), windowDocs, len(ns), dups, low, high)
}

// TestQuickwitValidateNamesTheKey: `iggy-connectors validate` loads the plugin and reports a bad
// index config under plugin_config.index (the original panicked the process on invalid YAML).
func TestQuickwitValidateNamesTheKey(t *testing.T) {
	lib := pluginbuild.GoPlugin(t, "connectors/sinks/quickwit", "iggy_connector_quickwit_sink")
	bin := pluginbuild.Runtime(t)
	for _, c := range []struct{ index, want string }{
		{"version: 0.8\nindex_id: [unclosed\n", "plugin_config.index: not valid YAML"},
		{"version: 0.8\ndoc_mapping: {}\n", "plugin_config.index: the index config has no index_id"},
	} {
		conn := strings.Replace(sinkTOML("qw_bad", "s", "t", "http://127.0.0.1:1", "x", "", 10, 10), fmt.Sprintf(indexYAML, "x"), c.index, 1)
		conn = strings.Replace(conn, `path = "libiggy_connector_quickwit_sink"`, fmt.Sprintf("path = %q", lib), 1)
		out, err := harness.Validate(t, bin, map[string]string{"qw.toml": conn})
		if err == nil || !strings.Contains(out, c.want) {
			t.Fatalf("validate: %v\n%s\nwant an error containing %q", err, out, c.want)
		}
	}
}
