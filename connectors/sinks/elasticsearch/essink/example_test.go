package essink

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/sdk"
)

// TestExampleConfig: configs/examples/connectors/elasticsearch_sink.toml loads with the runtime's
// config code and its plugin_config passes the sink's validation.
func TestExampleConfig(t *testing.T) {
	path := filepath.Join("..", "..", "..", "..", "configs", "examples", "connectors", "elasticsearch_sink.toml")
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
	cfg, err := sdk.DecodeConfig[Config](js)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if cfg.index.static != "" || string(cfg.mapping) == "" || cfg.BatchSize != 500 {
		t.Fatalf("example decoded wrongly: %+v", cfg)
	}
}
