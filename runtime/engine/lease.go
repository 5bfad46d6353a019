package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/iggy-go/connectors/runtime/backoff"
	"github.com/iggy-go/connectors/runtime/iggy"
)

// LeaseGroupPrefix starts the name of the consumer group that holds a source's lease:
// "iggy-connectors-source-<key>", on the source's first stream/topic.
const LeaseGroupPrefix = "iggy-connectors-source-"

// errLeaseLost ends a source run whose runtime no longer holds the source's lease.
var errLeaseLost = errors.New("lease lost")

// sourceLease is the single-owner rule of a source: of all runtimes that run a source with the same
// key against the same Iggy server, only the lease holder opens the plugin and reads the external
// system; the others wait as standbys, with the connector in status error saying why.
//
// The lease is a consumer group of the source's first stream/topic (the runtime never polls it):
// every runtime running the source joins it, and the holder is the member that the server assigned
// the topic's lowest partition. The server gives each partition to exactly one member, drops the
// members of a closed connection at once (a runtime that exits or is killed: its socket closes) and
// those whose connection went silent after its heartbeat timeout (a frozen or cut-off host), and
// then re-assigns the partitions: a standby becomes the holder. This works with any server that
// implements consumer groups (iggy-devserver and Apache Iggy), needs no clock agreement and no
// store beyond Iggy.
//
// Failure modes (docs/scaleout.md): the holder checks the lease every interval, so after a
// re-assignment the old holder may still finish the batch it is polling (at most max_in_flight
// batches) while the new one starts: at-least-once, never loss. A membership ends with the
// connection, so a holder whose connection broke re-joins after reconnecting and keeps the lease
// only if the server gives it the lowest partition again. The standby resumes from the state in its
// own state.path: without shared state (or a source that keeps its cursor in the external system) it
// starts where its own state says.
//
// Not safe for concurrent use: one goroutine (the connector's run) acquires, checks and releases.
type sourceLease struct {
	c             *iggy.Client
	stream, topic iggy.Identifier
	where         string // "stream/topic", for messages
	group         string
	interval      time.Duration
	log           *slog.Logger

	joined bool
	epoch  uint64 // connection epoch of the membership
}

func newSourceLease(c *iggy.Client, key, stream, topic string, log *slog.Logger) *sourceLease {
	return &sourceLease{c: c, stream: iggy.NamedID(stream), topic: iggy.NamedID(topic), where: stream + "/" + topic,
		group: LeaseGroupPrefix + key, interval: time.Second, log: log}
}

// LeaseHeldError says that another runtime holds a source's lease.
type LeaseHeldError struct {
	Key, Group, Where string
	Members           int
}

func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("source %q is already running in another runtime: it holds the source's lease (consumer group %q on %s, %d member(s)); "+
		"this runtime does not read the source and waits as standby, taking over when the holder stops or loses its Iggy connection",
		e.Key, e.Group, e.Where, e.Members)
}

// check joins the lease group when this connection is not a member (creating the group when
// missing) and reports whether this member holds the lease; when not, the error is a
// *LeaseHeldError.
func (l *sourceLease) check(ctx context.Context, key string) (bool, error) {
	epoch := l.c.ConnectionEpoch()
	if !l.joined || l.epoch != epoch || !l.c.Connected() {
		err := l.c.JoinConsumerGroup(ctx, l.stream, l.topic, iggy.NamedID(l.group))
		if errors.Is(err, iggy.ErrNotFound) {
			if _, cerr := l.c.CreateConsumerGroup(ctx, l.stream, l.topic, l.group); cerr != nil && !errors.Is(cerr, iggy.ErrAlreadyExists) {
				return false, fmt.Errorf("source lease: creating consumer group %q on %s: %w", l.group, l.where, cerr)
			}
			err = l.c.JoinConsumerGroup(ctx, l.stream, l.topic, iggy.NamedID(l.group))
		}
		if err != nil {
			return false, fmt.Errorf("source lease: joining consumer group %q on %s: %w", l.group, l.where, err)
		}
		l.joined, l.epoch = true, epoch
	}
	mine, err := l.c.SyncConsumerGroup(ctx, l.stream, l.topic, iggy.NamedID(l.group))
	if errors.Is(err, iggy.ErrNotFound) {
		l.joined = false // evicted or the group was deleted: join again next time
		return false, fmt.Errorf("source lease: not a member of consumer group %q on %s any more", l.group, l.where)
	}
	if err != nil {
		return false, fmt.Errorf("source lease: syncing consumer group %q on %s: %w", l.group, l.where, err)
	}
	all, err := l.c.GetConsumerGroup(ctx, l.stream, l.topic, iggy.NamedID(l.group))
	if err != nil {
		return false, fmt.Errorf("source lease: reading consumer group %q on %s: %w", l.group, l.where, err)
	}
	lowest, found := uint32(0), false
	for _, m := range all.Members {
		for _, p := range m.Partitions {
			if !found || p < lowest {
				lowest, found = p, true
			}
		}
	}
	if found && slices.Contains(mine.Partitions, lowest) {
		return true, nil
	}
	return false, &LeaseHeldError{Key: key, Group: l.group, Where: l.where, Members: len(all.Members)}
}

// acquire waits until this runtime holds the lease or ctx ends (then it returns ctx's error).
// While another runtime holds it, waiting reports the *LeaseHeldError (the connector's status);
// other errors (Iggy unreachable) are retried the same way.
func (l *sourceLease) acquire(ctx context.Context, key string, waiting func(error)) error {
	var last string
	for {
		held, err := l.check(ctx, key)
		if held {
			if last != "" {
				l.log.Info("source lease acquired: this runtime now runs the source", "group", l.group, "on", l.where)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err.Error() != last {
			l.log.Warn("source not started here", "err", err)
			last = err.Error()
		}
		waiting(err)
		if (backoff.Policy{Initial: l.interval}).Sleep(ctx, 1) != nil {
			return ctx.Err()
		}
	}
}

// watch checks the lease every interval until ctx ends and calls lost (once) when another member
// holds it. Transient errors (Iggy unreachable) do not count as a loss: the source cannot send
// without Iggy either, and the membership question is asked again after the reconnect.
func (l *sourceLease) watch(ctx context.Context, key string, lost func(error)) {
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		held, err := l.check(ctx, key)
		if held || ctx.Err() != nil {
			continue
		}
		var he *LeaseHeldError
		if errors.As(err, &he) {
			lost(err)
			return
		}
		l.log.Debug("source lease: check failed; asking again", "err", err)
	}
}

// release leaves the lease group (best effort: closing the connection releases it too).
func (l *sourceLease) release() {
	if !l.joined || l.epoch != l.c.ConnectionEpoch() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := l.c.LeaveConsumerGroup(ctx, l.stream, l.topic, iggy.NamedID(l.group)); err != nil {
		l.log.Debug("source lease: leaving the consumer group failed", "err", err)
	}
	l.joined = false
}
