// Package harness is the shared kit of the end-to-end suites (test/e2e, test/apitest, test/pge2e,
// test/interop) and of tests that load plugins through the process transport: it runs
// iggy-devserver and iggy-connectors as child processes (binaries from test/pluginbuild) with their
// output captured in a Log, picks free ports, waits for conditions and reads Iggy back with the
// project's Go client.
//
// Helpers take the test's testing.TB and fail it (Fatal) instead of returning errors, so they must
// be called from the test's goroutine unless their doc says otherwise. Every process a helper starts
// is killed when the test ends.
//
// IGGY_E2E_LOG=1 streams every process's output to the test binary's stderr, each line prefixed
// with the process's name; otherwise a failed test shows the tail of each log.
package harness

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/plugin"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

// Main is a TestMain: it runs the tests, removes what pluginbuild built and exits with their
// status. A test binary started as `<test binary> plugin-host --library PATH` (what the process
// transport runs when plugin.Options.Executable is empty) serves as the plugin host instead, with
// the real plugin.ServeHost.
func Main(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == plugin.HostCommand {
		fs := flag.NewFlagSet(plugin.HostCommand, flag.ExitOnError)
		lib := fs.String("library", "", "")
		_ = fs.Parse(os.Args[2:])
		if err := plugin.ServeHost(*lib, os.Stdin, os.NewFile(3, "replies")); err != nil {
			fmt.Fprintln(os.Stderr, "plugin-host:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	pluginbuild.Cleanup()
	os.Exit(code)
}

// Verbose reports whether IGGY_E2E_LOG is set: process output is streamed as it comes.
func Verbose() bool { return os.Getenv("IGGY_E2E_LOG") != "" }

// FreeAddr returns a 127.0.0.1 address whose port was free a moment ago (another process may take
// it before the caller listens; StartDevserver retries for that reason).
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// WaitFor polls cond every 20 ms until it holds; after timeout it fails tb with what was awaited.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Ctx returns a context that ends after 30 seconds or with the test.
func Ctx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// ChildPids returns the processes whose parent is pid (read from /proc; the test is skipped
// where there is none).
func ChildPids(tb testing.TB, pid int) []int {
	tb.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		tb.Skipf("no /proc: %v", err)
	}
	var out []int
	for _, ent := range entries {
		p, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}
