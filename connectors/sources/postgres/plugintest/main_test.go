//go:build integration

// Package plugintest drives the built libiggy_connector_postgres_source.so through the runtime's
// plugin loader (runtime/plugin), in process and in a plugin-host child process, against a real
// PostgreSQL (IGGY_TEST_PG_URL).
package plugintest

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/iggy-go/connectors/runtime/plugin"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

// TestMain doubles as the plugin host of the process transport (`<test binary> plugin-host`).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == plugin.HostCommand {
		fs := flag.NewFlagSet(plugin.HostCommand, flag.ExitOnError)
		lib := fs.String("library", "", "")
		_ = fs.Parse(os.Args[2:])
		if err := plugin.ServeHost(*lib, os.Stdin, os.NewFile(3, "replies")); err != nil {
			fmt.Fprintln(os.Stderr, "plugin-host:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	pluginbuild.Cleanup()
	os.Exit(code)
}
