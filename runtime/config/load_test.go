package config

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// lookup returns the value at a dotted key path of the config's tree form.
func lookup(t *testing.T, c *Config, path string) any {
	t.Helper()
	var cur any = c.jsonTree()
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: %q is not a table", path, p)
		}
		cur, ok = m[p]
		if !ok {
			t.Fatalf("%s: no key %q", path, p)
		}
	}
	return cur
}

// leafPaths lists every key path of the config (arrays and maps are leaves).
func leafPaths(prefix string, v any) []string {
	m, ok := v.(map[string]any)
	if !ok || strings.HasSuffix(prefix, "request_headers") || strings.HasSuffix(prefix, "url_templates") {
		return []string{prefix}
	}
	var out []string
	for k, e := range m {
		out = append(out, leafPaths(joinPath(prefix, k), e)...)
	}
	return out
}

func loadPure(t *testing.T, opts Options) *Loaded {
	t.Helper()
	if opts.Env == nil {
		opts.Env = map[string]string{}
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	l, err := Load(opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return l
}

// Every default of spec §4.1 (and the logging.level extension), and nothing else.
var documentedDefaults = map[string]any{
	"http.enabled":                        true,
	"http.address":                        "127.0.0.1:8081",
	"http.api_key":                        "",
	"http.cors.enabled":                   false,
	"http.cors.allowed_methods":           []any{"GET", "POST", "PUT", "DELETE"},
	"http.cors.allowed_origins":           []any{"*"},
	"http.cors.allowed_headers":           []any{"content-type"},
	"http.cors.exposed_headers":           []any{""},
	"http.cors.allow_credentials":         false,
	"http.cors.allow_private_network":     false,
	"http.metrics.enabled":                false,
	"http.metrics.endpoint":               "/metrics",
	"http.tls.enabled":                    false,
	"http.tls.cert_file":                  "core/certs/iggy_cert.pem",
	"http.tls.key_file":                   "core/certs/iggy_key.pem",
	"iggy.address":                        "localhost:8090",
	"iggy.username":                       "iggy",
	"iggy.password":                       "iggy",
	"iggy.token":                          "",
	"iggy.tls.enabled":                    false,
	"iggy.tls.ca_file":                    "core/certs/iggy_ca_cert.pem",
	"iggy.tls.domain":                     "",
	"state.path":                          "local_state",
	"connectors.config_type":              "local",
	"connectors.config_dir":               "",
	"connectors.base_url":                 "",
	"connectors.timeout":                  "10s",
	"connectors.request_headers":          map[string]any{},
	"connectors.url_templates":            map[string]any{},
	"connectors.response.data_path":       "",
	"connectors.response.error_path":      "",
	"connectors.retry.enabled":            true,
	"connectors.retry.max_attempts":       uint32(3),
	"connectors.retry.initial_backoff":    "1s",
	"connectors.retry.max_backoff":        "30s",
	"connectors.retry.backoff_multiplier": 2.0,
	"telemetry.enabled":                   false,
	"telemetry.service_name":              "iggy-connectors",
	"telemetry.logs.transport":            "grpc",
	"telemetry.logs.endpoint":             "http://localhost:4317",
	"telemetry.traces.transport":          "grpc",
	"telemetry.traces.endpoint":           "http://localhost:4317",
	"logging.format":                      "text",
	"logging.level":                       "info",
	"instance":                            "",
}

func TestDefaults(t *testing.T) {
	l := loadPure(t, Options{})
	if l.File != "" {
		t.Fatalf("no file expected, got %s", l.File)
	}
	for path, want := range documentedDefaults {
		if got := lookup(t, l.Config, path); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
	// The table covers every key of the config.
	paths := leafPaths("", l.Config.jsonTree())
	sort.Strings(paths)
	for _, p := range paths {
		if _, ok := documentedDefaults[p]; !ok {
			t.Errorf("key %s has no documented default in this test", p)
		}
	}
	if len(paths) != len(documentedDefaults) {
		t.Errorf("config has %d keys, table %d", len(paths), len(documentedDefaults))
	}
	if !reflect.DeepEqual(Default(), l.Config) {
		t.Errorf("Default() differs from Load without file:\n%s\n%s", Default(), l.Config)
	}
	// A missing file is a warning naming the path, not an error.
	if len(l.Problems) != 1 || l.Problems[0].Severity != SeverityWarning || l.Problems[0].File != DefaultConfigPath ||
		!strings.Contains(l.Problems[0].Message, "not found") {
		t.Errorf("problems = %v", l.Problems)
	}
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMainEnvOverrides(t *testing.T) {
	file := "[iggy]\naddress = \"from-file:1\"\n[http.cors]\nallowed_methods = [\"GET\", \"POST\", \"PUT\"]\n"
	cases := []struct {
		name string
		env  map[string]string
		path string
		want any
	}{
		{"string", map[string]string{"IGGY_CONNECTORS_IGGY_ADDRESS": "server:9000"}, "iggy.address", "server:9000"},
		{"empty value ignored", map[string]string{"IGGY_CONNECTORS_IGGY_ADDRESS": ""}, "iggy.address", "from-file:1"},
		{"secret", map[string]string{"IGGY_CONNECTORS_HTTP_API_KEY": "k3y"}, "http.api_key", "k3y"},
		{"number kept as string for a string key", map[string]string{"IGGY_CONNECTORS_IGGY_PASSWORD": "12345"}, "iggy.password", "12345"},
		{"bool any case", map[string]string{"IGGY_CONNECTORS_HTTP_ENABLED": "FALSE"}, "http.enabled", false},
		{"nested bool", map[string]string{"IGGY_CONNECTORS_HTTP_CORS_ALLOW_CREDENTIALS": "True"}, "http.cors.allow_credentials", true},
		{"array syntax", map[string]string{"IGGY_CONNECTORS_HTTP_CORS_ALLOWED_ORIGINS": `[http://a.example, "http://b.example"]`}, "http.cors.allowed_origins", []any{"http://a.example", "http://b.example"}},
		{"single value array", map[string]string{"IGGY_CONNECTORS_HTTP_CORS_ALLOWED_ORIGINS": "http://a.example"}, "http.cors.allowed_origins", []any{"http://a.example"}},
		{"empty array", map[string]string{"IGGY_CONNECTORS_HTTP_CORS_EXPOSED_HEADERS": "[]"}, "http.cors.exposed_headers", []any{}},
		{"indexed array replaces the file's", map[string]string{"IGGY_CONNECTORS_HTTP_CORS_ALLOWED_METHODS_0": "GET", "IGGY_CONNECTORS_HTTP_CORS_ALLOWED_METHODS_1": "PATCH"}, "http.cors.allowed_methods", []any{"GET", "PATCH"}},
		{"state path", map[string]string{"IGGY_CONNECTORS_STATE_PATH": "/var/lib/state"}, "state.path", "/var/lib/state"},
		{"config type tag", map[string]string{"IGGY_CONNECTORS_CONNECTORS_CONFIG_TYPE": "http", "IGGY_CONNECTORS_CONNECTORS_BASE_URL": "http://cfg:8080"}, "connectors.config_type", "http"},
		{"base url", map[string]string{"IGGY_CONNECTORS_CONNECTORS_CONFIG_TYPE": "http", "IGGY_CONNECTORS_CONNECTORS_BASE_URL": "http://cfg:8080"}, "connectors.base_url", "http://cfg:8080"},
		{"config dir", map[string]string{"IGGY_CONNECTORS_CONNECTORS_CONFIG_DIR": "conf.d"}, "connectors.config_dir", "conf.d"},
		{"u32", map[string]string{"IGGY_CONNECTORS_CONNECTORS_RETRY_MAX_ATTEMPTS": "7"}, "connectors.retry.max_attempts", uint32(7)},
		{"float", map[string]string{"IGGY_CONNECTORS_CONNECTORS_RETRY_BACKOFF_MULTIPLIER": "1.5"}, "connectors.retry.backoff_multiplier", 1.5},
		{"duration", map[string]string{"IGGY_CONNECTORS_CONNECTORS_TIMEOUT": "1m30s"}, "connectors.timeout", "1m30s"},
		{"duration with space", map[string]string{"IGGY_CONNECTORS_CONNECTORS_RETRY_INITIAL_BACKOFF": "1 s"}, "connectors.retry.initial_backoff", "1s"},
		{"response path", map[string]string{"IGGY_CONNECTORS_CONNECTORS_RESPONSE_DATA_PATH": "data.config"}, "connectors.response.data_path", "data.config"},
		{"telemetry transport", map[string]string{"IGGY_CONNECTORS_TELEMETRY_LOGS_TRANSPORT": "http"}, "telemetry.logs.transport", "http"},
		{"log format case-insensitive", map[string]string{"IGGY_CONNECTORS_LOGGING_FORMAT": "JSON"}, "logging.format", "json"},
		{"log level", map[string]string{"IGGY_CONNECTORS_LOGGING_LEVEL": "debug"}, "logging.level", "debug"},
		{"optional tls domain", map[string]string{"IGGY_CONNECTORS_IGGY_TLS_DOMAIN": "iggy.example"}, "iggy.tls.domain", "iggy.example"},
		{"metrics", map[string]string{"IGGY_CONNECTORS_HTTP_METRICS_ENABLED": "true"}, "http.metrics.enabled", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "c.toml"), file)
			l := loadPure(t, Options{Path: "c.toml", Dir: dir, Env: tc.env, NoDotEnv: true})
			if got := lookup(t, l.Config, tc.path); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s = %#v, want %#v", tc.path, got, tc.want)
			}
			for _, p := range l.Problems {
				t.Errorf("unexpected problem: %v", p)
			}
		})
	}
}

func TestMainEnvOverrideProblems(t *testing.T) {
	cases := []struct {
		name     string
		env      map[string]string
		key      string
		msg      string
		severity Severity
	}{
		{"bad bool", map[string]string{"IGGY_CONNECTORS_HTTP_ENABLED": "yes"}, "IGGY_CONNECTORS_HTTP_ENABLED", `expected true or false, got "yes"`, SeverityError},
		{"negative u32", map[string]string{"IGGY_CONNECTORS_CONNECTORS_RETRY_MAX_ATTEMPTS": "-1"}, "IGGY_CONNECTORS_CONNECTORS_RETRY_MAX_ATTEMPTS", `expected a non-negative integer, got "-1"`, SeverityError},
		{"bad duration", map[string]string{"IGGY_CONNECTORS_CONNECTORS_TIMEOUT": "5 parsecs"}, "IGGY_CONNECTORS_CONNECTORS_TIMEOUT", `invalid duration "5 parsecs": unknown unit "parsecs"`, SeverityError},
		{"bad enum", map[string]string{"IGGY_CONNECTORS_CONNECTORS_CONFIG_TYPE": "s3"}, "IGGY_CONNECTORS_CONNECTORS_CONFIG_TYPE", `invalid value "s3": must be one of "local", "http"`, SeverityError},
		{"index gap", map[string]string{"IGGY_CONNECTORS_HTTP_CORS_ALLOWED_METHODS_1": "GET"}, "IGGY_CONNECTORS_HTTP_CORS_ALLOWED_METHODS_0", "array element 0 is missing", SeverityError},
		{"unknown name with suggestion", map[string]string{"IGGY_CONNECTORS_IGGY_ADRESS": "x"}, "IGGY_CONNECTORS_IGGY_ADRESS", `unknown variable (did you mean "IGGY_CONNECTORS_IGGY_ADDRESS"?)`, SeverityError},
		{"maps are not settable", map[string]string{"IGGY_CONNECTORS_CONNECTORS_REQUEST_HEADERS": "x"}, "IGGY_CONNECTORS_CONNECTORS_REQUEST_HEADERS", "unknown variable", SeverityError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := Load(Options{Env: tc.env, Dir: t.TempDir(), NoDotEnv: true})
			var found bool
			for _, p := range l.Problems {
				if p.File == EnvFile && p.Key == tc.key && strings.Contains(p.Message, tc.msg) && p.Severity == tc.severity {
					found = true
				}
			}
			if !found {
				t.Errorf("no %s %s: %s in %v", tc.severity, tc.key, tc.msg, l.Problems)
			}
		})
	}
	// Names that are not config keys are not reported.
	l := loadPure(t, Options{NoDotEnv: true, Env: map[string]string{EnvConfigPath: "nope.toml", EnvEnvPath: "x.env",
		"IGGY_CONNECTORS_SINK_PG_ENABLED": "true", "IGGY_CONNECTORS_SOURCE_X_NAME": "y", "OTHER_VAR": "1"}})
	for _, p := range l.Problems {
		if p.File == EnvFile {
			t.Errorf("unexpected %v", p)
		}
	}
}

func TestParseEnvValue(t *testing.T) {
	cases := []struct {
		in   string
		want any
	}{
		{"true", true}, {"FALSE", false}, {"True", true},
		{"42", int64(42)}, {"18446744073709551615", uint64(18446744073709551615)},
		{"-7", int64(-7)}, {"1.5", 1.5}, {"-0.25", -0.25}, {"1e3", 1000.0},
		{"[a, b]", []any{"a", "b"}},
		{`[users, "orders, old", 'x']`, []any{"users", "orders, old", "x"}},
		{"[1, true, 2.5]", []any{int64(1), true, 2.5}},
		{"[]", []any{}},
		{"hello", "hello"}, {"nan", "nan"}, {"inf", "inf"}, {"0x10", "0x10"}, {"1_000", "1_000"},
		{"postgres://u:p@h/db", "postgres://u:p@h/db"}, {"[unclosed", "[unclosed"},
	}
	for _, tc := range cases {
		if got := ParseEnvValue(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseEnvValue(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func TestDotEnv(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, ".env"), "IGGY_CONNECTORS_IGGY_ADDRESS=dotenv:1\nIGGY_CONNECTORS_STATE_PATH=dotenv-state\n")
	writeFile(t, filepath.Join(root, "custom.env"), "IGGY_CONNECTORS_IGGY_ADDRESS=custom:2\n")
	sub := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}

	t.Run("found upwards, process env wins", func(t *testing.T) {
		l := loadPure(t, Options{Dir: sub, Env: map[string]string{"IGGY_CONNECTORS_STATE_PATH": "explicit"}})
		if l.Config.Iggy.Address != "dotenv:1" || l.Config.State.Path != "explicit" {
			t.Errorf("address %q state %q", l.Config.Iggy.Address, l.Config.State.Path)
		}
		if l.DotEnv != filepath.Join(root, ".env") || l.Env["IGGY_CONNECTORS_IGGY_ADDRESS"] != "dotenv:1" {
			t.Errorf("dotenv %q env %v", l.DotEnv, l.Env)
		}
	})
	t.Run("IGGY_CONNECTORS_ENV_PATH loads only that file", func(t *testing.T) {
		l := loadPure(t, Options{Dir: sub, Env: map[string]string{EnvEnvPath: filepath.Join(root, "custom.env")}})
		if l.Config.Iggy.Address != "custom:2" || l.Config.State.Path != "local_state" {
			t.Errorf("address %q state %q", l.Config.Iggy.Address, l.Config.State.Path)
		}
	})
	t.Run("missing ENV_PATH file is a warning", func(t *testing.T) {
		l := loadPure(t, Options{Dir: sub, Env: map[string]string{EnvEnvPath: "missing.env"}})
		if l.Config.Iggy.Address != "localhost:8090" {
			t.Errorf("address %q", l.Config.Iggy.Address)
		}
		var warned bool
		for _, p := range l.Problems {
			warned = warned || p.Severity == SeverityWarning && strings.HasSuffix(p.File, "missing.env")
		}
		if !warned {
			t.Errorf("no warning in %v", l.Problems)
		}
	})
	t.Run("process environment gets the values", func(t *testing.T) {
		const v = "IGGY_CONNECTORS_TEST_DOTENV_ONLY"
		writeFile(t, filepath.Join(root, "proc.env"), v+"=set-by-dotenv\n")
		t.Setenv(EnvEnvPath, filepath.Join(root, "proc.env"))
		t.Cleanup(func() { os.Unsetenv(v) })
		l, _ := Load(Options{Dir: sub, Path: filepath.Join(root, "none.toml")})
		if os.Getenv(v) != "set-by-dotenv" || l.Env[v] != "set-by-dotenv" {
			t.Errorf("process env %q, loaded env %q", os.Getenv(v), l.Env[v])
		}
	})
}

func TestConfigPath(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc", "main.toml"), "[state]\npath = \"from-env-path\"\n")
	writeFile(t, filepath.Join(root, "explicit.toml"), "[state]\npath = \"from-option\"\n")
	sub := filepath.Join(root, "x", "y")
	os.MkdirAll(sub, 0o755)

	l := loadPure(t, Options{Dir: sub, Env: map[string]string{EnvConfigPath: "etc/main.toml"}, NoDotEnv: true})
	if l.Config.State.Path != "from-env-path" || l.File != filepath.Join(root, "etc", "main.toml") {
		t.Errorf("state %q file %q", l.Config.State.Path, l.File)
	}
	l = loadPure(t, Options{Dir: sub, Path: filepath.Join(root, "explicit.toml"), Env: map[string]string{EnvConfigPath: "etc/main.toml"}, NoDotEnv: true})
	if l.Config.State.Path != "from-option" {
		t.Errorf("Options.Path must win over %s: %q", EnvConfigPath, l.Config.State.Path)
	}
}

func TestLogLevelFallback(t *testing.T) {
	cases := []struct {
		file string
		env  map[string]string
		want string
	}{
		{"", map[string]string{"RUST_LOG": "debug"}, "debug"},
		{"", map[string]string{"RUST_LOG": "WARN"}, "warn"},
		{"", map[string]string{"RUST_LOG": "iggy_connectors=trace,info"}, "info"},
		{"", map[string]string{}, "info"},
		{"[logging]\nlevel = \"error\"\n", map[string]string{"RUST_LOG": "debug"}, "error"},
		{"", map[string]string{"RUST_LOG": "debug", "IGGY_CONNECTORS_LOGGING_LEVEL": "trace"}, "trace"},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "c.toml"), tc.file)
		l := loadPure(t, Options{Dir: dir, Path: "c.toml", Env: tc.env, NoDotEnv: true})
		if l.Config.Logging.Level != tc.want {
			t.Errorf("file %q env %v: level %q, want %q", tc.file, tc.env, l.Config.Logging.Level, tc.want)
		}
	}
}

func TestBadMainConfig(t *testing.T) {
	cases := []struct {
		name, file, key, msg string
		severity             Severity
	}{
		{"unknown table", "[htpp]\nenabled = true\n", "htpp", `unknown key (did you mean "http"?)`, SeverityError},
		{"unknown key", "[http]\nadress = \"x:1\"\n", "http.adress", `unknown key (did you mean "address"?)`, SeverityError},
		{"wrong type", "[http]\nenabled = \"yes\"\n", "http.enabled", `expected a boolean (true or false), got string "yes"`, SeverityError},
		{"wrong type array", "[http.cors]\nallowed_origins = \"*\"\n", "http.cors.allowed_origins", `expected an array, got string "*"`, SeverityError},
		{"bad duration", "[connectors]\ntimeout = \"10 parsecs\"\n", "connectors.timeout", `invalid duration "10 parsecs": unknown unit "parsecs"`, SeverityError},
		{"duration not a string", "[connectors]\ntimeout = 10\n", "connectors.timeout", `expected a duration string such as "5ms", got integer 10`, SeverityError},
		{"bad tag", "[connectors]\nconfig_type = \"locale\"\n", "connectors.config_type", `invalid value "locale": must be one of "local", "http" (did you mean "local"?)`, SeverityError},
		{"http without base_url", "[connectors]\nconfig_type = \"http\"\n", "connectors.base_url", `required when connectors.config_type is "http"`, SeverityError},
		{"bad base_url", "[connectors]\nconfig_type = \"http\"\nbase_url = \"cfg:8080\"\n", "connectors.base_url", `invalid URL "cfg:8080"`, SeverityError},
		{"unknown url template", "[connectors]\nconfig_type = \"http\"\nbase_url = \"http://c\"\nurl_templates = { get_sink_cfg = \"/x\" }\n", "connectors.url_templates.get_sink_cfg", `unknown template name (did you mean "get_sink_config"?)`, SeverityError},
		{"negative integer", "[connectors.retry]\nmax_attempts = -2\n", "connectors.retry.max_attempts", "must not be negative, got -2", SeverityError},
		{"tls without ca", "[iggy.tls]\nenabled = true\nca_file = \"\"\n", "iggy.tls.ca_file", "required when iggy.tls.enabled is true", SeverityError},
		{"no credentials", "[iggy]\nusername = \"\"\npassword = \"\"\n", "iggy", "Missing Iggy credentials", SeverityError},
		{"bad cors method", "[http.cors]\nallowed_methods = [\"GET\", \"FETCH\"]\n", "http.cors.allowed_methods[1]", `unknown HTTP method "FETCH"`, SeverityError},
		{"bad transport", "[telemetry.logs]\ntransport = \"udp\"\n", "telemetry.logs.transport", `invalid value "udp": must be one of "grpc", "http"`, SeverityError},
		{"bad level", "[logging]\nlevel = \"verbose\"\n", "logging.level", `invalid value "verbose"`, SeverityError},
		{"bad address", "[http]\naddress = \"8081\"\n", "http.address", `invalid address "8081"`, SeverityError},
		{"invalid toml", "[http]\nenabled = \n", "", "invalid TOML at line 2, column", SeverityError},
		{"duplicate key", "[http]\nenabled = true\nenabled = false\n", "http.enabled", "invalid TOML at line 3, column 1: key enabled is already defined", SeverityError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeFile(t, filepath.Join(dir, "config.toml"), tc.file)
			l, err := Load(Options{Dir: dir, Path: "config.toml", Env: map[string]string{}, NoDotEnv: true})
			if (err != nil) != (tc.severity == SeverityError) {
				t.Errorf("err = %v", err)
			}
			var found bool
			for _, p := range l.Problems {
				if p.File == path && p.Key == tc.key && strings.Contains(p.Message, tc.msg) && p.Severity == tc.severity {
					found = true
				}
			}
			if !found {
				t.Errorf("want %s %s: %s: %s; got %v", tc.severity, path, tc.key, tc.msg, l.Problems)
			}
		})
	}
}

func TestMainConfigRedaction(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "c.toml"), `
[http]
api_key = "apikey-s3cr3t"
[iggy]
password = "pw-s3cr3t"
token = "tok-s3cr3t"
[connectors]
config_type = "http"
base_url = "http://user:url-s3cr3t@cfg:8080"
request_headers = { authorization = "Bearer hdr-s3cr3t" }
`)
	l := loadPure(t, Options{Dir: dir, Path: "c.toml", NoDotEnv: true})
	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("config", "cfg", l.Config)
	for name, out := range map[string]string{"String": l.Config.String(), "TOML": l.Config.TOML(), "LogValue": logBuf.String()} {
		if strings.Contains(out, "s3cr3t") {
			t.Errorf("%s leaks a secret: %s", name, out)
		}
		if !strings.Contains(out, Redacted) || !strings.Contains(out, "authorization") {
			t.Errorf("%s lacks the redacted values: %s", name, out)
		}
	}
	if l.Config.Iggy.Password != "pw-s3cr3t" || l.Config.Connectors.RequestHeaders["authorization"] != "Bearer hdr-s3cr3t" {
		t.Error("redaction modified the config itself")
	}
}

func TestIggyConnection(t *testing.T) {
	dir := t.TempDir()
	tokFile := writeFile(t, filepath.Join(dir, "token"), "  pat-123\n")
	empty := writeFile(t, filepath.Join(dir, "empty"), "\n")
	c := IggyConfig{Address: "h:8090", Username: "u", Password: "p@ss", Token: "file:" + tokFile,
		TLS: IggyTLSConfig{Enabled: true, CAFile: "/ca.pem", Domain: "iggy.example"}}
	tok, err := c.ResolveToken()
	if err != nil || tok != "pat-123" {
		t.Fatalf("token %q, %v", tok, err)
	}
	if got := c.ConnectionString(tok); got != "iggy://pat-123@h:8090?tls=true&tls_ca_file=%2Fca.pem&tls_domain=iggy.example" {
		t.Errorf("connection string %s", got)
	}
	c.TLS = IggyTLSConfig{}
	if got := c.ConnectionString(""); got != "iggy://u:p@ss@h:8090" && got != "iggy://u:p%40ss@h:8090" {
		t.Errorf("connection string %s", got)
	}
	for _, bad := range []string{"file:" + empty, "file:" + filepath.Join(dir, "missing")} {
		if _, err := (IggyConfig{Token: bad}).ResolveToken(); err == nil || !strings.Contains(err.Error(), "iggy.token") {
			t.Errorf("%s: err %v", bad, err)
		}
	}
}

func TestDisplayConfig(t *testing.T) {
	for env, want := range map[string]bool{"": false, "1": true, "true": true, "TRUE": true, "0": false, "no": false} {
		if got := DisplayConfig(map[string]string{EnvDisplay: env}); got != want {
			t.Errorf("%q: %v", env, got)
		}
	}
	if !DisplayConfig(map[string]string{}) {
		t.Error("unset must display")
	}
}
