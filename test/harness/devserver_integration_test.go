//go:build integration

package harness

import (
	"fmt"
	"testing"

	"github.com/iggy-go/connectors/runtime/iggy"
)

func TestMain(m *testing.M) { Main(m) }

// A devserver with a data directory keeps what it acknowledged across kill -9 and a clean stop,
// on the same address; the Iggy helpers read it back.
func TestDevserverRestartAndIggyHelpers(t *testing.T) {
	srv := StartDevserver(t, DevserverOptions{DataDir: t.TempDir()})
	c := srv.Client(t)
	if n := TopicCount(t, c, "h", "t"); n != 0 || ReadTopic(t, c, "h", "t") != nil {
		t.Fatalf("a missing topic counts %d", n)
	}
	EnsureTopic(t, c, "h", "t", 2)
	var msgs []iggy.Message
	for i := range 10 {
		msgs = append(msgs, iggy.Message{Payload: []byte(fmt.Sprint(i)), Headers: []iggy.Header{iggy.StringHeader("k", "v")}})
	}
	Send(t, c, "h", "t", msgs[:5]) // balanced: one partition per request
	Send(t, c, "h", "t", msgs[5:])
	if got := GroupOffset(t, c, "h", "t", "g", 0); got != -1 {
		t.Fatalf("offset of a group that stored none: %d", got)
	}
	g := iggy.NewGroupConsumer(c, "h", "t", "g", iggy.GroupConsumerOptions{})
	b, err := g.Poll(Ctx(t), 3)
	if err != nil || len(b.Messages) != 3 {
		t.Fatalf("group poll: %+v %v", b, err)
	}
	if err := g.Commit(Ctx(t), b.PartitionID, b.Messages[2].Offset); err != nil {
		t.Fatal(err)
	}
	committed := b.PartitionID

	check := func(stage string) {
		t.Helper()
		c := srv.Client(t)
		if n := TopicCount(t, c, "h", "t"); n != 10 {
			t.Fatalf("%s: %d messages, want 10", stage, n)
		}
		all := ReadTopic(t, c, "h", "t")
		seen := map[string]bool{}
		perPartition := map[uint32]uint64{}
		for _, m := range all {
			if m.Offset != perPartition[m.Partition] {
				t.Fatalf("%s: partition %d offset %d, want %d (order)", stage, m.Partition, m.Offset, perPartition[m.Partition])
			}
			perPartition[m.Partition]++
			seen[string(m.Payload)] = true
			if len(m.Headers) != 1 || string(m.Headers[0].Value) != "v" {
				t.Fatalf("%s: headers %+v", stage, m.Headers)
			}
		}
		if len(all) != 10 || len(seen) != 10 || len(perPartition) != 2 {
			t.Fatalf("%s: read %d messages (%d distinct) from %d partitions", stage, len(all), len(seen), len(perPartition))
		}
		if got := GroupOffset(t, c, "h", "t", "g", committed); got != 2 {
			t.Fatalf("%s: group offset %d in partition %d, want 2", stage, got, committed)
		}
		if got := GroupOffset(t, c, "h", "t", "g", 1-committed); got != -1 {
			t.Fatalf("%s: group offset %d in the partition it never committed", stage, got)
		}
	}
	check("running")
	addr := srv.Addr
	srv.Kill()
	srv.Start()
	if srv.Addr != addr {
		t.Fatalf("restarted on %s, want %s", srv.Addr, addr)
	}
	check("after kill -9")
	srv.Stop()
	srv.Start()
	check("after a clean stop")
	if n := len(srv.Log.Lines("=== iggy-devserver run")); n != 3 {
		t.Fatalf("%d runs logged, want 3", n)
	}
}
