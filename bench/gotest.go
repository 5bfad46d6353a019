package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// GoBench is one result line of `go test -bench`.
type GoBench struct {
	Name       string             `json:"name"` // without the "Benchmark" prefix and the -GOMAXPROCS suffix
	Iterations int64              `json:"iterations"`
	Metrics    map[string]float64 `json:"metrics"` // unit → value: "ns/op", "allocs/op", "cpu-ns/message", ...
}

// ParseGoBench reads the result lines of `go test -bench` output (other lines are ignored).
func ParseGoBench(out string) ([]GoBench, error) {
	var res []GoBench
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue // e.g. "BenchmarkX" alone on a line before its sub-benchmarks' output
		}
		iters, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		b := GoBench{Name: name, Iterations: iters, Metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark line %q: value %q: %w", line, f[i], err)
			}
			b.Metrics[f[i+1]] = v
		}
		res = append(res, b)
	}
	return res, sc.Err()
}

// GoTestBench describes a `go test -bench` run of one package.
type GoTestBench struct {
	Name    string   // for logs
	Dir     string   // module directory to build in (the package path is relative to it)
	Pkg     string   // package, e.g. "./runtime/transform"
	Tags    string   // build tags
	Bench   string   // -bench regexp
	Time    string   // -benchtime, e.g. "1s" or "100x"
	Env     []string // extra environment
	Timeout time.Duration
}

// RunGoBench compiles the package's test binary into the output directory, runs its benchmarks
// pinned to the measured core and parses the results. It fails when the benchmark fails or reports
// nothing.
func (h *Harness) RunGoBench(ctx context.Context, g GoTestBench) ([]GoBench, error) {
	bin := filepath.Join(h.cfg.OutDir, "bin", strings.ReplaceAll(g.Name, " ", "_")+".test")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return nil, err
	}
	args := []string{"test", "-c", "-o", bin}
	if g.Tags != "" {
		args = append(args, "-tags", g.Tags)
	}
	// The harness may be pinned to the server's core; compilers may use every core.
	build := exec.CommandContext(ctx, "go", append(args, g.Pkg)...)
	if h.measuredCPUs != "" {
		build = exec.CommandContext(ctx, "taskset", append([]string{"-c", fmt.Sprintf("0-%d", OnlineCPUs()-1), "go"}, append(args, g.Pkg)...)...)
	}
	build.Dir = g.Dir
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s: %v\n%s", build, err, out)
	}
	if g.Timeout == 0 {
		g.Timeout = 5 * time.Minute
	}
	argv := []string{bin, "-test.run", "^$", "-test.bench", g.Bench, "-test.benchtime", g.Time, "-test.timeout", g.Timeout.String()}
	if h.measuredCPUs != "" {
		argv = append([]string{"taskset", "-c", h.measuredCPUs}, argv...)
	}
	cctx, cancel := context.WithTimeout(ctx, g.Timeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, argv[0], argv[1:]...)
	cmd.Dir = filepath.Join(g.Dir, g.Pkg)
	cmd.Env = append(cleanEnviron(), g.Env...)
	out, err := cmd.CombinedOutput()
	logPath := filepath.Join(h.logDir, strings.ReplaceAll(g.Name, " ", "_")+".log")
	_ = os.WriteFile(logPath, out, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s benchmarks failed (%v); output in %s:\n%s", g.Name, err, logPath, tail(string(out), 3000))
	}
	res, err := ParseGoBench(string(out))
	if err != nil {
		return nil, err
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("%s: no benchmark matched %q (output in %s)", g.Name, g.Bench, logPath)
	}
	return res, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
