// Package quickwitstandin is a STAND-IN for a Quickwit node: a small HTTP server implementing the
// part of Quickwit's REST API (api/v1) that the Quickwit sink uses, written from Quickwit's REST API
// and index configuration documentation. No Quickwit server can be installed from the package
// registries this project may use, so the sink's tests run against this contract server; a test
// against a real Quickwit runs when QUICKWIT_URL is set.
//
// It is not Quickwit: no splits, no storage, no query language beyond `*` and `field:value`, all in
// memory. What it implements, as documented:
//
//   - POST /api/v1/indexes: create an index from an index config sent as YAML
//     (content-type application/yaml) or JSON (application/json). The config needs `version`,
//     `index_id` (^[a-zA-Z][a-zA-Z0-9-_.]{2,254}$) and `doc_mapping`. 200 with the index metadata;
//     400 when the index exists or the config is invalid.
//   - GET /api/v1/indexes/{id}: the index metadata; 404 {"message": ...} when missing.
//   - GET /api/v1/indexes/{id}/describe: index_id, num_published_docs, ...
//   - DELETE /api/v1/indexes/{id}.
//   - POST /api/v1/{id}/ingest?commit=auto|wait_for|force[&detailed_response=true]: NDJSON, one
//     document (a JSON object) per line. Documents are checked against the doc mapping: a field of
//     the wrong type is rejected in every mode, an unmapped field is rejected in mode `strict`,
//     dropped in `lenient`, kept in `dynamic` (the default). The response has
//     num_docs_for_processing, num_ingested_docs, num_rejected_docs and, with detailed_response,
//     parse_failures [{document, message, reason}]. With commit=auto the documents become searchable
//     after indexing_settings.commit_timeout_secs (default 60, as Quickwit); wait_for waits for that
//     commit; force commits at once and returns.
//   - GET /api/v1/{id}/search?query=...&max_hits=N&start_offset=K: {"num_hits", "hits",
//     "elapsed_time_micros", "errors"}; hits in ingest order.
//
// Fault injection for tests: FailNext makes the next ingest requests answer a given status (429,
// 503, ...) without ingesting anything; OnIngest runs a hook between storing and answering.
package quickwitstandin

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// Name is how the server introduces itself in logs and errors, so nobody mistakes it for Quickwit.
const Name = "quickwit stand-in (contract server, not Quickwit)"

// maxPayload is the documented 10 MB limit of an ingest request.
const maxPayload = 10 << 20

var indexIDPattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9\-_.]{2,254}$`)

// Server is the stand-in. Create it with New; it is an http.Handler and safe for concurrent use.
type Server struct {
	log *slog.Logger

	mu       sync.Mutex
	indexes  map[string]*index
	fail     []int // statuses the next ingest requests answer
	onIngest func(indexID string, accepted int)
	legacy   bool
	ingests  int // ingest requests that reached an index (for tests)
}

type index struct {
	id        string
	config    map[string]any
	created   int64
	mapping   mapping
	commitDur time.Duration
	docs      []json.RawMessage // committed, searchable
	pending   []pendingDoc      // accepted with commit=auto, not yet committed
}

type pendingDoc struct {
	doc json.RawMessage
	at  time.Time // when it becomes searchable
}

// New returns an empty stand-in; log may be nil.
func New(log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{log: log.With("server", Name), indexes: map[string]*index{}}
}

// FailNext makes the next len(statuses) ingest requests answer those HTTP statuses (e.g. 429, 503)
// without ingesting anything.
func (s *Server) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, statuses...)
}

// OnIngest sets a function called after an ingest request stored its documents and before the
// answer is written (nil = none). Tests use it to crash a client inside the window where Quickwit
// has the documents but the client does not know yet.
func (s *Server) OnIngest(f func(indexID string, accepted int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onIngest = f
}

// SetLegacyIngest makes the ingest endpoint behave like Quickwit versions before per-document
// results: the detailed_response parameter is refused with 400 (unknown field) and answers carry
// only num_docs_for_processing. (A simulation for the sink's fallback; the exact wording of those
// versions' error is not reproduced.)
func (s *Server) SetLegacyIngest(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.legacy = on
}

// IngestRequests returns how many ingest requests reached an existing index.
func (s *Server) IngestRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ingests
}

// Docs returns every document of an index, committed or not, in ingest order (for tests).
func (s *Server) Docs(indexID string) []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.indexes[indexID]
	if ix == nil {
		return nil
	}
	out := append([]json.RawMessage(nil), ix.docs...)
	for _, p := range ix.pending {
		out = append(out, p.doc)
	}
	return out
}

// Listen serves on addr (e.g. "127.0.0.1:0") until the returned stop function is called. It
// returns the base URL (http://host:port).
func (s *Server) Listen(addr string) (baseURL string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	s.log.Info("listening", "addr", ln.Addr().String())
	return "http://" + ln.Addr().String(), func() { _ = hs.Close() }, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server", "quickwit-standin")
	p := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(p) < 3 || p[0] != "api" || p[1] != "v1" {
		if r.URL.Path == "/health/readyz" || r.URL.Path == "/health/livez" {
			writeJSON(w, http.StatusOK, true)
			return
		}
		writeErr(w, http.StatusNotFound, "route not found: %s", r.URL.Path)
		return
	}
	p = p[2:]
	switch {
	case p[0] == "indexes" && len(p) == 1 && r.Method == http.MethodPost:
		s.createIndex(w, r)
	case p[0] == "indexes" && len(p) == 1 && r.Method == http.MethodGet:
		s.listIndexes(w)
	case p[0] == "indexes" && len(p) == 2 && r.Method == http.MethodGet:
		s.withIndex(w, p[1], func(ix *index) { writeJSON(w, http.StatusOK, ix.metadata()) })
	case p[0] == "indexes" && len(p) == 2 && r.Method == http.MethodDelete:
		s.deleteIndex(w, p[1])
	case p[0] == "indexes" && len(p) == 3 && p[2] == "describe" && r.Method == http.MethodGet:
		s.withIndex(w, p[1], func(ix *index) { writeJSON(w, http.StatusOK, ix.describe()) })
	case len(p) == 2 && p[1] == "ingest" && r.Method == http.MethodPost:
		s.ingest(w, r, p[0])
	case len(p) == 2 && p[1] == "search" && r.Method == http.MethodGet:
		s.search(w, r, p[0])
	default:
		writeErr(w, http.StatusNotFound, "route not found: %s %s", r.Method, r.URL.Path)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeErr answers Quickwit's error shape: {"message": "..."}.
func writeErr(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"message": fmt.Sprintf(format, args...)})
}

func (s *Server) withIndex(w http.ResponseWriter, id string, f func(*index)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ix := s.indexes[id]
	if ix == nil {
		writeErr(w, http.StatusNotFound, "index `%s` not found", id)
		return
	}
	ix.commitDue(time.Now())
	f(ix)
}

func (s *Server) createIndex(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "reading body: %v", err)
		return
	}
	ct := r.Header.Get("Content-Type")
	var cfg map[string]any
	switch {
	case strings.HasPrefix(ct, "application/yaml"), strings.HasPrefix(ct, "application/x-yaml"):
		err = yaml.Unmarshal(body, &cfg)
	case strings.HasPrefix(ct, "application/json"), ct == "":
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		err = dec.Decode(&cfg)
	default:
		writeErr(w, http.StatusUnsupportedMediaType, "unsupported content-type %q (application/json or application/yaml)", ct)
		return
	}
	if err != nil || cfg == nil {
		writeErr(w, http.StatusBadRequest, "failed to parse index config: %v", err)
		return
	}
	ix, err := newIndex(cfg)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "invalid index config: %v", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.indexes[ix.id] != nil {
		writeErr(w, http.StatusBadRequest, "index `%s` already exists", ix.id)
		return
	}
	s.indexes[ix.id] = ix
	s.log.Info("index created", "index_id", ix.id, "mode", ix.mapping.mode)
	writeJSON(w, http.StatusOK, ix.metadata())
}

func (s *Server) listIndexes(w http.ResponseWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	for _, ix := range s.indexes {
		out = append(out, ix.metadata())
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) deleteIndex(w http.ResponseWriter, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.indexes[id] == nil {
		writeErr(w, http.StatusNotFound, "index `%s` not found", id)
		return
	}
	delete(s.indexes, id)
	writeJSON(w, http.StatusOK, []any{})
}

func newIndex(cfg map[string]any) (*index, error) {
	if _, ok := cfg["version"]; !ok {
		return nil, fmt.Errorf("missing field `version`")
	}
	id, _ := cfg["index_id"].(string)
	if id == "" {
		return nil, fmt.Errorf("missing field `index_id`")
	}
	if !indexIDPattern.MatchString(id) {
		return nil, fmt.Errorf("index identifier `%s` is invalid: it must match ^[a-zA-Z][a-zA-Z0-9-_\\.]{2,254}$", id)
	}
	dm, ok := cfg["doc_mapping"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("missing field `doc_mapping`")
	}
	m, err := parseMapping(dm)
	if err != nil {
		return nil, fmt.Errorf("doc_mapping: %w", err)
	}
	commit := 60 * time.Second
	if is, ok := cfg["indexing_settings"].(map[string]any); ok {
		if v, ok := number(is["commit_timeout_secs"]); ok {
			commit = time.Duration(v * float64(time.Second))
		}
	}
	return &index{id: id, config: cfg, created: time.Now().Unix(), mapping: m, commitDur: commit}, nil
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func (ix *index) metadata() map[string]any {
	return map[string]any{"version": "0.8", "index_uid": ix.id + ":01STANDIN0000000000000000", "index_config": ix.config,
		"checkpoint": map[string]any{}, "create_timestamp": ix.created, "sources": []any{}}
}

func (ix *index) describe() map[string]any {
	return map[string]any{"index_id": ix.id, "index_uri": "ram:///standin/" + ix.id, "num_published_splits": min(len(ix.docs), 1),
		"num_published_docs": len(ix.docs), "size_published_docs_uncompressed": 0, "timestamp_field_name": ix.mapping.timestampField,
		"min_timestamp": nil, "max_timestamp": nil}
}

// commitDue makes pending documents whose commit time has come searchable.
func (ix *index) commitDue(now time.Time) {
	n := 0
	for n < len(ix.pending) && !ix.pending[n].at.After(now) {
		ix.docs = append(ix.docs, ix.pending[n].doc)
		n++
	}
	ix.pending = ix.pending[n:]
}

func (ix *index) commitAll() {
	for _, p := range ix.pending {
		ix.docs = append(ix.docs, p.doc)
	}
	ix.pending = nil
}

type parseFailure struct {
	Message  string `json:"message"`
	Document string `json:"document"`
	Reason   string `json:"reason"`
}

func (s *Server) ingest(w http.ResponseWriter, r *http.Request, id string) {
	commit := r.URL.Query().Get("commit")
	switch commit {
	case "", "auto", "wait_for", "force":
	default:
		writeErr(w, http.StatusBadRequest, "invalid commit type `%s`: expected auto, wait_for or force", commit)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "reading body: %v", err)
		return
	}
	if len(body) > maxPayload {
		writeErr(w, http.StatusRequestEntityTooLarge, "the payload size is limited to 10MB")
		return
	}
	s.mu.Lock()
	if s.legacy && r.URL.Query().Has("detailed_response") {
		s.mu.Unlock()
		writeErr(w, http.StatusBadRequest, "failed to deserialize query string: unknown field `detailed_response`, expected `commit`")
		return
	}
	if len(s.fail) > 0 {
		st := s.fail[0]
		s.fail = s.fail[1:]
		s.mu.Unlock()
		s.log.Info("injected ingest failure", "index_id", id, "status", st)
		writeErr(w, st, "injected failure %d (stand-in fault injection)", st)
		return
	}
	ix := s.indexes[id]
	if ix == nil {
		s.mu.Unlock()
		writeErr(w, http.StatusNotFound, "index `%s` not found", id)
		return
	}
	s.ingests++
	var failures []parseFailure
	accepted := 0
	total := 0
	now := time.Now()
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), maxPayload)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		total++
		doc, reason, err := ix.mapping.check(line)
		if err != nil {
			failures = append(failures, parseFailure{Message: err.Error(), Document: string(line), Reason: reason})
			continue
		}
		accepted++
		ix.pending = append(ix.pending, pendingDoc{doc: doc, at: now.Add(ix.commitDur)})
	}
	wait := time.Duration(0)
	switch commit {
	case "force":
		ix.commitAll()
	case "wait_for":
		wait = ix.commitDur
	}
	hook, legacy := s.onIngest, s.legacy
	s.mu.Unlock()
	if hook != nil {
		hook(id, accepted)
	}
	if wait > 0 {
		time.Sleep(wait)
		s.mu.Lock()
		ix.commitDue(time.Now())
		s.mu.Unlock()
	}
	resp := map[string]any{"num_docs_for_processing": total, "num_ingested_docs": accepted, "num_rejected_docs": len(failures)}
	if legacy {
		resp = map[string]any{"num_docs_for_processing": total}
	}
	if r.URL.Query().Get("detailed_response") == "true" {
		if failures == nil {
			failures = []parseFailure{}
		}
		resp["parse_failures"] = failures
	}
	s.log.Debug("ingest", "index_id", id, "commit", commit, "docs", total, "rejected", len(failures))
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) search(w http.ResponseWriter, r *http.Request, id string) {
	q := r.URL.Query()
	query := q.Get("query")
	if query == "" {
		writeErr(w, http.StatusBadRequest, "missing query parameter `query`")
		return
	}
	maxHits, start := 20, 0
	if v := q.Get("max_hits"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeErr(w, http.StatusBadRequest, "invalid max_hits %q", v)
			return
		}
		maxHits = n
	}
	if v := q.Get("start_offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeErr(w, http.StatusBadRequest, "invalid start_offset %q", v)
			return
		}
		start = n
	}
	match, err := parseQuery(query)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "%v", err)
		return
	}
	began := time.Now()
	s.withIndex(w, id, func(ix *index) {
		hits := []json.RawMessage{}
		n := 0
		for _, d := range ix.docs {
			if !match(d) {
				continue
			}
			if n >= start && len(hits) < maxHits {
				hits = append(hits, d)
			}
			n++
		}
		writeJSON(w, http.StatusOK, map[string]any{"num_hits": n, "hits": hits,
			"elapsed_time_micros": time.Since(began).Microseconds(), "errors": []any{}})
	})
}

// parseQuery supports `*` (everything) and `field:value` (a top-level field whose JSON value, or
// string value, equals value).
func parseQuery(q string) (func(json.RawMessage) bool, error) {
	if q == "*" {
		return func(json.RawMessage) bool { return true }, nil
	}
	field, value, ok := strings.Cut(q, ":")
	if !ok || field == "" {
		return nil, fmt.Errorf("the stand-in supports only the queries `*` and `field:value`, not %q", q)
	}
	value = strings.Trim(value, `"`)
	return func(d json.RawMessage) bool {
		var m map[string]json.RawMessage
		if json.Unmarshal(d, &m) != nil {
			return false
		}
		raw, ok := m[field]
		if !ok {
			return false
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s == value
		}
		return string(raw) == value
	}, nil
}

// ---------------------------------------------------------------------------------------------
// Doc mapping

type mapping struct {
	mode           string // dynamic (default), lenient, strict
	fields         map[string]fieldType
	timestampField string
}

type fieldType struct {
	typ    string // text, i64, u64, f64, bool, datetime, ip, bytes, json, object
	array  bool
	fields map[string]fieldType // of an object
}

func parseMapping(dm map[string]any) (mapping, error) {
	m := mapping{mode: "dynamic"}
	if v, ok := dm["mode"].(string); ok {
		switch v {
		case "dynamic", "lenient", "strict":
			m.mode = v
		default:
			return m, fmt.Errorf("unknown mode `%s` (dynamic, lenient, strict)", v)
		}
	}
	m.timestampField, _ = dm["timestamp_field"].(string)
	fields, err := parseFields(dm["field_mappings"])
	if err != nil {
		return m, err
	}
	m.fields = fields
	if m.timestampField != "" {
		if f, ok := fields[m.timestampField]; !ok || f.typ != "datetime" {
			return m, fmt.Errorf("timestamp field `%s` must be a mapped datetime field", m.timestampField)
		}
	}
	return m, nil
}

func parseFields(v any) (map[string]fieldType, error) {
	out := map[string]fieldType{}
	if v == nil {
		return out, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("field_mappings must be a list")
	}
	for i, e := range list {
		fm, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("field_mappings[%d] must be a mapping", i)
		}
		name, _ := fm["name"].(string)
		typ, _ := fm["type"].(string)
		if name == "" || typ == "" {
			return nil, fmt.Errorf("field_mappings[%d] needs `name` and `type`", i)
		}
		ft := fieldType{typ: typ}
		if inner, ok := strings.CutPrefix(typ, "array<"); ok {
			ft.array, ft.typ = true, strings.TrimSuffix(inner, ">")
		}
		switch ft.typ {
		case "text", "i64", "u64", "f64", "bool", "datetime", "ip", "bytes", "json":
		case "object":
			sub, err := parseFields(fm["field_mappings"])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			ft.fields = sub
		default:
			return nil, fmt.Errorf("field `%s`: unknown type `%s`", name, typ)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("duplicated field definition `%s`", name)
		}
		out[name] = ft
	}
	return out, nil
}

// check parses one NDJSON line and applies the mapping; it returns the document as stored (lenient
// mode drops unmapped fields), or the parse failure reason ("invalid_json", "invalid_schema") and
// message.
func (m mapping) check(line []byte) (json.RawMessage, string, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		if err == nil {
			err = fmt.Errorf("trailing characters")
		}
		return nil, "invalid_json", fmt.Errorf("failed to parse JSON document: %v", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, "invalid_json", fmt.Errorf("JSON document must be an object")
	}
	if err := m.checkObject("", obj, m.fields); err != nil {
		return nil, "invalid_schema", err
	}
	out, _ := json.Marshal(obj)
	return out, "", nil
}

func (m mapping) checkObject(prefix string, obj map[string]any, fields map[string]fieldType) error {
	for k, v := range obj {
		path := prefix + k
		ft, ok := fields[k]
		if !ok {
			switch m.mode {
			case "strict":
				return fmt.Errorf("the document contains a field that is not declared in the doc mapping: `%s`", path)
			case "lenient":
				delete(obj, k)
			}
			continue
		}
		if v == nil {
			continue
		}
		if arr, isArr := v.([]any); isArr {
			if !ft.array {
				return fmt.Errorf("the field `%s` is not an array field, got array", path)
			}
			for _, e := range arr {
				if err := m.checkValue(path, e, ft); err != nil {
					return err
				}
			}
			continue
		}
		if err := m.checkValue(path, v, ft); err != nil {
			return err
		}
	}
	return nil
}

func (m mapping) checkValue(path string, v any, ft fieldType) error {
	bad := func() error {
		b, _ := json.Marshal(v)
		return fmt.Errorf("the field `%s` could not be parsed: expected %s, got `%s`", path, ft.typ, b)
	}
	switch ft.typ {
	case "text", "ip":
		if _, ok := v.(string); !ok {
			return bad()
		}
	case "bytes":
		if _, ok := v.(string); !ok { // base64
			return bad()
		}
	case "bool":
		if _, ok := v.(bool); !ok {
			return bad()
		}
	case "i64", "u64":
		n, ok := v.(json.Number)
		if !ok {
			return bad()
		}
		if ft.typ == "i64" {
			if _, err := strconv.ParseInt(string(n), 10, 64); err != nil {
				return bad()
			}
		} else if _, err := strconv.ParseUint(string(n), 10, 64); err != nil {
			return bad()
		}
	case "f64":
		n, ok := v.(json.Number)
		if !ok {
			return bad()
		}
		if f, err := n.Float64(); err != nil || math.IsInf(f, 0) {
			return bad()
		}
	case "datetime":
		switch d := v.(type) {
		case json.Number: // unix_timestamp input format
		case string:
			if _, err := time.Parse(time.RFC3339Nano, d); err != nil {
				return bad()
			}
		default:
			return bad()
		}
	case "json":
		if _, ok := v.(map[string]any); !ok {
			return bad()
		}
	case "object":
		o, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		return m.checkObject(path+".", o, ft.fields)
	}
	return nil
}
