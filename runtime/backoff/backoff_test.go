package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelayGrowsAndCaps(t *testing.T) {
	p := Policy{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond, Multiplier: 2}
	cases := []struct {
		attempt int
		want    time.Duration
	}{{0, 10 * time.Millisecond}, {1, 10 * time.Millisecond}, {2, 20 * time.Millisecond}, {3, 40 * time.Millisecond},
		{4, 80 * time.Millisecond}, {5, 100 * time.Millisecond}, {50, 100 * time.Millisecond}}
	for _, c := range cases {
		if got := p.Delay(c.attempt); got != c.want {
			t.Errorf("Delay(%d) = %v, want %v", c.attempt, got, c.want)
		}
	}
}

func TestJitterStaysInBounds(t *testing.T) {
	p := Policy{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 1, Jitter: 0.2}
	seen := map[time.Duration]bool{}
	for i := 0; i < 1000; i++ {
		d := p.Delay(1)
		if d < 80*time.Millisecond || d > 120*time.Millisecond {
			t.Fatalf("delay %v outside [80ms,120ms]", d)
		}
		seen[d] = true
	}
	if len(seen) < 10 {
		t.Fatalf("jitter produced only %d distinct delays", len(seen))
	}
}

func TestRetry(t *testing.T) {
	errTransient, errFatal := errors.New("transient"), errors.New("fatal")
	fast := Policy{Initial: time.Millisecond, Max: time.Millisecond, Multiplier: 1}
	cases := []struct {
		name      string
		policy    Policy
		results   []error
		wantCalls int
		wantErr   error
	}{
		{"succeeds first", fast, []error{nil}, 1, nil},
		{"succeeds after transient", fast, []error{errTransient, errTransient, nil}, 3, nil},
		{"stops at permanent", fast, []error{errTransient, errFatal, nil}, 2, errFatal},
		{"gives up when exhausted", Policy{Initial: time.Millisecond, Multiplier: 1, MaxAttempts: 2},
			[]error{errTransient, errTransient, errTransient, nil}, 2, errTransient},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls, retries := 0, 0
			err := c.policy.Retry(context.Background(), func(context.Context) error {
				calls++
				return c.results[calls-1]
			}, func(err error) bool { return err == errTransient }, func(int, error, time.Duration) { retries++ })
			if !errors.Is(err, c.wantErr) || calls != c.wantCalls || retries != calls-1 && c.wantErr != errTransient {
				t.Fatalf("err=%v calls=%d retries=%d, want err=%v calls=%d", err, calls, retries, c.wantErr, c.wantCalls)
			}
		})
	}
}

func TestRetryStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := Policy{Initial: time.Hour, Multiplier: 1}
	done := make(chan error)
	go func() {
		done <- p.Retry(ctx, func(context.Context) error { return errors.New("x") }, func(error) bool { return true }, nil)
	}()
	time.Sleep(10 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("want the last error after cancellation")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Retry did not return after cancel")
	}
}
