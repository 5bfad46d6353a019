// Package cli implements the iggy-connectors command line: a small registry of subcommands, each in
// its own file (run, validate, plugin inspect, version, and the hidden plugin-host mode used by the
// process transport). Main is the whole program; it returns the process exit code.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Command is one subcommand. Run gets the arguments after the command's name and returns the exit
// code (0 ok, 1 failure, 2 usage error). Commands print results to Stdout and diagnostics to Stderr.
type Command struct {
	Name    string // e.g. "validate" or "plugin inspect"
	Summary string // one line for `help`
	Usage   string // full help text printed by `<command> --help`
	Hidden  bool   // not listed by `help` (internal modes)
	Run     func(ctx context.Context, env *Env, args []string) int
}

// Env carries the process's streams so commands are testable.
type Env struct {
	Stdout io.Writer
	Stderr io.Writer
}

var commands = map[string]*Command{}

// Register adds a command; called from init functions of this package's files.
func Register(c *Command) {
	if _, dup := commands[c.Name]; dup {
		panic("cli: duplicate command " + c.Name)
	}
	commands[c.Name] = c
}

// DefaultCommand runs when no command is given.
const DefaultCommand = "run"

// Main parses args, runs the matching command with a context cancelled on SIGINT/SIGTERM, and
// returns the exit code.
func Main(args []string) int {
	env := &Env{Stdout: os.Stdout, Stderr: os.Stderr}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Dispatch(ctx, env, args)
}

// Dispatch finds the longest registered command name that prefixes args and runs it.
func Dispatch(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" {
		args = append([]string{DefaultCommand}, args...)
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, _ := lookup(args[1:]); c != nil {
				fmt.Fprintln(env.Stdout, usageOf(c))
				return 0
			}
			if subs := group(args[1]); len(subs) > 0 {
				printGroupHelp(env.Stdout, args[1], subs)
				return 0
			}
		}
		printHelp(env.Stdout)
		return 0
	}
	c, rest := lookup(args)
	if c == nil {
		// A command group (`plugin`): its help for --help, else a usage error with the same help.
		if subs := group(args[0]); len(subs) > 0 {
			if len(args) > 1 && (args[1] == "-h" || args[1] == "--help") {
				printGroupHelp(env.Stdout, args[0], subs)
				return 0
			}
			if len(args) > 1 {
				fmt.Fprintf(env.Stderr, "iggy-connectors: unknown command %q\n", strings.Join(args[:2], " "))
			}
			printGroupHelp(env.Stderr, args[0], subs)
			return 2
		}
		fmt.Fprintf(env.Stderr, "iggy-connectors: unknown command %q (see `iggy-connectors help`)\n", strings.Join(args, " "))
		return 2
	}
	for _, a := range rest {
		if a == "-h" || a == "--help" {
			fmt.Fprintln(env.Stdout, usageOf(c))
			return 0
		}
	}
	return c.Run(ctx, env, rest)
}

func lookup(args []string) (*Command, []string) {
	for n := min(len(args), 3); n > 0; n-- {
		if c, ok := commands[strings.Join(args[:n], " ")]; ok {
			return c, args[n:]
		}
	}
	return nil, nil
}

func usageOf(c *Command) string {
	if c.Usage != "" {
		return c.Usage
	}
	return "usage: iggy-connectors " + c.Name + "\n\n" + c.Summary
}

// group returns the visible commands whose name starts with the word name and a space (the
// subcommands of a group such as "plugin"), sorted.
func group(name string) []string {
	var subs []string
	for n, c := range commands {
		if !c.Hidden && strings.HasPrefix(n, name+" ") {
			subs = append(subs, n)
		}
	}
	sort.Strings(subs)
	return subs
}

func printGroupHelp(w io.Writer, name string, subs []string) {
	fmt.Fprintf(w, "usage: iggy-connectors %s <command> [flags]\n\ncommands:\n", name)
	for _, n := range subs {
		fmt.Fprintf(w, "  %-16s %s\n", n, commands[n].Summary)
	}
	fmt.Fprintf(w, "\nRun `iggy-connectors %s --help` for its flags.\n", subs[0])
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "iggy-connectors — moves data between Apache Iggy and external systems through plugins.")
	fmt.Fprintln(w, "\nusage: iggy-connectors [command] [flags]   (default command: run)\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n, c := range commands {
		if !c.Hidden {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-16s %s\n", n, commands[n].Summary)
	}
	fmt.Fprintln(w, "\nRun `iggy-connectors <command> --help` for a command's flags.")
}
