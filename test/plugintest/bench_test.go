package plugintest

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

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

// BenchmarkSinkRoundTrip: one Consume of a 1000-message batch (100-byte payloads, without and with
// one header per message) through the discard sink, which does nothing (and is an sdk.BatchBorrower):
// the time is the boundary's (encode, call, copy, decode, result, log drain). Reports ns/batch
// (ns/op), ns/message, cpu-ns/message and allocs/op (of the host). in_process/non_borrowing uses
// the faulty sink in "ok" mode, which is not a BatchBorrower (and logs one record per batch).
func BenchmarkSinkRoundTrip(b *testing.B) {
	for _, tr := range []plugin.Transport{plugin.TransportInProcess, plugin.TransportProcess} {
		for _, headers := range []bool{false, true} {
			name := string(tr)
			if headers {
				name += "/with_headers"
			}
			b.Run(name, func(b *testing.B) { benchSink(b, goDiscard(b), tr, headers) })
		}
	}
	// A sink that is not an sdk.BatchBorrower gets each batch in fresh memory (the safe default).
	b.Run("in_process/non_borrowing", func(b *testing.B) { benchSink(b, goFaulty(b), plugin.TransportInProcess, false) })
}

func benchSink(b *testing.B, lib string, tr plugin.Transport, headers bool) {
	l := open(b, lib, benchOpts(b, tr))
	ctx := context.Background()
	s, err := l.OpenSink(ctx, "bench", []byte(`{}`))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(ctx)
	batch := patternBatch(0, benchMessages, 100)
	if !headers {
		for i := range batch.Messages {
			batch.Messages[i].Headers = nil
		}
	}
	b.SetBytes(int64(benchMessages * 100))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := s.Consume(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	reportPerMessage(b, cpu0)
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
			cpu0 := cpuTime()
			for b.Loop() {
				r, err := src.Poll(ctx)
				if err != nil || len(r.Messages) != benchMessages {
					b.Fatal(err)
				}
				if err := src.Commit(ctx, r.BatchID); err != nil {
					b.Fatal(err)
				}
			}
			reportPerMessage(b, cpu0)
		})
	}
}

// cpuTime is this process's user+system CPU time (host and in-process plugins; not child processes).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportPerMessage adds ns/message (wall clock) and, as the machine may be shared, cpu-ns/message
// (this process's CPU time; for the process transport it excludes the child's).
func reportPerMessage(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchMessages, "ns/message")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N)/benchMessages, "cpu-ns/message")
}
