//go:build integration

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/harness"
	"github.com/vmihailenco/msgpack/v5"
)

// seqState reads the seq source's persisted state (MessagePack [next]) from the state directory; -1
// when there is no state file yet.
func (e *env) seqState(key string) int64 {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.stateDir, "source_"+key+".state"))
	if os.IsNotExist(err) {
		return -1
	}
	if err != nil {
		e.t.Fatal(err)
	}
	var v []uint64
	if err := msgpack.Unmarshal(b, &v); err != nil || len(v) != 1 {
		e.t.Fatalf("state file of %s: %x is not the seq source's [next]: %v", key, b, err)
	}
	return int64(v[0])
}

// seqKs returns the k of every message of stream/topic (JSON payloads of the seq source), in order.
func (e *env) seqKs(stream, topic string) []uint64 {
	e.t.Helper()
	var ks []uint64
	for _, m := range e.readAll(stream, topic) {
		var v struct {
			K *uint64 `json:"k"`
		}
		if err := json.Unmarshal(m.Payload, &v); err != nil || v.K == nil {
			e.t.Fatalf("%s/%s offset %d: payload %q is not a seq record", stream, topic, m.Offset, m.Payload)
		}
		ks = append(ks, *v.K)
	}
	return ks
}

// checkSeqComplete fails unless ks holds every k in [0, n) and duplicates only within the allowed
// number; it returns the number of duplicates.
func checkSeqComplete(t *testing.T, what string, ks []uint64, n uint64, maxDup int) int {
	t.Helper()
	seen := make([]int, n)
	dups := 0
	for _, k := range ks {
		if k >= n {
			t.Fatalf("%s: k %d beyond the limit %d", what, k, n)
		}
		seen[k]++
		if seen[k] > 1 {
			dups++
		}
	}
	for k, c := range seen {
		if c == 0 {
			t.Fatalf("%s: message k=%d lost (%d messages, %d duplicates)", what, k, len(ks), dups)
		}
	}
	if dups > maxDup {
		t.Fatalf("%s: %d duplicates, more than %d", what, dups, maxDup)
	}
	return dups
}

const seqSourceTOML = `
type = "source"
key = "%s"
enabled = true
version = 0
name = "seq"
path = "libiggy_connector_seq_source"
%s
` + retryFast + `
[[streams]]
stream = "c"
topic = "%s"
schema = "json"
batch_length = 1000
linger_time = "0"
auto_create = true

[plugin_config]
format = "json"
batch_size = %d
limit = %d
delay_ms = %d
`

// TestSourceCrash kills the runtime (kill -9) twice while a source produces, and restarts it: the
// source resumes from its persisted state, nothing is lost, and the duplicates are exactly the
// batches that were in Iggy but not yet recorded in the state file (at most max_in_flight batches
// per kill).
func TestSourceCrash(t *testing.T) {
	for _, inFlight := range []int{1, 2, 3} { // 2: the default, left unset
		t.Run(fmt.Sprintf("max_in_flight=%d", inFlight), func(t *testing.T) { sourceCrash(t, inFlight) })
	}
}

func sourceCrash(t *testing.T, inFlight int) {
	e := newEnv(t)
	const batch, limit = 50, 3000
	key := fmt.Sprintf("max_in_flight = %d", inFlight)
	if inFlight == 2 {
		key = "" // the default
	}
	e.writeConnector("src", fmt.Sprintf(seqSourceTOML, "src", key, "crash", batch, limit, 10))
	totalDup := 0
	// Kill points inside batches: the seq source's messages carry keys, so each is its own send
	// request, and a kill lands while a batch is partly in Iggy.
	for i, killAt := range []uint64{725, 1930} {
		rt := e.startRuntime()
		waitFor(t, 60*time.Second, fmt.Sprintf("%d messages in Iggy", killAt), func() bool { return e.countAll("c", "crash") >= killAt })
		rt.Kill()
		// Iggy holds every k below the persisted next k, plus the duplicates of earlier kills, plus
		// at most the batch in flight (sent, state not yet saved), which will come again.
		inIggy, state := int(e.countAll("c", "crash")), int(e.seqState("src"))
		ahead := inIggy - totalDup - state
		if state < 0 || ahead < 0 || ahead > inFlight*batch {
			t.Fatalf("kill %d: state says next k = %d, Iggy holds %d messages with %d earlier duplicates (allowed: %d batch(es) of %d ahead)",
				i+1, state, inIggy, totalDup, inFlight, batch)
		}
		t.Logf("kill %d: Iggy holds %d messages, the state file says next k = %d: %d duplicates to come", i+1, inIggy, state, ahead)
		totalDup += ahead
	}
	rt := e.startRuntime()
	waitFor(t, 60*time.Second, "the limit reached", func() bool { return e.seqState("src") == limit })
	if code, _ := rt.SignalWait(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	rt.noErrors()
	ks := e.seqKs("c", "crash")
	dups := checkSeqComplete(t, "source after 2 kills", ks, limit, 2*inFlight*batch)
	if dups != totalDup {
		t.Fatalf("%d duplicates, but the state files at the kills predicted %d", dups, totalDup)
	}
	// Resumption: right after each restart the source continues at the persisted k.
	t.Logf("source crash test (max_in_flight %d): %d messages in Iggy for %d distinct, %d duplicates (bound %d: max_in_flight batches per kill)",
		inFlight, len(ks), limit, dups, 2*inFlight*batch)
}

// TestSourceStateRestart stops the runtime gracefully (SIGTERM) mid-stream and starts it again:
// the state file holds the position of the last batch in Iggy, and the restarted source continues
// exactly there (no gap, no duplicate).
func TestSourceStateRestart(t *testing.T) {
	e := newEnv(t)
	const batch = 20
	e.writeConnector("src", fmt.Sprintf(seqSourceTOML, "src", "", "state", batch, 0, 20))
	rt := e.startRuntime()
	waitFor(t, 30*time.Second, "100 messages in Iggy", func() bool { return e.countAll("c", "state") >= 100 })
	if code, took := rt.SignalWait(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d after %v", code, took)
	}
	rt.noErrors()
	first := e.countAll("c", "state")
	state := e.seqState("src")
	if state != int64(first) {
		t.Fatalf("after a graceful stop the state says next k = %d, Iggy holds %d messages", state, first)
	}
	rt = e.startRuntime()
	waitFor(t, 30*time.Second, "more messages after the restart", func() bool { return e.countAll("c", "state") >= first+2*batch })
	if code, _ := rt.SignalWait(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	rt.noErrors()
	ks := e.seqKs("c", "state")
	for i, k := range ks {
		if k != uint64(i) {
			t.Fatalf("message %d has k = %d: the restarted source did not resume at %d (state %d)", i, k, first, state)
		}
	}
	if final := e.seqState("src"); final != int64(len(ks)) {
		t.Fatalf("final state %d, Iggy holds %d", final, len(ks))
	}
	t.Logf("stopped at k = %d (state file), resumed there; %d messages in order, no gap, no duplicate", state, len(ks))
}

// TestSinkCrash kills the runtime (kill -9) twice while a sink consumes a 2-partition topic that
// is still being produced to, and restarts it: every message reaches the plugin with its exact
// payload, and the duplicates are limited to the batch in flight at each kill. The plugin sleeps
// after writing a batch, so a kill usually hits a batch written but not yet committed: those
// messages are the duplicates, and must be exactly that many.
func TestSinkCrash(t *testing.T) {
	e := newEnv(t)
	const batchLen, total = 50, 4000
	e.createTopic("c", "sinkcrash", 2)
	out := e.path("sink.jsonl")
	e.writeConnector("snk", `
type = "sink"
key = "snk"
enabled = true
version = 0
name = "faulty"
path = "libiggy_connector_faulty_sink"
`+retryFast+`
[[streams]]
stream = "c"
topics = ["sinkcrash"]
schema = "json"
batch_length = `+strconv.Itoa(batchLen)+`
poll_interval = "5ms"

[plugin_config]
output = "`+out+`"
sleep_after_ms = 8
`)
	produce := func(from, to int) {
		for i := from; i < to; i += 50 {
			e.send("c", "sinkcrash", jsonMessages(50, func(j int) string { return fmt.Sprintf(`{"n":%d}`, i+j) }))
		}
	}
	produce(0, total/2)
	// The other half is produced while the sink runs and is killed.
	produced := make(chan error, 1)
	client := e.srv.Client(t)
	go func() {
		for i := total / 2; i < total; i += 50 {
			msgs := jsonMessages(50, func(j int) string { return fmt.Sprintf(`{"n":%d}`, i+j) })
			if _, err := client.SendMessages(ctxT(t), iggy.NamedID(e.stream("c")), iggy.NamedID("sinkcrash"), iggy.Balanced(), msgs); err != nil {
				produced <- err
				return
			}
			time.Sleep(15 * time.Millisecond)
		}
		produced <- nil
	}()

	var predicted []string
	var predictedDups int64
	for i, killAt := range []int{900, 2500} {
		rt := e.startRuntime()
		waitFor(t, 60*time.Second, fmt.Sprintf("%d messages written", killAt), func() bool { return len(readSink(t, out).Msgs) >= killAt })
		rt.Kill()
		o := readSink(t, out)
		var ahead int64
		for p := uint32(0); p < 2; p++ {
			stored := e.storedOffset("c", "sinkcrash", "iggy-connect-sink-snk", p)
			w := o.maxWritten(p)
			if stored > w {
				t.Fatalf("kill %d: partition %d stored offset %d is past the last written %d", i+1, p, stored, w)
			}
			ahead += w - stored
		}
		predicted = append(predicted, fmt.Sprintf("kill %d: %d written, %d beyond the stored offsets", i+1, len(o.Msgs), ahead))
		predictedDups += ahead
		if ahead > batchLen {
			t.Fatalf("kill %d: %d messages written beyond the stored offsets, more than one batch (%d)", i+1, ahead, batchLen)
		}
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	rt := e.startRuntime()
	waitFor(t, 60*time.Second, "every message written", func() bool {
		return len(readSink(t, out).offsetCounts()) >= total
	})
	if code, _ := rt.SignalWait(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	rt.noErrors()

	o := readSink(t, out)
	counts := o.offsetCounts()
	all := e.readAll("c", "sinkcrash")
	if len(all) != total {
		t.Fatalf("Iggy holds %d messages, want %d", len(all), total)
	}
	byPos := map[[2]uint64]string{}
	for _, m := range all {
		pos := [2]uint64{uint64(m.Partition), m.Offset}
		byPos[pos] = string(m.Payload)
		if counts[pos] == 0 {
			t.Fatalf("partition %d offset %d (%s) lost", m.Partition, m.Offset, m.Payload)
		}
	}
	dups := 0
	for _, m := range o.Msgs {
		if want, okPos := byPos[[2]uint64{uint64(m.Partition), m.Offset}]; !okPos || string(m.Payload) != want {
			t.Fatalf("written partition %d offset %d: %s, Iggy holds %q", m.Partition, m.Offset, m.Payload, want)
		}
	}
	for _, c := range counts {
		dups += c - 1
	}
	if dups > 2*batchLen {
		t.Fatalf("%d duplicates, more than one batch (%d) per kill", dups, batchLen)
	}
	if int64(dups) != predictedDups {
		t.Fatalf("%d duplicates, but the messages written beyond the stored offsets at the kills were %d", dups, predictedDups)
	}
	for p := uint32(0); p < 2; p++ {
		if got, want := e.storedOffset("c", "sinkcrash", "iggy-connect-sink-snk", p), o.maxWritten(p); got != want {
			t.Fatalf("partition %d: stored offset %d, last written %d", p, got, want)
		}
	}
	t.Logf("sink crash test: %d messages, %d writes, %d duplicates (bound %d: one batch per kill); %v",
		total, len(o.Msgs), dups, 2*batchLen, predicted)
}

// TestSourceCommitError: the plugin's commit of every 2nd batch fails (after the batch is in Iggy
// and its state saved). That is reported — logged, noted on the connector — but not fatal: the
// source goes on, and nothing is lost or duplicated.
func TestSourceCommitError(t *testing.T) {
	e := newEnv(t)
	e.writeConnector("src", fmt.Sprintf(seqSourceTOML, "src", "", "commit", 10, 60, 0)+"fail_commit_every = 2\n")
	rt := e.startRuntime()
	waitFor(t, 30*time.Second, "the limit reached", func() bool { return e.seqState("src") == 60 })
	if code, _ := rt.SignalWait(syscall.SIGTERM, stopBound); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	checkSeqComplete(t, "source with failing commits", e.seqKs("c", "commit"), 60, 0)
	if n := len(e.seqKs("c", "commit")); n != 60 {
		t.Fatalf("%d messages in Iggy, want 60", n)
	}
	errs := rt.errorLines()
	if len(errs) != 3 || !strings.Contains(errs[0], "fails on request") {
		t.Fatalf("want 3 logged commit errors, got %d: %v", len(errs), errs)
	}
}

// TestIggyRestart kills the Iggy server (kill -9; it persists to a data directory) while a source
// produces and a sink consumes, and starts it again on the same address a second later. Both
// connectors reconnect by themselves; nothing is lost. A send or an offset commit in flight at the
// kill has an unknown outcome, so a few duplicates are allowed (counted).
func TestIggyRestart(t *testing.T) {
	harness.NeedsOwnServer(t)
	addr, data := freeAddr(t), t.TempDir()
	srv := startDevserverAt(t, addr, data)
	e := newEnvWith(t, srv)
	const batch, limit = 20, 1500
	e.writeConnector("src", fmt.Sprintf(seqSourceTOML, "src", "", "restart", batch, limit, 10))
	out := e.path("sink.jsonl")
	e.writeConnector("snk", `
type = "sink"
key = "snk"
enabled = true
version = 0
name = "faulty"
path = "libiggy_connector_faulty_sink"
`+retryFast+`
[[streams]]
stream = "c"
topics = ["restart"]
schema = "json"
batch_length = 30
poll_interval = "5ms"

[plugin_config]
output = "`+out+`"
`)
	rt := e.startRuntime()
	waitFor(t, 30*time.Second, "400 messages through", func() bool { return len(readSink(t, out).Msgs) >= 400 })
	srv.Kill()
	time.Sleep(time.Second)
	srv2 := startDevserverAt(t, addr, data)
	_ = srv2
	waitFor(t, 60*time.Second, "every message produced and consumed after the server restart", func() bool {
		return e.seqState("src") == limit && len(readSink(t, out).offsetCounts()) >= int(e.countAll("c", "restart"))
	})
	if code, _ := rt.SignalWait(syscall.SIGTERM, stopBound); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	ks := e.seqKs("c", "restart")
	srcDups := checkSeqComplete(t, "source across an Iggy restart", ks, limit, 2*batch)
	o := readSink(t, out)
	if len(o.offsetCounts()) != len(ks) {
		t.Fatalf("the sink wrote %d distinct offsets, Iggy holds %d messages", len(o.offsetCounts()), len(ks))
	}
	sinkDups := len(o.Msgs) - len(o.offsetCounts())
	if sinkDups > 30 {
		t.Fatalf("%d sink duplicates, more than one batch", sinkDups)
	}
	t.Logf("Iggy restart: source %d messages for %d, %d duplicates; sink %d writes, %d duplicates", len(ks), limit, srcDups, len(o.Msgs), sinkDups)
}

// TestSinkRebalance runs the same sink in two runtimes (one consumer group) on a 4-partition topic
// that is being produced to: the second runtime joins mid-stream (the group rebalances), then the
// first is killed (kill -9; its partitions move to the second). Every message is written, and the
// duplicates are limited to the batches in flight at the two rebalances.
func TestSinkRebalance(t *testing.T) {
	e := newEnv(t)
	const batchLen, total = 25, 4000
	e.createTopic("c", "rebalance", 4)
	out := e.path("sink.jsonl")
	e.writeConnector("snk", `
type = "sink"
key = "snk"
enabled = true
version = 0
name = "faulty"
path = "libiggy_connector_faulty_sink"
`+retryFast+`
[[streams]]
stream = "c"
topics = ["rebalance"]
schema = "json"
batch_length = `+strconv.Itoa(batchLen)+`
poll_interval = "5ms"

[plugin_config]
output = "`+out+`"
sleep_after_ms = 5
`)
	produced := make(chan error, 1)
	client := e.srv.Client(t)
	go func() {
		for i := 0; i < total; i += 40 {
			msgs := jsonMessages(40, func(j int) string { return fmt.Sprintf(`{"n":%d}`, i+j) })
			if _, err := client.SendMessages(ctxT(t), iggy.NamedID(e.stream("c")), iggy.NamedID("rebalance"), iggy.Balanced(), msgs); err != nil {
				produced <- err
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		produced <- nil
	}()
	a := e.startRuntime()
	waitFor(t, 60*time.Second, "800 messages written", func() bool { return len(readSink(t, out).Msgs) >= 800 })
	b := e.startRuntime()
	waitFor(t, 60*time.Second, "both runtimes writing, 2000 messages written", func() bool {
		o := readSink(t, out)
		pids := map[int]bool{}
		for _, c := range o.Calls {
			pids[c.Pid] = true
		}
		return len(pids) == 2 && len(o.Msgs) >= 2000
	})
	a.Kill()
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "every message written", func() bool { return len(readSink(t, out).offsetCounts()) >= total })
	if code, _ := b.SignalWait(syscall.SIGTERM, stopBound); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	o := readSink(t, out)
	all := e.readAll("c", "rebalance")
	counts := o.offsetCounts()
	for _, m := range all {
		if counts[[2]uint64{uint64(m.Partition), m.Offset}] == 0 {
			t.Fatalf("partition %d offset %d lost", m.Partition, m.Offset)
		}
	}
	dups := len(o.Msgs) - len(counts)
	if len(all) != total || len(counts) != total {
		t.Fatalf("Iggy holds %d messages, %d distinct written, want %d", len(all), len(counts), total)
	}
	if dups > 4*batchLen {
		t.Fatalf("%d duplicates, more than two batches per rebalance (%d)", dups, 4*batchLen)
	}
	for p := uint32(0); p < 4; p++ {
		if got, want := e.storedOffset("c", "rebalance", "iggy-connect-sink-snk", p), o.maxWritten(p); got != want {
			t.Fatalf("partition %d: stored offset %d, last written %d", p, got, want)
		}
	}
	t.Logf("rebalance: %d messages, %d writes, %d duplicates (bound %d)", total, len(o.Msgs), dups, 4*batchLen)
}
