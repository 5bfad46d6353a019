package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/runtime/config/provider"
	"github.com/iggy-go/connectors/runtime/engine"
	"github.com/iggy-go/connectors/runtime/plugin"
)

const runUsage = `usage: iggy-connectors [run] [--config PATH]

Runs the connectors runtime: reads the main config (defaults <- file <- environment), starts every
enabled connector of the config provider, serves the HTTP API, and runs until SIGINT or SIGTERM
(graceful stop: polling stops, in-flight batches finish or are abandoned uncommitted, plugins are
closed). SIGHUP re-reads the connector configs and restarts only the connectors whose config changed.

flags:
  --config PATH   main config file (default: $IGGY_CONNECTORS_CONFIG_PATH, else configs/config.toml
                  searched from the working directory upwards; missing = embedded defaults)`

// Serve, if set, starts the HTTP management API for a running engine and returns a function that
// stops it. It is set by the api package's init (keeps this package free of HTTP code).
var Serve func(ctx context.Context, cfg *config.Config, e *engine.Engine, log *slog.Logger) (stop func(), err error)

func init() {
	Register(&Command{Name: "run", Summary: "run the connectors (the default command)", Usage: runUsage, Run: runRuntime})
}

func runRuntime(ctx context.Context, env *Env, args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	cfgPath := fs.String("config", "", "main config file")
	if err := fs.Parse(args); err != nil {
		return 2
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
	if loaded.File == "" {
		log.Info("no config file found; using the embedded defaults and the environment")
	} else {
		log.Info("config loaded", "file", loaded.File)
	}
	if config.DisplayConfig(loaded.Env) {
		log.Info("effective config", "config", loaded.Config)
	}
	cfg := loaded.Config
	if err := os.MkdirAll(cfg.State.Path, 0o755); err != nil {
		log.Error("cannot create the state directory", "path", cfg.State.Path, "err", err)
		return 1
	}
	prov, err := provider.New(cfg.Connectors, provider.Options{Env: loaded.Env, Logger: log})
	if err != nil {
		log.Error("connector config provider", "err", err)
		return 1
	}
	eng, err := engine.New(engine.Options{Config: cfg, Provider: prov, Logger: log})
	if err != nil {
		log.Error("engine", "err", err)
		return 1
	}
	if err := eng.Start(ctx); err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	log.Info("iggy-connectors started", "version", Version, "iggy", cfg.Iggy.Address, "connectors", prov.Describe(),
		"plugin_transport_default", plugin.TransportInProcess)
	stopAPI := func() {}
	if cfg.HTTP.Enabled && Serve != nil {
		stop, err := Serve(ctx, cfg, eng, log)
		if err != nil {
			log.Error("cannot start the HTTP API", "address", cfg.HTTP.Address, "err", err)
			eng.Stop()
			return 1
		}
		stopAPI = stop
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
