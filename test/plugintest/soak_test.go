package plugintest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/plugin"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

// soakTarget is one instance under soak with its own verification state; mu makes a call and its
// check atomic.
type soakTarget struct {
	name string
	mu   sync.Mutex
	step func(r *rand.Rand) error // one call + exact check
	done func() error             // final check
	n    atomic.Int64
}

// TestSoak: 12 instances over 4 distinct Go plugin libraries plus the C and Rust plugins (two of
// them under the process transport, hosted by the real iggy-connectors binary), called by 8
// goroutines concurrently while host and plugins force garbage collections; every result is checked
// exactly. IGGY_SOAK_SECONDS sets the duration (default 20, at most 60).
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test skipped in -short mode")
	}
	dur := 20 * time.Second
	if s, err := strconv.Atoi(os.Getenv("IGGY_SOAK_SECONDS")); err == nil && s > 0 {
		dur = min(time.Duration(s)*time.Second, 60*time.Second)
	}
	ctx := context.Background()
	logs := newLogCounter()
	opts := plugin.Options{Logger: slog.New(logs)}
	stdoutLib, discardLib := open(t, goStdout(t), opts), open(t, goDiscard(t), opts)
	randomLib, seqLib := open(t, goRandom(t), opts), open(t, goSeq(t), opts)
	cLib, rustLib := open(t, cFileSink(t), opts), open(t, rustCounter(t), opts)
	popts := opts
	popts.Transport, popts.Executable = plugin.TransportProcess, pluginbuild.Runtime(t)
	procDiscardLib, procSeqLib := open(t, goDiscard(t), popts), open(t, goSeq(t), popts)

	var targets []*soakTarget
	for i := 0; i < 2; i++ {
		key := fmt.Sprintf("stdout-%d", i)
		s, err := stdoutLib.OpenSink(ctx, key, []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		next := uint64(0)
		tg := &soakTarget{name: key}
		tg.step = func(r *rand.Rand) error {
			b := patternBatch(next, 1+r.IntN(100), 8+r.IntN(200))
			res, err := s.Consume(ctx, b)
			if err != nil || len(res.Failures) != 0 {
				return fmt.Errorf("%+v %v", res, err)
			}
			next += uint64(len(b.Messages))
			return nil
		}
		tg.done = func() error {
			// Every batch was logged under the connector key (drained within a few seconds).
			want := int(tg.n.Load())
			for deadline := time.Now().Add(5 * time.Second); logs.count(key, "received messages") < want && time.Now().Before(deadline); {
				time.Sleep(100 * time.Millisecond)
			}
			if got := logs.count(key, "received messages"); got != want {
				return fmt.Errorf("%d batch log records, want %d", got, want)
			}
			return s.Close(ctx)
		}
		targets = append(targets, tg)
	}
	for i := 0; i < 3; i++ {
		key, lib := fmt.Sprintf("discard-%d", i), discardLib
		if i == 2 {
			key, lib = "discard-process", procDiscardLib
		}
		s, err := lib.OpenSink(ctx, key, []byte(`{"verify":true,"gc_every":5}`))
		if err != nil {
			t.Fatal(err)
		}
		next := uint64(1 << 40)
		targets = append(targets, &soakTarget{name: key, step: func(r *rand.Rand) error {
			b := patternBatch(next, 1+r.IntN(300), 8+r.IntN(300))
			if r.IntN(10) == 0 { // a corrupted message must be reported, by index
				b.Messages[len(b.Messages)/2].Payload[0] ^= 0xff
				res, err := s.Consume(ctx, b)
				if err != nil || len(res.Failures) != 1 || int(res.Failures[0].Index) != len(b.Messages)/2 {
					return fmt.Errorf("corrupted batch: %+v %v", res, err)
				}
			} else if res, err := s.Consume(ctx, b); err != nil || len(res.Failures) != 0 {
				return fmt.Errorf("%+v %v", res, err)
			}
			next += uint64(len(b.Messages))
			return nil
		}, done: func() error { return s.Close(ctx) }})
	}
	for i := 0; i < 2; i++ {
		key := fmt.Sprintf("random-%d", i)
		size := 10 + 50*i
		src, err := randomLib.OpenSource(ctx, key, []byte(fmt.Sprintf(`{"interval":"0","messages_range":[1,60],"payload_size":%d,"generator":"zero_cost"}`, size)), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := zeroCostRecord(size)
		var lastID uint64
		targets = append(targets, &soakTarget{name: key, step: func(r *rand.Rand) error {
			res, err := src.Poll(ctx)
			if err != nil {
				return err
			}
			if res.BatchID != lastID+1 || len(res.Messages) < 1 || len(res.Messages) > 60 {
				return fmt.Errorf("batch %d after %d with %d messages", res.BatchID, lastID, len(res.Messages))
			}
			lastID = res.BatchID
			for _, m := range res.Messages {
				if string(m.Payload) != want {
					return fmt.Errorf("payload %q", m.Payload)
				}
			}
			if r.IntN(3) != 0 { // commits are cumulative: sometimes leave a batch for the next commit
				return src.Commit(ctx, res.BatchID)
			}
			return nil
		}, done: func() error { return src.Close(ctx) }})
	}
	for i := 0; i < 3; i++ {
		key, lib := fmt.Sprintf("seq-%d", i), seqLib
		if i == 2 {
			key, lib = "seq-process", procSeqLib
		}
		src, err := lib.OpenSource(ctx, key, []byte(`{"batch_size":40,"payload_size":24,"gc_every":7}`), nil)
		if err != nil {
			t.Fatal(err)
		}
		next := uint64(0)
		targets = append(targets, &soakTarget{name: key, step: func(r *rand.Rand) error {
			res, err := src.Poll(ctx)
			if err != nil {
				return err
			}
			if err := checkSeq(res, &next); err != nil {
				return err
			}
			return src.Commit(ctx, res.BatchID) // the plugin's OnCommit fails if commits come out of order
		}, done: func() error { return src.Close(ctx) }})
	}
	{
		path := filepath.Join(t.TempDir(), "soak.txt")
		cfg, _ := json.Marshal(map[string]string{"path": path})
		s, err := cLib.OpenSink(ctx, "c-file", cfg)
		if err != nil {
			t.Fatal(err)
		}
		next := uint64(0)
		var want []byte
		targets = append(targets, &soakTarget{name: "c-file", step: func(r *rand.Rand) error {
			b := patternBatch(next, 1+r.IntN(50), 8+r.IntN(64))
			if res, err := s.Consume(ctx, b); err != nil || len(res.Failures) != 0 {
				return fmt.Errorf("%+v %v", res, err)
			}
			want = append(want, fileLines(b)...)
			next += uint64(len(b.Messages))
			return nil
		}, done: func() error {
			if err := s.Close(ctx); err != nil {
				return err
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != string(want) {
				return fmt.Errorf("file differs: %d bytes, want %d (%v)", len(got), len(want), err)
			}
			return nil
		}})
	}
	{
		src, err := rustLib.OpenSource(ctx, "rust-counter", []byte(rustConfig), nil)
		if err != nil {
			t.Fatal(err)
		}
		c := &rustChecker{}
		targets = append(targets, &soakTarget{name: "rust-counter", step: func(r *rand.Rand) error {
			res, err := src.Poll(ctx)
			if err != nil {
				return err
			}
			if err := c.check(res); err != nil {
				return err
			}
			return src.Commit(ctx, res.BatchID)
		}, done: func() error { return src.Close(ctx) }})
	}

	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	var failed atomic.Bool
	errs := make(chan error, 16)
	stopGC := make(chan struct{})
	go func() { // forced GCs in the host
		for {
			select {
			case <-stopGC:
				return
			case <-time.After(20 * time.Millisecond):
				runtime.GC()
			}
		}
	}()
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 42))
			for i := g; time.Now().Before(deadline) && !failed.Load(); i++ {
				tg := targets[r.IntN(len(targets))]
				tg.mu.Lock()
				err := tg.step(r)
				tg.n.Add(1)
				tg.mu.Unlock()
				if err != nil {
					failed.Store(true)
					errs <- fmt.Errorf("%s, call %d: %w", tg.name, tg.n.Load(), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stopGC)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	total := int64(0)
	for _, tg := range targets {
		if err := tg.done(); err != nil {
			t.Errorf("%s: %v", tg.name, err)
		}
		total += tg.n.Load()
		if tg.n.Load() == 0 {
			t.Errorf("%s was never called", tg.name)
		}
	}
	t.Logf("soak: %d calls over %d instances in %v", total, len(targets), dur)
}
