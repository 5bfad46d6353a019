package provider

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/config"
)

// The original runtime's example configuration (test/testdata/original-config, in the original's
// file layout and key names, only plugin paths changed) loads unchanged, without a single warning.
func TestOriginalConfigLoadsUnchanged(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root) // paths in the files are relative to the repository root, like the original's
	l, err := config.Load(config.Options{Path: "test/testdata/original-config/config.toml", Env: map[string]string{}, NoDotEnv: true})
	if err != nil || len(l.Problems) != 0 {
		t.Fatalf("main config: %v %v", err, l.Problems)
	}
	if l.Config.HTTP.Address != "127.0.0.1:8081" || !l.Config.HTTP.Metrics.Enabled || l.Config.Connectors.ConfigType != "local" {
		t.Errorf("main config %v", l.Config)
	}
	p, err := New(l.Config.Connectors, Options{Env: l.Env, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	snap, err := p.ActiveConfigs(ctx)
	if err != nil || len(snap.Problems) != 0 {
		t.Fatalf("connectors: %v %v", err, snap.Problems)
	}
	if len(snap.Sinks) != 2 || len(snap.Sources) != 1 {
		t.Fatalf("sinks %v sources %v", snap.Sinks, snap.Sources)
	}
	pg, rnd, out := snap.Sinks["pg"], snap.Sources["random"], snap.Sinks["stdout"]
	// .active_versions.toml: pg = 0 although version 1 exists; random = 1.
	if pg.Version != 0 || rnd.Version != 1 || out.Version != 0 {
		t.Errorf("versions pg %d random %d stdout %d", pg.Version, rnd.Version, out.Version)
	}
	if len(pg.Transforms) != 2 || pg.Transforms[0].Type != "add_fields" || pg.Transforms[1].Type != "delete_fields" ||
		pg.PluginConfig["target_table"] != "iggy_messages" || pg.PluginConfigFormat != "toml" ||
		pg.SinkStreams[0].ConsumerGroup != "pg_sink_connector" || pg.SinkStreams[0].BatchLength != 100 {
		t.Errorf("pg %v", pg)
	}
	if rnd.SourceStreams[0].LingerTime.D() != time.Second || rnd.PluginConfig["interval"] != "1m30s" || len(rnd.Transforms) != 1 {
		t.Errorf("random %v", rnd)
	}
	if !out.Verbose || out.PluginConfig["print_payload"] != true || out.Transforms[0].Config["fields"] == nil {
		t.Errorf("stdout %v", out)
	}
	all, _ := p.Configs(ctx, config.KindSink, "pg")
	if len(all) != 2 || all[1].Name != "Postgres sink (batch of 500)" {
		t.Errorf("pg versions %v", all)
	}
}
