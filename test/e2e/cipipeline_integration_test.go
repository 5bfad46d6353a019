//go:build integration

package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/test/harness"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

// TestCIPipelineScript runs scripts/ci-pipeline.sh — what the CI example of docs/ci.md runs next to
// an Iggy service container — against iggy-devserver standing in for that container: the script
// must see records flow through the demo pipeline and the runtime stop gracefully, exit 0.
func TestCIPipelineScript(t *testing.T) {
	root := pluginbuild.RepoRoot()
	pluginbuild.RequireBuilt(t, "build/bin/iggy-connectors", "build/plugins/libiggy_connector_random_source.so",
		"build/plugins/libiggy_connector_stdout_sink.so")
	iggy := harness.StartDevserver(t, harness.DevserverOptions{})
	if harness.External() != nil {
		claimDemoStream(t, iggy.Addr)
	}
	cmd := exec.Command(filepath.Join(root, "scripts", "ci-pipeline.sh"))
	cmd.Dir = root
	cmd.Env = harness.RuntimeEnv(append(harness.IggyEnv(iggy.Addr),
		"IGGY_CONNECTORS_HTTP_ADDRESS="+harness.FreeAddr(t),
		"PIPELINE_DIR="+t.TempDir(),
		"MIN_RECORDS=5")...)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("scripts/ci-pipeline.sh did not finish within 3 minutes:\n%s", out)
	}
	if err != nil || !strings.Contains(string(out), "records went random source -> Iggy -> stdout sink") ||
		!strings.Contains(string(out), "ok: graceful stop") {
		t.Fatalf("scripts/ci-pipeline.sh: %v\n%s", err, out)
	}
}
