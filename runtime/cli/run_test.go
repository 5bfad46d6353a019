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

// A command group (`plugin`) prints its subcommands' help instead of "unknown command".
func TestGroupHelp(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		code       int
		toStdout   bool
		extraError string
	}{
		{[]string{"plugin", "--help"}, 0, true, ""},
		{[]string{"plugin", "-h"}, 0, true, ""},
		{[]string{"help", "plugin"}, 0, true, ""},
		{[]string{"plugin"}, 2, false, ""},
		{[]string{"plugin", "inspekt"}, 2, false, `unknown command "plugin inspekt"`},
	} {
		code, stdout, stderr := run(t, tc.args...)
		out := stderr
		if tc.toStdout {
			out = stdout
		}
		if code != tc.code || !strings.Contains(out, "usage: iggy-connectors plugin <command>") ||
			!strings.Contains(out, "plugin inspect") || !strings.Contains(stderr, tc.extraError) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", tc.args, code, stdout, stderr)
		}
	}
}
