package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Results is everything one harness run measured; it is written as results.json and rendered into
// the report by Render.
type Results struct {
	Mode     Mode      `json:"mode"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Machine  Machine   `json:"machine"`
	Pinning  string    `json:"pinning"`
	Runs     int       `json:"runs"`   // interleaved runs per side
	Window   string    `json:"window"` // how each run was measured
	// Server is the measured Iggy server (an own iggy-devserver, or the external one).
	Server ServerInfo `json:"server"`
	// Original is the original runtime's version when the O scenarios ran.
	Original string `json:"original,omitempty"`

	// Sweep holds B1 and B2 at every batch size: scenario → batch size → interleaved pairs.
	Sweep map[string]map[int][]Pair `json:"sweep"`
	// B1InFlight1 pairs B1 at batch 1000 with max_in_flight = 1 (ours) with the baseline of the
	// same round (the sweep runs the default, 2).
	B1InFlight1 []Pair `json:"b1_in_flight_1"`
	// B3: the runtime's PostgreSQL sink vs plain CopyFrom.
	B3 []Pair `json:"b3"`
	// B3Plugin is pgsink's own BenchmarkSinkVsCopyFrom (the sink's code without Iggy or the runtime).
	B3Plugin []GoBench `json:"b3_plugin"`
	// B4 is bench/boundary; B4Cross is test/plugintest's round-trip benchmarks.
	B4      []GoBench `json:"b4"`
	B4Cross []GoBench `json:"b4_cross"`
	// B5: pairs of (sink with the transform chain, sink without) at batch 1000; B5Micro are
	// runtime/transform's benchmarks.
	B5      []Pair    `json:"b5"`
	B5Micro []GoBench `json:"b5_micro"`
	B6      B6        `json:"b6"`
	// O1, O2 and O3 pair this runtime (Ours) with the original Rust runtime (Baseline): the random
	// source producing 1 KB records of random text, the stdout sink (a log line per batch), the
	// PostgreSQL sink.
	O1 []Pair `json:"o1,omitempty"`
	O2 []Pair `json:"o2,omitempty"`
	O3 []Pair `json:"o3,omitempty"`
	// Profiles: scenario → `go tool pprof -top` of the runtime in one extra run.
	Profiles map[string]string `json:"profiles"`
	// Durations of the phases, for the report's timing line.
	Phases []Phase `json:"phases"`
}

// Phase is how long one part of the run took.
type Phase struct {
	Name string        `json:"name"`
	Took time.Duration `json:"took_ns"`
}

// B6 is the runtime's memory.
type B6 struct {
	IdleRSS   uint64        `json:"idle_rss"` // VmRSS after IdleFor with the demo pipeline
	IdleHWM   uint64        `json:"idle_hwm"`
	IdleFor   time.Duration `json:"idle_for_ns"`
	LoadedHWM uint64        `json:"loaded_hwm"` // VmHWM with a B1 source and a B2 sink running at full speed
	LoadedRSS uint64        `json:"loaded_rss"`
	LoadedFor time.Duration `json:"loaded_for_ns"`
	LoadedMsg uint64        `json:"loaded_messages"` // messages the loaded sink committed
}

// Soak is the result of `make soak` (soak.json).
type Soak struct {
	Started  time.Time     `json:"started"`
	Machine  Machine       `json:"machine"`
	Duration time.Duration `json:"duration_ns"`
	Rate     string        `json:"rate"`      // the load, in words
	Samples  []SoakSample  `json:"samples"`   // every SoakEvery
	EarlyRSS uint64        `json:"early_rss"` // largest VmRSS in the reference minute (after the warm-up)
	LateRSS  uint64        `json:"late_rss"`  // largest VmRSS in the last minute
	Growth   float64       `json:"growth"`    // LateRSS/EarlyRSS - 1
	Messages uint64        `json:"messages"`  // committed by the sink
	Warmup   time.Duration `json:"warmup_ns"` // left out of the verdict (SoakWarmup)
	Slope    float64       `json:"slope"`     // least-squares RSS growth after the warm-up, bytes per hour
	Maps     []SoakMaps    `json:"maps"`      // memory maps per kind, every SoakMapsEvery
	Env      []string      `json:"env"`       // allocator settings the runtime ran with (SoakEnvVars)
	GoStats  string        `json:"go_stats"`  // why the Go heaps could not be read ("" when they were)
}

// SoakMaps is one summary of the soak runtime's memory maps.
type SoakMaps struct {
	At      time.Duration `json:"at_ns"`
	Kinds   []KindRSS     `json:"kinds"`
	Threads int           `json:"threads"`
	GoHeaps []GoHeapStats `json:"go_heaps,omitempty"` // every Go runtime in the process (GoStatsReader)
}

// SoakSample is one reading during the soak.
type SoakSample struct {
	At       time.Duration `json:"at_ns"` // since the start
	RSS      uint64        `json:"rss"`
	HWM      uint64        `json:"hwm"`
	CPU      time.Duration `json:"cpu_ns"`
	Messages uint64        `json:"messages"`
}

// Machine describes where the numbers were measured.
type Machine struct {
	Cores     int    `json:"cores"`
	CPUModel  string `json:"cpu_model"`
	GoVersion string `json:"go_version"`
	Kernel    string `json:"kernel"`
	LoadStart string `json:"load_start"` // /proc/loadavg at the start
	LoadEnd   string `json:"load_end"`
	MemTotal  string `json:"mem_total"`
}

// DescribeMachine reads the core count, CPU model, Go version, kernel and load average.
func DescribeMachine() Machine {
	m := Machine{Cores: OnlineCPUs(), GoVersion: goVersion(), LoadStart: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				m.MemTotal = strings.TrimSpace(strings.TrimPrefix(l, "MemTotal:"))
			}
		}
	}
	return m
}

// goVersion is the version of the go command that builds the binaries (the harness's own runtime
// version when go is not on PATH).
func goVersion() string {
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return runtime.Version()
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return strings.TrimSpace(string(b))
	}
	return strings.Join(f[:3], " ")
}

// WriteJSON writes v to path, indented.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadJSON reads path into v.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
