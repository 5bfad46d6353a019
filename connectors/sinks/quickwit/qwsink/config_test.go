package qwsink

import (
	"strings"
	"testing"

	"github.com/iggy-go/connectors/sdk/sdktest"
)

const validIndex = "version: 0.8\nindex_id: qw-orders\ndoc_mapping:\n  mode: dynamic\n"

// TestValidateNamesTheKey checks validation through the plugin boundary (as `iggy-connectors
// validate` calls it): every bad value is reported under its key, and bad YAML never panics.
func TestValidateNamesTheKey(t *testing.T) {
	h := sdktest.New(Plugin)
	cases := []struct {
		name, cfg, want string
	}{
		{"ok", `{"url":"http://localhost:7280","index":` + jsonStr(validIndex) + `}`, ""},
		{"missing url", `{"index":` + jsonStr(validIndex) + `}`, "url"},
		{"bad url", `{"url":"localhost:7280","index":` + jsonStr(validIndex) + `}`, "plugin_config.url: must be an http:// or https:// URL"},
		{"invalid yaml", `{"url":"http://q:7280","index":"version: 0.8\nindex_id: [unclosed\n"}`, "plugin_config.index: not valid YAML"},
		{"yaml not a mapping", `{"url":"http://q:7280","index":"- a\n- b\n"}`, "plugin_config.index: not valid YAML"},
		{"empty yaml", `{"url":"http://q:7280","index":"   "}`, "plugin_config.index: empty index config"},
		{"no index_id", `{"url":"http://q:7280","index":"version: 0.8\ndoc_mapping: {}\n"}`, "plugin_config.index: the index config has no index_id"},
		{"index_id not a string", `{"url":"http://q:7280","index":"index_id: [1]\n"}`, "plugin_config.index: index_id must be a string"},
		{"invalid index_id", `{"url":"http://q:7280","index":"index_id: 9x\n"}`, `plugin_config.index: index_id "9x" is not a valid Quickwit index id`},
		{"batch_size", `{"url":"http://q:7280","index":` + jsonStr(validIndex) + `,"batch_size":0}`, "plugin_config.batch_size: must be at least 1"},
		{"commit", `{"url":"http://q:7280","index":` + jsonStr(validIndex) + `,"commit":"now"}`, `plugin_config.commit: must be one of auto, wait_for, force; got "now"`},
		{"timeout", `{"url":"http://q:7280","index":` + jsonStr(validIndex) + `,"timeout":"0s"}`, "plugin_config.timeout: must be greater than zero"},
		{"unknown key", `{"url":"http://q:7280","index":` + jsonStr(validIndex) + `,"index_name":"x"}`, "index_name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := h.Validate(c.cfg)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.want != "" && err == nil:
				t.Fatalf("accepted; want an error containing %q", c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func TestIndexIDAndDefaults(t *testing.T) {
	id, err := IndexID(validIndex)
	if err != nil || id != "qw-orders" {
		t.Fatalf("IndexID = %q, %v", id, err)
	}
	c := &Config{URL: "http://q:7280/", Index: validIndex, BatchSize: 1, Commit: "auto", Timeout: 1}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.baseURL() != "http://q:7280" || c.indexID != "qw-orders" {
		t.Fatalf("baseURL %q indexID %q", c.baseURL(), c.indexID)
	}
}

func TestDocument(t *testing.T) {
	cases := []struct {
		in, line string
		isJSON   bool
	}{
		{`{"a":1}`, `{"a":1}`, true},
		{"{\n  \"a\": [1, 2]\n}\n", `{"a":[1,2]}`, true},
		{`  {"a":"x"}  `, `{"a":"x"}`, true},
		{`42`, "", true},
		{`[1]`, "", true},
		{`hello`, "", false},
		{"\xff\x00", "", false},
		{``, "", false},
	}
	for _, c := range cases {
		line, isJSON := document([]byte(c.in))
		if string(line) != c.line || isJSON != c.isJSON {
			t.Errorf("document(%q) = %q, %v; want %q, %v", c.in, line, isJSON, c.line, c.isJSON)
		}
	}
}

func jsonStr(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
