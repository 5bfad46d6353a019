package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/iggy-go/connectors/abi"
)

// discardProducer accepts every send (benchmarks only: the cost of the runtime's side).
type discardProducer struct{}

func (discardProducer) Send(context.Context, string, string, []OutMessage) error { return nil }

// BenchmarkSourceSend: what the runtime does per polled batch before and around the Iggy send
// (ids, per-stream messages), for a batch of 1000 messages without ids to one stream, the producer
// discarding them.
func BenchmarkSourceSend(b *testing.B) {
	s, err := NewSource(SourceOptions{Key: "bench", Plugin: nopPlugin{}, Producer: discardProducer{},
		Streams: []SourceStream{{Stream: "s", Topic: "t"}}})
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 1024)
	res := &abi.PollResult{BatchID: 1, Messages: make([]abi.SourceMessage, 1000)}
	for i := range res.Messages {
		res.Messages[i].Payload = payload
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := s.send(context.Background(), res, time.Now()); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

type nopPlugin struct{}

func (nopPlugin) Poll(context.Context) (*abi.PollResult, error) { return &abi.PollResult{}, nil }
func (nopPlugin) Commit(context.Context, uint64) error          { return nil }
