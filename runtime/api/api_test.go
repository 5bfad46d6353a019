package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/runtime/config/provider"
	"github.com/iggy-go/connectors/runtime/engine"
	"github.com/iggy-go/connectors/runtime/metrics"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Connector files of the unit tests. No Iggy server is needed: "broken" names a plugin that does
// not exist (the engine puts it in status error before it would connect to Iggy) and "off" is
// disabled.
var testFiles = map[string]string{
	"broken.toml": `
type = "sink"
key = "broken"
enabled = true
version = 0
name = "Broken sink"
path = "libdoes_not_exist_sink"
[[streams]]
stream = "s"
topics = ["t1", "t2"]
schema = "json"
[plugin_config]
target = "x"
`,
	"off.toml": `
type = "source"
key = "off"
enabled = false
version = 3
name = "Disabled source"
path = "libdoes_not_exist_source"
plugin_config_format = "yaml"
[[streams]]
stream = "s"
topic = "t"
schema = "json"
[plugin_config]
interval = "1s"
nested = { a = 1, b = ["x", "y"] }
[transforms.add_fields]
enabled = true
[[transforms.add_fields.fields]]
key = "k"
value.static = "v"
[transforms.delete_fields]
enabled = false
fields = ["gone"]
`,
}

// newEngine starts a real engine on a local config directory holding files; Iggy is unreachable.
func newEngine(t *testing.T, files map[string]string) (*engine.Engine, string) {
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
	prov, err := provider.New(cfg.Connectors, provider.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Config: cfg, Provider: prov, Logger: quiet(), PluginDirs: []string{}, StopTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eng.Stop)
	// Wait for the broken sink to reach its final status.
	deadline := time.Now().Add(5 * time.Second)
	for _, c := range eng.Connectors() {
		for c.Config().Enabled && c.State.Status() == "starting" && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return eng, dir
}

func newServer(t *testing.T, h config.HTTPConfig, files map[string]string) (*Server, *engine.Engine, string) {
	t.Helper()
	eng, dir := newEngine(t, files)
	var m *metrics.Metrics
	if h.Metrics.Enabled {
		m = metrics.New()
		m.Attach(eng)
	}
	s, err := New(Options{HTTP: h, Engine: eng, Metrics: m, Logger: quiet(), Version: "1.2.3-dev"})
	if err != nil {
		t.Fatal(err)
	}
	return s, eng, dir
}

type resp struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, h http.Handler, method, path, body string, header map[string]string) resp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return resp{w.Code, w.Header(), w.Body.String()}
}

func decode[T any](t *testing.T, r resp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return v
}

func defaultHTTP() config.HTTPConfig { return config.Default().HTTP }

// TestOpenAPIMatchesRoutes: every route the server registers is in docs/openapi.yaml, and every
// operation there is served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	h := defaultHTTP()
	h.Metrics.Enabled = true
	s, _, _ := newServer(t, h, nil)
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	var documented, served []string
	for path, ops := range doc.Paths {
		for op := range ops {
			switch op {
			case "get", "put", "post", "delete", "patch", "head", "options":
				documented = append(documented, strings.ToUpper(op)+" "+path)
			}
		}
	}
	for _, r := range s.Routes() {
		served = append(served, r.Method+" "+r.Path)
	}
	sort.Strings(documented)
	sort.Strings(served)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is served but not in docs/openapi.yaml", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("docs/openapi.yaml documents %s, which is not served", r)
		}
	}
	if len(served) != 4+1+2*11 {
		t.Errorf("%d routes served, want 27: %v", len(served), served)
	}
}

// TestAuth: with an api_key every route but /, /health and /ready answers 401 (empty body) without
// the header or with a wrong one.
func TestAuth(t *testing.T) {
	h := defaultHTTP()
	h.APIKey = "s3cret"
	h.Metrics.Enabled = true
	s, _, _ := newServer(t, h, testFiles)
	for _, r := range s.Routes() {
		path := strings.NewReplacer("{key}", "broken", "{version}", "0").Replace(r.Path)
		open := path == "/" || path == "/health" || path == "/ready"
		for _, key := range []string{"", "wrong", "s3cret "} {
			hdr := map[string]string{}
			if key != "" {
				hdr["api-key"] = key
			}
			got := do(t, s.Handler(), r.Method, path, "", hdr)
			if open && got.status == http.StatusUnauthorized {
				t.Errorf("%s %s with key %q: 401, want open", r.Method, path, key)
			}
			if !open && (got.status != http.StatusUnauthorized || got.body != "") {
				t.Errorf("%s %s with key %q: %d %q, want 401 and an empty body", r.Method, path, key, got.status, got.body)
			}
		}
		if open || r.Method != "GET" {
			continue
		}
		if got := do(t, s.Handler(), r.Method, path, "", map[string]string{"api-key": "s3cret"}); got.status == http.StatusUnauthorized {
			t.Errorf("GET %s with the right key: 401", path)
		}
	}
	// /ready is open, but the reasons only go to callers with the key.
	anon := decode[readyBody](t, do(t, s.Handler(), "GET", "/ready", "", nil))
	withKey := decode[readyBody](t, do(t, s.Handler(), "GET", "/ready", "", map[string]string{"api-key": "s3cret"}))
	if anon.Status != "not_ready" || len(anon.NotReady) != 0 {
		t.Errorf("anonymous /ready: %+v, want not_ready without reasons", anon)
	}
	if withKey.Status != "not_ready" || len(withKey.NotReady) != 2 ||
		!strings.HasPrefix(withKey.NotReady[0], "iggy: not connected to 127.0.0.1:1") ||
		!strings.HasPrefix(withKey.NotReady[1], "sink broken: error: ") {
		t.Errorf("/ready with key: %+v", withKey)
	}
}

func TestConnectorEndpoints(t *testing.T) {
	s, _, _ := newServer(t, defaultHTTP(), testFiles)
	h := s.Handler()

	if got := do(t, h, "GET", "/", "", nil); got.status != 200 || got.body != "Connector Runtime API" {
		t.Errorf("GET /: %d %q", got.status, got.body)
	}
	if got := do(t, h, "GET", "/health", "", nil); got.status != 200 || got.body != `{"status":"healthy"}` {
		t.Errorf("GET /health: %d %q", got.status, got.body)
	}
	if got := do(t, h, "GET", "/nope", "", nil); got.status != 404 {
		t.Errorf("GET /nope: %d", got.status)
	}
	if got := do(t, h, "GET", "/ready", "", nil); got.status != 503 {
		t.Errorf("GET /ready: %d %s", got.status, got.body)
	}

	sinks := decode[[]map[string]any](t, do(t, h, "GET", "/sinks", "", nil))
	if len(sinks) != 1 {
		t.Fatalf("/sinks: %v", sinks)
	}
	b := sinks[0]
	le, _ := b["last_error"].(map[string]any)
	if b["key"] != "broken" || b["name"] != "Broken sink" || b["enabled"] != true || b["status"] != "error" ||
		b["path"] != "libdoes_not_exist_sink" || b["id"] != float64(1) || le == nil ||
		!strings.Contains(le["message"].(string), "libdoes_not_exist_sink") {
		t.Errorf("/sinks[0] = %v", b)
	}
	if ts := int64(le["timestamp"].(float64)); time.Since(time.UnixMicro(ts)) > time.Minute || time.Since(time.UnixMicro(ts)) < 0 {
		t.Errorf("last_error.timestamp %d is not a recent µs timestamp", ts)
	}
	if _, ok := b["plugin_config_format"]; ok {
		t.Errorf("plugin_config_format present although not configured: %v", b)
	}
	sources := decode[[]map[string]any](t, do(t, h, "GET", "/sources", "", nil))
	if len(sources) != 1 || sources[0]["key"] != "off" || sources[0]["enabled"] != false || sources[0]["status"] != "stopped" ||
		sources[0]["id"] != float64(0) || sources[0]["plugin_config_format"] != "yaml" || sources[0]["last_error"] != nil {
		t.Errorf("/sources = %v", sources)
	}

	det := decode[map[string]any](t, do(t, h, "GET", "/sinks/broken", "", nil))
	st, _ := det["streams"].([]any)
	if det["key"] != "broken" || len(st) != 1 || st[0].(map[string]any)["topics"].([]any)[1] != "t2" {
		t.Errorf("/sinks/broken = %v", det)
	}
	det = decode[map[string]any](t, do(t, h, "GET", "/sources/off", "", nil))
	if st, _ := det["streams"].([]any); len(st) != 1 || st[0].(map[string]any)["topic"] != "t" {
		t.Errorf("/sources/off = %v", det)
	}

	tr := do(t, h, "GET", "/sources/off/transforms", "", nil)
	want := `[{"type":"add_fields","config":{"enabled":true,"fields":[{"key":"k","value":{"static":"v"}}]}},` +
		`{"type":"delete_fields","config":{"enabled":false,"fields":["gone"]}}]`
	if tr.status != 200 || tr.body != want {
		t.Errorf("/sources/off/transforms = %d %s\nwant %s", tr.status, tr.body, want)
	}
	if tr := do(t, h, "GET", "/sinks/broken/transforms", "", nil); tr.body != "[]" {
		t.Errorf("/sinks/broken/transforms = %s, want []", tr.body)
	}

	for _, c := range []struct{ path, code string }{
		{"/sinks/nope", "sink_not_found"}, {"/sources/nope", "source_not_found"},
		{"/sinks/nope/transforms", "sink_not_found"}, {"/sources/nope/configs/active", "source_not_found"},
		{"/sinks/nope/configs", "sink_not_found"}, {"/sinks/nope/configs/plugin", "sink_not_found"},
		{"/sinks/broken/configs/7", "sink_config_not_found"}, {"/sources/off/configs/0", "source_config_not_found"},
	} {
		got := do(t, h, "GET", c.path, "", nil)
		e := decode[errorBody](t, got)
		if got.status != 404 || e.Code != c.code || e.Reason == "" {
			t.Errorf("GET %s = %d %s, want 404 %s", c.path, got.status, got.body, c.code)
		}
	}
	if got := do(t, h, "GET", "/sinks/broken/configs/x1", "", nil); got.status != 400 || !strings.Contains(got.body, "x1") {
		t.Errorf("GET configs/x1 = %d %q, want a plain 400", got.status, got.body)
	}
}

func TestPluginConfigRendering(t *testing.T) {
	s, _, _ := newServer(t, defaultHTTP(), testFiles)
	h := s.Handler()
	for _, c := range []struct {
		path, ct, body string
		status         int
	}{
		{"/sources/off/configs/plugin", "application/yaml", "interval: 1s\nnested:\n    a: 1\n    b:\n        - x\n        - \"y\"\n", 200}, // default: plugin_config_format
		{"/sources/off/configs/plugin?format=json", "application/json", `{"interval":"1s","nested":{"a":1,"b":["x","y"]}}`, 200},
		{"/sources/off/configs/plugin?format=text", "text/plain", `{"interval":"1s","nested":{"a":1,"b":["x","y"]}}`, 200},
		{"/sources/off/configs/plugin?format=TOML", "application/toml", "interval = '1s'\n\n[nested]\na = 1\nb = ['x', 'y']\n", 200},
		{"/sinks/broken/configs/plugin", "application/toml", "target = 'x'\n", 200}, // default: toml
		{"/sinks/broken/configs/plugin?format=xml", "text/plain; charset=utf-8", "", 400},
	} {
		got := do(t, h, "GET", c.path, "", nil)
		if got.status != c.status || got.header.Get("Content-Type") != c.ct || (c.body != "" && got.body != c.body) {
			t.Errorf("GET %s = %d %q %q\nwant %d %q %q", c.path, got.status, got.header.Get("Content-Type"), got.body, c.status, c.ct, c.body)
		}
	}
	// No plugin_config: 404 with an empty body.
	files := map[string]string{"bare.toml": "type = \"sink\"\nkey = \"bare\"\nenabled = false\nversion = 0\nname = \"n\"\npath = \"p\"\n[[streams]]\nstream = \"s\"\ntopics = [\"t\"]\nschema = \"raw\"\n"}
	s2, _, _ := newServer(t, defaultHTTP(), files)
	if got := do(t, s2.Handler(), "GET", "/sinks/bare/configs/plugin?format=json", "", nil); got.status != 404 || got.body != "" {
		t.Errorf("no plugin_config: %d %q, want 404 and no body", got.status, got.body)
	}
}

func TestConfigVersions(t *testing.T) {
	s, eng, dir := newServer(t, defaultHTTP(), testFiles)
	h := s.Handler()
	jsonCT := map[string]string{"Content-Type": "application/json"}

	list := decode[[]map[string]any](t, do(t, h, "GET", "/sources/off/configs", "", nil))
	if len(list) != 1 || list[0]["version"] != float64(3) || list[0]["active"] != true || list[0]["key"] != "off" {
		t.Fatalf("configs of off: %v", list)
	}
	body := `{"enabled":false,"name":"Disabled source v4","path":"libdoes_not_exist_source","streams":[{"stream":"s","topic":"t2","schema":"raw"}],"plugin_config":{"interval":"2s"}}`
	got := do(t, h, "POST", "/sources/off/configs", body, jsonCT)
	created := decode[map[string]any](t, got)
	if got.status != 200 || created["version"] != float64(4) || created["active"] != false || created["key"] != "off" ||
		created["name"] != "Disabled source v4" {
		t.Fatalf("create: %d %s", got.status, got.body)
	}
	if _, err := os.Stat(filepath.Join(dir, "source_off_4.toml")); err != nil {
		t.Errorf("created version not written: %v", err)
	}
	list = decode[[]map[string]any](t, do(t, h, "GET", "/sources/off/configs", "", nil))
	if len(list) != 2 || list[0]["active"] != true || list[1]["version"] != float64(4) || list[1]["active"] != false {
		t.Errorf("after create: %v", list)
	}
	// Bad bodies.
	for _, c := range []struct {
		body, ct, code string
		status         int
	}{
		{body, "", codeUnsupportedMed, 415},
		{body, "text/plain", codeUnsupportedMed, 415},
		{`{"enabled":true`, "application/json", codeInvalidConfig, 400},
		{`{"enabled":true,"name":"x","path":"p","streams":[{"stream":"s","topic":"t","schema":"yaml"}]}`, "application/json", codeInvalidConfig, 400},
	} {
		got := do(t, h, "POST", "/sources/off/configs", c.body, map[string]string{"Content-Type": c.ct})
		if e := decode[errorBody](t, got); got.status != c.status || e.Code != c.code {
			t.Errorf("POST %q as %q = %d %s, want %d %s", c.body, c.ct, got.status, got.body, c.status, c.code)
		}
	}
	if got := do(t, h, "POST", "/sources/off/configs", `{"enabled":true,"name":"x","path":"p","streams":[{"stream":"s","topic":"t","schema":"yaml"}]}`, jsonCT); !strings.Contains(got.body, "streams[0].schema") {
		t.Errorf("invalid config reason does not name the key: %s", got.body)
	}

	// Activate: recorded, not applied until a restart.
	for _, c := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"version":9}`, 404, "source_config_not_found"},
		{`{"versio":4}`, 400, codeBadRequest},
		{`{"version":-1}`, 400, codeBadRequest},
		{`{"version":4}`, 204, ""},
	} {
		got := do(t, h, "PUT", "/sources/off/configs/active", c.body, jsonCT)
		if got.status != c.status || (c.code != "" && decode[errorBody](t, got).Code != c.code) {
			t.Errorf("PUT active %s = %d %s, want %d %s", c.body, got.status, got.body, c.status, c.code)
		}
	}
	if active := decode[map[string]any](t, do(t, h, "GET", "/sources/off/configs/active", "", nil)); active["version"] != float64(3) || active["active"] != true {
		t.Errorf("running config changed without a restart: %v", active)
	}
	if got := do(t, h, "POST", "/sources/off/restart", "", nil); got.status != 204 {
		t.Fatalf("restart: %d %s", got.status, got.body)
	}
	if v := eng.Connector(config.KindSource, "off").Config().Version; v != 4 {
		t.Errorf("after restart the source runs version %d, want 4", v)
	}
	if c := decode[map[string]any](t, do(t, h, "GET", "/sources/off/configs/4", "", nil)); c["active"] != true || c["name"] != "Disabled source v4" {
		t.Errorf("configs/4 after restart: %v", c)
	}
	if c := decode[map[string]any](t, do(t, h, "GET", "/sources/off/configs/3", "", nil)); c["active"] != false {
		t.Errorf("configs/3 after restart: %v", c)
	}
	// Delete.
	if got := do(t, h, "DELETE", "/sources/off/configs?version=3", "", nil); got.status != 204 {
		t.Errorf("delete 3: %d %s", got.status, got.body)
	}
	if got := do(t, h, "DELETE", "/sources/off/configs?version=3", "", nil); got.status != 404 || decode[errorBody](t, got).Code != "source_config_not_found" {
		t.Errorf("delete 3 again: %d %s", got.status, got.body)
	}
	if got := do(t, h, "DELETE", "/sources/off/configs?version=x", "", nil); got.status != 400 {
		t.Errorf("delete version=x: %d", got.status)
	}
	if got := do(t, h, "GET", "/sources/off/configs/3", "", nil); got.status != 404 {
		t.Errorf("configs/3 after delete: %d", got.status)
	}

	// A connector created through the API: listed by configs, started by restart.
	newSink := `{"enabled":true,"name":"New","path":"libmissing_too","streams":[{"stream":"s","topics":["t"],"schema":"json"}]}`
	if got := do(t, h, "POST", "/sinks/fresh/configs", newSink, jsonCT); got.status != 200 || decode[map[string]any](t, got)["version"] != float64(0) {
		t.Fatalf("create fresh: %d %s", got.status, got.body)
	}
	if list := decode[[]map[string]any](t, do(t, h, "GET", "/sinks/fresh/configs", "", nil)); len(list) != 1 || list[0]["active"] != false {
		t.Errorf("configs of a connector the runtime does not run: %v", list)
	}
	if got := do(t, h, "GET", "/sinks/fresh", "", nil); got.status != 404 {
		t.Errorf("fresh before restart: %d", got.status)
	}
	if got := do(t, h, "POST", "/sinks/fresh/restart", "", nil); got.status != 204 {
		t.Fatalf("restart fresh: %d %s", got.status, got.body)
	}
	if got := do(t, h, "GET", "/sinks/fresh", "", nil); got.status != 200 || decode[map[string]any](t, got)["name"] != "New" {
		t.Errorf("fresh after restart: %d %s", got.status, got.body)
	}
	if got := do(t, h, "POST", "/sinks/ghost/restart", "", nil); got.status != 404 || decode[errorBody](t, got).Code != "sink_not_found" {
		t.Errorf("restart of an unknown sink: %d %s", got.status, got.body)
	}
	// Restarting the broken sink gives it a new plugin id.
	before := eng.Connector(config.KindSink, "broken").PluginID()
	if got := do(t, h, "POST", "/sinks/broken/restart", "", nil); got.status != 204 {
		t.Errorf("restart broken: %d %s", got.status, got.body)
	}
	if after := eng.Connector(config.KindSink, "broken").PluginID(); after <= before {
		t.Errorf("plugin id %d after restart, was %d", after, before)
	}
}

func TestStats(t *testing.T) {
	s, eng, _ := newServer(t, defaultHTTP(), testFiles)
	eng.Connector(config.KindSink, "broken").Counters.Consumed.Add(7)
	eng.Connector(config.KindSink, "broken").Counters.AddError("plugin")
	got := do(t, s.Handler(), "GET", "/stats", "", nil)
	var st map[string]any
	if err := json.Unmarshal([]byte(got.body), &st); err != nil {
		t.Fatal(err)
	}
	if st["connectors_runtime_version"] != "1.2.3-dev" || st["connectors_runtime_version_semver"] != float64(1002003) ||
		st["process_id"] != float64(os.Getpid()) || st["sources_total"] != float64(1) || st["sources_running"] != float64(0) ||
		st["sinks_total"] != float64(1) || st["sinks_running"] != float64(0) {
		t.Errorf("/stats = %s", got.body)
	}
	if mem := st["memory_usage"].(float64); mem < 1<<20 || mem > st["total_memory"].(float64) {
		t.Errorf("memory_usage %v, total_memory %v", mem, st["total_memory"])
	}
	if rt := st["run_time"].(float64); rt <= 0 || st["start_time"].(float64) < float64(time.Now().Add(-time.Hour).UnixMicro()) {
		t.Errorf("run_time %v start_time %v", rt, st["start_time"])
	}
	conns := st["connectors"].([]any)
	src, sink := conns[0].(map[string]any), conns[1].(map[string]any)
	if src["key"] != "off" || src["connector_type"] != "source" || src["version"] != "unknown" || src["status"] != "stopped" ||
		src["messages_produced"] != float64(0) || src["messages_sent"] != float64(0) || src["messages_consumed"] != nil {
		t.Errorf("source stats %v", src)
	}
	if sink["key"] != "broken" || sink["connector_type"] != "sink" || sink["status"] != "error" ||
		sink["messages_consumed"] != float64(7) || sink["messages_processed"] != float64(0) || sink["errors"] != float64(1) ||
		sink["messages_filtered"] != float64(0) || sink["messages_produced"] != nil || sink["version_semver"] != nil {
		t.Errorf("sink stats %v", sink)
	}
}

func TestCORS(t *testing.T) {
	cases := []struct {
		name   string
		cors   config.CORSConfig
		origin string
		// expectations
		allowOrigin, allowMethods, allowHeaders, expose, creds string
	}{
		{"any origin", config.CORSConfig{Enabled: true, AllowedOrigins: []string{"*"}, AllowedMethods: []string{"get", "POST"},
			AllowedHeaders: []string{"content-type", ""}, ExposedHeaders: []string{""}},
			"https://a.example", "*", "GET,POST", "content-type", "", ""},
		{"listed origin", config.CORSConfig{Enabled: true, AllowedOrigins: []string{"https://a.example", "https://b.example"},
			AllowedMethods: []string{"GET"}, ExposedHeaders: []string{"x-total"}, AllowCredentials: true},
			"https://b.example", "https://b.example", "GET", "", "x-total", "true"},
		{"unlisted origin", config.CORSConfig{Enabled: true, AllowedOrigins: []string{"https://a.example"}, AllowedMethods: []string{"GET"}},
			"https://evil.example", "", "GET", "", "", ""},
		{"no origins", config.CORSConfig{Enabled: true, AllowedMethods: []string{"GET"}}, "https://a.example", "", "GET", "", "", ""},
		{"disabled", config.CORSConfig{AllowedOrigins: []string{"*"}}, "https://a.example", "", "", "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := defaultHTTP()
			h.APIKey = "k"
			h.CORS = c.cors
			s, _, _ := newServer(t, h, nil)
			pre := do(t, s.Handler(), "OPTIONS", "/sinks", "", map[string]string{"Origin": c.origin, "Access-Control-Request-Method": "GET"})
			if c.cors.Enabled {
				if pre.status != 200 || pre.header.Get("Access-Control-Allow-Origin") != c.allowOrigin ||
					pre.header.Get("Access-Control-Allow-Methods") != c.allowMethods ||
					pre.header.Get("Access-Control-Allow-Headers") != c.allowHeaders ||
					pre.header.Get("Access-Control-Allow-Credentials") != c.creds {
					t.Errorf("preflight: %d %v", pre.status, pre.header)
				}
			} else if pre.status != 401 {
				t.Errorf("OPTIONS without CORS: %d, want 401 (no preflight handling, key checked)", pre.status)
			}
			get := do(t, s.Handler(), "GET", "/sinks", "", map[string]string{"Origin": c.origin, "api-key": "k"})
			if get.status != 200 || get.header.Get("Access-Control-Allow-Origin") != c.allowOrigin ||
				get.header.Get("Access-Control-Expose-Headers") != c.expose || get.header.Get("Access-Control-Allow-Methods") != "" {
				t.Errorf("GET: %d %v", get.status, get.header)
			}
		})
	}
	for _, bad := range []config.CORSConfig{
		{Enabled: true, AllowedOrigins: []string{"https://a.example", "*"}},
		{Enabled: true, AllowedOrigins: []string{"*"}, AllowCredentials: true},
	} {
		if _, err := newCORS(bad); err == nil || !strings.Contains(err.Error(), "http.cors") {
			t.Errorf("newCORS(%+v) = %v, want an error naming http.cors", bad, err)
		}
	}
}

func TestMetricsEndpoint(t *testing.T) {
	eng, _ := newEngine(t, testFiles)
	m := metrics.New()
	m.Attach(eng)
	for _, c := range []struct {
		endpoint string
		wantErr  string
	}{
		{"/metrics", ""},
		{"/prom/scrape", ""},
		{"/health", "collides"},
		{"/sinks", "collides"},
		{"/m/{x}", "plain path"},
	} {
		h := defaultHTTP()
		h.Metrics = config.MetricsConfig{Enabled: true, Endpoint: c.endpoint}
		s, err := New(Options{HTTP: h, Engine: eng, Metrics: m, Logger: quiet()})
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), "http.metrics.endpoint") {
				t.Errorf("endpoint %q: err %v, want %q", c.endpoint, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("endpoint %q: %v", c.endpoint, err)
		}
		got := do(t, s.Handler(), "GET", c.endpoint, "", nil)
		if got.status != 200 || !strings.Contains(got.body, `iggy_connectors_sinks_total 1`) ||
			!strings.Contains(got.body, `iggy_connector_running{connector_key="broken",connector_type="sink"} 0`) {
			t.Errorf("GET %s: %d\n%s", c.endpoint, got.status, got.body)
		}
	}
	// Disabled: no route.
	s, err := New(Options{HTTP: defaultHTTP(), Engine: eng, Metrics: m, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if got := do(t, s.Handler(), "GET", "/metrics", "", nil); got.status != 404 {
		t.Errorf("metrics disabled: GET /metrics = %d", got.status)
	}
}

func TestSemver(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64 // -1 = none
	}{
		{"0.3.0", 3000}, {"1.2.3", 1002003}, {"0.5.0-edge.4", 5000}, {"v2.0.1+build", 2000001},
		{"0.1.0-dev", 1000}, {"1.2", -1}, {"unknown", -1}, {"1.1000.0", -1}, {"", -1},
	} {
		got := semver(c.in)
		if (got == nil) != (c.want < 0) || (got != nil && int64(*got) != c.want) {
			t.Errorf("semver(%q) = %v, want %d", c.in, got, c.want)
		}
	}
}

func TestConfigJSONActive(t *testing.T) {
	cfg := config.NewConnectorConfig(config.KindSink)
	cfg.Key, cfg.Name, cfg.Path = "k", "n", "p"
	b, err := configJSON(cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if m["active"] != true || m["key"] != "k" || !strings.HasSuffix(string(b), `,"active":true}`) {
		t.Errorf("configJSON = %s", b)
	}
}

// logRecorder collects log messages.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// TestServeAndExposureWarnings: Listen/Serve/Shutdown over a real socket, and the warnings for an
// API reachable beyond loopback without api_key or TLS.
func TestServeAndExposureWarnings(t *testing.T) {
	eng, _ := newEngine(t, nil)
	for _, c := range []struct {
		addr, key string
		warnings  int
	}{
		{"127.0.0.1:0", "", 0},
		{"0.0.0.0:0", "", 2},
		{"0.0.0.0:0", "k", 1},
	} {
		rec := &logRecorder{}
		h := defaultHTTP()
		h.Address, h.APIKey = c.addr, c.key
		s, err := New(Options{HTTP: h, Engine: eng, Logger: slog.New(rec)})
		if err != nil {
			t.Fatal(err)
		}
		addr, err := s.Listen()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Serve(); err != nil {
			t.Fatal(err)
		}
		port := addr.(*net.TCPAddr).Port
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port))
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s: GET /health: %v %v", c.addr, resp, err)
		} else {
			resp.Body.Close()
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		if _, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port)); err == nil {
			t.Errorf("%s: still serving after Shutdown", c.addr)
		}
		n := 0
		for _, m := range rec.msgs {
			if strings.Contains(m, "beyond loopback") {
				n++
			}
		}
		if n != c.warnings {
			t.Errorf("%s key %q: %d exposure warnings, want %d: %q", c.addr, c.key, n, c.warnings, rec.msgs)
		}
	}
	// A busy port is an error naming http.address.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	h := defaultHTTP()
	h.Address = l.Addr().String()
	s, err := New(Options{HTTP: h, Engine: eng, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Listen(); err == nil || !strings.Contains(err.Error(), "http.address") {
		t.Errorf("Listen on a busy port: %v", err)
	}
}
