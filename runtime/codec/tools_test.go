package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

// requireTool returns the path of an external tool the test needs. A missing tool skips the test,
// unless IGGY_REQUIRE_TOOLS=1 (set by CI), where it fails it.
func requireTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := name + " not found: install the Debian package " + debianPackage + " (scripts/setup.sh does)"
		if os.Getenv("IGGY_REQUIRE_TOOLS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

func run(t testing.TB, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return stdout.Bytes()
}

// protoDescriptorSet compiles testdata/order.proto into a descriptor set and returns its path.
func protoDescriptorSet(t testing.TB) string {
	t.Helper()
	protoc := requireTool(t, "protoc", "protobuf-compiler")
	out := filepath.Join(t.TempDir(), "order.pb")
	run(t, nil, protoc, "--include_imports", "--descriptor_set_out="+out, "-I", "testdata", "order.proto")
	return out
}

// flatBufferSchema compiles testdata/order.fbs into a binary schema and returns its path.
func flatBufferSchema(t testing.TB) string {
	t.Helper()
	flatc := requireTool(t, "flatc", "flatbuffers-compiler")
	dir := t.TempDir()
	run(t, nil, flatc, "--binary", "--schema", "-o", dir, filepath.Join("testdata", "order.fbs"))
	return filepath.Join(dir, "order.bfbs")
}

// sameJSON reports whether two JSON texts are equal as values (numbers compared by text).
func sameJSON(t testing.TB, a, b []byte) bool {
	t.Helper()
	return reflect.DeepEqual(decodeJSON(t, a), decodeJSON(t, b))
}

func decodeJSON(t testing.TB, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return v
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// contains reports whether have includes everything in want: objects may have extra keys (flatc
// omits fields at their default), numbers are compared as float32 when they differ in text (flatc
// prints 2 as 2.0 and float32 values with its own precision).
func contains(have, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if !contains(h[k], v) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return false
		}
		for i := range w {
			if !contains(h[i], w[i]) {
				return false
			}
		}
		return true
	case json.Number:
		h, ok := have.(json.Number)
		if !ok {
			return false
		}
		if h == w {
			return true
		}
		fh, err1 := h.Float64()
		fw, err2 := w.Float64()
		return err1 == nil && err2 == nil && float32(fh) == float32(fw)
	default:
		return reflect.DeepEqual(have, want)
	}
}

func asError(err error, target **Error) bool { return errors.As(err, target) }
