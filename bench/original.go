package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
)

// The O scenarios measure this runtime beside the original Rust runtime (apache/iggy
// core/connectors, binary iggy-connectors) with the same connectors, interleaved like the
// baselines: O1 source path (random source → Iggy), O2 sink path (Iggy → stdout sink), O3 Iggy →
// PostgreSQL sink. In their pairs Ours is this runtime and Baseline the original.

// Original is the original runtime and its plugins.
type Original struct {
	Runtime   string // the original iggy-connectors binary ("" = the O scenarios do not run)
	PluginDir string // holds libiggy_connector_<name>.so of originalPlugins (default: Runtime's directory)
}

// originalPlugins are the original's plugins the O scenarios load.
var originalPlugins = []string{"random_source", "stdout_sink", "postgres_sink"}

// check verifies that the binary and the plugins exist.
func (o *Original) check() error {
	if _, err := os.Stat(o.Runtime); err != nil {
		return fmt.Errorf("original runtime (ORIGINAL_RUNTIME): %w", err)
	}
	if o.PluginDir == "" {
		o.PluginDir = filepath.Dir(o.Runtime)
	}
	for _, name := range originalPlugins {
		if _, err := os.Stat(o.plugin(name)); err != nil {
			return fmt.Errorf("original runtime's %s plugin (ORIGINAL_PLUGINS_DIR): %w", name, err)
		}
	}
	return nil
}

func (o Original) plugin(name string) string {
	return filepath.Join(o.PluginDir, "libiggy_connector_"+name+".so")
}

// Version is the first line of `iggy-connectors --version` of the original.
func (o Original) Version(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, o.Runtime, "--version").Output()
	if err != nil {
		return "unknown (--version failed)"
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

// OScenarios are the scenarios that need the original runtime.
var OScenarios = []string{"O1", "O2", "O3"}

// startOriginal runs the original runtime with the given connector files (name → TOML) on a fresh
// config and state directory, pinned to the measured core. Its logs go to standard output, so with
// discardStdout (a stdout sink) the harness sees only what it writes to
// standard error.
func (h *Harness) startOriginal(name string, connectors map[string]string, discardStdout bool) (*Proc, error) {
	dir, cfgDir, err := h.writeConnectors(name, connectors)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "config.toml")
	cfg := originalConfigTOML(h.addr, h.cfg.Username, h.cfg.Password, filepath.Join(dir, "state"), cfgDir)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	env := []string{
		"IGGY_CONNECTORS_CONFIG_PATH=" + cfgPath,
		// A dotenv file that does not exist: nothing is loaded (without it the original loads the
		// first .env of the working directory's parents).
		"IGGY_CONNECTORS_ENV_PATH=" + filepath.Join(dir, "no.env"),
		"NO_COLOR=1",
	}
	return StartProc(ProcSpec{Name: name, LogDir: h.logDir, CPUs: h.measuredCPUs, Argv: []string{h.cfg.Original.Runtime},
		Env: env, Dir: dir, DiscardStdout: discardStdout})
}

// originalLogError returns a check that fails when the original's log holds an ERROR line.
func originalLogError(p *Proc) func() error { return logLine(p, " ERROR ", " (the original runtime)") }

// stopOriginal stops the original gracefully and fails when it exited badly.
func stopOriginal(p *Proc) error { return stopWithin(p, 15*time.Second) }

// side names a runtime in the O scenarios' process names.
func side(original bool) string {
	if original {
		return "original"
	}
	return "ours"
}

// startSide starts this runtime or the original with one connector file, rendered by connector
// with the side's plugin library (plugin name → path). It returns how to stop the process and the
// check of its log for Window.Check (nil when its logs are discarded with standard output).
func (h *Harness) startSide(original bool, name string, connector func(plugin func(string) string) string,
	discardStdout bool) (p *Proc, stop func(*Proc) error, check func() error, err error) {
	files := func(plugin func(string) string) map[string]string {
		return map[string]string{"connector": connector(plugin)}
	}
	if original {
		p, err = h.startOriginal(name, files(h.cfg.Original.plugin), discardStdout)
		if err == nil && !discardStdout {
			check = originalLogError(p)
		}
		return p, stopOriginal, check, err
	}
	p, err = h.startRuntimeOpts(name, files(h.plugin), "", discardStdout)
	if err == nil {
		check = logError(p)
	}
	return p, stopRuntime, check, err
}

// --- O1 -------------------------------------------------------------------------------------------

func (h *Harness) runO1(ctx context.Context, pl plan, r *Results) error {
	checked := map[bool]bool{}
	for rep := 0; rep < pl.runs; rep++ {
		run := func(original bool) func() (Measurement, error) {
			return func() (Measurement, error) {
				m, err := h.randomSourceRun(ctx, original, pl.window, !checked[original])
				checked[original] = true
				return m, err
			}
		}
		pair, err := interleave(rep, run(false), run(true))
		if err != nil {
			return fmt.Errorf("run %d: %w", rep+1, err)
		}
		r.O1 = append(r.O1, pair)
		h.log.Info("O1", "run", rep+1, "ours_msgs_s", int(pair.Ours.Rate()), "original_msgs_s", int(pair.Baseline.Rate()))
	}
	return nil
}

// randomSourceRun measures one O1 run: either runtime's random source producing into a fresh topic,
// watched through the topic's message count. checkRecord verifies the records' shape and size.
func (h *Harness) randomSourceRun(ctx context.Context, original bool, w Window, checkRecord bool) (Measurement, error) {
	if err := h.RestartServer(ctx); err != nil {
		return Measurement{}, err
	}
	name := h.nextName("o1_" + side(original))
	if _, err := h.createTopic(ctx, name); err != nil {
		return Measurement{}, err
	}
	defer h.deleteTopic(ctx, name)
	p, stop, check, err := h.startSide(original, name, func(plugin func(string) string) string {
		return randomSourceTOML(plugin("random_source"), h.stream, name, HeadlineBatch, original)
	}, false)
	if err != nil {
		return Measurement{}, err
	}
	defer p.Kill()
	w.Check = check
	m, err := Measure(ctx, p, h.topicCount(name), w)
	if err != nil {
		return m, err
	}
	if err := stop(p); err != nil {
		return m, err
	}
	if checkRecord {
		if err := h.checkRandomRecord(ctx, name, side(original)); err != nil {
			return m, err
		}
	}
	return m, nil
}

// checkRandomRecord verifies that the first message of topic is a random source record of
// MessageSize bytes: {"id": <uuid>, "title": "Hello", "name": "World", "text": <alphanumerics>}.
func (h *Harness) checkRandomRecord(ctx context.Context, topic, who string) error {
	td, err := h.iggy.GetTopic(ctx, iggy.NamedID(h.stream), iggy.NamedID(topic))
	if err != nil {
		return err
	}
	res, err := h.iggy.PollMessages(ctx, iggy.NamedID(h.stream), iggy.NamedID(topic), iggy.SingleConsumer(1),
		iggy.Part(td.Partitions[0].ID), iggy.StrategyOffset(0), 1, false)
	if err != nil {
		return err
	}
	if len(res.Messages) != 1 {
		return fmt.Errorf("O1 %s: no message to check in %s", who, topic)
	}
	return CheckRandomRecord(res.Messages[0].Payload)
}

// CheckRandomRecord verifies that p is a random source record of MessageSize bytes with random
// text: both runtimes' sources must produce the same kind of message for O1 to compare them.
func CheckRandomRecord(p []byte) error {
	var rec struct{ ID, Title, Name, Text string }
	if err := json.Unmarshal(p, &rec); err != nil {
		return fmt.Errorf("the random source's record is not JSON (%v): %.80q", err, p)
	}
	switch {
	case len(p) != MessageSize:
		return fmt.Errorf("the random source's record has %d bytes, want %d: %.80q", len(p), MessageSize, p)
	case len(rec.ID) != 36 || rec.Title != "Hello" || rec.Name != "World":
		return fmt.Errorf("the random source's record has id %q, title %q, name %q: want a UUID, Hello, World", rec.ID, rec.Title, rec.Name)
	case len(rec.Text) != ZeroCostTextSize(MessageSize) || strings.Trim(rec.Text, alnum) != "":
		return fmt.Errorf("the random source's text has %d bytes %.40q..., want %d alphanumerics", len(rec.Text), rec.Text, ZeroCostTextSize(MessageSize))
	case strings.HasPrefix(rec.Text, ZeroCostTextPrefix()):
		return errors.New("the random source's text is the zero_cost pattern, not random text")
	}
	return nil
}

// ZeroCostTextPrefix is the first 32 characters of the zero_cost generator's text.
func ZeroCostTextPrefix() string { return alnum[:32] }

// --- O2 -------------------------------------------------------------------------------------------

const o2Topic = "o2"

func (h *Harness) runO2(ctx context.Context, pl plan, r *Results) error {
	part, drop, err := h.prefilledTopic(ctx, o2Topic, pl.o2Prefill)
	if err != nil {
		return err
	}
	defer drop()
	w := pl.window
	w.End = uint64(pl.o2Prefill)
	for rep := 0; rep < pl.runs; rep++ {
		run := func(original bool) func() (Measurement, error) {
			return func() (Measurement, error) { return h.stdoutSinkRun(ctx, part, original, w) }
		}
		pair, err := interleave(rep, run(false), run(true))
		if err != nil {
			return fmt.Errorf("run %d: %w", rep+1, err)
		}
		r.O2 = append(r.O2, pair)
		h.log.Info("O2", "run", rep+1, "ours_msgs_s", int(pair.Ours.Rate()), "original_msgs_s", int(pair.Baseline.Rate()))
	}
	return nil
}

// stdoutSinkRun measures either runtime's stdout sink reading the O2 topic from the start with a
// fresh consumer group, standard output to /dev/null, watched through the group's stored offset.
func (h *Harness) stdoutSinkRun(ctx context.Context, partition uint32, original bool, w Window) (Measurement, error) {
	group := h.nextName("o2_" + side(original))
	p, stop, check, err := h.startSide(original, group, func(plugin func(string) string) string {
		return stdoutSinkTOML(plugin("stdout_sink"), h.stream, o2Topic, group, HeadlineBatch)
	}, true)
	if err != nil {
		return Measurement{}, err
	}
	defer p.Kill()
	w.Check = check
	m, err := Measure(ctx, p, h.groupProgress(o2Topic, group, partition), w)
	if err != nil {
		return m, err
	}
	err = stop(p)
	_ = h.iggy.DeleteConsumerGroup(ctx, iggy.NamedID(h.stream), iggy.NamedID(o2Topic), iggy.NamedID(group))
	return m, err
}

// --- O3 -------------------------------------------------------------------------------------------

const o3Topic = "o3"

func (h *Harness) runO3(ctx context.Context, pl plan, r *Results) error {
	// Ours writes into a schema of its own (tables shaped by its own DDL, as in B3); the original
	// quotes its target_table as one identifier, so its tables live in the default schema under a
	// prefix unique to the run, and are dropped after each run.
	const oursSchema = pgSchema + "_o3"
	conn, exec, done, err := h.pgSession(ctx, oursSchema)
	if err != nil {
		return err
	}
	defer done()
	origPrefix := "iggy_bench_original_" + strings.ReplaceAll(strings.TrimPrefix(h.stream, benchStream), "-", "")

	part, drop, err := h.prefilledTopic(ctx, o3Topic, pl.b3Rows)
	if err != nil {
		return err
	}
	defer drop()
	w := pl.window
	w.End = uint64(pl.b3Rows)

	// One run: the same connector file for both (B3's), the table schema-qualified for ours and a
	// bare name for the original.
	run := func(original bool, table string) (Measurement, error) {
		group := h.nextName("o3_" + side(original))
		p, stop, check, err := h.startSide(original, group, func(plugin func(string) string) string {
			return pgSinkTOML(plugin("postgres_sink"), o3Topic, group, table, h.cfg.PGURL)
		}, false)
		if err != nil {
			return Measurement{}, err
		}
		defer p.Kill()
		w := w
		w.Check = check
		m, err := Measure(ctx, p, h.groupProgress(o3Topic, group, part), w)
		if err != nil {
			return m, err
		}
		return m, stop(p)
	}
	ours := func(table string) (Measurement, error) { return run(false, table) }
	original := func(table string) (Measurement, error) {
		defer exec(`DROP TABLE IF EXISTS "` + table + `"`)
		m, err := run(true, table)
		if err != nil {
			return m, err
		}
		// The original counts a failed INSERT and goes on: its rows must be in the table.
		var n int64
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM "`+table+`"`).Scan(&n); err != nil {
			return m, fmt.Errorf("counting the original's rows: %w", err)
		}
		if n < int64(m.Messages) {
			return m, fmt.Errorf("the original's PostgreSQL sink committed %d messages in the window but its table holds %d rows", m.Messages, n)
		}
		return m, nil
	}

	// Unmeasured first runs: ours creates the template of its tables with its own DDL, both warm
	// PostgreSQL up.
	template := oursSchema + ".template"
	if _, err := ours(template); err != nil {
		return fmt.Errorf("warm-up run (ours): %w", err)
	}
	if err := exec("TRUNCATE " + template); err != nil {
		return err
	}
	if _, err := original(h.nextName(origPrefix)); err != nil {
		return fmt.Errorf("warm-up run (original): %w", err)
	}
	for rep := 0; rep < pl.runs; rep++ {
		pair, err := interleave(rep, func() (Measurement, error) {
			table := oursSchema + "." + h.nextName("sink")
			if err := exec(fmt.Sprintf("CREATE TABLE %s (LIKE %s INCLUDING ALL)", table, template)); err != nil {
				return Measurement{}, err
			}
			defer exec("DROP TABLE " + table)
			return ours(table)
		}, func() (Measurement, error) { return original(h.nextName(origPrefix)) })
		if err != nil {
			return fmt.Errorf("run %d: %w", rep+1, err)
		}
		r.O3 = append(r.O3, pair)
		h.log.Info("O3", "run", rep+1, "ours_rows_s", int(pair.Ours.Rate()), "original_rows_s", int(pair.Baseline.Rate()))
	}
	return nil
}
