package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/iggy-go/connectors/abi"
)

// turnConsumer serves offsets 0..total-1 of one partition and reuses its memory exactly as far as
// the Consumer contract allows: two message slices by turns, and a reused slice is scribbled over
// before it is refilled, so a batch used after its memory was handed out again is caught. Payloads
// lie in byte buffers handed back by the batch's Release (scribbled over, then reused by a later
// poll, like the Iggy client's reply memory).
type turnConsumer struct {
	mu      sync.Mutex
	total   uint64
	perPoll int // at most this many messages per poll, every other poll (0: always max)
	polls   int
	next    uint64
	bufs    [2][]abi.Message
	turn    int
	commits []uint64

	free        [][]byte // released payload buffers
	leased      int      // payload buffers handed out and not released
	releaseErrs []string // double releases
}

// payloadBuffer returns a released buffer (or a new one) holding the payloads of offsets
// from..from+n-1, their ends, and the batch's Release.
func (c *turnConsumer) payloadBuffer(from, n uint64) ([]byte, []int, func()) {
	var buf []byte
	if k := len(c.free); k > 0 {
		buf, c.free = c.free[k-1][:0], c.free[:k-1]
	}
	ends := make([]int, 0, n)
	for o := from; o < from+n; o++ {
		buf = strconv.AppendUint(buf, o, 10)
		ends = append(ends, len(buf))
	}
	c.leased++
	released := false
	return buf, ends, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if released {
			c.releaseErrs = append(c.releaseErrs, fmt.Sprintf("batch from offset %d released twice", from))
			return
		}
		released = true
		for i := range buf {
			buf[i] = 'X'
		}
		c.free = append(c.free, buf)
		c.leased--
	}
}

// unreleased returns the number of payload buffers not handed back, and any double releases.
func (c *turnConsumer) unreleased() (int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leased, c.releaseErrs
}

func (c *turnConsumer) Poll(_ context.Context, max int) (ConsumedBatch, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := min(uint64(max), c.total-c.next)
	if c.polls++; c.perPoll > 0 && c.polls%2 == 0 {
		n = min(n, uint64(c.perPoll))
	}
	if n == 0 {
		return ConsumedBatch{PartitionID: 1, CurrentOffset: c.total - 1}, nil
	}
	c.turn ^= 1
	for i := range c.bufs[c.turn] {
		c.bufs[c.turn][i] = abi.Message{Offset: 1 << 62, Payload: []byte("stale")}
	}
	b := c.bufs[c.turn][:0]
	payloads, ends, release := c.payloadBuffer(c.next, n)
	start := 0
	for _, end := range ends {
		b = append(b, abi.Message{Offset: c.next, Payload: payloads[start:end:end]})
		start = end
		c.next++
	}
	c.bufs[c.turn] = b
	return ConsumedBatch{PartitionID: 1, CurrentOffset: c.total - 1, Messages: b, Release: release}, nil
}

func (c *turnConsumer) Commit(_ context.Context, _ uint32, offset uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.commits = append(c.commits, offset)
	return nil
}

func (c *turnConsumer) polled() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.next
}

func (c *turnConsumer) lastCommit() (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.commits) == 0 {
		return 0, false
	}
	return c.commits[len(c.commits)-1], true
}

// checkingSink verifies every message it is handed (offsets in sequence, payload = offset) and
// takes a little time per call, during which the sink polls ahead.
type checkingSink struct {
	c         *turnConsumer
	mu        sync.Mutex
	next      uint64
	errs      []error
	calls     int
	polledAhd int // calls during which the consumer had already served messages after the batch
}

func (s *checkingSink) Consume(_ context.Context, b *abi.SinkBatch) (abi.SinkResult, error) {
	time.Sleep(2 * time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	for _, m := range b.Messages {
		if m.Offset != s.next || !bytes.Equal(m.Payload, []byte(strconv.FormatUint(s.next, 10))) {
			s.errs = append(s.errs, fmt.Errorf("call %d: got offset %d payload %q, want %d", s.calls, m.Offset, m.Payload, s.next))
			return abi.SinkResult{}, nil
		}
		s.next++
	}
	if s.c.polled() > s.next {
		s.polledAhd++
	}
	return abi.SinkResult{}, nil
}

// The sink reads the next batch while the plugin consumes the previous one, delivers every message
// once, in order, intact (the consumer reuses its memory as the contract allows), and commits in
// order up to the last offset. With linger_time, short polls grow into full batches (several polls
// while the previous batch is delivered) and everything stays intact too.
func TestSinkPollsAhead(t *testing.T) {
	for _, tc := range []struct {
		name    string
		perPoll int
		linger  time.Duration
	}{
		{"full batches", 0, 0},
		{"linger", 3, 5 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const total = 600
			c := &turnConsumer{total: total, perPoll: tc.perPoll}
			plugin := &checkingSink{c: c}
			s, err := NewSink(SinkOptions{Key: "t", Plugin: plugin, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Streams: []SinkStream{{Stream: "s", Topic: "t", Consumer: c, BatchLength: 10, PollInterval: time.Millisecond, LingerTime: tc.linger}}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			deadline := time.Now().Add(20 * time.Second)
			for {
				if off, ok := c.lastCommit(); ok && off == total-1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("not everything committed in time: %d delivered", plugin.next)
				}
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			plugin.mu.Lock()
			defer plugin.mu.Unlock()
			if len(plugin.errs) > 0 {
				t.Fatalf("%d corrupt or out-of-order batches, first: %v", len(plugin.errs), plugin.errs[0])
			}
			if plugin.next != total {
				t.Fatalf("delivered %d messages, want %d", plugin.next, total)
			}
			if plugin.polledAhd == 0 {
				t.Fatalf("the consumer was never polled ahead of the plugin in %d calls", plugin.calls)
			}
			for i := 1; i < len(c.commits); i++ {
				if c.commits[i] <= c.commits[i-1] {
					t.Fatalf("commits out of order: %v", c.commits)
				}
			}
			// Every batch's memory was handed back once, also a batch read ahead when the sink stopped.
			if n, errs := c.unreleased(); n != 0 || len(errs) > 0 {
				t.Fatalf("%d batches never released; double releases: %v", n, errs)
			}
		})
	}
}
