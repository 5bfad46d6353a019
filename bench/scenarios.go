package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/jackc/pgx/v5"
)

// plan is how much a mode measures.
type plan struct {
	runs      int
	sweep     []int // batch sizes of B1 and B2 (the chart); 1000 is the headline
	window    Window
	b2Prefill int // messages in the B2/B5 topic
	o2Prefill int // messages in the O2 topic
	b3Rows    int // messages in the B3 topic (and rows per run)
	b4Time    string
	b5Time    string
	b3Time    string
	idleFor   time.Duration
	loadedFor time.Duration
	profile   bool
}

// HeadlineBatch is the batch size of the B1/B2 targets (and of B3, B5).
const HeadlineBatch = 1000

func planFor(mode Mode, runs int) plan {
	if mode == ModeSmoke {
		p := plan{runs: 1, sweep: []int{100, HeadlineBatch}, window: Window{Warmup: 200 * time.Millisecond, Duration: 500 * time.Millisecond},
			b2Prefill: 600_000, o2Prefill: 200_000, b3Rows: 60_000, b4Time: "20x", b5Time: "200x", b3Time: "1x",
			idleFor: 2 * time.Second, loadedFor: 2 * time.Second}
		if runs > 0 {
			p.runs = runs
		}
		return p
	}
	p := plan{runs: 5, sweep: []int{1, 10, 100, HeadlineBatch}, window: Window{Warmup: 500 * time.Millisecond, Duration: 2 * time.Second},
		b2Prefill: 3_000_000, o2Prefill: 1_500_000, b3Rows: 300_000, b4Time: "1s", b5Time: "1s", b3Time: "1x",
		idleFor: 10 * time.Second, loadedFor: 10 * time.Second, profile: true}
	if runs > 0 {
		p.runs = runs
	}
	return p
}

func (h *Harness) wants(scenario string) bool {
	return len(h.cfg.Only) == 0 || slices.Contains(h.cfg.Only, scenario)
}

// Run measures every scenario of the mode and returns the results. Any scenario that cannot run
// fails the whole run (the numbers themselves never do).
func (h *Harness) Run(ctx context.Context) (*Results, error) {
	pl := planFor(h.cfg.Mode, h.cfg.Runs)
	if len(h.cfg.Sweep) > 0 {
		pl.sweep = h.cfg.Sweep
	}
	r := &Results{Mode: h.cfg.Mode, Started: time.Now(), Machine: DescribeMachine(), Pinning: h.Pinning(), Runs: pl.runs, Server: h.server,
		Window: fmt.Sprintf("warm-up %v after the first message moved, then a %v window (or until the prefilled data ran out); progress and /proc sampled every 10ms",
			pl.window.Warmup, pl.window.Duration),
		Sweep: map[string]map[int][]Pair{"B1": {}, "B2": {}}, Profiles: map[string]string{}}
	phase := func(name string, f func() error) error {
		start := time.Now()
		h.log.Info("bench: start", "phase", name)
		err := f()
		r.Phases = append(r.Phases, Phase{Name: name, Took: time.Since(start)})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		h.log.Info("bench: done", "phase", name, "took", time.Since(start).Round(time.Millisecond))
		return nil
	}
	steps := []struct {
		scenario, name string
		f              func() error
	}{
		{"B4", "B4 plugin boundary", func() (err error) { r.B4, r.B4Cross, err = h.runB4(ctx, pl); return }},
		{"B5", "B5 transform micro-benchmarks", func() (err error) { r.B5Micro, err = h.runB5Micro(ctx, pl); return }},
		{"B1", "B1 source path", func() error { return h.runB1(ctx, pl, r) }},
		{"B2", "B2 sink path and B5 transforms", func() error { return h.runB2(ctx, pl, r) }},
		{"B3", "B3 PostgreSQL sink", func() error { return h.runB3(ctx, pl, r) }},
		{"B6", "B6 memory", func() (err error) { r.B6, err = h.runB6(ctx, pl); return }},
		{"O1", "O1 source path vs the original runtime", func() error { return h.runO1(ctx, pl, r) }},
		{"O2", "O2 stdout sink path vs the original runtime", func() error { return h.runO2(ctx, pl, r) }},
		{"O3", "O3 PostgreSQL sink vs the original runtime", func() error { return h.runO3(ctx, pl, r) }},
	}
	for _, s := range steps {
		if !h.wants(s.scenario) && !(s.scenario == "B2" && h.wants("B5")) {
			continue
		}
		if slices.Contains(OScenarios, s.scenario) && h.cfg.Original.Runtime == "" {
			if len(h.cfg.Only) > 0 {
				return r, fmt.Errorf("%s needs the original runtime: set ORIGINAL_RUNTIME", s.scenario)
			}
			continue // the O scenarios run only when the original is given
		}
		if err := phase(s.name, s.f); err != nil {
			return r, err
		}
	}
	if pl.profile {
		if err := phase("CPU profiles of the runtime", func() error { return h.runProfiles(ctx, pl, r) }); err != nil {
			return r, err
		}
	}
	if h.cfg.Original.Runtime != "" {
		r.Original = h.cfg.Original.Version(ctx)
	}
	r.Machine.LoadEnd = loadAvg()
	r.Finished = time.Now()
	return r, nil
}

// interleave runs ours and baseline back to back, alternating which goes first.
func interleave(rep int, ours, base func() (Measurement, error)) (Pair, error) {
	var p Pair
	var err error
	if rep%2 == 0 {
		if p.Ours, err = ours(); err == nil {
			p.Baseline, err = base()
		}
	} else {
		if p.Baseline, err = base(); err == nil {
			p.Ours, err = ours()
		}
	}
	return p, err
}

// stopRuntime stops a runtime gracefully and fails when it exited badly or logged an error.
func stopRuntime(p *Proc) error {
	if err := stopWithin(p, 15*time.Second); err != nil {
		return err
	}
	return logError(p)()
}

// logError returns a check that fails when the runtime's log holds an ERROR line.
func logError(p *Proc) func() error { return logLine(p, "level=ERROR", "") }

// logLine returns a check that fails when p's log holds a line containing marker; who follows the
// process's name in the error.
func logLine(p *Proc, marker, who string) func() error {
	return func() error {
		b, err := os.ReadFile(p.LogPath)
		if err != nil {
			return err
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, marker) {
				return fmt.Errorf("%s%s logged an error: %s", p.Name, who, l)
			}
		}
		return nil
	}
}

func stopBaseline(p *Proc) error { return stopWithin(p, 10*time.Second) }

// stopWithin stops p (SIGTERM, SIGKILL after grace) and fails when it exited badly.
func stopWithin(p *Proc, grace time.Duration) error {
	if err := p.Stop(grace); err != nil {
		return fmt.Errorf("%s: %w; log tail:\n%s", p.Name, err, p.LogTail(3000))
	}
	return nil
}

// --- B1 -------------------------------------------------------------------------------------------

func (h *Harness) runB1(ctx context.Context, pl plan, r *Results) error {
	checked := false
	for rep := 0; rep < pl.runs; rep++ {
		for _, batch := range pl.sweep {
			pair, err := interleave(rep, func() (Measurement, error) {
				m, err := h.sourceRun(ctx, batch, defaultInFlight, true, pl.window, !checked)
				checked = true
				return m, err
			}, func() (Measurement, error) {
				return h.sourceRun(ctx, batch, 1, false, pl.window, false)
			})
			if err != nil {
				return fmt.Errorf("batch %d, run %d: %w", batch, rep+1, err)
			}
			r.Sweep["B1"][batch] = append(r.Sweep["B1"][batch], pair)
			h.log.Info("B1", "batch", batch, "run", rep+1, "ours_msgs_s", int(pair.Ours.Rate()), "baseline_msgs_s", int(pair.Baseline.Rate()))
			if batch != HeadlineBatch {
				continue
			}
			// The same with max_in_flight = 1 (nothing overlaps the send; a crash replays at most one
			// batch), right after the pair whose baseline it is compared with.
			m, err := h.sourceRun(ctx, batch, 1, true, pl.window, false)
			if err != nil {
				return fmt.Errorf("max_in_flight 1, run %d: %w", rep+1, err)
			}
			r.B1InFlight1 = append(r.B1InFlight1, Pair{Ours: m, Baseline: pair.Baseline})
			h.log.Info("B1 max_in_flight=1", "run", rep+1, "ours_msgs_s", int(m.Rate()))
		}
	}
	return nil
}

// sourceRun measures one B1 run: the runtime's random source (ours) or the plain producer producing
// into a fresh topic, watched through the topic's message count. check verifies that the runtime's
// messages are byte for byte what the baseline sends.
func (h *Harness) sourceRun(ctx context.Context, batch, inFlight int, ours bool, w Window, check bool) (Measurement, error) {
	if err := h.RestartServer(ctx); err != nil {
		return Measurement{}, err
	}
	name := h.nextName("b1")
	if _, err := h.createTopic(ctx, name); err != nil {
		return Measurement{}, err
	}
	defer h.deleteTopic(ctx, name)
	var p *Proc
	var err error
	if ours {
		p, err = h.startRuntime(name+"_runtime", map[string]string{"source": sourceTOML(h.plugin("random_source"), name, batch, inFlight, 0)}, "")
	} else {
		p, err = h.startBaseline(name+"_baseline", "baseline-produce", "--addr", h.addr, "--topic", name,
			"--batch", fmt.Sprint(batch), "--size", fmt.Sprint(MessageSize))
	}
	if err != nil {
		return Measurement{}, err
	}
	defer p.Kill()
	if ours {
		w.Check = logError(p)
	}
	m, err := Measure(ctx, p, h.topicCount(name), w)
	if err != nil {
		return m, err
	}
	if ours {
		if err := stopRuntime(p); err != nil {
			return m, err
		}
	} else if err := stopBaseline(p); err != nil {
		return m, err
	}
	if check {
		if err := h.checkSamePayload(ctx, name); err != nil {
			return m, err
		}
	}
	return m, nil
}

// checkSamePayload verifies that the first message of topic is the baseline producer's payload.
func (h *Harness) checkSamePayload(ctx context.Context, topic string) error {
	td, err := h.iggy.GetTopic(ctx, iggy.NamedID(h.stream), iggy.NamedID(topic))
	if err != nil {
		return err
	}
	res, err := h.iggy.PollMessages(ctx, iggy.NamedID(h.stream), iggy.NamedID(topic), iggy.SingleConsumer(1),
		iggy.Part(td.Partitions[0].ID), iggy.StrategyOffset(0), 1, false)
	if err != nil {
		return err
	}
	want := ZeroCostRecord(ZeroCostTextSize(MessageSize))
	if len(res.Messages) != 1 || !bytes.Equal(res.Messages[0].Payload, want) {
		got := []byte(nil)
		if len(res.Messages) == 1 {
			got = res.Messages[0].Payload
		}
		return fmt.Errorf("the runtime's source produced %d bytes %.80q..., the baseline sends %d bytes %.80q...: the comparison would be unfair",
			len(got), got, len(want), want)
	}
	return nil
}

// --- B2 and B5 ------------------------------------------------------------------------------------

const b2Topic = "b2"

func (h *Harness) runB2(ctx context.Context, pl plan, r *Results) error {
	part, drop, err := h.prefilledTopic(ctx, b2Topic, pl.b2Prefill)
	if err != nil {
		return err
	}
	defer drop()
	w := pl.window
	w.End = uint64(pl.b2Prefill)
	for rep := 0; rep < pl.runs; rep++ {
		for _, batch := range pl.sweep {
			if !h.wants("B2") && batch != HeadlineBatch {
				continue
			}
			ours := func() (Measurement, error) { return h.sinkRun(ctx, part, batch, "ours", w) }
			pair, err := interleave(rep, ours, func() (Measurement, error) { return h.sinkRun(ctx, part, batch, "baseline", w) })
			if err != nil {
				return fmt.Errorf("batch %d, run %d: %w", batch, rep+1, err)
			}
			r.Sweep["B2"][batch] = append(r.Sweep["B2"][batch], pair)
			h.log.Info("B2", "batch", batch, "run", rep+1, "ours_msgs_s", int(pair.Ours.Rate()), "baseline_msgs_s", int(pair.Baseline.Rate()))
			if batch != HeadlineBatch || !h.wants("B5") {
				continue
			}
			// B5 right after the B2 pair it is compared with: the same sink with the chain.
			chain, err := h.sinkRun(ctx, part, batch, "transforms", w)
			if err != nil {
				return fmt.Errorf("B5 run %d: %w", rep+1, err)
			}
			r.B5 = append(r.B5, Pair{Ours: chain, Baseline: pair.Ours})
			h.log.Info("B5", "run", rep+1, "chain_cpu_s_per_M", fmt.Sprintf("%.2f", chain.CPUPerMillion()),
				"plain_cpu_s_per_M", fmt.Sprintf("%.2f", pair.Ours.CPUPerMillion()))
		}
	}
	return nil
}

// sinkRun measures one run reading the prefilled B2 topic from the start with a fresh consumer
// group: side "ours" (the runtime with the discard sink), "transforms" (the same plus the B5 chain)
// or "baseline" (the plain group consumer), watched through the group's stored offset.
func (h *Harness) sinkRun(ctx context.Context, partition uint32, batch int, side string, w Window) (Measurement, error) {
	return h.sinkRunProfiled(ctx, partition, batch, side, w, "")
}

func (h *Harness) sinkRunProfiled(ctx context.Context, partition uint32, batch int, side string, w Window, profile string) (Measurement, error) {
	group := h.nextName("b2_" + side)
	var p *Proc
	var err error
	switch side {
	case "baseline":
		p, err = h.startBaseline(group, "baseline-consume", "--addr", h.addr, "--topic", b2Topic, "--group", group,
			"--batch", fmt.Sprint(batch))
	default:
		p, err = h.startRuntime(group, map[string]string{"sink": sinkTOML(h.plugin("discard_sink"), "bench_sink", b2Topic, group, batch, side == "transforms")}, profile)
	}
	if err != nil {
		return Measurement{}, err
	}
	defer p.Kill()
	if side != "baseline" {
		w.Check = logError(p)
	}
	m, err := Measure(ctx, p, h.groupProgress(b2Topic, group, partition), w)
	if err != nil {
		return m, err
	}
	if side == "baseline" {
		err = stopBaseline(p)
	} else {
		err = stopRuntime(p)
	}
	_ = h.iggy.DeleteConsumerGroup(ctx, iggy.NamedID(h.stream), iggy.NamedID(b2Topic), iggy.NamedID(group))
	return m, err
}

// --- B3 -------------------------------------------------------------------------------------------

const (
	b3Topic  = "b3"
	pgSchema = "iggy_bench"
)

// pgSession connects to PostgreSQL (Config.PGURL) and creates schema afresh. exec runs a
// statement, failing with it in the error; done drops the schema and disconnects.
func (h *Harness) pgSession(ctx context.Context, schema string) (conn *pgx.Conn, exec func(string) error, done func(), err error) {
	if h.cfg.PGURL == "" {
		return nil, nil, nil, errors.New("no PostgreSQL: set IGGY_TEST_PG_URL (scripts/bench.sh starts one with scripts/postgres.sh)")
	}
	if conn, err = pgx.Connect(ctx, h.cfg.PGURL); err != nil {
		return nil, nil, nil, fmt.Errorf("connect to PostgreSQL (IGGY_TEST_PG_URL): %w", err)
	}
	exec = func(sql string) error {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
		return nil
	}
	done = func() {
		bg := context.WithoutCancel(ctx)
		_, _ = conn.Exec(bg, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		conn.Close(bg)
	}
	if err = exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE"); err == nil {
		err = exec("CREATE SCHEMA " + schema)
	}
	if err != nil {
		done()
		return nil, nil, nil, err
	}
	return conn, exec, done, nil
}

func (h *Harness) runB3(ctx context.Context, pl plan, r *Results) error {
	_, exec, done, err := h.pgSession(ctx, pgSchema)
	if err != nil {
		return err
	}
	defer done()

	part, drop, err := h.prefilledTopic(ctx, b3Topic, pl.b3Rows)
	if err != nil {
		return err
	}
	defer drop()
	w := pl.window
	w.End = uint64(pl.b3Rows)

	// A first, unmeasured run lets the sink create its table with its own DDL (the template of
	// every table of both sides) and warms PostgreSQL up.
	template := pgSchema + ".template"
	if _, err := h.pgSinkRun(ctx, part, template, w, ""); err != nil {
		return fmt.Errorf("warm-up run: %w", err)
	}
	if err := exec("TRUNCATE " + template); err != nil {
		return err
	}
	for rep := 0; rep < pl.runs; rep++ {
		pair, err := interleave(rep, func() (Measurement, error) {
			table := pgSchema + "." + h.nextName("sink")
			if err := exec(fmt.Sprintf("CREATE TABLE %s (LIKE %s INCLUDING ALL)", table, template)); err != nil {
				return Measurement{}, err
			}
			defer exec("DROP TABLE " + table)
			return h.pgSinkRun(ctx, part, table, w, "")
		}, func() (Measurement, error) {
			name := h.nextName("copy")
			table := pgSchema + "." + name
			if err := exec(fmt.Sprintf("CREATE TABLE %s (LIKE %s INCLUDING ALL)", table, template)); err != nil {
				return Measurement{}, err
			}
			defer exec("DROP TABLE " + table)
			return h.copyRun(ctx, name, pl.b3Rows)
		})
		if err != nil {
			return fmt.Errorf("run %d: %w", rep+1, err)
		}
		r.B3 = append(r.B3, pair)
		h.log.Info("B3", "run", rep+1, "ours_rows_s", int(pair.Ours.Rate()), "copyfrom_rows_s", int(pair.Baseline.Rate()))
	}

	if pl.profile && h.wants("B3") {
		table := pgSchema + ".profile"
		if err := exec(fmt.Sprintf("CREATE TABLE %s (LIKE %s INCLUDING ALL)", table, template)); err != nil {
			return err
		}
		prof := filepath.Join(h.cfg.OutDir, "profiles", "B3.prof")
		if err := os.MkdirAll(filepath.Dir(prof), 0o755); err != nil {
			return err
		}
		if _, err := h.pgSinkRun(ctx, part, table, w, prof); err != nil {
			return fmt.Errorf("profiled run: %w", err)
		}
		if r.Profiles["B3"], err = h.pprofTop(ctx, prof); err != nil {
			return err
		}
	}

	// The sink's own benchmark (no Iggy, no runtime): where the end-to-end gap comes from.
	r.B3Plugin, err = h.RunGoBench(ctx, GoTestBench{Name: "pgsink", Dir: filepath.Join(h.cfg.Root, "connectors", "sinks", "postgres"),
		Pkg: "./pgsink", Tags: "integration", Bench: "SinkVsCopyFrom/bytea", Time: pl.b3Time, Env: []string{"IGGY_TEST_PG_URL=" + h.cfg.PGURL}})
	return err
}

// pgSinkRun measures the runtime's PostgreSQL sink writing the B3 topic into table.
func (h *Harness) pgSinkRun(ctx context.Context, partition uint32, table string, w Window, profile string) (Measurement, error) {
	group := h.nextName("b3_ours")
	p, err := h.startRuntime(group, map[string]string{"pg": pgSinkTOML(h.plugin("postgres_sink"), b3Topic, group, table, h.cfg.PGURL)}, profile)
	if err != nil {
		return Measurement{}, err
	}
	defer p.Kill()
	w.Check = logError(p)
	m, err := Measure(ctx, p, h.groupProgress(b3Topic, group, partition), w)
	if err != nil {
		return m, err
	}
	return m, stopRuntime(p)
}

// copyRun runs the CopyFrom baseline into bench table name (in pgSchema) and reads its report.
func (h *Harness) copyRun(ctx context.Context, name string, rows int) (Measurement, error) {
	out := filepath.Join(h.workDir, name+".json")
	p, err := h.startBaseline(name, "baseline-copy", "--addr", h.addr, "--topic", b3Topic, "--pg", h.cfg.PGURL,
		"--schema", pgSchema, "--table", name, "--rows", fmt.Sprint(rows), "--batch", fmt.Sprint(HeadlineBatch), "--out", out)
	if err != nil {
		return Measurement{}, err
	}
	defer p.Kill()
	select {
	case <-p.Done():
	case <-ctx.Done():
		return Measurement{}, ctx.Err()
	case <-time.After(5 * time.Minute):
		return Measurement{}, fmt.Errorf("%s did not finish within 5 minutes", name)
	}
	if err := p.Err(); err != nil {
		return Measurement{}, fmt.Errorf("%s: %w; log tail:\n%s", name, err, p.LogTail(3000))
	}
	var res CopyResult
	if err := ReadJSON(out, &res); err != nil {
		return Measurement{}, err
	}
	return Measurement{Messages: res.Rows, Wall: time.Duration(res.WallNs), CPU: time.Duration(res.CPUNs), PeakRSS: res.PeakRSS,
		Reported: true}, nil
}

// --- B4 and B5 micro-benchmarks --------------------------------------------------------------------

func (h *Harness) runB4(ctx context.Context, pl plan) ([]GoBench, []GoBench, error) {
	own, err := h.RunGoBench(ctx, GoTestBench{Name: "boundary", Dir: h.cfg.Root, Pkg: "./bench/boundary", Bench: ".", Time: pl.b4Time})
	if err != nil {
		return nil, nil, err
	}
	cross, err := h.RunGoBench(ctx, GoTestBench{Name: "plugintest", Dir: h.cfg.Root, Pkg: "./test/plugintest",
		Bench: "RoundTrip", Time: pl.b4Time})
	return own, cross, err
}

func (h *Harness) runB5Micro(ctx context.Context, pl plan) ([]GoBench, error) {
	return h.RunGoBench(ctx, GoTestBench{Name: "transform", Dir: h.cfg.Root, Pkg: "./runtime/transform",
		Bench: "^Benchmark(Passthrough|TransformChain)$", Time: pl.b5Time})
}

// --- B6 -------------------------------------------------------------------------------------------

func (h *Harness) runB6(ctx context.Context, pl plan) (B6, error) {
	var b B6
	if err := h.RestartServer(ctx); err != nil {
		return b, err
	}
	// Idle: the demo pipeline (configs/demo/connectors) as make demo runs it (on an external
	// server in the run's stream).
	demo := map[string]string{}
	files, err := filepath.Glob(filepath.Join(h.cfg.Root, "configs", "demo", "connectors", "*.toml"))
	if err != nil || len(files) == 0 {
		return b, fmt.Errorf("no demo connector files in configs/demo/connectors (%v)", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return b, err
		}
		demo[strings.TrimSuffix(filepath.Base(f), ".toml")] = withStream(withPluginDir(string(data), h.cfg.PluginDir), demoStream, h.demoStream())
	}
	p, err := h.startRuntime(h.nextName("b6_idle"), demo, "")
	if err != nil {
		return b, err
	}
	defer p.Kill()
	select {
	case <-time.After(pl.idleFor):
	case <-p.Done():
		return b, fmt.Errorf("the demo runtime exited (%v); log tail:\n%s", p.Err(), p.LogTail(3000))
	case <-ctx.Done():
		return b, ctx.Err()
	}
	ps, err := ReadProc(p.Pid())
	if err != nil {
		return b, err
	}
	b.IdleRSS, b.IdleHWM, b.IdleFor = ps.RSS, ps.HWM, pl.idleFor
	td, err := h.iggy.GetTopic(ctx, iggy.NamedID(h.demoStream()), iggy.NamedID("demo_topic"))
	if err != nil || td.Partitions[0].MessagesCount == 0 {
		return b, fmt.Errorf("the demo pipeline produced nothing in %v (%v)", pl.idleFor, err)
	}
	if err := stopRuntime(p); err != nil {
		return b, err
	}

	// Loaded: a B1 source and a B2 sink at full speed on one topic in one runtime.
	name := h.nextName("b6_loaded")
	part, err := h.createTopic(ctx, name)
	if err != nil {
		return b, err
	}
	defer h.deleteTopic(ctx, name)
	p, err = h.startRuntime(name, map[string]string{
		"source": sourceTOML(h.plugin("random_source"), name, HeadlineBatch, 1, 0),
		"sink":   sinkTOML(h.plugin("discard_sink"), "bench_sink", name, name, HeadlineBatch, false),
	}, "")
	if err != nil {
		return b, err
	}
	defer p.Kill()
	start := time.Now()
	var last ProcSample
	for time.Since(start) < pl.loadedFor {
		select {
		case <-time.After(100 * time.Millisecond):
		case <-p.Done():
			return b, fmt.Errorf("the loaded runtime exited (%v); log tail:\n%s", p.Err(), p.LogTail(3000))
		case <-ctx.Done():
			return b, ctx.Err()
		}
		if last, err = ReadProc(p.Pid()); err != nil {
			return b, err
		}
	}
	b.LoadedHWM, b.LoadedRSS, b.LoadedFor = last.HWM, last.RSS, time.Since(start)
	if b.LoadedMsg, err = h.groupProgress(name, name, part)(ctx); err != nil || b.LoadedMsg == 0 {
		return b, fmt.Errorf("the loaded sink committed nothing in %v (%v)", pl.loadedFor, err)
	}
	return b, stopRuntime(p)
}

// --- profiles -------------------------------------------------------------------------------------

// runProfiles repeats B1, B2, B5 and B3 (ours) once each with --cpu-profile and keeps the top of
// `go tool pprof -top`.
func (h *Harness) runProfiles(ctx context.Context, pl plan, r *Results) error {
	dir := filepath.Join(h.cfg.OutDir, "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	w := pl.window
	w.Duration *= 2
	runs := []struct {
		name string
		run  func(prof string) error
	}{
		{"B1", func(prof string) error {
			name := h.nextName("b1_profile")
			if _, err := h.createTopic(ctx, name); err != nil {
				return err
			}
			defer h.deleteTopic(ctx, name)
			p, err := h.startRuntime(name, map[string]string{"source": sourceTOML(h.plugin("random_source"), name, HeadlineBatch, 1, 0)}, prof)
			if err != nil {
				return err
			}
			defer p.Kill()
			if _, err := Measure(ctx, p, h.topicCount(name), w); err != nil {
				return err
			}
			return stopRuntime(p)
		}},
		{"B2", func(prof string) error { return h.profileSink(ctx, pl, "ours", prof) }},
		{"B5", func(prof string) error { return h.profileSink(ctx, pl, "transforms", prof) }},
	}
	for _, run := range runs {
		if !h.wants(run.name) {
			continue
		}
		if err := h.RestartServer(ctx); err != nil {
			return err
		}
		prof := filepath.Join(dir, run.name+".prof")
		if err := run.run(prof); err != nil {
			return fmt.Errorf("%s: %w", run.name, err)
		}
		top, err := h.pprofTop(ctx, prof)
		if err != nil {
			return err
		}
		r.Profiles[run.name] = top
	}
	return nil
}

func (h *Harness) profileSink(ctx context.Context, pl plan, side, prof string) error {
	part, err := h.createTopic(ctx, b2Topic)
	if err != nil {
		return err
	}
	defer h.deleteTopic(ctx, b2Topic)
	n := pl.b2Prefill / 2
	if err := h.prefill(ctx, b2Topic, n, func(i int) []byte { return JSONRecord(uint64(i), MessageSize) }); err != nil {
		return err
	}
	w := pl.window
	w.Duration *= 2
	w.End = uint64(n)
	_, err = h.sinkRunProfiled(ctx, part, HeadlineBatch, side, w, prof)
	return err
}

// pprofTop renders a runtime CPU profile: where the time goes by stage (cumulative, the runtime's
// own packages, time inside plugins and the garbage collector), then the top functions by own time.
func (h *Harness) pprofTop(ctx context.Context, prof string) (string, error) {
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "go", append(append([]string{"tool", "pprof"}, args...), h.cfg.RuntimeBin, prof)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("go tool pprof %s: %v\n%s", prof, err, out)
		}
		var keep []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			for _, drop := range []string{"File:", "Build ID:", "Type:", "Time:", "Active filters:", "   show=", "Dropped ", "Showing top"} {
				if strings.HasPrefix(l, drop) {
					l = ""
				}
			}
			if l != "" {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n"), nil
	}
	cum, err := run("-top", "-cum", "-nodecount=22",
		"-show", `connectors/runtime/(pipeline|engine|iggy|plugin|codec|transform|state)\.|_ExternalCode|^runtime\.cgocall$|gcBgMarkWorker`)
	if err != nil {
		return "", err
	}
	flat, err := run("-top", "-nodecount=12")
	if err != nil {
		return "", err
	}
	return "by stage (cumulative; runtime.cgocall and _ExternalCode/<unknown> are time inside the plugin):\n" + cum +
		"\n\ntop functions by own time:\n" + flat, nil
}
