// Package boundary holds scenario B4 of the benchmark report: the cost of the plugin boundary per
// message at batch sizes 1, 100 and 1000, for both transports, measured with real plugins (the
// discard sink of test/plugins/discard, an sdk.BatchBorrower that does nothing, and the random
// source in its zero_cost mode) built by test/pluginbuild and loaded by runtime/plugin as the
// runtime does. test/plugintest's BenchmarkSinkRoundTrip and BenchmarkSourceRoundTrip measure
// the same at batch 1000 with 100-byte payloads; the report runs both.
//
//	go test -run '^$' -bench . ./bench/boundary/
//
// Each benchmark reports ns/message (wall), cpu-ns/message (this process: the host and in-process
// plugins, not a process-transport child) and allocs/op of the host (allocs per batch).
package boundary

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/runtime/plugin"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pluginbuild.Cleanup()
	os.Exit(code)
}

var (
	transports = []plugin.Transport{plugin.TransportInProcess, plugin.TransportProcess}
	batches    = []int{1, 100, 1000}
)

// payloadSizes are the message sizes measured: 100 bytes (test/plugintest's size) and 1 KB (the
// size of every other scenario).
var payloadSizes = []int{100, 1024}

func open(b *testing.B, lib string, tr plugin.Transport) *plugin.Library {
	o := plugin.Options{Transport: tr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if tr == plugin.TransportProcess {
		o.Executable = pluginbuild.Runtime(b)
	}
	l, err := plugin.Open(lib, o)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// BenchmarkSink is one Consume of a batch of n messages through the discard sink.
func BenchmarkSink(b *testing.B) {
	lib := pluginbuild.GoPlugin(b, "test/plugins/discard", "iggy_connector_discard_sink")
	for _, tr := range transports {
		for _, size := range payloadSizes {
			for _, n := range batches {
				b.Run(fmt.Sprintf("%s/size=%d/batch=%d", tr, size, n), func(b *testing.B) {
					l := open(b, lib, tr)
					ctx := context.Background()
					s, err := l.OpenSink(ctx, "bench", []byte(`{}`))
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close(ctx)
					batch := sinkBatch(n, size)
					b.SetBytes(int64(n * size))
					b.ReportAllocs()
					cpu0 := cpuTime()
					for b.Loop() {
						res, err := s.Consume(ctx, batch)
						if err != nil || len(res.Failures) != 0 {
							b.Fatal(err, res.Failures)
						}
					}
					report(b, n, cpu0)
				})
			}
		}
	}
}

// BenchmarkSource is one Poll of n records (random source, zero_cost generator, records of 1 KB)
// plus its Commit and ReleasePoll (the result's memory is reused by the next poll, as in the
// runtime's source pipeline).
func BenchmarkSource(b *testing.B) {
	lib := pluginbuild.GoPlugin(b, "connectors/sources/random", "iggy_connector_random_source")
	const size = 1024
	text := size - len(`{"id":"00000000-0000-0000-0000-000000000000","title":"Hello","name":"World","text":""}`)
	for _, tr := range transports {
		for _, n := range batches {
			b.Run(fmt.Sprintf("%s/size=%d/batch=%d", tr, size, n), func(b *testing.B) {
				l := open(b, lib, tr)
				ctx := context.Background()
				cfg := fmt.Sprintf(`{"interval":"0","messages_range":[%d,%d],"payload_size":%d,"generator":"zero_cost"}`, n, n, text)
				src, err := l.OpenSource(ctx, "bench", []byte(cfg), nil)
				if err != nil {
					b.Fatal(err)
				}
				defer src.Close(ctx)
				b.SetBytes(int64(n * size))
				b.ReportAllocs()
				cpu0 := cpuTime()
				for b.Loop() {
					r, err := src.Poll(ctx)
					if err != nil || len(r.Messages) != n || len(r.Messages[0].Payload) != size {
						b.Fatalf("poll: %v, %d messages", err, len(r.Messages))
					}
					if err := src.Commit(ctx, r.BatchID); err != nil {
						b.Fatal(err)
					}
					src.ReleasePoll(r) // as the runtime's source does once a batch is sent
				}
				report(b, n, cpu0)
			})
		}
	}
}

// sinkBatch builds n messages of size bytes (at least 8) as the runtime hands them to a sink.
func sinkBatch(n, size int) *abi.SinkBatch {
	b := &abi.SinkBatch{Stream: "bench", Topic: "t", PartitionID: 1, CurrentOffset: uint64(n) - 1, Schema: abi.SchemaRaw,
		Messages: make([]abi.Message, n)}
	for i := range b.Messages {
		p := make([]byte, max(size, 8))
		binary.LittleEndian.PutUint64(p, uint64(i))
		b.Messages[i] = abi.Message{ID: abi.IDFromUint64s(1, uint64(i)), Offset: uint64(i), Checksum: uint64(i) * 31,
			Timestamp: 1_700_000_000_000_000 + uint64(i), OriginTimestamp: 1_700_000_000_000_000, Payload: p}
	}
	return b
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func report(b *testing.B, n int, cpu0 time.Duration) {
	msgs := float64(b.N) * float64(n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/msgs, "ns/message")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/msgs, "cpu-ns/message")
}
