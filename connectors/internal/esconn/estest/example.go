package estest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/iggy-go/connectors/runtime/config"
)

// ExamplePluginConfig loads configs/examples/connectors/<file> with the runtime's own config code
// and returns its plugin_config as the JSON the plugin receives.
func ExamplePluginConfig(t testing.TB, file string) []byte {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(here), "..", "..", "..", "..", "configs", "examples", "connectors", file)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, ps := config.LoadConnectorTOML(path, data)
	if c == nil || len(ps) > 0 {
		t.Fatalf("%s: %v", path, ps)
	}
	js, err := c.PluginConfigJSON()
	if err != nil {
		t.Fatal(err)
	}
	return js
}
