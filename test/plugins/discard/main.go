// Command discard is a test-only sink plugin that drops every message. With verify it checks each
// payload against the pattern the tests generate (8-byte little-endian offset, then byte(offset+i)
// filler) and reports a permanent "mismatch" failure for every message that differs, so a test can
// prove that no byte was lost or changed at the boundary. gc_every forces a garbage collection of the
// plugin's Go runtime every N batches. With retain the sink is not an sdk.BatchBorrower: it keeps
// every batch until the next Consume and verifies it again then (reporting "retained" failures),
// proving that what a non-borrowing sink is given stays intact after the runtime reused its memory.
//
//	go build -buildmode=c-shared -o libiggy_connector_discard_sink.so .
package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"

	"github.com/iggy-go/connectors/sdk"
	"github.com/iggy-go/connectors/sdk/export"
)

// Config of the discard sink.
type Config struct {
	Verify  bool `json:"verify" default:"false" desc:"check every payload against the test pattern"`
	GCEvery int  `json:"gc_every" default:"0" desc:"run runtime.GC every N batches (0 = never)"`
	Retain  bool `json:"retain" default:"false" desc:"keep each batch and verify it again at the next Consume (not a BatchBorrower)"`
}

// retaining is the discard sink with retain: it keeps the previous batch. It holds the sink as a
// field (embedding would promote BorrowsBatch and make it a BatchBorrower).
type retaining struct {
	sink sink
	prev []sdk.Message
}

func (r *retaining) Open(ctx context.Context) error  { return r.sink.Open(ctx) }
func (r *retaining) Close(ctx context.Context) error { return r.sink.Close(ctx) }

func (r *retaining) Consume(ctx context.Context, b *sdk.SinkBatch) (sdk.Result, error) {
	var res sdk.Result
	for i := range r.prev {
		if err := Check(&r.prev[i]); err != nil {
			res.Failures = append(res.Failures, sdk.Failure{Index: 0, Err: fmt.Errorf("retained: %w", err)})
			break
		}
	}
	r.prev = b.Messages
	more, err := r.sink.Consume(ctx, b)
	res.Failures = append(res.Failures, more.Failures...)
	return res, err
}

type sink struct {
	cfg     Config
	batches int
}

// BorrowsBatch: the sink keeps nothing of a batch after Consume (sdk.BatchBorrower).
func (s *sink) BorrowsBatch() {}

func (s *sink) Open(context.Context) error  { return nil }
func (s *sink) Close(context.Context) error { return nil }

func (s *sink) Consume(_ context.Context, b *sdk.SinkBatch) (sdk.Result, error) {
	s.batches++
	if s.cfg.GCEvery > 0 && s.batches%s.cfg.GCEvery == 0 {
		runtime.GC()
	}
	if !s.cfg.Verify {
		return sdk.Result{}, nil
	}
	var res sdk.Result
	for i := range b.Messages {
		if err := Check(&b.Messages[i]); err != nil {
			res.Failures = append(res.Failures, sdk.Failure{Index: i, Err: err})
		}
	}
	return res, nil
}

// Check verifies one message against the test pattern.
func Check(m *sdk.Message) error {
	p := m.Payload
	if len(p) < 8 || binary.LittleEndian.Uint64(p) != m.Offset {
		return fmt.Errorf("mismatch: payload does not start with offset %d", m.Offset)
	}
	for i := 8; i < len(p); i++ {
		if p[i] != byte(m.Offset+uint64(i)) {
			return fmt.Errorf("mismatch: offset %d byte %d is %#x", m.Offset, i, p[i])
		}
	}
	return nil
}

func init() {
	export.Register(sdk.NewSink(sdk.Info{Name: "discard", Version: "0.1.0", Description: "Test sink that drops (and optionally verifies) messages"},
		func(cfg *Config, _ sdk.Env) (sdk.Sink, error) {
			if cfg.Retain {
				return &retaining{sink: sink{cfg: *cfg}}, nil
			}
			return &sink{cfg: *cfg}, nil
		}))
}

func main() {}
