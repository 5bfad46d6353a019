package plugin

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

// TestLoadErrors: each bad library gives one clear error naming the library and the cause, with both
// transports.
func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "libiggy_connector_text_sink.so")
	if err := os.WriteFile(text, []byte("this is not ELF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "libiggy_connector_missing_sink.so")
	cases := []struct {
		name    string
		path    string
		reason  error
		mention []string
	}{
		{"missing file", missing, ErrNotFound, []string{missing, "not found"}},
		{"missing relative file", "libiggy_connector_nowhere_sink", ErrNotFound, []string{"libiggy_connector_nowhere_sink", "searched", "/usr/lib, ", "lib/iggy-connectors"}},
		{"not a shared library", text, ErrNotSharedLibrary, []string{text, "not a shared library"}},
		{"directory", dir + "/x.so", ErrNotFound, []string{"x.so"}},
		{"missing symbol", pluginbuild.CVariant(t, "NOSYM", "nosym"), ErrMissingSymbol, []string{"libiggy_connector_nosym_sink.so", "missing symbol iggy_sink_consume"}},
		{"ABI major mismatch", pluginbuild.CVariant(t, "BADABI", "badabi"), ErrABIMismatch, []string{"libiggy_connector_badabi_sink.so", "ABI version 2.0", "(ABI " + abi.VersionString(abi.Version) + ")"}},
	}
	for _, transport := range []Transport{TransportInProcess, TransportProcess} {
		for _, c := range cases {
			t.Run(string(transport)+"/"+c.name, func(t *testing.T) {
				lib, err := Open(c.path, Options{Transport: transport, Logger: discardLogger()})
				if err == nil {
					t.Fatalf("Open(%s) succeeded: %+v", c.path, lib.Info())
				}
				var le *LoadError
				if !errors.As(err, &le) || !errors.Is(err, c.reason) {
					t.Fatalf("err = %v (%T), want a *LoadError for %v", err, err, c.reason)
				}
				for _, m := range c.mention {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q does not mention %q", err, m)
					}
				}
			})
		}
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libiggy_connector_x_sink.so")
	if err := os.WriteFile(lib, []byte{0x7f, 'E', 'L', 'F'}, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{lib, strings.TrimSuffix(lib, ".so"), "libiggy_connector_x_sink", "libiggy_connector_x_sink.so"} {
		got, err := Resolve(p, []string{dir})
		if err != nil || got != lib {
			t.Errorf("Resolve(%q) = %q, %v; want %q", p, got, err, lib)
		}
	}
	// A file whose name has a version suffix is used as given; the extension is added only when the
	// given path does not exist (issue 18.3: libfoo.so.1 used to become libfoo.so.1.so).
	versioned := filepath.Join(dir, "libfoo.so.1")
	if err := os.WriteFile(versioned, []byte{0x7f, 'E', 'L', 'F'}, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{versioned, "libfoo.so.1"} {
		if got, err := Resolve(p, []string{dir}); err != nil || got != versioned {
			t.Errorf("Resolve(%q) = %q, %v; want %q", p, got, err, versioned)
		}
	}
	if got, err := Resolve(filepath.Join(dir, "libfoo.so.2"), nil); !errors.Is(err, ErrNotFound) ||
		!strings.Contains(err.Error(), filepath.Join(dir, "libfoo.so.2.so")) {
		t.Errorf("Resolve(missing libfoo.so.2) = %q, %v; want not found listing libfoo.so.2 and libfoo.so.2.so", got, err)
	}
	_, err := Resolve("libiggy_connector_y_sink", []string{dir})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "libiggy_connector_y_sink.so") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("err = %v, want not found listing %s", err, dir)
	}
}

// TestInspectInfo: a loaded library reports its info, once per path however often it is opened.
func TestInspectInfo(t *testing.T) {
	path := stdoutSink(t)
	a, err := Open(path, Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(strings.TrimSuffix(path, ".so"), Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "libiggy_connector_link_sink.so")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	c, err := Open(link, Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if a.n != b.n || a.n != c.n {
		t.Fatal("the same library was loaded twice")
	}
	info := a.Info()
	if info.Kind != abi.KindSink || info.Name != "stdout" || info.ABIVersion != abi.Version || len(info.ConfigFields) != 1 ||
		info.ConfigFields[0].Name != "print_payload" || info.ConfigFields[0].Type != "bool" {
		t.Fatalf("info = %+v", info)
	}
}

// TestDoubleRegistration: a library that registers two plugins panics while loading; under the
// process transport the runtime survives and reports the SDK's message.
func TestDoubleRegistration(t *testing.T) {
	path := pluginbuild.GoPlugin(t, "test/plugins/double", "iggy_connector_double_sink")
	_, err := Open(path, Options{Transport: TransportProcess, Logger: discardLogger()})
	if !errors.Is(err, ErrHost) || !strings.Contains(err.Error(), path) ||
		!strings.Contains(err.Error(), `plugin "first" is already registered`) {
		t.Fatalf("err = %v", err)
	}
	t.Log(err)
}
