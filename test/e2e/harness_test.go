//go:build integration

// Package e2e holds the end-to-end tests of the connectors runtime: the real iggy-connectors binary
// (built with CGO_ENABLED=0, as shipped) runs connector TOML files against a real iggy-devserver
// process, with real plugins (the test plugins test/plugins/seq and test/plugins/faulty, built with
// -buildmode=c-shared) found the way an installation finds them (<bin>/../plugins). The tests
// produce, consume and check with the project's Go Iggy client, and read what the faulty sink
// reports written from its output file (synced per call, so it survives kill -9).
//
//	go test -tags integration -count=1 ./test/e2e/
//
// IGGY_E2E_LOG=1 streams the runtime's and devserver's logs to the test output (see test/harness).
package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/harness"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

func TestMain(m *testing.M) { harness.Main(m) }

// Shorthands for the shared harness.
var (
	freeAddr = harness.FreeAddr
	waitFor  = harness.WaitFor
	ctxT     = harness.Ctx
)

// runtimeBin builds the runtime and the test plugins (once per test binary) into pluginbuild's
// directory, laid out like an installation: the runtime finds the plugins in <bin>/../plugins.
func runtimeBin(t testing.TB) string {
	t.Helper()
	pluginbuild.GoPlugin(t, "test/plugins/seq", "iggy_connector_seq_source")
	pluginbuild.GoPlugin(t, "test/plugins/faulty", "iggy_connector_faulty_sink")
	return pluginbuild.Runtime(t)
}

func startDevserver(t testing.TB) *harness.Devserver { return startDevserverAt(t, "", "") }

// startDevserverAt starts iggy-devserver on addr ("" = a free port), persisting to dataDir when it
// is not empty.
func startDevserverAt(t testing.TB, addr, dataDir string) *harness.Devserver {
	t.Helper()
	return harness.StartDevserver(t, harness.DevserverOptions{Addr: addr, DataDir: dataDir})
}

// env is one test's set-up: a devserver, a connectors config directory, a state directory and the
// runtime processes started on them.
type env struct {
	t        *testing.T
	srv      *harness.Devserver
	iggy     *iggy.Client
	dir      string // scratch directory of the test
	cfgDir   string // connectors.config_dir
	stateDir string // state.path
	runs     int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, startDevserver(t))
}

// newEnvWith uses a given server.
func newEnvWith(t *testing.T, srv *harness.Devserver) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, srv: srv, dir: dir, cfgDir: filepath.Join(dir, "connectors"), stateDir: filepath.Join(dir, "state")}
	if err := os.MkdirAll(e.cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	e.iggy = srv.Client(t)
	return e
}

// stream returns the name of the test's stream base: base itself against the test's own
// iggy-devserver, a name unique to the test (deleted when it ends) against an external server (see
// harness.Stream). The env's helpers take base names and map them.
func (e *env) stream(base string) string { return harness.Stream(e.t, base) }

// path returns a file name inside the test's scratch directory.
func (e *env) path(name string) string { return filepath.Join(e.dir, name) }

// writeConnector writes a connector TOML file into the config directory, with the test's stream
// names (e.stream) in every `stream = "..."`.
func (e *env) writeConnector(name, toml string) {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(e.cfgDir, name+".toml"), []byte(harness.RenameStreams(e.t, toml)), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// proc is a running iggy-connectors process. Kill (SIGKILL) also ends its plugin-host children as
// a real crash does (they see their pipes close); SignalWait stops it and returns the exit code.
type proc struct {
	*harness.Proc
	t *testing.T
}

// startRuntime starts `iggy-connectors run` on the env's directories with the HTTP API off.
func (e *env) startRuntime(extraEnv ...string) *proc {
	e.t.Helper()
	e.runs++
	settings := append(harness.IggyEnv(e.srv.Addr),
		"IGGY_CONNECTORS_CONNECTORS_CONFIG_DIR="+e.cfgDir,
		"IGGY_CONNECTORS_STATE_PATH="+e.stateDir,
		"IGGY_CONNECTORS_HTTP_ENABLED=false",
		"IGGY_CONNECTORS_LOGGING_LEVEL=debug")
	cmd := harness.RuntimeCmd(runtimeBin(e.t), e.dir, append(settings, extraEnv...)...)
	return &proc{Proc: harness.Start(e.t, cmd, harness.NewLog(e.t, fmt.Sprintf("runtime-%d", e.runs))), t: e.t}
}

// waitLog waits until the runtime's log contains s.
func (p *proc) waitLog(timeout time.Duration, s string) {
	p.t.Helper()
	waitFor(p.t, timeout, fmt.Sprintf("runtime log line containing %q", s), func() bool {
		return len(p.Log.Lines(s)) > 0
	})
}

// errorLines returns the runtime's log lines at level ERROR.
func (p *proc) errorLines() []string { return p.Log.Lines("level=ERROR") }

// noErrors fails the test if the runtime logged an error: for runs where nothing goes wrong.
func (p *proc) noErrors() {
	p.t.Helper()
	if lines := p.errorLines(); len(lines) > 0 {
		p.t.Fatalf("the runtime logged %d error(s), first: %s", len(lines), lines[0])
	}
}

// --- Iggy helpers -------------------------------------------------------------------------------

// createTopic creates stream/topic with partitions partitions.
func (e *env) createTopic(stream, topic string, partitions uint32) {
	e.t.Helper()
	harness.EnsureTopic(e.t, e.iggy, e.stream(stream), topic, partitions)
}

// send produces msgs to stream/topic (balanced) in one request.
func (e *env) send(stream, topic string, msgs []iggy.Message) {
	e.t.Helper()
	harness.Send(e.t, e.iggy, e.stream(stream), topic, msgs)
}

// readAll returns every message of stream/topic, partition by partition in offset order (an
// unknown topic reads as empty).
func (e *env) readAll(stream, topic string) []harness.Stored {
	e.t.Helper()
	return harness.ReadTopic(e.t, e.iggy, e.stream(stream), topic)
}

// countAll is the number of messages in stream/topic (0 when it does not exist).
func (e *env) countAll(stream, topic string) uint64 {
	e.t.Helper()
	return harness.TopicCount(e.t, e.iggy, e.stream(stream), topic)
}

// storedOffset returns the consumer group's stored offset in a partition, or -1 when none is stored.
func (e *env) storedOffset(stream, topic, group string, partition uint32) int64 {
	e.t.Helper()
	return harness.GroupOffset(e.t, e.iggy, e.stream(stream), topic, group, partition)
}

func headerMap(hs []iggy.Header) map[string]string {
	m := map[string]string{}
	for _, h := range hs {
		v := string(h.Value)
		if h.ValueKind != iggy.KindString {
			v = fmt.Sprintf("%x", h.Value)
		}
		m[string(h.Key)] = v
	}
	return m
}

// faultySinkTOML is the connector file of sink "snk": the faulty plugin reading stream/topic in
// batches of batchLength, polling every pollInterval, with retryFast and the plugin_config lines
// given (at least output = "...").
func faultySinkTOML(stream, topic string, batchLength int, pollInterval, pluginConfig string) string {
	return fmt.Sprintf(`
type = "sink"
key = "snk"
enabled = true
version = 0
name = "faulty"
path = "libiggy_connector_faulty_sink"
%s
[[streams]]
stream = %q
topics = [%q]
schema = "json"
batch_length = %d
poll_interval = %q

[plugin_config]
%s
`, retryFast, stream, topic, batchLength, pollInterval, pluginConfig)
}

// --- the faulty sink's output file --------------------------------------------------------------

// sinkCall and sinkMsg mirror test/plugins/faulty's Record.
type sinkCall struct {
	N        int    `json:"n"`
	Pid      int    `json:"pid"`
	Stream   string `json:"stream"`
	Topic    string `json:"topic"`
	First    uint64 `json:"first"`
	Last     uint64 `json:"last"`
	Messages int    `json:"messages"`
	Outcome  string `json:"outcome"`
}

type sinkMsg struct {
	Stream    string            `json:"stream"`
	Topic     string            `json:"topic"`
	Partition uint32            `json:"partition"`
	Offset    uint64            `json:"offset"`
	ID        string            `json:"id"`
	Schema    string            `json:"schema"`
	Payload   []byte            `json:"payload"`
	Headers   map[string]string `json:"headers"`
}

type sinkOutput struct {
	Calls []sinkCall
	Msgs  []sinkMsg
}

// readSink parses the faulty sink's output file (absent = empty). A torn last line (the process was
// killed while appending) is ignored: the sink had not reported it written.
func readSink(t testing.TB, path string) sinkOutput {
	t.Helper()
	var out sinkOutput
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r struct {
			Call *sinkCall `json:"call"`
			Msg  *sinkMsg  `json:"msg"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			continue
		}
		if r.Call != nil {
			out.Calls = append(out.Calls, *r.Call)
		}
		if r.Msg != nil {
			out.Msgs = append(out.Msgs, *r.Msg)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// offsetCounts counts how often each (partition, offset) was written.
func (o sinkOutput) offsetCounts() map[[2]uint64]int {
	m := map[[2]uint64]int{}
	for _, msg := range o.Msgs {
		m[[2]uint64{uint64(msg.Partition), msg.Offset}]++
	}
	return m
}

// maxWritten returns the highest offset written in a partition, or -1.
func (o sinkOutput) maxWritten(partition uint32) int64 {
	best := int64(-1)
	for _, m := range o.Msgs {
		if m.Partition == partition && int64(m.Offset) > best {
			best = int64(m.Offset)
		}
	}
	return best
}
