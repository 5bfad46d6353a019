package iggy_test

import (
	"errors"
	"testing"

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
