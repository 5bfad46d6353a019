//go:build integration

// Package e2e holds the end-to-end tests of the Elasticsearch sink and source through the real
// runtime binary: iggy-devserver and iggy-connectors run as processes, the plugins are the real
// c-shared libraries, the servers are real Elasticsearch and OpenSearch nodes (scripts/elasticsearch.sh),
// and what lands is read back with plain HTTP (estest), Iggy with the project's Go client.
package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iggy-go/connectors/test/harness"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

func TestMain(m *testing.M) { harness.Main(m) }

type binaries struct{ runtime, devserver string }

// getBinaries builds the runtime, the devserver and both plugins (once per test process) in the
// layout of `make build plugins`, so connector files name the plugins without a directory.
func getBinaries(t *testing.T) binaries {
	t.Helper()
	pluginbuild.GoPlugin(t, "connectors/sinks/elasticsearch", "iggy_connector_elasticsearch_sink")
	pluginbuild.GoPlugin(t, "connectors/sources/elasticsearch", "iggy_connector_elasticsearch_source")
	return binaries{runtime: pluginbuild.Runtime(t), devserver: pluginbuild.Devserver(t)}
}

func startDevserver(t *testing.T) string {
	t.Helper()
	return harness.StartDevserver(t, harness.DevserverOptions{Bin: getBinaries(t).devserver, LogLevel: "warn"}).Addr
}

// runtimeProc is one iggy-connectors installation that a test starts, kills and restarts.
type runtimeProc struct {
	t                            *testing.T
	name, iggyAddr               string
	configDir, stateDir, workDir string
	log                          *harness.Log
	p                            *harness.Proc
	starts                       int
}

func newRuntime(t *testing.T, name, iggyAddr string, connectors map[string]string) *runtimeProc {
	t.Helper()
	base := t.TempDir()
	r := &runtimeProc{t: t, name: name, iggyAddr: iggyAddr, configDir: filepath.Join(base, "connectors"),
		stateDir: filepath.Join(base, "state"), workDir: base, log: harness.NewLog(t, name)}
	if err := os.MkdirAll(r.configDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for file, body := range connectors {
		if err := os.WriteFile(filepath.Join(r.configDir, file), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *runtimeProc) start() {
	r.t.Helper()
	cmd := harness.RuntimeCmd(getBinaries(r.t).runtime, r.workDir,
		"IGGY_CONNECTORS_IGGY_ADDRESS="+r.iggyAddr,
		"IGGY_CONNECTORS_CONNECTORS_CONFIG_DIR="+r.configDir,
		"IGGY_CONNECTORS_STATE_PATH="+r.stateDir,
		"IGGY_CONNECTORS_HTTP_ENABLED=false",
		"IGGY_CONNECTORS_ENV_PATH="+filepath.Join(r.workDir, "none.env"),
		"IGGY_DISPLAY_CONFIG=false",
		"IGGY_CONNECTORS_LOGGING_LEVEL=info",
	)
	r.starts++
	fmt.Fprintf(r.log, "=== %s #%d started %s\n", r.name, r.starts, time.Now().Format(time.RFC3339Nano))
	r.p = harness.Start(r.t, cmd, r.log)
}

func (r *runtimeProc) kill9() { r.p.Kill() }

func (r *runtimeProc) stop() {
	r.t.Helper()
	if !r.p.Stop(30 * time.Second) {
		r.t.Fatalf("%s did not stop within 30s of SIGTERM", r.name)
	}
}

// alive fails the test when the runtime exited.
func (r *runtimeProc) alive() {
	r.t.Helper()
	if r.p.Exited() {
		r.t.Fatalf("%s exited: %v", r.name, r.p.Err())
	}
}
