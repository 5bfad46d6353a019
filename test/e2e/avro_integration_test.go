//go:build integration

package e2e

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

const seqAvsc = `{"type":"record","name":"SeqRecord","namespace":"e2e.v1","fields":[
  {"name":"k","type":"long"},
  {"name":"name","type":"string"},
  {"name":"note","type":["null","string"],"default":null}]}`

// fastavroPython returns build/venv's Python when it has fastavro; a missing one skips the test
// unless IGGY_REQUIRE_TOOLS=1 (CI), where it fails it.
func fastavroPython(t *testing.T) string {
	t.Helper()
	py := filepath.Join(pluginbuild.RepoRoot(), "build", "venv", "bin", "python")
	if exec.Command(py, "-c", "import fastavro").Run() != nil {
		m := "build/venv with fastavro not found: run scripts/setup.sh (fastavro is in scripts/requirements.txt)"
		if os.Getenv("IGGY_REQUIRE_TOOLS") == "1" {
			t.Fatal(m)
		}
		t.Skip(m)
	}
	return py
}

// TestAvroSourceToSinkWithTransforms: a source producing JSON records writes them to an Avro stream
// (schema from an .avsc file, after a delete_fields transform); Python fastavro reads every message
// in Iggy as a datum of the schema; a sink on the stream decodes them back to JSON, applies an
// add_fields transform and gets JSON. Two malformed messages put into the stream by hand are skipped
// one by one (on_error = skip) with an error naming the field; every other message arrives.
func TestAvroSourceToSinkWithTransforms(t *testing.T) {
	py := fastavroPython(t)
	e := newEnv(t)
	const limit = 90
	schemaPath := e.path("seq.avsc")
	if err := os.WriteFile(schemaPath, []byte(seqAvsc), 0o644); err != nil {
		t.Fatal(err)
	}
	e.writeConnector("src", `
type = "source"
key = "avrosrc"
enabled = true
version = 0
name = "seq to an avro stream"
path = "libiggy_connector_seq_source"
`+retryFast+`
[[streams]]
stream = "av"
topic = "records"
schema = "avro"
avro_schema_path = "`+schemaPath+`"
auto_create = true
linger_time = "0"

[plugin_config]
format = "json"
batch_size = 16
limit = `+fmt.Sprint(limit)+`

[[transforms]]
type = "delete_fields"
fields = ["secret"]
`)
	out := e.path("avro.jsonl")
	e.writeConnector("sink", `
type = "sink"
key = "avrosink"
enabled = true
version = 0
name = "sink on the avro stream"
path = "libiggy_connector_faulty_sink"
on_error = "skip"
`+retryFast+`
[[streams]]
stream = "av"
topics = ["records"]
schema = "avro"
avro_schema_json = '''`+seqAvsc+`'''
poll_interval = "10ms"

[plugin_config]
output = "`+out+`"

[[transforms]]
type = "add_fields"
fields = [{ key = "pipeline", value.static = "avro-e2e" }]
`)
	rt := e.startRuntime()
	waitFor(t, 30*time.Second, "the source done and the sink caught up", func() bool {
		return e.seqState("avrosrc") == limit && len(readSink(t, out).Msgs) >= limit
	})
	// Two malformed messages, after the good ones: a truncated datum and a datum of another schema.
	stored := e.readAll("av", "records")
	if len(stored) != limit {
		t.Fatalf("the avro stream holds %d messages, want %d", len(stored), limit)
	}
	truncated := stored[5].Payload[:len(stored[5].Payload)-3]
	e.send("av", "records", []iggy.Message{{Payload: truncated}, {Payload: []byte{0x02, 0x00, 0x06}}})
	waitFor(t, 30*time.Second, "both malformed messages skipped", func() bool {
		return len(rt.Log.Lines("message skipped (on_error = skip)")) >= 2
	})
	time.Sleep(100 * time.Millisecond)
	if code, _ := rt.SignalWait(syscall.SIGTERM, stopBound); code != 0 {
		t.Fatalf("exit code %d", code)
	}

	// fastavro (not our code) reads what the source wrote.
	var hexLines strings.Builder
	for _, m := range stored {
		hexLines.WriteString(`{"avro_hex":"` + hex.EncodeToString(m.Payload) + "\"}\n")
	}
	cmd := exec.Command(py, filepath.Join(pluginbuild.RepoRoot(), "runtime", "codec", "testdata", "avro_interop.py"), "read", schemaPath)
	cmd.Stdin = strings.NewReader(hexLines.String())
	pyOut, err := cmd.Output()
	if err != nil {
		t.Fatalf("fastavro could not read the stream: %v\n%s", err, pyOut)
	}
	lines := strings.Split(strings.TrimSpace(string(pyOut)), "\n")
	if len(lines) != limit {
		t.Fatalf("fastavro read %d records, want %d", len(lines), limit)
	}
	for k, line := range lines {
		if want := fmt.Sprintf(`{"json": {"k": %d, "name": "msg-%d", "note": null}}`, k, k); line != want {
			t.Fatalf("fastavro read record %d as %s, want %s", k, line, want)
		}
	}

	// The sink got every good record as JSON, with the transform's field.
	got := readSink(t, out)
	if len(got.Msgs) != limit {
		t.Fatalf("the sink wrote %d messages, want %d", len(got.Msgs), limit)
	}
	for k, m := range got.Msgs {
		want := fmt.Sprintf(`{"k":%d,"name":"msg-%d","note":null,"pipeline":"avro-e2e"}`, k, k)
		if string(m.Payload) != want || m.Schema != "json" {
			t.Fatalf("sink message %d: %s (schema %s), want %s (json)", k, m.Payload, m.Schema, want)
		}
	}
	skips := rt.Log.Lines("message skipped (on_error = skip)")
	if len(skips) != 2 {
		t.Fatalf("%d skips logged, want 2: %v", len(skips), skips)
	}
	for _, want := range []string{"field name: truncated", "field note: union branch"} {
		found := false
		for _, l := range skips {
			found = found || strings.Contains(l, want)
		}
		if !found {
			t.Errorf("no skip naming %q: %v", want, skips)
		}
	}
	var first map[string]any
	_ = json.Unmarshal(got.Msgs[0].Payload, &first)
	t.Logf("avro: %d records encoded by the source (read by fastavro), decoded and transformed for the sink: %v; malformed: %s",
		limit, first, skips)
}
