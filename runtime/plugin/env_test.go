package plugin

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"testing"
)

const envChildVar = "IGGY_PLUGIN_ENV_TEST_CHILD"

// TestSetPluginEnvReachesInProcessPlugins: a plugin's log level is read from the C environment when
// the library loads; SetPluginEnv must put it there (a CGO-free os.Setenv does not). Runs in a child
// test process, because a library reads the variable only on its first load in a process.
func TestSetPluginEnvReachesInProcessPlugins(t *testing.T) {
	lib := stdoutSink(t) // build in the parent, where the build cache helpers live
	if os.Getenv(envChildVar) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSetPluginEnvReachesInProcessPlugins$", "-test.count=1")
		cmd.Env = append(os.Environ(), envChildVar+"="+lib)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	if err := SetPluginEnv("IGGY_PLUGIN_LOG_LEVEL", "debug"); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	l, err := Open(os.Getenv(envChildVar), Options{Logger: slog.New(rec), Stdout: discardWriter{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := l.OpenSink(ctx, "k", []byte(`{"print_payload": true}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Consume(ctx, batchOf("a", "b")); err != nil {
		t.Fatal(err)
	}
	_ = s.Close(ctx)
	debug := rec.find("message")
	if len(debug) != 2 || debug[0].level != slog.LevelDebug {
		t.Fatalf("debug records of the plugin = %+v, want 2 at debug (IGGY_PLUGIN_LOG_LEVEL=debug not seen by the plugin)", debug)
	}
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
