package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iggy-go/connectors/test/pluginbuild"
)

// TestMain (in validate_test.go) removes the plugins pluginbuild built.

func TestPluginInspect(t *testing.T) {
	lib := pluginbuild.GoPlugin(t, "connectors/sinks/stdout", "iggy_connector_stdout_sink")
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Dispatch(context.Background(), &Env{Stdout: &out, Stderr: &errb}, args)
		return code, out.String(), errb.String()
	}
	code, out, _ := run("plugin", "inspect", lib)
	for _, want := range []string{"abi version: 1.1", "sink batches: by reference", "kind:        sink", "name:        stdout", "version:     0.1.0", "print_payload"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("inspect (exit %d) output lacks %q:\n%s", code, want, out)
		}
	}
	code, out, _ = run("plugin", "inspect", "--json", strings.TrimSuffix(lib, ".so"))
	var info struct {
		Path       string `json:"path"`
		ABIVersion string `json:"abi_version"`
		SinkBatch  string `json:"sink_batches"`
		Kind, Name string
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil || code != 0 || info.ABIVersion != "1.1" || info.SinkBatch != "by reference" || info.Kind != "sink" || info.Name != "stdout" || info.Path != lib {
		t.Fatalf("inspect --json (exit %d): %+v %v\n%s", code, info, err, out)
	}
	bad := filepath.Join(t.TempDir(), "libiggy_connector_junk_sink.so")
	os.WriteFile(bad, []byte("junk"), 0o644)
	code, _, errs := run("plugin", "inspect", bad)
	if code != 1 || !strings.Contains(errs, bad) || !strings.Contains(errs, "not a shared library") {
		t.Fatalf("inspect of junk: exit %d, %q", code, errs)
	}
	if code, _, _ := run("plugin", "inspect"); code != 2 {
		t.Fatalf("inspect without a path: exit %d", code)
	}
}
