package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const repoRoot = "../.."

// configKeys lists the key paths of a config struct as docs/configuration.md writes them
// ("http.cors.enabled", "streams[].batch_length").
func configKeys(t reflect.Type, kind Kind, prefix string) []string {
	var out []string
	for _, f := range fieldsOf(t, kind) {
		p := prefix + f.key
		ft := f.typ
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft == reflect.TypeFor[Duration]():
			out = append(out, p)
		case ft.Kind() == reflect.Struct:
			out = append(out, configKeys(ft, kind, p+".")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, configKeys(ft.Elem(), kind, p+"[].")...)
		default:
			out = append(out, p)
		}
	}
	return out
}

// docs/configuration.md documents every key and every environment variable.
func TestReferenceDocumentsEveryKey(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	for _, k := range configKeys(reflect.TypeFor[Config](), "", "") {
		if !strings.Contains(text, "`"+k+"`") {
			t.Errorf("main key %s is not documented", k)
		}
	}
	for _, n := range envNames(reflect.TypeFor[Config](), "", EnvPrefix) {
		if !strings.Contains(text, "`"+n+"`") {
			t.Errorf("variable %s is not documented", n)
		}
	}
	for _, kind := range []Kind{KindSink, KindSource} {
		for _, k := range configKeys(reflect.TypeFor[ConnectorConfig](), kind, "") {
			if k == "streams" || strings.HasPrefix(k, "transforms") {
				continue
			}
			if !strings.Contains(text, "`"+k+"`") && !strings.Contains(text, "`"+k+"`,") {
				t.Errorf("%s key %s is not documented", kind, k)
			}
		}
	}
	for _, name := range URLTemplateNames() {
		if !strings.Contains(text, "`"+name+"`") {
			t.Errorf("URL template %s is not documented", name)
		}
	}
}

// Every shipped example parses; ours without a single warning.
func TestExamplesParse(t *testing.T) {
	for _, f := range []string{"config-http-provider.toml", "config-local.toml"} {
		l, err := Load(Options{Path: filepath.Join(repoRoot, "configs", "examples", f), Env: map[string]string{}, NoDotEnv: true})
		if err != nil || len(l.Problems) != 0 {
			t.Errorf("%s: %v %v", f, err, l.Problems)
		}
	}
	files, _ := filepath.Glob(filepath.Join(repoRoot, "configs", "examples", "connectors", "[a-z]*.toml"))
	demo, _ := filepath.Glob(filepath.Join(repoRoot, "configs", "demo", "connectors", "[a-z]*.toml"))
	if len(files) < 3 {
		t.Fatalf("examples missing: %v", files)
	}
	for _, f := range append(files, demo...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c, ps := LoadConnectorTOML(f, data)
		strict := !strings.Contains(f, "demo")
		if c == nil || strict && len(ps) > 0 || ps.HasErrors() {
			t.Errorf("%s: %v", f, ps)
		}
	}
}
