package plugintest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/runtime/plugin"
)

// rustChecker verifies the Rust counter source's batches: JSON objects whose "n" field counts up
// from the resumed state without gaps.
type rustChecker struct{ next uint64 }

func (c *rustChecker) check(r *abi.PollResult) error {
	for _, m := range r.Messages {
		var v struct {
			N *uint64 `json:"n"`
		}
		if err := json.Unmarshal(m.Payload, &v); err != nil || v.N == nil {
			return &checkError{"rust payload is not {\"n\": ...}: " + string(m.Payload)}
		}
		if *v.N != c.next {
			return &checkError{"rust counter gap: got n=" + itoa(*v.N) + ", want " + itoa(c.next)}
		}
		c.next++
	}
	return nil
}

type checkError struct{ s string }

func (e *checkError) Error() string { return e.s }

func itoa(v uint64) string { b, _ := json.Marshal(v); return string(b) }

const rustConfig = `{"batch_size": 5}`

func checkRustCounter(t *testing.T, ctx context.Context, lib *plugin.Library) {
	t.Helper()
	src, err := lib.OpenSource(ctx, "rust-counter", []byte(rustConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &rustChecker{}
	var last *abi.PollResult
	for i := 0; i < 3; i++ {
		r, err := src.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			t.Fatalf("rust poll %d: empty batch", i)
		}
		if err := c.check(r); err != nil {
			t.Fatal(err)
		}
		last = r
	}
	if err := src.Commit(ctx, last.BatchID); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := lib.OpenSource(ctx, "rust-counter", []byte(rustConfig), last.State)
	if err != nil {
		t.Fatal(err)
	}
	r, err := again.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.check(r); err != nil {
		t.Fatalf("after resuming from state: %v", err)
	}
	_ = again.Close(ctx)
}
