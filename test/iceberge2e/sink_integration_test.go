//go:build integration

package iceberge2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/harness"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

func TestMain(m *testing.M) { harness.Main(m) }

type binaries struct{ runtime, devserver string }

func getBinaries(t *testing.T) binaries {
	t.Helper()
	pluginbuild.GoPlugin(t, "connectors/sinks/iceberg", "iggy_connector_iceberg_sink")
	return binaries{runtime: pluginbuild.Runtime(t), devserver: pluginbuild.Devserver(t)}
}

// lake is the SQL catalog + warehouse of one test, with the pyiceberg helper scripts.
type lake struct {
	t               *testing.T
	db, warehouse   string
	python, scripts string
}

func newLake(t *testing.T) *lake {
	dir := t.TempDir()
	root := pluginbuild.RepoRoot()
	l := &lake{t: t, db: filepath.Join(dir, "catalog.db"), warehouse: "file://" + filepath.Join(dir, "warehouse"),
		python: filepath.Join(root, "build", "venv", "bin", "python"), scripts: filepath.Join(root, "connectors", "sinks", "iceberg", "icebergtest")}
	if _, err := os.Stat(l.python); err != nil {
		t.Fatalf("build/venv missing (scripts/setup.sh): %v", err)
	}
	return l
}

func (l *lake) py(script string, args ...string) []byte {
	l.t.Helper()
	args = append([]string{filepath.Join(l.scripts, script), "--catalog", "sql", "--uri", "sqlite:///" + l.db, "--warehouse", l.warehouse}, args...)
	cmd := exec.Command(l.python, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		l.t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	return out
}

// ids reads the table with pyiceberg and returns its id column.
func (l *lake) ids(table string) []int64 {
	l.t.Helper()
	var r struct {
		Rows []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal(l.py("read_table.py", "--table", table, "--sort", "id"), &r); err != nil {
		l.t.Fatal(err)
	}
	out := make([]int64, len(r.Rows))
	for i, row := range r.Rows {
		out[i] = int64(row["id"].(float64))
	}
	return out
}

// runtimeProc is one iggy-connectors installation (harness.Installation) that the test starts,
// kills and restarts.
type runtimeProc struct {
	*harness.Installation
	t *testing.T
}

func newRuntime(t *testing.T, bin, iggyAddr string, connectors map[string]string) *runtimeProc {
	return &runtimeProc{Installation: harness.NewInstallation(t, "runtime", bin, iggyAddr, connectors), t: t}
}

// lastCommitOffset returns the offset of the newest "iceberg sink: committed" line and how many
// such lines there are.
func (r *runtimeProc) lastCommitOffset() (int64, int) {
	lines := r.Log().Lines("iceberg sink: committed")
	if len(lines) == 0 {
		return -1, 0
	}
	l := lines[len(lines)-1]
	i := strings.Index(l, "offset=")
	if i < 0 {
		r.t.Fatalf("commit line without offset: %s", l)
	}
	f := strings.Fields(l[i+len("offset="):])
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		r.t.Fatalf("commit line %q: %v", l, err)
	}
	return n, len(lines)
}

func sinkConfig(key, stream, topic, table string, l *lake, extra string) string {
	return fmt.Sprintf(`
type = "sink"
key = %[1]q
enabled = true
version = 0
name = "iceberg e2e %[1]s"
path = "libiggy_connector_iceberg_sink"
%[7]s
[[streams]]
stream = %[2]q
topics = [%[3]q]
schema = "json"
batch_length = 500
poll_interval = "5ms"
consumer_group = %[1]q

[plugin_config]
tables = [%[4]q]
catalog_type = "sql"
uri = %[5]q
warehouse = %[6]q
store_class = "fs"
`, key, stream, topic, table, l.db, l.warehouse, extra)
}

func payload(i int) []byte {
	ts := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 37 * time.Second)
	return []byte(fmt.Sprintf(`{"id":%d,"name":"row %d with some padding to look like a real event","ts":%q}`, i, i, ts.Format(time.RFC3339)))
}

// TestKill9ExactlyOnce: 20,000 messages into two tables (static mode: every message to both, the
// first partitioned by day). The second table's data directory is first blocked (a file where the
// directory must be), so each batch commits to the first table and then fails: the consumer offset
// stays behind a committed table snapshot. The runtime is killed with SIGKILL twice in that window,
// then, unblocked, twice at random moments; after the restarts pyiceberg finds every message exactly
// once in each table, and the restarted sink logged that it skipped the committed batch.
func TestKill9ExactlyOnce(t *testing.T) {
	bins := getBinaries(t)
	l := newLake(t)
	tableA, tableB := "e2e.events", "e2e.events_copy"
	locB := filepath.Join(t.TempDir(), "events_copy")
	l.py("create_table.py", "--table", tableA, "--by-day")
	l.py("create_table.py", "--table", tableB, "--location", "file://"+locB)
	blocker := filepath.Join(locB, "data")
	if err := os.WriteFile(blocker, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	dev := harness.StartDevserver(t, harness.DevserverOptions{Bin: bins.devserver, LogLevel: "warn"})
	client := harness.Dial(t, dev.Addr)
	stream, topic, group := "ice_e2e", "events", "ice_sink"
	harness.EnsureTopic(t, client, stream, topic, 1)
	const total = 20000
	for from := 0; from < total; from += 1000 {
		msgs := make([]iggy.Message, 0, 1000)
		for i := from; i < from+1000; i++ {
			msgs = append(msgs, iggy.Message{Payload: payload(i)})
		}
		harness.Send(t, client, stream, topic, msgs)
	}
	conf := sinkConfig(group, stream, topic, tableA, l, "")
	conf = strings.Replace(conf, fmt.Sprintf("tables = [%q]", tableA), fmt.Sprintf("tables = [%q, %q]", tableA, tableB), 1)
	rt := newRuntime(t, bins.runtime, dev.Addr, map[string]string{"ice.toml": conf})
	stored := func() int64 { return harness.GroupOffset(t, client, stream, topic, group, 0) }
	const failing = "sink plugin failed; retrying"

	// Window kills: table A committed, table B failing, offset not stored.
	windowKills := 0
	for windowKills < 2 {
		fails, skips := rt.Count(failing), rt.Count("skipped messages already in the table")
		rt.Start()
		harness.WaitFor(t, 60*time.Second, "a batch committed to table A while table B fails", func() bool {
			if rt.Proc().Exited() {
				t.Fatalf("runtime exited: %v", rt.Proc().Err())
			}
			off, n := rt.lastCommitOffset()
			replayed := windowKills == 0 || rt.Count("skipped messages already in the table") > skips
			return n > 0 && replayed && rt.Count(failing) > fails && stored() < off
		})
		off, _ := rt.lastCommitOffset()
		t.Logf("kill %d in the window: table A holds offsets up to %d, group offset stored %d", windowKills+1, off, stored())
		rt.Proc().Kill()
		windowKills++
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	randomKills := 0
	for ; randomKills < 2; randomKills++ {
		rt.Start()
		d := time.Duration(150+rand.IntN(550)) * time.Millisecond // the sink drains 20,000 messages in about a second
		time.Sleep(d)
		t.Logf("random kill %v after start (group offset %d)", d, stored())
		rt.Proc().Kill()
	}
	rt.Start()
	harness.WaitFor(t, 5*time.Minute, "the sink to consume every message", func() bool {
		if rt.Proc().Exited() {
			t.Fatalf("runtime exited: %v", rt.Proc().Err())
		}
		return stored() >= total-1
	})
	if !rt.Proc().Stop(30 * time.Second) {
		t.Fatal("runtime did not stop on SIGTERM")
	}
	skips := rt.Count("skipped messages already in the table")
	for _, table := range []string{tableA, tableB} {
		ids := l.ids(table)
		dups, seen := 0, make(map[int64]bool, total)
		for _, id := range ids {
			if seen[id] {
				dups++
			}
			seen[id] = true
		}
		t.Logf("%s: pyiceberg: %d rows, %d distinct, %d duplicates", table, len(ids), len(seen), dups)
		if len(ids) != total || len(seen) != total || dups != 0 {
			t.Errorf("%s: pyiceberg counts %d rows (%d distinct), want exactly %d", table, len(ids), len(seen), total)
		}
	}
	t.Logf("%d kills (%d in the commit/offset window, %d random), %d starts, %d replays skipped", windowKills+randomKills, windowKills, randomKills, rt.Starts(), skips)
	if skips < windowKills {
		t.Errorf("the restarted sink must skip the batch committed before each window kill: %d skips for %d kills", skips, windowKills)
	}
}

// TestDynamicRoutingDeadLetter: messages routed by a string field to three tables; unknown table
// names and a string in the long column go to the dead-letter topic (on_error = "dead_letter"),
// everything else is in its table.
func TestDynamicRoutingDeadLetter(t *testing.T) {
	bins := getBinaries(t)
	l := newLake(t)
	tables := []string{"route.a", "route.b", "route.c"}
	l.py("create_table.py", "--table", tables[0], "--table", tables[1], "--table", tables[2])
	dev := harness.StartDevserver(t, harness.DevserverOptions{Bin: bins.devserver, LogLevel: "warn"})
	client := harness.Dial(t, dev.Addr)
	stream := "ice_route"
	harness.EnsureTopic(t, client, stream, "in", 1)
	harness.EnsureTopic(t, client, stream, "dlq", 1)
	const total = 600
	msgs := make([]iggy.Message, 0, total)
	wantRows := map[string]int{}
	wantDLQ := 0
	for i := 0; i < total; i++ {
		target := tables[i%3]
		id := strconv.Itoa(i)
		switch {
		case i%40 == 5:
			target = "route.missing"
			wantDLQ++
		case i%40 == 6:
			id = `"not a number"`
			wantDLQ++
		default:
			wantRows[target]++
		}
		msgs = append(msgs, iggy.Message{Payload: []byte(fmt.Sprintf(`{"id":%s,"table":%q,"ts":"2026-03-01T10:00:00Z"}`, id, target))})
	}
	harness.Send(t, client, stream, "in", msgs)
	conf := sinkConfig("router", stream, "in", tables[0], l, "on_error = \"dead_letter\"\n[dead_letter]\nstream = \"ice_route\"\ntopic = \"dlq\"\n")
	conf = strings.Replace(conf, fmt.Sprintf("tables = [%q]", tables[0]), "dynamic_routing = true\ndynamic_route_field = \"table\"", 1)
	rt := newRuntime(t, bins.runtime, dev.Addr, map[string]string{"router.toml": conf})
	rt.Start()
	harness.WaitFor(t, 2*time.Minute, "every message resolved", func() bool {
		if rt.Proc().Exited() {
			t.Fatalf("runtime exited: %v", rt.Proc().Err())
		}
		return harness.GroupOffset(t, client, stream, "in", "router", 0) >= total-1
	})
	rt.Proc().Stop(30 * time.Second)
	if n := harness.TopicCount(t, client, stream, "dlq"); n != uint64(wantDLQ) {
		t.Errorf("dead-letter topic holds %d messages, want %d", n, wantDLQ)
	}
	for _, tb := range tables {
		if n := len(l.ids(tb)); n != wantRows[tb] {
			t.Errorf("%s: pyiceberg counts %d rows, want %d", tb, n, wantRows[tb])
		}
	}
}

// TestValidateNamesFileAndKey: `iggy-connectors validate` loads the sink plugin and reports an
// unsupported catalog_type and a missing tables list, each on a line naming its file and key
// (config checks only: no catalog is opened).
func TestValidateNamesFileAndKey(t *testing.T) {
	l := &lake{db: filepath.Join(t.TempDir(), "catalog.db"), warehouse: "file:///nowhere"}
	base := sinkConfig("v1", "s", "t", "ns.events", l, "")
	out, err := harness.Validate(t, getBinaries(t).runtime, map[string]string{
		"bad_catalog.toml": strings.Replace(base, `catalog_type = "sql"`, `catalog_type = "hive"`, 1),
		"no_tables.toml":   strings.Replace(strings.Replace(base, `tables = ["ns.events"]`, "", 1), `key = "v1"`, `key = "v2"`, 1),
	})
	if err == nil {
		t.Fatalf("validate exited 0:\n%s", out)
	}
	for file, key := range map[string]string{"bad_catalog.toml": "plugin_config.catalog_type", "no_tables.toml": "plugin_config.tables"} {
		if !harness.ProblemLine(out, file, key) {
			t.Errorf("no problem line names %s and %s:\n%s", file, key, out)
		}
	}
}
