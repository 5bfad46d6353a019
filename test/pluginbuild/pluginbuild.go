// Package pluginbuild builds the real plugin libraries and the runtime binary for tests: Go plugins
// with `go build -buildmode=c-shared` (CGO_ENABLED=1), the C test plugins with gcc, and
// runtime/cmd/iggy-connectors with CGO_ENABLED=0. Each artefact is built at most once per test process
// into a temporary directory (the Go build cache keeps rebuilds fast), or into $IGGY_PLUGINBUILD_DIR
// when set (kept afterwards, e.g. for a profiler to read symbols); call Cleanup from TestMain.
// Prebuilt finds libraries that `make plugins` put in build/plugins (the C and Rust examples).
package pluginbuild

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	mu     sync.Mutex
	dir    string
	keep   bool // dir is IGGY_PLUGINBUILD_DIR: kept after the tests (e.g. for profiling)
	builds = map[string]*result{}
)

type result struct {
	once sync.Once
	path string
	err  error
}

// RepoRoot is the repository root (the directory holding go.work).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func tempDir() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if dir == "" && os.Getenv("IGGY_PLUGINBUILD_DIR") != "" {
		dir, keep = os.Getenv("IGGY_PLUGINBUILD_DIR"), true
		return dir, os.MkdirAll(dir, 0o755)
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "iggy-plugins-")
		if err != nil {
			return "", err
		}
		dir = d
	}
	return dir, nil
}

// Cleanup removes every artefact built by this process.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" && !keep {
		os.RemoveAll(dir)
		dir = ""
	}
}

func build(key string, f func(dir string) (string, error)) (string, error) {
	mu.Lock()
	r, ok := builds[key]
	if !ok {
		r = &result{}
		builds[key] = r
	}
	mu.Unlock()
	r.once.Do(func() {
		d, err := tempDir()
		if err != nil {
			r.err = err
			return
		}
		r.path, r.err = f(d)
	})
	return r.path, r.err
}

func run(cmd *exec.Cmd) error {
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", cmd.String(), err, out)
	}
	return nil
}

// GoPlugin builds the Go plugin module in moduleDir (relative to the repository root, e.g.
// "connectors/sinks/stdout") as lib<libName>.so, e.g. libName "iggy_connector_stdout_sink".
func GoPlugin(tb testing.TB, moduleDir, libName string) string {
	tb.Helper()
	p, err := build("go:"+moduleDir, func(d string) (string, error) {
		out := filepath.Join(d, "lib"+libName+".so")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, ".")
		cmd.Dir = filepath.Join(RepoRoot(), moduleDir)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		return out, run(cmd)
	})
	if err != nil {
		tb.Fatalf("build Go plugin %s: %v", moduleDir, err)
	}
	return p
}

// CVariant builds test/plugins/cvariants/cvariants.c with -DVARIANT_<VARIANT> as
// libiggy_connector_<name>_sink.so (variants: BADABI badabi, NOSYM nosym, ABORT cabort, HANG chang).
func CVariant(tb testing.TB, variant, name string) string {
	tb.Helper()
	p, err := build("c:"+variant, func(d string) (string, error) {
		out := filepath.Join(d, "libiggy_connector_"+name+"_sink.so")
		root := RepoRoot()
		cmd := exec.Command("gcc", "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror",
			"-I"+filepath.Join(root, "abi"), "-DVARIANT_"+variant, "-o", out,
			filepath.Join(root, "test", "plugins", "cvariants", "cvariants.c"))
		return out, run(cmd)
	})
	if err != nil {
		tb.Fatalf("build C test plugin %s: %v", variant, err)
	}
	return p
}

// Runtime builds the iggy-connectors binary with CGO_ENABLED=0, as shipped.
func Runtime(tb testing.TB) string {
	tb.Helper()
	p, err := build("runtime", func(d string) (string, error) {
		out := filepath.Join(d, "iggy-connectors")
		cmd := exec.Command("go", "build", "-o", out, "./runtime/cmd/iggy-connectors")
		cmd.Dir = RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		return out, run(cmd)
	})
	if err != nil {
		tb.Fatalf("build runtime: %v", err)
	}
	return p
}

// Prebuilt returns build/plugins/lib<libName>.so (made by `make plugins`), also looking at the C and
// Rust SDKs' own build outputs. When it is absent the test is skipped with a message saying how to
// build it, unless the environment variable CI is set, in which case the test fails.
func Prebuilt(tb testing.TB, libName string) string {
	tb.Helper()
	root := RepoRoot()
	file := "lib" + libName + ".so"
	candidates := []string{
		filepath.Join(root, "build", "plugins", file),
		filepath.Join(root, "sdk", "c", "build", file),
		filepath.Join(root, "sdk", "rust", "target", "release", file),
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c
		}
	}
	msg := fmt.Sprintf("%s not built (looked in %v); run `make plugins`", file, candidates)
	if os.Getenv("CI") != "" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return ""
}
