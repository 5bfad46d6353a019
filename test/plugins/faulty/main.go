// Command faulty is a test-only sink plugin that misbehaves on request, to test the runtime's
// isolation and delivery guarantees: on_consume = "ok" (write everything), "panic" (panic inside
// Consume), "exit" (os.Exit inside Consume: the whole process dies), "retry" (a retryable error),
// "fail_odd" (a permanent failure for every odd index); crash_payload limits that to batches holding a
// message with exactly that payload. panic_on_open panics inside Open. print_stdout writes a line to
// standard output on every Consume (to prove it cannot corrupt the process transport's frames).
//
// For the end-to-end tests (test/e2e) it can also record what it "wrote": with output set, every
// call appends a JSON line {"call":n,...} and every written message a JSON line {"msg":...} to that
// file, synced before Consume returns, so a test reads exactly what the sink reported written even
// after a kill -9. Failure modes for those tests: fail_retryable_calls (the first N calls fail
// retryably), fail_until_file (calls fail retryably while the file is absent),
// fail_permanent_offsets (those messages fail permanently, the others are written), retry_offsets
// (those messages are reported retryable, the others are written — a partial result; with
// retry_until_file only while that file is absent), sleep_ms (sleep inside every call, after
// recording it), sleep_after_ms (sleep after recording what was written, before returning) and
// exit_after_calls (os.Exit in call N+1 of an instance, before writing).
//
//	go build -buildmode=c-shared -o libiggy_connector_faulty_sink.so .
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/sdk"
	"github.com/iggy-go/connectors/sdk/export"
)

// Config of the faulty sink.
type Config struct {
	OnConsume   string `json:"on_consume" default:"\"ok\"" desc:"ok, panic, exit, retry or fail_odd"`
	ExitCode    int    `json:"exit_code" default:"3"`
	PanicOnOpen bool   `json:"panic_on_open" default:"false"`
	PrintStdout bool   `json:"print_stdout" default:"false"`
	// CrashPayload, when set, limits on_consume to batches containing a message with exactly this
	// payload; other batches are written.
	CrashPayload string `json:"crash_payload" default:"\"\""`
	// BackgroundLog starts a goroutine at Open that logs "tick" every 50 ms until Close, to test
	// that records written between calls reach the runtime (periodic drain).
	BackgroundLog bool `json:"background_log" default:"false"`

	// Output, when set, is a file the sink appends JSON lines to: one per call and one per written
	// message (see Record), synced before Consume returns. With output set, on_consume,
	// crash_payload and print_stdout are not used; the keys below are.
	Output string `json:"output" default:"\"\"" desc:"file recording calls and written messages"`
	// FailRetryableCalls makes the first N calls of an instance return a retryable error.
	FailRetryableCalls int `json:"fail_retryable_calls" default:"0"`
	// FailUntilFile makes every call return a retryable error while this file does not exist.
	FailUntilFile string `json:"fail_until_file" default:"\"\""`
	// FailPermanentOffsets are offsets whose messages are reported as permanent per-message failures.
	FailPermanentOffsets []uint64 `json:"fail_permanent_offsets" default:"[]"`
	// RetryOffsets are offsets whose messages are reported as retryable per-message failures (not
	// written), while the others of the call are written: a partial result.
	RetryOffsets []uint64 `json:"retry_offsets" default:"[]"`
	// RetryUntilFile limits retry_offsets to calls made while this file does not exist.
	RetryUntilFile string `json:"retry_until_file" default:"\"\""`
	// SleepMs sleeps inside every call (after recording the call, before writing).
	SleepMs int `json:"sleep_ms" default:"0"`
	// SleepAfterMs sleeps inside every call after the written messages are recorded, before
	// returning: a crash then leaves messages written but not committed.
	SleepAfterMs int `json:"sleep_after_ms" default:"0"`
	// ExitAfterCalls > 0 calls os.Exit(exit_code) in call N+1 of an instance, before writing.
	ExitAfterCalls int `json:"exit_after_calls" default:"0"`
}

// Validate names the bad field.
func (c *Config) Validate() error {
	switch c.OnConsume {
	case "ok", "panic", "exit", "retry", "fail_odd":
	default:
		return sdk.FieldErrorf("on_consume", "must be one of ok, panic, exit, retry, fail_odd; got %q", c.OnConsume)
	}
	for name, v := range map[string]int{"fail_retryable_calls": c.FailRetryableCalls,
		"sleep_ms": c.SleepMs, "sleep_after_ms": c.SleepAfterMs, "exit_after_calls": c.ExitAfterCalls} {
		if v < 0 {
			return sdk.FieldErrorf(name, "must not be negative, got %d", v)
		}
	}
	return nil
}

// Record is one line of the output file: a call (Call set) or a written message (Msg set).
type Record struct {
	Call *CallRecord `json:"call,omitempty"`
	Msg  *MsgRecord  `json:"msg,omitempty"`
}

// CallRecord describes one Consume call as it started.
type CallRecord struct {
	N        int    `json:"n"` // call number of this instance, from 1
	Pid      int    `json:"pid"`
	Stream   string `json:"stream"`
	Topic    string `json:"topic"`
	First    uint64 `json:"first"`
	Last     uint64 `json:"last"`
	Messages int    `json:"messages"`
	// ok, retryable (whole call), partial (some messages retryable), failures (some permanent),
	// sleep (recorded before sleeping; a second record follows unless the call never returned)
	Outcome string `json:"outcome"`
}

// MsgRecord is a written message.
type MsgRecord struct {
	Stream    string            `json:"stream"`
	Topic     string            `json:"topic"`
	Partition uint32            `json:"partition"`
	Offset    uint64            `json:"offset"`
	ID        string            `json:"id"`
	Schema    string            `json:"schema"`
	Payload   []byte            `json:"payload"`
	Headers   map[string]string `json:"headers,omitempty"` // string-keyed headers; values of other kinds as hex
}

var outMu sync.Mutex // instances of one library may share the output file

// record appends lines to the output file and syncs it.
func (s *sink) record(recs []Record) error {
	if s.cfg.Output == "" || len(recs) == 0 {
		return nil
	}
	var buf []byte
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		buf = append(append(buf, b...), '\n')
	}
	outMu.Lock()
	defer outMu.Unlock()
	f, err := os.OpenFile(s.cfg.Output, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func msgRecord(b *sdk.SinkBatch, m *sdk.Message) *MsgRecord {
	r := &MsgRecord{Stream: b.Stream, Topic: b.Topic, Partition: b.PartitionID, Offset: m.Offset,
		ID: fmt.Sprintf("%x", m.ID[:]), Schema: string(b.Schema), Payload: m.Payload}
	for _, h := range m.Headers {
		if r.Headers == nil {
			r.Headers = map[string]string{}
		}
		v := string(h.Value)
		if h.ValueKind != abi.HeaderString {
			v = fmt.Sprintf("%x", h.Value)
		}
		r.Headers[string(h.Key)] = v
	}
	return r
}

// consumeRecording implements the output-file modes.
func (s *sink) consumeRecording(b *sdk.SinkBatch) (sdk.Result, error) {
	call := &CallRecord{N: s.n, Pid: os.Getpid(), Stream: b.Stream, Topic: b.Topic, Messages: len(b.Messages)}
	if len(b.Messages) > 0 {
		call.First, call.Last = b.Messages[0].Offset, b.Messages[len(b.Messages)-1].Offset
	}
	if s.cfg.ExitAfterCalls > 0 && s.n > s.cfg.ExitAfterCalls {
		os.Exit(s.cfg.ExitCode)
	}
	if s.n <= s.cfg.FailRetryableCalls || (s.cfg.FailUntilFile != "" && !exists(s.cfg.FailUntilFile)) {
		call.Outcome = "retryable"
		if err := s.record([]Record{{Call: call}}); err != nil {
			return sdk.Result{}, err
		}
		return sdk.Result{}, sdk.Retryable(fmt.Errorf("faulty sink: call %d fails retryably", s.n))
	}
	if s.cfg.SleepMs > 0 {
		sc := *call
		sc.Outcome = "sleep"
		if err := s.record([]Record{{Call: &sc}}); err != nil {
			return sdk.Result{}, err
		}
		time.Sleep(time.Duration(s.cfg.SleepMs) * time.Millisecond)
	}
	var res sdk.Result
	recs := []Record{{Call: call}}
	holding := len(s.cfg.RetryOffsets) > 0 && (s.cfg.RetryUntilFile == "" || !exists(s.cfg.RetryUntilFile))
	call.Outcome = "ok"
	for i := range b.Messages {
		m := &b.Messages[i]
		switch {
		case holding && slices.Contains(s.cfg.RetryOffsets, m.Offset):
			call.Outcome = "partial"
			res.Failures = append(res.Failures, sdk.Failure{Index: i,
				Err: sdk.Retryable(fmt.Errorf("faulty sink: offset %d not written yet", m.Offset))})
		case slices.Contains(s.cfg.FailPermanentOffsets, m.Offset):
			if call.Outcome == "ok" {
				call.Outcome = "failures"
			}
			res.Failures = append(res.Failures, sdk.Failure{Index: i,
				Err: fmt.Errorf("faulty sink: offset %d rejected", m.Offset)})
		default:
			recs = append(recs, Record{Msg: msgRecord(b, m)})
		}
	}
	if err := s.record(recs); err != nil {
		return sdk.Result{}, err
	}
	if s.cfg.SleepAfterMs > 0 {
		time.Sleep(time.Duration(s.cfg.SleepAfterMs) * time.Millisecond)
	}
	return res, nil
}

type sink struct {
	cfg  Config
	env  sdk.Env
	n    int
	stop chan struct{}
}

func (s *sink) Open(context.Context) error {
	if s.cfg.PanicOnOpen {
		panic("faulty sink: panic_on_open")
	}
	if s.cfg.BackgroundLog {
		s.stop = make(chan struct{})
		go func() {
			t := time.NewTicker(50 * time.Millisecond)
			defer t.Stop()
			for i := 1; ; i++ {
				select {
				case <-s.stop:
					return
				case <-t.C:
					s.env.Logger.Info("tick", "i", i)
				}
			}
		}()
	}
	return nil
}

func (s *sink) Close(context.Context) error {
	if s.stop != nil {
		close(s.stop)
	}
	return nil
}

func (s *sink) Consume(_ context.Context, b *sdk.SinkBatch) (sdk.Result, error) {
	s.n++
	if s.cfg.Output != "" {
		return s.consumeRecording(b)
	}
	if s.cfg.PrintStdout {
		fmt.Printf("faulty sink instance %d: batch %d with %d messages\n", s.env.Instance, s.n, len(b.Messages))
	}
	mode := s.cfg.OnConsume
	if s.cfg.CrashPayload != "" {
		hit := false
		for _, m := range b.Messages {
			hit = hit || string(m.Payload) == s.cfg.CrashPayload
		}
		if !hit {
			mode = "ok"
		}
	}
	switch mode {
	case "panic":
		var m map[string]int
		m["boom"]++ // a real runtime panic: assignment to entry in nil map
	case "exit":
		os.Exit(s.cfg.ExitCode)
	case "retry":
		return sdk.Result{}, sdk.Retryable(errors.New("faulty sink: try again later"))
	case "fail_odd":
		var r sdk.Result
		for i := 1; i < len(b.Messages); i += 2 {
			r.Failures = append(r.Failures, sdk.Failure{Index: i, Err: fmt.Errorf("odd index %d rejected", i)})
		}
		return r, nil
	}
	s.env.Logger.Info("consumed", "messages", len(b.Messages), "batch", s.n)
	return sdk.Result{}, nil
}

func init() {
	export.Register(sdk.NewSink(sdk.Info{Name: "faulty", Version: "0.1.0", Description: "Test sink that fails on request"},
		func(cfg *Config, env sdk.Env) (sdk.Sink, error) { return &sink{cfg: *cfg, env: env}, nil }))
}

func main() {}
