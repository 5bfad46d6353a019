package pgutil

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/iggy-go/connectors/sdk"
)

func TestRetryDo(t *testing.T) {
	cases := []struct {
		name      string
		attempts  int
		errs      []error // f's results, call by call (nil = success); the last one repeats
		wantCalls int
		wantWaits []time.Duration
		wantWhat  string // what giveUp was called with ("" = not called)
		wantErr   string // SQLSTATE of the error giveUp got
	}{
		{"success at once", 3, []error{nil}, 1, nil, "", ""},
		{"transient then success", 3, []error{pgErr("40001"), pgErr("08006"), nil}, 3,
			[]time.Duration{10 * time.Millisecond, 20 * time.Millisecond}, "", ""},
		{"transient until the attempts are used up", 3, []error{pgErr("40P01")}, 3,
			[]time.Duration{10 * time.Millisecond, 20 * time.Millisecond}, "write (attempt 3 of 3)", "40P01"},
		{"permanent at once", 5, []error{pgErr("42601")}, 1, nil, "write (attempt 1 of 5)", "42601"},
		{"transient then data error", 5, []error{pgErr("57P01"), pgErr("22P02")}, 2,
			[]time.Duration{10 * time.Millisecond}, "write (attempt 2 of 5)", "22P02"},
		{"zero attempts mean one", 0, []error{pgErr("40001")}, 1, nil, "write (attempt 1 of 1)", "40001"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var calls, onRetry int
			var waits []time.Duration
			var gaveUp string
			r := Retry{Attempts: c.attempts, Delay: 10 * time.Millisecond,
				Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil },
				OnRetry: func(attempt, attempts int, d time.Duration, err error) {
					onRetry++
					if attempt != calls || attempts != max(1, c.attempts) || d != time.Duration(attempt)*10*time.Millisecond || err == nil {
						t.Errorf("OnRetry(%d, %d, %v, %v) after call %d", attempt, attempts, d, err, calls)
					}
				}}
			err := r.Do(context.Background(), "write", func(context.Context) error {
				calls++
				return c.errs[min(calls, len(c.errs))-1]
			}, func(what string, err error) error {
				gaveUp = what
				if SQLState(err) != c.wantErr {
					t.Errorf("giveUp got %v, want SQLSTATE %s", err, c.wantErr)
				}
				return fmt.Errorf("gave up: %w", err)
			})
			if calls != c.wantCalls || !reflect.DeepEqual(waits, c.wantWaits) || onRetry != len(c.wantWaits) || gaveUp != c.wantWhat {
				t.Errorf("calls %d waits %v onRetry %d giveUp %q; want %d %v %d %q", calls, waits, onRetry, gaveUp,
					c.wantCalls, c.wantWaits, len(c.wantWaits), c.wantWhat)
			}
			if (err == nil) != (c.wantWhat == "") {
				t.Errorf("Do = %v", err)
			}
		})
	}
}

// ExtraTransient adds SQLSTATEs to those retried.
func TestRetryDoExtraTransient(t *testing.T) {
	calls := 0
	r := Retry{Attempts: 4, ExtraTransient: []string{"55006"},
		Sleep: func(context.Context, time.Duration) error { return nil }}
	_ = r.Do(context.Background(), "x", func(context.Context) error { calls++; return pgErr("55006") },
		func(_ string, err error) error { return err })
	if calls != 4 {
		t.Fatalf("55006 in ExtraTransient: %d calls, want 4", calls)
	}
}

// A context ended during the wait stops Do with a retryable error and no giveUp; one ended before a
// failed call's check gives up at once.
func TestRetryDoContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	r := Retry{Attempts: 5, Delay: time.Hour}
	start := time.Now()
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	err := r.Do(ctx, "poll", func(context.Context) error { calls++; return pgErr("40001") },
		func(string, error) error { t.Error("giveUp called"); return nil })
	if calls != 1 || !errors.Is(err, context.Canceled) || !sdk.IsRetryable(err, false) || time.Since(start) > 10*time.Second {
		t.Fatalf("calls %d err %v after %v", calls, err, time.Since(start))
	}

	var what string
	err = r.Do(ctx, "poll", func(context.Context) error { return pgErr("40001") },
		func(w string, err error) error { what = w; return err })
	if what != "poll (attempt 1 of 5)" || SQLState(err) != "40001" {
		t.Fatalf("with a done context: giveUp %q, err %v", what, err)
	}
}
