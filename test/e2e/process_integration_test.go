//go:build integration

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/test/harness"
)

// TestProcessTransport runs a source and a sink with transport = "process" whose plugin processes
// die mid-stream (os.Exit inside a call, every few calls): each child is restarted — the source's
// with its last persisted state — and nothing is lost. The sink's child dies before writing, so
// nothing is duplicated either; the source's dies inside a poll, before anything of that batch is
// sent.
func TestProcessTransport(t *testing.T) {
	e := newEnv(t)
	const batch, limit = 20, 300
	e.writeConnector("source", fmt.Sprintf(seqSourceTOML, "psrc", `transport = "process"`, "proc", batch, limit, 0)+
		"exit_after_polls = 3\n")
	out := e.path("sink.jsonl")
	e.writeConnector("sink", `
type = "sink"
key = "psnk"
enabled = true
version = 0
name = "faulty in a child process"
path = "libiggy_connector_faulty_sink"
transport = "process"
`+retryFast+`
[[streams]]
stream = "c"
topics = ["proc"]
schema = "json"
batch_length = 25
poll_interval = "10ms"

[plugin_config]
output = "`+out+`"
exit_after_calls = 2
exit_code = 7
`)
	rt := e.startRuntime()
	// The sink's output file shows a write as soon as the child made it, before the runtime has the
	// reply (and a stop abandons a call in flight): wait for the commit too.
	waitFor(t, 90*time.Second, "every message through source and sink, and committed", func() bool {
		return e.seqState("psrc") == limit && len(readSink(t, out).offsetCounts()) >= limit &&
			e.storedOffset("c", "proc", "iggy-connect-sink-psnk", 0) == limit-1
	})
	if code, _ := rt.SignalWait(syscall.SIGTERM, stopBound); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	ks := e.seqKs("c", "proc")
	dups := checkSeqComplete(t, "process-transport source", ks, limit, 0)

	o := readSink(t, out)
	checkOnce(t, "process-transport sink", o, seqOffsets(0, limit-1))
	pids := map[int]bool{}
	for _, c := range o.Calls {
		pids[c.Pid] = true
	}
	log := rt.Log.Contents()
	sinkDeaths := strings.Count(log, `msg="plugin process died" connector=psnk`)
	srcDeaths := strings.Count(log, `msg="plugin process died" connector=psrc`)
	if sinkDeaths < 3 || srcDeaths < 3 || len(pids) < 4 {
		t.Fatalf("expected several plugin process deaths: sink %d, source %d, sink pids %d", sinkDeaths, srcDeaths, len(pids))
	}
	if e.storedOffset("c", "proc", "iggy-connect-sink-psnk", 0) != limit-1 {
		t.Fatalf("sink offset not at the end")
	}
	t.Logf("source: %d messages, %d duplicates, %d child deaths; sink: %d messages in %d child processes, %d deaths",
		len(ks), dups, srcDeaths, len(o.Msgs), len(pids), sinkDeaths)
}

// TestProcessTransportNoOrphans: when the runtime itself is killed (kill -9), its plugin
// processes end too (they see their request pipe close), so a crash leaves nothing behind.
func TestProcessTransportNoOrphans(t *testing.T) {
	e := newEnv(t)
	e.writeConnector("source", fmt.Sprintf(seqSourceTOML, "psrc", `transport = "process"`, "orphans", 10, 0, 100))
	rt := e.startRuntime()
	waitFor(t, 20*time.Second, "the source producing", func() bool { return e.countAll("c", "orphans") > 20 })
	children := harness.ChildPids(t, rt.Pid())
	if len(children) != 1 {
		t.Fatalf("want one plugin process, the runtime has children %v", children)
	}
	rt.Kill()
	waitFor(t, 5*time.Second, "the plugin process to exit", func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", children[0]))
		if err != nil {
			return true // gone
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		return len(f) > 0 && (f[0] == "Z" || f[0] == "X") // exited, not yet reaped by its new parent
	})
}
