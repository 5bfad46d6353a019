// Package backoff computes retry delays: exponential growth from an initial delay, capped, with
// random jitter so that many retrying clients do not synchronise. It is used by every retry loop of
// the runtime (plugin calls, Iggy sends and commits, state saves, plugin-process restarts).
package backoff

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// Policy describes a retry schedule. The zero value is not useful; start from Default.
type Policy struct {
	Initial     time.Duration // delay before the first retry
	Max         time.Duration // cap of a single delay
	Multiplier  float64       // growth factor per attempt (>= 1)
	Jitter      float64       // 0..1: each delay is scaled by a random factor in [1-Jitter, 1+Jitter]
	MaxAttempts int           // calls in total (the first try included) before giving up; 0 = unlimited
}

// Default is 100ms doubling up to 30s with 20% jitter, unlimited attempts.
var Default = Policy{Initial: 100 * time.Millisecond, Max: 30 * time.Second, Multiplier: 2, Jitter: 0.2}

// Delay returns the wait before retry number attempt (1-based).
func (p Policy) Delay(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	mult := p.Multiplier
	if mult < 1 {
		mult = 1
	}
	d := float64(p.Initial) * math.Pow(mult, float64(attempt-1))
	if p.Max > 0 && d > float64(p.Max) {
		d = float64(p.Max)
	}
	if p.Jitter > 0 {
		j := min(p.Jitter, 1)
		d *= 1 - j + 2*j*rand.Float64()
	}
	if p.Max > 0 && d > float64(p.Max) {
		d = float64(p.Max)
	}
	return time.Duration(d)
}

// Exhausted reports whether attempt (1-based count of calls already made) reached MaxAttempts.
func (p Policy) Exhausted(attempt int) bool { return p.MaxAttempts > 0 && attempt >= p.MaxAttempts }

// Sleep waits for the delay of attempt or until ctx is done; it returns ctx.Err() in the latter case.
func (p Policy) Sleep(ctx context.Context, attempt int) error { return Wait(ctx, p.Delay(attempt)) }

// Wait waits for d or until ctx is done; it returns ctx.Err() in the latter case.
func Wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Retry calls op until it succeeds, returns an error for which retryable is false, the policy is
// exhausted, or ctx is done. onRetry, if not nil, is told about every failed attempt before the wait.
// It returns op's last error (or ctx.Err() when cancelled while waiting).
func (p Policy) Retry(ctx context.Context, op func(ctx context.Context) error, retryable func(error) bool,
	onRetry func(attempt int, err error, wait time.Duration)) error {
	for attempt := 1; ; attempt++ {
		err := op(ctx)
		if err == nil || !retryable(err) || p.Exhausted(attempt) {
			return err
		}
		if ctx.Err() != nil {
			return err
		}
		wait := p.Delay(attempt)
		if onRetry != nil {
			onRetry(attempt, err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}
