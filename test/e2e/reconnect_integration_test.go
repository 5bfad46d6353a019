//go:build integration

package e2e

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/harness"
)

// TestIggyRestartsDeliverEachOffsetOnce kills the Iggy server (kill -9, same address and data
// directory) and starts it again five times while a producer sends to a 2-partition topic and the
// runtime's sink consumes it. A reconnection within one healthy runtime process must resume after
// the last delivered message: the sink sees every offset of each partition exactly once and in
// order (at-least-once allows replays after a crash of the runtime, not inside it).
func TestIggyRestartsDeliverEachOffsetOnce(t *testing.T) {
	harness.NeedsOwnServer(t)
	addr, data := freeAddr(t), t.TempDir()
	srv := startDevserverAt(t, addr, data)
	e := newEnvWith(t, srv)
	e.createTopic("rc", "t", 2)
	out := e.path("sink.jsonl")
	e.writeConnector("snk", faultySinkTOML("rc", "t", 20, "5ms", `output = "`+out+`"
sleep_after_ms = 30`))
	rt := e.startRuntime()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	// Load: 4 messages every 10 ms, alternating partitions (sends during a restart may fail). The sink
	// takes 30 ms per batch of up to 20, so a kill mostly finds a batch being delivered while the next
	// one is already read.
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			msgs := jsonMessages(4, func(j int) string { return fmt.Sprintf(`{"n":%d}`, i*4+j) })
			e.iggy.SendMessages(ctxT(t), iggy.NamedID(e.stream("rc")), iggy.NamedID("t"), iggy.PartitionID(uint32(i%2)), msgs)
		}
	}()
	for i := 0; i < 5; i++ {
		want := 100 * (i + 1)
		waitFor(t, 60*time.Second, fmt.Sprintf("%d messages written", want), func() bool { return len(readSink(t, out).Msgs) >= want })
		srv.Kill()
		time.Sleep(300 * time.Millisecond)
		srv.Start()
	}
	waitFor(t, 60*time.Second, "100 more messages written after the last restart", func() bool { return len(readSink(t, out).Msgs) >= 600 })
	close(stop)
	wg.Wait()
	total := e.countAll("rc", "t")
	waitFor(t, 60*time.Second, "every stored message written", func() bool { return uint64(len(readSink(t, out).offsetCounts())) >= total })
	if code, _ := rt.SignalWait(syscall.SIGTERM, stopBound); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if n := len(rt.Log.Lines("reconnected")); n < 5 {
		t.Fatalf("the runtime logged %d reconnections, want at least 5", n)
	}
	next := map[uint32]uint64{}
	for i, m := range readSink(t, out).Msgs {
		if m.Offset != next[m.Partition] {
			t.Fatalf("write %d: partition %d offset %d, want %d (a replay or a gap inside one runtime process)", i, m.Partition, m.Offset, next[m.Partition])
		}
		next[m.Partition]++
	}
	if next[0]+next[1] != total {
		t.Fatalf("the sink wrote %d messages, Iggy holds %d", next[0]+next[1], total)
	}
	t.Logf("5 Iggy restarts: %d messages, each written once, in order", total)
}
