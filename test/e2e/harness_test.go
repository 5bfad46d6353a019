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
// IGGY_E2E_LOG=1 streams the runtime's and devserver's logs to the test output.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
)

// Built artefacts, in one directory laid out like an installation: bin/ and plugins/.
var (
	binDir       string
	runtimeBin   string
	devserverBin string
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "iggy-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if err := buildAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildAll builds the runtime, the devserver and the test plugins into dir/bin and dir/plugins. The
// Go build cache keeps repeated runs fast.
func buildAll(dir string) error {
	binDir = filepath.Join(dir, "bin")
	plugins := filepath.Join(dir, "plugins")
	runtimeBin = filepath.Join(binDir, "iggy-connectors")
	devserverBin = filepath.Join(binDir, "iggy-devserver")
	root := repoRoot()
	steps := []struct {
		dir, out, pkg string
		cgo           bool
		shared        bool
	}{
		{root, runtimeBin, "./runtime/cmd/iggy-connectors", false, false},
		{root, devserverBin, "./test/cmd/iggy-devserver", false, false},
		{filepath.Join(root, "test/plugins/seq"), filepath.Join(plugins, "libiggy_connector_seq_source.so"), ".", true, true},
		{filepath.Join(root, "test/plugins/faulty"), filepath.Join(plugins, "libiggy_connector_faulty_sink.so"), ".", true, true},
	}
	for _, s := range steps {
		args := []string{"build", "-o", s.out}
		if s.shared {
			args = append(args, "-buildmode=c-shared")
		}
		cmd := exec.Command("go", append(args, s.pkg)...)
		cmd.Dir = s.dir
		cgo := "CGO_ENABLED=0"
		if s.cgo {
			cgo = "CGO_ENABLED=1"
		}
		cmd.Env = append(os.Environ(), cgo)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s (in %s): %v\n%s", cmd, s.dir, err, out)
		}
	}
	return nil
}

func verbose() bool { return os.Getenv("IGGY_E2E_LOG") != "" }

// logFile is a process's combined output: kept in a file, shown on failure (tail) or streamed with
// IGGY_E2E_LOG.
type logFile struct {
	t    testing.TB
	name string
	path string
	mu   sync.Mutex
	f    *os.File
}

func newLogFile(t testing.TB, name string) *logFile {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	l := &logFile{t: t, name: name, path: path, f: f}
	t.Cleanup(func() {
		l.mu.Lock()
		l.f.Close()
		l.mu.Unlock()
		if t.Failed() && !verbose() {
			b, _ := os.ReadFile(path)
			if len(b) > 12000 {
				b = append([]byte("...\n"), b[len(b)-12000:]...)
			}
			t.Logf("--- %s log (tail) ---\n%s", name, b)
		}
	})
	return l
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if verbose() {
		for _, line := range strings.SplitAfter(string(p), "\n") {
			if line != "" {
				fmt.Fprintf(os.Stderr, "[%s] %s", l.name, line)
			}
		}
	}
	return l.f.Write(p)
}

// Contents returns everything logged so far.
func (l *logFile) Contents() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, _ := os.ReadFile(l.path)
	return string(b)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// devserver is a running iggy-devserver process (in memory unless a data directory is given).
type devserver struct {
	Addr string
	cmd  *exec.Cmd
}

func startDevserver(t testing.TB) *devserver { return startDevserverAt(t, freeAddr(t), "") }

// startDevserverAt starts iggy-devserver on addr, persisting to dataDir when it is not empty.
func startDevserverAt(t testing.TB, addr, dataDir string) *devserver {
	t.Helper()
	args := []string{"--addr", addr, "--log-level", "warn"}
	if dataDir != "" {
		args = append(args, "--data-dir", dataDir)
	}
	cmd := exec.Command(devserverBin, args...)
	lf := newLogFile(t, "devserver")
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &devserver{Addr: addr, cmd: cmd}
	t.Cleanup(d.Kill)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return d
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("iggy-devserver did not listen on %s", addr)
	return nil
}

// Kill ends the server with SIGKILL (what it acknowledged survives when it has a data directory).
func (d *devserver) Kill() {
	if d.cmd.ProcessState == nil {
		_ = d.cmd.Process.Kill()
		_ = d.cmd.Wait()
	}
}

// Client connects the project's Go client to the server.
func (d *devserver) Client(t testing.TB) *iggy.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := iggy.Dial(ctx, iggy.Config{Address: d.Addr, Username: "iggy", Password: "iggy",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// env is one test's set-up: a devserver, a connectors config directory, a state directory and the
// runtime processes started on them.
type env struct {
	t        *testing.T
	srv      *devserver
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
func newEnvWith(t *testing.T, srv *devserver) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, srv: srv, dir: dir, cfgDir: filepath.Join(dir, "connectors"), stateDir: filepath.Join(dir, "state")}
	if err := os.MkdirAll(e.cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	e.iggy = srv.Client(t)
	return e
}

// path returns a file name inside the test's scratch directory.
func (e *env) path(name string) string { return filepath.Join(e.dir, name) }

// writeConnector writes a connector TOML file into the config directory.
func (e *env) writeConnector(name, toml string) {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(e.cfgDir, name+".toml"), []byte(toml), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// proc is a running iggy-connectors process.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	Log  *logFile
	done chan struct{}
	err  error // of Wait, valid after done
}

// startRuntime starts `iggy-connectors run` on the env's directories with the HTTP API off.
func (e *env) startRuntime(extraEnv ...string) *proc {
	e.t.Helper()
	e.runs++
	cmd := exec.Command(runtimeBin, "run")
	cmd.Dir = e.dir // no configs/config.toml up from here: the embedded defaults
	cmd.Env = append(filteredEnviron(),
		"IGGY_CONNECTORS_IGGY_ADDRESS="+e.srv.Addr,
		"IGGY_CONNECTORS_CONNECTORS_CONFIG_DIR="+e.cfgDir,
		"IGGY_CONNECTORS_STATE_PATH="+e.stateDir,
		"IGGY_CONNECTORS_HTTP_ENABLED=false",
		"IGGY_CONNECTORS_LOGGING_LEVEL=debug",
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	lf := newLogFile(e.t, fmt.Sprintf("runtime-%d", e.runs))
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	p := &proc{t: e.t, cmd: cmd, Log: lf, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	e.t.Cleanup(func() { p.Kill() })
	return p
}

// filteredEnviron is the test's environment without IGGY_CONNECTORS_* settings that would change
// what the runtime does.
func filteredEnviron() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "IGGY_CONNECTORS_") || strings.HasPrefix(kv, "RUST_LOG=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// Kill sends SIGKILL to the runtime and its plugin-host children (kill -9 of the process group is
// not used: the children must die with the runtime as they would on a real crash, which they do
// when their pipes close; they are killed here too so nothing outlives the test).
func (p *proc) Kill() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Exited reports whether the process has ended.
func (p *proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig and waits up to within for the exit; it returns the exit code and how long it took.
func (p *proc) Signal(sig syscall.Signal, within time.Duration) (int, time.Duration) {
	p.t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(within):
		p.t.Fatalf("runtime did not exit within %v of %v", within, sig)
	}
	took := time.Since(start)
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode(), took
	}
	if p.err != nil {
		p.t.Fatal(p.err)
	}
	return 0, took
}

// waitFor polls cond every 20ms until it is true or timeout passes (then the test fails with what).
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitLog waits until the runtime's log contains s.
func (p *proc) waitLog(timeout time.Duration, s string) {
	p.t.Helper()
	waitFor(p.t, timeout, fmt.Sprintf("runtime log line containing %q", s), func() bool {
		return strings.Contains(p.Log.Contents(), s)
	})
}

// errorLines returns the runtime's log lines at level ERROR.
func (p *proc) errorLines() []string {
	var out []string
	for _, l := range strings.Split(p.Log.Contents(), "\n") {
		if strings.Contains(l, "level=ERROR") {
			out = append(out, l)
		}
	}
	return out
}

// noErrors fails the test if the runtime logged an error: for runs where nothing goes wrong.
func (p *proc) noErrors() {
	p.t.Helper()
	if lines := p.errorLines(); len(lines) > 0 {
		p.t.Fatalf("the runtime logged %d error(s), first: %s", len(lines), lines[0])
	}
}

// --- Iggy helpers -------------------------------------------------------------------------------

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// retryIggy runs a read-only call again while it fails with a retryable error (the server is
// being restarted), for up to 10 seconds.
func retryIggy(op func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := op()
		if err == nil || !iggy.IsRetryable(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// createTopic creates stream/topic with partitions partitions.
func (e *env) createTopic(stream, topic string, partitions uint32) {
	e.t.Helper()
	if _, err := e.iggy.EnsureTopic(ctxT(e.t), stream, topic, partitions); err != nil {
		e.t.Fatal(err)
	}
}

// send produces msgs to stream/topic (balanced) in one request.
func (e *env) send(stream, topic string, msgs []iggy.Message) {
	e.t.Helper()
	if _, err := e.iggy.SendMessages(ctxT(e.t), iggy.NamedID(stream), iggy.NamedID(topic), iggy.Balanced(), msgs); err != nil {
		e.t.Fatal(err)
	}
}

// stored is one message read back from Iggy with its partition.
type stored struct {
	Partition uint32
	iggy.Message
}

// readAll returns every message of stream/topic, partition by partition in offset order (an
// unknown topic reads as empty).
func (e *env) readAll(stream, topic string) []stored {
	e.t.Helper()
	ctx := ctxT(e.t)
	var td *iggy.TopicDetails
	err := retryIggy(func() (err error) { td, err = e.iggy.GetTopic(ctx, iggy.NamedID(stream), iggy.NamedID(topic)); return })
	if errors.Is(err, iggy.ErrNotFound) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	var out []stored
	for _, p := range td.Partitions {
		next := uint64(0)
		for {
			var res *iggy.Polled
			err := retryIggy(func() (err error) {
				res, err = e.iggy.PollMessages(ctx, iggy.NamedID(stream), iggy.NamedID(topic), iggy.SingleConsumer(7),
					iggy.Part(p.ID), iggy.StrategyOffset(next), 1000, false)
				return
			})
			if err != nil {
				e.t.Fatal(err)
			}
			if len(res.Messages) == 0 {
				break
			}
			for _, m := range res.Messages {
				m.Payload = bytes.Clone(m.Payload)
				hs := make([]iggy.Header, len(m.Headers))
				for i, h := range m.Headers {
					hs[i] = iggy.Header{KeyKind: h.KeyKind, Key: bytes.Clone(h.Key), ValueKind: h.ValueKind, Value: bytes.Clone(h.Value)}
				}
				m.Headers = hs
				out = append(out, stored{Partition: res.PartitionID, Message: m})
			}
			next = res.Messages[len(res.Messages)-1].Offset + 1
		}
	}
	return out
}

// countAll is the number of messages in stream/topic (0 when it does not exist).
func (e *env) countAll(stream, topic string) uint64 {
	e.t.Helper()
	var td *iggy.TopicDetails
	err := retryIggy(func() (err error) {
		td, err = e.iggy.GetTopic(ctxT(e.t), iggy.NamedID(stream), iggy.NamedID(topic))
		return
	})
	if errors.Is(err, iggy.ErrNotFound) {
		return 0
	}
	if err != nil {
		e.t.Fatal(err)
	}
	var n uint64
	for _, p := range td.Partitions {
		n += p.MessagesCount
	}
	return n
}

// storedOffset returns the consumer group's stored offset in a partition, or -1 when none is stored.
func (e *env) storedOffset(stream, topic, group string, partition uint32) int64 {
	e.t.Helper()
	var info *iggy.ConsumerOffsetInfo
	err := retryIggy(func() (err error) {
		info, err = e.iggy.GetConsumerOffset(ctxT(e.t), iggy.GroupConsumerOf(iggy.NamedID(group)), iggy.NamedID(stream),
			iggy.NamedID(topic), iggy.Part(partition))
		return
	})
	if errors.Is(err, iggy.ErrNotFound) {
		return -1
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return int64(info.StoredOffset)
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
