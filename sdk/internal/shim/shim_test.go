package shim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/sdk"
)

type testConfig struct {
	Mode  string `json:"mode" default:"\"ok\""`
	Limit int    `json:"limit" default:"1"`
}

func (c *testConfig) Validate() error {
	if c.Limit < 1 {
		return sdk.FieldErrorf("limit", "must be at least 1, got %d", c.Limit)
	}
	return nil
}

type testSink struct {
	cfg  testConfig
	env  sdk.Env
	kept []*sdk.SinkBatch
}

func (s *testSink) Open(context.Context) error {
	switch s.cfg.Mode {
	case "open_unreachable":
		return errors.New("connection refused")
	case "open_permanent":
		return sdk.Permanent(errors.New("table is read-only"))
	}
	return nil
}
func (s *testSink) Close(context.Context) error { return nil }
func (s *testSink) Consume(_ context.Context, b *sdk.SinkBatch) (sdk.Result, error) {
	s.kept = append(s.kept, b)
	switch s.cfg.Mode {
	case "panic":
		panic(fmt.Sprintf("boom with %d messages", len(b.Messages)))
	case "fail":
		return sdk.Result{}, errors.New("write timeout")
	case "failures":
		return sdk.Result{Failures: []sdk.Failure{{Index: 0, Err: errors.New("bad row")}, {Index: 2, Err: sdk.Retryable(errors.New("lock"))}}}, nil
	case "bad_index":
		return sdk.Result{Failures: []sdk.Failure{{Index: 9, Err: errors.New("x")}}}, nil
	case "coded":
		return sdk.Result{}, &abi.Error{Code: "quota_exceeded", Message: "slow down", Retryable: true}
	}
	s.env.Logger.Info("consumed", "n", len(b.Messages))
	return sdk.Result{}, nil
}

type borrowingSink struct{ testSink }

func (*borrowingSink) BorrowsBatch() {}

var sinkPlugin = sdk.NewSink(sdk.Info{Name: "t", Version: "1"}, func(cfg *testConfig, env sdk.Env) (sdk.Sink, error) {
	if cfg.Mode == "borrow" {
		return &borrowingSink{testSink{cfg: *cfg, env: env}}, nil
	}
	return &testSink{cfg: *cfg, env: env}, nil
})

func decodeErr(t *testing.T, out []byte) abi.Error {
	t.Helper()
	var e abi.Error
	if err := abi.Unmarshal(out, &e); err != nil {
		t.Fatalf("error record %x: %v", out, err)
	}
	return e
}

func batchBytes(payloads ...string) []byte {
	b := &abi.SinkBatch{Stream: "s", Topic: "t", Schema: abi.SchemaText}
	for i, p := range payloads {
		b.Messages = append(b.Messages, abi.Message{Offset: uint64(i), Payload: []byte(p)})
	}
	return abi.AppendSinkBatch(nil, b)
}

func TestSinkErrorMapping(t *testing.T) {
	cases := []struct {
		mode      string
		status    abi.Status
		code      string
		retryable bool
		contains  string
	}{
		{"panic", abi.StatusPermanent, abi.CodePanic, false, "boom with 3 messages"},
		{"fail", abi.StatusRetryable, abi.CodeWriteFailed, true, "write timeout"},
		{"coded", abi.StatusRetryable, "quota_exceeded", true, "slow down"},
		{"bad_index", abi.StatusPermanent, abi.CodeInternal, false, "index 9 of a batch of 3"},
	}
	for i, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			s := New(sinkPlugin, sdk.NewLogBuffer(16, "t"))
			id := uint32(i + 1)
			if st, out := s.SinkOpen(id, []byte(`{"mode":"`+c.mode+`"}`)); st != abi.StatusOK {
				t.Fatalf("open: %s %x", st, out)
			}
			st, out := s.SinkConsume(id, batchBytes("a", "b", "c"))
			e := decodeErr(t, out)
			if st != c.status || e.Code != c.code || e.Retryable != c.retryable || !strings.Contains(e.Message, c.contains) {
				t.Fatalf("consume = %s %+v", st, e)
			}
			if c.mode == "panic" && !strings.Contains(e.Message, "shim.(*testSink).Consume") {
				t.Fatalf("panic record has no stack: %q", e.Message)
			}
		})
	}
}

func TestSinkFailuresAndLifecycle(t *testing.T) {
	logs := sdk.NewLogBuffer(16, "t")
	s := New(sinkPlugin, logs)
	if st, out := s.SinkOpen(1, []byte(`{"mode":"failures"}`)); st != abi.StatusOK {
		t.Fatal(st, out)
	}
	st, out := s.SinkConsume(1, batchBytes("a", "b", "c"))
	var r abi.SinkResult
	if err := abi.Unmarshal(out, &r); err != nil || st != abi.StatusOK {
		t.Fatal(st, err)
	}
	if len(r.Failures) != 2 || r.Failures[0].Index != 0 || r.Failures[0].Error.Retryable || r.Failures[0].Error.Code != abi.CodeWriteFailed ||
		r.Failures[1].Index != 2 || !r.Failures[1].Error.Retryable {
		t.Fatalf("failures %+v", r.Failures)
	}
	if st, out := s.SinkOpen(1, []byte(`{}`)); st != abi.StatusPermanent || decodeErr(t, out).Code != abi.CodeAlreadyOpen {
		t.Fatalf("second open: %s", st)
	}
	if st, _ := s.SinkClose(1); st != abi.StatusOK {
		t.Fatal(st)
	}
	if st, out := s.SinkConsume(1, batchBytes("a")); st != abi.StatusUnknownInstance || decodeErr(t, out).Code != abi.CodeUnknownInstance {
		t.Fatalf("consume after close: %s", st)
	}
	if st, out := s.SinkConsume(7, []byte{0xff}); st != abi.StatusUnknownInstance {
		t.Fatalf("unknown instance: %s %x", st, out)
	}
	if st, _ := s.SinkOpen(2, []byte(`{}`)); st != abi.StatusOK {
		t.Fatal(st)
	}
	if st, out := s.SinkConsume(2, []byte{0xa1, 0x01}); st != abi.StatusBadInput || decodeErr(t, out).Code != abi.CodeBadInput {
		t.Fatalf("malformed batch: %s", st)
	}
}

func TestOpenErrors(t *testing.T) {
	cases := []struct {
		cfg    string
		status abi.Status
		code   string
		field  string
	}{
		{`{"limit":0}`, abi.StatusPermanent, abi.CodeInvalidConfig, "limit"},
		{`{"limt":3}`, abi.StatusPermanent, abi.CodeInvalidConfig, "limt"},
		{`[1]`, abi.StatusBadInput, abi.CodeBadInput, ""}, // not a JSON object: BAD_INPUT, as in C and Rust
		{`{"mode":"open_unreachable"}`, abi.StatusRetryable, "open_failed", ""},
		{`{"mode":"open_permanent"}`, abi.StatusPermanent, "open_failed", ""},
	}
	s := New(sinkPlugin, sdk.NewLogBuffer(16, "t"))
	for _, c := range cases {
		st, out := s.SinkOpen(1, []byte(c.cfg))
		e := decodeErr(t, out)
		if st != c.status || e.Code != c.code || e.Field != c.field {
			t.Errorf("%s: %s %+v", c.cfg, st, e)
		}
		// A failed open leaves the id free.
		if st, _ := s.SinkOpen(1, []byte(`{}`)); st != abi.StatusOK {
			t.Fatalf("%s: id not released", c.cfg)
		}
		s.SinkClose(1)
	}
	st, out := s.ValidateConfig([]byte(`{"limit":-1}`))
	if e := decodeErr(t, out); st != abi.StatusPermanent || e.Field != "limit" || e.Code != abi.CodeInvalidConfig {
		t.Fatalf("validate: %s %+v", st, e)
	}
	if st, _ := s.SourceOpen(5, []byte(`{}`), nil); st != abi.StatusPermanent {
		t.Fatalf("source open on a sink plugin: %s", st)
	}
}

// TestBorrowingSinkReusesMemory: a BatchBorrower's batches live in reused memory; other sinks keep
// theirs.
func TestBorrowingSinkReusesMemory(t *testing.T) {
	for _, mode := range []string{"ok", "borrow"} {
		s := New(sinkPlugin, sdk.NewLogBuffer(16, "t"))
		s.SinkOpen(1, []byte(`{"mode":"`+mode+`"}`))
		s.SinkConsume(1, batchBytes("first", "x"))
		s.SinkConsume(1, batchBytes("later", "y"))
		var kept []*sdk.SinkBatch
		switch v := s.instances[1].sink.(type) {
		case *testSink:
			kept = v.kept
		case *borrowingSink:
			kept = v.kept
		}
		first := string(kept[0].Messages[0].Payload)
		if mode == "ok" && first != "first" {
			t.Fatalf("a non-borrowing sink's batch changed after Consume: %q", first)
		}
		if mode == "borrow" && first != "later" {
			t.Fatalf("a borrowing sink's batch memory was not reused: %q", first)
		}
	}
}

type seqSource struct {
	n         int
	committed []int
	failAt    int
}

func (s *seqSource) Open(context.Context) error  { return nil }
func (s *seqSource) Close(context.Context) error { return nil }
func (s *seqSource) Poll(context.Context) (sdk.Batch, error) {
	s.n++
	n := s.n
	if n == 2 {
		return sdk.Batch{WaitHint: 1500 * time.Microsecond}, nil // empty, no OnCommit
	}
	return sdk.Batch{Schema: abi.SchemaRaw, Messages: []sdk.SourceMessage{{Payload: []byte{byte(n)}}}, State: []byte{byte(n)},
		OnCommit: func(context.Context) error {
			s.committed = append(s.committed, n)
			if n == s.failAt {
				return errors.New("cannot delete rows")
			}
			return nil
		}}, nil
}

func TestSourceBatchesAndCommits(t *testing.T) {
	src := &seqSource{failAt: 4}
	p := sdk.NewSource(sdk.Info{Name: "seq", Version: "1"}, func(*testConfig, []byte, sdk.Env) (sdk.Source, error) { return src, nil })
	s := New(p, sdk.NewLogBuffer(16, "seq"))
	if st, out := s.SourceOpen(3, []byte(`{}`), nil); st != abi.StatusOK {
		t.Fatal(st, out)
	}
	var results []*abi.PollResult
	for i := 0; i < 5; i++ {
		st, out := s.SourcePoll(3)
		r, err := abi.DecodePollResult(out)
		if st != abi.StatusOK || err != nil {
			t.Fatal(st, err)
		}
		results = append(results, r)
	}
	for i, r := range results {
		if r.BatchID != uint64(i+1) {
			t.Fatalf("batch %d has id %d", i, r.BatchID)
		}
	}
	if results[1].WaitHintMs != 2 || len(results[1].Messages) != 0 || results[0].Schema != abi.SchemaRaw || results[1].Schema != abi.SchemaJSON {
		t.Fatalf("empty batch %+v / %+v", results[1], results[0])
	}
	if st, _ := s.SourceCommit(3, 3); st != abi.StatusOK || fmt.Sprint(src.committed) != "[1 3]" {
		t.Fatalf("cumulative commit: %s %v", st, src.committed)
	}
	st, out := s.SourceCommit(3, 5)
	if e := decodeErr(t, out); st != abi.StatusPermanent || e.Code != "commit_failed" || !strings.Contains(e.Message, "batch 4: cannot delete rows") {
		t.Fatalf("failing commit: %s %+v", st, e)
	}
	if fmt.Sprint(src.committed) != "[1 3 4 5]" {
		t.Fatalf("commits ran %v", src.committed)
	}
	if st, _ := s.SourceCommit(3, 5); st != abi.StatusOK || len(src.committed) != 4 {
		t.Fatal("a commit ran twice")
	}
}

func TestShortStack(t *testing.T) {
	st := ShortStack([]byte("goroutine 1 [running]:\nruntime/debug.Stack()\n\t/x/stack.go:26 +0x5e\npanic({0x1, 0x2})\n\t/x/panic.go:1 +0x1\nmain.f(...)\n\t/src/main.go:10 +0x10\nmain.main()\n\t/src/main.go:3 +0x20\n"), 8)
	if st != "  main.f (/src/main.go:10)\n  main.main (/src/main.go:3)" {
		t.Fatalf("%q", st)
	}
}
