package iggy

import (
	"context"
	"slices"
	"time"
)

// Owns reports whether partitionID is assigned to this member: it is in the assignment of the last
// sync, re-read first when that is older than SyncInterval (a member that was frozen, or whose batch
// waited long, asks the server again; a failed sync counts as not owned), and the membership belongs
// to the client's current connection, which is up (a dropped connection ends every membership on the
// server).
//
// The sink pipeline asks before it hands a batch polled earlier to its plugin: a batch of a
// partition revoked by a rebalance is dropped uncommitted, and its new owner reads it from the
// group's stored offset. It is a check, not a lock: the server decides at Commit, which fails with
// ErrPartitionNotOwned for a partition this member lost, so an offset is never stored for it.
// Safe for concurrent use with Poll and Commit.
func (g *GroupConsumer) Owns(ctx context.Context, partitionID uint32) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.joined || g.epoch != g.c.ConnectionEpoch() || !g.c.Connected() {
		return false
	}
	if time.Since(g.lastSync) > g.opt.SyncInterval {
		if err := g.sync(ctx); err != nil || !g.joined || g.epoch != g.c.ConnectionEpoch() {
			return false
		}
	}
	return slices.Contains(g.assigned, partitionID)
}
