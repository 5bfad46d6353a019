package abi

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

var update = flag.Bool("update", false, "rewrite abi/testdata from the Go values")

// goldenVectors are the records every language's test decodes. Changing one is an ABI change.
func goldenVectors() []struct {
	Name  string
	Value any
} {
	id1 := IDFromUint64s(0x0102030405060708, 0x090a0b0c0d0e0f10)
	id2 := IDFromUint64s(0, 2)
	return []struct {
		Name  string
		Value any
	}{
		{"plugin_info", &PluginInfo{
			ABIVersion: Version, Kind: KindSink, Name: "stdout", Version: "0.1.0",
			Description: "Prints messages to standard output",
			ConfigFields: []ConfigField{
				{Name: "print_payload", Type: "bool", Default: "false", Description: "log every payload"},
				{Name: "connection_string", Type: "string", Required: true, Secret: true},
			},
			SDK: "go-sdk/0.1.0",
		}},
		{"error", &Error{Code: CodeInvalidConfig, Message: "batch_size must be at least 1", Field: "batch_size"}},
		{"error_retryable", &Error{Code: CodeConnection, Message: "connection refused", Retryable: true}},
		{"sink_batch", &SinkBatch{
			Stream: "orders", Topic: "created", PartitionID: 3, CurrentOffset: 1_000_000_000_000, Schema: SchemaJSON,
			Messages: []Message{
				{ID: id1, Offset: 41, Checksum: 0xfedcba9876543210, Timestamp: 1_700_000_000_000_000,
					OriginTimestamp: 1_699_999_999_999_000,
					Headers: []Header{StringHeader("trace", "abc"),
						{KeyKind: HeaderString, Key: []byte("n"), ValueKind: HeaderUint32, Value: []byte{7, 0, 0, 0}}},
					Payload: []byte(`{"a":1}`)},
				{ID: id2, Offset: 42, Checksum: 1, Timestamp: 1_700_000_000_000_001, OriginTimestamp: 0,
					Payload: []byte{0x00, 0xff, 0x10}},
			},
		}},
		{"sink_result", &SinkResult{Failures: []MessageFailure{
			{Index: 1, Error: Error{Code: CodeWriteFailed, Message: "invalid input syntax for type json"}},
		}}},
		{"sink_result_empty", &SinkResult{}},
		{"poll_result", &PollResult{
			BatchID: 7, Schema: SchemaJSON,
			Messages: []SourceMessage{
				{ID: &id1, Headers: []Header{StringHeader("table", "users")}, Payload: []byte(`{"id":1}`),
					OriginTimestamp: 1_700_000_000_000_000, Key: []byte("users:1")},
				{Payload: []byte(`{"id":2}`)},
			},
			State: []byte{0x91, 0x02},
		}},
		{"poll_result_empty", &PollResult{BatchID: 8, Schema: SchemaRaw, WaitHintMs: 250}},
		{"log_batch", &[]LogRecord{
			{Level: LogInfo, Instance: 5, Message: "opened", Target: "stdout", TimeUs: 1_700_000_000_000_000,
				Attrs: []LogAttr{{Key: "table", Value: "users"}}},
			{Level: LogError, Message: "library-wide failure"},
		}},
	}
}

// TestGolden checks that every vector in testdata encodes byte for byte from its Go value, decodes
// back to the same value, and matches its generic JSON description (the form the Python test uses).
func TestGolden(t *testing.T) {
	var index []map[string]any
	for _, v := range goldenVectors() {
		enc, err := Marshal(v.Value)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		generic := genericForm(t, enc)
		cborPath := filepath.Join("testdata", v.Name+".cbor")
		if *update {
			if err := os.WriteFile(cborPath, enc, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(cborPath)
		if err != nil {
			t.Fatalf("%s: %v (run go test -run TestGolden -update)", v.Name, err)
		}
		if !bytes.Equal(enc, want) {
			t.Errorf("%s: encoding changed\n got %x\nwant %x", v.Name, enc, want)
		}
		back := reflect.New(reflect.TypeOf(v.Value).Elem())
		if err := Unmarshal(want, back.Interface()); err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		if !reflect.DeepEqual(normalise(back.Elem().Interface()), normalise(reflect.ValueOf(v.Value).Elem().Interface())) {
			t.Errorf("%s: round trip differs\n got %#v\nwant %#v", v.Name, back.Elem().Interface(), v.Value)
		}
		index = append(index, map[string]any{"name": v.Name, "file": v.Name + ".cbor", "hex": hex.EncodeToString(enc), "value": generic})
	}
	out, _ := json.MarshalIndent(index, "", "  ")
	out = append(out, '\n')
	path := filepath.Join("testdata", "vectors.json")
	if *update {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("vectors.json is stale: run go test -run TestGolden -update")
	}
}

// normalise maps nil and empty slices to the same thing for comparison.
func normalise(v any) string { b, _ := json.Marshal(v); return string(b) }

// genericForm renders CBOR as language-neutral JSON: maps become objects with string keys (integer
// keys written in decimal), byte strings become {"bytes": "<hex>"}, unsigned integers become numbers.
func genericForm(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := cbor.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return toGeneric(v)
}

func toGeneric(v any) any {
	switch x := v.(type) {
	case map[any]any:
		out := make(map[string]any, len(x))
		keys := make([]string, 0, len(x))
		for k, val := range x {
			ks := fmt.Sprint(k)
			keys = append(keys, ks)
			out[ks] = toGeneric(val)
		}
		sort.Strings(keys)
		return out
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = toGeneric(x[i])
		}
		return out
	case []byte:
		return map[string]any{"bytes": hex.EncodeToString(x)}
	case uint64:
		return json.Number(strconv.FormatUint(x, 10))
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	default:
		return x
	}
}
