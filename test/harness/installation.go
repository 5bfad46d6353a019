package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// stopTimeout is how long Installation.Stop waits after SIGTERM.
const stopTimeout = 30 * time.Second

// Installation is one iggy-connectors installation that an end-to-end test starts, kills (kill -9),
// stops and restarts: a fresh temporary work directory (empty, so no configs/config.toml or .env is
// found and the embedded defaults apply) holding the connector config directory (ConfigDir) and the
// state directory (StateDir), one Log that every start appends to, and a start counter.
//
// Each Start runs `runtimeBin run` with RuntimeEnv and these settings, in this order (of two
// settings of a variable the later wins):
//
//	IGGY_CONNECTORS_IGGY_ADDRESS=<iggyAddr>
//	IGGY_CONNECTORS_CONNECTORS_CONFIG_DIR=<ConfigDir>
//	IGGY_CONNECTORS_STATE_PATH=<StateDir>
//	IGGY_CONNECTORS_HTTP_ENABLED=false
//	IGGY_CONNECTORS_ENV_PATH=<work dir>/none.env (a file that does not exist)
//	IGGY_DISPLAY_CONFIG=false
//	IGGY_CONNECTORS_LOGGING_LEVEL=info
//	env... (given to NewInstallation: e.g. IggyEnv(iggyAddr) for an external server's credentials
//	and TLS, another log level, the HTTP API on)
//
// An Installation belongs to one test goroutine: its methods that fail the test (NewInstallation,
// WriteConnector, Start, Stop, Alive) must be called from the test's goroutine; Exited, Starts,
// Count and the accessors may be called from any goroutine. The process still running when the
// test ends is killed (SIGKILL) by Start's cleanup.
type Installation struct {
	tb        testing.TB
	name      string
	bin       string
	iggyAddr  string
	workDir   string
	configDir string
	stateDir  string
	env       []string
	log       *Log
	proc      *Proc
	starts    int
}

// NewInstallation creates the directories of an installation named name (the name of its Log and
// of its messages; "runtime" when there is one), writes the connector files (file name → TOML) into
// ConfigDir, and returns it not started. env is appended to the settings of every start.
func NewInstallation(tb testing.TB, name, runtimeBin, iggyAddr string, files map[string]string, env ...string) *Installation {
	tb.Helper()
	base := tb.TempDir()
	in := &Installation{tb: tb, name: name, bin: runtimeBin, iggyAddr: iggyAddr, workDir: base,
		configDir: filepath.Join(base, "connectors"), stateDir: filepath.Join(base, "state"),
		env: env, log: NewLog(tb, name)}
	if err := os.MkdirAll(in.configDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	for file, body := range files {
		in.WriteConnector(file, body)
	}
	return in
}

// WriteConnector writes (or replaces) the connector file file in ConfigDir; the runtime reads it at
// its next start.
func (in *Installation) WriteConnector(file, body string) {
	in.tb.Helper()
	if err := os.WriteFile(filepath.Join(in.configDir, file), []byte(body), 0o644); err != nil {
		in.tb.Fatal(err)
	}
}

// Start starts the runtime (see Installation for its settings), after a line
// "=== <name> #<n> started <time>" in the Log. It fails the test when the runtime is already running.
func (in *Installation) Start() {
	in.tb.Helper()
	if in.proc != nil && !in.proc.Exited() {
		in.tb.Fatalf("%s is already running", in.name)
	}
	cmd := RuntimeCmd(in.bin, in.workDir, append([]string{
		"IGGY_CONNECTORS_IGGY_ADDRESS=" + in.iggyAddr,
		"IGGY_CONNECTORS_CONNECTORS_CONFIG_DIR=" + in.configDir,
		"IGGY_CONNECTORS_STATE_PATH=" + in.stateDir,
		"IGGY_CONNECTORS_HTTP_ENABLED=false",
		"IGGY_CONNECTORS_ENV_PATH=" + filepath.Join(in.workDir, "none.env"),
		"IGGY_DISPLAY_CONFIG=false",
		"IGGY_CONNECTORS_LOGGING_LEVEL=info",
	}, in.env...)...)
	in.starts++
	fmt.Fprintf(in.log, "=== %s #%d started %s\n", in.name, in.starts, time.Now().Format(time.RFC3339Nano))
	in.proc = Start(in.tb, cmd, in.log)
}

// Kill kills the runtime with SIGKILL (kill -9) unless it has ended, and waits until it has. It
// does nothing before the first Start.
func (in *Installation) Kill() {
	if in.proc != nil {
		in.proc.Kill()
	}
}

// Stop stops the runtime gracefully (SIGTERM) and waits; it fails the test when the runtime does
// not end within 30 s (it is then killed).
func (in *Installation) Stop() {
	in.tb.Helper()
	if !in.proc.Stop(stopTimeout) {
		in.tb.Fatalf("%s did not stop within 30s of SIGTERM", in.name)
	}
}

// Exited reports whether the runtime of the last Start has ended.
func (in *Installation) Exited() bool { return in.proc.Exited() }

// Alive fails the test when the runtime of the last Start has ended.
func (in *Installation) Alive() {
	in.tb.Helper()
	if in.proc.Exited() {
		in.tb.Fatalf("%s exited: %v", in.name, in.proc.Err())
	}
}

// Proc is the process of the last Start (nil before the first).
func (in *Installation) Proc() *Proc { return in.proc }

// Log is the output of every start.
func (in *Installation) Log() *Log { return in.log }

// Count is the number of log lines that contain every one of parts.
func (in *Installation) Count(parts ...string) int { return len(in.log.Lines(parts...)) }

// Starts is how many times Start was called.
func (in *Installation) Starts() int { return in.starts }

// Name is the installation's name.
func (in *Installation) Name() string { return in.name }

// IggyAddr is the Iggy server address the runtime connects to.
func (in *Installation) IggyAddr() string { return in.iggyAddr }

// ConfigDir is the connector config directory (IGGY_CONNECTORS_CONNECTORS_CONFIG_DIR).
func (in *Installation) ConfigDir() string { return in.configDir }

// StateDir is the runtime's state directory (IGGY_CONNECTORS_STATE_PATH).
func (in *Installation) StateDir() string { return in.stateDir }

// WorkDir is the runtime's working directory, which holds ConfigDir and StateDir.
func (in *Installation) WorkDir() string { return in.workDir }
