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
// IGGY_APITEST_LOG=1 streams the runtime's and devserver's logs to the test output.
package apitest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
)

var (
	runtimeBin   string
	devserverBin string
	pluginDir    string // build/plugins of the repository
)

const apiKey = "test-key"

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "iggy-apitest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if err := setup(dir); err != nil {
		fmt.Fprintln(os.Stderr, "apitest:", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// setup builds the runtime and the devserver from this tree and checks that the plugins exist.
func setup(dir string) error {
	root := repoRoot()
	pluginDir = filepath.Join(root, "build", "plugins")
	for _, lib := range []string{"libiggy_connector_random_source.so", "libiggy_connector_stdout_sink.so"} {
		if _, err := os.Stat(filepath.Join(pluginDir, lib)); err != nil {
			return fmt.Errorf("%s is missing: run `make plugins` first (%v)", filepath.Join(pluginDir, lib), err)
		}
	}
	runtimeBin = filepath.Join(dir, "iggy-connectors")
	devserverBin = filepath.Join(dir, "iggy-devserver")
	for out, pkg := range map[string]string{runtimeBin: "./runtime/cmd/iggy-connectors", devserverBin: "./test/cmd/iggy-devserver"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", cmd, err, b)
		}
	}
	return nil
}

func plugin(name string) string { return filepath.Join(pluginDir, "lib"+name+".so") }

func verbose() bool { return os.Getenv("IGGY_APITEST_LOG") != "" }

// logBuffer keeps a process's output (shown on failure, streamed with IGGY_APITEST_LOG).
type logBuffer struct {
	name string
	mu   sync.Mutex
	b    bytes.Buffer
}

func newLog(t *testing.T, name string) *logBuffer {
	l := &logBuffer{name: name}
	t.Cleanup(func() {
		if t.Failed() && !verbose() {
			s := l.String()
			if len(s) > 15000 {
				s = "...\n" + s[len(s)-15000:]
			}
			t.Logf("--- %s log (tail) ---\n%s", name, s)
		}
	})
	return l
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if verbose() {
		for _, line := range strings.SplitAfter(string(p), "\n") {
			if line != "" {
				fmt.Fprintf(os.Stderr, "[%s] %s", l.name, line)
			}
		}
	}
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// records returns the JSON log records whose msg is msg.
func (l *logBuffer) records(msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// devserver is an iggy-devserver process; with a data directory it can be killed and started again
// with its streams, topics and offsets.
type devserver struct {
	t       *testing.T
	Addr    string
	dataDir string
	cmd     *exec.Cmd
	runs    int
}

func startDevserver(t *testing.T, addr string) *devserver {
	t.Helper()
	d := &devserver{t: t, Addr: addr, dataDir: t.TempDir()}
	d.Start()
	t.Cleanup(d.Kill)
	return d
}

// Start runs the server and waits until it listens.
func (d *devserver) Start() {
	d.t.Helper()
	d.runs++
	d.cmd = exec.Command(devserverBin, "--addr", d.Addr, "--data-dir", d.dataDir, "--log-level", "warn")
	lf := newLog(d.t, fmt.Sprintf("devserver-%d", d.runs))
	d.cmd.Stdout, d.cmd.Stderr = lf, lf
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	waitFor(d.t, 10*time.Second, "iggy-devserver to listen on "+d.Addr, func() bool {
		c, err := net.DialTimeout("tcp", d.Addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// Kill sends SIGKILL and reaps the process.
func (d *devserver) Kill() {
	if d.cmd == nil || d.cmd.Process == nil || d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Kill()
	_ = d.cmd.Wait()
}

// Client connects the project's Go Iggy client.
func (d *devserver) Client(t *testing.T) *iggy.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := iggy.Dial(ctx, iggy.Config{Address: d.Addr, Username: "iggy", Password: "iggy",
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// runtimeProc is a running `iggy-connectors run` with its HTTP API.
type runtimeProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	Log    *logBuffer
	Base   string // http(s)://host:port
	client *http.Client
	CfgDir string
	done   chan struct{}
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
	cmd := runtimeCmd(dir, append([]string{
		"IGGY_CONNECTORS_IGGY_ADDRESS=" + o.iggyAddr,
		"IGGY_CONNECTORS_CONNECTORS_CONFIG_DIR=" + o.cfgDir,
	}, o.env...)...)
	lf := newLog(t, "runtime")
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &runtimeProc{t: t, cmd: cmd, Log: lf, CfgDir: o.cfgDir, done: make(chan struct{}),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: o.tls}}}
	go func() { _ = cmd.Wait(); close(r.done) }()
	t.Cleanup(r.Stop)
	var addr string
	waitFor(t, 20*time.Second, "the runtime's API to listen", func() bool {
		select {
		case <-r.done:
			t.Fatalf("the runtime exited during start-up")
		default:
		}
		if recs := lf.records("HTTP API listening"); len(recs) > 0 {
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
func runtimeCmd(dir string, env ...string) *exec.Cmd {
	cmd := exec.Command(runtimeBin, "run")
	cmd.Dir = dir
	cmd.Env = append(filteredEnviron(),
		"IGGY_CONNECTORS_IGGY_ADDRESS=127.0.0.1:1",
		"IGGY_CONNECTORS_CONNECTORS_CONFIG_DIR="+filepath.Join(dir, "connectors"),
		"IGGY_CONNECTORS_STATE_PATH="+filepath.Join(dir, "state"),
		"IGGY_CONNECTORS_HTTP_ADDRESS=127.0.0.1:0",
		"IGGY_CONNECTORS_HTTP_API_KEY="+apiKey,
		"IGGY_CONNECTORS_HTTP_METRICS_ENABLED=true",
		"IGGY_CONNECTORS_LOGGING_FORMAT=json",
		"IGGY_DISPLAY_CONFIG=false",
	)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// Stop sends SIGTERM and waits (then SIGKILL).
func (r *runtimeProc) Stop() {
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		r.t.Errorf("the runtime did not stop within 30s of SIGTERM")
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}

// Signal sends sig to the runtime.
func (r *runtimeProc) Signal(sig syscall.Signal) {
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatal(err)
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
		out[line[:i]] = v
	}
	return out
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

// filteredEnviron is the test's environment without settings that change what the runtime does.
func filteredEnviron() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "IGGY_CONNECTORS_") || strings.HasPrefix(kv, "IGGY_DISPLAY_CONFIG=") || strings.HasPrefix(kv, "RUST_LOG=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// push sends payloads to stream/topic in one request.
func push(t *testing.T, c *iggy.Client, stream, topic string, payloads [][]byte) {
	t.Helper()
	msgs := make([]iggy.Message, len(payloads))
	for i, p := range payloads {
		msgs[i] = iggy.Message{Payload: p}
	}
	if _, err := c.SendMessages(ctxT(t), iggy.NamedID(stream), iggy.NamedID(topic), iggy.Balanced(), msgs); err != nil {
		t.Fatal(err)
	}
}

// count returns how many messages stream/topic holds (0 when it does not exist).
func count(t *testing.T, c *iggy.Client, stream, topic string) uint64 {
	t.Helper()
	td, err := c.GetTopic(ctxT(t), iggy.NamedID(stream), iggy.NamedID(topic))
	if errors.Is(err, iggy.ErrNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, p := range td.Partitions {
		n += p.MessagesCount
	}
	return n
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
