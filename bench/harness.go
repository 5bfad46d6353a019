package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
)

// Mode selects how much the harness measures.
type Mode string

// Modes.
const (
	ModeFull  Mode = "full"  // every scenario, 5 interleaved runs, the batch-size sweep: bench/RESULTS.md
	ModeSmoke Mode = "smoke" // every scenario once with tiny windows: proves the harness works (CI)
	ModeSoak  Mode = "soak"  // the 10-minute memory soak (B6 growth)
)

// Config configures a Harness. Paths are absolute.
type Config struct {
	Mode         Mode
	Root         string // repository root
	RuntimeBin   string // iggy-connectors, built with CGO_ENABLED=0
	DevserverBin string // iggy-devserver
	SelfBin      string // the harness binary (baselines run as its hidden subcommands)
	PluginDir    string // directory holding the plugin libraries (build/plugins)
	OutDir       string // results, logs, profiles and (smoke) the report
	PGURL        string // PostgreSQL for B3 ("" = B3 cannot run, which fails the run)
	// Runs is the number of interleaved runs per side (default 5 in full mode, 1 in smoke mode).
	Runs int
	// Only, when not empty, limits the run to these scenarios ("B1" ... "B6").
	Only []string
	// Sweep, when not empty, replaces the batch sizes of B1 and B2 (it should hold 1000, the
	// headline).
	Sweep []int
	// Server, when set (host:port), is an external Iggy server (IGGY_BENCH_SERVER): the harness
	// starts no iggy-devserver, logs in with Username and Password (default iggy/iggy), works in
	// a stream of its own (unique per run) and deletes it at Close. DevserverBin is then unused.
	Server, Username, Password string
	// Original, when its Runtime is set, is the original Rust runtime measured beside ours in the
	// O scenarios (ORIGINAL_RUNTIME).
	Original Original
	Logger   *slog.Logger
}

// Harness runs the scenarios against one Iggy server: an iggy-devserver it starts (and restarts),
// or the external server of Config.Server.
type Harness struct {
	cfg     Config
	log     *slog.Logger
	logDir  string
	workDir string // scratch: connector configs and state of runtime runs (outside the repository)

	// CPU pinning (taskset lists); empty when the machine has a single core or no taskset.
	serverCPUs, measuredCPUs string

	srv     *Proc
	addr    string
	iggy    *iggy.Client
	seq     int // run counter, for unique names
	servers int // servers started

	// stream holds every topic of the run: benchStream on an own devserver, benchStream plus a
	// suffix unique to the run on an external server (deleted at Close).
	stream string
	// server describes the measured Iggy server for the report (set by Start).
	server ServerInfo
}

// New prepares a harness; Start launches the server.
func New(cfg Config) (*Harness, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	need := map[string]string{"runtime binary": cfg.RuntimeBin, "harness binary": cfg.SelfBin, "plugin directory": cfg.PluginDir}
	if cfg.Server == "" {
		need["devserver binary"] = cfg.DevserverBin
	}
	for name, p := range need {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if cfg.Original.Runtime != "" {
		if err := cfg.Original.check(); err != nil {
			return nil, err
		}
	}
	if cfg.Username == "" {
		cfg.Username = "iggy"
	}
	if cfg.Password == "" {
		cfg.Password = "iggy"
	}
	h := &Harness{cfg: cfg, log: cfg.Logger, logDir: filepath.Join(cfg.OutDir, "logs"), stream: benchStream}
	if cfg.Server != "" {
		h.stream = externalStreamName()
	}
	if cfg.Mode != ModeSoak { // a soak shares the full run's directory
		if err := os.RemoveAll(h.logDir); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(h.logDir, 0o755); err != nil {
		return nil, err
	}
	wd, err := os.MkdirTemp("", "iggy-bench-")
	if err != nil {
		return nil, err
	}
	h.workDir = wd
	h.serverCPUs, h.measuredCPUs = pinning()
	return h, nil
}

// pinning chooses the cores: the server on the first, the measured process on the last, when
// there are at least two and taskset exists.
func pinning() (server, measured string) {
	n := OnlineCPUs()
	if n < 2 {
		return "", ""
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return "", ""
	}
	return "0", fmt.Sprint(n - 1)
}

// Pinning describes the CPU placement for the report.
func (h *Harness) Pinning() string {
	if h.cfg.Server != "" {
		measured := "measured process (runtime or baseline) not pinned (single core or no taskset)"
		if h.measuredCPUs != "" {
			measured = fmt.Sprintf("measured process (runtime, original runtime or baseline) on CPU %s (taskset)", h.measuredCPUs)
		}
		return fmt.Sprintf("the external Iggy server is not started by the harness, so its CPU placement is not the harness's to pin (%s); %s",
			h.server.Affinity, measured)
	}
	if h.measuredCPUs == "" {
		return "not pinned (single core or no taskset)"
	}
	return fmt.Sprintf("iggy-devserver on CPU %s, measured process (runtime or baseline) on CPU %s (taskset)", h.serverCPUs, h.measuredCPUs)
}

// Start launches iggy-devserver (in memory) on a free port and connects the harness's client, or,
// with Config.Server, connects to the external server, reads its version and creates the run's
// stream.
func (h *Harness) Start(ctx context.Context) error {
	if h.cfg.Server == "" {
		h.server = ServerInfo{Kind: "iggy-devserver", Address: "127.0.0.1 (a fresh in-memory process per measured part)"}
		return h.startServer(ctx)
	}
	h.addr = h.cfg.Server
	var err error
	if h.iggy, err = h.dial(ctx); err != nil {
		return fmt.Errorf("external Iggy server %s (IGGY_BENCH_SERVER): %w", h.addr, err)
	}
	h.server = describeServer(ctx, h.iggy, h.addr)
	if _, err := h.iggy.CreateStream(ctx, h.stream); err != nil {
		return fmt.Errorf("external Iggy server %s: create stream %s: %w", h.addr, h.stream, err)
	}
	h.log.Info("bench: external Iggy server", "address", h.addr, "version", h.server.Version, "stream", h.stream)
	return nil
}

// Server describes the measured Iggy server (after Start).
func (h *Harness) Server() ServerInfo { return h.server }

// RestartServer replaces the server by a fresh one (on a new port). The in-memory devserver keeps
// every message; a fresh process gives every producing run the same memory state (a server whose
// heap grew in an earlier run serves much faster than one that must fault in new pages, which made
// runs 3x apart), and frees what earlier runs stored. An external server is left alone (the runs
// delete their topics).
func (h *Harness) RestartServer(ctx context.Context) error {
	if h.cfg.Server != "" {
		return nil
	}
	h.stopServer()
	return h.startServer(ctx)
}

func (h *Harness) stopServer() {
	if h.iggy != nil {
		h.iggy.Close()
		h.iggy = nil
	}
	if h.srv != nil {
		if err := h.srv.Stop(5 * time.Second); err != nil {
			h.log.Warn("iggy-devserver stop", "err", err)
		}
		h.srv = nil
	}
}

func (h *Harness) startServer(ctx context.Context) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	h.servers++
	srv, err := StartProc(ProcSpec{Name: fmt.Sprintf("iggy-devserver-%03d", h.servers), LogDir: h.logDir, CPUs: h.serverCPUs,
		Argv: []string{h.cfg.DevserverBin, "--addr", addr, "--log-level", "warn"}})
	if err != nil {
		return err
	}
	h.srv, h.addr = srv, addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if srv.Exited() || time.Now().After(deadline) {
			return fmt.Errorf("iggy-devserver did not listen on %s: %v\n%s", addr, err, srv.LogTail(2000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.iggy, err = h.dial(ctx)
	return err
}

func (h *Harness) dial(ctx context.Context) (*iggy.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return iggy.Dial(dctx, iggy.Config{Address: h.addr, Username: h.cfg.Username, Password: h.cfg.Password,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// Close deletes the run's stream from an external server, stops an own server and removes the
// scratch directory.
func (h *Harness) Close() {
	if h.cfg.Server != "" && h.iggy != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := h.iggy.DeleteStream(ctx, iggy.NamedID(h.stream)); err != nil && !errors.Is(err, iggy.ErrNotFound) {
			h.log.Warn("deleting the benchmark stream from the external Iggy server failed", "stream", h.stream, "err", err)
		}
		cancel()
	}
	h.stopServer()
	os.RemoveAll(h.workDir)
}

// OnlineCPUs is the machine's core count (/sys/devices/system/cpu/online), whatever this process's
// affinity (runtime.NumCPU counts only the cores it may run on, and scripts/bench.sh pins the
// harness to the server's core).
func OnlineCPUs() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return runtime.NumCPU()
	}
	if n, err := countCPUList(strings.TrimSpace(string(b))); err == nil && n > 0 {
		return n
	}
	return runtime.NumCPU()
}

// countCPUList counts the CPUs of a kernel CPU list such as "0-3,6,8-9".
func countCPUList(s string) (int, error) {
	n := 0
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return 0, fmt.Errorf("CPU list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0, fmt.Errorf("CPU list %q: bad range %q", s, part)
			}
		}
		n += b - a + 1
	}
	return n, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (h *Harness) nextName(prefix string) string {
	h.seq++
	return fmt.Sprintf("%s_%03d", prefix, h.seq)
}

// --- Iggy helpers ---------------------------------------------------------------------------------

// benchStream is the stream of every benchmark topic on an own devserver (on an external server,
// a name with a suffix unique to the run: externalStreamName).
const benchStream = "bench"

// createTopic creates <stream>/<topic> with one partition and returns the partition's id.
func (h *Harness) createTopic(ctx context.Context, topic string) (uint32, error) {
	td, err := h.iggy.EnsureTopic(ctx, h.stream, topic, 1)
	if err != nil {
		return 0, fmt.Errorf("create topic %s/%s: %w", h.stream, topic, err)
	}
	if len(td.Partitions) != 1 {
		return 0, fmt.Errorf("topic %s/%s has %d partitions, want 1", h.stream, topic, len(td.Partitions))
	}
	return td.Partitions[0].ID, nil
}

// deleteTopic drops a topic and its messages (the devserver keeps everything in memory).
func (h *Harness) deleteTopic(ctx context.Context, topic string) {
	if err := h.iggy.DeleteTopic(ctx, iggy.NamedID(h.stream), iggy.NamedID(topic)); err != nil && !errors.Is(err, iggy.ErrNotFound) {
		h.log.Warn("deleting a benchmark topic failed", "topic", topic, "err", err)
	}
}

// topicCount is the number of messages in bench/<topic>.
func (h *Harness) topicCount(topic string) func(context.Context) (uint64, error) {
	return func(ctx context.Context) (uint64, error) {
		td, err := h.iggy.GetTopic(ctx, iggy.NamedID(h.stream), iggy.NamedID(topic))
		if err != nil {
			return 0, err
		}
		var n uint64
		for _, p := range td.Partitions {
			n += p.MessagesCount
		}
		return n, nil
	}
}

// groupProgress is the number of messages of bench/<topic> partition the consumer group has
// committed (stored offset + 1; offsets start at 0).
func (h *Harness) groupProgress(topic, group string, partition uint32) func(context.Context) (uint64, error) {
	return func(ctx context.Context) (uint64, error) {
		info, err := h.iggy.GetConsumerOffset(ctx, iggy.GroupConsumerOf(iggy.NamedID(group)), iggy.NamedID(h.stream),
			iggy.NamedID(topic), iggy.Part(partition))
		if errors.Is(err, iggy.ErrNotFound) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		return info.StoredOffset + 1, nil
	}
}

// prefill appends n messages of payload(i) to <stream>/<topic> in batches of 1000, message i with
// id i+1 (the real server keeps an id of 0 as it is, and a PostgreSQL sink's table has the id as its
// primary key).
func (h *Harness) prefill(ctx context.Context, topic string, n int, payload func(i int) []byte) error {
	msgs := make([]iggy.Message, 0, 1000)
	for i := 0; i < n; {
		msgs = msgs[:0]
		for ; i < n && len(msgs) < cap(msgs); i++ {
			msgs = append(msgs, iggy.Message{ID: iggy.IDFromUint64(uint64(i) + 1), Payload: payload(i)})
		}
		if _, err := h.iggy.SendMessages(ctx, iggy.NamedID(h.stream), iggy.NamedID(topic), iggy.Balanced(), msgs); err != nil {
			return fmt.Errorf("prefill %s/%s: %w", h.stream, topic, err)
		}
	}
	return nil
}

// prefilledTopic restarts an own server, creates <stream>/<topic> and fills it with n 1 KB JSON
// records (JSONRecord). It returns the partition and the topic's deletion, to defer.
func (h *Harness) prefilledTopic(ctx context.Context, topic string, n int) (uint32, func(), error) {
	if err := h.RestartServer(ctx); err != nil {
		return 0, nil, err
	}
	part, err := h.createTopic(ctx, topic)
	if err != nil {
		return 0, nil, err
	}
	drop := func() { h.deleteTopic(ctx, topic) }
	start := time.Now()
	if err := h.prefill(ctx, topic, n, func(i int) []byte { return JSONRecord(uint64(i), MessageSize) }); err != nil {
		drop()
		return 0, nil, err
	}
	h.log.Info("bench: topic prefilled", "topic", topic, "messages", n, "took", time.Since(start).Round(time.Millisecond))
	return part, drop, nil
}

// plugin is the path of libiggy_connector_<name>.so in the plugin directory.
func (h *Harness) plugin(name string) string {
	return filepath.Join(h.cfg.PluginDir, "libiggy_connector_"+name+".so")
}

// --- processes ------------------------------------------------------------------------------------

// startRuntime runs `iggy-connectors run` with the given connector files (name → TOML) on a fresh
// config and state directory, HTTP API off, pinned to the measured core. cpuProfile, if set, is
// passed as --cpu-profile.
func (h *Harness) startRuntime(name string, connectors map[string]string, cpuProfile string) (*Proc, error) {
	return h.startRuntimeOpts(name, connectors, cpuProfile, false)
}

// startRuntimeOpts is startRuntime, with standard output sent to /dev/null when discardStdout (a
// stdout sink; the runtime logs to standard error).
func (h *Harness) startRuntimeOpts(name string, connectors map[string]string, cpuProfile string, discardStdout bool) (*Proc, error) {
	dir, cfgDir, err := h.writeConnectors(name, connectors)
	if err != nil {
		return nil, err
	}
	argv := []string{h.cfg.RuntimeBin, "run"}
	if cpuProfile != "" {
		argv = append(argv, "--cpu-profile", cpuProfile)
	}
	env := []string{
		"IGGY_CONNECTORS_IGGY_ADDRESS=" + h.addr,
		"IGGY_CONNECTORS_IGGY_USERNAME=" + h.cfg.Username,
		"IGGY_CONNECTORS_IGGY_PASSWORD=" + h.cfg.Password,
		"IGGY_CONNECTORS_CONNECTORS_CONFIG_DIR=" + cfgDir,
		"IGGY_CONNECTORS_STATE_PATH=" + filepath.Join(dir, "state"),
		"IGGY_CONNECTORS_HTTP_ENABLED=false",
		"IGGY_CONNECTORS_LOGGING_LEVEL=info",
		// An explicit main config path that does not exist: the embedded defaults, whatever
		// configs/config.toml the working directory's parents hold.
		"IGGY_CONNECTORS_CONFIG_PATH=" + filepath.Join(dir, "config.toml"),
	}
	return StartProc(ProcSpec{Name: name, LogDir: h.logDir, CPUs: h.measuredCPUs, Argv: argv, Env: env, Dir: dir, DiscardStdout: discardStdout})
}

// writeConnectors creates the scratch directory of a runtime run (dir) and writes the connector
// files (name → TOML, their benchStream renamed to the run's stream) into dir/connectors (cfgDir).
func (h *Harness) writeConnectors(name string, connectors map[string]string) (dir, cfgDir string, err error) {
	dir = filepath.Join(h.workDir, name)
	cfgDir = filepath.Join(dir, "connectors")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		return "", "", err
	}
	for file, toml := range connectors {
		toml = withStream(toml, benchStream, h.stream)
		if err := os.WriteFile(filepath.Join(cfgDir, file+".toml"), []byte(toml), 0o644); err != nil {
			return "", "", err
		}
	}
	return dir, cfgDir, nil
}

// startBaseline runs the harness binary in one of its baseline modes, pinned like the runtime,
// with the server's address, stream and credentials (baselineEnv).
func (h *Harness) startBaseline(name string, args ...string) (*Proc, error) {
	return StartProc(ProcSpec{Name: name, LogDir: h.logDir, CPUs: h.measuredCPUs,
		Argv: append([]string{h.cfg.SelfBin}, args...), Dir: h.workDir,
		Env: []string{baselineUserEnv + "=" + h.cfg.Username, baselinePassEnv + "=" + h.cfg.Password, baselineStreamEnv + "=" + h.stream}})
}

// --- external server ------------------------------------------------------------------------------

// The environment of the baseline processes: the server's credentials and the run's stream (the
// credentials' names are those scripts/bench.sh reads from the user).
const (
	baselineUserEnv   = "IGGY_BENCH_USERNAME"
	baselinePassEnv   = "IGGY_BENCH_PASSWORD"
	baselineStreamEnv = "IGGY_BENCH_STREAM"
)

// baselineStream is the stream a baseline process works in (IGGY_BENCH_STREAM, set by the harness;
// benchStream without it).
func baselineStream() string {
	if s := os.Getenv(baselineStreamEnv); s != "" {
		return s
	}
	return benchStream
}

// externalStreamName is benchStream plus a suffix unique to this run, so that runs sharing an
// external server never touch each other's topics.
func externalStreamName() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%s-%s", benchStream, time.Now().UTC().Format("20060102T150405"), hex.EncodeToString(b[:]))
}

// streamLine matches a connector file's `stream = "NAME"` line.
var streamLine = regexp.MustCompile(`(?m)^(stream\s*=\s*)"([^"]*)"`)

// withStream renames stream from in a connector file to to (the harness's stream on an external
// server).
func withStream(toml, from, to string) string {
	if from == to {
		return toml
	}
	return streamLine.ReplaceAllStringFunc(toml, func(line string) string {
		m := streamLine.FindStringSubmatch(line)
		if m[2] != from {
			return line
		}
		return m[1] + strconv.Quote(to)
	})
}

// ServerInfo describes the measured Iggy server in the report.
type ServerInfo struct {
	Kind    string `json:"kind"`    // "iggy-devserver" or "external"
	Address string `json:"address"` // host:port
	// Version is the server's version as its stats report it ("" when unknown).
	Version string `json:"version,omitempty"`
	// Affinity is what the harness could learn of the server's CPU placement (an external server
	// on this machine: its process's allowed CPUs).
	Affinity string `json:"affinity,omitempty"`
}

// describeServer asks an external server for its version (GetStats) and, when it runs on this
// machine, reads its process's allowed CPUs from /proc.
func describeServer(ctx context.Context, c *iggy.Client, addr string) ServerInfo {
	si := ServerInfo{Kind: "external", Address: addr, Affinity: "its placement is unknown to the harness"}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := c.GetStats(sctx)
	if err != nil {
		si.Version = fmt.Sprintf("unknown (get stats: %v)", err)
		return si
	}
	si.Version = strings.TrimSpace(st.ServerVersion)
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.ProcessID)); err == nil {
			if cpus := statusField(string(b), "Cpus_allowed_list"); cpus != "" {
				si.Affinity = fmt.Sprintf("its process %d on this machine may run on CPU %s", st.ProcessID, cpus)
			}
		}
	}
	return si
}

// statusField is the value of key in a /proc/<pid>/status text ("" when absent).
func statusField(status, key string) string {
	for _, l := range strings.Split(status, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// demoStream is the stream of configs/demo/connectors.
const demoStream = "demo_stream"

// demoStream is where B6 runs the demo pipeline: its own stream on an own devserver, the run's
// stream on an external server (so that Close deletes it).
func (h *Harness) demoStream() string {
	if h.cfg.Server != "" {
		return h.stream
	}
	return demoStream
}
