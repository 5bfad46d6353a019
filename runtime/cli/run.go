package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/iggy-go/connectors/runtime/api"
	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/runtime/config/provider"
	"github.com/iggy-go/connectors/runtime/engine"
	"github.com/iggy-go/connectors/runtime/metrics"
	"github.com/iggy-go/connectors/runtime/plugin"
)

const runUsage = `usage: iggy-connectors [run] [--config PATH]

Runs the connectors runtime: reads the main config (defaults <- file <- environment), starts every
enabled connector of the config provider, serves the HTTP API, and runs until SIGINT or SIGTERM
(graceful stop: polling stops, in-flight batches finish or are abandoned uncommitted, plugins are
closed). SIGHUP re-reads the connector configs and restarts only the connectors whose config changed.

flags:
  --config PATH       main config file (default: $IGGY_CONNECTORS_CONFIG_PATH, else configs/config.toml
                      searched from the working directory upwards; missing = embedded defaults)
  --cpu-profile PATH  write a Go CPU profile of the runtime process to PATH (written when the runtime
                      stops; read it with go tool pprof). In-process plugins' own Go code shows as
                      time inside the C call; process-transport children are not profiled.`

func init() {
	Register(&Command{Name: "run", Summary: "run the connectors (the default command)", Usage: runUsage, Run: runRuntime})
}

func runRuntime(ctx context.Context, env *Env, args []string) int {
	started := time.Now()
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	cfgPath := fs.String("config", "", "main config file")
	cpuProfile := fs.String("cpu-profile", "", "write a CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintf(env.Stderr, "iggy-connectors: --cpu-profile: %v\n", err)
			return 1
		}
		defer stop()
	}
	loaded, err := config.Load(config.Options{Path: *cfgPath})
	if loaded == nil {
		fmt.Fprintf(env.Stderr, "iggy-connectors: %v\n", err)
		return 1
	}
	log := NewLogger(env.Stderr, loaded.Config.Logging)
	slog.SetDefault(log)
	for _, p := range loaded.Problems.Warnings() {
		log.Warn("config", "problem", p.Error())
	}
	if err != nil {
		log.Error("invalid configuration", "err", err)
		return 1
	}
	if loaded.File != "" { // else the warning above already said so
		log.Info("config loaded", "file", loaded.File)
	}
	if config.DisplayConfig(loaded.Env) {
		log.Info("effective config", "config", loaded.Config)
	}
	cfg := loaded.Config
	// Every record names this runtime, so the logs of replicas sharing the work can be told apart.
	log = slog.New(instanceHandler{Handler: log.Handler(), instance: slog.String("instance", cfg.InstanceName())})
	slog.SetDefault(log)
	setPluginLogLevel(cfg.Logging.Level, loaded.Env, log)
	if err := os.MkdirAll(cfg.State.Path, 0o755); err != nil {
		log.Error("cannot create the state directory", "path", cfg.State.Path, "err", err)
		return 1
	}
	prov, err := provider.New(cfg.Connectors, provider.Options{Env: loaded.Env, Logger: log})
	if err != nil {
		log.Error("connector config provider", "err", err)
		return 1
	}
	// Metrics exist only when they are served: the stage histograms are fed by the engine.
	var m *metrics.Metrics
	opts := engine.Options{Config: cfg, Provider: prov, Logger: log}
	if cfg.HTTP.Enabled && cfg.HTTP.Metrics.Enabled {
		m = metrics.NewInstance(cfg.InstanceName())
		opts.Observer = m.Observer
	}
	eng, err := engine.New(opts)
	if err != nil {
		log.Error("engine", "err", err)
		return 1
	}
	if m != nil {
		m.Attach(eng)
	}
	// The API binds before any connector starts, so a busy port fails the start early; it serves
	// once the engine runs.
	var srv *api.Server
	if cfg.HTTP.Enabled {
		srv, err = api.New(api.Options{HTTP: cfg.HTTP, Engine: eng, Metrics: m, Logger: log, Version: Version, StartTime: started,
			Instance: cfg.InstanceName()})
		if err == nil {
			_, err = srv.Listen()
		}
		if err != nil {
			log.Error("cannot start the HTTP API", "address", cfg.HTTP.Address, "err", err)
			return 1
		}
	} else {
		log.Info("HTTP API disabled (http.enabled = false)")
	}
	if err := eng.Start(ctx); err != nil {
		log.Error("cannot start", "err", err)
		if srv != nil {
			_ = srv.Shutdown(context.Background())
		}
		return 1
	}
	log.Info("iggy-connectors started", "version", Version, "iggy", cfg.Iggy.Address, "connectors", prov.Describe(),
		"plugin_transport_default", plugin.TransportInProcess)
	stopAPI := func() {}
	if srv != nil {
		if err := srv.Serve(); err != nil {
			log.Error("cannot start the HTTP API", "address", cfg.HTTP.Address, "err", err)
			eng.Stop()
			return 1
		}
		stopAPI = func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				log.Warn("HTTP API shutdown", "err", err)
			}
		}
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-hup:
			log.Info("SIGHUP: reloading connector configs")
			if _, err := eng.Reload(ctx); err != nil {
				log.Error("reload failed; connectors keep running as they were", "err", err)
			}
		}
	}
	log.Info("shutting down")
	stopAPI()
	eng.Stop()
	log.Info("stopped")
	return 0
}

// NewLogger builds the runtime's slog logger from [logging]: text or JSON lines on w, at the
// configured level ("trace" maps to debug-4, "off" discards).
func NewLogger(w io.Writer, lc config.LoggingConfig) *slog.Logger {
	var level slog.Level
	switch strings.ToLower(lc.Level) {
	case "trace":
		level = plugin.LevelTrace
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	case "off":
		return slog.New(slog.DiscardHandler)
	default:
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(lc.Format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// startCPUProfile starts the Go CPU profiler writing to path; the returned function stops it and
// closes the file (the profile is complete only then).
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// setPluginLogLevel makes plugins forward records from the runtime's own level up (they filter inside
// the library, before the boundary), unless IGGY_PLUGIN_LOG_LEVEL is set explicitly.
func setPluginLogLevel(level string, env map[string]string, log *slog.Logger) {
	const name = "IGGY_PLUGIN_LOG_LEVEL"
	if _, set := env[name]; set {
		return
	}
	switch level = strings.ToLower(level); level {
	case "", "info":
		return // the plugins' default
	case "off":
		level = "error"
	}
	if err := plugin.SetPluginEnv(name, level); err != nil {
		log.Warn("cannot pass the log level to in-process plugins; set IGGY_PLUGIN_LOG_LEVEL", "err", err)
	}
}

// instanceHandler adds the runtime's instance attribute as the last attribute of every record (after
// the record's own: a line still starts with msg and the connector, as it did without it).
type instanceHandler struct {
	slog.Handler
	instance slog.Attr
}

func (h instanceHandler) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.instance)
	return h.Handler.Handle(ctx, r)
}

func (h instanceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return instanceHandler{Handler: h.Handler.WithAttrs(as), instance: h.instance}
}

func (h instanceHandler) WithGroup(name string) slog.Handler {
	return instanceHandler{Handler: h.Handler.WithGroup(name), instance: h.instance}
}
