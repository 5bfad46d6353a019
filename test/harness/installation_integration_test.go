//go:build integration

package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/test/pluginbuild"
)

// An Installation writes its connector files, starts the runtime with the settings it documents
// (env given to NewInstallation winning), logs every start to one Log, and is killed with SIGKILL,
// restarted and stopped.
func TestInstallation(t *testing.T) {
	srv := StartDevserver(t, DevserverOptions{})
	in := NewInstallation(t, "inst", pluginbuild.Runtime(t), srv.Addr, map[string]string{"a.toml": "# a\n"},
		"IGGY_CONNECTORS_LOGGING_LEVEL=debug")
	in.WriteConnector("b.toml", "# b\n")
	for file, want := range map[string]string{"a.toml": "# a\n", "b.toml": "# b\n"} {
		if b, err := os.ReadFile(filepath.Join(in.ConfigDir(), file)); err != nil || string(b) != want {
			t.Fatalf("%s: %q %v", file, b, err)
		}
	}
	if filepath.Dir(in.ConfigDir()) != in.WorkDir() || filepath.Dir(in.StateDir()) != in.WorkDir() || in.IggyAddr() != srv.Addr {
		t.Fatalf("layout: work %s config %s state %s addr %s", in.WorkDir(), in.ConfigDir(), in.StateDir(), in.IggyAddr())
	}
	in.Kill() // before the first start: nothing to do
	in.Start()
	WaitFor(t, 30*time.Second, "a debug line", func() bool { in.Alive(); return in.Count("level=DEBUG") > 0 })
	in.Kill()
	if !in.Exited() || in.Proc().Err() == nil || !strings.Contains(in.Proc().Err().Error(), "killed") {
		t.Fatalf("after Kill: exited %v, err %v", in.Exited(), in.Proc().Err())
	}
	in.Start()
	in.Alive()
	in.Stop()
	if !in.Exited() {
		t.Fatal("running after Stop")
	}
	if in.Starts() != 2 || in.Count("=== inst #1 started") != 1 || in.Count("=== inst #2 started") != 1 {
		t.Fatalf("%d starts; log:\n%s", in.Starts(), in.Log().Contents())
	}
}
