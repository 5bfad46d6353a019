// Package estest is the test kit of the Elasticsearch connectors: the real servers the tests run
// against (IGGY_TEST_ES_URL, IGGY_TEST_OS_URL, started by scripts/elasticsearch.sh) and an
// independent reader that checks them with plain net/http requests, not with the connectors' client.
package estest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// Server is one search server under test.
type Server struct {
	Flavor  string // elasticsearch or opensearch
	URL     string
	PIDFile string // the node's pid file (may be empty when started by other means)
}

// Servers returns both servers; a missing variable fails the test saying how to start the server.
func Servers(t testing.TB) []Server {
	t.Helper()
	var out []Server
	for _, s := range []struct{ flavor, env string }{{"elasticsearch", "IGGY_TEST_ES"}, {"opensearch", "IGGY_TEST_OS"}} {
		u := os.Getenv(s.env + "_URL")
		if u == "" {
			t.Fatalf("%s_URL is not set: run `eval \"$(scripts/elasticsearch.sh start %s)\"`", s.env, s.flavor)
		}
		out = append(out, Server{Flavor: s.flavor, URL: strings.TrimRight(u, "/"), PIDFile: os.Getenv(s.env + "_PIDFILE")})
	}
	return out
}

// Name returns a fresh lowercase index name with prefix.
func Name(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(prefix) + "-" + hex.EncodeToString(b[:])
}

var client = &http.Client{Timeout: 60 * time.Second}

// Call sends a request with a JSON body (nil for none) and returns status and body.
func (s Server) Call(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			buf, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			rd = bytes.NewReader(buf)
		}
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// Must is Call that fails the test on a non-2xx answer and decodes the body into out (if not nil).
func (s Server) Must(t testing.TB, method, path string, body, out any) {
	t.Helper()
	st, b := s.Call(t, method, path, body)
	if st >= 300 {
		t.Fatalf("%s %s: HTTP %d: %s", method, path, st, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// Refresh makes everything indexed in index searchable.
func (s Server) Refresh(t testing.TB, index string) {
	s.Must(t, "POST", "/"+index+"/_refresh", nil, nil)
}

// Count refreshes index and returns its document count (0 when it does not exist).
func (s Server) Count(t testing.TB, index string) int {
	t.Helper()
	if st, _ := s.Call(t, "POST", "/"+index+"/_refresh", nil); st == 404 {
		return 0
	}
	var out struct {
		Count int `json:"count"`
	}
	s.Must(t, "GET", "/"+index+"/_count", nil, &out)
	return out.Count
}

// Doc is a hit: index, id and source.
type Doc struct {
	Index  string         `json:"_index"`
	ID     string         `json:"_id"`
	Source map[string]any `json:"_source"`
}

// All refreshes index and returns every document (up to 10,000) sorted by _iggy_offset when
// sortField is empty, else by sortField.
func (s Server) All(t testing.TB, index, sortField string) []Doc {
	t.Helper()
	s.Refresh(t, index)
	if sortField == "" {
		sortField = "_iggy_offset"
	}
	var out struct {
		Hits struct {
			Hits []Doc `json:"hits"`
		} `json:"hits"`
	}
	s.Must(t, "POST", "/"+index+"/_search", map[string]any{"size": 10000, "sort": []any{map[string]any{sortField: "asc"}}}, &out)
	return out.Hits.Hits
}

// DistinctIDs returns the number of distinct values of field (a cardinality aggregation is
// approximate, so this uses a terms aggregation paged with composite) over index.
func (s Server) DistinctIDs(t testing.TB, index, field string) int {
	t.Helper()
	n := 0
	var after any
	for {
		comp := map[string]any{"size": 10000, "sources": []any{map[string]any{"v": map[string]any{"terms": map[string]any{"field": field}}}}}
		if after != nil {
			comp["after"] = after
		}
		var out struct {
			Aggregations struct {
				C struct {
					AfterKey any               `json:"after_key"`
					Buckets  []json.RawMessage `json:"buckets"`
				} `json:"c"`
			} `json:"aggregations"`
		}
		s.Must(t, "POST", "/"+index+"/_search", map[string]any{"size": 0, "aggs": map[string]any{"c": map[string]any{"composite": comp}}}, &out)
		n += len(out.Aggregations.C.Buckets)
		if len(out.Aggregations.C.Buckets) == 0 || out.Aggregations.C.AfterKey == nil {
			return n
		}
		after = out.Aggregations.C.AfterKey
	}
}

// Bulk indexes NDJSON lines (action and document pairs) and fails on any item error.
func (s Server) Bulk(t testing.TB, ndjson string) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+"/_bulk?refresh=true", strings.NewReader(ndjson))
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out struct {
		Errors bool `json:"errors"`
	}
	if res.StatusCode >= 300 || json.Unmarshal(b, &out) != nil || out.Errors {
		t.Fatalf("bulk: HTTP %d: %.500s", res.StatusCode, b)
	}
}

// Delete removes index (ignoring a missing one).
func (s Server) Delete(t testing.TB, index string) { s.Call(t, "DELETE", "/"+index, nil) }

// Cleanup deletes index at the end of the test.
func (s Server) Cleanup(t testing.TB, index string) { t.Cleanup(func() { s.Delete(t, index) }) }

// String names the server in test output.
func (s Server) String() string { return fmt.Sprintf("%s at %s", s.Flavor, s.URL) }
