package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/runtime/plugin"
)

func init() {
	Register(&Command{
		Name:    "plugin inspect",
		Summary: "print a plugin library's ABI version, kind, name, version and config fields",
		Usage: "usage: iggy-connectors plugin inspect PATH [--json] [--transport in_process|process]\n\n" +
			"Loads the library, found exactly as `run` finds a connector's plugin (an existing path is used as\n" +
			"given, else the OS extension is appended; a relative path is searched in <binary dir>/../plugins,\n" +
			"<binary dir>/../lib/iggy-connectors, the binary's directory, the working directory and the system\n" +
			"library directories), checks it and prints what it reports. Exit status 1 with a clear error when it cannot be loaded.\n" +
			"--transport process loads it in a child process, so a crashing library cannot take inspect down.",
		Run: runInspect,
	})
}

func runInspect(_ context.Context, env *Env, args []string) int {
	fs := flag.NewFlagSet("plugin inspect", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	transport := fs.String("transport", "in_process", "in_process or process")
	// Accept flags before and after PATH.
	var paths []string
	rest := args
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		rest = fs.Args()
		if len(rest) > 0 {
			paths = append(paths, rest[0])
			rest = rest[1:]
		}
	}
	if len(paths) != 1 {
		fmt.Fprintln(env.Stderr, "usage: iggy-connectors plugin inspect PATH [--json]")
		return 2
	}
	t, err := plugin.ParseTransport(*transport)
	if err != nil {
		fmt.Fprintln(env.Stderr, "iggy-connectors plugin inspect:", err)
		return 2
	}
	lib, err := plugin.Open(paths[0], plugin.Options{Transport: t})
	if err != nil {
		fmt.Fprintln(env.Stderr, "iggy-connectors plugin inspect:", err)
		return 1
	}
	info := lib.Info()
	if *asJSON {
		out := struct {
			Path       string `json:"path"`
			ABIVersion string `json:"abi_version"`
			SinkBatch  string `json:"sink_batches,omitempty"`
			abi.PluginInfo
		}{lib.Path(), abi.VersionString(info.ABIVersion), sinkBatches(lib), info}
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintln(env.Stdout, string(b))
		return 0
	}
	fmt.Fprintf(env.Stdout, "path:        %s\nabi version: %s\nkind:        %s\nname:        %s\nversion:     %s\n",
		lib.Path(), abi.VersionString(info.ABIVersion), info.Kind, info.Name, info.Version)
	if sb := sinkBatches(lib); sb != "" {
		fmt.Fprintf(env.Stdout, "sink batches: %s\n", sb)
	}
	if info.Description != "" {
		fmt.Fprintf(env.Stdout, "description: %s\n", info.Description)
	}
	if info.SDK != "" {
		fmt.Fprintf(env.Stdout, "sdk:         %s\n", info.SDK)
	}
	if len(info.ConfigFields) > 0 {
		fmt.Fprintln(env.Stdout, "config fields:")
		for _, f := range info.ConfigFields {
			var notes []string
			if f.Required {
				notes = append(notes, "required")
			}
			if f.Default != "" {
				notes = append(notes, "default "+f.Default)
			}
			if f.Secret {
				notes = append(notes, "secret")
			}
			line := fmt.Sprintf("  %-20s %-9s", f.Name, f.Type)
			if len(notes) > 0 {
				line += " (" + strings.Join(notes, ", ") + ")"
			}
			if f.Description != "" {
				line += "  " + f.Description
			}
			fmt.Fprintln(env.Stdout, strings.TrimRight(line, " "))
		}
	}
	return 0
}

// sinkBatches says how a sink library takes its batches: "by reference" (ABI 1.1's
// iggy_sink_consume_ref) or "cbor" (ABI 1.0's iggy_sink_consume); "" for a source.
func sinkBatches(lib *plugin.Library) string {
	switch {
	case lib.Info().Kind != abi.KindSink:
		return ""
	case lib.SinkBatchesByRef():
		return "by reference"
	}
	return "cbor"
}
