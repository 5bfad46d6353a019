package iggy

// Owns reports whether partitionID is assigned to this member as far as the consumer knows: it is
// in the assignment of the last sync (at most SyncInterval old, and re-read whenever a poll or a
// commit is refused for a partition the server no longer gives this member) and the membership
// belongs to the client's current connection, which is up (a dropped connection ends every
// membership on the server).
//
// The sink pipeline asks before it hands a batch polled earlier to its plugin: a batch of a
// partition revoked by a rebalance is dropped uncommitted, and its new owner reads it from the
// group's stored offset. It is a hint, not a lock: the server decides at Commit, which fails with
// ErrPartitionNotOwned for a partition this member lost, so an offset is never stored for it.
// Safe for concurrent use with Poll and Commit.
func (g *GroupConsumer) Owns(partitionID uint32) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.joined || g.epoch != g.c.ConnectionEpoch() || !g.c.Connected() {
		return false
	}
	for _, p := range g.assigned {
		if p == partitionID {
			return true
		}
	}
	return false
}
