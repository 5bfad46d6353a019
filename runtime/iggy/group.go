package iggy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy/wire"
)

// GroupConsumerOptions tune a GroupConsumer.
type GroupConsumerOptions struct {
	// NoCreate makes Poll fail with ErrNotFound instead of creating a missing group.
	NoCreate bool
	// SyncInterval re-reads the assignment this often even without a hint (default 5s, like the
	// official clients' heartbeat re-sync).
	SyncInterval time.Duration
	Logger       *slog.Logger
}

// Batch is what GroupConsumer.Poll returns: messages of one partition in offset order (possibly
// none). Messages alias reply memory owned by the batch, valid until Release (see Polled).
type Batch struct {
	PartitionID   uint32
	CurrentOffset uint64
	Messages      []Message
	lease         *lease
}

// Release hands the memory Messages alias back for reuse by later polls; call it once the batch
// is fully handled (see Polled.Release: after it, nothing of Messages may be used). Optional,
// idempotent (also across copies of the batch), safe from any goroutine.
func (b Batch) Release() { b.lease.release() }

// GroupConsumer reads a topic as a member of a consumer group with auto-commit off: the sink
// side of the runtime. It joins (creating the group unless NoCreate), syncs its assignment
// (SyncConsumerGroup), polls its partitions round-robin and re-joins after the client reconnects
// (membership is per connection on the server).
//
// Delivery is at-least-once: messages returned by Poll are delivered again — to this or another
// member, after a crash, a reconnect or a rebalance — unless Commit stored an offset at or after
// them. Poll continues after the last returned message of each partition, also across a
// reconnection and re-join, as long as the partition stays assigned to this member and no other
// member committed at or past that position meanwhile (the first poll of a partition, and the
// first after it was assigned elsewhere, starts after the group's stored offset).
//
// Poll and Commit may be called from different goroutines; calls are serialized.
type GroupConsumer struct {
	c                    *Client
	stream, topic, group Identifier
	groupName            string
	opt                  GroupConsumerOptions
	log                  *slog.Logger

	mu         sync.Mutex
	joined     bool
	epoch      uint64 // client connection epoch the membership belongs to
	generation uint64
	assigned   []uint32
	next       int
	pos        map[uint32]uint64 // partition -> next offset to poll (within this membership)
	// unverified holds the assigned partitions that another member may have owned since this one
	// last stored an offset there (every partition after a new generation or a re-join): their next
	// Commit first reads the group's stored offset (see Commit). Cleared by a successful store.
	unverified map[uint32]bool
	lastSync   time.Time
}

// NewGroupConsumer returns a consumer for group on stream/topic. Nothing is sent until the first
// Poll or Commit.
func NewGroupConsumer(c *Client, stream, topic, group string, opts GroupConsumerOptions) *GroupConsumer {
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = c.log
	}
	return &GroupConsumer{c: c, stream: NamedID(stream), topic: NamedID(topic), group: NamedID(group), groupName: group,
		opt: opts, log: opts.Logger.With("stream", stream, "topic", topic, "group", group), pos: map[uint32]uint64{},
		unverified: map[uint32]bool{}}
}

// ensureJoined joins (again) when not a member on the current connection (mu held).
func (g *GroupConsumer) ensureJoined(ctx context.Context) error {
	if g.joined && g.epoch == g.c.ConnectionEpoch() && g.c.Connected() {
		return nil
	}
	if g.joined {
		g.log.Info("iggy: re-joining consumer group after reconnect")
	}
	g.joined = false
	// The epoch is the one the join ran on: JoinConsumerGroup may itself reconnect, so reading the
	// epoch before it would record a stale one and make the next call join (and re-read) again.
	epoch, err := g.c.joinConsumerGroup(ctx, g.stream, g.topic, g.group)
	if errors.Is(err, ErrNotFound) && !g.opt.NoCreate {
		if _, cerr := g.c.CreateConsumerGroup(ctx, g.stream, g.topic, g.groupName); cerr != nil && !errors.Is(cerr, ErrAlreadyExists) {
			return fmt.Errorf("iggy: creating consumer group %q: %w", g.groupName, cerr)
		}
		epoch, err = g.c.joinConsumerGroup(ctx, g.stream, g.topic, g.group)
	}
	if err != nil {
		return fmt.Errorf("iggy: joining consumer group %q: %w", g.groupName, err)
	}
	g.joined, g.epoch = true, epoch
	// Poll positions survive a re-join: for a partition this member still owns, polling resumes
	// after the last message it returned (re-reading from the stored offset would hand the batches
	// still being delivered to the sink a second time). sync drops the positions of partitions
	// that are no longer assigned.
	g.assigned, g.generation = nil, 0
	return g.sync(ctx)
}

// sync re-reads the assignment (mu held). A new generation drops the poll positions of the
// partitions no longer assigned.
func (g *GroupConsumer) sync(ctx context.Context) error {
	a, err := g.c.SyncConsumerGroup(ctx, g.stream, g.topic, g.group)
	if errors.Is(err, ErrNotFound) {
		g.joined = false // not a member any more (evicted, or the group was recreated)
		return nil
	}
	if err != nil {
		return fmt.Errorf("iggy: syncing consumer group %q: %w", g.groupName, err)
	}
	if a.Generation != g.generation {
		// Forget the positions of partitions this member lost: if one comes back, another member
		// may have moved on, so it starts again from the group's stored offset.
		for p := range g.pos {
			if !slices.Contains(a.Partitions, p) {
				delete(g.pos, p)
			}
		}
		// A partition still (or again) assigned may have been another member's in between, unseen
		// by this one (it was frozen, or evicted and back before its next sync): keep its position
		// only while nobody committed at or past it, else resume after the group's stored offset.
		for p, pos := range g.pos {
			info, err := g.c.GetConsumerOffset(ctx, GroupConsumerOf(g.group), g.stream, g.topic, Part(p))
			switch {
			case err == nil && info.StoredOffset+1 >= pos:
				delete(g.pos, p)
			case err != nil && !errors.Is(err, ErrNotFound):
				return fmt.Errorf("iggy: reading the stored offset of consumer group %q partition %d: %w", g.groupName, p, err)
			}
		}
		clear(g.unverified)
		for _, p := range a.Partitions {
			g.unverified[p] = true
		}
		g.log.Debug("iggy: consumer group assignment", "generation", a.Generation, "partitions", a.Partitions)
	}
	g.generation, g.assigned, g.lastSync = a.Generation, a.Partitions, time.Now()
	return nil
}

// Assignment returns the partitions currently assigned to this member (as of the last sync).
func (g *GroupConsumer) Assignment() []uint32 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]uint32(nil), g.assigned...)
}

// Poll returns up to maxMessages messages of the next assigned partition (round-robin). It
// returns an empty Batch when nothing is assigned or nothing is new. Errors: ErrTransport
// (retry; the consumer re-joins after the reconnect), ErrNotFound (stream, topic, or group with
// NoCreate), context errors.
func (g *GroupConsumer) Poll(ctx context.Context, maxMessages int) (Batch, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if maxMessages <= 0 {
		maxMessages = 1
	}
	for attempt := 0; attempt < 2; attempt++ {
		if err := g.ensureJoined(ctx); err != nil {
			return Batch{}, err
		}
		if !g.joined || time.Since(g.lastSync) > g.opt.SyncInterval {
			if err := g.sync(ctx); err != nil {
				return Batch{}, err
			}
		}
		if !g.joined {
			continue
		}
		if len(g.assigned) == 0 {
			return Batch{}, nil
		}
		pid := g.assigned[g.next%len(g.assigned)]
		g.next++
		strategy := StrategyNext()
		if p, ok := g.pos[pid]; ok {
			strategy = StrategyOffset(p)
		}
		res, err := g.c.PollMessages(ctx, g.stream, g.topic, GroupConsumerOf(g.group), Part(pid), strategy, uint32(min(maxMessages, 1<<20)), false)
		if errors.Is(err, ErrPartitionNotOwned) {
			g.log.Debug("iggy: partition no longer owned, re-syncing", "partition", pid)
			if err := g.sync(ctx); err != nil {
				return Batch{}, err
			}
			continue
		}
		if err != nil {
			return Batch{}, err
		}
		if p, ok := g.pos[pid]; ok && len(res.Messages) == 0 && res.CurrentOffset+1 < p {
			// The partition ends before what this member already returned: the server lost messages
			// (a restart without fsync). Start again from the group's stored offset.
			g.log.Warn("iggy: partition ends before the position already delivered; resuming from the stored offset",
				"partition", pid, "current_offset", res.CurrentOffset, "position", p)
			delete(g.pos, pid)
		}
		if n := len(res.Messages); n > 0 {
			g.pos[pid] = res.Messages[n-1].Offset + 1
		}
		return Batch{PartitionID: pid, CurrentOffset: res.CurrentOffset, Messages: res.Messages, lease: res.lease}, nil
	}
	return Batch{}, nil
}

// Commit stores offset (the last processed message) as the group's position in partitionID.
// It fails with ErrPartitionNotOwned when the partition is no longer assigned to this member
// (after a rebalance the new owner re-reads from the previous commit), and also when the group's
// stored offset is already at or past offset: then another member owned the partition while this
// one's batch was in flight (this member was evicted or the partition moved away and back) and went
// further, and storing the older offset would move the group back and re-deliver what that member
// wrote. That read is made only for a partition in unverified (once per partition after a new
// generation), not on every commit; the assignment is re-read first when the last sync is older
// than SyncInterval, so a partition that moved away and back is noticed unless both moves fell
// within SyncInterval of the last sync (then the group's offset may move back: duplicates, never a
// loss). Only the partition's owner can store an offset (the server refuses the others), so no
// other commit can slip in between the read and the write.
func (g *GroupConsumer) Commit(ctx context.Context, partitionID uint32, offset uint64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.ensureJoined(ctx); err != nil {
		return err
	}
	if time.Since(g.lastSync) > g.opt.SyncInterval {
		if err := g.sync(ctx); err != nil {
			return err
		}
		if !g.joined {
			return fmt.Errorf("iggy: commit offset %d of partition %d: %w (no longer a member of the group)", offset, partitionID, ErrPartitionNotOwned)
		}
	}
	owned := func() bool {
		for _, p := range g.assigned {
			if p == partitionID {
				return true
			}
		}
		return false
	}
	if !owned() {
		if err := g.sync(ctx); err != nil {
			return err
		}
		if !owned() {
			return fmt.Errorf("iggy: commit offset %d of partition %d: %w", offset, partitionID, ErrPartitionNotOwned)
		}
	}
	if g.unverified[partitionID] {
		info, err := g.c.GetConsumerOffset(ctx, GroupConsumerOf(g.group), g.stream, g.topic, Part(partitionID))
		switch {
		case err == nil && info.StoredOffset >= offset:
			return fmt.Errorf("iggy: commit offset %d of partition %d: %w: the group's offset is already %d (another member owned it meanwhile)",
				offset, partitionID, ErrPartitionNotOwned, info.StoredOffset)
		case err != nil && !errors.Is(err, ErrNotFound):
			return err
		}
	}
	err := g.c.StoreConsumerOffset(ctx, GroupConsumerOf(g.group), g.stream, g.topic, Part(partitionID), offset)
	if code, ok := ErrorCode(err); ok && (code == wire.ErrCodeResourceNotFound || code == wire.ErrCodeConsumerGroupPartitionUnowned) {
		g.sync(ctx)
		return fmt.Errorf("iggy: commit offset %d of partition %d: %w (%v)", offset, partitionID, ErrPartitionNotOwned, err)
	}
	if err == nil {
		delete(g.unverified, partitionID)
	}
	return err
}

// Close leaves the group (best effort; the server also drops members whose connection closes).
func (g *GroupConsumer) Close(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.joined || g.epoch != g.c.ConnectionEpoch() {
		return nil
	}
	g.joined = false
	return g.c.LeaveConsumerGroup(ctx, g.stream, g.topic, g.group)
}
