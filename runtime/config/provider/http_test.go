package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/config"
)

// configService is a config service implementing the HTTP provider's documented contract
// (spec §4.5) over an in-memory store, with optional response wrapping, a required header and
// injected failures. Configs are kept as the JSON text they were given, so key order (transforms)
// is what a real service would send.
type configService struct {
	mu       sync.Mutex
	configs  map[string]map[uint64]string // "sinks/pg" → version → config JSON
	active   map[string]uint64
	created  map[string]time.Time
	wrap     bool   // {"data": ..., "error": null}
	prefix   string // path prefix (custom templates)
	header   string // required "X-Api-Key" value; "" = none
	failures []int  // statuses to answer before serving normally (per request, in order)
	requests atomic.Int64
	bodies   []string // request bodies received (POST/PUT)
	delay    time.Duration
}

func newConfigService() *configService {
	return &configService{configs: map[string]map[uint64]string{}, active: map[string]uint64{}, created: map[string]time.Time{}}
}

func (s *configService) put(plural, key string, version uint64, cfgJSON string) {
	id := plural + "/" + key
	if s.configs[id] == nil {
		s.configs[id] = map[uint64]string{}
	}
	s.configs[id][version] = cfgJSON
	s.created[fmt.Sprintf("%s/%d", id, version)] = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
}

func (s *configService) reply(w http.ResponseWriter, status int, data string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if s.wrap {
		fmt.Fprintf(w, `{"meta":{"ok":true},"data":%s,"error":null}`, data)
		return
	}
	io.WriteString(w, data)
}

func (s *configService) activeOf(id string) (uint64, bool) {
	if v, ok := s.active[id]; ok {
		return v, true
	}
	var best uint64
	found := false
	for v := range s.configs[id] {
		if !found || v > best {
			best, found = v, true
		}
	}
	return best, found
}

func (s *configService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) > 0 {
		st := s.failures[0]
		s.failures = s.failures[1:]
		http.Error(w, "injected failure", st)
		return
	}
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	if s.header != "" && r.Header.Get("X-Api-Key") != s.header {
		http.Error(w, "missing api key", http.StatusUnauthorized)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if len(body) > 0 {
		s.bodies = append(s.bodies, string(body))
	}
	path := strings.TrimPrefix(r.URL.Path, s.prefix)
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && path == "/configs/active":
		out := map[string]map[string]json.RawMessage{"sinks": {}, "sources": {}}
		for id := range s.configs {
			plural, key, _ := strings.Cut(id, "/")
			if v, ok := s.activeOf(id); ok {
				out[plural][key] = json.RawMessage(s.configs[id][v])
			}
		}
		b, _ := json.Marshal(out)
		s.reply(w, 200, string(b))
	case r.Method == http.MethodGet && path == "/configs/active/versions":
		out := map[string]map[string]any{"sinks": {}, "sources": {}}
		for id := range s.configs {
			plural, key, _ := strings.Cut(id, "/")
			v, _ := s.activeOf(id)
			out[plural][key] = map[string]any{"version": v, "created_at": s.created[fmt.Sprintf("%s/%d", id, v)].Format(time.RFC3339)}
		}
		b, _ := json.Marshal(out)
		s.reply(w, 200, string(b))
	case len(parts) >= 3 && parts[2] == "configs" && (parts[0] == "sinks" || parts[0] == "sources"):
		id := parts[0] + "/" + parts[1]
		switch {
		case len(parts) == 3 && r.Method == http.MethodGet:
			var vs []uint64
			for v := range s.configs[id] {
				vs = append(vs, v)
			}
			sort.Slice(vs, func(i, j int) bool { return vs[i] > vs[j] }) // any order is allowed
			items := make([]string, len(vs))
			for i, v := range vs {
				items[i] = s.configs[id][v]
			}
			s.reply(w, 200, "["+strings.Join(items, ",")+"]")
		case len(parts) == 3 && r.Method == http.MethodPost:
			var m map[string]json.RawMessage
			if err := json.Unmarshal(body, &m); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			if _, has := m["key"]; has {
				http.Error(w, "create body must not carry key", 400)
				return
			}
			next := uint64(0)
			for v := range s.configs[id] {
				if v >= next {
					next = v + 1
				}
			}
			m["key"], _ = json.Marshal(parts[1])
			m["version"], _ = json.Marshal(next)
			b, _ := json.Marshal(m)
			s.put(parts[0], parts[1], next, string(b))
			s.reply(w, 200, string(b))
		case len(parts) == 3 && r.Method == http.MethodDelete:
			v, ok := s.activeOf(id)
			if q := r.URL.Query().Get("version"); q != "" {
				n, _ := strconv.ParseUint(q, 10, 64)
				v, ok = n, true
			}
			if _, exists := s.configs[id][v]; !ok || !exists {
				http.Error(w, "not found", 404)
				return
			}
			delete(s.configs[id], v)
			w.WriteHeader(http.StatusNoContent)
		case len(parts) == 4 && parts[3] == "active" && r.Method == http.MethodGet:
			v, ok := s.activeOf(id)
			if !ok {
				http.Error(w, "not found", 404)
				return
			}
			s.reply(w, 200, s.configs[id][v])
		case len(parts) == 4 && parts[3] == "active" && r.Method == http.MethodPut:
			var req struct{ Version *uint64 }
			if err := json.Unmarshal(body, &req); err != nil || req.Version == nil {
				http.Error(w, "bad body", 400)
				return
			}
			if _, ok := s.configs[id][*req.Version]; !ok {
				http.Error(w, "not found", 404)
				return
			}
			s.active[id] = *req.Version
			w.WriteHeader(http.StatusNoContent)
		case len(parts) == 4 && r.Method == http.MethodGet:
			v, err := strconv.ParseUint(parts[3], 10, 64)
			cfg, ok := s.configs[id][v]
			if err != nil || !ok {
				http.Error(w, "not found", 404)
				return
			}
			s.reply(w, 200, cfg)
		default:
			http.Error(w, "no route", 405)
		}
	default:
		http.Error(w, "no route "+r.URL.Path, 404)
	}
}

const pgV0 = `{"key":"pg","enabled":true,"version":0,"name":"pg v0","path":"libpg",
 "transforms":{"delete_fields":{"enabled":true,"fields":["a"]},"add_fields":{"enabled":true,"fields":[]}},
 "streams":[{"stream":"s","topics":["t"],"schema":"json","batch_length":10,"poll_interval":"5ms","consumer_group":null}],
 "plugin_config_format":"json","plugin_config":{"target_table":"x"},"verbose":false,"benchmark":false}`

const pgV1 = `{"key":"pg","enabled":false,"version":1,"name":"pg v1","path":"libpg","transforms":null,
 "streams":[{"stream":"s","topics":["t","u"],"schema":"raw"}],"plugin_config_format":null,"plugin_config":null}`

const rndV0 = `{"key":"rnd","enabled":true,"version":0,"name":"random","path":"librnd","transforms":null,
 "streams":[{"stream":"s","topic":"t","schema":"json","batch_length":100,"linger_time":"5ms"}],"plugin_config":{"interval":"1s"}}`

func startService(t *testing.T, s *configService) (*httptest.Server, config.ConnectorsConfig) {
	t.Helper()
	s.put("sinks", "pg", 0, pgV0)
	s.put("sinks", "pg", 1, pgV1)
	s.put("sources", "rnd", 0, rndV0)
	s.active["sinks/pg"] = 0
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c := config.Default().Connectors
	c.ConfigType, c.BaseURL = config.ConfigTypeHTTP, srv.URL
	c.Retry.InitialBackoff, c.Retry.MaxBackoff = config.Duration(time.Millisecond), config.Duration(5*time.Millisecond)
	return srv, c
}

func newHTTP(t *testing.T, c config.ConnectorsConfig) Provider {
	t.Helper()
	p, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.(*HTTP); !ok {
		t.Fatalf("New gave %T", p)
	}
	return p
}

func exerciseContract(t *testing.T, p Provider, svc *configService) {
	t.Helper()
	ctx := context.Background()
	snap, err := p.ActiveConfigs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Problems) != 0 || snap.Sinks["pg"].Version != 0 || snap.Sources["rnd"].Name != "random" {
		t.Fatalf("snapshot %v %v %v", snap.Sinks, snap.Sources, snap.Problems)
	}
	pg := snap.Sinks["pg"]
	if len(pg.Transforms) != 2 || pg.Transforms[0].Type != "delete_fields" || pg.SinkStreams[0].ConsumerGroup != "iggy-connect-sink-pg" || pg.PluginConfig["target_table"] != "x" {
		t.Errorf("pg %+v", pg)
	}
	cs, err := p.Configs(ctx, config.KindSink, "pg")
	if err != nil || fmt.Sprint(versions(cs)) != "[0 1]" || cs[1].Enabled || len(cs[1].PluginConfig) != 0 {
		t.Errorf("configs %v, %v", cs, err)
	}
	c, err := p.Config(ctx, config.KindSink, "pg", 1)
	if err != nil || c.Name != "pg v1" || fmt.Sprint(c.SinkStreams[0].Topics) != "[t u]" {
		t.Errorf("config v1 %v, %v", c, err)
	}
	if _, err := p.Config(ctx, config.KindSink, "pg", 9); !errors.Is(err, ErrNotFound) {
		t.Errorf("404 must be not found: %v", err)
	}
	c, err = p.ActiveConfig(ctx, config.KindSink, "pg")
	if err != nil || c.Version != 0 {
		t.Errorf("active %v, %v", c, err)
	}
	if _, err := p.ActiveConfig(ctx, config.KindSource, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("active of a missing key: %v", err)
	}
	av, err := p.ActiveVersions(ctx)
	if err != nil || av.Sinks["pg"].Version != 0 || !av.Sinks["pg"].CreatedAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) || av.Sources["rnd"].Version != 0 {
		t.Errorf("versions %+v, %v", av, err)
	}
	if err := p.SetActiveVersion(ctx, config.KindSink, "pg", 1); err != nil {
		t.Fatal(err)
	}
	if err := p.SetActiveVersion(ctx, config.KindSink, "pg", 5); !errors.Is(err, ErrNotFound) {
		t.Errorf("set missing: %v", err)
	}
	if c, _ := p.ActiveConfig(ctx, config.KindSink, "pg"); c == nil || c.Version != 1 {
		t.Errorf("after set active: %v", c)
	}
	created, err := p.Create(ctx, config.KindSource, "rnd", snap.Sources["rnd"])
	if err != nil || created.Version != 1 || created.Key != "rnd" || created.PluginConfig["interval"] != "1s" {
		t.Fatalf("created %v, %v", created, err)
	}
	if err := p.Delete(ctx, config.KindSink, "pg", ptr(uint64(0))); err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(ctx, config.KindSink, "pg", ptr(uint64(0))); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if err := p.Delete(ctx, config.KindSource, "rnd", nil); err != nil {
		t.Fatal(err)
	}
	if cs, _ := p.Configs(ctx, config.KindSource, "rnd"); fmt.Sprint(versions(cs)) != "[0]" {
		t.Errorf("delete without version must delete the active (highest) one: %v", versions(cs))
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	var sawSetActive, sawCreate bool
	for _, b := range svc.bodies {
		sawSetActive = sawSetActive || b == `{"version":1}`
		sawCreate = sawCreate || strings.Contains(b, `"name":"random"`) && !strings.Contains(b, `"version"`)
	}
	if !sawSetActive || !sawCreate {
		t.Errorf("request bodies %v", svc.bodies)
	}
}

func TestHTTPDirectResponses(t *testing.T) {
	svc := newConfigService()
	_, c := startService(t, svc)
	exerciseContract(t, newHTTP(t, c), svc)
}

func TestHTTPWrappedResponses(t *testing.T) {
	svc := newConfigService()
	svc.wrap = true
	_, c := startService(t, svc)
	c.Response = config.ResponseConfig{DataPath: "data", ErrorPath: "error"}
	exerciseContract(t, newHTTP(t, c), svc)
}

func TestHTTPResponseExtraction(t *testing.T) {
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body.Load().(string))
	}))
	defer srv.Close()
	c := config.Default().Connectors
	c.ConfigType, c.BaseURL = config.ConfigTypeHTTP, srv.URL
	ctx := context.Background()
	cases := []struct {
		name, data, errPath, body, wantErr string
	}{
		{"array index", "result.items.1", "", `{"result":{"items":[{}, ` + pgV0 + `]}}`, ""},
		{"deep path", "response.body.config", "", `{"response":{"body":{"config":` + pgV0 + `}}}`, ""},
		{"error field", "data", "error.message", `{"error":{"message":"Something went wrong"},"data":null}`, "API returned error: Something went wrong"},
		{"error not a string", "data", "error", `{"error":{"code":7},"data":null}`, `API returned error: {"code":7}`},
		{"null error is no error", "data", "error", `{"error":null,"data":` + pgV0 + `}`, ""},
		{"missing data path", "missing.path", "", `{"status":"ok","data":{}}`, `data path "missing.path" not found in response; response structure: { data, status }`},
		{"not json", "", "", `<html>`, "failed to parse JSON response"},
		{"invalid config", "", "", `{"key":"pg","enabled":"yes"}`, "enabled: expected a boolean"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.Response = config.ResponseConfig{DataPath: tc.data, ErrorPath: tc.errPath}
			body.Store(tc.body)
			got, err := newHTTP(t, c).Config(ctx, config.KindSink, "pg", 0)
			if tc.wantErr == "" {
				if err != nil || got.Name != "pg v0" || got.Transforms[0].Type != "delete_fields" {
					t.Errorf("%v, %v", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestHTTPRetries(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		failures  []int
		retry     bool
		attempts  uint32
		wantReqs  int64
		wantError string
	}{
		{"5xx then success", []int{503, 502}, true, 3, 3, ""},
		{"408 and 429 are transient", []int{408, 429}, true, 3, 3, ""},
		{"persistent 500 exhausts max_attempts retries", []int{500, 500, 500, 500, 500, 500}, true, 3, 4, "HTTP 500 Internal Server Error - injected failure"},
		{"4xx is not retried", []int{400}, true, 3, 1, "HTTP 400 Bad Request - injected failure"},
		{"retries disabled", []int{503}, false, 3, 1, "HTTP 503"},
		{"zero retries", []int{503}, true, 0, 1, "HTTP 503"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := newConfigService()
			_, c := startService(t, svc)
			svc.failures = tc.failures
			c.Retry.Enabled, c.Retry.MaxAttempts = tc.retry, tc.attempts
			snap, err := newHTTP(t, c).ActiveConfigs(ctx)
			if got := svc.requests.Load(); got != tc.wantReqs {
				t.Errorf("%d requests, want %d", got, tc.wantReqs)
			}
			if tc.wantError == "" {
				if err != nil || snap.Sinks["pg"] == nil {
					t.Errorf("%v, %v", snap, err)
				}
				return
			}
			var he *HTTPError
			if err == nil || !strings.Contains(err.Error(), tc.wantError) || !errors.As(err, &he) {
				t.Errorf("error %v, want %q", err, tc.wantError)
			}
		})
	}
	t.Run("network errors are retried", func(t *testing.T) {
		// A server that accepts connections and closes them at once: every attempt fails at the
		// network level.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		var conns atomic.Int64
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				conns.Add(1)
				conn.Close()
			}
		}()
		c := config.Default().Connectors
		c.ConfigType, c.BaseURL = config.ConfigTypeHTTP, "http://"+ln.Addr().String()
		c.Retry.InitialBackoff, c.Retry.MaxBackoff, c.Retry.MaxAttempts = config.Duration(time.Millisecond), config.Duration(time.Millisecond), 2
		// A fresh connection per attempt, so that the count is exact.
		p, err := New(c, Options{Client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.ActiveConfigs(ctx)
		var he *HTTPError
		if err == nil || errors.As(err, &he) || !strings.Contains(err.Error(), "/configs/active") {
			t.Errorf("error %v", err)
		}
		if n := conns.Load(); n < 3 {
			t.Errorf("%d connection attempts, want 3 (1 + 2 retries)", n)
		}
	})
	t.Run("cancellation stops retrying", func(t *testing.T) {
		svc := newConfigService()
		_, c := startService(t, svc)
		svc.failures = []int{503, 503, 503, 503, 503, 503, 503, 503}
		c.Retry.InitialBackoff, c.Retry.MaxBackoff, c.Retry.MaxAttempts = config.Duration(time.Hour), config.Duration(time.Hour), 5
		ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := newHTTP(t, c).ActiveConfigs(ctx)
		if err == nil || svc.requests.Load() != 1 {
			t.Errorf("error %v after %d requests", err, svc.requests.Load())
		}
	})
}

func TestHTTPTemplatesHeadersTimeout(t *testing.T) {
	ctx := context.Background()
	svc := newConfigService()
	svc.prefix = "/api/v2"
	svc.header = "k3y"
	_, c := startService(t, svc)
	c.URLTemplates = map[string]string{}
	for name, tmpl := range config.DefaultURLTemplates {
		c.URLTemplates[name] = "/api/v2" + tmpl
	}
	c.RequestHeaders = map[string]string{"X-Api-Key": "k3y"}
	p := newHTTP(t, c)
	exerciseContract(t, p, svc)
	if got := p.(*HTTP).URL("get_sink_config", map[string]string{"key": "my pg", "version": "3"}); got != c.BaseURL+"/api/v2/sinks/my pg/configs/3" {
		t.Errorf("template substitution (verbatim) gave %s", got)
	}

	// Without the header the service answers 401, which is not retried.
	c.RequestHeaders = nil
	before := svc.requests.Load()
	_, err := newHTTP(t, c).ActiveConfigs(ctx)
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") || svc.requests.Load() != before+1 {
		t.Errorf("error %v", err)
	}

	// The timeout bounds each attempt.
	c.RequestHeaders = map[string]string{"X-Api-Key": "k3y"}
	c.Timeout = config.Duration(30 * time.Millisecond)
	c.Retry.Enabled = false
	svc.mu.Lock()
	svc.delay = 300 * time.Millisecond
	svc.mu.Unlock()
	start := time.Now()
	_, err = newHTTP(t, c).ActiveConfigs(ctx)
	if err == nil || !strings.Contains(err.Error(), "Timeout") || time.Since(start) > 250*time.Millisecond {
		t.Errorf("error %v after %v", err, time.Since(start))
	}

	if _, err := New(config.ConnectorsConfig{ConfigType: "http"}, Options{}); err == nil {
		t.Error("http provider without base_url")
	}
	bad := c
	bad.RequestHeaders = map[string]string{"Bad Header": "x"}
	if _, err := New(bad, Options{}); err == nil || !strings.Contains(err.Error(), "Bad Header") {
		t.Errorf("bad header name: %v", err)
	}
}

// A service answer with one bad connector still yields the others (listed problem).
func TestHTTPActiveConfigsPartial(t *testing.T) {
	svc := newConfigService()
	_, c := startService(t, svc)
	svc.put("sinks", "bad", 0, `{"key":"bad","enabled":true,"version":0,"name":"b","path":"p","streams":[{"stream":"s","topics":["t"],"schema":"json","poll_interval":"soon"}]}`)
	snap, err := newHTTP(t, c).ActiveConfigs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Sinks["pg"] == nil || snap.Sinks["bad"] != nil || !hasProblem(snap.Problems, "", "streams[0].poll_interval", `invalid duration "soon"`) {
		t.Errorf("sinks %v problems %v", snap.Sinks, snap.Problems)
	}
	if !strings.Contains(snap.Problems[0].File, "/configs/active (sinks bad)") {
		t.Errorf("problem file %q", snap.Problems[0].File)
	}
}
