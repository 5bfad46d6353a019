package quickwitstandin

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// These tests pin the stand-in to the documented behaviour of Quickwit's REST API that the sink
// relies on; they do not test the sink.

func call(t *testing.T, h http.Handler, method, path, contentType, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return rec.Code, m
}

func TestIndexLifecycle(t *testing.T) {
	s := New(nil)
	yaml := "version: 0.8\nindex_id: logs-a\ndoc_mapping:\n  mode: lenient\n  field_mappings:\n    - name: msg\n      type: text\n"
	if code, _ := call(t, s, "POST", "/api/v1/indexes", "application/yaml", yaml); code != 200 {
		t.Fatalf("create with YAML: %d", code)
	}
	if code, m := call(t, s, "POST", "/api/v1/indexes", "application/yaml", yaml); code != 400 || !strings.Contains(m["message"].(string), "already exists") {
		t.Fatalf("create twice: %d %v", code, m)
	}
	if code, _ := call(t, s, "POST", "/api/v1/indexes", "application/json", `{"version":"0.8","index_id":"logs-b","doc_mapping":{}}`); code != 200 {
		t.Fatalf("create with JSON: %d", code)
	}
	for _, bad := range []string{`{"version":"0.8","doc_mapping":{}}`, `{"version":"0.8","index_id":"9bad","doc_mapping":{}}`,
		`{"index_id":"no-version","doc_mapping":{}}`, `{"version":"0.8","index_id":"m-x","doc_mapping":{"mode":"loose"}}`,
		`{"version":"0.8","index_id":"m-y","doc_mapping":{"field_mappings":[{"name":"a","type":"float"}]}}`} {
		if code, _ := call(t, s, "POST", "/api/v1/indexes", "application/json", bad); code != 400 {
			t.Errorf("create %s: %d, want 400", bad, code)
		}
	}
	if code, m := call(t, s, "GET", "/api/v1/indexes/logs-a", "", ""); code != 200 || m["index_config"].(map[string]any)["index_id"] != "logs-a" {
		t.Fatalf("get: %d %v", code, m)
	}
	if code, m := call(t, s, "GET", "/api/v1/indexes/missing", "", ""); code != 404 || m["message"] != "index `missing` not found" {
		t.Fatalf("get missing: %d %v", code, m)
	}
	// lenient: unmapped fields are dropped, mapped ones checked
	code, m := call(t, s, "POST", "/api/v1/logs-a/ingest?commit=force&detailed_response=true", "", "{\"msg\":\"a\",\"extra\":1}\n{\"msg\":5}\nnot json\n")
	if code != 200 || m["num_docs_for_processing"] != 3.0 || m["num_ingested_docs"] != 1.0 || m["num_rejected_docs"] != 2.0 || len(m["parse_failures"].([]any)) != 2 {
		t.Fatalf("ingest: %d %v", code, m)
	}
	if docs := s.Docs("logs-a"); len(docs) != 1 || string(docs[0]) != `{"msg":"a"}` {
		t.Fatalf("stored %s", docs)
	}
	if _, m := call(t, s, "POST", "/api/v1/logs-a/ingest", "", `{"msg":"b"}`); m["parse_failures"] != nil || m["num_ingested_docs"] != 1.0 {
		t.Fatalf("ingest without detailed_response: %v", m)
	}
	if code, _ := call(t, s, "POST", "/api/v1/logs-a/ingest?commit=later", "", `{}`); code != 400 {
		t.Fatalf("unknown commit mode: %d", code)
	}
	if code, _ := call(t, s, "POST", "/api/v1/missing/ingest", "", `{}`); code != 404 {
		t.Fatalf("ingest into a missing index: %d", code)
	}
	// commit=auto: not searchable before commit_timeout_secs (default 60 s)
	if _, m := call(t, s, "GET", "/api/v1/logs-a/search?query=*", "", ""); m["num_hits"] != 1.0 {
		t.Fatalf("search after an auto commit: %v, want only the forced document", m)
	}
	if _, m := call(t, s, "GET", "/api/v1/logs-a/search?query=msg:a&max_hits=5", "", ""); m["num_hits"] != 1.0 {
		t.Fatalf("field query: %v", m)
	}
	if code, m := call(t, s, "GET", "/api/v1/indexes/logs-a/describe", "", ""); code != 200 || m["num_published_docs"] != 1.0 {
		t.Fatalf("describe: %d %v", code, m)
	}
	s.FailNext(429)
	if code, _ := call(t, s, "POST", "/api/v1/logs-a/ingest", "", `{"msg":"c"}`); code != 429 {
		t.Fatalf("injected 429: %d", code)
	}
	if code, _ := call(t, s, "DELETE", "/api/v1/indexes/logs-b", "", ""); code != 200 {
		t.Fatalf("delete: %d", code)
	}
}

func TestStrictMappingTypes(t *testing.T) {
	s := New(nil)
	cfg := `{"version":"0.8","index_id":"typed","doc_mapping":{"mode":"strict","field_mappings":[
		{"name":"i","type":"i64"},{"name":"u","type":"u64"},{"name":"f","type":"f64"},{"name":"b","type":"bool"},
		{"name":"t","type":"datetime"},{"name":"tags","type":"array<text>"},
		{"name":"o","type":"object","field_mappings":[{"name":"x","type":"i64"}]},{"name":"j","type":"json"}]}}`
	if code, m := call(t, s, "POST", "/api/v1/indexes", "application/json", cfg); code != 200 {
		t.Fatalf("create: %d %v", code, m)
	}
	cases := []struct {
		doc string
		ok  bool
	}{
		{`{"i":-1,"u":1,"f":1.5,"b":true,"t":"2024-01-02T03:04:05Z","tags":["a"],"o":{"x":1},"j":{"any":[1]}}`, true},
		{`{"t":1700000000,"tags":"single"}`, true},
		{`{"i":1.5}`, false},
		{`{"u":-1}`, false},
		{`{"b":"yes"}`, false},
		{`{"t":"yesterday"}`, false},
		{`{"i":[1]}`, false},
		{`{"o":{"y":1}}`, false},
		{`{"j":[1]}`, false},
		{`[1]`, false},
	}
	for _, c := range cases {
		_, m := call(t, s, "POST", "/api/v1/typed/ingest?detailed_response=true", "", c.doc)
		if got := m["num_ingested_docs"] == 1.0; got != c.ok {
			t.Errorf("%s: accepted=%v, want %v (%v)", c.doc, got, c.ok, m["parse_failures"])
		}
	}
}
