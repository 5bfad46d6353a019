package harness

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLogLinesAndRecords(t *testing.T) {
	l := NewLog(t, "unit/log #1")
	fmt.Fprintf(l, "time=1 level=INFO msg=start\ntime=2 level=ERROR msg=\"it broke\" connector=a\n")
	fmt.Fprintf(l, `{"level":"INFO","msg":"HTTP API listening","address":"127.0.0.1:5"}`+"\n")
	fmt.Fprintf(l, `{"level":"WARN","msg":"HTTP API listening again"}`+"\nnot json \"msg\": x\n")
	cases := []struct {
		parts []string
		want  int
	}{
		{[]string{"level=ERROR"}, 1},
		{[]string{"level=", "msg="}, 2},
		{[]string{"level=ERROR", "connector=b"}, 0},
		{[]string{`"msg":`}, 3},
		{nil, 5},
	}
	for _, c := range cases {
		if got := l.Lines(c.parts...); len(got) != c.want {
			t.Errorf("Lines(%q) = %q, want %d lines", c.parts, got, c.want)
		}
	}
	recs := l.Records("HTTP API listening")
	if len(recs) != 1 || recs[0]["address"] != "127.0.0.1:5" {
		t.Fatalf("Records: %v", recs)
	}
	if !strings.HasSuffix(l.Path(), "unit_log__1.log") || !strings.Contains(l.Contents(), "it broke") {
		t.Fatalf("path %s, contents %q", l.Path(), l.Contents())
	}
}

func TestTail(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{{"a\nb\nc\n", 2, "b\nc"}, {"a\nb", 5, "a\nb"}, {"", 3, ""}} {
		if got := tail(c.in, c.n); got != c.want {
			t.Errorf("tail(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

// Processes are real: /bin/sh scripts that exit, trap signals or hang.
func TestProc(t *testing.T) {
	sh := func(script string) *Proc {
		return Start(t, exec.Command("/bin/sh", "-c", script), NewLog(t, "sh"))
	}

	p := sh(`echo hello; echo oops >&2; exit 3`)
	<-p.Done()
	var ee *exec.ExitError
	if !p.Exited() || !errors.As(p.Err(), &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exit 3: exited %v err %v", p.Exited(), p.Err())
	}
	if got := p.Log.Lines("o"); !reflect.DeepEqual(got, []string{"hello", "oops"}) {
		t.Fatalf("output %q", got)
	}

	p = sh(`trap 'echo term; exit 7' TERM; while :; do sleep 0.01; done`)
	WaitFor(t, 5*time.Second, "the trap to be set", func() bool { return len(ChildPids(t, p.Pid())) > 0 })
	if code, took := p.SignalWait(syscall.SIGTERM, 5*time.Second); code != 7 || took > 5*time.Second {
		t.Fatalf("SIGTERM: code %d after %v", code, took)
	}

	p = sh(`trap '' TERM; while :; do sleep 0.01; done`) // ignores SIGTERM
	WaitFor(t, 5*time.Second, "the trap to be set", func() bool { return len(ChildPids(t, p.Pid())) > 0 })
	if p.Stop(200 * time.Millisecond) {
		t.Fatal("Stop reports a clean stop of a process that ignores SIGTERM")
	}
	if !p.Exited() || p.Err() == nil {
		t.Fatalf("after Stop: exited %v err %v", p.Exited(), p.Err())
	}

	p = sh(`exec sleep 60`)
	if p.Exited() || p.Err() != nil {
		t.Fatal("a sleeping process reads as exited")
	}
	p.Kill()
	p.Kill() // again: no-op
	if !p.Exited() {
		t.Fatal("Kill returned before the process ended")
	}
}

func TestChildPids(t *testing.T) {
	p := Start(t, exec.Command("/bin/sh", "-c", "sleep 60 & sleep 60 & wait"), NewLog(t, "sh"))
	WaitFor(t, 5*time.Second, "two children", func() bool { return len(ChildPids(t, p.Pid())) == 2 })
	for _, c := range ChildPids(t, p.Pid()) {
		if c == p.Pid() || c == os.Getpid() {
			t.Fatalf("children %v of %d", ChildPids(t, p.Pid()), p.Pid())
		}
	}
	p.Kill()
	if kids := ChildPids(t, os.Getpid()); slices.Contains(kids, p.Pid()) {
		t.Fatalf("killed process %d still a child", p.Pid())
	}
}

func TestRuntimeEnv(t *testing.T) {
	t.Setenv("IGGY_CONNECTORS_IGGY_ADDRESS", "10.0.0.1:1")
	t.Setenv("IGGY_DISPLAY_CONFIG", "true")
	t.Setenv("RUST_LOG", "trace")
	t.Setenv("HARNESS_KEEP", "yes")
	env := RuntimeEnv("IGGY_CONNECTORS_STATE_PATH=/s", "IGGY_CONNECTORS_STATE_PATH=/t")
	for _, kv := range env {
		if strings.HasPrefix(kv, "IGGY_CONNECTORS_IGGY_ADDRESS=") || strings.HasPrefix(kv, "IGGY_DISPLAY_CONFIG=") || strings.HasPrefix(kv, "RUST_LOG=") {
			t.Errorf("%s leaked into the runtime's environment", kv)
		}
	}
	if !slices.Contains(env, "HARNESS_KEEP=yes") || !reflect.DeepEqual(env[len(env)-2:], []string{"IGGY_CONNECTORS_STATE_PATH=/s", "IGGY_CONNECTORS_STATE_PATH=/t"}) {
		t.Fatalf("env %q", env)
	}
	cmd := RuntimeCmd("/bin/true", "/tmp", "X=1")
	if cmd.Path != "/bin/true" || cmd.Dir != "/tmp" || !reflect.DeepEqual(cmd.Args, []string{"/bin/true", "run"}) || cmd.Env[len(cmd.Env)-1] != "X=1" {
		t.Fatalf("cmd %v in %s", cmd.Args, cmd.Dir)
	}
}

func TestFreeAddr(t *testing.T) {
	a := FreeAddr(t)
	ln, err := net.Listen("tcp", a)
	if err != nil {
		t.Fatalf("FreeAddr %s cannot be listened on: %v", a, err)
	}
	ln.Close()
}
