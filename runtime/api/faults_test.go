package api

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/iggy-go/connectors/runtime/config"
)

// TestCreatedVersionDoesNotRun (issue 18, item 2): a version created through the API is not
// active, so neither a restart, nor 40 concurrent restarts, nor a reload (SIGHUP) runs it; the
// API's "active", .active_versions.toml and the running config agree throughout.
func TestCreatedVersionDoesNotRun(t *testing.T) {
	s, eng, dir := newServer(t, defaultHTTP(), testFiles)
	h := s.Handler()
	jsonCT := map[string]string{"Content-Type": "application/json"}
	body := `{"enabled":true,"name":"Broken v1","path":"libdoes_not_exist_sink","streams":[{"stream":"s","topics":["t1"],"schema":"json"}]}`
	got := do(t, h, "POST", "/sinks/broken/configs", body, jsonCT)
	if created := decode[map[string]any](t, got); got.status != 200 || created["version"] != float64(1) || created["active"] != false {
		t.Fatalf("create: %d %s", got.status, got.body)
	}
	agree := func(when string) {
		t.Helper()
		if v := eng.Connector(config.KindSink, "broken").Config().Version; v != 0 {
			t.Errorf("%s: the sink runs version %d, want 0", when, v)
		}
		list := decode[[]map[string]any](t, do(t, h, "GET", "/sinks/broken/configs", "", nil))
		if len(list) != 2 || list[0]["active"] != true || list[1]["active"] != false {
			t.Errorf("%s: configs %v, want version 0 active and 1 not", when, list)
		}
		active, err := os.ReadFile(filepath.Join(dir, ".active_versions.toml"))
		if err != nil || !strings.Contains(string(active), "broken = 0") {
			t.Errorf("%s: .active_versions.toml = %q, %v; want broken = 0", when, active, err)
		}
	}
	agree("after create")
	if got := do(t, h, "POST", "/sinks/broken/restart", "", nil); got.status != 204 {
		t.Fatalf("restart: %d %s", got.status, got.body)
	}
	agree("after a restart")
	var wg sync.WaitGroup
	statuses := make(chan int, 40)
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- do(t, h, "POST", "/sinks/broken/restart", "", nil).status
		}()
	}
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != 204 {
			t.Errorf("concurrent restart: %d", st)
		}
	}
	agree("after 40 concurrent restarts")
	changed, err := eng.Reload(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range changed {
		if id == "sink/broken" {
			t.Errorf("reload changed sink/broken: %v", changed)
		}
	}
	agree("after a reload")
	// Activating version 1 is what makes it run, at the next restart.
	if got := do(t, h, "PUT", "/sinks/broken/configs/active", `{"version":1}`, jsonCT); got.status != 204 {
		t.Fatalf("activate: %d %s", got.status, got.body)
	}
	if got := do(t, h, "POST", "/sinks/broken/restart", "", nil); got.status != 204 {
		t.Fatalf("restart: %d %s", got.status, got.body)
	}
	if c := eng.Connector(config.KindSink, "broken").Config(); c.Version != 1 || c.Name != "Broken v1" {
		t.Errorf("after activating and restarting: version %d %q", c.Version, c.Name)
	}
}

// TestRestartWithInvalidFile (issue 18, item 4): restarting a connector whose file became invalid
// answers 400 naming the file and the parse error, and the running instance is left alone.
func TestRestartWithInvalidFile(t *testing.T) {
	s, eng, dir := newServer(t, defaultHTTP(), testFiles)
	c := eng.Connector(config.KindSink, "broken")
	id, cfg := c.PluginID(), c.Config()
	file := filepath.Join(dir, "broken.toml")
	for _, tc := range []struct{ name, body, msg string }{
		{"invalid TOML", strings.Replace(testFiles["broken.toml"], `schema = "json"`, `schema = "json`, 1), "invalid TOML"},
		{"invalid value", strings.Replace(testFiles["broken.toml"], `schema = "json"`, `schema = "jsn"`, 1), `streams[0].schema: invalid value "jsn"`},
	} {
		if err := os.WriteFile(file, []byte(tc.body), 0o644); err != nil {
			t.Fatal(err)
		}
		got := do(t, s.Handler(), "POST", "/sinks/broken/restart", "", nil)
		e := decode[errorBody](t, got)
		if got.status != 400 || e.Code != codeInvalidConfig || !strings.Contains(e.Reason, file) || !strings.Contains(e.Reason, tc.msg) {
			t.Errorf("%s: restart = %d %s; want 400 %s naming %s and %q", tc.name, got.status, got.body, codeInvalidConfig, file, tc.msg)
		}
		if c2 := eng.Connector(config.KindSink, "broken"); c2 != c || c.PluginID() != id || c.Config() != cfg {
			t.Errorf("%s: the refused restart touched the running connector (plugin id %d -> %d)", tc.name, id, c.PluginID())
		}
	}
}

// TestConnectorKeyPattern (issue 18, item 5): every route with a connector key refuses a key that
// does not match config.KeyPattern with 400 invalid_key, before anything is looked up or written.
func TestConnectorKeyPattern(t *testing.T) {
	s, _, dir := newServer(t, defaultHTTP(), testFiles)
	before, _ := os.ReadDir(dir)
	sink := `{"enabled":true,"name":"n","path":"p","streams":[{"stream":"s","topics":["t"],"schema":"json"}]}`
	for _, key := range []string{strings.Repeat("k", 300), "a\n\"]", ".hidden", "a b", "x\x00", "-x"} {
		for _, r := range s.Routes() {
			if !strings.Contains(r.Path, "{key}") {
				continue
			}
			path := strings.NewReplacer("{key}", url.PathEscape(key), "{version}", "0").Replace(r.Path)
			body, hdr := "", map[string]string(nil)
			if r.Method == "POST" || r.Method == "PUT" {
				body, hdr = sink, map[string]string{"Content-Type": "application/json"}
				if r.Method == "PUT" {
					body = `{"version":0}`
				}
			}
			got := do(t, s.Handler(), r.Method, path, body, hdr)
			e := decode[errorBody](t, got)
			if got.status != 400 || e.Code != "invalid_key" || !strings.Contains(e.Reason, "connector key") {
				t.Errorf("%s %s: %d %s; want 400 invalid_key", r.Method, r.Path, got.status, got.body)
			}
			if strings.ContainsAny(got.body, "\n\x00") {
				t.Errorf("%s %s: the answer carries a raw control character: %q", r.Method, r.Path, got.body)
			}
		}
	}
	if after, _ := os.ReadDir(dir); len(after) != len(before) {
		t.Errorf("files were written for invalid keys: %d entries, was %d", len(after), len(before))
	}
	// A valid key still works.
	if got := do(t, s.Handler(), "POST", "/sinks/pg-cdc.v2/configs", sink, map[string]string{"Content-Type": "application/json"}); got.status != 200 {
		t.Errorf("valid key: %d %s", got.status, got.body)
	}
}

// TestReadyWithRejectedConfigs (issue 18, item 9): a runtime whose connector files were rejected
// is not ready, and what /ready says depends on the caller: the error text only with the api-key,
// the names only when no api_key is set, the status only to a caller without the configured key.
func TestReadyWithRejectedConfigs(t *testing.T) {
	files := map[string]string{
		"bad.toml":    strings.NewReplacer(`schema = "json"`, `schema = "jsn"`, `key = "broken"`, `key = "bad"`).Replace(testFiles["broken.toml"]),
		"broken.toml": testFiles["broken.toml"],
	}
	for _, apiKey := range []string{"", "s3cret"} {
		h := defaultHTTP()
		h.APIKey = apiKey
		s, _, dir := newServer(t, h, files)
		bad := filepath.Join(dir, "bad.toml")
		anon := do(t, s.Handler(), "GET", "/ready", "", nil)
		body := decode[readyBody](t, anon)
		if anon.status != 503 || body.Status != "not_ready" {
			t.Errorf("api_key %q: anonymous /ready = %d %s", apiKey, anon.status, anon.body)
		}
		// Never error text without the key: not the plugin loader's, not the config parser's.
		for _, leak := range []string{"jsn", "libdoes_not_exist_sink", "not found", "invalid value"} {
			if strings.Contains(anon.body, leak) {
				t.Errorf("api_key %q: anonymous /ready carries %q: %s", apiKey, leak, anon.body)
			}
		}
		if apiKey == "" {
			want := fmt.Sprintf("[iggy: not connected to 127.0.0.1:1 connector config rejected: %s sink broken: error]", bad)
			if fmt.Sprint(body.NotReady) != want {
				t.Errorf("/ready without api_key: %q, want %s", body.NotReady, want)
			}
			continue
		}
		if len(body.NotReady) != 0 {
			t.Errorf("/ready without the configured key: %q, want the status only", body.NotReady)
		}
		withKey := decode[readyBody](t, do(t, s.Handler(), "GET", "/ready", "", map[string]string{"api-key": apiKey}))
		if len(withKey.NotReady) != 3 || !strings.HasPrefix(withKey.NotReady[1], "connector config rejected: "+bad+`: streams[0].schema: invalid value "jsn"`) ||
			!strings.HasPrefix(withKey.NotReady[2], "sink broken: error: ") {
			t.Errorf("/ready with the key: %q", withKey.NotReady)
		}
	}
}

// TestDocsSayReadyIsOpen (issue 18, item 9): the code serves /ready without the api-key (TestAuth),
// and docs/openapi.yaml, docs/configuration.md and configs/config.toml all say so.
func TestDocsSayReadyIsOpen(t *testing.T) {
	read := func(parts ...string) string {
		b, err := os.ReadFile(filepath.Join(append([]string{"..", ".."}, parts...)...))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var doc struct {
		Paths map[string]struct {
			Get struct {
				Security *[]any `yaml:"security"`
			} `yaml:"get"`
		} `yaml:"paths"`
	}
	if err := yaml.Unmarshal([]byte(read("docs", "openapi.yaml")), &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/health", "/ready"} {
		if sec := doc.Paths[p].Get.Security; sec == nil || len(*sec) != 0 {
			t.Errorf("docs/openapi.yaml: GET %s is not marked open (security: [])", p)
		}
	}
	for _, line := range strings.Split(read("docs", "configuration.md"), "\n") {
		if strings.HasPrefix(line, "| `http.api_key`") && !strings.Contains(line, "`/`, `/health` and `/ready`") {
			t.Errorf("docs/configuration.md does not list /ready as open: %s", line)
		}
	}
	toml := read("configs", "config.toml")
	if i := strings.Index(toml, "api_key ="); i < 0 || !strings.Contains(toml[max(0, i-300):i], "/, /health and /ready") {
		t.Errorf("configs/config.toml: the comment of api_key does not list /ready as open")
	}
}
