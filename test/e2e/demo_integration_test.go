//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/harness"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

// TestDemo runs scripts/demo.sh (what `make demo` runs) on free ports with its data in a temporary
// directory: it builds what it needs, starts its own iggy-devserver, and the stdout sink prints the
// random source's records, transformed, within 30 s of the runtime starting. It says what it is
// doing from its first second (one numbered line per step), and /metrics answers Prometheus text
// while it runs (metrics are on in configs/demo/config.toml). A Ctrl-C (SIGINT to
// the process group, as a terminal sends it) stops the runtime and the devserver; the script
// exits 0.
func TestDemo(t *testing.T) {
	root := pluginbuild.RepoRoot()
	cmd := exec.Command(filepath.Join(root, "scripts", "demo.sh"))
	cmd.Dir = root
	httpAddr := freeAddr(t)
	iggyAddr := freeAddr(t)
	ext := harness.External()
	if ext != nil {
		iggyAddr = ext.Addr
		claimDemoStream(t, iggyAddr)
	}
	cmd.Env = harness.RuntimeEnv(append(harness.IggyEnv(iggyAddr),
		"IGGY_CONNECTORS_HTTP_ADDRESS="+httpAddr,
		"IGGY_DEMO_DIR="+t.TempDir())...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, stderr := harness.NewLog(t, "demo-stdout"), harness.NewLog(t, "demo-stderr")
	cmd.Stdout, cmd.Stderr = stdout, stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})

	// Progress from the first second: the toolchain check and the first build step are announced
	// before anything slow runs.
	waitFor(t, 2*time.Second, "the demo's first progress lines", func() bool {
		return strings.Contains(stderr.Contents(), "[1/7 +0s] checking the toolchain") &&
			strings.Contains(stderr.Contents(), "] building build/bin/iggy-connectors")
	})
	waitFor(t, 3*time.Minute, "the demo to start the runtime (after building)", func() bool {
		return strings.Contains(stderr.Contents(), "running iggy-connectors")
	})
	built := time.Since(start)
	waitFor(t, 30*time.Second, "the first records on standard output", func() bool {
		return strings.Count(stdout.Contents(), "demo_stream/demo_topic offset=") >= 3
	})
	firstRecords := time.Since(start) - built
	line := regexp.MustCompile(`demo_stream/demo_topic offset=0 (\{.*\})`).FindStringSubmatch(stdout.Contents())
	if line == nil {
		t.Fatalf("no record at offset 0 on standard output:\n%s", stdout.Contents())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(line[1]), &rec); err != nil || rec["processed_by"] != "iggy-connectors-go" || rec["title"] != "Hello" {
		t.Fatalf("record %s: %v (want the random source's record with the sink's added field)", line[1], err)
	}

	for i := 1; i <= 7; i++ {
		if !strings.Contains(stderr.Contents(), fmt.Sprintf("[%d/7 +", i)) {
			t.Errorf("no progress line for step %d of 7:\n%s", i, stderr.Contents())
		}
	}
	// `curl localhost:8081/metrics` during the demo: Prometheus text with the pipeline's counters.
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || !strings.Contains(string(body), "# TYPE ") {
		t.Fatalf("/metrics during the demo: %d %q\n%.500s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil { // Ctrl-C
		t.Fatal(err)
	}
	select {
	case <-done:
		if waitErr != nil {
			t.Fatalf("demo.sh after Ctrl-C: %v", waitErr)
		}
	case <-time.After(stopBound + 5*time.Second):
		t.Fatal("demo.sh did not stop after Ctrl-C")
	}
	if ext != nil {
		if !strings.Contains(stderr.Contents(), "using the Iggy server already listening on "+ext.Addr) {
			t.Fatal("the demo did not use the external Iggy server")
		}
	} else {
		m := regexp.MustCompile(`stopping iggy-devserver \(pid (\d+)\)`).FindStringSubmatch(stderr.Contents())
		if m == nil {
			t.Fatal("the demo did not say it stopped the devserver it started")
		}
		if pid, _ := strconv.Atoi(m[1]); syscall.Kill(pid, 0) == nil {
			t.Fatalf("iggy-devserver (pid %d) still runs after the demo ended", pid)
		}
	}
	if !strings.Contains(stderr.Contents(), "msg=stopped") {
		t.Fatal("the runtime did not stop gracefully")
	}
	t.Logf("demo: built and started in %v, first records %v after the runtime started", built.Round(time.Millisecond), firstRecords.Round(time.Millisecond))
}

// claimDemoStream is for a test that runs the demo's connector files (which name demo_stream)
// against the external Iggy server at addr: it skips the test when that stream exists (never touch
// someone's data) and removes the stream the test creates when it ends.
func claimDemoStream(t *testing.T, addr string) {
	t.Helper()
	c := harness.Dial(t, addr)
	if _, err := c.GetStream(ctxT(t), iggy.NamedID("demo_stream")); err == nil {
		t.Skipf("the external Iggy server %s already has a demo_stream; delete it to run this test against it", addr)
	}
	t.Cleanup(func() { c.DeleteStream(context.Background(), iggy.NamedID("demo_stream")) })
}
