package bench

import (
	"context"
	"fmt"
	"time"
)

// SoakRate is the soak's load: the random source (zero_cost, 1 KB records) producing
// SoakBatch messages every SoakInterval to a topic the discard sink reads in the same runtime.
const (
	SoakBatch    = 200
	SoakInterval = 100 * time.Millisecond
)

// soakSourceTOML is sourceTOML at the soak's rate.
func soakSourceTOML(plugin, topic string) string {
	return fmt.Sprintf(`type = "source"
key = "soak_source"
enabled = true
version = 0
name = "soak source"
path = %q

[[streams]]
stream = %q
topic = %q
schema = "json"
batch_length = %d

[plugin_config]
interval = %q
messages_range = [%d, %d]
payload_size = %d
generator = "zero_cost"
`, plugin, benchStream, topic, SoakBatch, SoakInterval.String(), SoakBatch, SoakBatch, ZeroCostTextSize(MessageSize))
}

// Soak runs one runtime with a rate-limited source and a sink on the same topic for d, sampling its
// memory every every, and compares the largest RSS of the last minute with that of the minute after
// the first minute (the warm-up). d must be at least three minutes.
func (h *Harness) Soak(ctx context.Context, d, every time.Duration) (*Soak, error) {
	if d < 3*time.Minute {
		return nil, fmt.Errorf("soak duration %v: at least 3m (a warm-up minute, a reference minute, a last minute)", d)
	}
	s := &Soak{Started: time.Now(), Machine: DescribeMachine(), Duration: d,
		Rate: fmt.Sprintf("%d messages of %d bytes every %v (%d messages/s), produced and consumed by the same runtime",
			SoakBatch, MessageSize, SoakInterval, int(float64(SoakBatch)/SoakInterval.Seconds()))}
	name := h.nextName("soak")
	part, err := h.createTopic(ctx, name)
	if err != nil {
		return nil, err
	}
	defer h.deleteTopic(ctx, name)
	p, err := h.startRuntime(name, map[string]string{
		"source": soakSourceTOML(h.plugin("random_source"), name),
		"sink":   sinkTOML(h.plugin("discard_sink"), "soak_sink", name, name, HeadlineBatch, false),
	}, "")
	if err != nil {
		return nil, err
	}
	defer p.Kill()
	progress := h.groupProgress(name, name, part)
	start := time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for time.Since(start) < d {
		select {
		case <-tick.C:
		case <-p.Done():
			return nil, fmt.Errorf("the soak runtime exited after %v (%v); log tail:\n%s", time.Since(start).Round(time.Second), p.Err(), p.LogTail(3000))
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		ps, err := ReadProc(p.Pid())
		if err != nil {
			return nil, err
		}
		n, err := progress(ctx)
		if err != nil {
			return nil, err
		}
		at := time.Since(start)
		s.Samples = append(s.Samples, SoakSample{At: at, RSS: ps.RSS, HWM: ps.HWM, CPU: ps.CPU, Messages: n})
		h.log.Info("soak", "at", at.Round(time.Second), "rss_mb", ps.RSS>>20, "messages", n)
	}
	s.EarlyRSS, s.LateRSS, s.Growth = SoakGrowth(s.Samples, d)
	if len(s.Samples) > 0 {
		s.Messages = s.Samples[len(s.Samples)-1].Messages
	}
	if s.Messages == 0 {
		return nil, fmt.Errorf("the soak sink committed nothing in %v", d)
	}
	return s, stopRuntime(p)
}

// SoakGrowth returns the largest RSS of minute two (the reference, after a warm-up minute), the
// largest of the last minute, and the relative growth between them.
func SoakGrowth(samples []SoakSample, d time.Duration) (early, late uint64, growth float64) {
	for _, s := range samples {
		if s.At >= time.Minute && s.At < 2*time.Minute {
			early = max(early, s.RSS)
		}
		if s.At >= d-time.Minute {
			late = max(late, s.RSS)
		}
	}
	if early == 0 {
		return early, late, 0
	}
	return early, late, float64(late)/float64(early) - 1
}
