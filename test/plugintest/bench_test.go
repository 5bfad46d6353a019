package plugintest

import (
	"context"
	"fmt"
	"testing"

	"github.com/iggy-go/connectors/runtime/plugin"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

const benchMessages = 1000

func benchOpts(b *testing.B, t plugin.Transport) plugin.Options {
	o := plugin.Options{Transport: t, Logger: discard()}
	if t == plugin.TransportProcess {
		o.Executable = pluginbuild.Runtime(b)
	}
	return o
}

// BenchmarkSinkRoundTrip: one Consume of a 1000-message batch (100-byte payloads) through the
// discard sink, which does nothing: the time is the boundary's (encode, call, copy, decode, result,
// log drain). Reports ns/batch (ns/op), ns/message and allocs/op.
func BenchmarkSinkRoundTrip(b *testing.B) {
	for _, tr := range []plugin.Transport{plugin.TransportInProcess, plugin.TransportProcess} {
		b.Run(string(tr), func(b *testing.B) {
			lib := open(b, goDiscard(b), benchOpts(b, tr))
			ctx := context.Background()
			s, err := lib.OpenSink(ctx, "bench", []byte(`{}`))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close(ctx)
			batch := patternBatch(0, benchMessages, 100)
			b.SetBytes(int64(benchMessages * 100))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.Consume(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchMessages, "ns/message")
		})
	}
}

// BenchmarkSourceRoundTrip: one Poll of 1000 pre-built messages (random source, zero_cost generator,
// 100-byte text) plus its Commit.
func BenchmarkSourceRoundTrip(b *testing.B) {
	for _, tr := range []plugin.Transport{plugin.TransportInProcess, plugin.TransportProcess} {
		b.Run(string(tr), func(b *testing.B) {
			lib := open(b, goRandom(b), benchOpts(b, tr))
			ctx := context.Background()
			cfg := fmt.Sprintf(`{"interval":"0","messages_range":[%d,%d],"payload_size":100,"generator":"zero_cost"}`, benchMessages, benchMessages)
			src, err := lib.OpenSource(ctx, "bench", []byte(cfg), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer src.Close(ctx)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				r, err := src.Poll(ctx)
				if err != nil || len(r.Messages) != benchMessages {
					b.Fatal(err)
				}
				if err := src.Commit(ctx, r.BatchID); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchMessages, "ns/message")
		})
	}
}
