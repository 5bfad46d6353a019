package bench

import (
	"math"
	"slices"
	"time"
)

// Median returns the median of xs (the mean of the two middle values for an even count), NaN for
// none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// MinMax returns the smallest and largest of xs (NaN, NaN for none).
func MinMax(xs []float64) (lo, hi float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	return slices.Min(xs), slices.Max(xs)
}

// Measurement is what one run of one side of a scenario moved and cost, over its measuring window.
type Measurement struct {
	Messages uint64        `json:"messages"` // messages moved in the window
	Wall     time.Duration `json:"wall_ns"`  // window length
	CPU      time.Duration `json:"cpu_ns"`   // CPU time (user + system) of the measured process in the window
	PeakRSS  uint64        `json:"peak_rss"` // VmHWM of the measured process at the end, bytes
	Reported bool          `json:"reported"` // measured by the process itself rather than watched from outside
	Extra    float64       `json:"extra"`    // scenario-specific value (e.g. ns/message of a Go benchmark)
	Allocs   float64       `json:"allocs"`   // allocations per message (Go benchmarks)
	Note     string        `json:"note,omitempty"`
}

// Rate is messages per second.
func (m Measurement) Rate() float64 {
	if m.Wall <= 0 {
		return 0
	}
	return float64(m.Messages) / m.Wall.Seconds()
}

// CPUPerMillion is CPU seconds per million messages.
func (m Measurement) CPUPerMillion() float64 {
	if m.Messages == 0 {
		return math.NaN()
	}
	return m.CPU.Seconds() / float64(m.Messages) * 1e6
}

// Pair is one interleaved run of both sides.
type Pair struct {
	Ours     Measurement `json:"ours"`
	Baseline Measurement `json:"baseline"`
}

// Summary condenses the pairs of one scenario (at one batch size).
type Summary struct {
	OursRate, BaseRate       float64 // medians, messages/s
	Ratio                    float64 // median of the per-pair ratios ours/baseline
	RatioMin, RatioMax       float64
	OursCPUPerM, BaseCPUPerM float64 // medians, CPU-s per 1M messages
	OursRSS, BaseRSS         uint64  // largest peak RSS seen, bytes
	Runs                     int
}

// Summarize computes medians and the median of the per-pair throughput ratios (pairs were measured
// back to back, so their ratio cancels most of the machine's drift).
func Summarize(pairs []Pair) Summary {
	var ours, base, ratios, ocpu, bcpu []float64
	var s Summary
	for _, p := range pairs {
		o, b := p.Ours.Rate(), p.Baseline.Rate()
		ours, base = append(ours, o), append(base, b)
		if b > 0 {
			ratios = append(ratios, o/b)
		}
		ocpu, bcpu = append(ocpu, p.Ours.CPUPerMillion()), append(bcpu, p.Baseline.CPUPerMillion())
		s.OursRSS, s.BaseRSS = max(s.OursRSS, p.Ours.PeakRSS), max(s.BaseRSS, p.Baseline.PeakRSS)
	}
	s.OursRate, s.BaseRate, s.Ratio = Median(ours), Median(base), Median(ratios)
	s.RatioMin, s.RatioMax = MinMax(ratios)
	s.OursCPUPerM, s.BaseCPUPerM = Median(ocpu), Median(bcpu)
	s.Runs = len(pairs)
	return s
}
