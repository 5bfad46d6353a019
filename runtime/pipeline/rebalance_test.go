package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iggy-go/connectors/abi"
)

// groupMember is a consumer-group member in miniature: it serves batches of 10 messages of its
// owned partitions round-robin, refuses commits of partitions it does not own (as the server does),
// and lets a test revoke partitions as a rebalance would.
type groupMember struct {
	mu      sync.Mutex
	owned   map[uint32]bool
	order   []uint32
	next    map[uint32]uint64
	turn    int
	polled  []string // "p<partition>@<first offset>"
	commits []string
	refused []string
}

func newGroupMember(partitions ...uint32) *groupMember {
	m := &groupMember{owned: map[uint32]bool{}, order: partitions, next: map[uint32]uint64{}}
	for _, p := range partitions {
		m.owned[p] = true
	}
	return m
}

func (m *groupMember) Poll(context.Context, int) (ConsumedBatch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for range m.order {
		p := m.order[m.turn%len(m.order)]
		m.turn++
		if !m.owned[p] {
			continue
		}
		b := ConsumedBatch{PartitionID: p}
		for i := 0; i < 10; i++ {
			b.Messages = append(b.Messages, abi.Message{Offset: m.next[p], Payload: []byte("x")})
			m.next[p]++
		}
		m.polled = append(m.polled, fmt.Sprintf("p%d@%d", p, b.Messages[0].Offset))
		return b, nil
	}
	return ConsumedBatch{}, nil
}

func (m *groupMember) Commit(_ context.Context, p uint32, offset uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.owned[p] {
		m.refused = append(m.refused, fmt.Sprintf("p%d@%d", p, offset))
		return fmt.Errorf("%w: partition %d", ErrPartitionRevoked, p)
	}
	m.commits = append(m.commits, fmt.Sprintf("p%d@%d", p, offset))
	return nil
}

func (m *groupMember) Owns(_ context.Context, p uint32) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.owned[p]
}

func (m *groupMember) revoke(ps ...uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range ps {
		m.owned[p] = false
	}
}

// rebalancingSink records the batches it is handed; during the first call it waits until the sink
// has read the next batch ahead, then revokes partitions (a rebalance while the batch is in hand).
type rebalancingSink struct {
	m      *groupMember
	revoke []uint32
	mu     sync.Mutex
	got    []string
}

func (s *rebalancingSink) Consume(_ context.Context, b *abi.SinkBatch) (abi.SinkResult, error) {
	s.mu.Lock()
	s.got = append(s.got, fmt.Sprintf("p%d@%d", b.PartitionID, b.Messages[0].Offset))
	first := len(s.got) == 1
	s.mu.Unlock()
	if first {
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			s.m.mu.Lock()
			n := len(s.m.polled)
			s.m.mu.Unlock()
			if n >= 2 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		s.m.revoke(s.revoke...)
	}
	return abi.SinkResult{}, nil
}

func (s *rebalancingSink) batches() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// A rebalance while a batch is in the plugin's hands: that batch is finished but its offset is not
// stored (the member lost the partition), and the batch read ahead for a revoked partition is never
// handed to the plugin. The sink keeps running on what it still owns.
func TestSinkRebalanceRevokedPartitions(t *testing.T) {
	cases := []struct {
		name        string
		revoke      []uint32
		wantRefused []string // commits refused
		wantNoMore  uint32   // a partition that must not be delivered after the first batch
	}{
		// The batch in hand (p1) and the one read ahead (p2) both lose their partition.
		{"both revoked", []uint32{1, 2}, []string{"p1@9"}, 2},
		// Only the read-ahead partition moves: p1's commit is stored, p2's batch is dropped.
		{"read-ahead revoked", []uint32{2}, nil, 2},
		// Only the batch in hand loses its partition: its commit is refused, p2 goes on.
		{"in-hand revoked", []uint32{1}, []string{"p1@9"}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newGroupMember(1, 2)
			plugin := &rebalancingSink{m: m, revoke: c.revoke}
			s, err := NewSink(SinkOptions{Key: "t", Plugin: plugin, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
				Streams: []SinkStream{{Stream: "s", Topic: "t", Consumer: m, BatchLength: 10, PollInterval: time.Millisecond}}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			if err := s.Run(ctx); err != nil {
				t.Fatalf("Run: %v (a revoked partition must not stop the sink)", err)
			}
			got := plugin.batches()
			if len(got) == 0 || got[0] != "p1@0" {
				t.Fatalf("batches %v, want p1@0 first", got)
			}
			prefix := fmt.Sprintf("p%d@", c.wantNoMore)
			for _, b := range got[1:] {
				if strings.HasPrefix(b, prefix) {
					t.Errorf("batch %s of revoked partition %d was delivered after the rebalance (all: %v)", b, c.wantNoMore, got)
					break
				}
			}
			m.mu.Lock()
			refused, commits := append([]string(nil), m.refused...), append([]string(nil), m.commits...)
			m.mu.Unlock()
			if fmt.Sprint(refused) != fmt.Sprint(c.wantRefused) {
				t.Errorf("refused commits %v, want %v", refused, c.wantRefused)
			}
			for _, cm := range commits {
				for _, p := range c.revoke {
					if strings.HasPrefix(cm, fmt.Sprintf("p%d@", p)) {
						t.Errorf("offset stored for revoked partition %d: %s", p, cm)
					}
				}
			}
			if s.Counters().InFlight.Load() != 0 {
				t.Errorf("in flight after Run: %d", s.Counters().InFlight.Load())
			}
		})
	}
}
