package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/runtime/codec"
	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/runtime/config/provider"
	"github.com/iggy-go/connectors/runtime/engine"
	"github.com/iggy-go/connectors/runtime/plugin"
)

const validateUsage = `usage: iggy-connectors validate [--config PATH] [--json] [--allow-warnings]

Checks the configuration offline, exactly as ` + "`run`" + ` would read it, and lists every problem:
  - the main config: file (--config, else IGGY_CONNECTORS_CONFIG_PATH, else ` + config.DefaultConfigPath + `),
    the .env file and IGGY_CONNECTORS_* variables; unknown keys and variables with suggestions;
  - every connector config of the provider (all files of the local directory, or the HTTP config
    service's active configs) with the per-connector environment overrides;
  - for each enabled active connector: the plugin library (resolved as run does, loaded and its ABI
    and kind checked), its plugin_config against the plugin's own validation, its transforms and the
    codec options of its streams.
Nothing is started and no connection is made to Iggy or to external systems (the HTTP config provider
is asked for its configs). Exit status: 0 when there is no problem, 1 when there is any (warnings
count, unless --allow-warnings), 2 for usage errors.

flags:
  --config PATH      main config file
  --json             print the report as JSON
  --allow-warnings   exit 0 when there are only warnings`

func init() {
	Register(&Command{
		Name:    "validate",
		Summary: "check the main config, every connector config and their plugins offline",
		Usage:   validateUsage,
		Run:     runValidate,
	})
}

// ValidatedConnector is one connector in a ValidateReport.
type ValidatedConnector struct {
	Kind    config.Kind `json:"kind"`
	Key     string      `json:"key"`
	Version uint64      `json:"version"`
	Enabled bool        `json:"enabled"`
	File    string      `json:"file"`
	Plugin  string      `json:"plugin,omitempty"` // resolved library path
	Name    string      `json:"plugin_name,omitempty"`
	Status  string      `json:"status"` // ok | invalid | disabled
}

// ValidateReport is what `validate` found (also its --json output).
type ValidateReport struct {
	Config     string               `json:"config"` // main config file ("" = defaults only)
	Provider   string               `json:"provider,omitempty"`
	Connectors []ValidatedConnector `json:"connectors"`
	Problems   config.Problems      `json:"problems"`
	Errors     int                  `json:"errors"`
	Warnings   int                  `json:"warnings"`
	OK         bool                 `json:"ok"`
}

func runValidate(ctx context.Context, env *Env, args []string) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	path := fs.String("config", "", "main config file")
	asJSON := fs.Bool("json", false, "print JSON")
	allowWarnings := fs.Bool("allow-warnings", false, "exit 0 with warnings only")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "iggy-connectors validate: unexpected argument %q\n%s\n", fs.Arg(0), validateUsage)
		return 2
	}
	rep := Validate(ctx, ValidateOptions{ConfigPath: *path})
	rep.OK = rep.Errors == 0 && (rep.Warnings == 0 || *allowWarnings)
	if *asJSON {
		if rep.Problems == nil {
			rep.Problems = config.Problems{}
		}
		if rep.Connectors == nil {
			rep.Connectors = []ValidatedConnector{}
		}
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(env.Stdout, string(b))
	} else {
		printReport(env.Stdout, rep)
	}
	if rep.OK {
		return 0
	}
	return 1
}

func printReport(w io.Writer, rep *ValidateReport) {
	cfg := rep.Config
	if cfg == "" {
		cfg = "(none: defaults and environment)"
	}
	fmt.Fprintf(w, "config:     %s\n", cfg)
	if rep.Provider != "" {
		fmt.Fprintf(w, "connectors: %s\n", rep.Provider)
	}
	for _, c := range rep.Connectors {
		line := fmt.Sprintf("  %-6s %-20s version %-3d %-8s %s", c.Kind, c.Key, c.Version, c.Status, c.File)
		if c.Plugin != "" {
			line += " → " + c.Plugin
			if c.Name != "" {
				line += " (" + c.Name + ")"
			}
		}
		fmt.Fprintln(w, line)
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "%s: %s\n", p.Severity, p.Error())
	}
	switch {
	case rep.Errors == 0 && rep.Warnings == 0:
		fmt.Fprintf(w, "OK: %d connectors, no problems\n", len(rep.Connectors))
	default:
		fmt.Fprintf(w, "problems: %d errors, %d warnings\n", rep.Errors, rep.Warnings)
	}
}

// ValidateOptions controls Validate.
type ValidateOptions struct {
	ConfigPath string            // main config file; "" = as run finds it
	Env        map[string]string // nil = the process environment (and .env, as run)
	Dir        string            // "" = working directory
}

// Validate loads everything `run` would load and checks it without starting anything. It never
// returns nil; problems are in the report.
func Validate(ctx context.Context, opts ValidateOptions) *ValidateReport {
	rep := &ValidateReport{}
	loaded, _ := config.Load(config.Options{Path: opts.ConfigPath, Env: opts.Env, Dir: opts.Dir})
	rep.Config = loaded.File
	rep.Problems = append(rep.Problems, loaded.Problems...)
	defer func() {
		for _, p := range rep.Problems {
			if p.Severity == config.SeverityError {
				rep.Errors++
			} else {
				rep.Warnings++
			}
		}
	}()
	if loaded.Config == nil {
		return rep
	}
	for _, p := range loaded.Problems.Errors() {
		if strings.HasPrefix(p.Key, "connectors") || strings.HasPrefix(p.Key, config.EnvPrefix+"CONNECTORS_") {
			return rep // the provider settings are wrong: reading connector configs would mislead
		}
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	prov, err := provider.New(loaded.Config.Connectors, provider.Options{Env: loaded.Env, ReadOnly: true, Logger: quiet})
	if err != nil {
		rep.Problems.Add(loaded.File, "connectors", "%v", err)
		return rep
	}
	rep.Provider = prov.Describe()
	snap, err := prov.ActiveConfigs(ctx)
	if err != nil {
		rep.Problems.Add(loaded.File, "connectors", "cannot read connector configs: %v", err)
		return rep
	}
	mainProblems := len(rep.Problems)
	rep.Problems = append(rep.Problems, snap.Problems...)
	defer func() { rep.Problems[mainProblems:].Sort() }() // connector problems grouped by file
	libs := map[string]*plugin.Library{}
	for _, c := range snap.All() {
		vc := ValidatedConnector{Kind: c.Kind, Key: c.Key, Version: c.Version, Enabled: c.Enabled, File: c.File, Status: "ok"}
		if !c.Enabled {
			vc.Status = "disabled"
			rep.Connectors = append(rep.Connectors, vc)
			continue
		}
		ps := checkConnector(c, libs, quiet, &vc)
		if ps.HasErrors() {
			vc.Status = "invalid"
		}
		rep.Problems = append(rep.Problems, ps...)
		rep.Connectors = append(rep.Connectors, vc)
	}
	checkRejectedFiles(rep, snap, libs, quiet)
	return rep
}

// checkRejectedFiles goes on checking the connector files the provider rejected for errors, so that
// one run lists every problem of a file: a misspelt top-level key must not hide a misspelt
// plugin_config key or transform key. Each such local file is decoded as far as possible
// (config.ConnectorDoc.Decode) and its plugin (when path is set, or a misspelling of it), plugin_config,
// transforms and codecs are checked as for a valid one; problems at a key already reported are not repeated.
// Environment overrides are not applied here (their problems are already listed).
func checkRejectedFiles(rep *ValidateReport, snap *provider.Snapshot, libs map[string]*plugin.Library, log *slog.Logger) {
	used := map[string]bool{}
	for _, c := range snap.All() {
		used[c.File] = true
	}
	reported := map[string]bool{}
	var files []string
	for _, p := range rep.Problems {
		reported[p.File+"\x00"+p.Key] = true
		if p.Severity == config.SeverityError && !used[p.File] && strings.EqualFold(filepath.Ext(p.File), ".toml") {
			used[p.File] = true
			files = append(files, p.File)
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // not a connector file of this machine (HTTP provider) or gone
		}
		// The provider's problems of this file are listed already, unless its type or key was
		// misspelt: then it stopped at those, and decoding the guessed document finds the rest.
		doc, _ := config.ParseConnectorTOML(f, data)
		guessed := doc == nil
		if guessed {
			if doc = config.GuessConnectorTOML(f, data); doc == nil {
				continue // not TOML, or no type/key even misspelt: nothing more can be checked
			}
		}
		c, ps := doc.Decode(nil)
		if !guessed {
			ps = nil
		}
		if strings.TrimSpace(c.Path) == "" {
			// A misspelt path (`pth = ...`) would hide plugin_config's problems: check the plugin it names.
			c.Path, _ = doc.MisspeltString("path")
		}
		vc := ValidatedConnector{Kind: c.Kind, Key: c.Key, Version: c.Version, Enabled: c.Enabled, File: f, Status: "invalid"}
		for _, p := range append(ps, checkConnector(c, libs, log, &vc)...) {
			if !reported[p.File+"\x00"+p.Key] {
				reported[p.File+"\x00"+p.Key] = true
				rep.Problems = append(rep.Problems, p)
			}
		}
		rep.Connectors = append(rep.Connectors, vc)
	}
}

// checkConnector checks what only the runtime's components can: the plugin library and its view of
// plugin_config, the transforms and the codec options.
// A config without a path (a rejected file) skips the plugin.
func checkConnector(c *config.ConnectorConfig, libs map[string]*plugin.Library, log *slog.Logger, vc *ValidatedConnector) config.Problems {
	var ps config.Problems
	if strings.TrimSpace(c.Path) != "" {
		ps = checkPlugin(c, libs, log, vc)
	}
	if _, err := engine.TransformChain(c); err != nil {
		key, msg := splitPathError(err.Error(), "transforms")
		ps.Add(c.File, key, "%s", msg)
	}
	for i := 0; i < c.Streams(); i++ {
		key := fmt.Sprintf("streams[%d]", i)
		var err error
		if c.Kind == config.KindSink {
			s := c.SinkStreams[i]
			_, err = codec.NewDecoder(abi.Schema(s.Schema), engine.CodecOptions(s.Stream, s.CodecOptions))
		} else {
			s := c.SourceStreams[i]
			_, err = codec.NewEncoder(abi.Schema(s.Schema), engine.CodecOptions(s.Stream, s.CodecOptions))
		}
		if err != nil {
			msg := err.Error()
			for _, opt := range []string{"proto_descriptor_set", "proto_message_type", "flatbuffer_schema", "flatbuffer_root_table",
				"avro_schema_path", "avro_schema_json", "avro_confluent_schema_id"} {
				if rest, ok := strings.CutPrefix(msg, opt+": "); ok {
					key, msg = key+"."+opt, rest
					break
				}
			}
			ps.Add(c.File, key, "%s", msg)
		}
	}
	return ps
}

// checkPlugin loads the connector's plugin and asks it to validate plugin_config.
func checkPlugin(c *config.ConnectorConfig, libs map[string]*plugin.Library, log *slog.Logger, vc *ValidatedConnector) config.Problems {
	var ps config.Problems
	lib, err := openPlugin(c, libs, log)
	if err != nil {
		ps.Add(c.File, "path", "%v", err)
		return ps
	}
	vc.Plugin = lib.Path()
	info := lib.Info()
	vc.Name = info.Name
	if string(info.Kind) != string(c.Kind) {
		ps.Add(c.File, "path", "plugin %q (%s) is a %s, but this config is a %s", info.Name, lib.Path(), info.Kind, c.Kind)
	} else if cfgJSON, err := c.PluginConfigJSON(); err != nil {
		ps.Add(c.File, "plugin_config", "%v", err)
	} else if err := lib.ValidateConfig(cfgJSON); err != nil {
		ps = append(ps, pluginConfigProblem(c.File, err))
	}
	return ps
}

// openPlugin loads a connector's library once per resolved path, with the connector's transport.
func openPlugin(c *config.ConnectorConfig, libs map[string]*plugin.Library, log *slog.Logger) (*plugin.Library, error) {
	resolved, err := plugin.Resolve(c.Path, nil)
	if err != nil {
		return nil, err
	}
	id := resolved + "|" + c.Transport
	if l, ok := libs[id]; ok {
		return l, nil
	}
	l, err := plugin.Open(resolved, plugin.Options{Transport: plugin.Transport(c.Transport), Logger: log, Stdout: io.Discard})
	if err != nil {
		return nil, err
	}
	libs[id] = l
	return l, nil
}

// pluginConfigProblem turns a plugin's config verdict into a problem at plugin_config.<field>.
func pluginConfigProblem(file string, err error) config.Problem {
	var ce *plugin.CallError
	if errors.As(err, &ce) {
		key := "plugin_config"
		if ce.Field() != "" {
			key += "." + ce.Field()
		}
		msg := ce.Record.Message
		if msg == "" {
			msg = ce.Error()
		}
		// SDK messages may repeat the key ("plugin_config.x: unknown key").
		msg = strings.TrimPrefix(msg, key+": ")
		return config.Problem{File: file, Key: key, Message: msg}
	}
	return config.Problem{File: file, Key: "plugin_config", Message: err.Error()}
}

// splitPathError splits "transforms.x.y: message" into key and message when the error starts with a
// key path under root; otherwise the key is root.
func splitPathError(s, root string) (string, string) {
	if k, msg, ok := strings.Cut(s, ": "); ok && strings.HasPrefix(k, root) && !strings.ContainsAny(k, " \t") {
		return k, msg
	}
	return root, s
}
