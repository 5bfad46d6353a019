package iggy_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/iggyserver"
)

// releaseMessages builds n messages with ids from+1.. whose payloads (270..1161 bytes, copied into
// the request frame, and every seventh 5400 bytes, sent as a segment of its own) and headers name
// the id.
func releaseMessages(from, n int) []iggy.Message {
	msgs := make([]iggy.Message, n)
	for i := range msgs {
		id := from + i + 1
		msgs[i] = iggy.Message{ID: iggy.IDFromUint64(uint64(id)), Payload: releasePayload(id),
			Headers: []iggy.Header{iggy.StringHeader("seq", fmt.Sprint(id))}}
	}
	return msgs
}

func releasePayload(id int) []byte {
	n := 30 + id%100
	if id%7 == 0 {
		n = 600
	}
	return bytes.Repeat([]byte(fmt.Sprintf("<%07d>", id)), n)
}

// releaseTopic starts a server and sends batches batches of per releaseMessages to partition 0 of
// stream/t (the server verifies every checksum, also of the frames sent as segments).
func releaseTopic(t *testing.T, stream string, per, batches int) (context.Context, *iggy.Client) {
	ctx := testCtx(t)
	c := dial(t, startServer(t, iggyserver.Config{}).Addr().String())
	if _, err := c.EnsureTopic(ctx, stream, "t", 1); err != nil {
		t.Fatal(err)
	}
	for b := 0; b < batches; b++ {
		if _, err := c.SendMessages(ctx, iggy.NamedID(stream), iggy.NamedID("t"), iggy.PartitionID(0), releaseMessages(b*per, per)); err != nil {
			t.Fatal(err)
		}
	}
	return ctx, c
}

func checkReleased(t *testing.T, what string, msgs []iggy.Message, from, n int) {
	t.Helper()
	if len(msgs) != n {
		t.Fatalf("%s: %d messages, want %d", what, len(msgs), n)
	}
	for i, m := range msgs {
		id := from + i + 1
		if m.Offset != uint64(from+i) || m.ID != iggy.IDFromUint64(uint64(id)) || !bytes.Equal(m.Payload, releasePayload(id)) ||
			len(m.Headers) != 1 || string(m.Headers[0].Value) != fmt.Sprint(id) {
			t.Fatalf("%s: message %d (offset %d, %d-byte payload) is not message %d", what, i, m.Offset, len(m.Payload), id)
		}
	}
}

// TestPollReleaseReusesMemory polls, releases and polls again: results read into reused reply
// memory are correct, and a result that was not released is never overwritten by later polls.
func TestPollReleaseReusesMemory(t *testing.T) {
	const per, batches = 200, 6
	ctx, c := releaseTopic(t, "rel", per, batches)
	poll := func(b int) *iggy.Polled {
		t.Helper()
		res, err := c.PollMessages(ctx, iggy.NamedID("rel"), iggy.NamedID("t"), iggy.SingleConsumer(1), iggy.Part(0),
			iggy.StrategyOffset(uint64(b*per)), per, false)
		if err != nil {
			t.Fatal(err)
		}
		checkReleased(t, fmt.Sprintf("poll of batch %d", b), res.Messages, b*per, per)
		return res
	}
	kept := poll(0) // never released until the end: later polls must not touch it
	for round := 0; round < 3; round++ {
		for b := 1; b < batches; b++ {
			res := poll(b)
			res.Release()
			res.Release() // idempotent
		}
		checkReleased(t, "the unreleased first poll", kept.Messages, 0, per)
	}
	kept.Release()
	poll(0).Release()
	var none *iggy.Polled
	none.Release() // nil-safe

	// An empty poll (past the end) holds no memory; releasing it is harmless.
	res, err := c.PollMessages(ctx, iggy.NamedID("rel"), iggy.NamedID("t"), iggy.SingleConsumer(1), iggy.Part(0),
		iggy.StrategyOffset(batches*per), per, false)
	if err != nil || len(res.Messages) != 0 {
		t.Fatalf("poll past the end: %d messages, %v", len(res.Messages), err)
	}
	res.Release()
}

// TestGroupBatchReleasedElsewhere hands group batches to another goroutine that checks and
// releases them while the next poll runs (as the sink pipeline does); run with -race.
func TestGroupBatchReleasedElsewhere(t *testing.T) {
	const per, batches = 100, 12
	ctx, c := releaseTopic(t, "relg", per, batches)
	g := iggy.NewGroupConsumer(c, "relg", "t", "g", iggy.GroupConsumerOptions{})
	out := make(chan iggy.Batch, 1) // one batch checked while the next is polled
	done := make(chan error, 1)
	go func() {
		next := 0
		for b := range out {
			if len(b.Messages) != per || b.Messages[0].Offset != uint64(next) {
				done <- fmt.Errorf("batch at offset %d with %d messages, want offset %d", b.Messages[0].Offset, len(b.Messages), next)
				return
			}
			for i, m := range b.Messages {
				if !bytes.Equal(m.Payload, releasePayload(next+i+1)) {
					done <- fmt.Errorf("offset %d: wrong payload", m.Offset)
					return
				}
			}
			next += per
			copied := b
			b.Release()
			copied.Release() // a copy shares the release
		}
		done <- nil
	}()
	for got := 0; got < batches; {
		b, err := g.Poll(ctx, per)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Messages) == 0 {
			continue
		}
		got++
		out <- b
	}
	close(out)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	g.Close(context.Background())
}
