// Package qwsink is the Quickwit sink: it ingests Iggy messages as JSON documents into a Quickwit
// index through the REST ingest API (POST /api/v1/{index_id}/ingest, NDJSON).
//
// # Open
//
// GET /api/v1/indexes/{index_id}: 200 means the index exists (its config is not compared with
// `index`); 404 creates it with POST /api/v1/indexes, content-type application/yaml and the `index`
// YAML as body (an "already exists" answer from a concurrent creator counts as success). Network
// errors, 429 and 5xx are transient (the runtime calls Open again after a backoff); other answers are
// permanent.
//
// # Consume
//
// Every message whose payload is a JSON object becomes one document, whatever the batch schema
// (json, or text and raw holding JSON): it is compacted onto one line, as NDJSON requires. A payload
// that is not JSON at all (binary, plain text, protobuf) is skipped: it counts as handled, and the
// skips are counted and logged once per batch. A payload that is JSON but not an object (e.g. `42`)
// is a permanent per-message failure, since Quickwit would reject it, so `on_error` applies.
//
// Documents are sent in requests of at most batch_size documents and 8 MiB, with
// ?commit=<commit>&detailed_response=true. In the answer, each entry of parse_failures (a document
// the index's doc mapping rejected, e.g. a field a strict mapping does not declare or a value of the
// wrong type) is matched to its message by the document text and reported as a permanent per-message
// failure carrying Quickwit's message; the other documents of the request are written. (A Quickwit
// that refuses the detailed_response parameter, from before per-document results, gets requests
// without it from then on; its rejections can only be counted in a warning.) 429, 5xx and
// network errors make the request's messages and every later one retryable failures (requests
// already answered stay written), so the runtime backs off and offers only those again; any other
// status makes the request's messages permanent failures and the next requests are still sent.
//
// # Delivery: at-least-once
//
// Quickwit's ingest API has no document ids, so writes cannot be made idempotent. When a request was
// ingested but its answer was lost (a timeout, the runtime killed between Quickwit's answer and the
// offset commit), the runtime offers the same messages again and Quickwit indexes them a second time:
// a replay duplicates at most the documents of the batches in flight at the crash (one batch per
// partition; with the runtime's default batch_length of 1000 that is at most 1000 documents per
// partition). To let queries remove such duplicates, put a stable identity into the documents (for
// example with an add_fields transform, or the producer's own id) and deduplicate on it.
package qwsink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/iggy-go/connectors/sdk"
)

// Plugin declares the sink for the export shim (connectors/sinks/quickwit main package).
var Plugin = sdk.NewSink(sdk.Info{
	Name:        "quickwit",
	Version:     "0.1.0",
	Description: "Ingests Iggy messages as JSON documents into a Quickwit index (created from its YAML config when missing); at-least-once",
}, New)

// maxRequestBytes keeps one ingest request below Quickwit's 10 MB payload limit.
const maxRequestBytes = 8 << 20

// Sink is one sink instance. The runtime serialises Open, Consume and Close.
type Sink struct {
	cfg    *Config
	log    *slog.Logger
	client *http.Client
	base   string
	stats  Stats
	// plain is set once Quickwit refused the detailed_response parameter (versions before it):
	// requests then go without it, and rejections can only be counted, not attributed.
	plain bool
}

// Stats counts what the sink did; for tests and logs.
type Stats struct {
	Requests int // ingest requests answered 200
	Written  int // documents Quickwit ingested
	Rejected int // documents Quickwit rejected (parse failures)
	Skipped  int // payloads that are not JSON
}

// New builds a sink from a validated config; it does not connect (Open does).
func New(cfg *Config, env sdk.Env) (sdk.Sink, error) {
	return newSink(cfg, env.Logger)
}

func newSink(cfg *Config, log *slog.Logger) (*Sink, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.indexID == "" {
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
	}
	return &Sink{cfg: cfg, log: log, client: &http.Client{Timeout: cfg.Timeout.D()}, base: cfg.baseURL()}, nil
}

// Stats returns the counters so far.
func (s *Sink) Stats() Stats { return s.stats }

// IndexID is the index the sink writes to.
func (s *Sink) IndexID() string { return s.cfg.indexID }

// httpError is a non-2xx answer.
type httpError struct {
	op     string
	status int
	body   string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("quickwit %s: HTTP %d: %s", e.op, e.status, e.body)
}

// retryableStatus: Quickwit answers 429 when its ingest queue is full; 5xx are server trouble.
func retryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// classify marks err for the runtime: transport errors, 429 and 5xx are retryable.
func classify(err error) error {
	var he *httpError
	if errors.As(err, &he) {
		if retryableStatus(he.status) {
			return sdk.Retryable(err)
		}
		return sdk.Permanent(err)
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) || errors.Is(err, io.ErrUnexpectedEOF) {
		return sdk.Retryable(err)
	}
	return err
}

// do sends one request and returns the body of a 2xx answer, or an *httpError.
func (s *Sink) do(ctx context.Context, op, method, path, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, sdk.Permanent(fmt.Errorf("quickwit %s: %w", op, err))
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("quickwit %s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("quickwit %s: reading the answer: %w", op, err)
	}
	if resp.StatusCode/100 != 2 {
		return data, &httpError{op: op, status: resp.StatusCode, body: errorMessage(data)}
	}
	return data, nil
}

// errorMessage extracts Quickwit's {"message": ...} (older versions: "error_message"), or returns
// the body shortened.
func errorMessage(body []byte) string {
	var m struct {
		Message      string `json:"message"`
		ErrorMessage string `json:"error_message"`
	}
	if json.Unmarshal(body, &m) == nil {
		if m.Message != "" {
			return m.Message
		}
		if m.ErrorMessage != "" {
			return m.ErrorMessage
		}
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// Open checks that the index exists and creates it from the `index` YAML when it does not.
func (s *Sink) Open(ctx context.Context) error {
	id := s.cfg.indexID
	_, err := s.do(ctx, "describe index "+id, http.MethodGet, "/api/v1/indexes/"+url.PathEscape(id), "", nil)
	var he *httpError
	switch {
	case err == nil:
		s.log.Info("quickwit sink opened: index exists", "index_id", id, "url", s.base, "commit", s.cfg.Commit)
		return nil
	case errors.As(err, &he) && he.status == http.StatusNotFound:
	default:
		return classify(err)
	}
	_, err = s.do(ctx, "create index "+id, http.MethodPost, "/api/v1/indexes", "application/yaml", []byte(s.cfg.Index))
	if errors.As(err, &he) && he.status == http.StatusBadRequest && strings.Contains(he.body, "already exists") {
		err = nil // created meanwhile by someone else
	}
	if err != nil {
		if errors.As(err, &he) && !retryableStatus(he.status) {
			return sdk.FieldErrorf("index", "Quickwit refused to create index %s from this config: %s", id, he.body)
		}
		return classify(err)
	}
	s.log.Info("quickwit sink opened: index created", "index_id", id, "url", s.base, "commit", s.cfg.Commit)
	return nil
}

// Close has nothing to release (the HTTP client's idle connections are closed).
func (s *Sink) Close(context.Context) error {
	s.client.CloseIdleConnections()
	return nil
}

func (s *Sink) detailParam() string {
	if s.plain {
		return ""
	}
	return "&detailed_response=true"
}

// ingestResponse is the answer of the ingest API (detailed_response=true).
type ingestResponse struct {
	NumDocsForProcessing int  `json:"num_docs_for_processing"`
	NumIngestedDocs      *int `json:"num_ingested_docs"`
	NumRejectedDocs      *int `json:"num_rejected_docs"`
	ParseFailures        []struct {
		Message  string `json:"message"`
		Document string `json:"document"`
		Reason   any    `json:"reason"`
	} `json:"parse_failures"`
}

// doc is one document to send and the message it came from.
type doc struct {
	index int
	line  []byte
}

// Consume ingests the batch; see the package documentation.
func (s *Sink) Consume(ctx context.Context, batch *sdk.SinkBatch) (sdk.Result, error) {
	var res sdk.Result
	docs := make([]doc, 0, len(batch.Messages))
	skipped := 0
	var firstSkip int64 = -1
	for i := range batch.Messages {
		line, isJSON := document(batch.Messages[i].Payload)
		switch {
		case !isJSON:
			skipped++
			if firstSkip < 0 {
				firstSkip = int64(batch.Messages[i].Offset)
			}
		case line == nil:
			res.Failures = append(res.Failures, sdk.Failure{Index: i, Err: sdk.Permanent(
				fmt.Errorf("payload at offset %d is JSON but not an object; Quickwit documents are JSON objects", batch.Messages[i].Offset))})
		default:
			docs = append(docs, doc{index: i, line: line})
		}
	}
	if skipped > 0 {
		s.stats.Skipped += skipped
		s.log.Warn("quickwit sink: payloads that are not JSON skipped", "count", skipped, "first_offset", firstSkip,
			"schema", batch.Schema, "stream", batch.Stream, "topic", batch.Topic, "partition", batch.PartitionID)
	}
	written, rejected := 0, 0
	for start := 0; start < len(docs); {
		end, size := start, 0
		for end < len(docs) && end-start < s.cfg.BatchSize && (end == start || size+len(docs[end].line)+1 <= maxRequestBytes) {
			size += len(docs[end].line) + 1
			end++
		}
		chunk := docs[start:end]
		w, failures, err := s.ingest(ctx, chunk)
		if err != nil {
			// A retryable failure fails this request and every later one (the runtime offers them
			// again after a backoff); a permanent one fails only this request's messages.
			err = classify(err)
			retry := sdk.IsRetryable(err, false)
			failed := chunk
			if retry {
				failed = docs[start:]
			}
			for _, d := range failed {
				res.Failures = append(res.Failures, sdk.Failure{Index: d.index, Err: err})
			}
			s.log.Warn("quickwit sink: ingest failed", "index_id", s.cfg.indexID, "messages", len(failed),
				"retryable", retry, "error", err)
			if retry {
				break
			}
			start = end
			continue
		}
		written += w
		rejected += len(failures)
		res.Failures = append(res.Failures, failures...)
		start = end
	}
	s.stats.Written += written
	s.stats.Rejected += rejected
	if rejected > 0 {
		s.log.Warn("quickwit sink: documents rejected by the index's doc mapping", "index_id", s.cfg.indexID, "rejected", rejected, "written", written)
	}
	sort.Slice(res.Failures, func(a, b int) bool { return res.Failures[a].Index < res.Failures[b].Index })
	s.log.Debug("quickwit sink: batch ingested", "index_id", s.cfg.indexID, "messages", len(batch.Messages), "written", written,
		"rejected", rejected, "skipped", skipped)
	return res, nil
}

// document returns the payload as a one-line JSON object. isJSON is false when the payload is not
// JSON; line is nil when it is JSON but not an object.
func document(p []byte) (line []byte, isJSON bool) {
	p = bytes.TrimSpace(p)
	if !json.Valid(p) {
		return nil, false
	}
	if len(p) == 0 || p[0] != '{' {
		return nil, true
	}
	if bytes.IndexByte(p, '\n') < 0 && bytes.IndexByte(p, '\r') < 0 {
		return p, true
	}
	var b bytes.Buffer
	if err := json.Compact(&b, p); err != nil {
		return nil, false
	}
	return b.Bytes(), true
}

// ingest sends one request. It returns how many documents Quickwit ingested and a failure per
// rejected document; err means the request as a whole failed (nothing may be assumed written).
func (s *Sink) ingest(ctx context.Context, chunk []doc) (int, []sdk.Failure, error) {
	var body bytes.Buffer
	for _, d := range chunk {
		body.Write(d.line)
		body.WriteByte('\n')
	}
	path := "/api/v1/" + url.PathEscape(s.cfg.indexID) + "/ingest?commit=" + s.cfg.Commit
	data, err := s.do(ctx, "ingest into "+s.cfg.indexID, http.MethodPost, path+s.detailParam(), "application/x-ndjson", body.Bytes())
	var he *httpError
	if !s.plain && errors.As(err, &he) && he.status == http.StatusBadRequest && strings.Contains(he.body, "detailed_response") {
		s.plain = true
		s.log.Warn("quickwit sink: this Quickwit does not know detailed_response; rejected documents can only be counted", "answer", he.body)
		data, err = s.do(ctx, "ingest into "+s.cfg.indexID, http.MethodPost, path, "application/x-ndjson", body.Bytes())
	}
	if err != nil {
		return 0, nil, err
	}
	s.stats.Requests++
	var resp ingestResponse
	if err := json.Unmarshal(data, &resp); err != nil {
		// The documents were accepted (2xx); an unreadable answer must not replay them.
		s.log.Warn("quickwit sink: unreadable ingest answer; documents taken as written", "error", err, "body", errorMessage(data))
		return len(chunk), nil, nil
	}
	// Match parse failures to messages by document text; identical documents are taken in order.
	byLine := map[string][]int{}
	for _, d := range chunk {
		byLine[string(d.line)] = append(byLine[string(d.line)], d.index)
	}
	var failures []sdk.Failure
	for _, pf := range resp.ParseFailures {
		key := strings.TrimRight(pf.Document, "\r\n")
		idx := byLine[key]
		if len(idx) == 0 {
			s.log.Warn("quickwit sink: parse failure for a document not in the request", "message", pf.Message)
			continue
		}
		byLine[key] = idx[1:]
		failures = append(failures, sdk.Failure{Index: idx[0], Err: sdk.Permanent(
			fmt.Errorf("quickwit rejected the document (%v): %s", pf.Reason, pf.Message))})
	}
	if resp.NumRejectedDocs != nil && *resp.NumRejectedDocs > len(failures) {
		s.log.Warn("quickwit sink: Quickwit reports rejected documents without saying which (no parse_failures in its answer)",
			"rejected", *resp.NumRejectedDocs-len(failures))
	}
	written := len(chunk) - len(failures)
	if resp.NumIngestedDocs != nil {
		written = *resp.NumIngestedDocs
	}
	return written, failures, nil
}
