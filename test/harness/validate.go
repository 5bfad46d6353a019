package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Validate runs `runtimeBin validate --config ...` on the given connector files (file name → TOML)
// in a fresh directory, with a main config that names only that directory, and returns what the
// command printed and its error (non-nil when it found problems). Plugin paths in the files should
// be absolute (as pluginbuild.GoPlugin returns them) unless the plugin is in the search path.
func Validate(tb testing.TB, runtimeBin string, files map[string]string) (string, error) {
	tb.Helper()
	dir := tb.TempDir()
	conf := filepath.Join(dir, "connectors")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		tb.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte("[connectors]\nconfig_type = \"local\"\nconfig_dir = \"connectors\"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(runtimeBin, "validate", "--config", cfg)
	cmd.Dir = dir
	cmd.Env = RuntimeEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ProblemLine reports whether one line of validate's output names both the file and the key.
func ProblemLine(out, file, key string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, file) && strings.Contains(line, key) {
			return true
		}
	}
	return false
}
