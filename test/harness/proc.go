package harness

import (
	"errors"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Proc is a child process started by Start. Its methods may be called from any goroutine, except
// Signal and SignalWait, which fail the test.
type Proc struct {
	Cmd  *exec.Cmd
	Log  *Log
	tb   testing.TB
	done chan struct{}
	err  error // of Wait, valid after done
}

// Start starts cmd with its standard output and error going to log, and kills it (SIGKILL) when
// the test ends if it is still running.
func Start(tb testing.TB, cmd *exec.Cmd, log *Log) *Proc {
	tb.Helper()
	out := log.output()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", cmd, err)
	}
	p := &Proc{Cmd: cmd, Log: log, tb: tb, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	tb.Cleanup(p.Kill)
	return p
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Done is closed when the process has ended (and been reaped).
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is what Wait returned (nil for exit status 0, *exec.ExitError otherwise); nil while the
// process runs.
func (p *Proc) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// Kill sends SIGKILL (kill -9) unless the process has ended, and waits until it has.
func (p *Proc) Kill() {
	if !p.Exited() {
		_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// Stop sends SIGTERM and waits up to timeout, then kills it; it reports whether the process ended
// by itself in time.
func (p *Proc) Stop(timeout time.Duration) bool {
	if p.Exited() {
		return true
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
		p.Kill()
		return false
	}
}

// Signal sends sig, failing the test when that fails (e.g. the process has ended).
func (p *Proc) Signal(sig syscall.Signal) {
	p.tb.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		p.tb.Fatalf("signal %v to %s: %v", sig, p.Cmd.Path, err)
	}
}

// SignalWait sends sig and waits up to within for the process to end, failing the test if it does
// not; it returns the exit code (-1 when a signal ended it) and how long the exit took.
func (p *Proc) SignalWait(sig syscall.Signal, within time.Duration) (code int, took time.Duration) {
	p.tb.Helper()
	start := time.Now()
	p.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(within):
		p.tb.Fatalf("%s did not exit within %v of %v", p.Cmd.Path, within, sig)
	}
	took = time.Since(start)
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode(), took
	}
	if p.err != nil {
		p.tb.Fatal(p.err)
	}
	return 0, took
}
