package harness

import (
	"os"
	"os/exec"
	"strings"
)

// RuntimeEnv is the environment for an iggy-connectors child process: this process's environment
// without the settings that would change what the runtime does (IGGY_CONNECTORS_*,
// IGGY_DISPLAY_CONFIG, RUST_LOG), then settings ("NAME=value"; of two settings of a variable the
// later wins).
func RuntimeEnv(settings ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "IGGY_CONNECTORS_") || strings.HasPrefix(kv, "IGGY_DISPLAY_CONFIG=") || strings.HasPrefix(kv, "RUST_LOG=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, settings...)
}

// RuntimeCmd prepares `bin run` in dir (an empty directory has no configs/config.toml or .env
// above it, so the embedded defaults apply) with RuntimeEnv(settings...).
func RuntimeCmd(bin, dir string, settings ...string) *exec.Cmd {
	cmd := exec.Command(bin, "run")
	cmd.Dir = dir
	cmd.Env = RuntimeEnv(settings...)
	return cmd
}
