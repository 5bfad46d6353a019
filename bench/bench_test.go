package bench

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		want       time.Duration
		wantErr    bool
	}{
		{"plain", "42 (iggy-connectors) S 1 42 42 0 -1 4194560 1 0 0 0 150 25 0 0 20 0 8 0 100 0 0", 175 * clockTick, false},
		{"name with spaces and parens", "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0", 7 * clockTick, false},
		{"truncated", "7 (x) R 1 2 3", 0, true},
		{"no name", "7 x R", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tc.stat))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("got %v, %v; want %v (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseStatusMemory(t *testing.T) {
	rss, hwm, err := parseStatusMemory([]byte("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nThreads:\t3\n"))
	if err != nil || rss != 1024*1024 || hwm != 2048*1024 {
		t.Fatalf("rss %d hwm %d err %v", rss, hwm, err)
	}
	if _, _, err := parseStatusMemory([]byte("VmRSS:\t1 kB\n")); err == nil {
		t.Fatal("missing VmHWM accepted")
	}
	if _, _, err := parseStatusMemory([]byte("VmRSS:\t1 MB\nVmHWM:\t1 kB\n")); err == nil {
		t.Fatal("unexpected unit accepted")
	}
}

// ReadProc of this very process: CPU grows with work, RSS within HWM. The loop spins until the
// kernel's other account of this process's CPU time (getrusage) has grown by 150 ms, not for a
// wall-clock time, so a loaded machine that gives the test little CPU does not fail it.
func TestReadProcSelf(t *testing.T) {
	a, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	rusage := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	r0 := rusage()
	deadline := time.Now().Add(time.Minute)
	x := 0
	for rusage()-r0 < 150*time.Millisecond && time.Now().Before(deadline) {
		for i := 0; i < 100000; i++ {
			x++
		}
	}
	b, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if b.CPU-a.CPU < 100*time.Millisecond || b.RSS == 0 || b.RSS > b.HWM {
		t.Fatalf("cpu %v → %v (getrusage grew %v), rss %d hwm %d (%d loops)", a.CPU, b.CPU, rusage()-r0, b.RSS, b.HWM, x)
	}
}

func TestCountCPUList(t *testing.T) {
	for in, want := range map[string]int{"0": 1, "0-1": 2, "0-3,6,8-9": 7} {
		if got, err := countCPUList(in); err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a", "3-1", "0-"} {
		if _, err := countCPUList(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
BenchmarkSink/in_process/size=100/batch=1000-2   	   27979	     42118 ns/op	2374.28 MB/s	        42.12 cpu-ns/message	        42.12 ns/message	     101 B/op	       3 allocs/op
BenchmarkSinkVsCopyFrom/bytea-2     	       1	         0 ns/op	    238300 copyfrom_rows/s	         0.8800 ratio
BenchmarkPassthrough
BenchmarkPassthrough-2   	  100	      1353 ns/op
PASS`
	got, err := ParseGoBench(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d results: %+v", len(got), got)
	}
	if got[0].Name != "Sink/in_process/size=100/batch=1000" || got[0].Iterations != 27979 ||
		got[0].Metrics["ns/message"] != 42.12 || got[0].Metrics["allocs/op"] != 3 {
		t.Errorf("first: %+v", got[0])
	}
	if got[1].Name != "SinkVsCopyFrom/bytea" || got[1].Metrics["ratio"] != 0.88 {
		t.Errorf("second: %+v", got[1])
	}
	if got[2].Name != "Passthrough" || got[2].Metrics["ns/op"] != 1353 {
		t.Errorf("third: %+v", got[2])
	}
	if _, err := ParseGoBench("BenchmarkX-2 10 abc ns/op\n"); err == nil {
		t.Error("a bad value was accepted")
	}
}

func TestMedianAndSummarize(t *testing.T) {
	if m := Median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("odd median %v", m)
	}
	if m := Median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("even median %v", m)
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("median of nothing is not NaN")
	}
	pair := func(ours, base uint64) Pair {
		return Pair{Ours: Measurement{Messages: ours, Wall: time.Second, CPU: time.Duration(ours) * time.Microsecond, PeakRSS: ours},
			Baseline: Measurement{Messages: base, Wall: time.Second, CPU: time.Duration(base) * time.Microsecond / 2, PeakRSS: base}}
	}
	s := Summarize([]Pair{pair(90, 100), pair(40, 100), pair(100, 100)})
	if s.Ratio != 0.9 || s.RatioMin != 0.4 || s.RatioMax != 1 || s.OursRate != 90 || s.BaseRate != 100 || s.Runs != 3 {
		t.Errorf("%+v", s)
	}
	// 1µs of CPU per message is 1 CPU-second per million.
	if math.Abs(s.OursCPUPerM-1) > 1e-9 || math.Abs(s.BaseCPUPerM-0.5) > 1e-9 || s.OursRSS != 100 {
		t.Errorf("cpu %v / %v, rss %d", s.OursCPUPerM, s.BaseCPUPerM, s.OursRSS)
	}
}

func TestPayloads(t *testing.T) {
	z := ZeroCostRecord(ZeroCostTextSize(MessageSize))
	if len(z) != MessageSize || !json.Valid(z) {
		t.Fatalf("zero_cost record: %d bytes, valid %v", len(z), json.Valid(z))
	}
	for _, seq := range []uint64{0, 7, 123456789, math.MaxUint64} {
		p := JSONRecord(seq, MessageSize)
		var v map[string]any
		if len(p) != MessageSize || json.Unmarshal(p, &v) != nil {
			t.Fatalf("seq %d: %d bytes: %s", seq, len(p), p)
		}
		for _, k := range []string{"debug_trace", "password", "ssn", "status"} {
			if _, ok := v[k]; !ok {
				t.Errorf("seq %d: no %q for the transform chain", seq, k)
			}
		}
	}
}

func TestSoakGrowth(t *testing.T) {
	var s []SoakSample
	for at := 5 * time.Second; at <= 10*time.Minute; at += 5 * time.Second {
		rss := uint64(30 << 20)
		if at >= 9*time.Minute {
			rss = 33 << 20
		}
		s = append(s, SoakSample{At: at, RSS: rss})
	}
	early, late, g := SoakGrowth(s, 10*time.Minute)
	if early != 30<<20 || late != 33<<20 || math.Abs(g-0.1) > 1e-9 {
		t.Fatalf("early %d late %d growth %v", early, late, g)
	}
}

// Measure against a real process (sleep) and a progress counter moving at a known rate.
func TestMeasureWindow(t *testing.T) {
	p, err := StartProc(ProcSpec{Name: "sleep", LogDir: t.TempDir(), Argv: []string{"sleep", "30"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	start := time.Now()
	progress := func(context.Context) (uint64, error) {
		return uint64(time.Since(start) / time.Millisecond), nil // 1000 messages/s
	}
	m, err := Measure(context.Background(), p, progress, Window{Warmup: 50 * time.Millisecond, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if m.Wall < 300*time.Millisecond || m.Wall > 500*time.Millisecond || math.Abs(m.Rate()-1000) > 100 || m.CPU > 20*time.Millisecond {
		t.Fatalf("%+v (rate %.0f)", m, m.Rate())
	}

	// The data runs out inside the window: it closes there.
	start = time.Now()
	m, err = Measure(context.Background(), p, progress, Window{Warmup: 50 * time.Millisecond, Duration: 10 * time.Second, End: 300})
	if err != nil || m.Wall > 400*time.Millisecond || m.Note == "" {
		t.Fatalf("%+v, %v", m, err)
	}
	// ... or inside the warm-up: measured from the first message, with a note.
	start = time.Now()
	m, err = Measure(context.Background(), p, progress, Window{Warmup: time.Second, Duration: time.Second, End: 200})
	if err != nil || !strings.Contains(m.Note, "warm-up") || m.Wall > 300*time.Millisecond || math.Abs(m.Rate()-1000) > 150 {
		t.Fatalf("ran out in the warm-up: %+v (rate %.0f), %v", m, m.Rate(), err)
	}
	// No progress: a stall.
	var still atomic.Uint64
	if _, err := Measure(context.Background(), p, func(context.Context) (uint64, error) { return still.Load(), nil },
		Window{Duration: time.Second, Stall: 200 * time.Millisecond}); err == nil || !strings.Contains(err.Error(), "no progress") {
		t.Fatalf("stall: %v", err)
	}
	// The process exits: an error naming it.
	p.Kill()
	if _, err := Measure(context.Background(), p, progress, Window{Duration: time.Second}); err == nil || !strings.Contains(err.Error(), "sleep") {
		t.Fatalf("exit: %v", err)
	}
}

func TestVerdictsAndRender(t *testing.T) {
	p := func(ours, base uint64) Pair {
		return Pair{Ours: Measurement{Messages: ours, Wall: time.Second, CPU: time.Second},
			Baseline: Measurement{Messages: base, Wall: time.Second, CPU: time.Second}}
	}
	r := &Results{Mode: ModeFull, Runs: 1, Sweep: map[string]map[int][]Pair{
		"B1": {1000: {p(95, 100)}, 10: {p(5, 100)}},
		"B2": {1000: {p(80, 100)}},
	}, B3: []Pair{p(85, 100)},
		B4: []GoBench{{Name: "Sink/in_process/size=1024/batch=1000", Metrics: map[string]float64{"ns/message": 60}},
			{Name: "Sink/in_process/size=100/batch=1000", Metrics: map[string]float64{"ns/message": 40}},
			{Name: "Sink/process/size=1024/batch=1000", Metrics: map[string]float64{"ns/message": 140}}},
		// the chain doubles the CPU per message
		B5: []Pair{{Ours: Measurement{Messages: 100, Wall: time.Second, CPU: 2 * time.Second},
			Baseline: Measurement{Messages: 100, Wall: time.Second, CPU: time.Second}}},
		B6: B6{IdleRSS: 24 << 20},
	}
	want := map[string]bool{"B1 source path": true, "B2 sink path": false, "B3 PostgreSQL sink": true, "B4 ≤ 50 ns/message, in_process sink, batch 1000, 1024": false,
		"B4 ≤ 50 ns/message, in_process sink, batch 1000, 100-byte": true, "B4 ≤ 150 ns/message, process sink": true, "B5": false, "B6 idle": true}
	vs := Verdicts(r, nil)
	for prefix, met := range want {
		found := false
		for _, v := range vs {
			if strings.HasPrefix(v.Target, prefix) {
				found = true
				if !v.Known || v.Met != met {
					t.Errorf("%s: known %v met %v (%s), want met %v", v.Target, v.Known, v.Met, v.Measured, met)
				}
			}
		}
		if !found {
			t.Errorf("no verdict for %q", prefix)
		}
	}
	last := vs[len(vs)-1]
	if !strings.Contains(last.Target, "soak") || last.Known {
		t.Errorf("soak verdict without a soak: %+v", last)
	}
	if c := B5Cost(r.B5); math.Abs(c-1) > 1e-9 {
		t.Errorf("B5 cost %v, want +100%%", c)
	}
	if c := B5CostMicros(r.B5); math.Abs(c-10000) > 1e-6 { // 20000 - 10000 CPU-µs per message
		t.Errorf("B5 cost %v µs, want 10000", c)
	}
	md := Render(r, &Soak{Duration: 10 * time.Minute, Growth: 0.02, EarlyRSS: 30 << 20, LateRSS: 31 << 20}, "Analysis text.", "chart.png")
	for _, s := range []string{"| B1 source path (max_in_flight = 2, the default) ≥ 0.9 × plain producer | 0.95 | **yes** |", "![throughput against batch size](chart.png)",
		"| 10 | 5 msg/s | 100 msg/s | **0.05** |", "Analysis text.", "+2.0% over 10m0s after 0s | **yes**"} {
		if !strings.Contains(md, s) {
			t.Errorf("report lacks %q", s)
		}
	}
}
