package cli

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --cpu-profile writes a complete (gzip-compressed protobuf) profile once profiling stops, and a
// path that cannot be created is an error naming the flag.
func TestCPUProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.prof")
	stop, err := startCPUProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("profile is not gzip data (%d bytes): %v", len(b), err)
	}
	if body, err := io.ReadAll(zr); err != nil || len(body) == 0 {
		t.Fatalf("profile body: %d bytes, %v", len(body), err)
	}

	code, _, stderr := run(t, "run", "--cpu-profile", filepath.Join(t.TempDir(), "missing", "cpu.prof"))
	if code != 1 || !strings.Contains(stderr, "--cpu-profile") {
		t.Fatalf("bad profile path: exit %d, stderr %q", code, stderr)
	}
}
