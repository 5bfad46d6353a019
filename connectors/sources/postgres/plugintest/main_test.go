//go:build integration

// Package plugintest drives the built libiggy_connector_postgres_source.so through the runtime's
// plugin loader (runtime/plugin), in process and in a plugin-host child process, against a real
// PostgreSQL (IGGY_TEST_PG_URL).
package plugintest

import (
	"testing"

	"github.com/iggy-go/connectors/test/harness"
)

// TestMain doubles as the plugin host of the process transport (`<test binary> plugin-host`).
func TestMain(m *testing.M) { harness.Main(m) }
