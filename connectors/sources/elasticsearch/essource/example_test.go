package essource

import (
	"testing"

	"github.com/iggy-go/connectors/connectors/internal/esconn/estest"
	"github.com/iggy-go/connectors/sdk"
)

// TestExampleConfig: configs/examples/connectors/elasticsearch_source.toml loads with the runtime's
// config code and its plugin_config passes the source's validation.
func TestExampleConfig(t *testing.T) {
	js := estest.ExamplePluginConfig(t, "elasticsearch_source.toml")
	cfg, err := sdk.DecodeConfig[Config](js)
	if err != nil {
		t.Fatalf("elasticsearch_source.toml: %v", err)
	}
	if string(cfg.query) != `{"term":{"service":"checkout"}}` || cfg.BatchSize != 500 || cfg.TimestampField != "@timestamp" {
		t.Fatalf("example decoded wrongly: %+v", cfg)
	}
}
