//go:build integration

package apitest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/test/harness"
)

// TestEndpoints runs one runtime with a random source, two stdout sinks reading the same topic
// (on_error = skip and on_error = dead_letter) and a disabled sink, pushes messages (some not JSON)
// and checks every endpoint: access control, shapes, error codes, CORS, /stats and /metrics
// counts equal to what was pushed and produced.
func TestEndpoints(t *testing.T) {
	srv := startDevserver(t, freeAddr(t))
	c := srv.Client(t)
	for _, topic := range []string{"in", "dead"} {
		ensureTopic(t, c, "api", topic)
	}
	const maxCount, pushed, bad = 37, 60, 6
	apiStream := harness.Stream(t, "api") // the subtests below use this test's stream
	rt := startRuntime(t, runtimeOpts{iggyAddr: srv.Addr, files: map[string]string{
		"random.toml": sourceTOML("random", "Random", "api", "generated",
			fmt.Sprintf("interval = \"5ms\"\nmax_count = %d\nmessages_range = [3, 5]\npayload_size = 10", maxCount)),
		"stdout.toml": sinkTOML("stdout", "Stdout", "api", "in", `on_error = "skip"
plugin_config_format = "json"`),
		"dlq.toml": sinkTOML("dlq", "Dead letters", "api", "in", `on_error = "dead_letter"
[dead_letter]
stream = "api"
topic = "dead"`),
		"off.toml": strings.Replace(sinkTOML("off", "Disabled", "api", "in", ""), "enabled = true", "enabled = false", 1),
	}, env: []string{
		"IGGY_CONNECTORS_HTTP_CORS_ENABLED=true",
		"IGGY_CONNECTORS_HTTP_CORS_ALLOWED_ORIGINS=[https://console.example]",
		"IGGY_CONNECTORS_HTTP_CORS_EXPOSED_HEADERS=[x-request-id]",
	}})
	rt.waitRunning("source/random", "sink/stdout", "sink/dlq")
	waitFor(t, 20*time.Second, "/ready", func() bool { return rt.Call("GET", "/ready", "").Status == 200 })

	payloads := make([][]byte, pushed)
	for i := range payloads {
		payloads[i] = []byte(fmt.Sprintf(`{"i":%d}`, i))
		if i%(pushed/bad) == 3 {
			payloads[i] = []byte(fmt.Sprintf(`not json %d`, i))
		}
	}
	push(t, c, "api", "in", payloads)
	waitFor(t, 30*time.Second, "both sinks to resolve every pushed message and the source to reach max_count", func() bool {
		m := rt.Metrics()
		return m[`iggy_connector_messages_processed_total{connector_key="stdout",connector_type="sink"}`]+
			m[`iggy_connector_messages_skipped_total{connector_key="stdout",connector_type="sink"}`] == pushed &&
			m[`iggy_connector_messages_processed_total{connector_key="dlq",connector_type="sink"}`]+
				m[`iggy_connector_messages_dead_lettered_total{connector_key="dlq",connector_type="sink"}`] == pushed &&
			m[`iggy_connector_messages_sent_total{connector_key="random",connector_type="source"}`] == maxCount
	})

	t.Run("metrics", func(t *testing.T) {
		m := rt.Metrics()
		const stdout, dlq, random = `{connector_key="stdout",connector_type="sink"}`, `{connector_key="dlq",connector_type="sink"}`,
			`{connector_key="random",connector_type="source"}`
		want := map[string]float64{
			"iggy_connectors_sources_total":   1,
			"iggy_connectors_sources_running": 1,
			"iggy_connectors_sinks_total":     3,
			"iggy_connectors_sinks_running":   2,
			"iggy_connectors_iggy_connected":  1,

			"iggy_connector_messages_consumed_total" + stdout:                                          pushed,
			"iggy_connector_messages_processed_total" + stdout:                                         pushed - bad,
			"iggy_connector_messages_skipped_total" + stdout:                                           bad,
			"iggy_connector_messages_dead_lettered_total" + stdout:                                     0,
			"iggy_connector_messages_filtered_total" + stdout:                                          0,
			`iggy_connector_errors_total{connector_key="stdout",connector_type="sink",stage="decode"}`: bad,
			"iggy_connector_messages_consumed_total" + dlq:                                             pushed,
			"iggy_connector_messages_processed_total" + dlq:                                            pushed - bad,
			"iggy_connector_messages_dead_lettered_total" + dlq:                                        bad,
			"iggy_connector_messages_skipped_total" + dlq:                                              0,
			`iggy_connector_errors_total{connector_key="dlq",connector_type="sink",stage="decode"}`:    bad,
			"iggy_connector_messages_produced_total" + random:                                          maxCount,
			"iggy_connector_messages_sent_total" + random:                                              maxCount,
			"iggy_connector_batches_in_flight" + stdout:                                                0,
			"iggy_connector_plugin_restarts_total" + stdout:                                            0,
			"iggy_connector_running" + stdout:                                                          1,
			`iggy_connector_running{connector_key="off",connector_type="sink"}`:                        0,
		}
		for k, v := range want {
			if got, ok := m[k]; !ok || got != v {
				t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
			}
		}
		for _, stage := range []string{"prepare", "ffi", "commit", "total"} {
			if n := m[`iggy_connector_stage_duration_seconds_count{connector_key="stdout",connector_type="sink",stage="`+stage+`"}`]; n < 1 {
				t.Errorf("no %s latency samples for stdout", stage)
			}
		}
		for _, stage := range []string{"prepare", "iggy_send", "state_save", "total"} {
			if n := m[`iggy_connector_stage_duration_seconds_count{connector_key="random",connector_type="source",stage="`+stage+`"}`]; n < 1 {
				t.Errorf("no %s latency samples for random", stage)
			}
		}
		if got := harness.TopicCount(t, c, apiStream, "dead"); got != bad {
			t.Errorf("dead-letter topic holds %d messages, want %d", got, bad)
		}
		if got := harness.TopicCount(t, c, apiStream, "generated"); got != maxCount {
			t.Errorf("the source's topic holds %d messages, want %d", got, maxCount)
		}
	})

	t.Run("stats", func(t *testing.T) {
		st := rt.Get("/stats")
		if st["sources_total"] != 1.0 || st["sources_running"] != 1.0 || st["sinks_total"] != 3.0 || st["sinks_running"] != 2.0 ||
			st["connectors_runtime_version"] == "" || st["process_id"].(float64) <= 0 || st["memory_usage"].(float64) <= 0 {
			t.Errorf("/stats = %v", st)
		}
		byKey := map[string]map[string]any{}
		for _, x := range st["connectors"].([]any) {
			byKey[x.(map[string]any)["key"].(string)] = x.(map[string]any)
		}
		if s := byKey["stdout"]; s["messages_consumed"] != float64(pushed) || s["messages_processed"] != float64(pushed-bad) ||
			s["errors"] != float64(bad) || s["version"] != "0.1.0" || s["version_semver"] != 1000.0 || s["status"] != "running" {
			t.Errorf("stdout stats %v", s)
		}
		if s := byKey["random"]; s["messages_produced"] != float64(maxCount) || s["messages_sent"] != float64(maxCount) ||
			s["messages_consumed"] != nil || s["connector_type"] != "source" {
			t.Errorf("random stats %v", s)
		}
		if s := byKey["off"]; s["enabled"] != false || s["status"] != "stopped" || s["version"] != "unknown" {
			t.Errorf("off stats %v", s)
		}
	})

	t.Run("auth", func(t *testing.T) {
		protected := []struct{ method, path string }{
			{"GET", "/stats"}, {"GET", "/metrics"},
			{"GET", "/sinks"}, {"GET", "/sinks/stdout"}, {"GET", "/sinks/stdout/transforms"},
			{"GET", "/sinks/stdout/configs"}, {"POST", "/sinks/stdout/configs"}, {"DELETE", "/sinks/stdout/configs?version=5"},
			{"GET", "/sinks/stdout/configs/0"}, {"GET", "/sinks/stdout/configs/active"}, {"PUT", "/sinks/stdout/configs/active"},
			{"GET", "/sinks/stdout/configs/plugin"}, {"POST", "/sinks/stdout/restart"},
			{"GET", "/sources"}, {"GET", "/sources/random"}, {"GET", "/sources/random/transforms"},
			{"GET", "/sources/random/configs"}, {"POST", "/sources/random/configs"}, {"DELETE", "/sources/random/configs?version=5"},
			{"GET", "/sources/random/configs/0"}, {"GET", "/sources/random/configs/active"}, {"PUT", "/sources/random/configs/active"},
			{"GET", "/sources/random/configs/plugin"}, {"POST", "/sources/random/restart"},
		}
		for _, p := range protected {
			for _, key := range []string{"", "wrong", strings.ToUpper(apiKey)} {
				if rep := rt.Call(p.method, p.path, "", "api-key", key); rep.Status != 401 || len(rep.Body) != 0 {
					t.Errorf("%s %s with api-key %q: %d %q, want 401 with an empty body", p.method, p.path, key, rep.Status, rep.Body)
				}
			}
		}
		for _, p := range []string{"/", "/health", "/ready"} {
			if rep := rt.Call("GET", p, "", "api-key", ""); rep.Status != 200 {
				t.Errorf("GET %s without a key: %d", p, rep.Status)
			}
		}
		if rep := rt.Call("GET", "/", ""); string(rep.Body) != "Connector Runtime API" {
			t.Errorf("GET / = %q", rep.Body)
		}
		if rep := rt.Call("GET", "/health", ""); string(rep.Body) != `{"status":"healthy"}` {
			t.Errorf("GET /health = %q", rep.Body)
		}
		if rep := rt.Call("GET", "/ready", ""); string(rep.Body) != `{"status":"ready"}` {
			t.Errorf("GET /ready = %q", rep.Body)
		}
	})

	t.Run("connectors", func(t *testing.T) {
		sinks := rt.GetList("/sinks")
		if len(sinks) != 3 || sinks[0]["key"] != "dlq" || sinks[1]["key"] != "off" || sinks[2]["key"] != "stdout" {
			t.Fatalf("/sinks = %v", sinks)
		}
		s := sinks[2]
		if s["name"] != "Stdout" || s["path"] != plugin("iggy_connector_stdout_sink") || s["enabled"] != true ||
			s["status"] != "running" || s["plugin_config_format"] != "json" || s["id"].(float64) < 1 {
			t.Errorf("stdout = %v", s)
		}
		if off := sinks[1]; off["enabled"] != false || off["status"] != "stopped" || off["id"] != 0.0 {
			t.Errorf("off = %v", off)
		}
		if _, ok := sinks[0]["plugin_config_format"]; ok {
			t.Errorf("dlq has plugin_config_format: %v", sinks[0])
		}
		sources := rt.GetList("/sources")
		if len(sources) != 1 || sources[0]["key"] != "random" || sources[0]["path"] != plugin("iggy_connector_random_source") {
			t.Errorf("/sources = %v", sources)
		}
		d := rt.Get("/sinks/stdout")
		st := d["streams"].([]any)[0].(map[string]any)
		if d["key"] != "stdout" || st["stream"] != apiStream || st["topics"].([]any)[0] != "in" || st["consumer_group"] != "stdout-group" {
			t.Errorf("/sinks/stdout = %v", d)
		}
		d = rt.Get("/sources/random")
		if st := d["streams"].([]any)[0].(map[string]any); st["topic"] != "generated" || st["auto_create"] != true {
			t.Errorf("/sources/random = %v", d)
		}
		if rep := rt.Call("GET", "/sources/random/transforms", ""); string(rep.Body) != `[{"type":"add_fields","config":{"enabled":true,"fields":[{"key":"via","value":{"static":"apitest"}}]}}]` {
			t.Errorf("/sources/random/transforms = %s", rep.Body)
		}
		if rep := rt.Call("GET", "/sinks/stdout/transforms", ""); string(rep.Body) != `[{"type":"add_fields","config":{"enabled":true,"fields":[{"key":"sink","value":{"static":"stdout"}}]}}]` {
			t.Errorf("/sinks/stdout/transforms = %s", rep.Body)
		}
		for _, c := range []struct{ path, ct, body string }{
			{"/sinks/stdout/configs/plugin", "application/json", `{"print_payload":false}`}, // plugin_config_format = json
			{"/sinks/stdout/configs/plugin?format=yaml", "application/yaml", "print_payload: false\n"},
			{"/sinks/stdout/configs/plugin?format=toml", "application/toml", "print_payload = false\n"},
			{"/sinks/stdout/configs/plugin?format=text", "text/plain", `{"print_payload":false}`},
			{"/sinks/dlq/configs/plugin", "application/toml", "print_payload = false\n"},
		} {
			rep := rt.Call("GET", c.path, "")
			if rep.Status != 200 || rep.Header.Get("Content-Type") != c.ct || string(rep.Body) != c.body {
				t.Errorf("GET %s = %d %s %q", c.path, rep.Status, rep.Header.Get("Content-Type"), rep.Body)
			}
		}
		for _, c := range []struct {
			method, path string
			status       int
			code         string
		}{
			{"GET", "/sinks/nope", 404, "sink_not_found"},
			{"GET", "/sources/nope", 404, "source_not_found"},
			{"GET", "/sinks/nope/configs/active", 404, "sink_not_found"},
			{"GET", "/sinks/stdout/configs/9", 404, "sink_config_not_found"},
			{"DELETE", "/sinks/stdout/configs?version=9", 404, "sink_config_not_found"},
			{"POST", "/sources/nope/restart", 404, "source_not_found"},
		} {
			rep := rt.Call(c.method, c.path, "")
			var e map[string]string
			rep.JSON(t, &e)
			if rep.Status != c.status || e["code"] != c.code || e["reason"] == "" {
				t.Errorf("%s %s = %d %s, want %d %s", c.method, c.path, rep.Status, rep.Body, c.status, c.code)
			}
		}
		if rep := rt.Call("GET", "/sinks/stdout/configs/one", ""); rep.Status != 400 {
			t.Errorf("GET configs/one = %d", rep.Status)
		}
	})

	t.Run("cors", func(t *testing.T) {
		pre := rt.Call("OPTIONS", "/sinks", "", "api-key", "", "Origin", "https://console.example", "Access-Control-Request-Method", "GET")
		if pre.Status != 200 || pre.Header.Get("Access-Control-Allow-Origin") != "https://console.example" ||
			pre.Header.Get("Access-Control-Allow-Methods") != "GET,POST,PUT,DELETE" ||
			pre.Header.Get("Access-Control-Allow-Headers") != "content-type" {
			t.Errorf("preflight: %d %v", pre.Status, pre.Header)
		}
		get := rt.Call("GET", "/sinks", "", "Origin", "https://console.example")
		if get.Header.Get("Access-Control-Allow-Origin") != "https://console.example" || get.Header.Get("Access-Control-Expose-Headers") != "x-request-id" {
			t.Errorf("GET with Origin: %v", get.Header)
		}
		if other := rt.Call("GET", "/sinks", "", "Origin", "https://evil.example"); other.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("an unlisted origin was allowed: %v", other.Header)
		}
	})
}
