//go:build integration

// Package e2e holds the end-to-end tests of the Elasticsearch sink and source through the real
// runtime binary: iggy-devserver and iggy-connectors run as processes, the plugins are the real
// c-shared libraries, the servers are real Elasticsearch and OpenSearch nodes (scripts/elasticsearch.sh),
// and what lands is read back with plain HTTP (estest), Iggy with the project's Go client.
package e2e

import (
	"testing"

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

// newRuntime creates an iggy-connectors installation (harness.Installation) named name with the
// connector files (file name → TOML), which a test starts, kills and restarts.
func newRuntime(t *testing.T, name, iggyAddr string, connectors map[string]string) *harness.Installation {
	t.Helper()
	return harness.NewInstallation(t, name, getBinaries(t).runtime, iggyAddr, connectors)
}
