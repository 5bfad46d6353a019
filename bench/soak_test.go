package bench

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/plugin"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

// A process's maps, abridged from a real soak runtime: the executable, brk heap, two Go heaps (in
// different terabytes), a glibc arena with its PROT_NONE reserve, a pthread stack above its guard,
// a library, the vdso.
const smapsSample = `00400000-00b6e000 r-xp 00000000 fe:00 9987594                            /opt/bin/iggy-connectors
Size:               7608 kB
Rss:                6720 kB
Private_Clean:         0 kB
Private_Dirty:         0 kB
013ef000-03440000 rw-p 00000000 00:00 0 
Rss:                 116 kB
Private_Clean:         0 kB
Private_Dirty:       116 kB
14d63000-14d84000 rw-p 00000000 00:00 0                                  [heap]
Rss:                   4 kB
4eef8000000-4eef9400000 ---p 00000000 00:00 0 
Rss:                   0 kB
4eef9400000-4eef9800000 rw-p 00000000 00:00 0 
Rss:                 696 kB
Private_Dirty:       696 kB
13687c400000-13687d000000 rw-p 00000000 00:00 0 
Rss:                4716 kB
13687d000000-136880000000 ---p 00000000 00:00 0 
Rss:                   0 kB
7f1984000000-7f1984034000 rw-p 00000000 00:00 0 
Rss:                 208 kB
7f1984034000-7f1988000000 ---p 00000000 00:00 0 
Rss:                   0 kB
7f19287fe000-7f19287ff000 ---p 00000000 00:00 0 
Rss:                   0 kB
7f19287ff000-7f1928fff000 rw-p 00000000 00:00 0 
Rss:                   8 kB
7f19d4c58000-7f19d4dc9000 r-xp 00058000 fe:00 9987673                    /opt/plugins/libiggy_connector_random_source.so
Rss:                1476 kB
7ffd1e5f0000-7ffd1e5f4000 r--p 00000000 00:00 0                          [vvar]
Rss:                   0 kB
7ffd1e5f4000-7ffd1e5f6000 r-xp 00000000 00:00 0                          [vdso]
Rss:                   4 kB
`

func TestMapSummary(t *testing.T) {
	maps, err := ParseSmaps(strings.NewReader(smapsSample))
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != 14 || maps[4].RSS != 696<<10 || maps[4].Private != 696<<10 || maps[0].Path != "/opt/bin/iggy-connectors" {
		t.Fatalf("parsed %d mappings: %+v", len(maps), maps)
	}
	got := map[string]KindRSS{}
	var order []string
	for _, k := range MapSummary(maps) {
		got[k.Kind] = k
		order = append(order, k.Kind)
	}
	want := map[string]struct {
		kb       uint64
		mappings int
	}{
		KindMallocMain: {4, 1}, KindMallocArena: {208, 1}, "go heap 1": {696, 2}, "go heap 2": {4716, 2},
		KindStacks: {8, 1}, KindAnon: {116 + 0 + 0 + 0 + 4, 5}, KindFiles: {6720 + 1476, 2},
	}
	for kind, w := range want {
		if g := got[kind]; g.RSS != w.kb<<10 || g.Mappings != w.mappings {
			t.Errorf("%s: %d kB in %d mappings, want %d kB in %d", kind, g.RSS>>10, g.Mappings, w.kb, w.mappings)
		}
	}
	if len(got) != len(want) {
		t.Errorf("kinds %v, want %d", order, len(want))
	}
	if strings.Join(order, ",") != "malloc [heap],malloc arenas,go heap 1,go heap 2,thread stacks,other anonymous,file mappings" {
		t.Errorf("order %v", order)
	}
	// Named after the runtime whose current arena lies in the same terabyte.
	named := MapSummary(maps, GoHeapStats{Object: "libx.so", Arena: 0x13687c800000}, GoHeapStats{Object: "no-arena.so"})
	if len(named) != len(want) || named[2].Kind != "go heap libx.so" || named[2].RSS != 4716<<10 || named[3].Kind != "go heap 1" {
		t.Errorf("named: %+v", named)
	}
	if _, err := ParseSmaps(strings.NewReader("Rss: 4 kB\n")); err == nil {
		t.Error("a field before any mapping parsed")
	}
	if _, err := ParseSmaps(strings.NewReader("zz-00 rw-p 0 0:0 0\n")); err == nil {
		t.Error("a bad address range parsed")
	}
}

// The soak's own process: ReadSmaps and MapSummary on /proc/self.
func TestReadSmapsSelf(t *testing.T) {
	maps, err := ReadSmaps(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	var total, files uint64
	for _, k := range MapSummary(maps) {
		total += k.RSS
		if k.Kind == KindFiles {
			files = k.RSS
		}
	}
	ps, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 || total < ps.RSS/2 || total > ps.RSS*2 {
		t.Errorf("smaps total %d (files %d), VmRSS %d", total, files, ps.RSS)
	}
}

// A Go executable with its symbols and DWARF (go build keeps them; go test's binaries have none),
// stopped after reporting its own runtime.MemStats: the reader must see the same numbers.
func TestGoStatsReaderChild(t *testing.T) {
	dir := t.TempDir()
	src := `package main

import (
	"fmt"
	"os"
	"runtime"
)

var keep [][]byte

func main() {
	for i := 0; i < 3; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = 1 // resident
		}
		keep = append(keep, b)
		runtime.GC()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fmt.Println(m.NumGC, m.TotalAlloc, m.HeapInuse)
	os.Stdin.Read(make([]byte, 1))
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "gostats-child")
	build := exec.Command("go", "build", "-o", bin, "main.go")
	build.Dir, build.Env = dir, append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	var numGC uint32
	var totalAlloc, heapInUse uint64
	if _, err := fmt.Fscan(stdout, &numGC, &totalAlloc, &heapInUse); err != nil {
		t.Fatal(err)
	}
	r := NewGoStatsReader(cmd.Process.Pid)
	st, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 {
		t.Fatalf("%d Go runtimes, want the child's: %+v", len(st), st)
	}
	s := st[0]
	if s.Object != "gostats-child" || s.NumGC != numGC || s.NumGC < 3 || s.TotalAlloc != totalAlloc || s.HeapMarked < 3<<20 ||
		max(s.HeapInUse, heapInUse)-min(s.HeapInUse, heapInUse) > 64<<10 { // HeapInuse counts a few spans differently
		t.Errorf("read %+v; the child's MemStats: NumGC %d TotalAlloc %d HeapInuse %d", s, numGC, totalAlloc, heapInUse)
	}
	if again, err := r.Read(); err != nil || len(again) != 1 || again[0] != s { // cached object, same values
		t.Errorf("second read %+v, %v", again, err)
	}
	maps, err := ReadSmaps(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	var heap KindRSS
	for _, k := range MapSummary(maps, st...) {
		if k.Kind == "go heap gostats-child" {
			heap = k
		}
	}
	if heap.RSS < 3<<20 { // the three 1 MB slices it keeps
		t.Errorf("the child's heap arena by name: %+v (arena %#x)", heap, s.Arena)
	}
}

// Executables without symbols (go test's) or that are not Go are skipped, not errors.
func TestGoStatsReaderSkipsStripped(t *testing.T) {
	st, err := NewGoStatsReader(os.Getpid()).Read()
	if err != nil || len(st) != 0 {
		t.Errorf("%+v, %v", st, err)
	}
}

func soakSamples(d time.Duration, rss func(at time.Duration) uint64) []SoakSample {
	var s []SoakSample
	for at := 5 * time.Second; at <= d; at += 5 * time.Second {
		s = append(s, SoakSample{At: at, RSS: rss(at)})
	}
	return s
}

func TestSoakGrowthAfterWarmup(t *testing.T) {
	const mb = 1 << 20
	// Warms up for 10 of 60 minutes, then flat: met, whatever the warm-up grew.
	plateau := soakSamples(time.Hour, func(at time.Duration) uint64 { return 30*mb + uint64(min(at, 10*time.Minute)/time.Minute)*mb })
	if early, late, g := SoakGrowth(plateau, time.Hour); early != 40*mb || late != 40*mb || g != 0 {
		t.Errorf("plateau: early %d late %d growth %v", early, late, g)
	}
	if sl := SoakSlope(plateau, SoakWarmup(time.Hour)); math.Abs(sl) > 1 {
		t.Errorf("plateau slope %v", sl)
	}
	// 0.1 MB a minute throughout: the reference is minute 15-16, the last minute 59-60.
	rss := func(at time.Duration) uint64 { return 30*mb + uint64(at.Minutes()*0.1*mb) }
	leak := soakSamples(time.Hour, rss)
	early, late, g := SoakGrowth(leak, time.Hour)
	if early != rss(15*time.Minute+55*time.Second) || late != 36*mb || math.Abs(g-(36/31.59-1)) > 1e-3 {
		t.Errorf("leak: early %d late %d growth %v", early, late, g)
	}
	if sl := SoakSlope(leak, SoakWarmup(time.Hour)); math.Abs(sl-6*mb) > 0.01*mb {
		t.Errorf("leak slope %.0f bytes per hour, want 6 MB", sl)
	}
	// A 10-minute soak: warm-up 2m30s, reference 2m30s-3m30s.
	if w := SoakWarmup(10 * time.Minute); w != 150*time.Second {
		t.Errorf("warm-up of 10m: %v", w)
	}
}

func TestRenderSoak(t *testing.T) {
	const mb = 1 << 20
	s := &Soak{Started: time.Date(2026, 12, 8, 2, 0, 0, 0, time.UTC), Duration: 4 * time.Minute, Warmup: time.Minute,
		Env: []string{"MALLOC_ARENA_MAX=2"}, EarlyRSS: 30 * mb, LateRSS: 30*mb + mb/2, Growth: 1.0 / 60, Slope: 0.5 * mb, Messages: 480000}
	s.Samples = soakSamples(4*time.Minute, func(time.Duration) uint64 { return 30 * mb })
	heaps := func(gc uint32, inUse uint64) []GoHeapStats {
		return []GoHeapStats{{Object: "iggy-connectors", NumGC: gc * 100, HeapInUse: 5 * mb}, {Object: "libiggy_connector_discard_sink.so", NumGC: gc, HeapInUse: inUse}}
	}
	s.Maps = []SoakMaps{
		{At: 5 * time.Second, Threads: 15, Kinds: []KindRSS{{KindMallocArena, mb, 2}, {"go heap 1", 2 * mb, 3}}, GoHeaps: heaps(0, mb)},
		{At: 65 * time.Second, Threads: 16, Kinds: []KindRSS{{KindMallocArena, mb, 2}, {"go heap 1", 2 * mb, 3}}, GoHeaps: heaps(1, mb)},
		{At: 4 * time.Minute, Threads: 17, Kinds: []KindRSS{{KindMallocArena, mb, 2}, {"go heap 1", 3 * mb, 3}, {KindStacks, mb / 2, 4}}, GoHeaps: heaps(3, 2*mb)},
	}
	md := RenderSoak(s, "soak.png")
	for _, want := range []string{"`MALLOC_ARENA_MAX=2`", "growth **+1.7%** over the last 3m0s (target ≤ 2%: **met**)", "+0.50 MB per hour",
		"![RSS over the soak and per mapping kind](soak.png)", "at 1m5s (end of the warm-up) and at 4m0s (end)",
		"| go heap 1 | 2.0 MB | 3.0 MB | +1.00 MB | 3 → 3 |", "| thread stacks | 0.0 MB | 0.5 MB | +0.50 MB | 0 → 4 |", "| total | 3.0 MB | 4.5 MB | +1.50 MB | |",
		"| libiggy_connector_discard_sink.so | 1 → 3 | 1.0 MB → 2.0 MB |", "| 4 | 30.0 MB | 0.0 MB | 0 | 17 |", "| 1 | 30.0 MB | 0.0 MB | 0 | 15 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("soak report lacks %q:\n%s", want, md)
		}
	}
	if v := soakVerdict(s); !v.Known || !v.Met {
		t.Errorf("verdict %+v", v)
	}
	s.Growth = 0.021
	if v := soakVerdict(s); v.Met {
		t.Errorf("+2.1%% met: %+v", v)
	}
}

// The SDK collects once while a Go plugin library loads (sdk/export/gc.go), which arms its runtime's
// periodic GC: a plugin allocating a few KB a second would otherwise reach its first collection only
// at the 4 MB minimum goal, a quarter of an hour into a soak. Loaded into this process, the discard
// sink's runtime has collected before serving a single call beyond its info.
func TestGoPluginCollectsAtLoad(t *testing.T) {
	t.Cleanup(pluginbuild.Cleanup)
	path := pluginbuild.GoPlugin(t, "test/plugins/discard", "iggy_connector_discard_sink")
	if _, err := plugin.Open(path, plugin.Options{Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	st, err := NewGoStatsReader(os.Getpid()).Read()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Object == filepath.Base(path) {
			if s.NumGC < 1 || s.HeapMarked == 0 || s.HeapMarked > 1<<20 {
				t.Errorf("the plugin's Go runtime after loading: %+v, want at least one collection with a small live heap", s)
			}
			return
		}
	}
	t.Fatalf("no Go runtime of %s among %+v", filepath.Base(path), st)
}

func TestSoakEnv(t *testing.T) {
	t.Setenv("MALLOC_ARENA_MAX", "2")
	t.Setenv("GOGC", "50")
	t.Setenv("GOGCX", "1")
	t.Setenv("IGGY_CONNECTORS_LOGGING_LEVEL", "debug")
	got := strings.Join(soakEnv(), " ")
	for _, want := range []string{"MALLOC_ARENA_MAX=2", "GOGC=50"} {
		if !strings.Contains(got, want) {
			t.Errorf("soak env %q lacks %s", got, want)
		}
	}
	if strings.Contains(got, "GOGCX") || strings.Contains(got, "IGGY_CONNECTORS_") {
		t.Errorf("soak env %q holds a variable that is not an allocator setting", got)
	}
}
