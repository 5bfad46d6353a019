package sdk

import (
	"context"
	"time"
)

// Sleep waits d, or less when ctx is done first; it returns ctx's error in that case (and at once
// when d is not positive), nil after the full wait. Connectors use it for their retry and poll
// delays so that a stop (the runtime cancels the call's context) never waits a delay out.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
