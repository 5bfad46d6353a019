// Command faulty is a test-only sink plugin that misbehaves on request, to test the runtime's
// isolation: on_consume = "ok" (write everything), "panic" (panic inside Consume), "exit" (os.Exit
// inside Consume: the whole process dies), "retry" (a retryable error), "fail_odd" (a permanent
// failure for every odd index); crash_payload limits that to batches holding a message with exactly
// that payload. panic_on_open panics inside Open. print_stdout writes a line to
// standard output on every Consume (to prove it cannot corrupt the process transport's frames).
//
//	go build -buildmode=c-shared -o libiggy_connector_faulty_sink.so .
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

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
}

// Validate names the bad field.
func (c *Config) Validate() error {
	switch c.OnConsume {
	case "ok", "panic", "exit", "retry", "fail_odd":
		return nil
	}
	return sdk.FieldErrorf("on_consume", "must be one of ok, panic, exit, retry, fail_odd; got %q", c.OnConsume)
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
