package essource

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/sdk"
)

// TestExampleConfig: configs/examples/connectors/elasticsearch_source.toml loads with the runtime's
// config code and its plugin_config passes the source's validation.
func TestExampleConfig(t *testing.T) {
	path := filepath.Join("..", "..", "..", "..", "configs", "examples", "connectors", "elasticsearch_source.toml")
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
	if string(cfg.query) != `{"term":{"service":"checkout"}}` || cfg.BatchSize != 500 || cfg.TimestampField != "@timestamp" {
		t.Fatalf("example decoded wrongly: %+v", cfg)
	}
}
