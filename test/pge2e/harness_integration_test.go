//go:build integration

package pge2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/harness"
	"github.com/iggy-go/connectors/test/pluginbuild"
	"github.com/jackc/pgx/v5"
	"github.com/vmihailenco/msgpack/v5"
)

func TestMain(m *testing.M) { harness.Main(m) }

// Shorthands for the shared harness.
var (
	freeAddr   = harness.FreeAddr
	waitFor    = harness.WaitFor
	dialIggy   = harness.Dial
	topicCount = harness.TopicCount
	readTopic  = harness.ReadTopic
)

// ensureTopic creates stream/topic with one partition when missing.
func ensureTopic(t *testing.T, c *iggy.Client, stream, topic string) {
	t.Helper()
	harness.EnsureTopic(t, c, stream, topic, 1)
}

// ---------------------------------------------------------------------------------------------
// Binaries

type binaries struct {
	runtime, devserver string
}

// getBinaries builds (once per test process) iggy-connectors, iggy-devserver and the two
// PostgreSQL plugins with pluginbuild, in the layout of `make build plugins` (bin/ next to
// plugins/, so the runtime finds the plugins by name), or returns the prebuilt ones of the
// repository's build/ directory when IGGY_PGE2E_PREBUILT is set.
func getBinaries(t *testing.T) binaries {
	t.Helper()
	if os.Getenv("IGGY_PGE2E_PREBUILT") != "" {
		root := pluginbuild.RepoRoot()
		b := binaries{runtime: filepath.Join(root, "build", "bin", "iggy-connectors"), devserver: filepath.Join(root, "build", "bin", "iggy-devserver")}
		for _, f := range []string{b.runtime, b.devserver, filepath.Join(root, "build", "plugins", "libiggy_connector_postgres_sink.so"),
			filepath.Join(root, "build", "plugins", "libiggy_connector_postgres_source.so")} {
			if _, err := os.Stat(f); err != nil {
				t.Fatalf("IGGY_PGE2E_PREBUILT is set but %s is missing: run `make build plugins` first", f)
			}
		}
		return b
	}
	pluginbuild.GoPlugin(t, "connectors/sinks/postgres", "iggy_connector_postgres_sink")
	pluginbuild.GoPlugin(t, "connectors/sources/postgres", "iggy_connector_postgres_source")
	return binaries{runtime: pluginbuild.Runtime(t), devserver: pluginbuild.Devserver(t)}
}

// ---------------------------------------------------------------------------------------------
// Processes

// startDevserver starts iggy-devserver (in memory) on a free port and returns its address.
func startDevserver(t *testing.T) string {
	t.Helper()
	return harness.StartDevserver(t, harness.DevserverOptions{Bin: getBinaries(t).devserver, LogLevel: logLevel("warn")}).Addr
}

// debugLogs reports whether IGGY_PGE2E_DEBUG is set: processes log at debug level.
func debugLogs() bool { return os.Getenv("IGGY_PGE2E_DEBUG") != "" }

func logLevel(normal string) string {
	if debugLogs() {
		return "debug"
	}
	return normal
}

// runtimeProc is one iggy-connectors installation (harness.Installation) that a test starts,
// kills and restarts, with this suite's helpers.
type runtimeProc struct {
	*harness.Installation
	t *testing.T
}

// newRuntime writes the connector files (file name → TOML) into a fresh config directory. The
// runtime gets the external server's credentials (harness.IggyEnv) and logs at info level (debug
// with IGGY_PGE2E_DEBUG).
func newRuntime(t *testing.T, name, iggyAddr string, connectors map[string]string) *runtimeProc {
	t.Helper()
	env := append(harness.IggyEnv(iggyAddr), "IGGY_CONNECTORS_LOGGING_LEVEL="+logLevel("info"))
	return &runtimeProc{Installation: harness.NewInstallation(t, name, getBinaries(t).runtime, iggyAddr, connectors, env...), t: t}
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
		if r.Proc().Exited() {
			r.t.Fatalf("%s exited (%v) while waiting for a crash window", r.Name(), r.Proc().Err())
		}
		if !trigger() {
			time.Sleep(time.Millisecond)
			continue
		}
		attempts++
		r.Proc().Signal(syscall.SIGSTOP)
		time.Sleep(30 * time.Millisecond) // let requests already on the wire land (Iggy sends, PostgreSQL statements)
		hit, desc = inWindow()
		if hit {
			r.Kill()
			return true, attempts, desc
		}
		r.Proc().Signal(syscall.SIGCONT)
	}
	r.Kill()
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

// waitLog waits until at least n log lines contain every one of parts. The runtime must keep
// running meanwhile.
func (r *runtimeProc) waitLog(n int, timeout time.Duration, parts ...string) {
	r.t.Helper()
	waitFor(r.t, timeout, fmt.Sprintf("%d log line(s) of %s with %q", n, r.Name(), parts), func() bool {
		if r.Proc().Exited() {
			r.t.Fatalf("%s exited (%v) while waiting for %q", r.Name(), r.Proc().Err(), parts)
		}
		return r.Count(parts...) >= n
	})
}

// statePath is the runtime's state file of a source.
func (r *runtimeProc) statePath(key string) string {
	return filepath.Join(r.StateDir(), "source_"+key+".state")
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

// groupOffset returns the offset consumer group has stored for the (first and only) partition 0
// of a topic (-1 when none).
func groupOffset(t *testing.T, c *iggy.Client, stream, topic, group string) int64 {
	t.Helper()
	return harness.GroupOffset(t, c, stream, topic, group, 0)
}

func headerValue(m harness.Stored, key string) (string, bool) {
	for _, h := range m.Headers {
		if string(h.Key) == key {
			return string(h.Value), true
		}
	}
	return "", false
}
