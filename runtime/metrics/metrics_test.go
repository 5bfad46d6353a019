package metrics

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/runtime/config/provider"
	"github.com/iggy-go/connectors/runtime/engine"
	"github.com/iggy-go/connectors/runtime/pipeline"
)

func sourceFile(key string) string {
	return "type = \"source\"\nkey = \"" + key + "\"\nenabled = false\nversion = 0\nname = \"s\"\npath = \"p\"\n[[streams]]\nstream = \"s\"\ntopic = \"t\"\nschema = \"json\"\n"
}

func sinkFile(key string) string {
	return "type = \"sink\"\nkey = \"" + key + "\"\nenabled = false\nversion = 0\nname = \"k\"\npath = \"p\"\n[[streams]]\nstream = \"s\"\ntopics = [\"t\"]\nschema = \"json\"\n"
}

// newEngine starts a real engine with two disabled connectors (nothing is loaded and no Iggy
// server is needed; the engine's Iggy address is unreachable).
func newEngine(t testing.TB, m *Metrics) *engine.Engine {
	return newEngineWith(t, m, map[string]string{"src.toml": sourceFile("src"), "sink.toml": sinkFile("snk")})
}

func newEngineWith(t testing.TB, m *Metrics, files map[string]string) *engine.Engine {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Default()
	cfg.Iggy.Address = "127.0.0.1:1"
	cfg.State.Path = t.TempDir()
	cfg.Connectors.ConfigDir = dir
	log := slog.New(slog.DiscardHandler)
	prov, err := provider.New(cfg.Connectors, provider.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Config: cfg, Provider: prov, Logger: log, Observer: m.Observer})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eng.Stop)
	return eng
}

// scrape returns the exposition's samples: "name{labels}" → value.
func scrape(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 {
		t.Fatalf("scrape: %d", w.Code)
	}
	body, _ := io.ReadAll(w.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func TestCollectorReadsConnectors(t *testing.T) {
	m := New()
	if s := scrape(t, m); len(s) == 0 || s["iggy_connectors_sinks_total"] != 0 {
		t.Fatalf("before Attach: want only the Go/process collectors, got sinks_total=%v", s["iggy_connectors_sinks_total"])
	}
	eng := newEngine(t, m)
	m.Attach(eng)

	src, snk := eng.Connector(config.KindSource, "src").Counters, eng.Connector(config.KindSink, "snk").Counters
	src.Produced.Add(12)
	src.Sent.Add(10)
	src.Filtered.Add(2)
	src.AddError(pipeline.StageSend)
	src.AddError(pipeline.StageSend)
	src.Retries.Add(2)
	snk.Consumed.Add(40)
	snk.Processed.Add(37)
	snk.Skipped.Add(2)
	snk.DeadLettered.Add(1)
	snk.AddError(pipeline.StagePlugin)
	snk.AddError(pipeline.StageDecode)
	snk.InFlight.Add(1)

	s := scrape(t, m)
	const srcL, snkL = `{connector_key="src",connector_type="source"}`, `{connector_key="snk",connector_type="sink"}`
	want := map[string]float64{
		"iggy_connectors_sources_total":   1,
		"iggy_connectors_sources_running": 0,
		"iggy_connectors_sinks_total":     1,
		"iggy_connectors_sinks_running":   0,
		"iggy_connectors_iggy_connected":  0,

		"iggy_connector_messages_produced_total" + srcL:                                              12,
		"iggy_connector_messages_sent_total" + srcL:                                                  10,
		"iggy_connector_messages_filtered_total" + srcL:                                              2,
		"iggy_connector_retries_total" + srcL:                                                        2,
		`iggy_connector_errors_total{connector_key="src",connector_type="source",stage="iggy_send"}`: 2,
		"iggy_connector_messages_consumed_total" + snkL:                                              40,
		"iggy_connector_messages_processed_total" + snkL:                                             37,
		"iggy_connector_messages_skipped_total" + snkL:                                               2,
		"iggy_connector_messages_dead_lettered_total" + snkL:                                         1,
		`iggy_connector_errors_total{connector_key="snk",connector_type="sink",stage="plugin"}`:      1,
		`iggy_connector_errors_total{connector_key="snk",connector_type="sink",stage="decode"}`:      1,
		"iggy_connector_batches_in_flight" + snkL:                                                    1,
		"iggy_connector_plugin_restarts_total" + snkL:                                                0,
		"iggy_connector_running" + snkL:                                                              0,
	}
	for k, v := range want {
		got, ok := s[k]
		if !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	// Kind-specific counters are not reported for the other kind.
	for _, k := range []string{"iggy_connector_messages_consumed_total" + srcL, "iggy_connector_messages_produced_total" + snkL} {
		if _, ok := s[k]; ok {
			t.Errorf("%s reported", k)
		}
	}
	if _, ok := s["iggy_connectors_iggy_reconnects_total"]; !ok {
		t.Error("iggy_connectors_iggy_reconnects_total missing")
	}
	// Scraping twice does not double anything.
	if s2 := scrape(t, m); s2["iggy_connector_messages_consumed_total"+snkL] != 40 {
		t.Errorf("second scrape: consumed = %v", s2["iggy_connector_messages_consumed_total"+snkL])
	}
}

func TestObserverHistogram(t *testing.T) {
	m := New()
	o := m.Observer(config.KindSink, "pg")
	for _, d := range []time.Duration{30 * time.Microsecond, 2 * time.Millisecond, 2 * time.Millisecond, 7 * time.Second} {
		o.ObserveStage("ffi", d)
	}
	o.ObserveStage("total", time.Millisecond)
	s := scrape(t, m)
	const l = `connector_key="pg",connector_type="sink",stage="ffi"`
	for k, v := range map[string]float64{
		"iggy_connector_stage_duration_seconds_count{" + l + "}":                                              4,
		"iggy_connector_stage_duration_seconds_bucket{" + l + `,le="5e-05"}`:                                  1,
		"iggy_connector_stage_duration_seconds_bucket{" + l + `,le="0.001"}`:                                  1,
		"iggy_connector_stage_duration_seconds_bucket{" + l + `,le="0.005"}`:                                  3,
		"iggy_connector_stage_duration_seconds_bucket{" + l + `,le="5"}`:                                      3,
		"iggy_connector_stage_duration_seconds_bucket{" + l + `,le="+Inf"}`:                                   4,
		`iggy_connector_stage_duration_seconds_count{connector_key="pg",connector_type="sink",stage="total"}`: 1,
	} {
		if s[k] != v {
			t.Errorf("%s = %v, want %v", k, s[k], v)
		}
	}
	if got := s["iggy_connector_stage_duration_seconds_sum{"+l+"}"]; got < 7.004 || got > 7.0041 {
		t.Errorf("sum = %v", got)
	}
}

// NewInstance puts the constant instance label on every metric, the runtime's own and the
// connectors' alike.
func TestInstanceLabel(t *testing.T) {
	m := NewInstance("rt-1")
	m.Observer(config.KindSink, "pg").ObserveStage("ffi", time.Millisecond)
	s := scrape(t, m)
	n := 0
	for k := range s {
		if !strings.Contains(k, `instance="rt-1"`) {
			t.Errorf("%s has no instance label", k)
		}
		n++
	}
	if s[`iggy_connector_stage_duration_seconds_count{connector_key="pg",connector_type="sink",instance="rt-1",stage="ffi"}`] != 1 {
		t.Errorf("stage histogram without the instance label: %v", s)
	}
	if n < 10 {
		t.Errorf("only %d series scraped", n)
	}
	if s2 := scrape(t, New()); s2[`go_goroutines`] == 0 {
		t.Errorf("New: go_goroutines missing or labelled")
	}
}

// BenchmarkScrape100Connectors: one /metrics scrape with 50 sources and 50 sinks, each with
// errors at two stages and latency samples at four.
func BenchmarkScrape100Connectors(b *testing.B) {
	m := New()
	files := map[string]string{}
	for i := 0; i < 50; i++ {
		files[fmt.Sprintf("src%d.toml", i)] = sourceFile(fmt.Sprintf("src%d", i))
		files[fmt.Sprintf("snk%d.toml", i)] = sinkFile(fmt.Sprintf("snk%d", i))
	}
	eng := newEngineWith(b, m, files)
	m.Attach(eng)
	for _, c := range eng.Connectors() {
		c.Counters.AddError(pipeline.StagePlugin)
		c.Counters.AddError(pipeline.StageDecode)
		o := m.Observer(c.Kind, c.Key)
		for _, st := range []string{"prepare", "ffi", "commit", "total"} {
			o.ObserveStage(st, time.Millisecond)
		}
	}
	h := m.Handler()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkObserveStage: the cost the pipeline pays per stage and batch.
func BenchmarkObserveStage(b *testing.B) {
	o := New().Observer(config.KindSink, "pg")
	for b.Loop() {
		o.ObserveStage("ffi", time.Millisecond)
	}
}
