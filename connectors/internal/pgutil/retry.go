package pgutil

import (
	"context"
	"fmt"
	"time"

	"github.com/iggy-go/connectors/sdk"
)

// Retry is the retry policy the connectors' max_retries and retry_delay settings describe: up to
// Attempts calls of a statement, waiting Delay × n after the n-th failure, for as long as the error
// is transient and the context is live. A Retry is a value; Do may be called concurrently.
type Retry struct {
	Attempts int           // calls at most; values below 1 mean 1
	Delay    time.Duration // the linear back-off's step
	// ExtraTransient are SQLSTATEs retried besides those IsTransient always retries.
	ExtraTransient []string
	// Sleep waits d or until ctx is done, then returns ctx's error; nil means sdk.Sleep. Tests replace
	// it to record the waits.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnRetry, when set, is called before each wait with the failed call's number, Attempts (at
	// least 1), the wait and the error (the connectors log a warning there).
	OnRetry func(attempt, attempts int, delay time.Duration, err error)
}

// Do calls f until it returns nil or has to stop, and returns nil after a successful call. When f
// fails with an error that is not transient, when the attempts are used up or when ctx is done, Do
// returns giveUp(what + " (attempt n of N)", err) with f's last error: the caller words and
// classifies it (see Classify). When ctx ends a wait between two calls, Do returns
// sdk.Retryable(ctx.Err()): nothing failed for good, the runtime may call again.
func (r Retry) Do(ctx context.Context, what string, f func(ctx context.Context) error, giveUp func(what string, err error) error) error {
	attempts := max(1, r.Attempts)
	sleep := r.Sleep
	if sleep == nil {
		sleep = sdk.Sleep
	}
	for a := 1; ; a++ {
		err := f(ctx)
		if err == nil {
			return nil
		}
		if !IsTransient(err, r.ExtraTransient...) || a >= attempts || ctx.Err() != nil {
			return giveUp(fmt.Sprintf("%s (attempt %d of %d)", what, a, attempts), err)
		}
		d := r.Delay * time.Duration(a)
		if r.OnRetry != nil {
			r.OnRetry(a, attempts, d, err)
		}
		if err := sleep(ctx, d); err != nil {
			return sdk.Retryable(err)
		}
	}
}
