// Package pluginbuild builds the real plugin libraries and binaries for tests: Go plugins with
// `go build -buildmode=c-shared` (CGO_ENABLED=1), the C test plugins with gcc, and the iggy-connectors
// and iggy-devserver binaries with CGO_ENABLED=0. Each artefact is built at most once per test
// process into a temporary directory laid out like an installation — binaries in bin/, plugins in
// plugins/, so the runtime finds a plugin by name in <bin>/../plugins — (the Go build cache keeps
// rebuilds fast), or into $IGGY_PLUGINBUILD_DIR when set (kept afterwards, e.g. for a profiler to
// read symbols); call Cleanup from TestMain. Prebuilt finds libraries that `make plugins` put in
// build/plugins (the C and Rust examples).
package pluginbuild

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
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

// tempDir returns the build directory, with its bin/ and plugins/ subdirectories.
func tempDir() (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if dir == "" && os.Getenv("IGGY_PLUGINBUILD_DIR") != "" {
		dir, keep = os.Getenv("IGGY_PLUGINBUILD_DIR"), true
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "iggy-plugins-")
		if err != nil {
			return "", err
		}
		dir = d
	}
	for _, sub := range []string{"bin", "plugins"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// Cleanup removes every artefact built by this process; a later call builds again.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" && !keep {
		os.RemoveAll(dir)
		dir = ""
		builds = map[string]*result{}
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

// copyFile copies src to dst (created with its directories, mode 0755).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func run(cmd *exec.Cmd) error {
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", cmd.String(), err, out)
	}
	return nil
}

// PrebuiltDirEnv names a directory of plugins that scripts/test.sh has just built with
// scripts/build-plugins.sh --test (the same go build command as GoPlugin's). When it is set and
// holds the library, GoPlugin copies it instead of linking it again in every test process.
const PrebuiltDirEnv = "IGGY_TEST_PLUGIN_DIR"

// GoPlugin builds the Go plugin module in moduleDir (relative to the repository root, e.g.
// "connectors/sinks/stdout") as plugins/lib<libName>.so, e.g. libName "iggy_connector_stdout_sink"
// (without the C header the build writes beside it, as scripts/build-plugins.sh does), or copies
// it from $IGGY_TEST_PLUGIN_DIR (see PrebuiltDirEnv).
func GoPlugin(tb testing.TB, moduleDir, libName string) string {
	tb.Helper()
	p, err := build("go:"+moduleDir, func(d string) (string, error) {
		out := filepath.Join(d, "plugins", "lib"+libName+".so")
		if dir := os.Getenv(PrebuiltDirEnv); dir != "" {
			if err := copyFile(filepath.Join(dir, "lib"+libName+".so"), out); err == nil {
				return out, nil
			}
		}
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, ".")
		cmd.Dir = filepath.Join(RepoRoot(), moduleDir)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if err := run(cmd); err != nil {
			return "", err
		}
		if err := os.Remove(strings.TrimSuffix(out, ".so") + ".h"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		return out, nil
	})
	if err != nil {
		tb.Fatalf("build Go plugin %s: %v", moduleDir, err)
	}
	return p
}

// CVariant builds test/plugins/cvariants/cvariants.c with -DVARIANT_<VARIANT> as
// plugins/libiggy_connector_<name>_sink.so (variants: BADABI badabi, NOSYM nosym, ABORT cabort, HANG chang).
func CVariant(tb testing.TB, variant, name string) string {
	tb.Helper()
	p, err := build("c:"+variant, func(d string) (string, error) {
		out := filepath.Join(d, "plugins", "libiggy_connector_"+name+"_sink.so")
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

// Runtime builds the iggy-connectors binary (bin/iggy-connectors) with CGO_ENABLED=0, as shipped.
func Runtime(tb testing.TB) string {
	tb.Helper()
	return binary(tb, "iggy-connectors", "./runtime/cmd/iggy-connectors")
}

// Devserver builds the project's Iggy-compatible development server (bin/iggy-devserver).
func Devserver(tb testing.TB) string {
	tb.Helper()
	return binary(tb, "iggy-devserver", "./test/cmd/iggy-devserver")
}

// binary builds the root module's main package pkg as bin/name with CGO_ENABLED=0.
func binary(tb testing.TB, name, pkg string) string {
	tb.Helper()
	p, err := build("bin:"+pkg, func(d string) (string, error) {
		out := filepath.Join(d, "bin", name)
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		return out, run(cmd)
	})
	if err != nil {
		tb.Fatalf("build %s: %v", name, err)
	}
	return p
}

// RequireBuilt checks that the build outputs paths (relative to the repository root, e.g.
// "build/bin/iggy-connectors") exist, as made by `make build plugins` (scripts/test.sh builds them
// before the integration suites). A missing one skips the test with that advice, or fails it when
// IGGY_REQUIRE_TOOLS is set (scripts/test.sh, CI).
func RequireBuilt(tb testing.TB, paths ...string) {
	tb.Helper()
	for _, p := range paths {
		if _, err := os.Stat(filepath.Join(RepoRoot(), p)); err != nil {
			if os.Getenv("IGGY_REQUIRE_TOOLS") != "" {
				tb.Fatalf("%s is missing: run `make build plugins` first", p)
			}
			tb.Skipf("%s is missing: run `make build plugins` first", p)
		}
	}
}

// PrebuiltRust is Prebuilt for a plugin of the Rust SDK (sdk/rust). Without cargo on PATH the
// Rust plugins cannot have been built (scripts/build-plugins.sh and scripts/test.sh say so and skip
// the Rust parts), so the test is skipped with that reason, in CI too; with cargo it is Prebuilt.
func PrebuiltRust(tb testing.TB, libName string) string {
	tb.Helper()
	if _, err := exec.LookPath("cargo"); err != nil {
		tb.Skipf("cargo not found on PATH: the Rust plugin lib%s.so is not built, its checks are skipped (install Rust 1.85+ with rustup to run them)", libName)
	}
	return Prebuilt(tb, libName)
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
