//go:build integration

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// compileProto compiles testdata/seqrec.proto into a descriptor set with protoc. A missing protoc
// skips the test unless IGGY_REQUIRE_TOOLS=1 (CI), where it fails it.
func compileProto(t *testing.T) (path string, msg protoreflect.MessageDescriptor) {
	t.Helper()
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		m := "protoc not found: install the Debian package protobuf-compiler (scripts/setup.sh does)"
		if os.Getenv("IGGY_REQUIRE_TOOLS") == "1" {
			t.Fatal(m)
		}
		t.Skip(m)
	}
	path = filepath.Join(t.TempDir(), "seqrec.pb")
	cmd := exec.Command(protoc, "--include_imports", "--descriptor_set_out="+path, "-I", "testdata", "testdata/seqrec.proto")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.FindDescriptorByName("e2e.v1.SeqRecord")
	if err != nil {
		t.Fatal(err)
	}
	return path, d.(protoreflect.MessageDescriptor)
}

// TestStreamsAndCodecs: a source with two [[streams]] sends every batch to both — a json stream
// and a proto stream (JSON encoded to protobuf with a descriptor set) — after its transform; a
// sink on the proto stream gets the records decoded back to JSON. A text source feeds a json
// stream (each text becomes a JSON string) and a text stream (unchanged).
func TestStreamsAndCodecs(t *testing.T) {
	descPath, desc := compileProto(t)
	e := newEnv(t)
	const limit = 120
	e.writeConnector("two", `
type = "source"
key = "two"
enabled = true
version = 0
name = "seq to two streams"
path = "libiggy_connector_seq_source"
`+retryFast+`
[[streams]]
stream = "m"
topic = "json"
schema = "json"
auto_create = true
linger_time = "0"

[[streams]]
stream = "m"
topic = "proto"
schema = "proto"
proto_descriptor_set = "`+descPath+`"
proto_message_type = "e2e.v1.SeqRecord"
auto_create = true
partitions = 2
linger_time = "0"

[plugin_config]
format = "json"
headers = true
batch_size = 16
limit = `+strconv.Itoa(limit)+`

[[transforms]]
type = "delete_fields"
fields = ["secret"]
`)
	e.writeConnector("text", `
type = "source"
key = "text"
enabled = true
version = 0
name = "text source"
path = "libiggy_connector_seq_source"
`+retryFast+`
[[streams]]
stream = "m"
topic = "textjson"
schema = "json"
auto_create = true
linger_time = "0"

[[streams]]
stream = "m"
topic = "text"
schema = "text"
auto_create = true
linger_time = "0"

[plugin_config]
format = "text"
batch_size = 7
limit = 30
`)
	out := e.path("proto.jsonl")
	e.writeConnector("protosink", `
type = "sink"
key = "protosink"
enabled = true
version = 0
name = "sink on the proto stream"
path = "libiggy_connector_faulty_sink"
`+retryFast+`
[[streams]]
stream = "m"
topics = ["proto"]
schema = "proto"
proto_descriptor_set = "`+descPath+`"
proto_message_type = "e2e.v1.SeqRecord"
poll_interval = "10ms"

[plugin_config]
output = "`+out+`"
`)
	rt := e.startRuntime()
	waitFor(t, 30*time.Second, "both sources done and the sink caught up", func() bool {
		return e.seqState("two") == limit && e.seqState("text") == 30 && len(readSink(t, out).Msgs) >= limit
	})
	if code, _ := rt.SignalWait(syscall.SIGTERM, stopBound); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	rt.noErrors()

	// Every batch went to both streams: the json stream in order...
	js := e.readAll("m", "json")
	if len(js) != limit {
		t.Fatalf("json stream holds %d messages, want %d", len(js), limit)
	}
	for k, m := range js {
		if want := fmt.Sprintf(`{"k":%d,"name":"msg-%d"}`, k, k); string(m.Payload) != want {
			t.Fatalf("json stream message %d: %s, want %s", k, m.Payload, want)
		}
	}
	// ... and the proto stream (2 partitions: collect by k), as real protobuf.
	ps := e.readAll("m", "proto")
	if len(ps) != limit {
		t.Fatalf("proto stream holds %d messages, want %d", len(ps), limit)
	}
	seen := map[int64]bool{}
	for _, m := range ps {
		rec := dynamicpb.NewMessage(desc)
		if err := proto.Unmarshal(m.Payload, rec); err != nil {
			t.Fatalf("proto stream partition %d offset %d: not a SeqRecord: %v (%x)", m.Partition, m.Offset, err, m.Payload)
		}
		k := rec.Get(desc.Fields().ByName("k")).Int()
		name := rec.Get(desc.Fields().ByName("name")).String()
		if name != fmt.Sprintf("msg-%d", k) || rec.Has(desc.Fields().ByName("secret")) || seen[k] {
			j, _ := protojson.Marshal(rec)
			t.Fatalf("proto stream record %s (duplicate: %v)", j, seen[k])
		}
		seen[k] = true
		if h := headerMap(m.Headers); h["k"] != strconv.FormatInt(k, 10) {
			t.Fatalf("proto stream k=%d: headers %v", k, h)
		}
	}
	// The sink on the proto stream got JSON (the proto3 JSON mapping: int64 as a string).
	got := readSink(t, out)
	if len(got.Msgs) != limit {
		t.Fatalf("proto sink wrote %d messages, want %d", len(got.Msgs), limit)
	}
	for _, m := range got.Msgs {
		k, err := strconv.Atoi(m.Headers["k"])
		if err != nil {
			t.Fatalf("proto sink message without header k: %+v", m)
		}
		want := fmt.Sprintf(`{"k":"%d","name":"msg-%d"}`, k, k)
		if k == 0 {
			want = `{"name":"msg-0"}` // proto3 JSON leaves out fields holding their default
		}
		if string(m.Payload) != want || m.Schema != "json" {
			t.Fatalf("proto sink message k=%d: %s (schema %s), want %s (json)", k, m.Payload, m.Schema, want)
		}
	}
	// Text source: a JSON string on the json stream, the text itself on the text stream.
	tj, tt := e.readAll("m", "textjson"), e.readAll("m", "text")
	if len(tj) != 30 || len(tt) != 30 {
		t.Fatalf("text source: %d messages on the json stream, %d on the text stream, want 30 each", len(tj), len(tt))
	}
	for k := range tj {
		if want := fmt.Sprintf(`"msg %d"`, k); string(tj[k].Payload) != want {
			t.Fatalf("textjson message %d: %s, want %s", k, tj[k].Payload, want)
		}
		if want := fmt.Sprintf(`msg %d`, k); string(tt[k].Payload) != want {
			t.Fatalf("text message %d: %s, want %s", k, tt[k].Payload, want)
		}
	}
	t.Logf("two streams: %d json + %d protobuf messages (decoded independently), sink got %d as JSON; text source: %d + %d",
		len(js), len(ps), len(got.Msgs), len(tj), len(tt))
}
