package plugin

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

var transports = []Transport{TransportInProcess, TransportProcess}

func batchOf(payloads ...string) *abi.SinkBatch {
	b := &abi.SinkBatch{Stream: "s", Topic: "t", PartitionID: 1, CurrentOffset: 100, Schema: abi.SchemaText}
	for i, p := range payloads {
		b.Messages = append(b.Messages, abi.Message{ID: abi.IDFromUint64s(0, uint64(i+1)), Offset: uint64(10 + i), Payload: []byte(p)})
	}
	return b
}

// TestConfigValidationNamesField: a plugin config that fails validation is refused by ValidateConfig
// and by OpenSink with an error naming the library and the field.
func TestConfigValidationNamesField(t *testing.T) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			lib, err := Open(stdoutSink(t), Options{Transport: tr, Logger: discardLogger()})
			if err != nil {
				t.Fatal(err)
			}
			if err := lib.ValidateConfig([]byte(`{"print_payload": true}`)); err != nil {
				t.Fatalf("valid config refused: %v", err)
			}
			for _, cfg := range []string{`{"print_payload": "yes"}`, `{"print_paylod": true}`} {
				field := "print_payload"
				if strings.Contains(cfg, "paylod") {
					field = "print_paylod"
				}
				check := func(what string, err error) {
					var ce *CallError
					if !errors.As(err, &ce) || ce.Field() != field || ce.Record.Code != abi.CodeInvalidConfig || ce.Retryable() {
						t.Fatalf("%s(%s): err = %v, want invalid_config for field %q", what, cfg, err, field)
					}
					if !strings.Contains(err.Error(), lib.Path()) || !strings.Contains(err.Error(), field) {
						t.Fatalf("%s: error %q does not name the library and the field", what, err)
					}
				}
				check("ValidateConfig", lib.ValidateConfig([]byte(cfg)))
				_, err := lib.OpenSink(context.Background(), "k", []byte(cfg))
				check("OpenSink", err)
			}
		})
	}
}

// TestSinkCallsAndLogs: per-message failures come back by index; plugin logs arrive in slog with the
// connector key; a closed instance is refused.
func TestSinkCallsAndLogs(t *testing.T) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			rec := &recorder{}
			lib, err := Open(faultySink(t), Options{Transport: tr, Logger: slog.New(rec)})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			odd, err := lib.OpenSink(ctx, "odd-"+string(tr), []byte(`{"on_consume":"fail_odd"}`))
			if err != nil {
				t.Fatal(err)
			}
			res, err := odd.Consume(ctx, batchOf("a", "b", "c", "d", "e"))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Failures) != 2 || res.Failures[0].Index != 1 || res.Failures[1].Index != 3 ||
				res.Failures[0].Error.Retryable || res.Failures[0].Error.Message != "odd index 1 rejected" {
				t.Fatalf("failures = %+v", res.Failures)
			}
			ok, err := lib.OpenSink(ctx, "ok-"+string(tr), []byte(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			if ok.ID() == odd.ID() || ok.ID() == 0 {
				t.Fatalf("instance ids %d and %d", ok.ID(), odd.ID())
			}
			if _, err := ok.Consume(ctx, batchOf("x", "y")); err != nil {
				t.Fatal(err)
			}
			logs := rec.find("consumed")
			if len(logs) != 1 || logs[0].attrs["connector"] != "ok-"+string(tr) || logs[0].attrs["messages"] != "2" ||
				logs[0].attrs["target"] != "faulty" || logs[0].level != slog.LevelInfo {
				t.Fatalf("plugin log records = %+v", logs)
			}
			retry, err := lib.OpenSink(ctx, "retry", []byte(`{"on_consume":"retry"}`))
			if err != nil {
				t.Fatal(err)
			}
			_, err = retry.Consume(ctx, batchOf("x"))
			var ce *CallError
			if !errors.As(err, &ce) || !ce.Retryable() || ce.Record.Message != "faulty sink: try again later" || ce.Connector != "retry" {
				t.Fatalf("retryable consume: %v", err)
			}
			for _, s := range []*SinkInstance{odd, ok, retry} {
				if err := s.Close(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := ok.Consume(ctx, batchOf("x")); !errors.Is(err, errClosed) {
				t.Fatalf("consume after close: %v", err)
			}
		})
	}
}

// TestPanicInConsumeIsRecovered: in process, a panicking Consume is a permanent "panic" error with the
// panic value and a stack, and the library keeps serving other instances (and the same one).
func TestPanicInConsumeIsRecovered(t *testing.T) {
	lib, err := Open(faultySink(t), Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bad, err := lib.OpenSink(ctx, "bad", []byte(`{"on_consume":"panic"}`))
	if err != nil {
		t.Fatal(err)
	}
	good, err := lib.OpenSink(ctx, "good", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		_, err := bad.Consume(ctx, batchOf("a"))
		var ce *CallError
		if !errors.As(err, &ce) || ce.Status != abi.StatusPermanent || ce.Record.Code != abi.CodePanic || ce.Retryable() {
			t.Fatalf("panicking consume: %v", err)
		}
		if !strings.Contains(ce.Record.Message, "assignment to entry in nil map") || !strings.Contains(ce.Record.Message, "main.(*sink).Consume") {
			t.Fatalf("panic record lacks the value or the stack: %q", ce.Record.Message)
		}
		if _, err := good.Consume(ctx, batchOf("b", "c")); err != nil {
			t.Fatalf("healthy instance after a panic: %v", err)
		}
	}
	_, err = lib.OpenSink(ctx, "panics-on-open", []byte(`{"panic_on_open":true}`))
	var ce *CallError
	if !errors.As(err, &ce) || ce.Record.Code != abi.CodePanic || !strings.Contains(ce.Record.Message, "panic_on_open") {
		t.Fatalf("panic in open: %v", err)
	}
}

// TestProcessCrashRestarts: under the process transport a plugin that exits the process fails the
// call with a retryable error saying so; the child is restarted, the instance reopened, the next
// call works, and the runtime (this process) survives.
func TestProcessCrashRestarts(t *testing.T) {
	rec := &recorder{}
	lib, err := Open(faultySink(t), Options{Transport: TransportProcess, Logger: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := lib.OpenSink(ctx, "crashy", []byte(`{"on_consume":"exit","exit_code":7,"crash_payload":"die"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Consume(ctx, batchOf("fine")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = s.Consume(ctx, batchOf("a", "die"))
	var ce *CallError
	if !errors.As(err, &ce) || !ce.Retryable() || ce.Record.Code != CodeProcessDied || !strings.Contains(ce.Record.Message, "exit status 7") {
		t.Fatalf("crashing consume: %v", err)
	}
	if _, err := s.Consume(ctx, batchOf("after")); err != nil {
		t.Fatalf("consume after restart: %v", err)
	}
	if lib.Restarts() != 1 || s.Restarts() != 1 {
		t.Fatalf("restarts = %d (instance %d), want 1", lib.Restarts(), s.Restarts())
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("restart after %v: no backoff", d)
	}
	if len(rec.find("plugin process died")) != 1 || len(rec.find("plugin process restarted")) != 1 {
		t.Fatalf("death and restart not logged: %+v", rec.recs)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestProcessAbortInC: a C plugin that abort()s is reported with the signal, and restarted.
func TestProcessAbortInC(t *testing.T) {
	lib, err := Open(cabortSink(t), Options{Transport: TransportProcess, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := lib.OpenSink(ctx, "c", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		_, err = s.Consume(ctx, batchOf("x"))
		var ce *CallError
		if !errors.As(err, &ce) || !ce.Retryable() || !strings.Contains(ce.Record.Message, "SIGABRT") {
			t.Fatalf("abort %d: %v", i, err)
		}
	}
	if lib.Restarts() != 1 {
		t.Fatalf("restarts = %d, want 1", lib.Restarts())
	}
	_ = s.Close(ctx)
}

// TestSourceCommitAndResume: batches continue across polls, commit runs the plugin's OnCommit in
// order, and a source reopened with the committed state resumes after it; under the process
// transport a killed child is restarted from the latest committed state.
func TestSourceCommitAndResume(t *testing.T) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			lib, err := Open(seqSource(t), Options{Transport: tr, Logger: discardLogger(),
				RestartBackoff: fastBackoff})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			src, err := lib.OpenSource(ctx, "seq", []byte(`{"batch_size":3,"payload_size":12}`), nil)
			if err != nil {
				t.Fatal(err)
			}
			next := uint64(0)
			poll := func() *abi.PollResult { t.Helper(); return pollSeq(t, src, &next) }
			r1, r2 := poll(), poll()
			if r1.BatchID != 1 || r2.BatchID != 2 {
				t.Fatalf("batch ids %d, %d", r1.BatchID, r2.BatchID)
			}
			if err := src.Commit(ctx, r2.BatchID); err != nil { // cumulative: commits 1 and 2
				t.Fatal(err)
			}
			r3 := poll()
			if tr == TransportProcess {
				pid := src.be.(*procBackend).child.pid()
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				_, err := src.Poll(ctx)
				var ce *CallError
				if !errors.As(err, &ce) || ce.Record.Code != CodeProcessDied || !strings.Contains(ce.Record.Message, "signal killed") {
					t.Fatalf("poll of a killed child: %v", err)
				}
				// The restarted child resumes from the committed state (6), not from after r3.
				next = 6
				r4 := poll()
				if r4.BatchID != r3.BatchID+1 || lib.Restarts() != 1 {
					t.Fatalf("after restart: batch %d, restarts %d", r4.BatchID, lib.Restarts())
				}
				if err := src.Commit(ctx, r4.BatchID); err != nil {
					t.Fatal(err)
				}
			} else if err := src.Commit(ctx, r3.BatchID); err != nil {
				t.Fatal(err)
			}
			if err := src.Close(ctx); err != nil {
				t.Fatal(err)
			}
			state, _ := src.currentState()
			again, err := lib.OpenSource(ctx, "seq", []byte(`{"batch_size":3,"payload_size":12}`), state)
			if err != nil {
				t.Fatal(err)
			}
			next = 9
			r, err := again.Poll(ctx)
			if err != nil {
				t.Fatal(err)
			}
			checkSeq(t, r, &next)
			_ = again.Close(ctx)
		})
	}
}

// pollSeq polls src and verifies the seq-source batch continues at *next.
func pollSeq(t *testing.T, src *SourceInstance, next *uint64) *abi.PollResult {
	t.Helper()
	r, err := src.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkSeq(t, r, next)
	return r
}

// checkSeq verifies a seq-source batch continues at *next.
func checkSeq(t *testing.T, r *abi.PollResult, next *uint64) {
	t.Helper()
	if r.Schema != abi.SchemaRaw || len(r.Messages) == 0 || len(r.State) == 0 {
		t.Fatalf("poll result %+v", r)
	}
	for _, m := range r.Messages {
		k := *next
		if m.ID == nil || *m.ID != abi.IDFromUint64s(0, k) || binary.LittleEndian.Uint64(m.Payload) != k || string(m.Key) != "k"+itoa(k) {
			t.Fatalf("message %d: id %v key %q payload %x", k, m.ID, m.Key, m.Payload)
		}
		for j := 8; j < len(m.Payload); j++ {
			if m.Payload[j] != byte(k+uint64(j)) {
				t.Fatalf("message %d: payload byte %d = %#x", k, j, m.Payload[j])
			}
		}
		*next++
	}
}

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b []byte
	for v > 0 {
		b = append([]byte{byte('0' + v%10)}, b...)
		v /= 10
	}
	return string(b)
}

// TestBackgroundLogsAreDrained: records a plugin's own goroutine writes between calls reach the
// runtime's log within about a second, under the connector key, with both transports.
func TestBackgroundLogsAreDrained(t *testing.T) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			rec := &recorder{}
			lib, err := Open(faultySink(t), Options{Transport: tr, Logger: slog.New(rec)})
			if err != nil {
				t.Fatal(err)
			}
			s, err := lib.OpenSink(context.Background(), "ticker-"+string(tr), []byte(`{"background_log":true}`))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			deadline := time.Now().Add(3 * time.Second)
			for len(rec.find("tick")) < 5 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			ticks := rec.find("tick")
			if len(ticks) < 5 {
				t.Fatalf("%d tick records after 3 s without calls", len(ticks))
			}
			if ticks[0].attrs["connector"] != "ticker-"+string(tr) || ticks[0].attrs["i"] != "1" {
				t.Fatalf("tick record %+v", ticks[0])
			}
		})
	}
}

// TestProcessCallCancelled: under the process transport a call that hangs is abandoned when its
// context ends (the child is killed), and the next call runs in a restarted child.
func TestProcessCallCancelled(t *testing.T) {
	lib, err := Open(pluginbuild.CVariant(t, "HANG", "chang"), Options{Transport: TransportProcess, Logger: discardLogger(), RestartBackoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	s, err := lib.OpenSink(context.Background(), "hangs", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.Consume(ctx, batchOf("wait"))
	var ce *CallError
	if !errors.As(err, &ce) || !errors.Is(err, context.DeadlineExceeded) || !ce.Retryable() || time.Since(start) > 5*time.Second {
		t.Fatalf("hanging call: %v after %v", err, time.Since(start))
	}
	if _, err := s.Consume(context.Background(), batchOf("fine")); err != nil {
		t.Fatalf("call after the cancelled one: %v", err)
	}
	if s.Restarts() != 1 {
		t.Fatalf("restarts = %d", s.Restarts())
	}
	_ = s.Close(context.Background())
}

// TestSourceReleasePoll: a released result's message bytes are reused by a later poll, a result not
// yet released is never overwritten, and the state of a released result stays intact.
func TestSourceReleasePoll(t *testing.T) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			lib, err := Open(seqSource(t), Options{Transport: tr, Logger: discardLogger()})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			src, err := lib.OpenSource(ctx, "seq", []byte(`{"batch_size":3,"payload_size":12}`), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close(ctx)
			next := uint64(0)
			poll := func() *abi.PollResult { t.Helper(); return pollSeq(t, src, &next) }
			held := poll()
			heldCopy := cloneMessages(held)
			first := poll()
			firstState := append([]byte(nil), first.State...)
			firstPayload := &first.Messages[0].Payload[0]
			src.ReleasePoll(first)
			src.ReleasePoll(first) // twice is harmless
			second := poll()
			if &second.Messages[0].Payload[0] != firstPayload {
				t.Errorf("the released slab was not reused by the next poll")
			}
			if !bytes.Equal(first.State, firstState) {
				t.Errorf("state of a released result changed: %q, was %q", first.State, firstState)
			}
			for range 3 { // polls and releases around the held result never touch it
				src.ReleasePoll(poll())
			}
			for i, m := range held.Messages {
				if !bytes.Equal(m.Payload, heldCopy[i]) {
					t.Fatalf("unreleased result overwritten: message %d is %q, was %q", i, m.Payload, heldCopy[i])
				}
			}
		})
	}
}

func cloneMessages(r *abi.PollResult) [][]byte {
	out := make([][]byte, len(r.Messages))
	for i, m := range r.Messages {
		out[i] = append([]byte(nil), m.Payload...)
	}
	return out
}
