package plugintest

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/runtime/plugin"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

// discardABI10 builds the discard sink as an ABI 1.0 plugin (sdk/export's iggy_connector_abi10 build
// tag: it reports 1.0 and exports no iggy_sink_consume_ref), as a plugin built before ABI 1.1 is.
func discardABI10(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "libiggy_connector_discard10_sink.so")
	cmd := exec.Command("go", "build", "-tags", "iggy_connector_abi10", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = filepath.Join(pluginbuild.RepoRoot(), "test", "plugins", "discard")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	}
	return out
}

// TestABIVersions runs the discard sink built for ABI 1.1 (batches by reference) and for ABI 1.0
// (CBOR batches) through both transports with byte-exact verification of every payload and header,
// including a non-borrowing sink that keeps each batch until the next call while the runtime
// overwrites the memory the previous batch was passed in.
func TestABIVersions(t *testing.T) {
	ctx := context.Background()
	libs := []struct {
		name    string
		path    string
		version uint32
		byRef   bool
	}{
		{"abi1.1", goDiscard(t), abi.Version, true},
		{"abi1.0", discardABI10(t), abi.Version10, false},
	}
	for _, l := range libs {
		for _, tr := range []plugin.Transport{plugin.TransportInProcess, plugin.TransportProcess} {
			for _, cfg := range []string{`{"verify":true}`, `{"verify":true,"retain":true}`} {
				t.Run(l.name+"/"+string(tr)+"/"+cfg, func(t *testing.T) {
					opts := plugin.Options{Transport: tr}
					if tr == plugin.TransportProcess {
						opts.Executable = pluginbuild.Runtime(t)
					}
					lib := open(t, l.path, opts)
					if v := lib.Info().ABIVersion; v != l.version || lib.SinkBatchesByRef() != l.byRef {
						t.Fatalf("library speaks ABI %s, by reference %v; want %s, %v", abi.VersionString(v), lib.SinkBatchesByRef(),
							abi.VersionString(l.version), l.byRef)
					}
					s, err := lib.OpenSink(ctx, "abi", []byte(cfg))
					if err != nil {
						t.Fatal(err)
					}
					defer s.Close(ctx)
					for i, n := range []int{3, 1000, 0, 1, 250} {
						b := patternBatch(uint64(i*1000), n, 100+i*300)
						res, err := s.Consume(ctx, b)
						if err != nil || len(res.Failures) != 0 {
							t.Fatalf("batch %d (%d messages): %v %+v", i, n, err, res.Failures)
						}
						for _, m := range b.Messages { // the runtime reuses its reply buffers
							clear(m.Payload)
						}
					}
					// A corrupted payload is reported, so verification is real.
					b := patternBatch(7, 2, 64)
					b.Messages[1].Payload[20] ^= 1
					res, err := s.Consume(ctx, b)
					if err != nil || len(res.Failures) != 1 || res.Failures[0].Index != 1 || !strings.Contains(res.Failures[0].Error.Message, "mismatch") {
						t.Fatalf("corrupted batch: %v %+v", err, res.Failures)
					}
				})
			}
		}
	}
}
