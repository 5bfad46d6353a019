package api

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProcParsers(t *testing.T) {
	// A command name with spaces and a parenthesis must not shift the fields.
	stat := "4242 (iggy (conn) x) S 1 4242 4242 0 -1 4194560 2000 0 0 0 150 25 0 0 20 0 12 0 500 0 0"
	if got, ok := readProcTicks(writeTemp(t, stat)); !ok || got != 175 {
		t.Errorf("readProcTicks = %d %v, want 175", got, ok)
	}
	if _, ok := readProcTicks(writeTemp(t, "garbage")); ok {
		t.Error("readProcTicks accepted garbage")
	}
	hostStat := "cpu  100 5 50 800 40 3 2 0 7 0\ncpu0 50 2 25 400 20 1 1 0 0 0\nintr 1 2\n"
	busy, total, ok := readHostTicks(writeTemp(t, hostStat))
	// busy = user+nice+system+irq+softirq+steal = 100+5+50+3+2+0; total adds idle+iowait; guest fields excluded.
	if !ok || busy != 160 || total != 1000 {
		t.Errorf("readHostTicks = %d/%d %v, want 160/1000", busy, total, ok)
	}
	if rss := readRSS(writeTemp(t, "5000 300 100 10 0 200 0\n")); rss != 300*uint64(os.Getpagesize()) {
		t.Errorf("readRSS = %d", rss)
	}
	tot, avail := readMemInfo(writeTemp(t, "MemTotal:       16000 kB\nMemFree:  100 kB\nMemAvailable:    8000 kB\n"))
	if tot != 16000*1024 || avail != 8000*1024 {
		t.Errorf("readMemInfo = %d %d", tot, avail)
	}
}

// TestCPUSampler measures real CPU use of this process over an interval with a busy loop, and
// compares it with the kernel's other account of the same CPU time (getrusage) over the same wall
// interval, so a loaded machine that gives the loop only part of a core does not fail it.
func TestCPUSampler(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	rusage := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var c cpuSampler
	start := time.Now()
	t0 := time.Now()
	c.sample(t0, start)
	r0 := rusage()
	x := 0
	for rusage()-r0 < 300*time.Millisecond && time.Since(t0) < time.Minute {
		for i := 0; i < 100000; i++ {
			x++
		}
	}
	t1 := time.Now()
	used := rusage() - r0
	p := c.sample(t1, start)
	want := float64(used) / float64(t1.Sub(t0)) * 100
	if d := float64(p.cpu) - want; d > max(0.25*want, 10) || -d > max(0.25*want, 10) {
		t.Errorf("cpu_usage over a busy loop = %.1f %%, getrusage says %.1f %% (%v of CPU in %v)", p.cpu, want, used, t1.Sub(t0))
	}
	if p.totalCPU <= 0 || p.totalCPU > 100 {
		t.Errorf("total_cpu_usage = %.1f", p.totalCPU)
	}
	if p.rss == 0 || p.totalMem == 0 || p.availMem == 0 || p.availMem > p.totalMem {
		t.Errorf("memory: rss %d total %d available %d", p.rss, p.totalMem, p.availMem)
	}
	_ = x
}
