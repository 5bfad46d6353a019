//go:build integration

package pge2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/pluginbuild"
	"github.com/jackc/pgx/v5"
	"github.com/vmihailenco/msgpack/v5"
)

// ---------------------------------------------------------------------------------------------
// Binaries

type binaries struct {
	runtime, devserver string
	plugins            string // directory of the plugins (the runtime finds them there by itself)
}

var (
	binOnce sync.Once
	bins    binaries
	binErr  error
	binTmp  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binTmp != "" {
		os.RemoveAll(binTmp)
	}
	os.Exit(code)
}

// getBinaries builds (once per test process) iggy-connectors, iggy-devserver and the two
// PostgreSQL plugins in the layout of `make build plugins`, or returns the prebuilt ones of the
// repository's build/ directory when IGGY_PGE2E_PREBUILT is set.
func getBinaries(t *testing.T) binaries {
	t.Helper()
	binOnce.Do(func() { bins, binErr = buildBinaries() })
	if binErr != nil {
		t.Fatal(binErr)
	}
	return bins
}

func buildBinaries() (binaries, error) {
	root := pluginbuild.RepoRoot()
	plugins := []string{"libiggy_connector_postgres_sink.so", "libiggy_connector_postgres_source.so"}
	if os.Getenv("IGGY_PGE2E_PREBUILT") != "" {
		b := binaries{runtime: filepath.Join(root, "build", "bin", "iggy-connectors"),
			devserver: filepath.Join(root, "build", "bin", "iggy-devserver"), plugins: filepath.Join(root, "build", "plugins")}
		for _, f := range []string{b.runtime, b.devserver, filepath.Join(b.plugins, plugins[0]), filepath.Join(b.plugins, plugins[1])} {
			if _, err := os.Stat(f); err != nil {
				return b, fmt.Errorf("IGGY_PGE2E_PREBUILT is set but %s is missing: run `make build plugins` first", f)
			}
		}
		return b, nil
	}
	dir, err := os.MkdirTemp("", "pge2e-build-")
	if err != nil {
		return binaries{}, err
	}
	binTmp = dir
	b := binaries{runtime: filepath.Join(dir, "bin", "iggy-connectors"), devserver: filepath.Join(dir, "bin", "iggy-devserver"),
		plugins: filepath.Join(dir, "plugins")}
	steps := []struct {
		dir, out string
		cgo      string
		args     []string
	}{
		{root, b.runtime, "0", []string{"./runtime/cmd/iggy-connectors"}},
		{root, b.devserver, "0", []string{"./test/cmd/iggy-devserver"}},
		{filepath.Join(root, "connectors", "sinks", "postgres"), filepath.Join(b.plugins, plugins[0]), "1", []string{"-buildmode=c-shared", "."}},
		{filepath.Join(root, "connectors", "sources", "postgres"), filepath.Join(b.plugins, plugins[1]), "1", []string{"-buildmode=c-shared", "."}},
	}
	for _, s := range steps {
		args := append([]string{"build", "-o", s.out}, s.args...)
		cmd := exec.Command("go", args...)
		cmd.Dir = s.dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+s.cgo)
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("%s (in %s): %v\n%s", cmd.String(), s.dir, err, out)
		}
	}
	for _, p := range plugins {
		os.Remove(filepath.Join(b.plugins, strings.TrimSuffix(p, ".so")+".h"))
	}
	return b, nil
}

// ---------------------------------------------------------------------------------------------
// Processes

// proc is a child process whose output goes to a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProc(t *testing.T, name, bin string, args, env []string, dir, logPath string) *proc {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(logf, "=== %s started %s\n", name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL (kill -9) and waits for the process to be gone.
func (p *proc) kill() {
	if p.running() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// stop sends SIGTERM and waits up to timeout (then SIGKILL); it reports whether the process
// stopped by itself.
func (p *proc) stop(timeout time.Duration) bool {
	if !p.running() {
		return true
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
		p.kill()
		return false
	}
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startDevserver starts iggy-devserver (in memory) on a free port and returns its address.
func startDevserver(t *testing.T) string {
	t.Helper()
	b := getBinaries(t)
	logPath := filepath.Join(t.TempDir(), "devserver.log")
	for attempt := 0; attempt < 3; attempt++ {
		addr := freeAddr(t)
		t.Cleanup(func() {
			if t.Failed() && debugLogs() {
				data, _ := os.ReadFile(logPath)
				t.Logf("--- iggy-devserver log (last 100 lines) ---\n%s", tail(string(data), 100))
			}
		})
		p := startProc(t, "iggy-devserver", b.devserver, []string{"--addr", addr, "--log-level", logLevel("warn")}, os.Environ(), t.TempDir(), logPath)
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) && p.running() {
			if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
				c.Close()
				return addr
			}
			time.Sleep(20 * time.Millisecond)
		}
		p.kill()
	}
	data, _ := os.ReadFile(logPath)
	t.Fatalf("iggy-devserver did not start:\n%s", data)
	return ""
}

// debugLogs reports whether IGGY_PGE2E_DEBUG is set: processes log at debug level, and the logs
// shown for a failed test are longer.
func debugLogs() bool { return os.Getenv("IGGY_PGE2E_DEBUG") != "" }

func logLevel(normal string) string {
	if debugLogs() {
		return "debug"
	}
	return normal
}

// runtimeProc is one iggy-connectors installation (config dir, state dir, log) that a test starts,
// kills and restarts.
type runtimeProc struct {
	t         *testing.T
	name      string
	iggyAddr  string
	configDir string
	stateDir  string
	workDir   string
	logPath   string
	p         *proc
	starts    int
}

// newRuntime writes the connector files (file name → TOML) into a fresh config directory.
func newRuntime(t *testing.T, name, iggyAddr string, connectors map[string]string) *runtimeProc {
	t.Helper()
	base := t.TempDir()
	r := &runtimeProc{t: t, name: name, iggyAddr: iggyAddr, configDir: filepath.Join(base, "connectors"),
		stateDir: filepath.Join(base, "state"), workDir: base, logPath: filepath.Join(base, "runtime.log")}
	if err := os.MkdirAll(r.configDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for file, body := range connectors {
		if err := os.WriteFile(filepath.Join(r.configDir, file), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			n := 60
			if debugLogs() {
				n = 400
			}
			t.Logf("--- %s log (last %d lines) ---\n%s", r.name, n, tail(r.logs(), n))
		}
	})
	return r
}

// start runs `iggy-connectors run` with the environment the brief prescribes and no config file
// (the work directory is empty, so the embedded defaults apply).
func (r *runtimeProc) start() {
	r.t.Helper()
	if r.p != nil && r.p.running() {
		r.t.Fatalf("%s is already running", r.name)
	}
	b := getBinaries(r.t)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IGGY_CONNECTORS_") && !strings.HasPrefix(kv, "IGGY_DISPLAY_CONFIG=") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"IGGY_CONNECTORS_IGGY_ADDRESS="+r.iggyAddr,
		"IGGY_CONNECTORS_CONNECTORS_CONFIG_DIR="+r.configDir,
		"IGGY_CONNECTORS_STATE_PATH="+r.stateDir,
		"IGGY_CONNECTORS_HTTP_ENABLED=false",
		"IGGY_CONNECTORS_ENV_PATH="+filepath.Join(r.workDir, "none.env"),
		"IGGY_DISPLAY_CONFIG=false",
		"IGGY_CONNECTORS_LOGGING_LEVEL="+logLevel("info"),
	)
	r.starts++
	r.p = startProc(r.t, fmt.Sprintf("%s #%d", r.name, r.starts), b.runtime, []string{"run"}, env, r.workDir, r.logPath)
}

// kill9 kills the runtime with SIGKILL.
func (r *runtimeProc) kill9() { r.p.kill() }

// stop stops the runtime gracefully (SIGTERM) and fails the test if it does not stop in 30 s.
func (r *runtimeProc) stop() {
	r.t.Helper()
	if !r.p.stop(30 * time.Second) {
		r.t.Fatalf("%s did not stop within 30s of SIGTERM", r.name)
	}
}

// killInWindow catches the runtime inside a crash window: each time trigger reports progress (e.g.
// Iggy received messages) the process is frozen with SIGSTOP and inWindow inspects the frozen
// system (Iggy, the state file, PostgreSQL); inside the window the runtime is killed with SIGKILL
// while frozen, otherwise it continues (SIGCONT) until the next trigger. After timeout it is killed
// wherever it is. It returns whether the kill was inside the window, the attempts, and inWindow's
// description of the last inspection.
func (r *runtimeProc) killInWindow(timeout time.Duration, trigger func() bool, inWindow func() (bool, string)) (hit bool, attempts int, desc string) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !r.p.running() {
			r.t.Fatalf("%s exited (%v) while waiting for a crash window", r.name, r.p.err)
		}
		if !trigger() {
			time.Sleep(time.Millisecond)
			continue
		}
		attempts++
		if err := r.p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			r.t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond) // let requests already on the wire land (Iggy sends, PostgreSQL statements)
		hit, desc = inWindow()
		if hit {
			r.kill9()
			return true, attempts, desc
		}
		if err := r.p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			r.t.Fatal(err)
		}
	}
	r.kill9()
	return false, attempts, desc
}

// growth returns a trigger that fires whenever stream/topic holds more messages than at the
// previous call.
func growth(t *testing.T, c *iggy.Client, stream, topic string) func() bool {
	last := topicCount(t, c, stream, topic)
	return func() bool {
		n := topicCount(t, c, stream, topic)
		grew := n > last
		last = n
		return grew
	}
}

func (r *runtimeProc) logs() string {
	data, _ := os.ReadFile(r.logPath)
	return string(data)
}

// countLog counts log lines containing every one of parts.
func (r *runtimeProc) countLog(parts ...string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(r.logs()))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
lines:
	for sc.Scan() {
		for _, p := range parts {
			if !strings.Contains(sc.Text(), p) {
				continue lines
			}
		}
		n++
	}
	return n
}

// waitLog waits until at least n log lines contain every one of parts. The runtime must keep
// running meanwhile.
func (r *runtimeProc) waitLog(n int, timeout time.Duration, parts ...string) {
	r.t.Helper()
	waitFor(r.t, timeout, fmt.Sprintf("%d log line(s) of %s with %q", n, r.name, parts), func() bool {
		if !r.p.running() {
			r.t.Fatalf("%s exited (%v) while waiting for %q", r.name, r.p.err, parts)
		}
		return r.countLog(parts...) >= n
	})
}

// statePath is the runtime's state file of a source.
func (r *runtimeProc) statePath(key string) string {
	return filepath.Join(r.stateDir, "source_"+key+".state")
}

// sourceState mirrors the PostgreSQL source's state (MessagePack array, see pgsource.State).
type sourceState struct {
	LastPollTime    string
	TrackingOffsets map[string]string
	ProcessedRows   uint64
	CDC             struct{ FlushLSN, PartialLSN, PartialCount uint64 }
}

// readState decodes a source's persisted state; ok is false when there is none.
func (r *runtimeProc) readState(key string) (st sourceState, ok bool) {
	r.t.Helper()
	data, err := os.ReadFile(r.statePath(key))
	if errors.Is(err, os.ErrNotExist) || len(data) == 0 {
		return st, false
	}
	if err != nil {
		r.t.Fatal(err)
	}
	if err := msgpack.Unmarshal(data, &st); err != nil {
		r.t.Fatalf("state file %s: %v", r.statePath(key), err)
	}
	return st, true
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitFor polls cond every 20 ms until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

// pgURL returns IGGY_TEST_PG_URL or fails the test saying how to get one.
func pgURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("IGGY_TEST_PG_URL")
	if u == "" {
		t.Fatal(`IGGY_TEST_PG_URL is not set: these tests need a real PostgreSQL with wal_level=logical; ` +
			`run scripts/postgres.sh start && eval "$(scripts/postgres.sh env)"`)
	}
	return u
}

// testDB is a connection for set-up plus a schema of the test's own, dropped at the end.
type testDB struct {
	t      *testing.T
	url    string
	conn   *pgx.Conn
	schema string
	suffix string // unique per test: slot, publication, stream names
}

func newTestDB(t *testing.T) *testDB {
	t.Helper()
	u := pgURL(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	name := strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace(t.Name()))
	if len(name) > 30 {
		name = name[:30]
	}
	d := &testDB{t: t, url: u, schema: "pge2e_" + name + "_" + suffix, suffix: suffix}
	d.conn = d.connect()
	d.exec(`CREATE SCHEMA "` + d.schema + `"`)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, u)
		if err == nil {
			_, _ = c.Exec(ctx, `DROP SCHEMA "`+d.schema+`" CASCADE`)
			c.Close(ctx)
		}
	})
	return d
}

// connect opens another connection (closed at the end of the test).
func (d *testDB) connect() *pgx.Conn {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, d.url)
	if err != nil {
		d.t.Fatalf("connect to IGGY_TEST_PG_URL: %v", err)
	}
	d.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// q is the quoted name of a table in the test's schema; table its unquoted schema.table form.
func (d *testDB) q(table string) string     { return `"` + d.schema + `"."` + table + `"` }
func (d *testDB) table(table string) string { return d.schema + "." + table }

func (d *testDB) exec(sql string, args ...any) {
	d.t.Helper()
	if _, err := d.conn.Exec(context.Background(), sql, args...); err != nil {
		d.t.Fatalf("%s: %v", sql, err)
	}
}

func (d *testDB) count(from string) int {
	d.t.Helper()
	var n int
	if err := d.conn.QueryRow(context.Background(), "SELECT count(*) FROM "+from).Scan(&n); err != nil {
		d.t.Fatalf("count %s: %v", from, err)
	}
	return n
}

// int64s runs a query returning one bigint column.
func (d *testDB) int64s(sql string) []int64 {
	d.t.Helper()
	rows, err := d.conn.Query(context.Background(), sql)
	if err != nil {
		d.t.Fatalf("%s: %v", sql, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		d.t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// psql runs sql with the real psql client (an independent reader) and returns its unaligned,
// tuples-only output, trimmed.
func (d *testDB) psql(sql string) string {
	d.t.Helper()
	cmd := exec.Command("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", d.url, "-c", sql)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		d.t.Fatalf("psql -c %q: %v\n%s", sql, err, errb.String())
	}
	return strings.TrimSpace(out.String())
}

// ---------------------------------------------------------------------------------------------
// Iggy

func dialIggy(t *testing.T, addr string) *iggy.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := iggy.Dial(ctx, iggy.Config{Address: addr, Username: "iggy", Password: "iggy",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("dial Iggy at %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctx10(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// topicCount returns how many messages stream/topic holds (0 when it does not exist yet).
func topicCount(t *testing.T, c *iggy.Client, stream, topic string) uint64 {
	t.Helper()
	td, err := c.GetTopic(ctx10(t), iggy.NamedID(stream), iggy.NamedID(topic))
	if errors.Is(err, iggy.ErrNotFound) {
		return 0
	}
	if err != nil {
		t.Fatalf("get topic %s/%s: %v", stream, topic, err)
	}
	return td.MessagesCount
}

// readTopic reads every message of every partition of stream/topic, in offset order per
// partition, with a plain consumer that stores nothing.
func readTopic(t *testing.T, c *iggy.Client, stream, topic string) []iggy.Message {
	t.Helper()
	td, err := c.GetTopic(ctx10(t), iggy.NamedID(stream), iggy.NamedID(topic))
	if errors.Is(err, iggy.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatalf("get topic %s/%s: %v", stream, topic, err)
	}
	var out []iggy.Message
	for _, part := range td.Partitions {
		p := part.ID
		for off := uint64(0); ; {
			res, err := c.PollMessages(ctx10(t), iggy.NamedID(stream), iggy.NamedID(topic), iggy.SingleConsumer(4242),
				iggy.Part(p), iggy.StrategyOffset(off), 1000, false)
			if err != nil {
				t.Fatalf("poll %s/%s partition %d at %d: %v", stream, topic, p, off, err)
			}
			if len(res.Messages) == 0 {
				break
			}
			out = append(out, res.Messages...)
			off = res.Messages[len(res.Messages)-1].Offset + 1
		}
	}
	return out
}

// ensureTopic creates stream/topic with one partition when missing.
func ensureTopic(t *testing.T, c *iggy.Client, stream, topic string) {
	t.Helper()
	if _, err := c.EnsureTopic(ctx10(t), stream, topic, 1); err != nil {
		t.Fatalf("create %s/%s: %v", stream, topic, err)
	}
}

// groupOffset returns the offset consumer group has stored for the first partition of a topic
// (-1 when none).
func groupOffset(t *testing.T, c *iggy.Client, stream, topic, group string) int64 {
	t.Helper()
	td, err := c.GetTopic(ctx10(t), iggy.NamedID(stream), iggy.NamedID(topic))
	if err != nil || len(td.Partitions) == 0 {
		t.Fatalf("get topic %s/%s: %v (%d partitions)", stream, topic, err, len(td.Partitions))
	}
	info, err := c.GetConsumerOffset(ctx10(t), iggy.GroupConsumerOf(iggy.NamedID(group)), iggy.NamedID(stream),
		iggy.NamedID(topic), iggy.Part(td.Partitions[0].ID))
	if errors.Is(err, iggy.ErrNotFound) {
		return -1
	}
	if err != nil {
		t.Fatalf("consumer offset of group %s on %s/%s: %v", group, stream, topic, err)
	}
	return int64(info.StoredOffset)
}

func headerValue(m iggy.Message, key string) (string, bool) {
	for _, h := range m.Headers {
		if string(h.Key) == key {
			return string(h.Value), true
		}
	}
	return "", false
}
