package plugintest

import (
	"context"
	"fmt"
	"testing"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/runtime/plugin"
)

// rustChecker verifies the Rust counter source's batches exactly: message n (1, 2, ... without gaps,
// resumed from the state) has id n and payload {"n":n,"text":"rust-<n>"}.
type rustChecker struct{ next uint64 }

const rustConfig = `{"prefix": "rust-", "batch_size": 5}`

func (c *rustChecker) check(r *abi.PollResult) error {
	if c.next == 0 {
		c.next = 1
	}
	if r.Schema != abi.SchemaJSON || len(r.State) == 0 {
		return fmt.Errorf("rust batch %d: schema %q, %d state bytes", r.BatchID, r.Schema, len(r.State))
	}
	for _, m := range r.Messages {
		want := fmt.Sprintf(`{"n":%d,"text":"rust-%d"}`, c.next, c.next)
		if string(m.Payload) != want || m.ID == nil || *m.ID != abi.IDFromUint64s(0, c.next) {
			return fmt.Errorf("rust message: id %v payload %s, want id %d payload %s", m.ID, m.Payload, c.next, want)
		}
		c.next++
	}
	return nil
}

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
		if len(r.Messages) != 5 {
			t.Fatalf("rust poll %d: %d messages, want 5", i, len(r.Messages))
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
