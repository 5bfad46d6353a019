// Command iggy-bench is the benchmark harness behind `make bench`, `make bench-smoke` and
// `make soak` (scripts/bench.sh builds what it needs and calls it).
//
//	iggy-bench run    --mode full|smoke [--runs N] [--only B1,B2,...] --out DIR [--report FILE] [--chart NAME]
//	iggy-bench soak   [--duration 10m] --out DIR
//	iggy-bench report --out DIR --report FILE [--chart NAME]
//
// run reads the environment: IGGY_BENCH_SERVER=host:port measures against that external Iggy
// server instead of an iggy-devserver it starts (IGGY_BENCH_USERNAME and IGGY_BENCH_PASSWORD,
// default iggy/iggy); ORIGINAL_RUNTIME=path/to/iggy-connectors (the original Rust runtime, its
// random source, stdout sink and PostgreSQL sink plugins in ORIGINAL_PLUGINS_DIR, default the
// binary's directory) adds the O scenarios, which run it beside this runtime. soak always runs
// against its own iggy-devserver.
//
// run measures the scenarios (package bench) and writes DIR/results.json, DIR/sweep.csv (the
// chart's input) and the Markdown report; soak writes DIR/soak.json (the input of
// bench/soakchart.py) and DIR/SOAK.md, its part of the report; report only renders. The report
// includes bench/ANALYSIS.md (the hand-written reading of the profiles) when it exists.
//
// The baselines are hidden subcommands run as separate processes by the harness:
// baseline-produce, baseline-consume, baseline-copy.
//
// Exit status: 0 when every scenario ran (whatever the numbers), 1 when one could not run, 2 for a
// usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/iggy-go/connectors/bench"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var err error
	switch os.Args[1] {
	case "run":
		err = cmdRun(ctx, log, os.Args[2:])
	case "soak":
		err = cmdSoak(ctx, log, os.Args[2:])
	case "report":
		err = cmdReport(os.Args[2:])
	case "baseline-produce":
		err = cmdProduce(ctx, os.Args[2:])
	case "baseline-consume":
		err = cmdConsume(ctx, os.Args[2:])
	case "baseline-copy":
		err = cmdCopy(ctx, os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "iggy-bench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: iggy-bench run|soak|report [flags] (see the package documentation)")
	os.Exit(2)
}

// common are the flags of run and soak.
type common struct {
	root, out, bin, plugins string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.root, "root", ".", "repository root")
	fs.StringVar(&c.out, "out", "bench/out", "output directory (results, logs, profiles)")
	fs.StringVar(&c.bin, "bin", "", "directory of iggy-connectors and iggy-devserver (default ROOT/build/bin)")
	fs.StringVar(&c.plugins, "plugins", "", "plugin directory (default ROOT/build/plugins)")
}

func (c *common) config(log *slog.Logger, mode bench.Mode) (bench.Config, error) {
	root, err := filepath.Abs(c.root)
	if err != nil {
		return bench.Config{}, err
	}
	abs := func(p, def string) string {
		if p == "" {
			return filepath.Join(root, def)
		}
		a, _ := filepath.Abs(p)
		return a
	}
	self, err := os.Executable()
	if err != nil {
		return bench.Config{}, err
	}
	bin := abs(c.bin, "build/bin")
	out := abs(c.out, "bench/out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return bench.Config{}, err
	}
	return bench.Config{Mode: mode, Root: root, RuntimeBin: filepath.Join(bin, "iggy-connectors"),
		DevserverBin: filepath.Join(bin, "iggy-devserver"), SelfBin: self, PluginDir: abs(c.plugins, "build/plugins"),
		OutDir: out, PGURL: os.Getenv("IGGY_TEST_PG_URL"), Logger: log}, nil
}

// fromEnv adds the external server and the original runtime of the environment to cfg.
func fromEnv(cfg *bench.Config, getenv func(string) string) {
	cfg.Server, cfg.Username, cfg.Password = getenv("IGGY_BENCH_SERVER"), getenv("IGGY_BENCH_USERNAME"), getenv("IGGY_BENCH_PASSWORD")
	cfg.Original = bench.Original{Runtime: getenv("ORIGINAL_RUNTIME"), PluginDir: getenv("ORIGINAL_PLUGINS_DIR")}
	if cfg.Original.Runtime != "" {
		cfg.Original.Runtime, _ = filepath.Abs(cfg.Original.Runtime)
	}
	if cfg.Original.PluginDir != "" {
		cfg.Original.PluginDir, _ = filepath.Abs(cfg.Original.PluginDir)
	}
}

func cmdRun(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	var c common
	c.register(fs)
	mode := fs.String("mode", "full", "full or smoke")
	runs := fs.Int("runs", 0, "interleaved runs per side (default: 5 full, 1 smoke)")
	only := fs.String("only", "", "comma-separated scenarios to run (B1..B6, O1..O3); default all")
	sweep := fs.String("sweep", "", "comma-separated batch sizes of B1 and B2 (default 1,10,100,1000; smoke 100,1000)")
	report := fs.String("report", "", "Markdown report to write (default OUT/RESULTS.md)")
	chart := fs.String("chart", "throughput.png", "chart file name, relative to the report, that the report shows")
	fs.Parse(args)
	if *mode != string(bench.ModeFull) && *mode != string(bench.ModeSmoke) {
		return fmt.Errorf("--mode %q: want full or smoke", *mode)
	}
	cfg, err := c.config(log, bench.Mode(*mode))
	if err != nil {
		return err
	}
	fromEnv(&cfg, os.Getenv)
	cfg.Runs = *runs
	if *only != "" {
		for _, s := range strings.Split(*only, ",") {
			cfg.Only = append(cfg.Only, strings.ToUpper(strings.TrimSpace(s)))
		}
	}
	if *sweep != "" {
		for _, s := range strings.Split(*sweep, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n <= 0 {
				return fmt.Errorf("--sweep: bad batch size %q", s)
			}
			cfg.Sweep = append(cfg.Sweep, n)
		}
	}
	h, err := bench.New(cfg)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := h.Start(ctx); err != nil {
		return err
	}
	res, runErr := h.Run(ctx)
	if res != nil {
		if err := bench.WriteJSON(filepath.Join(cfg.OutDir, "results.json"), res); err != nil {
			return errors.Join(runErr, err)
		}
	}
	if runErr != nil {
		return runErr
	}
	if err := bench.WriteSweepCSV(filepath.Join(cfg.OutDir, "sweep.csv"), res); err != nil {
		return err
	}
	if *report == "" {
		*report = filepath.Join(cfg.OutDir, "RESULTS.md")
	}
	return render(res, cfg.OutDir, filepath.Join(cfg.Root, "bench", "ANALYSIS.md"), *report, *chart)
}

func render(res *bench.Results, out, analysisPath, report, chart string) error {
	var soak *bench.Soak
	var s bench.Soak
	if err := bench.ReadJSON(filepath.Join(out, "soak.json"), &s); err == nil {
		soak = &s
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	analysis := ""
	if res.Mode == bench.ModeFull {
		if b, err := os.ReadFile(analysisPath); err == nil {
			analysis = string(b)
		}
	}
	return os.WriteFile(report, []byte(bench.Render(res, soak, analysis, chart)), 0o644)
}

func cmdReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	root := fs.String("root", ".", "repository root")
	out := fs.String("out", "bench/out", "directory holding results.json (and soak.json)")
	report := fs.String("report", "", "Markdown report to write (default OUT/RESULTS.md)")
	chart := fs.String("chart", "throughput.png", "chart file name, relative to the report")
	fs.Parse(args)
	var res bench.Results
	if err := bench.ReadJSON(filepath.Join(*out, "results.json"), &res); err != nil {
		return err
	}
	if *report == "" {
		*report = filepath.Join(*out, "RESULTS.md")
	}
	return render(&res, *out, filepath.Join(*root, "bench", "ANALYSIS.md"), *report, *chart)
}

func cmdSoak(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("soak", flag.ExitOnError)
	var c common
	c.register(fs)
	d := fs.Duration("duration", 10*time.Minute, "how long the soak runs (at least 3m)")
	every := fs.Duration("every", 5*time.Second, "sampling period")
	fs.Parse(args)
	cfg, err := c.config(log, bench.ModeSoak)
	if err != nil {
		return err
	}
	h, err := bench.New(cfg)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := h.Start(ctx); err != nil {
		return err
	}
	s, err := h.Soak(ctx, *d, *every)
	if err != nil {
		return err
	}
	if err := bench.WriteJSON(filepath.Join(cfg.OutDir, "soak.json"), s); err != nil {
		return err
	}
	md := "# Memory soak (B6)\n\n" + bench.RenderSoak(s, bench.SoakChart)
	if err := os.WriteFile(filepath.Join(cfg.OutDir, "SOAK.md"), []byte(md), 0o644); err != nil {
		return err
	}
	log.Info("soak done", "early_rss_mb", s.EarlyRSS>>20, "late_rss_mb", s.LateRSS>>20, "growth", fmt.Sprintf("%+.1f%%", s.Growth*100))
	return nil
}

func cmdProduce(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("baseline-produce", flag.ExitOnError)
	addr := fs.String("addr", "", "Iggy address")
	topic := fs.String("topic", "", "topic in stream bench")
	batch := fs.Int("batch", 1000, "messages per send")
	size := fs.Int("size", bench.MessageSize, "message size (the random source's zero_cost record of this size)")
	maxN := fs.Uint64("max", 0, "stop after this many messages (0 = until SIGTERM)")
	fs.Parse(args)
	return bench.RunProducer(ctx, *addr, *topic, *batch, bench.ZeroCostRecord(bench.ZeroCostTextSize(*size)), *maxN)
}

func cmdConsume(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("baseline-consume", flag.ExitOnError)
	addr := fs.String("addr", "", "Iggy address")
	topic := fs.String("topic", "", "topic in stream bench")
	group := fs.String("group", "", "consumer group")
	batch := fs.Int("batch", 1000, "messages per poll")
	fs.Parse(args)
	return bench.RunConsumer(ctx, *addr, *topic, *group, *batch)
}

func cmdCopy(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("baseline-copy", flag.ExitOnError)
	addr := fs.String("addr", "", "Iggy address")
	topic := fs.String("topic", "", "topic in stream bench")
	pg := fs.String("pg", "", "PostgreSQL URL")
	schema := fs.String("schema", "", "schema of the table")
	table := fs.String("table", "", "table")
	rows := fs.Int("rows", 0, "messages to read and rows to write")
	batch := fs.Int("batch", 1000, "rows per CopyFrom")
	out := fs.String("out", "", "file for the JSON result")
	fs.Parse(args)
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := bench.RunCopy(ctx, *addr, *topic, *pg, *schema, *table, *rows, *batch, f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
