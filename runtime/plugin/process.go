package plugin

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/iggy-go/connectors/abi"
)

// child is one running plugin-host process.
type child struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	bw      *bufio.Writer
	replies *os.File
	br      *bufio.Reader
	buf     []byte
	done    chan struct{} // closed once the process has exited and been reaped
	info    abi.PluginInfo
	flags   byte
	fatal   string // first line of the child's stderr that names a fatal signal or error

	killOnce sync.Once
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) kill() {
	c.killOnce.Do(func() { _ = c.cmd.Process.Kill() })
}

// exitReason waits (briefly) for the process to end and describes how it ended.
func (c *child) exitReason() string {
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
		c.kill()
		<-c.done
	}
	st := c.cmd.ProcessState
	reason := "unknown exit status"
	if ws, ok := st.Sys().(syscall.WaitStatus); st != nil && ok && ws.Signaled() {
		reason = "killed by signal " + ws.Signal().String()
	} else if st != nil {
		reason = st.String()
	}
	if c.fatal != "" { // written before exit; done is closed after stderr hit EOF
		reason += " (" + c.fatal + ")"
	}
	return reason
}

// isFatalLine recognises what a dying process prints: a Go runtime's "SIGABRT: abort",
// "fatal error: ...", "panic: ...", or a C library's "... Aborted".
func isFatalLine(l string) bool {
	return strings.HasPrefix(l, "SIG") || strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "panic:") ||
		strings.HasPrefix(l, "fatal: ")
}

// stop closes the request pipe (the host exits on EOF) and waits up to grace before killing it.
func (c *child) stop(grace time.Duration) {
	_ = c.stdin.Close()
	select {
	case <-c.done:
	case <-time.After(grace):
		c.kill()
		<-c.done
	}
	_ = c.replies.Close()
}

// startChild runs `<exe> plugin-host --library <path>` and reads its hello. log receives the child's
// stderr, line by line. A child that does not say hello within the context's deadline (or 30 s) is
// killed.
//
// shm, when not nil, is the instance's shared batch region: the child gets it as file descriptor 4
// (named by IGGY_PLUGIN_HOST_SHM_FD) and says in its hello whether it mapped it.
func startChild(ctx context.Context, path string, opts *Options, log *slog.Logger, shm *shmRegion) (*child, error) {
	exe := opts.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, &LoadError{Library: path, Reason: ErrHost, Detail: fmt.Sprintf("cannot find the runtime executable to run the plugin host: %v", err)}
		}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, &LoadError{Library: path, Reason: ErrHost, Detail: err.Error()}
	}
	cmd := exec.Command(exe, HostCommand, "--library", path)
	cmd.Stdout = opts.Stdout
	if cmd.Stdout == nil {
		cmd.Stdout = os.Stdout
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		pr.Close()
		pw.Close()
		return nil, &LoadError{Library: path, Reason: ErrHost, Detail: err.Error()}
	}
	cmd.ExtraFiles = []*os.File{pw}
	if shm != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, shm.f)
		cmd.Env = append(os.Environ(), shmFDEnv+"=4")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // terminal signals go to the runtime, which stops children itself
	sr, stdin, err := os.Pipe()
	if err != nil {
		pr.Close()
		pw.Close()
		return nil, &LoadError{Library: path, Reason: ErrHost, Detail: err.Error()}
	}
	cmd.Stdin = sr
	setPipeSize(stdin)
	setPipeSize(pw)
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		sr.Close()
		stdin.Close()
		return nil, &LoadError{Library: path, Reason: ErrHost, Detail: fmt.Sprintf("cannot start the plugin host %q: %v", exe, err)}
	}
	pw.Close()
	sr.Close()
	c := &child{cmd: cmd, stdin: stdin, bw: bufio.NewWriterSize(stdin, 64<<10), replies: pr,
		br: bufio.NewReaderSize(pr, 64<<10), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if c.fatal == "" && isFatalLine(line) {
				c.fatal = line
			}
			log.Warn("plugin process stderr", "pid", cmd.Process.Pid, "line", line)
		}
		_ = cmd.Wait()
		close(c.done)
	}()

	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	stop := context.AfterFunc(hctx, c.kill)
	c.buf, err = readFrame(c.br, c.buf)
	stop()
	if err != nil {
		reason := c.exitReason()
		c.stop(0)
		if hctx.Err() != nil {
			return nil, &LoadError{Library: path, Reason: ErrHost, Detail: fmt.Sprintf("the plugin host did not start in time (%v)", hctx.Err())}
		}
		return nil, &LoadError{Library: path, Reason: ErrHost, Detail: fmt.Sprintf("the plugin host process exited while loading the library (%s)", reason)}
	}
	status, out, extra, err := parseReply(c.buf)
	if err == nil && status == helloFailed && len(out) > 0 {
		c.stop(5 * time.Second)
		reason := ErrHost
		if int(out[0]) < len(loadReasons) && loadReasons[out[0]] != nil {
			reason = loadReasons[out[0]]
		}
		return nil, &LoadError{Library: path, Reason: reason, Detail: string(out[1:])}
	}
	if err == nil && status == helloOK {
		err = abi.Unmarshal(out, &c.info)
	} else if err == nil {
		err = fmt.Errorf("unexpected hello status %d", status)
	}
	if err != nil {
		c.stop(0)
		return nil, &LoadError{Library: path, Reason: ErrHost, Detail: fmt.Sprintf("bad hello from the plugin host: %v", err)}
	}
	if len(extra) > 0 {
		c.flags = extra[0]
	}
	return c, nil
}

// roundTrip sends one request and reads its reply. A context that ends during the call kills the
// child (a plugin call cannot be interrupted otherwise). On any failure the child is unusable.
func (c *child) roundTrip(ctx context.Context, o op, id uint32, arg uint64, in1, in2 []byte) (st abi.Status, out, logs []byte, err error) {
	stop := context.AfterFunc(ctx, c.kill)
	if err = writeRequest(c.bw, o, id, arg, in1, in2); err == nil {
		c.buf, err = readFrame(c.br, c.buf)
	}
	if !stop() && err == nil {
		// The context ended just as the reply arrived: the kill may be under way. The reply is
		// good; the child is not, which the next call notices.
		c.kill()
	}
	if err != nil {
		return 0, nil, nil, err
	}
	s, out, logs, err := parseReply(c.buf)
	if err != nil {
		c.kill()
		return 0, nil, nil, err
	}
	// out and logs alias c.buf, which the next call reuses: callers decode them before that.
	return abi.Status(s), out, logs, nil
}

// procBackend runs one instance in its own plugin-host process and restarts it when it dies.
type procBackend struct {
	lib    *Library
	inst   *inst
	child  *child
	open   bool // the instance is open in the current child
	reopen func() (op, []byte, []byte, error)

	shm      *shmRegion // shared batch region of a sink, kept across child restarts (nil: none)
	image    bool       // the last encodeBuf asked for a batch image (the child's plugin takes refs)
	failures int        // consecutive failures (deaths, failed restarts)
	retryAt  time.Time  // earliest next restart
	gen      uint64     // incremented on every restart
}

func (b *procBackend) generation() uint64 { return b.gen }

// ensure makes sure a child runs and has the instance open, restarting it (after the backoff delay)
// when it died.
func (b *procBackend) ensure(ctx context.Context, o op) error {
	if b.child != nil {
		select {
		case <-b.child.done: // exited between calls (killed after a cancelled call, or crashed idle)
			reason := b.child.exitReason()
			b.inst.log.Warn("plugin process exited between calls", "library", b.lib.path, "pid", b.child.pid(), "exit", reason)
			b.child.stop(0)
			b.child, b.open = nil, false
			b.failed()
		default:
		}
	}
	if b.child != nil && b.open {
		return nil
	}
	if b.child == nil {
		if wait := time.Until(b.retryAt); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return b.inst.transportError(o, abi.StatusRetryable, CodeTransport, "cancelled while waiting to restart the plugin process", ctx.Err())
			case <-t.C:
			}
		}
		c, err := startChild(ctx, b.lib.path, &b.lib.opts, b.inst.log, b.shm)
		if err != nil {
			b.failed()
			return b.inst.transportError(o, abi.StatusRetryable, CodeProcessDied, "cannot restart the plugin process: "+err.Error(), err)
		}
		b.child = c
		b.gen++
		n := b.lib.restarts.Add(1)
		b.inst.restarts.Add(1)
		b.inst.log.Warn("plugin process restarted", "library", b.lib.path, "pid", c.pid(), "restarts", n, "consecutive_failures", b.failures)
	}
	ro, in1, in2, err := b.reopen()
	if err != nil {
		return b.inst.transportError(o, abi.StatusRetryable, CodeTransport, "cannot get the state to reopen the instance: "+err.Error(), err)
	}
	st, out, err := b.raw(ctx, ro, 0, in1, in2)
	if err != nil {
		return err
	}
	if st != abi.StatusOK {
		b.failed()
		return b.inst.callError(ro, st, errorRecord(st, out))
	}
	b.open = true
	return nil
}

func (b *procBackend) failed() {
	b.failures++
	b.retryAt = time.Now().Add(b.lib.opts.RestartBackoff.Delay(b.failures))
}

// raw makes one call in the current child; a dead child becomes a retryable CallError.
func (b *procBackend) raw(ctx context.Context, o op, arg uint64, in1, in2 []byte) (abi.Status, []byte, error) {
	c := b.child
	wo := o
	if o == opSinkConsume {
		if b.image {
			wo = opSinkConsumeImage
		}
		if b.shm != nil && c.flags&helloFlagShm != 0 && len(in1) > 0 && unsafe.SliceData(in1) == unsafe.SliceData(b.shm.mem) {
			arg, in1 = uint64(len(in1)), nil // the batch is in the region already
			if wo == opSinkConsume {
				wo = opSinkConsumeShm
			}
		}
	}
	st, out, logs, err := c.roundTrip(ctx, wo, b.inst.id, arg, in1, in2)
	if err != nil {
		reason := c.exitReason()
		c.stop(0)
		b.child, b.open = nil, false
		b.failed()
		if ctx.Err() != nil {
			return 0, nil, b.inst.transportError(o, abi.StatusRetryable, CodeTransport,
				fmt.Sprintf("call abandoned (%v): the plugin process (pid %d) was killed and will be restarted", ctx.Err(), c.pid()), ctx.Err())
		}
		msg := fmt.Sprintf("the plugin process (pid %d) died during %s: %s; it will be restarted in %s",
			c.pid(), o, reason, time.Until(b.retryAt).Round(time.Millisecond))
		b.inst.log.Error("plugin process died", "library", b.lib.path, "pid", c.pid(), "op", o.String(), "exit", reason)
		return 0, nil, b.inst.transportError(o, abi.StatusRetryable, CodeProcessDied, msg, err)
	}
	emitLogBatch(logs, b.inst.route, b.inst.log)
	return st, out, nil
}

// release: out of the last call views the child's reply buffer, which only the next call reuses.
func (b *procBackend) release() {}

// call makes one call in the child. ref must be nil: batches cross the pipe as CBOR (the child
// passes them on by reference itself when its plugin speaks ABI 1.1).
func (b *procBackend) call(ctx context.Context, o op, arg uint64, in1, in2 []byte, _ *abi.SinkBatchRef) (abi.Status, []byte, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, b.inst.transportError(o, abi.StatusRetryable, CodeTransport, "cancelled before the call", err)
	}
	if (o == opSinkClose || o == opSourceClose) && (b.child == nil || !b.open) {
		return abi.StatusOK, nil, nil // nothing to close: the process is gone
	}
	if o != opSinkOpen && o != opSourceOpen {
		if err := b.ensure(ctx, o); err != nil {
			return 0, nil, err
		}
	}
	st, out, err := b.raw(ctx, o, arg, in1, in2)
	if err == nil {
		b.failures = 0
		if o == opSinkOpen || o == opSourceOpen {
			b.open = st == abi.StatusOK
		}
	}
	return st, out, err
}

// drainIdle drains the child's logs when it is alive (called with the instance lock held).
func (b *procBackend) drainIdle() {
	if b.child == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, _ = b.raw(ctx, opDrainLogs, 0, nil, nil)
}

// encodeBuf: a sink encodes its batches straight into the shared region (none after shutdown), as
// an image when the child's plugin takes batches by reference (the child then only relocates the
// descriptors instead of decoding CBOR: it never touches a payload the plugin does not read).
func (b *procBackend) encodeBuf() ([]byte, bool) {
	b.image = b.child != nil && b.child.flags&helloFlagSinkRef != 0
	if b.shm == nil {
		return nil, b.image
	}
	return b.shm.mem[:0], b.image
}

func (b *procBackend) shutdown() {
	if b.child != nil {
		b.child.stop(5 * time.Second)
		b.child = nil
	}
	b.shm.close()
	b.shm = nil
}

// probe starts a short-lived host to load the library (Open) or validate a config.
func probe(ctx context.Context, path string, opts *Options, log *slog.Logger, fn func(c *child) error) error {
	c, err := startChild(ctx, path, opts, log, nil)
	if err != nil {
		return err
	}
	defer c.stop(5 * time.Second)
	return fn(c)
}

// pipeSize is the kernel buffer asked for the transport's pipes (Linux F_SETPIPE_SZ), so that a batch
// of a few hundred kilobytes crosses in one or two writes instead of sixteen 64 KiB ones.
const pipeSize = 1 << 20

func setPipeSize(f *os.File) {
	if runtime.GOOS != "linux" {
		return
	}
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, fd, 1031 /* F_SETPIPE_SZ */, pipeSize)
		})
	}
}
