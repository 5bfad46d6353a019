//go:build integration

// Integration tests that run the real iggy-devserver binary and kill it: persistence across
// restarts (also after kill -9) and client reconnection during a send/poll loop.
package interop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

var freeAddr = harness.FreeAddr

// startDevserver starts iggy-devserver (built once per test binary) on addr, persisting to
// dataDir.
func startDevserver(t *testing.T, addr, dataDir string) *harness.Devserver {
	t.Helper()
	return harness.StartDevserver(t, harness.DevserverOptions{Addr: addr, DataDir: dataDir, LogLevel: "info"})
}

func quiet() *slog.Logger {
	if os.Getenv("IGGY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func dialClient(t *testing.T, addr string) *iggy.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := iggy.Dial(ctx, iggy.Config{Address: addr, Username: "iggy", Password: "iggy", Logger: quiet(),
		HeartbeatInterval: 200 * time.Millisecond,
		Reconnect:         iggy.ReconnectConfig{Initial: 20 * time.Millisecond, Max: 300 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func msgs(from, n int) []iggy.Message {
	out := make([]iggy.Message, n)
	for i := range out {
		id := from + i + 1
		out[i] = iggy.Message{ID: iggy.IDFromUint64(uint64(id)), Payload: []byte(fmt.Sprintf("m-%d", id)),
			Headers: []iggy.Header{iggy.StringHeader("id", fmt.Sprint(id))}}
	}
	return out
}

func pollAll(t *testing.T, ctx context.Context, c *iggy.Client, stream, topic string, partition uint32) []iggy.Message {
	t.Helper()
	var all []iggy.Message
	for {
		res, err := c.PollMessages(ctx, iggy.NamedID(stream), iggy.NamedID(topic), iggy.SingleConsumer(99), iggy.Part(partition),
			iggy.StrategyOffset(uint64(len(all))), 1000, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Messages) == 0 {
			return all
		}
		all = append(all, res.Messages...)
	}
}

// TestDevserverPersistence: messages, stored offsets (plain and group), streams, topics, groups
// and tokens survive a clean stop and a kill -9; a torn tail of a log is cut off at restart.
func TestDevserverPersistence(t *testing.T) {
	harness.NeedsOwnServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr, data := freeAddr(t), t.TempDir()
	srv := startDevserver(t, addr, data)
	c := dialClient(t, addr)
	if _, err := c.EnsureTopic(ctx, "persist", "t", 2); err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 5; b++ {
		if _, err := c.SendMessages(ctx, iggy.NamedID("persist"), iggy.NamedID("t"), iggy.PartitionID(uint32(b%2)), msgs(b*100, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.StoreConsumerOffset(ctx, iggy.SingleConsumer(5), iggy.NamedID("persist"), iggy.NamedID("t"), iggy.Part(0), 123); err != nil {
		t.Fatal(err)
	}
	g := iggy.NewGroupConsumer(c, "persist", "t", "sink", iggy.GroupConsumerOptions{})
	b, err := g.Poll(ctx, 10)
	if err != nil || len(b.Messages) != 10 {
		t.Fatalf("group poll %+v %v", b, err)
	}
	if err := g.Commit(ctx, b.PartitionID, b.Messages[9].Offset); err != nil {
		t.Fatal(err)
	}
	token, err := c.CreatePersonalAccessToken(ctx, "restart", 0)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	check := func(stage string) {
		t.Helper()
		c := dialClient(t, addr)
		for p := uint32(0); p < 2; p++ {
			all := pollAll(t, ctx, c, "persist", "t", p)
			want := 300 - 100*int(p) // partition 0 got batches 0,2,4; partition 1 got 1,3
			if len(all) != want {
				t.Fatalf("%s: partition %d has %d messages, want %d", stage, p, len(all), want)
			}
			for i, m := range all {
				if m.Offset != uint64(i) || !strings.HasPrefix(string(m.Payload), "m-") || len(m.Headers) != 1 {
					t.Fatalf("%s: partition %d message %d: %+v", stage, p, i, m)
				}
			}
		}
		off, err := c.GetConsumerOffset(ctx, iggy.SingleConsumer(5), iggy.NamedID("persist"), iggy.NamedID("t"), iggy.Part(0))
		if err != nil || off.StoredOffset != 123 {
			t.Fatalf("%s: stored offset %+v %v", stage, off, err)
		}
		goff, err := c.GetConsumerOffset(ctx, iggy.GroupConsumerOf(iggy.NamedID("sink")), iggy.NamedID("persist"), iggy.NamedID("t"), iggy.Part(b.PartitionID))
		if err != nil || goff.StoredOffset != b.Messages[9].Offset {
			t.Fatalf("%s: group offset %+v %v", stage, goff, err)
		}
		g := iggy.NewGroupConsumer(c, "persist", "t", "sink", iggy.GroupConsumerOptions{NoCreate: true})
		for i := 0; i < 2; i++ {
			nb, err := g.Poll(ctx, 1)
			if err != nil {
				t.Fatalf("%s: group poll: %v", stage, err)
			}
			if nb.PartitionID == b.PartitionID && nb.Messages[0].Offset != b.Messages[9].Offset+1 {
				t.Fatalf("%s: group resumed at %d", stage, nb.Messages[0].Offset)
			}
		}
		tc, err := iggy.Dial(ctx, iggy.Config{Address: addr, Token: token, Logger: quiet(), HeartbeatInterval: -1})
		if err != nil {
			t.Fatalf("%s: token login: %v", stage, err)
		}
		tc.Close()
		c.Close()
	}

	srv.Stop()
	srv = startDevserver(t, addr, data)
	check("after clean stop")

	// kill -9 right after acknowledged writes.
	c = dialClient(t, addr)
	if _, err := c.SendMessages(ctx, iggy.NamedID("persist"), iggy.NamedID("t"), iggy.PartitionID(1), msgs(1000, 100)); err != nil {
		t.Fatal(err)
	}
	if err := c.StoreConsumerOffset(ctx, iggy.SingleConsumer(5), iggy.NamedID("persist"), iggy.NamedID("t"), iggy.Part(1), 250); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	// Simulate a write torn by a crash: half a record at the end of partition 0's log.
	logPath := filepath.Join(data, "streams", "0", "0", "0.log")
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 300))
	f.Close()
	srv = startDevserver(t, addr, data)
	c = dialClient(t, addr)
	if n := len(pollAll(t, ctx, c, "persist", "t", 1)); n != 300 {
		t.Fatalf("after kill -9: partition 1 has %d messages, want 300", n)
	}
	if n := len(pollAll(t, ctx, c, "persist", "t", 0)); n != 300 {
		t.Fatalf("after kill -9 and torn tail: partition 0 has %d messages, want 300", n)
	}
	off, err := c.GetConsumerOffset(ctx, iggy.SingleConsumer(5), iggy.NamedID("persist"), iggy.NamedID("t"), iggy.Part(1))
	if err != nil || off.StoredOffset != 250 {
		t.Fatalf("after kill -9: offset %+v %v", off, err)
	}
	// The torn tail was cut: new writes land at the right offsets.
	conf, err := c.SendMessages(ctx, iggy.NamedID("persist"), iggy.NamedID("t"), iggy.PartitionID(0), msgs(5000, 1))
	if err != nil || conf[0].BaseOffset != 300 {
		t.Fatalf("append after torn tail: %+v %v", conf, err)
	}
}

// TestDevserverReconnectLosesNothing kills -9 and restarts the server twice while a producer and a
// consumer loop run; the client reconnects by itself and every acknowledged message is there.
func TestDevserverReconnectLosesNothing(t *testing.T) {
	harness.NeedsOwnServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	addr, data := freeAddr(t), t.TempDir()
	srv := startDevserver(t, addr, data)
	c := dialClient(t, addr)
	if _, err := c.EnsureTopic(ctx, "rc", "t", 1); err != nil {
		t.Fatal(err)
	}
	const batches = 300
	var mu sync.Mutex
	acked := map[int]bool{}
	sendErrs, pollErrs := 0, 0
	done := make(chan struct{})
	var polled int
	go func() { // consumer loop: follows the partition, tolerating outages
		defer close(done)
		next := uint64(0)
		for ctx.Err() == nil {
			mu.Lock()
			finished := len(acked) == batches*10 && next >= uint64(batches*10)
			mu.Unlock()
			if finished {
				return
			}
			res, err := c.PollMessages(ctx, iggy.NamedID("rc"), iggy.NamedID("t"), iggy.SingleConsumer(1), iggy.Part(0), iggy.StrategyOffset(next), 500, false)
			if err != nil {
				if !iggy.IsRetryable(err) && !errors.Is(err, iggy.ErrNotFound) {
					t.Errorf("poll: non-retryable error %v", err)
					return
				}
				mu.Lock()
				pollErrs++
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
				continue
			}
			for _, m := range res.Messages {
				if m.Offset != next {
					t.Errorf("poll: offset %d, want %d", m.Offset, next)
					return
				}
				next++
			}
			mu.Lock()
			polled = int(next)
			mu.Unlock()
			if len(res.Messages) == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	sent := make(chan struct{})
	go func() { // producer loop: resends a batch until it is acknowledged
		defer close(sent)
		for b := 0; b < batches; b++ {
			batch := msgs(b*10, 10)
			for {
				_, err := c.SendMessages(ctx, iggy.NamedID("rc"), iggy.NamedID("t"), iggy.PartitionID(0), batch)
				if err == nil {
					break
				}
				if !iggy.IsRetryable(err) {
					t.Errorf("send batch %d: non-retryable %v", b, err)
					return
				}
				mu.Lock()
				sendErrs++
				mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
			mu.Lock()
			for i := 0; i < 10; i++ {
				acked[b*10+i+1] = true
			}
			mu.Unlock()
		}
	}()
	restarts := 0
	for _, at := range []int{1000, 2000} { // kill -9 while both loops run, restart on the same port
		for {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n >= at || ctx.Err() != nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
		srv.Kill()
		restarts++
		time.Sleep(300 * time.Millisecond)
		srv = startDevserver(t, addr, data)
	}
	<-sent
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("consumer did not catch up: polled %d", polled)
	}
	all := pollAll(t, ctx, c, "rc", "t", 0)
	have := map[int]bool{}
	for _, m := range all {
		var id int
		fmt.Sscanf(string(m.Payload), "m-%d", &id)
		have[id] = true
	}
	for id := range acked {
		if !have[id] {
			t.Fatalf("acknowledged message %d is missing after restarts", id)
		}
	}
	if c.Reconnects() < uint64(restarts) {
		t.Fatalf("client reconnected %d times for %d restarts", c.Reconnects(), restarts)
	}
	if !c.Connected() {
		t.Fatal("client not connected at the end")
	}
	t.Logf("%d acknowledged, %d stored (duplicates from retried sends: %d), %d reconnects, %d send and %d poll errors",
		len(acked), len(all), len(all)-len(acked), c.Reconnects(), sendErrs, pollErrs)
}

// TestDevserverGroupResumeAfterRestart: a GroupConsumer on one Client keeps going across a kill -9
// and restart of the server: the client reconnects, the consumer re-joins by itself and resumes
// right after the last message it returned (within one process a reconnect hands nothing out
// twice), while a new consumer of the group resumes right after the last commit (uncommitted
// messages are delivered again, never skipped).
func TestDevserverGroupResumeAfterRestart(t *testing.T) {
	harness.NeedsOwnServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addr, data := freeAddr(t), t.TempDir()
	srv := startDevserver(t, addr, data)
	c := dialClient(t, addr)
	if _, err := c.EnsureTopic(ctx, "grp", "t", 2); err != nil {
		t.Fatal(err)
	}
	for p := uint32(0); p < 2; p++ {
		if _, err := c.SendMessages(ctx, iggy.NamedID("grp"), iggy.NamedID("t"), iggy.PartitionID(p), msgs(int(p)*1000, 100)); err != nil {
			t.Fatal(err)
		}
	}
	g := iggy.NewGroupConsumer(c, "grp", "t", "sink", iggy.GroupConsumerOptions{})
	committed := map[uint32]uint64{}
	delivered := map[uint32]uint64{} // highest offset handed out per partition
	for i := 0; i < 4; i++ {
		b, err := g.Poll(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Messages) == 0 {
			continue
		}
		last := b.Messages[len(b.Messages)-1].Offset
		delivered[b.PartitionID] = last
		if i < 2 { // commit only the first round
			if err := g.Commit(ctx, b.PartitionID, last); err != nil {
				t.Fatal(err)
			}
			committed[b.PartitionID] = last
		}
	}
	if len(committed) != 2 {
		t.Fatalf("committed %v", committed)
	}
	srv.Kill()
	time.Sleep(200 * time.Millisecond)
	srv = startDevserver(t, addr, data)
	epoch := c.ConnectionEpoch()
	resumed := map[uint32]uint64{}
	deadline := time.Now().Add(20 * time.Second)
	for len(resumed) < 2 && time.Now().Before(deadline) {
		b, err := g.Poll(ctx, 10)
		if err != nil {
			if !iggy.IsRetryable(err) {
				t.Fatalf("poll after restart: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if len(b.Messages) > 0 {
			if _, seen := resumed[b.PartitionID]; !seen {
				resumed[b.PartitionID] = b.Messages[0].Offset
			}
		}
	}
	for p, off := range delivered {
		if resumed[p] != off+1 {
			t.Fatalf("partition %d resumed at %d, want %d (delivered up to %d, committed %d)", p, resumed[p], off+1, off, committed[p])
		}
	}
	if c.ConnectionEpoch() <= epoch && c.Reconnects() == 0 {
		t.Fatal("client did not reconnect")
	}
	gd, err := c.GetConsumerGroup(ctx, iggy.NamedID("grp"), iggy.NamedID("t"), iggy.NamedID("sink"))
	if err != nil || gd.MembersCount != 1 {
		t.Fatalf("group after restart %+v %v", gd, err)
	}
	// A new member (another process, after this one's crash) starts after the commits.
	c.Close()
	c2 := dialClient(t, addr)
	g2 := iggy.NewGroupConsumer(c2, "grp", "t", "sink", iggy.GroupConsumerOptions{})
	fresh := map[uint32]uint64{}
	for deadline := time.Now().Add(20 * time.Second); len(fresh) < 2 && time.Now().Before(deadline); {
		b, err := g2.Poll(ctx, 10)
		if err != nil {
			t.Fatalf("poll of a new member: %v", err)
		}
		if _, seen := fresh[b.PartitionID]; !seen && len(b.Messages) > 0 {
			fresh[b.PartitionID] = b.Messages[0].Offset
		}
	}
	for p, off := range committed {
		if fresh[p] != off+1 {
			t.Fatalf("a new member resumed partition %d at %d, want %d (committed %d)", p, fresh[p], off+1, off)
		}
	}
}
