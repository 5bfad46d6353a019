//go:build integration

package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/test/harness"
)

// stopBound is how long a graceful stop may take: the engine waits up to its StopTimeout (10s) for
// a connector's in-flight plugin call, then abandons it; a few seconds more for closing.
const stopBound = 15 * time.Second

// TestShutdownDuringSlowSinkCall sends SIGTERM while the sink plugin is inside a slow Consume call.
// The runtime must exit 0 within the bound, and no offset may be stored past what the plugin
// reported written: in_process, a call that returns in time is finished and committed; a call that
// hangs is abandoned at the stop timeout, uncommitted; with transport = "process" the call is
// abandoned at once (the plugin process is killed), uncommitted.
func TestShutdownDuringSlowSinkCall(t *testing.T) {
	cases := []struct {
		name, transport string
		sleepMs         int
		wantCommitted   bool // the in-flight call's messages end up committed
	}{
		{"in_process call finishes", "in_process", 1500, true},
		{"in_process call hangs", "in_process", 60000, false},
		{"process call is abandoned", "process", 60000, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // these mostly wait
			e := newEnv(t)
			e.createTopic("s", "slow", 1)
			out := e.path("out.jsonl")
			e.writeConnector("slow", `
type = "sink"
key = "slow"
enabled = true
version = 0
name = "slow faulty"
path = "libiggy_connector_faulty_sink"
transport = "`+c.transport+`"
`+retryFast+`
[[streams]]
stream = "s"
topics = ["slow"]
schema = "json"
batch_length = 10
poll_interval = "10ms"

[plugin_config]
output = "`+out+`"
sleep_ms = `+strconv.Itoa(c.sleepMs)+`
`)
			e.send("s", "slow", jsonMessages(30, ok))
			rt := e.startRuntime()
			waitFor(t, 30*time.Second, "a Consume call in progress", func() bool {
				calls := readSink(t, out).Calls
				return len(calls) > 0 && calls[len(calls)-1].Outcome == "sleep"
			})
			code, took := rt.SignalWait(syscall.SIGTERM, stopBound+5*time.Second)
			if code != 0 {
				t.Fatalf("exit code %d after SIGTERM", code)
			}
			if took > stopBound {
				t.Fatalf("the runtime took %v to stop, more than %v", took, stopBound)
			}
			o := readSink(t, out)
			stored, written := e.storedOffset("s", "slow", "iggy-connect-sink-slow", 0), o.maxWritten(0)
			if stored > written {
				t.Fatalf("stored offset %d is past the last message the plugin wrote (%d)", stored, written)
			}
			if c.wantCommitted && (written != 9 || stored != 9) {
				t.Fatalf("the in-flight call should have finished and been committed: written up to %d, stored %d", written, stored)
			}
			if !c.wantCommitted && (written != -1 || stored != -1) {
				t.Fatalf("the in-flight call should have been abandoned: written up to %d, stored %d", written, stored)
			}
			log := rt.Log.Contents()
			if !strings.Contains(log, `msg=stopped`) {
				t.Fatalf("no final 'stopped' log line")
			}
			t.Logf("%s: exit 0 after %v; last written offset %d, stored offset %d", c.name, took.Round(time.Millisecond), written, stored)
		})
	}
}

// TestShutdownWhileIggyDown stops the runtime (SIGTERM) while the Iggy server is gone (killed, not
// restarted) and a source and a sink were running on it. Stopping ends every reconnection at once:
// no reconnect attempt starts after `shutting down`, and the runtime exits promptly (about 6 s
// before, spent retrying the final offset store and reconnecting the engine's own client; the
// goal is 1 s, checked here against a looser bound to stay clear of a loaded machine's noise).
func TestShutdownWhileIggyDown(t *testing.T) {
	harness.NeedsOwnServer(t) // it kills the server
	e := newEnv(t)
	e.createTopic("down", "in", 1)
	out := e.path("sink.jsonl")
	e.writeConnector("src", fmt.Sprintf(seqSourceTOML, "src", "", "seq", 10, 100000, 20))
	e.writeConnector("snk", faultySinkTOML("down", "in", 10, "5ms", `output = "`+out+`"`))
	e.send("down", "in", jsonMessages(20, ok))
	rt := e.startRuntime()
	waitFor(t, 30*time.Second, "the sink writing", func() bool { return len(readSink(t, out).Msgs) >= 20 })
	e.srv.Kill()
	waitFor(t, 30*time.Second, "the runtime noticing that Iggy is gone", func() bool {
		return len(rt.Log.Lines("connect failed, retrying")) > 0
	})
	time.Sleep(500 * time.Millisecond)
	code, took := rt.SignalWait(syscall.SIGTERM, stopBound)
	if code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	log := rt.Log.Contents()
	i := strings.Index(log, "shutting down")
	if i < 0 {
		t.Fatal("no `shutting down` in the runtime's log")
	}
	for _, l := range strings.Split(log[i:], "\n") {
		if strings.Contains(l, "retrying") || strings.Contains(l, "reconnected") {
			t.Errorf("a reconnection after `shutting down`: %s", l)
		}
	}
	if took > 3*time.Second {
		t.Fatalf("the runtime took %v to stop while Iggy was down (goal: 1s)", took)
	}
	t.Logf("stopped in %v while Iggy was down", took.Round(time.Millisecond))
}

// TestCleanStopReplaysNothing stops the runtime (SIGTERM) five times while its sink writes one
// message per batch (so an offset store is in flight most of the time) and starts it again. The
// store of the batch written when the stop begins must complete before the connection closes (no
// store cut off by the stop, no connection lost): after each stop the group's stored offset is the
// last offset the sink wrote, and over all runs every offset is written exactly once (a clean stop
// replays nothing).
func TestCleanStopReplaysNothing(t *testing.T) {
	// With a data directory and --fsync the devserver writes and syncs the offsets file before it
	// answers a store, which makes a store take a while, as on a real server.
	e := newEnvWith(t, harness.StartDevserver(t, harness.DevserverOptions{DataDir: t.TempDir(), Fsync: true}))
	e.createTopic("stop", "in", 1)
	for i := 0; i < 20; i++ {
		e.send("stop", "in", jsonMessages(500, ok))
	}
	out := e.path("sink.jsonl")
	e.writeConnector("snk", faultySinkTOML("stop", "in", 1, "1ms", `output = "`+out+`"`))
	for run := 1; run <= 5; run++ {
		before := len(readSink(t, out).Msgs)
		rt := e.startRuntime()
		waitFor(t, 60*time.Second, fmt.Sprintf("run %d writing 150 messages", run), func() bool { return len(readSink(t, out).Msgs) >= before+150 })
		if code, _ := rt.SignalWait(syscall.SIGTERM, stopBound); code != 0 {
			t.Fatalf("run %d: exit code %d", run, code)
		}
		// The store must not be cut off by the stop (it then may or may not reach the server, and the
		// runtime reports the batch as to be delivered again).
		for _, bad := range []string{"could not store the consumer offset", "connection lost"} {
			if lines := rt.Log.Lines(bad); len(lines) > 0 {
				t.Fatalf("run %d: %s", run, lines[0])
			}
		}
		o := readSink(t, out)
		if stored, written := e.storedOffset("stop", "in", "iggy-connect-sink-snk", 0), o.maxWritten(0); stored != written {
			t.Fatalf("run %d: stored offset %d after a clean stop, but the sink wrote up to %d (these would be delivered again)", run, stored, written)
		}
		if dups := len(o.Msgs) - len(o.offsetCounts()); dups != 0 {
			t.Fatalf("run %d: %d messages written twice across clean stops", run, dups)
		}
	}
}
