package bench

import (
	"context"
	"fmt"
	"time"
)

// Window says how a run is measured from outside: progress (messages produced or committed, read
// from Iggy) is sampled with the measured process's /proc counters every SampleEvery. The window
// opens Warmup after progress first moves and closes Duration later, or earlier when progress
// reaches End (the prefilled data ran out; 0 = no end).
type Window struct {
	Warmup, Duration time.Duration
	End              uint64
	SampleEvery      time.Duration // default 10ms
	// Stall fails the run when progress stops moving for this long, before or inside the window
	// (default 30s).
	Stall time.Duration
	// Check, if set, is called every half second; an error fails the run at once (e.g. the runtime
	// logged an error).
	Check func() error
}

type sample struct {
	at       time.Time
	progress uint64
	proc     ProcSample
}

// Measure watches p until the window closes and returns what moved inside it. It fails when the
// process exits or when progress stalls. When the data runs out before the window opens (a machine
// faster than the prefill was sized for), the run is measured from the first message on, with a
// note: speed never fails a run.
func Measure(ctx context.Context, p *Proc, progress func(context.Context) (uint64, error), w Window) (Measurement, error) {
	if w.SampleEvery <= 0 {
		w.SampleEvery = 10 * time.Millisecond
	}
	if w.Stall <= 0 {
		w.Stall = 30 * time.Second
	}
	take := func() (sample, error) {
		n, err := progress(ctx)
		if err != nil {
			return sample{}, fmt.Errorf("reading progress from Iggy: %w", err)
		}
		ps, err := ReadProc(p.Pid())
		if err != nil {
			return sample{}, fmt.Errorf("%s: %w", p.Name, err)
		}
		return sample{at: ps.At, progress: n, proc: ps}, nil
	}
	first, err := take()
	if err != nil {
		return Measurement{}, err
	}
	var (
		started     *sample // the first sample after progress moved
		open        *sample // window start
		last        = first
		lastMove    = first.at
		tick        = time.NewTicker(w.SampleEvery)
		startValue  = first.progress
		windowShort bool
	)
	defer tick.Stop()
	lastCheck := time.Now()
	for {
		select {
		case <-ctx.Done():
			return Measurement{}, ctx.Err()
		case <-p.Done():
			return Measurement{}, fmt.Errorf("%s exited during the run (%v); log tail:\n%s", p.Name, p.Err(), p.LogTail(3000))
		case <-tick.C:
		}
		s, err := take()
		if err != nil {
			return Measurement{}, err
		}
		if w.Check != nil && s.at.Sub(lastCheck) >= 500*time.Millisecond {
			lastCheck = s.at
			if err := w.Check(); err != nil {
				return Measurement{}, err
			}
		}
		if s.progress != last.progress {
			lastMove = s.at
		} else if s.at.Sub(lastMove) > w.Stall {
			return Measurement{}, fmt.Errorf("%s made no progress for %v (at %d messages); log tail:\n%s", p.Name, w.Stall, s.progress, p.LogTail(3000))
		}
		last = s
		if started == nil {
			if s.progress > startValue {
				st := s
				started = &st
			}
			continue
		}
		reachedEnd := w.End > 0 && s.progress >= w.End
		if open == nil {
			if reachedEnd {
				m := Measurement{Messages: s.progress - started.progress, Wall: s.at.Sub(started.at), CPU: s.proc.CPU - started.proc.CPU,
					PeakRSS: s.proc.HWM, Note: fmt.Sprintf("the data (%d messages) ran out during the warm-up: measured from the first message", w.End)}
				if m.Messages == 0 || m.Wall <= 0 {
					return m, fmt.Errorf("%s: the data (%d messages) ran out before anything could be measured", p.Name, w.End)
				}
				return m, nil
			}
			if s.at.Sub(started.at) >= w.Warmup {
				o := s
				open = &o
			}
			continue
		}
		if s.at.Sub(open.at) >= w.Duration || reachedEnd {
			windowShort = reachedEnd && s.at.Sub(open.at) < w.Duration/2
			m := Measurement{Messages: s.progress - open.progress, Wall: s.at.Sub(open.at), CPU: s.proc.CPU - open.proc.CPU,
				PeakRSS: s.proc.HWM}
			if windowShort {
				m.Note = fmt.Sprintf("data ran out after %v of a %v window", m.Wall.Round(time.Millisecond), w.Duration)
			}
			if m.Messages == 0 {
				return m, fmt.Errorf("%s moved no message in the measuring window", p.Name)
			}
			return m, nil
		}
	}
}
