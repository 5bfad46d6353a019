package iggy_test

import (
	"errors"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/iggyserver"
)

// Owns follows the assignment: everything for a lone member; after a second member joined, the
// first still believes its stale assignment until a refused commit re-syncs it, and then owns only
// what the server gave it — and the server never stored the refused offset.
func TestGroupConsumerOwnsAfterRebalance(t *testing.T) {
	s := startServer(t, iggyserver.Config{})
	ctx := testCtx(t)
	admin := dial(t, s.Addr().String())
	if _, err := admin.EnsureTopic(ctx, "o", "t", 2); err != nil {
		t.Fatal(err)
	}
	c1 := dial(t, s.Addr().String())
	g1 := iggy.NewGroupConsumer(c1, "o", "t", "w", iggy.GroupConsumerOptions{})
	if g1.Owns(ctx, 0) {
		t.Fatal("owns a partition before joining")
	}
	if _, err := g1.Poll(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if !g1.Owns(ctx, 0) || !g1.Owns(ctx, 1) {
		t.Fatalf("lone member owns %v", g1.Assignment())
	}
	c2 := dial(t, s.Addr().String())
	g2 := iggy.NewGroupConsumer(c2, "o", "t", "w", iggy.GroupConsumerOptions{})
	if _, err := g2.Poll(ctx, 1); err != nil {
		t.Fatal(err)
	}
	moved := g2.Assignment()
	if len(moved) != 1 {
		t.Fatalf("second member owns %v, want one partition", moved)
	}
	p := moved[0]
	if !g1.Owns(ctx, p) {
		t.Fatalf("first member forgot partition %d before any sync", p)
	}
	err := g1.Commit(ctx, p, 0)
	if !errors.Is(err, iggy.ErrPartitionNotOwned) {
		t.Fatalf("commit of a moved partition: %v, want ErrPartitionNotOwned", err)
	}
	if g1.Owns(ctx, p) || !g1.Owns(ctx, 1-p) {
		t.Fatalf("after the refused commit the first member owns %v, want [%d]", g1.Assignment(), 1-p)
	}
	if _, err := admin.GetConsumerOffset(ctx, iggy.GroupConsumerOf(iggy.NamedID("w")), iggy.NamedID("o"), iggy.NamedID("t"), iggy.Part(p)); !errors.Is(err, iggy.ErrNotFound) {
		t.Fatalf("offset of partition %d after the refused commit: %v, want none stored", p, err)
	}
	c1.Close()
	if g1.Owns(ctx, 1-p) {
		t.Fatal("owns a partition after its connection closed")
	}
}

// A partition that moved to another member and back while this member's batch was in flight (it
// stayed a member all along and did not sync in between): the other member committed further, so
// this member's older commit is refused (ErrPartitionNotOwned) instead of moving the group's offset
// back; a commit past the stored offset is accepted.
func TestGroupConsumerCommitAfterPartitionCameBack(t *testing.T) {
	s := startServer(t, iggyserver.Config{})
	ctx := testCtx(t)
	admin := dial(t, s.Addr().String())
	if _, err := admin.EnsureTopic(ctx, "o", "t", 2); err != nil {
		t.Fatal(err)
	}
	for p := uint32(0); p < 2; p++ {
		if _, err := admin.SendMessages(ctx, iggy.NamedID("o"), iggy.NamedID("t"), iggy.PartitionID(p), makeMessages(0, 30)); err != nil {
			t.Fatal(err)
		}
	}
	g1 := iggy.NewGroupConsumer(dial(t, s.Addr().String()), "o", "t", "w", iggy.GroupConsumerOptions{SyncInterval: time.Millisecond})
	if _, err := g1.Poll(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for p := uint32(0); p < 2; p++ {
		if err := g1.Commit(ctx, p, 2); err != nil {
			t.Fatal(err)
		}
	}
	g2 := iggy.NewGroupConsumer(dial(t, s.Addr().String()), "o", "t", "w", iggy.GroupConsumerOptions{})
	if _, err := g2.Poll(ctx, 1); err != nil {
		t.Fatal(err)
	}
	moved := g2.Assignment()
	if len(moved) != 1 {
		t.Fatalf("second member owns %v, want one partition", moved)
	}
	p := moved[0]
	if err := g2.Commit(ctx, p, 15); err != nil {
		t.Fatal(err)
	}
	if err := g2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // past g1's SyncInterval: its commit re-reads the assignment
	if err := g1.Commit(ctx, p, 5); !errors.Is(err, iggy.ErrPartitionNotOwned) {
		t.Fatalf("commit of offset 5 after another member stored 15: %v, want ErrPartitionNotOwned", err)
	}
	stored := func() uint64 {
		info, err := admin.GetConsumerOffset(ctx, iggy.GroupConsumerOf(iggy.NamedID("w")), iggy.NamedID("o"), iggy.NamedID("t"), iggy.Part(p))
		if err != nil {
			t.Fatal(err)
		}
		return info.StoredOffset
	}
	if got := stored(); got != 15 {
		t.Fatalf("stored offset %d after the refused commit, want 15", got)
	}
	if err := g1.Commit(ctx, p, 20); err != nil {
		t.Fatalf("commit past the stored offset: %v", err)
	}
	if got := stored(); got != 20 {
		t.Fatalf("stored offset %d, want 20", got)
	}
}
