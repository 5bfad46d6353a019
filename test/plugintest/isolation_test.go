package plugintest

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/runtime/backoff"
	"github.com/iggy-go/connectors/runtime/plugin"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

// TestProcessIsolation runs plugins under the process transport with the real iggy-connectors binary
// (CGO_ENABLED=0) as plugin host: a Go plugin calling os.Exit and the C plugin calling abort() kill
// only their child; the call fails with a retryable error naming the cause, the child is restarted,
// the next call works, and another instance of the same library is not disturbed.
func TestProcessIsolation(t *testing.T) {
	ctx := context.Background()
	opts := plugin.Options{Transport: plugin.TransportProcess, Executable: pluginbuild.Runtime(t), Logger: discard(),
		RestartBackoff: backoff.Policy{Initial: 20 * time.Millisecond, Max: time.Second, Multiplier: 2}}

	t.Run("go os.Exit", func(t *testing.T) {
		lib := open(t, goFaulty(t), opts)
		crashy, err := lib.OpenSink(ctx, "crashy", []byte(`{"on_consume":"exit","exit_code":4,"crash_payload":"die"}`))
		if err != nil {
			t.Fatal(err)
		}
		neighbour, err := lib.OpenSink(ctx, "neighbour", []byte(`{"print_stdout":true}`))
		if err != nil {
			t.Fatal(err)
		}
		expectDeath(t, crashy, batchOf("ok", "die"), "exit status 4")
		if _, err := neighbour.Consume(ctx, batchOf("a", "b")); err != nil {
			t.Fatalf("neighbour instance after a crash: %v", err)
		}
		if res, err := crashy.Consume(ctx, batchOf("ok again")); err != nil || len(res.Failures) != 0 {
			t.Fatalf("consume after restart: %+v %v", res, err)
		}
		if lib.Restarts() != 1 {
			t.Fatalf("restarts = %d, want 1", lib.Restarts())
		}
		_ = crashy.Close(ctx)
		_ = neighbour.Close(ctx)
	})

	t.Run("C abort", func(t *testing.T) {
		lib := open(t, cFileSink(t), opts)
		path := filepath.Join(t.TempDir(), "out.txt")
		cfg, _ := json.Marshal(map[string]string{"path": path, "abort_on_payload": "boom"})
		s, err := lib.OpenSink(ctx, "c-abort", cfg)
		if err != nil {
			t.Fatal(err)
		}
		expectDeath(t, s, batchOf("x", "boom"), "SIGABRT")
		if res, err := s.Consume(ctx, batchOf("fine")); err != nil || len(res.Failures) != 0 {
			t.Fatalf("consume after restart: %+v %v", res, err)
		}
		if lib.Restarts() != 1 {
			t.Fatalf("restarts = %d, want 1", lib.Restarts())
		}
		_ = s.Close(ctx)
	})
}

func batchOf(payloads ...string) *abi.SinkBatch {
	b := &abi.SinkBatch{Stream: "s", Topic: "t", PartitionID: 1, Schema: abi.SchemaText}
	for i, p := range payloads {
		b.Messages = append(b.Messages, abi.Message{Offset: uint64(i), Payload: []byte(p)})
	}
	return b
}

func expectDeath(t *testing.T, s *plugin.SinkInstance, b *abi.SinkBatch, cause string) {
	t.Helper()
	_, err := s.Consume(context.Background(), b)
	var ce *plugin.CallError
	if !errors.As(err, &ce) || !ce.Retryable() || ce.Record.Code != plugin.CodeProcessDied || !strings.Contains(err.Error(), cause) {
		t.Fatalf("crashing call: %v; want a retryable %s error mentioning %q", err, plugin.CodeProcessDied, cause)
	}
}
