package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pluginbuild.Cleanup()
	os.Exit(code)
}

// realPlugins builds the stdout sink, random source and postgres sink plugins.
func realPlugins(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"libiggy_connector_stdout_sink.so":   pluginbuild.GoPlugin(t, "connectors/sinks/stdout", "iggy_connector_stdout_sink"),
		"libiggy_connector_random_source.so": pluginbuild.GoPlugin(t, "connectors/sources/random", "iggy_connector_random_source"),
		"libiggy_connector_postgres_sink.so": pluginbuild.GoPlugin(t, "connectors/sinks/postgres", "iggy_connector_postgres_sink"),
	}
}

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Dispatch(context.Background(), &Env{Stdout: &out, Stderr: &errOut}, args)
	return code, out.String(), errOut.String()
}

// The original's example configuration, unchanged apart from plugin paths, is accepted.
func TestValidateAcceptsOriginalConfig(t *testing.T) {
	plugins := realPlugins(t)
	// A working directory laid out like the repository: test/ (the testdata) and build/plugins/
	// (the libraries the files name), so every relative path in the files resolves as written.
	root := t.TempDir()
	if err := os.Symlink(filepath.Join(pluginbuild.RepoRoot(), "test"), filepath.Join(root, "test")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "build", "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, p := range plugins {
		if err := os.Symlink(p, filepath.Join(root, "build", "plugins", name)); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(root)
	const cfg = "test/testdata/original-config/config.toml"

	rep := Validate(context.Background(), ValidateOptions{ConfigPath: cfg, Env: map[string]string{}})
	if rep.Errors != 0 || rep.Warnings != 0 || len(rep.Problems) != 0 {
		t.Fatalf("problems: %v", rep.Problems)
	}
	got := map[string]string{}
	for _, c := range rep.Connectors {
		got[string(c.Kind)+"/"+c.Key] = c.Status + " " + c.Name + " " + filepath.Base(c.Plugin)
		if c.Key == "pg" && c.Version != 0 || c.Key == "random" && c.Version != 1 {
			t.Errorf("%s: version %d is not the active one", c.Key, c.Version)
		}
	}
	want := map[string]string{
		"sink/pg":       "ok postgres libiggy_connector_postgres_sink.so",
		"sink/stdout":   "ok stdout libiggy_connector_stdout_sink.so",
		"source/random": "ok random libiggy_connector_random_source.so",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("connectors %v", got)
	}

	code, out, stderr := run(t, "validate", "--config", cfg)
	if code != 0 || !strings.Contains(out, "OK: 3 connectors, no problems") {
		t.Errorf("exit %d\n%s%s", code, out, stderr)
	}
	code, out, _ = run(t, "validate", "--json", "--config", cfg)
	var jr ValidateReport
	if err := json.Unmarshal([]byte(out), &jr); err != nil || code != 0 || !jr.OK || len(jr.Connectors) != 3 {
		t.Errorf("exit %d, %v: %s", code, err, out)
	}
}

// Every kind of problem is listed, each naming its file and key, and the exit status is 1.
func TestValidateListsEveryProblem(t *testing.T) {
	plugins := realPlugins(t)
	stdout, random := plugins["libiggy_connector_stdout_sink.so"], plugins["libiggy_connector_random_source.so"]
	dir := t.TempDir()
	t.Chdir(dir)
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return name
	}
	mainCfg := write("config.toml", "[http]\nadress = \"127.0.0.1:1\"\n[connectors]\nconfig_dir = \"conn\"\n")
	head := func(kind, key, path string) string {
		return "type = \"" + kind + "\"\nkey = \"" + key + "\"\nenabled = true\nversion = 0\nname = \"" + key + "\"\npath = \"" + path + "\"\n"
	}
	sinkStreams := "[[streams]]\nstream = \"s\"\ntopics = [\"t\"]\nschema = \"json\"\n"
	badPluginCfg := write("conn/plugin_config.toml", head("sink", "out", stdout)+"[plugin_config]\nprint_payloadd = true\n"+sinkStreams)
	badTransform := write("conn/transform.toml", head("sink", "tr", stdout)+"[transforms.filter_fields]\npatterns = [{ key_pattern = { regex = \"(\" } }]\n"+sinkStreams)
	unsupported := write("conn/unsupported.toml", head("sink", "conv", stdout)+"[transforms.proto_convert]\nsource_format = \"json\"\n"+sinkStreams)
	wrongKind := write("conn/kind.toml", head("source", "wrong", stdout)+"[[streams]]\nstream = \"s\"\ntopic = \"t\"\nschema = \"json\"\n")
	missingPlugin := write("conn/missing.toml", head("sink", "missing", "libiggy_connector_nope_sink")+sinkStreams)
	badDuration := write("conn/duration.toml", head("sink", "dur", stdout)+sinkStreams+"poll_interval = \"5 parsecs\"\n")
	missingKey := write("conn/required.toml", strings.Replace(head("sink", "req", stdout), "name = \"req\"\n", "", 1)+sinkStreams)
	wrongType := write("conn/type.toml", head("source", "rnd", random)+"max_in_flight = \"two\"\n[[streams]]\nstream = \"s\"\ntopic = \"t\"\nschema = \"json\"\n")
	codecFile := write("conn/codec.toml", head("source", "codec", random)+"[[streams]]\nstream = \"s\"\ntopic = \"t\"\nschema = \"proto\"\nproto_descriptor_set = \"nope.pb\"\nproto_message_type = \"a.B\"\n")
	avro := write("conn/avro.toml", head("sink", "avro", stdout)+"[[streams]]\nstream = \"s\"\ntopics = [\"t\"]\nschema = \"avro\"\navro_schema_path = \"x.avsc\"\n")
	unknownKey := write("conn/unknown.toml", head("sink", "unk", stdout)+"verbos = true\n"+sinkStreams)
	malformed := write("conn/malformed.toml", "type = \"sink\"\nkey = \"broken\"\nname = [\n")
	write("conn/disabled.toml", strings.Replace(head("sink", "off", "libiggy_connector_nope_sink"), "enabled = true", "enabled = false", 1)+sinkStreams)

	rep := Validate(context.Background(), ValidateOptions{ConfigPath: mainCfg, Env: map[string]string{
		"IGGY_CONNECTORS_IGGY_ADRESS": "x", "IGGY_CONNECTORS_SINK_OUT_VERBOSE": "maybe"}})
	abs := func(p string) string { return filepath.Join(dir, p) }
	wants := []struct {
		file, key, msg string
		sev            config.Severity
	}{
		{abs(mainCfg), "http.adress", `unknown key (did you mean "address"?)`, config.SeverityError},
		{config.EnvFile, "IGGY_CONNECTORS_IGGY_ADRESS", `did you mean "IGGY_CONNECTORS_IGGY_ADDRESS"?`, config.SeverityError},
		{config.EnvFile, "IGGY_CONNECTORS_SINK_OUT_VERBOSE", `expected true or false, got "maybe"`, config.SeverityError},
		{badTransform, "transforms.filter_fields.patterns[0].key_pattern.regex", `invalid regex "("`, config.SeverityError},
		{unsupported, "transforms.proto_convert", "not supported by this runtime", config.SeverityError},
		{wrongKind, "path", `plugin "stdout" (` + stdout + `) is a sink, but this config is a source`, config.SeverityError},
		{missingPlugin, "path", `plugin library "libiggy_connector_nope_sink": not found at "libiggy_connector_nope_sink" or "libiggy_connector_nope_sink.so"; searched`, config.SeverityError},
		// poll_interval follows [[streams]], so it is the stream's key.
		{badDuration, "streams[0].poll_interval", `invalid duration "5 parsecs": unknown unit "parsecs"`, config.SeverityError},
		{missingKey, "name", "missing required key", config.SeverityError},
		{wrongType, "max_in_flight", `expected a non-negative integer, got string "two"`, config.SeverityError},
		{codecFile, "streams[0].proto_descriptor_set", "nope.pb", config.SeverityError},
		{avro, "streams[0].avro_schema_path", "open x.avsc", config.SeverityError},
		{unknownKey, "verbos", `unknown key (did you mean "verbose"?)`, config.SeverityError},
		{malformed, "", "invalid TOML at line 3", config.SeverityError},
	}
	for _, w := range wants {
		found := false
		for _, p := range rep.Problems {
			found = found || p.File == w.file && p.Key == w.key && strings.Contains(p.Message, w.msg) && p.Severity == w.sev
		}
		if !found {
			t.Errorf("missing %s %s: %s: %s", w.sev, w.file, w.key, w.msg)
		}
	}
	// Nothing else: "out" is rejected for its bad environment override (no problem in its file), so
	// its plugin_config is checked below.
	if len(rep.Problems) != len(wants) {
		t.Errorf("%d problems, want %d:\n%v", len(rep.Problems), len(wants), rep.Problems.Error())
	}
	statuses := map[string]string{}
	for _, c := range rep.Connectors {
		statuses[c.Key] = c.Status
	}
	if statuses["off"] != "disabled" || statuses["tr"] != "invalid" || statuses["unk"] != "invalid" {
		t.Errorf("statuses %v", statuses)
	}

	// Without the bad override, the plugin rejects the misspelt plugin_config key.
	rep = Validate(context.Background(), ValidateOptions{ConfigPath: mainCfg, Env: map[string]string{}})
	found := false
	for _, p := range rep.Problems {
		found = found || p.File == badPluginCfg && p.Key == "plugin_config.print_payloadd" && strings.Contains(p.Message, `unknown key (did you mean "print_payload"?)`)
	}
	if !found {
		t.Errorf("plugin_config problem missing:\n%v", rep.Problems.Error())
	}

	code, out, _ := run(t, "validate", "--config", mainCfg)
	if code != 1 || !strings.Contains(out, "error: "+badTransform+": transforms.filter_fields") || !strings.Contains(out, "error: "+abs(mainCfg)+": http.adress") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

// One file with three typos (a top-level key, a plugin_config key, a transform key) reports all
// three in one run, each as an error, whichever top-level key is misspelt (issue 17: the first
// structural error used to hide the rest, and top-level and [[streams]] typos were only warnings).
func TestValidateThreeTypos(t *testing.T) {
	stdout := realPlugins(t)["libiggy_connector_stdout_sink.so"]
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile("config.toml", []byte("[connectors]\nconfig_dir = \"conn\"\n"), 0o644)
	os.Mkdir("conn", 0o755)
	head := map[string]string{"type": `"sink"`, "key": `"stdout"`, "enabled": "true", "version": "0", "name": `"out"`, "path": `"` + stdout + `"`}
	for key, typo := range map[string]string{"version": "versoin", "path": "pth", "type": "typ", "name": "nmae", "enabled": "enabeld", "key": "keey"} {
		t.Run(key, func(t *testing.T) {
			file := filepath.Join("conn", "stdout.toml")
			src := ""
			for _, k := range []string{"type", "key", "enabled", "version", "name", "path"} {
				name := k
				if k == key {
					name = typo
				}
				src += name + " = " + head[k] + "\n"
			}
			src += "[[streams]]\nstream = \"s\"\ntopics = [\"t\"]\nschema = \"json\"\n" +
				"[plugin_config]\nprint_paylod = true\n[transforms.add_fields]\nenabled = true\nfeilds = []\n"
			os.WriteFile(file, []byte(src), 0o644)
			code, out, _ := run(t, "validate", "--config", "config.toml")
			for _, w := range []string{
				"error: " + file + ": " + typo + ": unknown key (did you mean \"" + key + "\"?)",
				"error: " + file + ": plugin_config.print_paylod: unknown key (did you mean \"print_payload\"?)",
				"error: " + file + ": transforms.add_fields: unknown key \"feilds\"",
			} {
				if code != 1 || !strings.Contains(out, w) {
					t.Errorf("exit %d, output lacks %q:\n%s", code, w, out)
				}
			}
		})
	}
}

func TestValidateWarningsAndUsage(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile("config.toml", []byte("[connectors]\nconfig_dir = \"conn\"\nbase_url = \"http://cfg\"\n"), 0o644)
	os.Mkdir("conn", 0o755)
	if code, out, _ := run(t, "validate", "--config", "config.toml"); code != 1 || !strings.Contains(out, "problems: 0 errors, 1 warnings") {
		t.Errorf("warnings fail by default: exit %d\n%s", code, out)
	}
	if code, out, _ := run(t, "validate", "--config", "config.toml", "--allow-warnings"); code != 0 {
		t.Errorf("--allow-warnings: exit %d\n%s", code, out)
	}
	if code, _, _ := run(t, "validate", "extra"); code != 2 {
		t.Errorf("usage error: exit %d", code)
	}
	if code, out, _ := run(t, "validate", "--help"); code != 0 || !strings.Contains(out, "--allow-warnings") {
		t.Errorf("help: %d %s", code, out)
	}
	// A main config that is wrong is reported and fails.
	os.WriteFile("bad.toml", []byte("[connectors]\nconfig_type = \"ftp\"\n"), 0o644)
	code, out, _ := run(t, "validate", "--config", "bad.toml", "--json")
	var rep ValidateReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.OK || rep.Errors == 0 {
		t.Errorf("exit %d, %v\n%s", code, err, out)
	}
}
