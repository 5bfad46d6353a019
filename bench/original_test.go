package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/config"
)

// The connector files of the O scenarios parse with the runtime's loader (the original's format)
// and say what the scenarios promise.
func TestOriginalConnectorFiles(t *testing.T) {
	for _, tc := range []struct {
		name, toml string
		check      func(t *testing.T, c *config.ConnectorConfig)
	}{
		{"random source, ours", randomSourceTOML("/p/libiggy_connector_random_source.so", "bench-x", "o1_ours_001", 1000, false),
			func(t *testing.T, c *config.ConnectorConfig) {
				pc := c.PluginConfig
				if fmt.Sprint(pc["messages_range"]) != "[1000 1000]" || pc["generator"] != "random" {
					t.Errorf("plugin_config %v: want messages_range [1000, 1000] (inclusive) and generator random", pc)
				}
			}},
		{"random source, original", randomSourceTOML("/p/libiggy_connector_random_source.so", "bench-x", "o1_original_002", 1000, true),
			func(t *testing.T, c *config.ConnectorConfig) {
				pc := c.PluginConfig
				if fmt.Sprint(pc["messages_range"]) != "[1000 1001]" || pc["generator"] != nil {
					t.Errorf("plugin_config %v: want messages_range [1000, 1001) and no generator key", pc)
				}
			}},
		{"stdout sink", stdoutSinkTOML("/p/libiggy_connector_stdout_sink.so", "bench-x", "o2", "o2_ours_003", 1000),
			func(t *testing.T, c *config.ConnectorConfig) {
				s := c.SinkStreams[0]
				if c.PluginConfig["print_payload"] != false || s.ConsumerGroup != "o2_ours_003" || s.BatchLength != 1000 || s.Topics[0] != "o2" {
					t.Errorf("stdout sink %+v %v", s, c.PluginConfig)
				}
			}},
		{"PostgreSQL sink, both", withStream(pgSinkTOML("/p/libiggy_connector_postgres_sink.so", "o3", "o3_original_004", "iggy_bench_original_005", "postgres://u@h/db"), benchStream, "bench-x"),
			func(t *testing.T, c *config.ConnectorConfig) {
				pc := c.PluginConfig
				// payload_format and include_* are left to the defaults, the same in both: bytea, true.
				if pc["target_table"] != "iggy_bench_original_005" || pc["payload_format"] != nil || pc["include_metadata"] != nil ||
					fmt.Sprint(pc["batch_size"]) != "1000" || pc["auto_create_table"] != true {
					t.Errorf("plugin_config %v", pc)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ps := config.LoadConnectorTOML(tc.name+".toml", []byte(tc.toml))
			if ps.HasErrors() || c == nil {
				t.Fatalf("%v\n%s", ps, tc.toml)
			}
			stream := ""
			if len(c.SourceStreams) > 0 {
				s := c.SourceStreams[0]
				stream = s.Stream
				if s.LingerTime.D() != 0 || s.BatchLength != 1000 || s.Schema != "json" {
					t.Errorf("source stream %+v: want linger_time 0, batch_length 1000, schema json", s)
				}
				if fmt.Sprint(c.PluginConfig["interval"]) != "0" || fmt.Sprint(c.PluginConfig["payload_size"]) != fmt.Sprint(ZeroCostTextSize(MessageSize)) {
					t.Errorf("plugin_config %v: want interval 0 and a payload_size giving %d-byte records", c.PluginConfig, MessageSize)
				}
			} else {
				stream = c.SinkStreams[0].Stream
			}
			if stream != "bench-x" || !strings.HasPrefix(c.Path, "/p/libiggy_connector_") {
				t.Errorf("stream %q, path %q", stream, c.Path)
			}
			tc.check(t, c)
		})
	}
}

// The original's main config loads (with the runtime's loader, which follows the original's
// layering: compiled-in defaults, then the file) with the server, credentials and directories.
func TestOriginalConfigTOML(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(originalConfigTOML("127.0.0.1:8090", "user", "p\"w", "/s/state", "/s/connectors")), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := config.Load(config.Options{Path: path, Env: map[string]string{}, NoDotEnv: true, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if c.HTTP.Enabled || c.Telemetry.Enabled || c.Iggy.Address != "127.0.0.1:8090" || c.Iggy.Username != "user" || c.Iggy.Password != "p\"w" ||
		c.State.Path != "/s/state" || c.Connectors.ConfigType != "local" || c.Connectors.ConfigDir != "/s/connectors" {
		t.Errorf("loaded %+v", c)
	}
}

func TestWithStream(t *testing.T) {
	in := "[[streams]]\nstream = \"bench\"\ntopic = \"t\"\n# stream = \"bench\" in a comment\n[[streams]]\nstream = \"other\"\n"
	got := withStream(in, "bench", "bench-1")
	want := "[[streams]]\nstream = \"bench-1\"\ntopic = \"t\"\n# stream = \"bench\" in a comment\n[[streams]]\nstream = \"other\"\n"
	if got != want {
		t.Errorf("withStream:\n%s\nwant:\n%s", got, want)
	}
	if withStream(in, "bench", "bench") != in {
		t.Error("renaming to the same name changed the file")
	}
	// Every file the harness renders keeps its plugin path and names the new stream.
	for _, toml := range []string{sourceTOML("/p/x.so", "t", 1000, 1, 0), sinkTOML("/p/x.so", "k", "t", "g", 1000, true),
		pgSinkTOML("/p/x.so", "t", "g", "s.t", "postgres://")} {
		c, ps := config.LoadConnectorTOML("x.toml", []byte(withStream(toml, benchStream, "bench-20261208-ab")))
		if ps.HasErrors() {
			t.Fatal(ps)
		}
		var got string
		if len(c.SourceStreams) > 0 {
			got = c.SourceStreams[0].Stream
		} else {
			got = c.SinkStreams[0].Stream
		}
		if got != "bench-20261208-ab" {
			t.Errorf("stream %q after renaming", got)
		}
	}
	a, b := externalStreamName(), externalStreamName()
	if a == b || !strings.HasPrefix(a, benchStream+"-") {
		t.Errorf("external stream names %q, %q: want unique names starting with %q", a, b, benchStream+"-")
	}
}

func TestCheckRandomRecord(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	text := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alnum[rng.IntN(len(alnum))]
		}
		return string(b)
	}
	rec := func(id, text string) []byte {
		return []byte(`{"id":"` + id + `","title":"Hello","name":"World","text":"` + text + `"}`)
	}
	id := "9b2f6c1e-3d4a-4f5b-8c6d-7e8f9a0b1c2d"
	if err := CheckRandomRecord(rec(id, text(ZeroCostTextSize(MessageSize)))); err != nil {
		t.Errorf("a random record: %v", err)
	}
	for name, p := range map[string][]byte{
		"zero_cost":  ZeroCostRecord(ZeroCostTextSize(MessageSize)),
		"too short":  rec(id, text(100)),
		"not JSON":   []byte(strings.Repeat("x", MessageSize)),
		"no uuid":    rec(strings.Repeat("1", 35), text(ZeroCostTextSize(MessageSize)+1)),
		"not alnum":  rec(id, text(ZeroCostTextSize(MessageSize)-1)+"_"),
		"wrong keys": []byte(`{"id":"` + id + `","title":"Bye","name":"World","text":"` + text(ZeroCostTextSize(MessageSize)-2) + `"}`),
	} {
		if err := CheckRandomRecord(p); err == nil {
			t.Errorf("%s (%d bytes): accepted", name, len(p))
		}
	}
}

func TestOriginalVerdictsAndReport(t *testing.T) {
	pair := func(ours, orig uint64, oursCPU, origCPU time.Duration) Pair {
		return Pair{Ours: Measurement{Messages: ours, Wall: time.Second, CPU: oursCPU},
			Baseline: Measurement{Messages: orig, Wall: time.Second, CPU: origCPU}}
	}
	r := &Results{Mode: ModeSmoke, Runs: 1, Sweep: map[string]map[int][]Pair{}, Original: "iggy-connectors 0.5.0",
		Server: ServerInfo{Kind: "external", Address: "127.0.0.1:8090", Version: "0.9.0-edge.5"},
		O1:     []Pair{pair(160, 100, 1600*time.Millisecond, time.Second)}, // 1.6×, same CPU per message: met
		O2:     []Pair{pair(500, 100, time.Second, 100*time.Millisecond)},  // 5×, 2× the CPU per message: missed
		// O3 not measured
	}
	want := map[string]struct{ known, met bool }{"O1": {true, true}, "O2": {true, false}, "O3": {false, false}}
	for _, v := range Verdicts(r, nil) {
		if w, ok := want[v.Target[:2]]; ok {
			if v.Known != w.known || v.Met != w.met {
				t.Errorf("%s: known %v met %v (%s), want %v %v", v.Target, v.Known, v.Met, v.Measured, w.known, w.met)
			}
			delete(want, v.Target[:2])
		}
	}
	if len(want) > 0 {
		t.Errorf("no verdicts for %v", want)
	}
	if cpu, _, _ := CPURatio(r.O2); cpu != 2 {
		t.Errorf("O2 CPU ratio %v, want 2", cpu)
	}
	md := Render(r, nil, "", "")
	for _, s := range []string{"## vs the original runtime", "**external** server at 127.0.0.1:8090 (`IGGY_BENCH_SERVER`), version **0.9.0-edge.5**",
		"Original runtime (the O scenarios): iggy-connectors 0.5.0", "| 160 msg/s | 100 msg/s | **1.60** | 10000.00 / 10000.00 | 1.00 |",
		"| O2 ≥ 4.0 × the original runtime, at ≤ 1× its CPU per message | 5.00×, CPU 2.00× | **no** |", "| O3 Iggy → runtime → PostgreSQL sink (bytea, rounds of 1000 rows) | not measured |"} {
		if !strings.Contains(md, s) {
			t.Errorf("report lacks %q", s)
		}
	}
	// Without the original the report has no such section.
	if md := Render(&Results{Mode: ModeSmoke, Sweep: map[string]map[int][]Pair{}}, nil, "", ""); strings.Contains(md, "vs the original") {
		t.Error("a report without O runs has the section")
	}
}

// A missing original binary or plugin is named; the plugin directory defaults to the binary's.
func TestOriginalCheck(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "iggy-connectors")
	o := Original{Runtime: bin}
	if err := o.check(); err == nil || !strings.Contains(err.Error(), "ORIGINAL_RUNTIME") {
		t.Errorf("missing binary: %v", err)
	}
	for _, f := range []string{bin, filepath.Join(dir, "libiggy_connector_random_source.so"), filepath.Join(dir, "libiggy_connector_stdout_sink.so")} {
		if err := os.WriteFile(f, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	o = Original{Runtime: bin}
	if err := o.check(); err == nil || !strings.Contains(err.Error(), "postgres_sink") {
		t.Errorf("missing PostgreSQL sink: %v", err)
	}
	if o.PluginDir != dir {
		t.Errorf("plugin directory %q, want the binary's %q", o.PluginDir, dir)
	}
	if err := os.WriteFile(filepath.Join(dir, "libiggy_connector_postgres_sink.so"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := o.check(); err != nil {
		t.Error(err)
	}
}
