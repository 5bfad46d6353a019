//go:build integration

// Package apitest holds the end-to-end tests of the runtime's operations surface: the HTTP
// management API (every endpoint, api-key, CORS, TLS, config versioning with restart), /ready
// following the Iggy connection, /metrics counters against the messages a test pushed, and SIGHUP
// reloads. Everything is real: the iggy-connectors binary (built with CGO_ENABLED=0, as shipped),
// an iggy-devserver process, and the random source and stdout sink plugins that `make plugins`
// put in build/plugins.
//
//	make plugins && go test -tags integration -count=1 ./test/apitest/
//
// IGGY_E2E_LOG=1 streams the runtime's and devserver's logs to the test output (see test/harness).
package apitest

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/harness"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

var pluginDir string // build/plugins of the repository

const apiKey = "test-key"

// Shorthands for the shared harness.
var (
	freeAddr = harness.FreeAddr
	waitFor  = harness.WaitFor
	ctxT     = harness.Ctx
)

// TestMain checks that the plugins exist; the runtime and the devserver are built from this tree
// by the first test that needs them.
func TestMain(m *testing.M) {
	pluginDir = filepath.Join(pluginbuild.RepoRoot(), "build", "plugins")
	for _, lib := range []string{"libiggy_connector_random_source.so", "libiggy_connector_stdout_sink.so"} {
		if _, err := os.Stat(filepath.Join(pluginDir, lib)); err != nil {
			fmt.Fprintf(os.Stderr, "apitest: %s is missing: run `make plugins` first (%v)\n", filepath.Join(pluginDir, lib), err)
			os.Exit(1)
		}
	}
	harness.Main(m)
}

func plugin(name string) string { return filepath.Join(pluginDir, "lib"+name+".so") }

// startDevserver starts an iggy-devserver on addr with a data directory: it can be killed and
// started again with its streams, topics and offsets.
func startDevserver(t *testing.T, addr string) *harness.Devserver {
	t.Helper()
	return harness.StartDevserver(t, harness.DevserverOptions{Addr: addr, DataDir: t.TempDir()})
}

// runtimeProc is a running `iggy-connectors run` with its HTTP API.
type runtimeProc struct {
	*harness.Proc
	t      *testing.T
	Base   string // http(s)://host:port
	client *http.Client
	CfgDir string
}

type runtimeOpts struct {
	iggyAddr string
	cfgDir   string            // connector configs (created when missing)
	files    map[string]string // connector files to write into cfgDir
	env      []string          // extra IGGY_CONNECTORS_* settings
	tls      *tls.Config       // client TLS config when the API serves HTTPS
}

// startRuntime starts the runtime with the API on a free port, api-key apiKey and metrics enabled,
// and waits until the API listens.
func startRuntime(t *testing.T, o runtimeOpts) *runtimeProc {
	t.Helper()
	dir := t.TempDir()
	if o.cfgDir == "" {
		o.cfgDir = filepath.Join(dir, "connectors")
	}
	if err := os.MkdirAll(o.cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range o.files {
		writeFile(t, filepath.Join(o.cfgDir, name), body)
	}
	cmd := runtimeCmd(t, dir, append(append(harness.IggyEnv(o.iggyAddr),
		"IGGY_CONNECTORS_CONNECTORS_CONFIG_DIR="+o.cfgDir), o.env...)...)
	r := &runtimeProc{Proc: harness.Start(t, cmd, harness.NewLog(t, "runtime")), t: t, CfgDir: o.cfgDir,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: o.tls}}}
	t.Cleanup(r.Stop)
	var addr string
	waitFor(t, 20*time.Second, "the runtime's API to listen", func() bool {
		if r.Exited() {
			t.Fatalf("the runtime exited during start-up")
		}
		if recs := r.Log.Records("HTTP API listening"); len(recs) > 0 {
			addr, _ = recs[0]["address"].(string)
		}
		return addr != ""
	})
	scheme := "http"
	if o.tls != nil {
		scheme = "https"
	}
	r.Base = scheme + "://" + addr
	return r
}

// runtimeCmd prepares `iggy-connectors run` in dir (no configs/config.toml or .env up from there:
// the embedded defaults) with the API on a free port, api-key apiKey, metrics and JSON logs; env
// entries override (the last value of a variable wins).
func runtimeCmd(t *testing.T, dir string, env ...string) *exec.Cmd {
	t.Helper()
	return harness.RuntimeCmd(pluginbuild.Runtime(t), dir, append([]string{
		"IGGY_CONNECTORS_IGGY_ADDRESS=127.0.0.1:1",
		"IGGY_CONNECTORS_CONNECTORS_CONFIG_DIR=" + filepath.Join(dir, "connectors"),
		"IGGY_CONNECTORS_STATE_PATH=" + filepath.Join(dir, "state"),
		"IGGY_CONNECTORS_HTTP_ADDRESS=127.0.0.1:0",
		"IGGY_CONNECTORS_HTTP_API_KEY=" + apiKey,
		"IGGY_CONNECTORS_HTTP_METRICS_ENABLED=true",
		"IGGY_CONNECTORS_LOGGING_FORMAT=json",
		"IGGY_DISPLAY_CONFIG=false",
	}, env...)...)
}

// Stop sends SIGTERM and waits (then SIGKILL).
func (r *runtimeProc) Stop() {
	if !r.Proc.Stop(30 * time.Second) {
		r.t.Errorf("the runtime did not stop within 30s of SIGTERM")
	}
}

// reply is one HTTP answer.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v (failing the test when it is not JSON).
func (p reply) JSON(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(p.Body, v); err != nil {
		t.Fatalf("body %q: %v", p.Body, err)
	}
}

// Call sends a request; headers are name/value pairs. The api-key header is added unless
// headers set "api-key" (an empty value sends none).
func (r *runtimeProc) Call(method, path, body string, headers ...string) reply {
	r.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, r.Base+path, rd)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("api-key", apiKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

// Get is Call("GET", path, "") expecting 200, decoded into a generic value.
func (r *runtimeProc) Get(path string) map[string]any {
	r.t.Helper()
	rep := r.Call("GET", path, "")
	if rep.Status != 200 {
		r.t.Fatalf("GET %s: %d %s", path, rep.Status, rep.Body)
	}
	var v map[string]any
	rep.JSON(r.t, &v)
	return v
}

// GetList is Get for JSON arrays.
func (r *runtimeProc) GetList(path string) []map[string]any {
	r.t.Helper()
	rep := r.Call("GET", path, "")
	if rep.Status != 200 {
		r.t.Fatalf("GET %s: %d %s", path, rep.Status, rep.Body)
	}
	var v []map[string]any
	rep.JSON(r.t, &v)
	return v
}

// Metrics scrapes /metrics into "name{labels}" → value.
func (r *runtimeProc) Metrics() map[string]float64 {
	r.t.Helper()
	rep := r.Call("GET", "/metrics", "")
	if rep.Status != 200 {
		r.t.Fatalf("GET /metrics: %d %s", rep.Status, rep.Body)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(rep.Body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			r.t.Fatalf("bad metrics line %q", line)
		}
		out[withoutInstance(line[:i])] = v
	}
	return out
}

// instanceLabel matches the runtime's constant instance label (config key instance), which Metrics
// leaves out of its keys.
var instanceLabel = regexp.MustCompile(`,?instance="[^"]*"`)

// withoutInstance drops the instance label from a metric key: `m{instance="x"}` → `m`,
// `m{a="1",instance="x"}` → `m{a="1"}`.
func withoutInstance(key string) string {
	key = instanceLabel.ReplaceAllString(key, "")
	key = strings.Replace(key, "{,", "{", 1)
	return strings.TrimSuffix(key, "{}")
}

// connector returns /sinks/{key} or /sources/{key}.
func (r *runtimeProc) connector(kind, key string) map[string]any {
	return r.Get("/" + kind + "s/" + key)
}

// waitRunning waits until every listed connector ("sink/stdout", "source/random") is running.
func (r *runtimeProc) waitRunning(ids ...string) {
	r.t.Helper()
	for _, id := range ids {
		kind, key, _ := strings.Cut(id, "/")
		waitFor(r.t, 30*time.Second, id+" to run", func() bool { return r.connector(kind, key)["status"] == "running" })
	}
}

// writeFile writes a file; in a connector file (*.toml) every `stream = "NAME"` becomes the test's
// stream name (harness.Stream: NAME itself unless an external server is shared).
func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if strings.HasSuffix(path, ".toml") {
		body = harness.RenameStreams(t, body)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// push sends payloads to stream/topic in one request.
func push(t *testing.T, c *iggy.Client, stream, topic string, payloads [][]byte) {
	t.Helper()
	msgs := make([]iggy.Message, len(payloads))
	for i, p := range payloads {
		msgs[i] = iggy.Message{Payload: p}
	}
	harness.Send(t, c, harness.Stream(t, stream), topic, msgs)
}

// count returns how many messages the test's stream/topic holds (0 when it does not exist).
func count(t *testing.T, c *iggy.Client, stream, topic string) uint64 {
	t.Helper()
	return harness.TopicCount(t, c, harness.Stream(t, stream), topic)
}

// ensureTopic creates the test's stream/topic (one partition) unless it exists.
func ensureTopic(t *testing.T, c *iggy.Client, stream, topic string) {
	t.Helper()
	harness.EnsureTopic(t, c, harness.Stream(t, stream), topic, 1)
}

// Connector files.

func sourceTOML(key, name, stream, topic, pluginConfig string) string {
	return fmt.Sprintf(`type = "source"
key = %q
enabled = true
version = 0
name = %q
path = %q
[[streams]]
stream = %q
topic = %q
schema = "json"
auto_create = true
linger_time = "1ms"
[plugin_config]
%s
[transforms.add_fields]
enabled = true
[[transforms.add_fields.fields]]
key = "via"
value.static = "apitest"
`, key, name, plugin("iggy_connector_random_source"), stream, topic, pluginConfig)
}

func sinkTOML(key, name, stream, topic, extra string) string {
	return fmt.Sprintf(`type = "sink"
key = %q
enabled = true
version = 0
name = %q
path = %q
%s
[[streams]]
stream = %q
topics = [%q]
schema = "json"
poll_interval = "5ms"
consumer_group = "%s-group"
[plugin_config]
print_payload = false
[transforms.add_fields]
enabled = true
[[transforms.add_fields.fields]]
key = "sink"
value.static = %q
`, key, name, plugin("iggy_connector_stdout_sink"), extra, stream, topic, key, key)
}
