package bench

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
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

// SoakMapsEvery is how often the soak summarises the runtime's memory maps (/proc/<pid>/smaps).
const SoakMapsEvery = time.Minute

// Soak runs one runtime with a rate-limited source and a sink on the same topic for d, sampling its
// RSS every every and summarising its memory maps per mapping kind every SoakMapsEvery (and at the
// end). The verdict compares the largest RSS of the minute after the warm-up (the first quarter of
// d: 15 minutes of an hour) with the largest of the last minute, so it covers the last three
// quarters. d must be at least three minutes. The runtime inherits the harness's environment: the
// memory settings in it (SoakEnvVars, e.g. MALLOC_ARENA_MAX=2 for an A/B soak) are recorded.
func (h *Harness) Soak(ctx context.Context, d, every time.Duration) (*Soak, error) {
	if d < 3*time.Minute {
		return nil, fmt.Errorf("soak duration %v: at least 3m (a warm-up, a reference minute, a last minute)", d)
	}
	s := &Soak{Started: time.Now(), Machine: DescribeMachine(), Duration: d, Warmup: SoakWarmup(d), Env: soakEnv(),
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
	nextMaps := time.Duration(0)
	goStats := NewGoStatsReader(p.Pid())
	for done := false; !done; {
		select {
		case <-tick.C:
		case <-p.Done():
			return nil, fmt.Errorf("the soak runtime exited after %v (%v); log tail:\n%s", time.Since(start).Round(time.Second), p.Err(), p.LogTail(3000))
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		at := time.Since(start)
		done = at >= d
		ps, err := ReadProc(p.Pid())
		if err != nil {
			return nil, err
		}
		n, err := progress(ctx)
		if err != nil {
			return nil, err
		}
		s.Samples = append(s.Samples, SoakSample{At: at, RSS: ps.RSS, HWM: ps.HWM, CPU: ps.CPU, Messages: n})
		if at >= nextMaps || done {
			var heaps []GoHeapStats
			if s.GoStats == "" {
				if heaps, err = goStats.Read(); err != nil {
					s.GoStats = err.Error() // the soak goes on without them
					h.log.Warn("soak: the Go heaps cannot be read", "err", err)
				}
			}
			m, err := readSoakMaps(p.Pid(), at, heaps)
			if err != nil {
				return nil, err
			}
			s.Maps = append(s.Maps, m)
			nextMaps = at.Truncate(SoakMapsEvery) + SoakMapsEvery
		}
		h.log.Info("soak", "at", at.Round(time.Second), "rss_mb", ps.RSS>>20, "messages", n)
	}
	s.Machine.LoadEnd = loadAvg()
	s.EarlyRSS, s.LateRSS, s.Growth = SoakGrowth(s.Samples, d)
	s.Slope = SoakSlope(s.Samples, s.Warmup)
	s.Messages = s.Samples[len(s.Samples)-1].Messages
	if s.Messages == 0 {
		return nil, fmt.Errorf("the soak sink committed nothing in %v", d)
	}
	return s, stopRuntime(p)
}

// SoakEnvVars are the environment variables (or prefixes, ending in "_") that change how the
// runtime's and its plugins' allocators behave; a soak records those it runs with.
var SoakEnvVars = []string{"MALLOC_", "GLIBC_TUNABLES", "GOGC", "GOMEMLIMIT", "GODEBUG"}

func soakEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		for _, v := range SoakEnvVars {
			if k, _, _ := strings.Cut(kv, "="); k == v || (strings.HasSuffix(v, "_") && strings.HasPrefix(k, v)) {
				out = append(out, kv)
				break
			}
		}
	}
	return out
}

// readSoakMaps summarises the memory maps of process pid (naming the Go heaps after heaps, the Go
// runtimes' statistics read just before) and counts its threads.
func readSoakMaps(pid int, at time.Duration, heaps []GoHeapStats) (SoakMaps, error) {
	maps, err := ReadSmaps(pid)
	if err != nil {
		return SoakMaps{}, err
	}
	m := SoakMaps{At: at, Kinds: MapSummary(maps, heaps...), GoHeaps: heaps}
	if tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid)); err == nil {
		m.Threads = len(tasks)
	}
	return m, nil
}

// SoakWarmup is the part of a soak of d that the verdict leaves out: its first quarter.
func SoakWarmup(d time.Duration) time.Duration { return d / 4 }

// SoakGrowth returns the largest RSS of the reference minute (the minute after the warm-up, see
// SoakWarmup), the largest of the last minute, and the relative growth between them.
func SoakGrowth(samples []SoakSample, d time.Duration) (early, late uint64, growth float64) {
	w := SoakWarmup(d)
	for _, s := range samples {
		if s.At >= w && s.At < w+time.Minute {
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

// SoakSlope is the least-squares slope of RSS over time after the warm-up, in bytes per hour
// (0 with fewer than two samples).
func SoakSlope(samples []SoakSample, warmup time.Duration) float64 {
	var n, sx, sy, sxx, sxy float64
	for _, s := range samples {
		if s.At < warmup {
			continue
		}
		x, y := s.At.Hours(), float64(s.RSS)
		n, sx, sy, sxx, sxy = n+1, sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	if n < 2 || n*sxx == sx*sx {
		return 0
	}
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}

// goHeapsAt returns the first memory-map summary at or after at that holds Go heap statistics (the
// last one that does when none is that late).
func (s *Soak) goHeapsAt(at time.Duration) SoakMaps {
	var last SoakMaps
	for _, m := range s.Maps {
		if len(m.GoHeaps) == 0 {
			continue
		}
		last = m
		if m.At >= at {
			return m
		}
	}
	return last
}

// KindGrowth is one mapping kind's RSS at the end of the warm-up and at the end of the soak.
type KindGrowth struct {
	Kind        string
	From, To    uint64
	FromMapping int
	ToMapping   int
}

// MapGrowth compares the first memory-map summary taken at or after the warm-up with the last one,
// kind by kind (a kind missing on one side counts 0 there). from and to are the two summaries' times.
func (s *Soak) MapGrowth() (g []KindGrowth, from, to time.Duration) {
	if len(s.Maps) == 0 {
		return nil, 0, 0
	}
	a := s.Maps[0]
	for _, m := range s.Maps {
		if m.At >= s.Warmup {
			a = m
			break
		}
	}
	z := s.Maps[len(s.Maps)-1]
	idx := map[string]int{}
	add := func(k KindRSS, end bool) {
		i, ok := idx[k.Kind]
		if !ok {
			i = len(g)
			idx[k.Kind] = i
			g = append(g, KindGrowth{Kind: k.Kind})
		}
		if end {
			g[i].To, g[i].ToMapping = k.RSS, k.Mappings
		} else {
			g[i].From, g[i].FromMapping = k.RSS, k.Mappings
		}
	}
	for _, k := range a.Kinds {
		add(k, false)
	}
	for _, k := range z.Kinds {
		add(k, true)
	}
	slices.SortStableFunc(g, func(x, y KindGrowth) int { return kindOrder(x.Kind) - kindOrder(y.Kind) })
	return g, a.At, z.At
}

// SoakChart is the soak chart's file name (bench/soakchart.py draws it next to the report).
const SoakChart = "soak.png"

// soakVerdict judges B6's growth target (unknown without a soak).
func soakVerdict(soak *Soak) Verdict {
	vd := Verdict{Target: fmt.Sprintf("B6 RSS growth over the soak after its warm-up (the last 3/4) ≤ %.0f%%", TargetB6Growth*100)}
	if soak != nil {
		vd.Known, vd.Met = true, soak.Growth <= TargetB6Growth
		vd.Measured = fmt.Sprintf("%+.1f%% over %v after %v", soak.Growth*100, soak.Duration-soak.Warmup, soak.Warmup)
	}
	return vd
}

// RenderSoak writes the soak's part of the report (Markdown, starting with a paragraph): the verdict,
// RSS per minute, the growth per mapping kind and the chart (chart: file name relative to the report,
// "" for none).
func RenderSoak(soak *Soak, chart string) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	v := soakVerdict(soak)
	env := "default allocator settings"
	if len(soak.Env) > 0 {
		env = "`" + strings.Join(soak.Env, " ") + "`"
	}
	w("Soak (`make soak`, %s, %s, %s): the first quarter (%v) is the warm-up; the largest VmRSS of the minute after it\n",
		soak.Started.UTC().Format("2006-01-02 15:04 MST"), soak.Duration, env, soak.Warmup)
	w("is %s, that of the last minute %s: growth **%+.1f%%** over the last %v (target ≤ %.0f%%: **%s**); least-squares slope\n",
		mb(soak.EarlyRSS), mb(soak.LateRSS), soak.Growth*100, soak.Duration-soak.Warmup, TargetB6Growth*100, map[bool]string{true: "met", false: "missed"}[v.Met])
	w("after the warm-up %+.2f MB per hour. %s messages went through (%s). Load average at its start %s, at its end %s.\n",
		soak.Slope/(1<<20), rate(float64(soak.Messages)), soak.Rate, soak.Machine.LoadStart, soak.Machine.LoadEnd)
	if chart != "" {
		w("\n![RSS over the soak and per mapping kind](%s)\n", chart)
	}
	if g, from, to := soak.MapGrowth(); len(g) > 0 {
		w("\nResident memory per mapping kind (`/proc/<pid>/smaps`, every %v), at %v (end of the warm-up) and at %v (end).\n", SoakMapsEvery, from.Round(time.Second), to.Round(time.Second))
		w("Go heaps: one per Go runtime in the process (the runtime's own and one per in-process Go plugin), named after its executable or\n")
		w("library (numbered by address where the runtimes' statistics could not be read).\n\n")
		w("| mapping kind | RSS at %v | RSS at %v | change | mappings |\n|---|---|---|---|---|\n", from.Round(time.Second), to.Round(time.Second))
		var a, z uint64
		for _, k := range g {
			a, z = a+k.From, z+k.To
			w("| %s | %s | %s | %+.2f MB | %d → %d |\n", k.Kind, mb(k.From), mb(k.To), (float64(k.To)-float64(k.From))/(1<<20), k.FromMapping, k.ToMapping)
		}
		w("| total | %s | %s | %+.2f MB | |\n", mb(a), mb(z), (float64(z)-float64(a))/(1<<20))
	}
	if a, z := soak.goHeapsAt(soak.Warmup), soak.goHeapsAt(soak.Duration); len(z.GoHeaps) > 0 {
		w("\nGo runtimes in the process (their heap statistics read from its memory every %v), at %v and at %v:\n\n", SoakMapsEvery,
			a.At.Round(time.Second), z.At.Round(time.Second))
		w("| Go runtime | collections | heap in use | live after the last collection | allocated since the start |\n|---|---|---|---|---|\n")
		for _, e := range z.GoHeaps {
			var f GoHeapStats
			for _, x := range a.GoHeaps {
				if x.Object == e.Object {
					f = x
				}
			}
			w("| %s | %d → %d | %s → %s | %s → %s | %s → %s |\n", e.Object, f.NumGC, e.NumGC, mb(f.HeapInUse), mb(e.HeapInUse),
				mb(f.HeapMarked), mb(e.HeapMarked), mb(f.TotalAlloc), mb(e.TotalAlloc))
		}
	} else if soak.GoStats != "" {
		w("\nThe Go runtimes' heap statistics could not be read: %s.\n", soak.GoStats)
	}
	step := time.Minute // rows of the table
	if soak.Duration > 20*time.Minute {
		step = 5 * time.Minute
	}
	w("\n| minute | VmRSS | VmHWM | messages | threads |\n|---|---|---|---|---|\n")
	next, mi, threads := time.Duration(0), 0, "–"
	for i, s := range soak.Samples {
		for ; mi < len(soak.Maps) && soak.Maps[mi].At <= s.At; mi++ {
			threads = fmt.Sprint(soak.Maps[mi].Threads)
		}
		if s.At < next && i < len(soak.Samples)-1 {
			continue
		}
		w("| %.0f | %s | %s | %s | %s |\n", s.At.Minutes(), mb(s.RSS), mb(s.HWM), rate(float64(s.Messages)), threads)
		next = s.At.Truncate(step) + step
	}
	return b.String()
}
