package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTick is the unit of utime/stime in /proc/<pid>/stat (USER_HZ, 100 on every Linux ABI Go
// supports).
const clockTick = 10 * time.Millisecond

// ProcSample is one reading of a process's resource use from /proc.
type ProcSample struct {
	At  time.Time
	CPU time.Duration // user + system time of every thread so far
	RSS uint64        // resident set size now, bytes (VmRSS)
	HWM uint64        // peak resident set size, bytes (VmHWM)
}

// ReadProc reads /proc/<pid>/stat and /proc/<pid>/status.
func ReadProc(pid int) (ProcSample, error) {
	s := ProcSample{At: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	if s.CPU, err = parseStatCPU(stat); err != nil {
		return s, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	s.RSS, s.HWM, err = parseStatusMemory(status)
	if err != nil {
		return s, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	return s, nil
}

// parseStatCPU returns utime + stime (fields 14 and 15) of a /proc/<pid>/stat line. The command
// name (field 2) is parenthesised and may contain spaces, so fields are counted after its ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no ')' after the command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state): utime is field 14 = f[11], stime field 15 = f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(f))
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * clockTick, nil
}

// parseStatusMemory returns VmRSS and VmHWM (in bytes) of /proc/<pid>/status.
func parseStatusMemory(status []byte) (rss, hwm uint64, err error) {
	var haveRSS, haveHWM bool
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("%s: unexpected value %q", k, v)
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", k, err)
		}
		if k == "VmRSS" {
			rss, haveRSS = n*1024, true
		} else {
			hwm, haveHWM = n*1024, true
		}
	}
	if !haveRSS || !haveHWM {
		return 0, 0, errors.New("VmRSS or VmHWM missing")
	}
	return rss, hwm, nil
}

// Proc is a child process the harness started (a server, the runtime or a baseline), its combined
// output kept in a log file.
type Proc struct {
	Name    string
	Cmd     *exec.Cmd
	LogPath string
	done    chan struct{}
	mu      sync.Mutex
	err     error // of Wait, valid after done
	logFile *os.File
}

// ProcSpec describes a process to start.
type ProcSpec struct {
	Name   string   // for logs and errors; the output goes to LogDir/Name.log
	LogDir string   //
	CPUs   string   // taskset CPU list such as "1"; "" = not pinned
	Argv   []string // command and arguments
	Env    []string // added to the harness's environment without its IGGY_CONNECTORS_* variables
	Dir    string   // working directory ("" = the harness's)
	// DiscardStdout sends standard output to /dev/null (a stdout sink);
	// standard error still goes to the log.
	DiscardStdout bool
}

// StartProc starts a process as spec says.
func StartProc(spec ProcSpec) (*Proc, error) {
	name, argv := spec.Name, spec.Argv
	if len(argv) == 0 {
		return nil, errors.New("StartProc: empty command")
	}
	if spec.CPUs != "" {
		argv = append([]string{"taskset", "-c", spec.CPUs}, argv...)
	}
	logPath := filepath.Join(spec.LogDir, name+".log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(cleanEnviron(), spec.Env...)
	cmd.Dir = spec.Dir
	cmd.Stdout, cmd.Stderr = lf, lf
	if spec.DiscardStdout {
		cmd.Stdout = nil // os/exec connects a nil Stdout to the null device
	}
	// Its own process group: a Ctrl-C on the harness does not reach it before the harness stops it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, Cmd: cmd, LogPath: logPath, done: make(chan struct{}), logFile: lf}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		lf.Close()
		close(p.done)
	}()
	return p, nil
}

// cleanEnviron is the harness's environment without IGGY_CONNECTORS_* variables, which would
// change what a runtime under test does.
func cleanEnviron() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IGGY_CONNECTORS_") {
			out = append(out, kv)
		}
	}
	return out
}

// Pid is the process id (taskset execs the command in place, so it is the command's).
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the result of Wait (nil while running or after a clean exit).
func (p *Proc) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Stop sends SIGTERM and waits up to grace for the exit, then SIGKILLs. It returns Wait's error when
// the process exited with a failure status on its own accord before or after SIGTERM.
func (p *Proc) Stop(grace time.Duration) error {
	if p.Exited() {
		return p.Err()
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.Err()
	case <-time.After(grace):
		_ = p.Cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %v of SIGTERM (killed)", p.Name, grace)
	}
}

// Kill ends the process at once.
func (p *Proc) Kill() {
	if !p.Exited() {
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// LogTail returns the last n bytes of the process's log (for error messages).
func (p *Proc) LogTail(n int) string {
	b, _ := os.ReadFile(p.LogPath)
	if len(b) > n {
		b = append([]byte("..."), b[len(b)-n:]...)
	}
	return string(b)
}
