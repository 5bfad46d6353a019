package harness

import (
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

// DevserverOptions configure StartDevserver.
type DevserverOptions struct {
	Bin      string // the iggy-devserver binary; "" builds it (pluginbuild.Devserver)
	Addr     string // listen address; "" picks a free port (and another one should it be taken first)
	DataDir  string // where it persists (survives kill -9); "" keeps everything in memory
	LogLevel string // --log-level; "" means warn
	// HeartbeatInterval is --heartbeat-interval (consumer-group members silent for 1.2x this are
	// evicted); 0 keeps the server's default (30s).
	HeartbeatInterval time.Duration
	Fsync             bool // --fsync: every write is synced before the reply (slower replies, as on a real server)
}

// Devserver is an iggy-devserver child process (root user iggy/iggy), restartable on the same
// address and data directory. Its output goes to one Log across restarts. In external-server mode
// (External) it stands for the external server instead: nothing is started, and Start, Kill and
// Stop skip the test.
type Devserver struct {
	Addr     string
	Log      *Log
	External bool // the external server of IGGY_TEST_SERVER_ADDRESS, not a child process
	tb       testing.TB
	opts     DevserverOptions
	proc     *Proc
	runs     int
}

// StartDevserver starts iggy-devserver and waits until it listens (failing the test if it exits
// or does not listen within 15 s). In external-server mode it starts nothing and returns the
// external server (whatever o asks for): a test that restarts the server calls NeedsOwnServer
// first, or is skipped when it calls Start, Kill or Stop.
func StartDevserver(tb testing.TB, o DevserverOptions) *Devserver {
	tb.Helper()
	if e := External(); e != nil {
		return &Devserver{Addr: e.Addr, Log: NewLog(tb, "external-iggy"), External: true, tb: tb, opts: o}
	}
	if o.Bin == "" {
		o.Bin = pluginbuild.Devserver(tb)
	}
	if o.LogLevel == "" {
		o.LogLevel = "warn"
	}
	d := &Devserver{Addr: o.Addr, Log: NewLog(tb, "devserver"), tb: tb, opts: o}
	d.Start()
	return d
}

// Start runs the server again (after Kill or Stop) on the same address and data directory, and
// waits until it listens.
func (d *Devserver) Start() {
	d.tb.Helper()
	d.ownServer()
	pick := d.Addr == "" // the first start without an address: a taken port is retried
	for attempt := 1; ; attempt++ {
		addr := d.Addr
		if pick {
			addr = FreeAddr(d.tb)
		}
		d.runs++
		args := []string{"--addr", addr, "--log-level", d.opts.LogLevel}
		if d.opts.DataDir != "" {
			args = append(args, "--data-dir", d.opts.DataDir)
		}
		if d.opts.HeartbeatInterval > 0 {
			args = append(args, "--heartbeat-interval", d.opts.HeartbeatInterval.String())
		}
		if d.opts.Fsync {
			args = append(args, "--fsync")
		}
		fmt.Fprintf(d.Log, "=== iggy-devserver run %d on %s, %s\n", d.runs, addr, time.Now().Format(time.RFC3339Nano))
		p := Start(d.tb, exec.Command(d.opts.Bin, args...), d.Log)
		if listening(p, addr, 15*time.Second) {
			d.Addr, d.proc = addr, p
			return
		}
		p.Kill()
		if !pick || attempt == 3 {
			d.tb.Fatalf("iggy-devserver did not listen on %s (exit: %v)", addr, p.Err())
		}
	}
}

// ownServer skips the test when d is the external server (it cannot be restarted or killed).
func (d *Devserver) ownServer() {
	d.tb.Helper()
	if d.External {
		NeedsOwnServer(d.tb)
	}
}

// listening waits until addr accepts connections while p runs.
func listening(p *Proc, addr string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && !p.Exited() {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// Kill ends the server with SIGKILL (what it acknowledged survives when it has a data directory).
func (d *Devserver) Kill() {
	d.tb.Helper()
	d.ownServer()
	if d.proc != nil {
		d.proc.Kill()
	}
}

// Stop ends the server with SIGTERM (a clean stop), failing the test if it takes over 30 s.
func (d *Devserver) Stop() {
	d.tb.Helper()
	d.ownServer()
	if d.proc != nil && !d.proc.Stop(30*time.Second) {
		d.tb.Errorf("iggy-devserver did not stop within 30s of SIGTERM")
	}
}

// Client connects the project's Go client to the server (as iggy/iggy, or with the external
// server's credentials); it is closed when the test ends.
func (d *Devserver) Client(tb testing.TB) *iggy.Client {
	tb.Helper()
	return Dial(tb, d.Addr)
}
