package random

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/sdk"
)

// BenchmarkGenerate measures what the source costs per message, as the runtime sees it: Poll
// (records generated) and the SDK's encoding of the batch (abi.AppendPollResult, what the exported
// poll does before it returns), batches of 1000 records with a 1 KB text field (the benchmarks' and
// the comparison's message). cpu-s/1M is the process's CPU time (user + system, the garbage
// collector included) per million messages.
func BenchmarkGenerate(b *testing.B) {
	for _, gen := range []string{"random", "random_per_char", "zero_cost"} {
		b.Run(gen, func(b *testing.B) {
			cfg := gen
			if gen == "random_per_char" {
				cfg = "random"
			}
			s := newSource(b, fmt.Sprintf(`{"interval":"0","messages_range":[1000,1000],"payload_size":1000,"generator":%q}`, cfg), nil)
			poll := s.Poll
			if gen == "random_per_char" {
				poll = perCharPoll(s)
			}
			var buf []byte
			var id uint64
			before := cpuTime()
			for b.Loop() {
				batch, err := poll(context.Background())
				if err != nil || len(batch.Messages) != 1000 {
					b.Fatal(len(batch.Messages), err)
				}
				id++
				buf = abi.AppendPollResult(buf[:0], &abi.PollResult{BatchID: id, Schema: batch.Schema, Messages: batch.Messages, State: batch.State})
			}
			b.ReportMetric((cpuTime()-before).Seconds()*1e6/float64(b.N*1000), "cpu-s/1M")
			b.SetBytes(int64(len(buf)))
		})
	}
}

// cpuTime is the CPU time the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perCharPoll is the random generator as it was before (one bounded draw per character, a string
// and a record allocated per message), for A/B in one run.
func perCharPoll(s *Source) func(context.Context) (sdk.Batch, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	return func(context.Context) (sdk.Batch, error) {
		msgs := make([]sdk.SourceMessage, 1000)
		for i := range msgs {
			t := make([]byte, s.cfg.PayloadSize)
			for j := range t {
				t[j] = alnum[rng.IntN(len(alnum))]
			}
			id := abi.IDFromUint64s(rng.Uint64(), rng.Uint64())
			msgs[i].Payload = Record(id, string(t))
		}
		state, _ := sdk.EncodeState(State{MessagesProduced: 1})
		return sdk.Batch{Schema: abi.SchemaJSON, Messages: msgs, State: state}, nil
	}
}

// BenchmarkRandomText: the random text alone, 1000 characters.
func BenchmarkRandomText(b *testing.B) {
	s := newSource(b, `{"interval":"0"}`, nil)
	dst := make([]byte, 1000, 1000+textSlack)
	b.Run("6bit", func(b *testing.B) {
		before := cpuTime()
		for b.Loop() {
			s.randomText(dst)
		}
		b.ReportMetric(float64((cpuTime()-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
	// per_char is the generator before (one bounded draw per character), for A/B in one run.
	b.Run("per_char", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		before := cpuTime()
		for b.Loop() {
			for i := range dst {
				dst[i] = alnum[rng.IntN(len(alnum))]
			}
		}
		b.ReportMetric(float64((cpuTime()-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
}
