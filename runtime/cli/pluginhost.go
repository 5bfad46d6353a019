package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/iggy-go/connectors/runtime/plugin"
)

func init() {
	Register(&Command{
		Name:    plugin.HostCommand,
		Summary: "internal: host one plugin library for the process transport",
		Usage: "usage: iggy-connectors plugin-host --library PATH\n\n" +
			"Internal mode of the process transport: loads the library, then serves the runtime's request\n" +
			"frames read from standard input and writes replies to file descriptor 3. Not for direct use.",
		Hidden: true,
		Run:    runPluginHost,
	})
}

func runPluginHost(_ context.Context, env *Env, args []string) int {
	fs := flag.NewFlagSet(plugin.HostCommand, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	lib := fs.String("library", "", "resolved path of the plugin library")
	if err := fs.Parse(args); err != nil || *lib == "" {
		fmt.Fprintln(env.Stderr, "usage: iggy-connectors plugin-host --library PATH")
		return 2
	}
	replies := os.NewFile(3, "replies")
	if replies == nil {
		fmt.Fprintln(env.Stderr, "plugin-host: file descriptor 3 (the reply pipe) is not open; this mode is started by the runtime")
		return 2
	}
	if err := plugin.ServeHost(*lib, os.Stdin, replies); err != nil {
		var le *plugin.LoadError
		if errors.As(err, &le) {
			return 1 // already reported to the runtime in the hello frame
		}
		fmt.Fprintf(env.Stderr, "plugin-host: %v\n", err)
		return 1
	}
	return 0
}
