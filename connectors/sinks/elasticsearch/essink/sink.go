// Package essink is the Elasticsearch sink: it indexes Iggy messages as documents in Elasticsearch
// or OpenSearch (flavor, see package esconn) through the _bulk API, idempotently by default.
//
// # Documents and ids
//
// Each message becomes one document (see appendDocument for the payload mapping and the _iggy_*
// metadata fields). By default its _id is the message identity {stream}-{topic}-{partition}-{offset}
// (document_id = "identity"), so a batch the runtime offers again after a crash overwrites the same
// documents instead of adding copies; "message_id" uses the Iggy message id instead, "none" lets the
// server pick ids (the original's behaviour: a replay duplicates). The index name may hold
// {stream}, {topic}, {partition} and a date of the message time ({yyyy.MM.dd}); see indexTemplate.
//
// # Writing and results
//
// Consume writes the batch in _bulk requests of at most batch_size documents (up to
// max_concurrent_requests at once), each bounded by timeout_seconds, with the given refresh policy.
// Every message's outcome is the outcome of its bulk item: 2xx is written; 429 and 5xx items are
// retryable failures (the runtime offers them again after a backoff); any other item error (a
// mapping or parse error, HTTP 400) is a permanent failure of that message alone, so on_error
// applies to it and not to its neighbours. A request that fails as a whole fails each of its
// messages with that error: retryable for connection refused, timeouts, 429, 5xx, and also 401/403
// (credentials can be fixed without losing data); permanent for other statuses (e.g. 413).
// A message is never reported written unless its bulk item said so.
//
// Indexes are created when missing (create_index_if_not_exists, default true) with index_mapping as
// the body: the static index at Open, templated names the first time a batch uses them.
package essink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/iggy-go/connectors/connectors/internal/esconn"
	"github.com/iggy-go/connectors/sdk"
)

// Plugin declares the sink for the export shim (connectors/sinks/elasticsearch main package).
var Plugin = sdk.NewSink(sdk.Info{
	Name:        "elasticsearch",
	Version:     "0.1.0",
	Description: "Indexes Iggy messages in Elasticsearch or OpenSearch with _bulk, one document per message keyed by its identity",
}, New)

// Sink is one sink instance. The runtime serialises Open, Consume and Close.
type Sink struct {
	cfg     *Config
	log     *slog.Logger
	client  *esconn.Client
	timeout time.Duration
	mu      sync.Mutex
	known   map[string]bool // indexes known to exist
	bufs    sync.Pool
}

// New builds a sink from a validated config; it does not connect (Open does).
func New(cfg *Config, env sdk.Env) (sdk.Sink, error) { return newSink(cfg, env.Logger), nil }

func newSink(cfg *Config, log *slog.Logger) *Sink {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.index == nil { // built without Validate (tests)
		if err := cfg.Validate(); err != nil {
			panic(err)
		}
	}
	return &Sink{cfg: cfg, log: log, timeout: time.Duration(cfg.TimeoutSeconds) * time.Second, known: map[string]bool{}}
}

// Open connects (probing the flavor when it is auto) and, for a static index name with
// create_index_if_not_exists, creates the index when missing. Connection failures are retryable.
func (s *Sink) Open(ctx context.Context) error {
	o := s.cfg.connOptions()
	o.Timeout = s.timeout
	c, err := esconn.New(ctx, o, s.log)
	if err != nil {
		return err
	}
	s.client = c
	if name := s.cfg.index.static; name != "" && s.cfg.CreateIndexIfNotExists {
		if err := s.ensureIndex(ctx, name); err != nil {
			return err
		}
	}
	s.log.Info("elasticsearch sink opened", "flavor", c.Flavor, "index", s.cfg.Index, "document_id", s.cfg.DocumentID,
		"batch_size", s.cfg.BatchSize, "refresh", s.cfg.Refresh)
	return nil
}

// ensureIndex creates index name (with index_mapping) unless it is known to exist.
func (s *Sink) ensureIndex(ctx context.Context, name string) error {
	s.mu.Lock()
	ok := s.known[name]
	s.mu.Unlock()
	if ok {
		return nil
	}
	status, err := s.client.Do(ctx, http.MethodHead, "/"+name, nil, nil, true)
	if err != nil {
		return fmt.Errorf("elasticsearch sink: check index %s: %w", name, err)
	}
	if status == http.StatusNotFound {
		body := s.cfg.mapping
		if body == nil {
			body = []byte("{}")
		}
		_, err := s.client.Do(ctx, http.MethodPut, "/"+name, body, nil, false)
		if err != nil && !alreadyExists(err) {
			return fmt.Errorf("elasticsearch sink: create index %s: %w", name, err)
		}
		if err == nil {
			s.log.Info("elasticsearch sink created index", "index", name)
		}
	}
	s.mu.Lock()
	s.known[name] = true
	s.mu.Unlock()
	return nil
}

func alreadyExists(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "resource_already_exists_exception") || strings.Contains(err.Error(), "index_already_exists"))
}

// BorrowsBatch marks the sink as an sdk.BatchBorrower: documents are built into the sink's own
// buffers and the batch is not kept after Consume returns.
func (s *Sink) BorrowsBatch() {}

var _ sdk.BatchBorrower = (*Sink)(nil)

// item is one message to write: its index in the batch, target index and id.
type item struct {
	i         int
	index, id string
}

// Consume writes the batch; see the package documentation for the contract.
func (s *Sink) Consume(ctx context.Context, batch *sdk.SinkBatch) (sdk.Result, error) {
	if s.client == nil {
		return sdk.Result{}, sdk.Permanent(errors.New("elasticsearch sink: Consume before Open"))
	}
	start := time.Now()
	mt := meta{stream: batch.Stream, topic: batch.Topic, partition: batch.PartitionID}
	items := make([]item, len(batch.Messages))
	for i := range batch.Messages {
		m := &batch.Messages[i]
		items[i] = item{i: i, index: s.cfg.index.name(mt.stream, mt.topic, mt.partition, m.Timestamp), id: documentID(s.cfg.idMode, mt, m)}
	}
	var chunks [][]item
	for lo := 0; lo < len(items); lo += s.cfg.BatchSize {
		chunks = append(chunks, items[lo:min(lo+s.cfg.BatchSize, len(items))])
	}
	failures := make([][]sdk.Failure, len(chunks))
	workers := min(s.cfg.MaxConcurrentRequests, len(chunks))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				failures[k] = s.writeChunk(ctx, batch, mt, chunks[k])
			}
		}()
	}
	for k := range chunks {
		next <- k
	}
	close(next)
	wg.Wait()
	var res sdk.Result
	for _, f := range failures {
		res.Failures = append(res.Failures, f...)
	}
	s.log.Debug("elasticsearch sink wrote batch", "stream", batch.Stream, "topic", batch.Topic, "partition", batch.PartitionID,
		"messages", len(batch.Messages), "failed", len(res.Failures), "requests", len(chunks), "elapsed", time.Since(start))
	return res, nil
}

// bulkResponse is the part of a _bulk answer the sink reads.
type bulkResponse struct {
	Errors bool `json:"errors"`
	Items  []struct {
		Index *struct {
			Status int             `json:"status"`
			Error  json.RawMessage `json:"error"`
		} `json:"index"`
	} `json:"items"`
}

// writeChunk sends one _bulk request and returns the failures of its messages.
func (s *Sink) writeChunk(ctx context.Context, batch *sdk.SinkBatch, mt meta, chunk []item) []sdk.Failure {
	var failures []sdk.Failure
	failAll := func(err error) []sdk.Failure {
		for _, it := range chunk {
			failures = append(failures, sdk.Failure{Index: it.i, Err: err})
		}
		return failures
	}
	bp, _ := s.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer s.bufs.Put(bp)
	body := (*bp)[:0]
	sent := make([]item, 0, len(chunk))
	for _, it := range chunk {
		m := &batch.Messages[it.i]
		mark := len(body)
		body = appendAction(body, it.index, it.id)
		var err error
		body, err = appendDocument(body, batch.Schema, mt, m)
		if err != nil {
			body = body[:mark]
			failures = append(failures, sdk.Failure{Index: it.i, Err: docError(m, err)})
			continue
		}
		body = append(body, '\n')
		sent = append(sent, it)
	}
	*bp = body
	if len(sent) == 0 {
		return failures
	}
	if s.cfg.CreateIndexIfNotExists && s.cfg.index.static == "" {
		for _, it := range sent {
			if err := s.ensureIndex(ctx, it.index); err != nil {
				chunk = sent
				return failAll(err)
			}
		}
	}
	resp, err := s.bulk(ctx, body)
	if err != nil {
		chunk = sent
		return failAll(err)
	}
	if len(resp.Items) != len(sent) {
		chunk = sent
		return failAll(sdk.Retryable(fmt.Errorf("elasticsearch sink: _bulk answered %d items for %d documents", len(resp.Items), len(sent))))
	}
	for k, it := range sent {
		r := resp.Items[k].Index
		switch {
		case r == nil:
			failures = append(failures, sdk.Failure{Index: it.i, Err: sdk.Retryable(errors.New("elasticsearch sink: _bulk item without an index result"))})
		case r.Status >= 200 && r.Status < 300:
		default:
			err := fmt.Errorf("offset %d: index %s id %q: HTTP %d: %s", batch.Messages[it.i].Offset, it.index, it.id, r.Status, esconn.ItemError(r.Error))
			if esconn.Retryable(r.Status) {
				err = sdk.Retryable(err)
			} else {
				err = sdk.Permanent(err)
			}
			failures = append(failures, sdk.Failure{Index: it.i, Err: err})
		}
	}
	return failures
}

// bulk sends one _bulk body and decodes the answer.
func (s *Sink) bulk(ctx context.Context, body []byte) (*bulkResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	es := s.client.ES
	res, err := es.Bulk(bytes.NewReader(body), es.Bulk.WithContext(ctx), es.Bulk.WithRefresh(s.cfg.Refresh))
	if err != nil {
		return nil, esconn.Transport(fmt.Errorf("elasticsearch sink: _bulk: %w", err))
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
		err := esconn.StatusError("elasticsearch sink: _bulk", res.StatusCode, b)
		if res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden {
			// credentials can be fixed or rotated: retry rather than hand every message to on_error
			err = sdk.Retryable(err)
		}
		return nil, err
	}
	var out bulkResponse
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return nil, sdk.Retryable(fmt.Errorf("elasticsearch sink: _bulk: decode answer: %w", err))
	}
	return &out, nil
}

// Close releases idle connections. Safe to call when Open failed.
func (s *Sink) Close(context.Context) error {
	s.client.Close()
	s.client = nil
	return nil
}
