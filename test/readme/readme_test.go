//go:build integration

// Package readme runs the commands the README shows a new user, exactly as written, from the
// repository root, after `make build plugins` (scripts/test.sh builds both before the integration
// suites). A command that the README promises but that fails is a defect of the README or the code.
package readme

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/test/pluginbuild"
)

// readmeCommands returns the lines of the README's sh code blocks that run the built runtime
// (`build/bin/iggy-connectors ...`), comments stripped.
func readmeCommands(t *testing.T, root string) []string {
	f, err := os.Open(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cmds []string
	inSh := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "```"):
			inSh = !inSh && strings.TrimPrefix(line, "```") == "sh"
		case inSh && strings.HasPrefix(line, "build/bin/iggy-connectors "):
			if i := strings.Index(line, " #"); i >= 0 {
				line = strings.TrimSpace(line[:i])
			}
			cmds = append(cmds, line)
		}
	}
	return cmds
}

func TestREADMECommands(t *testing.T) {
	root := pluginbuild.RepoRoot()
	pluginbuild.RequireBuilt(t, "build/bin/iggy-connectors", "build/plugins/libiggy_connector_stdout_sink.so",
		"build/plugins/libiggy_connector_random_source.so", "build/plugins/libiggy_connector_postgres_sink.so")
	cmds := readmeCommands(t, root)
	// The README's quick checks of a fresh clone: validate the example config, inspect a plugin by
	// its bare name, and the help of the plugin command group.
	for _, want := range []string{
		"build/bin/iggy-connectors validate --config configs/examples/config-local.toml",
		"build/bin/iggy-connectors plugin inspect libiggy_connector_stdout_sink",
		"build/bin/iggy-connectors plugin --help",
	} {
		found := false
		for _, c := range cmds {
			found = found || c == want
		}
		if !found {
			t.Errorf("the README no longer shows %q (commands found: %q)", want, cmds)
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IGGY_CONNECTORS_") { // as on a new user's machine
			env = append(env, kv)
		}
	}
	for _, c := range cmds {
		t.Run(strings.TrimPrefix(c, "build/bin/iggy-connectors "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-c", c)
			cmd.Dir = root
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", c, err, out)
			}
			t.Logf("%s\n%s", c, out)
		})
	}
}
