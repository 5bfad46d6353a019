package main

import (
	"path/filepath"
	"testing"

	"github.com/iggy-go/connectors/bench"
)

func TestFromEnv(t *testing.T) {
	env := map[string]string{"IGGY_BENCH_SERVER": "127.0.0.1:8090", "IGGY_BENCH_USERNAME": "u", "IGGY_BENCH_PASSWORD": "p",
		"ORIGINAL_RUNTIME": "orig/iggy-connectors", "ORIGINAL_PLUGINS_DIR": "orig/plugins"}
	var cfg bench.Config
	fromEnv(&cfg, func(k string) string { return env[k] })
	rt, _ := filepath.Abs("orig/iggy-connectors")
	pd, _ := filepath.Abs("orig/plugins")
	if cfg.Server != "127.0.0.1:8090" || cfg.Username != "u" || cfg.Password != "p" || cfg.Original.Runtime != rt || cfg.Original.PluginDir != pd {
		t.Errorf("config %+v", cfg)
	}
	// Nothing set: an own devserver, no original.
	cfg = bench.Config{}
	fromEnv(&cfg, func(string) string { return "" })
	if cfg.Server != "" || cfg.Original != (bench.Original{}) {
		t.Errorf("config without the environment %+v", cfg)
	}
}
