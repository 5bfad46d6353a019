package iggy_test

import (
	"errors"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/iggyserver"
)

func TestGroupConsumerRebalanceCommitResume(t *testing.T) {
	s := startServer(t, iggyserver.Config{})
	ctx := testCtx(t)
	admin := dial(t, s.Addr().String())
	if _, err := admin.EnsureTopic(ctx, "g", "t", 4); err != nil {
		t.Fatal(err)
	}
	for p := uint32(0); p < 4; p++ {
		if _, err := admin.SendMessages(ctx, iggy.NamedID("g"), iggy.NamedID("t"), iggy.PartitionID(p), makeMessages(int(p)*100, 10)); err != nil {
			t.Fatal(err)
		}
	}
	c1 := dial(t, s.Addr().String())
	g1 := iggy.NewGroupConsumer(c1, "g", "t", "workers", iggy.GroupConsumerOptions{})
	b, err := g1.Poll(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if got := g1.Assignment(); len(got) != 4 {
		t.Fatalf("single member owns %v", got)
	}
	if len(b.Messages) != 5 || b.Messages[0].Offset != 0 {
		t.Fatalf("first poll %+v", b)
	}
	// Polling the same partition again continues after the returned messages (no commit yet).
	for i := 0; i < 3; i++ {
		g1.Poll(ctx, 5)
	}
	b2, _ := g1.Poll(ctx, 5)
	if b2.PartitionID != b.PartitionID || b2.Messages[0].Offset != 5 {
		t.Fatalf("second round on partition %d starts at %+v", b.PartitionID, b2)
	}
	if err := g1.Commit(ctx, b.PartitionID, 4); err != nil {
		t.Fatal(err)
	}
	gd, err := admin.GetConsumerGroup(ctx, iggy.NamedID("g"), iggy.NamedID("t"), iggy.NamedID("workers"))
	if err != nil || gd.MembersCount != 1 || len(gd.Members[0].Partitions) != 4 {
		t.Fatalf("group %+v %v", gd, err)
	}

	// A second member joins: partitions are re-dealt 2+2.
	c2 := dial(t, s.Addr().String())
	g2 := iggy.NewGroupConsumer(c2, "g", "t", "workers", iggy.GroupConsumerOptions{SyncInterval: time.Millisecond})
	if _, err := g2.Poll(ctx, 1); err != nil {
		t.Fatal(err)
	}
	g1s := iggy.NewGroupConsumer(c1, "g", "t", "workers", iggy.GroupConsumerOptions{SyncInterval: time.Millisecond})
	g1s.Poll(ctx, 1)
	a1, a2 := g1s.Assignment(), g2.Assignment()
	if len(a1) != 2 || len(a2) != 2 {
		t.Fatalf("assignments %v %v", a1, a2)
	}
	all := append(append([]uint32{}, a1...), a2...)
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	for i, p := range all {
		if p != uint32(i) {
			t.Fatalf("partitions not dealt exactly once: %v", all)
		}
	}
	// Committing a partition the member does not own fails.
	if err := g2.Commit(ctx, a1[0], 0); !errors.Is(err, iggy.ErrPartitionNotOwned) {
		t.Fatalf("commit of foreign partition: %v", err)
	}
	// Member 2 leaves by closing its connection: member 1 gets everything back.
	c2.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(g1s.Assignment()) != 4 && time.Now().Before(deadline) {
		g1s.Poll(ctx, 1)
		time.Sleep(10 * time.Millisecond)
	}
	if len(g1s.Assignment()) != 4 {
		t.Fatalf("after leave: %v", g1s.Assignment())
	}

	// Resume from the stored offset after a reconnect (new connection, same group).
	c3 := dial(t, s.Addr().String())
	g3 := iggy.NewGroupConsumer(c3, "g", "t", "workers", iggy.GroupConsumerOptions{})
	c1.Close()
	found := false
	for i := 0; i < 20 && !found; i++ {
		b, err := g3.Poll(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Messages) > 0 && b.PartitionID == b2.PartitionID {
			if b.Messages[0].Offset != 5 {
				t.Fatalf("resumed partition %d at offset %d, want 5 (stored 4)", b.PartitionID, b.Messages[0].Offset)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("never polled the committed partition")
	}
}

func TestGroupMemberEvictedWhenSilent(t *testing.T) {
	s := startServer(t, iggyserver.Config{HeartbeatInterval: time.Second})
	ctx := testCtx(t)
	admin := dial(t, s.Addr().String())
	if _, err := admin.EnsureTopic(ctx, "hb", "t", 2); err != nil {
		t.Fatal(err)
	}
	silent := dial(t, s.Addr().String(), func(cfg *iggy.Config) { cfg.HeartbeatInterval = -1 })
	if err := silent.JoinConsumerGroup(ctx, iggy.NamedID("hb"), iggy.NamedID("t"), iggy.NamedID("grp")); !errors.Is(err, iggy.ErrNotFound) {
		t.Fatalf("join of missing group: %v", err)
	}
	if _, err := admin.CreateConsumerGroup(ctx, iggy.NamedID("hb"), iggy.NamedID("t"), "grp"); err != nil {
		t.Fatal(err)
	}
	if err := silent.JoinConsumerGroup(ctx, iggy.NamedID("hb"), iggy.NamedID("t"), iggy.NamedID("grp")); err != nil {
		t.Fatal(err)
	}
	gd, err := admin.GetConsumerGroup(ctx, iggy.NamedID("hb"), iggy.NamedID("t"), iggy.NamedID("grp"))
	if err != nil || gd.MembersCount != 1 {
		t.Fatalf("after join: %+v %v", gd, err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if gd, err = admin.GetConsumerGroup(ctx, iggy.NamedID("hb"), iggy.NamedID("t"), iggy.NamedID("grp")); err != nil || gd.MembersCount == 0 {
			break
		}
	}
	if err != nil || gd.MembersCount != 0 {
		t.Fatalf("silent member still in group: %+v %v", gd, err)
	}
	// The evicted client notices and reconnects on its next call.
	if err := silent.Ping(ctx); err != nil && !iggy.IsRetryable(err) {
		t.Fatalf("ping after eviction: %v", err)
	}
	if err := silent.Ping(ctx); err != nil {
		t.Fatalf("ping after reconnect: %v", err)
	}
	if silent.Reconnects() < 1 {
		t.Fatalf("reconnects %d", silent.Reconnects())
	}
}

// A reconnection never hands a delivered message out again within one process: the server is
// restarted (same address and data) five times while a producer sends and a member polls and
// commits one batch behind (as the sink does, which reads the next batch while it writes the
// current one); every offset of every partition is returned exactly once and in order.
func TestGroupConsumerReconnectDeliversEachOffsetOnce(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	start := func() *iggyserver.Server {
		for i := 0; ; i++ {
			s, err := iggyserver.Start(iggyserver.Config{Addr: addr, DataDir: dir, Logger: quietLogger()})
			if err == nil {
				return s
			}
			if i == 50 {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	s := start()
	t.Cleanup(func() { s.Close() })
	ctx := testCtx(t)
	admin := dial(t, addr)
	if _, err := admin.EnsureTopic(ctx, "rc", "t", 2); err != nil {
		t.Fatal(err)
	}
	prod := dial(t, addr)
	var produced atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // load: small batches to both partitions until stopped
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := prod.SendMessages(ctx, iggy.NamedID("rc"), iggy.NamedID("t"), iggy.PartitionID(uint32(i%2)), makeMessages(i*3, 3)); err == nil {
				produced.Add(3)
				time.Sleep(2 * time.Millisecond)
			} else {
				time.Sleep(10 * time.Millisecond) // the server is restarting; the outcome of this send is unknown
			}
		}
	}()

	c := dial(t, addr)
	g := iggy.NewGroupConsumer(c, "rc", "t", "sink", iggy.GroupConsumerOptions{SyncInterval: 50 * time.Millisecond})
	seen := map[uint32][]uint64{}
	type pending struct {
		part   uint32
		offset uint64
	}
	var last *pending
	consume := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); {
			b, err := g.Poll(ctx, 7)
			if err != nil {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			if len(b.Messages) == 0 {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			if last != nil && g.Commit(ctx, last.part, last.offset) == nil {
				last = nil
			}
			for _, m := range b.Messages {
				seen[b.PartitionID] = append(seen[b.PartitionID], m.Offset)
			}
			last = &pending{b.PartitionID, b.Messages[len(b.Messages)-1].Offset}
		}
	}
	for restart := 0; restart < 5; restart++ {
		consume(300 * time.Millisecond)
		s.Close()
		time.Sleep(50 * time.Millisecond)
		s = start()
	}
	consume(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	admin.Ping(ctx) // its connection died with the last restart: reconnect
	td, err := admin.GetTopic(ctx, iggy.NamedID("rc"), iggy.NamedID("t"))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		n := 0
		for _, offs := range seen {
			n += len(offs)
		}
		if uint64(n) >= td.MessagesCount {
			break
		}
		consume(100 * time.Millisecond)
	}
	if c.Reconnects() < 5 {
		t.Fatalf("the consumer reconnected %d times, want at least 5", c.Reconnects())
	}
	for _, p := range td.Partitions {
		offs := seen[p.ID]
		for i, o := range offs {
			if o != uint64(i) {
				t.Fatalf("partition %d: delivery %d is offset %d, want %d (a replay or a gap; %d delivered, %d stored): %v",
					p.ID, i, o, i, len(offs), p.MessagesCount, offs[max(0, i-5):min(len(offs), i+5)])
			}
		}
		if uint64(len(offs)) != p.MessagesCount {
			t.Fatalf("partition %d: %d delivered, %d stored", p.ID, len(offs), p.MessagesCount)
		}
	}
}
