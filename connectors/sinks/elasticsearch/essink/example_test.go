package essink

import (
	"testing"

	"github.com/iggy-go/connectors/connectors/internal/esconn/estest"
	"github.com/iggy-go/connectors/sdk"
)

// TestExampleConfig: configs/examples/connectors/elasticsearch_sink.toml loads with the runtime's
// config code and its plugin_config passes the sink's validation.
func TestExampleConfig(t *testing.T) {
	js := estest.ExamplePluginConfig(t, "elasticsearch_sink.toml")
	cfg, err := sdk.DecodeConfig[Config](js)
	if err != nil {
		t.Fatalf("elasticsearch_sink.toml: %v", err)
	}
	if cfg.index.static != "" || string(cfg.mapping) == "" || cfg.BatchSize != 500 {
		t.Fatalf("example decoded wrongly: %+v", cfg)
	}
}
