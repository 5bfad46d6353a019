//go:build integration

package scaleout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/test/harness"
	"github.com/jackc/pgx/v5"
)

const (
	partitions = 6
	// takeoverLimit is the devserver's heartbeat timeout (30 s interval x 1.2): a member that dies
	// must be replaced within it. kill -9 closes the socket, so the server drops the member at once.
	takeoverLimit = 36 * time.Second
)

// sinkFile is a sink connector on stream/in with the given plugin, batch length and plugin_config.
func sinkFile(key, plugin, stream string, batch int, pluginConfig string) string {
	return fmt.Sprintf(`
type = "sink"
key = %[1]q
enabled = true
version = 0
name = "scaleout %[1]s"
path = %[2]q
verbose = true

[[streams]]
stream = %[3]q
topics = ["in"]
schema = "json"
batch_length = %[4]d
poll_interval = "5ms"

[plugin_config]
%[5]s
`, key, plugin, stream, batch, pluginConfig)
}

// startGroup starts n replicas with the same sink file and waits until all n are members of the
// sink's consumer group, holding all partitions between them.
func startGroup(t *testing.T, addr string, n int, stream, key, file string) []*replica {
	t.Helper()
	c := harness.Dial(t, addr)
	var rs []*replica
	for i := 1; i <= n; i++ {
		rs = append(rs, startReplica(t, fmt.Sprintf("rt%d", i), addr, "", map[string]string{key + ".toml": file}))
	}
	harness.WaitFor(t, 60*time.Second, fmt.Sprintf("%d members in the consumer group", n), func() bool {
		for _, r := range rs {
			r.alive()
		}
		m := groupMembers(t, c, stream, "in", "iggy-connect-sink-"+key)
		return len(m) == n && assigned(m) == partitions
	})
	return rs
}

// batchesBy returns how many batches each replica's sink logged as delivered.
func batchesBy(rs []*replica) map[string]int {
	out := map[string]int{}
	for _, r := range rs {
		out[r.instance] = len(r.log.Lines(`msg="batch delivered"`, "instance="+r.instance))
	}
	return out
}

// produceUntilAThird runs send in the background and waits until third holds (a third of the
// messages arrived) and every replica delivered a batch; the returned channel closes when send
// returns.
func produceUntilAThird(t *testing.T, rs []*replica, what string, send func(), third func() bool) <-chan struct{} {
	t.Helper()
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		send()
	}()
	harness.WaitFor(t, 60*time.Second, "a third of the "+what+", by every runtime", func() bool {
		for _, r := range rs {
			r.alive()
		}
		if !third() {
			return false
		}
		for _, n := range batchesBy(rs) {
			if n == 0 {
				return false
			}
		}
		return true
	})
	return sent
}

// waitTakeover kills victim with SIGKILL and waits until the survivors hold every partition; it
// returns how long that took.
func waitTakeover(t *testing.T, addr, stream, group string, victim *replica, survivors int) time.Duration {
	t.Helper()
	c := harness.Dial(t, addr)
	victim.p.Kill()
	killed := time.Now()
	harness.WaitFor(t, takeoverLimit, "the survivors to hold every partition", func() bool {
		m := groupMembers(t, c, stream, "in", group)
		return len(m) == survivors && assigned(m) == partitions
	})
	return time.Since(killed)
}

// TestThreeRuntimesSharePostgresSink: three runtimes with the same PostgreSQL sink config share a
// 6-partition topic; 100,000 messages are produced while they run; one runtime is killed with
// kill -9 mid-stream. Every message is in the table exactly once (the sink is idempotent: a
// re-delivered batch of a revoked partition creates no row), every runtime wrote some, and the
// survivors take over the dead one's partitions within the server's heartbeat timeout.
func TestThreeRuntimesSharePostgresSink(t *testing.T) {
	u := os.Getenv("IGGY_TEST_PG_URL")
	if u == "" {
		t.Fatal(`IGGY_TEST_PG_URL is not set: run scripts/postgres.sh start && eval "$(scripts/postgres.sh env)"`)
	}
	ctx := context.Background()
	db, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect to IGGY_TEST_PG_URL: %v", err)
	}
	defer db.Close(ctx)
	var b [4]byte
	_, _ = rand.Read(b[:])
	schema := "scaleout_" + hex.EncodeToString(b[:])
	if _, err := db.Exec(ctx, `CREATE SCHEMA "`+schema+`"`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = db.Exec(context.Background(), `DROP SCHEMA "`+schema+`" CASCADE`) })
	table := `"` + schema + `"."rows"`
	count := func(sql string) int {
		var n int
		if err := db.QueryRow(ctx, sql).Scan(&n); err != nil {
			return -1
		}
		return n
	}

	const total = 100_000
	dev := harness.StartDevserver(t, harness.DevserverOptions{})
	c := harness.Dial(t, dev.Addr)
	stream := "scaleout_pg"
	harness.EnsureTopic(t, c, stream, "in", partitions)
	file := sinkFile("pg", "libiggy_connector_postgres_sink", stream, 500, fmt.Sprintf(`connection_string = %q
target_table = %q
auto_create_table = true
payload_format = "jsonb"
batch_size = 500`, u, schema+".rows"))
	rs := startGroup(t, dev.Addr, 3, stream, "pg", file)

	start := time.Now()
	sent := produceUntilAThird(t, rs, "rows", func() { sendPaced(t, c, stream, "in", partitions, total, 250, 15*time.Millisecond, jsonPayload) },
		func() bool { return count("SELECT count(*) FROM "+table) >= total/3 })
	// Kill rt2 mid-stream (every runtime has written something).
	before := batchesBy(rs)
	rowsAtKill := count("SELECT count(*) FROM " + table)
	took := waitTakeover(t, dev.Addr, stream, "iggy-connect-sink-pg", rs[1], 2)
	t.Logf("killed rt2 at %d rows; the survivors held all %d partitions %v later", rowsAtKill, partitions, took.Round(time.Millisecond))
	<-sent
	harness.WaitFor(t, 60*time.Second, fmt.Sprintf("%d rows", total), func() bool {
		rs[0].alive()
		rs[2].alive()
		return count("SELECT count(*) FROM "+table) >= total
	})
	elapsed := time.Since(start)
	time.Sleep(300 * time.Millisecond) // anything late would show as an extra row

	rows := count("SELECT count(*) FROM " + table)
	distinctN := count("SELECT count(DISTINCT (payload->>'n')::int) FROM " + table)
	inRange := count("SELECT count(*) FROM " + table + " WHERE (payload->>'n')::int BETWEEN 0 AND " + fmt.Sprint(total-1) +
		" AND (payload->>'p')::int = iggy_partition_id")
	if rows != total || distinctN != total || inRange != total {
		t.Errorf("table: %d rows, %d distinct n, %d with n in range on their partition; want %d of each", rows, distinctN, inRange, total)
	}
	after := batchesBy(rs)
	for _, r := range rs {
		if after[r.instance] == 0 {
			t.Errorf("%s delivered no batch", r.instance)
		}
	}
	if after["rt1"] <= before["rt1"] || after["rt3"] <= before["rt3"] {
		t.Errorf("the survivors delivered no batch after the kill: before %v, after %v", before, after)
	}
	// The instance identity is in every record of the replica's log.
	if recs := rs[0].log.Lines(`msg="sink running"`); len(recs) == 0 || !strings.Contains(recs[0], "instance=rt1") {
		t.Errorf("rt1's log has no \"sink running\" record with instance=rt1: %q", recs)
	}
	var stats struct {
		Instance string `json:"instance"`
	}
	if err := json.Unmarshal([]byte(rs[2].get("/stats")), &stats); err != nil || stats.Instance != "rt3" {
		t.Errorf("rt3's /stats instance = %q (%v), want rt3", stats.Instance, err)
	}
	t.Logf("%d messages through 3 runtimes (one killed) in %v; batches per runtime %v", total, elapsed.Round(time.Millisecond), after)
}

var stdoutLine = regexp.MustCompile(`^scaleout_out/in offset=(\d+) \{"n":(\d+),"p":(\d+)\}$`)

// TestStdoutSinkDuplicatesBounded: the stdout sink writes everything it is handed, so what a
// rebalance re-delivers shows as printed twice. Three runtimes share a 6-partition topic, one is
// killed with kill -9 mid-stream: every message is printed, and the messages printed more than once
// are, per partition, at most one batch (batch_length): the batch that was in the plugin's hands
// when the partition was revoked or its runtime died.
func TestStdoutSinkDuplicatesBounded(t *testing.T) {
	const total, batch = 30_000, 50 // a batch prints under 4 KiB: one write(2), never split by a log line
	dev := harness.StartDevserver(t, harness.DevserverOptions{})
	c := harness.Dial(t, dev.Addr)
	stream := "scaleout_out"
	harness.EnsureTopic(t, c, stream, "in", partitions)
	rs := startGroup(t, dev.Addr, 3, stream, "out", sinkFile("out", "libiggy_connector_stdout_sink", stream, batch, "print_payload = true"))

	printed := func() map[int]int { return printedBy(rs) }
	sent := produceUntilAThird(t, rs, "messages printed", func() { sendPaced(t, c, stream, "in", partitions, total, 500, 0, jsonPayload) },
		func() bool { return len(printed()) >= total/3 })
	took := waitTakeover(t, dev.Addr, stream, "iggy-connect-sink-out", rs[0], 2)
	t.Logf("killed rt1; the survivors held all partitions %v later", took.Round(time.Millisecond))
	<-sent
	harness.WaitFor(t, 60*time.Second, "every message printed", func() bool {
		rs[1].alive()
		rs[2].alive()
		return len(printed()) >= total
	})
	time.Sleep(500 * time.Millisecond)
	checkPrinted(t, printed(), total, batch)
	revoked := rs[1].log.Lines("partition revoked by a rebalance")
	revoked = append(revoked, rs[2].log.Lines("partition revoked by a rebalance")...)
	t.Logf("%d revoked-partition records in the survivors' logs", len(revoked))
}

// TestFrozenRuntimeIsEvicted: a runtime that stops answering without closing its connection
// (SIGSTOP: a frozen host) is evicted by the server after its heartbeat timeout (here 1 s x 1.2), and
// the other runtime takes over its partitions; once resumed (SIGCONT) it re-joins and takes part
// again. Everything is printed, and per partition at most one batch twice: the frozen runtime
// finishes the batch in its plugin's hands but neither commits it (the group's offset is already
// past it) nor delivers the batch it had read ahead (its assignment is re-read first).
func TestFrozenRuntimeIsEvicted(t *testing.T) {
	const total, more, batch = 20_000, 6_000, 50
	dev := harness.StartDevserver(t, harness.DevserverOptions{HeartbeatInterval: time.Second})
	c := harness.Dial(t, dev.Addr)
	stream := "scaleout_out"
	harness.EnsureTopic(t, c, stream, "in", partitions)
	const group = "iggy-connect-sink-out"
	rs := startGroup(t, dev.Addr, 2, stream, "out", sinkFile("out", "libiggy_connector_stdout_sink", stream, batch, "print_payload = true"))
	printed := func() map[int]int { return printedBy(rs) }
	sent := produceUntilAThird(t, rs, "messages printed", func() { sendPaced(t, c, stream, "in", partitions, total, 500, 0, jsonPayload) },
		func() bool { return len(printed()) >= total/3 })

	rs[0].p.Signal(syscall.SIGSTOP)
	frozen := time.Now()
	harness.WaitFor(t, takeoverLimit, "rt2 to hold every partition", func() bool {
		m := groupMembers(t, c, stream, "in", group)
		return len(m) == 1 && assigned(m) == partitions
	})
	t.Logf("rt1 frozen; rt2 held all partitions %v later (heartbeat timeout 1.2s)", time.Since(frozen).Round(time.Millisecond))
	<-sent
	harness.WaitFor(t, 60*time.Second, "every message printed while rt1 is frozen", func() bool {
		rs[1].alive()
		return len(printed()) >= total
	})
	rs[0].p.Signal(syscall.SIGCONT)
	harness.WaitFor(t, 30*time.Second, "rt1 to re-join the group", func() bool {
		m := groupMembers(t, c, stream, "in", group)
		return len(m) == 2 && assigned(m) == partitions
	})
	before := batchesBy(rs)["rt1"]
	sendRange(t, c, stream, total, total+more)
	harness.WaitFor(t, 60*time.Second, "the new messages printed, rt1 taking part", func() bool {
		rs[0].alive()
		rs[1].alive()
		return len(printed()) >= total+more && batchesBy(rs)["rt1"] > before
	})
	time.Sleep(500 * time.Millisecond)
	checkPrinted(t, printed(), total+more, batch)
}

// printedBy counts, over the replicas' output, how often each message (its n) was printed by the
// stdout sink.
func printedBy(rs []*replica) map[int]int {
	seen := map[int]int{}
	for _, r := range rs {
		for _, line := range strings.Split(r.log.Contents(), "\n") {
			if m := stdoutLine.FindStringSubmatch(line); m != nil {
				var n int
				fmt.Sscan(m[2], &n)
				seen[n]++
			}
		}
	}
	return seen
}

// checkPrinted checks that messages 0..total-1 were each printed, none more than twice, and per
// partition at most one batch twice.
func checkPrinted(t *testing.T, seen map[int]int, total, batch int) {
	t.Helper()
	dupsPerPartition := map[int]int{}
	for n, times := range seen {
		if n < 0 || n >= total {
			t.Errorf("printed n = %d, never sent", n)
		}
		if times > 2 {
			t.Errorf("message %d printed %d times", n, times)
		}
		dupsPerPartition[n%partitions] += times - 1
	}
	if len(seen) != total {
		t.Errorf("%d distinct messages printed, want %d", len(seen), total)
	}
	dups := 0
	for p, d := range dupsPerPartition {
		dups += d
		if d > batch {
			t.Errorf("partition %d: %d messages printed twice, more than one batch (%d)", p, d, batch)
		}
	}
	t.Logf("%d messages printed, %d twice (per partition %v)", len(seen), dups, dupsPerPartition)
}
