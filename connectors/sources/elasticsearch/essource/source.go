// Package essource is the Elasticsearch source: it reads the documents of an index (or pattern) of
// Elasticsearch or OpenSearch (flavor, see package esconn) in the order of a timestamp field and
// hands their _source to the runtime as JSON messages. It loses no document that shares a timestamp
// with another and moves its persisted cursor only after Iggy accepted the batch.
//
// # Paging
//
// The cursor is (T, S): T is the sort value of timestamp_field of the last document delivered, S
// the index/_id pairs of the documents delivered whose timestamp is exactly T. Each Poll runs one
// search: the user's query AND timestamp_field >= T AND NOT (index, _id) in S, sorted by
// timestamp_field ascending, size batch_size. The new cursor is the last hit's timestamp, with S
// the hits at that timestamp (plus the old S when the timestamp did not move). Documents sharing one
// timestamp therefore all arrive, however many there are and however the server orders them, and
// nothing is delivered twice while the cursor holds. S grows only with the number of documents at
// one exact timestamp.
//
// This keyset query needs no scroll context and no point in time (PIT): a PIT's tie-breaker
// (_shard_doc) is only valid inside that PIT, so it cannot be a cursor that survives a restart, and
// Elasticsearch 8 refuses to sort on _id. Each poll sees the index as of its last refresh.
//
// What is not read: documents without timestamp_field (the range excludes them), and documents that
// are indexed later with a timestamp below the cursor (give them the indexing time as timestamp, or
// reset the state, if they matter). Without timestamp_field the source follows @timestamp (the
// field the original sorted on), so it never re-reads the first page forever as the original did.
//
// # Delivery
//
// Poll continues after the previous batch whether or not it is committed yet; the batch's State is
// the cursor after it (MessagePack, see State), which the runtime persists after Iggy accepted the
// batch and hands back after a restart. So a crash before that replays the batch (at-least-once) and
// never skips one. Message ids are the first 16 bytes of SHA-256(index "/" _id), so a replayed
// document has the same id; the headers es_index and es_id name the document.
package essource

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/connectors/internal/esconn"
	"github.com/iggy-go/connectors/sdk"
)

// Plugin declares the source for the export shim (connectors/sources/elasticsearch main package).
var Plugin = sdk.NewSource(sdk.Info{
	Name:        "elasticsearch",
	Version:     "0.1.0",
	Description: "Reads Elasticsearch or OpenSearch documents in timestamp order; cursor persisted only after Iggy accepted the batch",
}, New)

// State is the persisted cursor, MessagePack-encoded as an array (sdk.EncodeState).
type State struct {
	LastPollTimestamp     string   // RFC 3339 time of the poll that produced the batch
	TotalDocumentsFetched uint64   // documents delivered so far
	PollCount             uint64   // polls that delivered documents
	Cursor                string   // JSON of the last delivered timestamp sort value ("" = from the start)
	SeenAtCursor          []string // "index/_id" of the documents delivered at exactly Cursor
}

// Source is one source instance. The runtime serialises Open, Poll, OnCommit and Close.
type Source struct {
	cfg       *Config
	log       *slog.Logger
	client    *esconn.Client
	next      State // cursor after the last polled batch
	committed State // cursor of the last committed batch
	fieldType string
}

// New builds a source from a validated config and the last persisted state (nil on first start).
// State that does not decode (e.g. the original connector's) is logged and ignored: the source
// then starts from the beginning, and the deterministic ids make the replay recognisable.
func New(cfg *Config, state []byte, env sdk.Env) (sdk.Source, error) {
	return newSource(cfg, state, env.Logger), nil
}

func newSource(cfg *Config, state []byte, log *slog.Logger) *Source {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Source{cfg: cfg, log: log}
	if err := sdk.DecodeState(state, &s.next); err != nil {
		log.Warn("elasticsearch source: persisted state not understood; starting from the beginning", "bytes", len(state), "error", err)
		s.next = State{}
	}
	s.committed = s.next
	return s
}

// Open connects (probing the flavor when it is auto), checks that the index (pattern) matches
// something, and looks up the type of timestamp_field.
func (s *Source) Open(ctx context.Context) error {
	o := s.cfg.connOptions()
	o.Timeout = time.Duration(s.cfg.TimeoutSeconds) * time.Second
	c, err := esconn.New(ctx, o, s.log)
	if err != nil {
		return err
	}
	status, err := c.Do(ctx, http.MethodHead, "/"+s.indexPath(), nil, nil, true)
	if err != nil {
		return fmt.Errorf("elasticsearch source: check index %s: %w", s.cfg.Index, err)
	}
	if status == http.StatusNotFound {
		return sdk.FieldErrorf("index", "no index %q on the server", s.cfg.Index)
	}
	s.client = c
	s.log.Info("elasticsearch source opened", "flavor", c.Flavor, "index", s.cfg.Index, "timestamp_field", s.cfg.TimestampField,
		"batch_size", s.cfg.BatchSize, "cursor", s.next.Cursor, "seen_at_cursor", len(s.next.SeenAtCursor))
	return nil
}

func (s *Source) indexPath() string { return url.PathEscape(s.cfg.Index) }

// lookupFieldType reads the mapping type of timestamp_field ("" while no index maps it).
func (s *Source) lookupFieldType(ctx context.Context) (string, error) {
	var out map[string]struct {
		Mappings map[string]struct {
			Mapping map[string]struct {
				Type string `json:"type"`
			} `json:"mapping"`
		} `json:"mappings"`
	}
	if _, err := s.client.Do(ctx, http.MethodGet, "/"+s.indexPath()+"/_mapping/field/"+url.PathEscape(s.cfg.TimestampField), nil, &out, true); err != nil {
		return "", err
	}
	leaf := s.cfg.TimestampField
	if i := strings.LastIndexByte(leaf, '.'); i >= 0 {
		leaf = leaf[i+1:]
	}
	types := map[string]bool{}
	for _, idx := range out {
		if f, ok := idx.Mappings[s.cfg.TimestampField]; ok {
			if m, ok := f.Mapping[leaf]; ok {
				types[m.Type] = true
			}
		}
	}
	if len(types) > 1 {
		return "", sdk.FieldErrorf("timestamp_field", "%q has different types in the indexes of %q: %v", s.cfg.TimestampField, s.cfg.Index, keys(types))
	}
	for t := range types {
		return t, nil
	}
	return "", nil
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// searchBody builds the keyset query of the package documentation.
func (s *Source) searchBody() ([]byte, error) {
	filter := []json.RawMessage{s.cfg.query}
	if s.next.Cursor != "" {
		rng := map[string]any{"gte": json.RawMessage(s.next.Cursor)}
		switch s.fieldType {
		case "date":
			rng["format"] = "epoch_millis"
		case "date_nanos":
			n, err := strconv.ParseInt(strings.Trim(s.next.Cursor, `"`), 10, 64)
			if err != nil {
				return nil, sdk.Permanent(fmt.Errorf("elasticsearch source: date_nanos cursor %s: %w", s.next.Cursor, err))
			}
			rng["gte"] = time.Unix(0, n).UTC().Format("2006-01-02T15:04:05.000000000Z")
			rng["format"] = "strict_date_optional_time_nanos"
		}
		b, _ := json.Marshal(map[string]any{"range": map[string]any{s.cfg.TimestampField: rng}})
		filter = append(filter, b)
	}
	var mustNot []any
	byIndex := map[string][]string{}
	var order []string
	for _, key := range s.next.SeenAtCursor {
		idx, id, _ := strings.Cut(key, "/")
		if _, ok := byIndex[idx]; !ok {
			order = append(order, idx)
		}
		byIndex[idx] = append(byIndex[idx], id)
	}
	for _, idx := range order {
		mustNot = append(mustNot, map[string]any{"bool": map[string]any{"filter": []any{
			map[string]any{"term": map[string]any{"_index": idx}},
			map[string]any{"ids": map[string]any{"values": byIndex[idx]}},
		}}})
	}
	boolQ := map[string]any{"filter": filter}
	if len(mustNot) > 0 {
		boolQ["must_not"] = mustNot
	}
	unmapped := s.fieldType
	if unmapped == "" {
		unmapped = "date"
	}
	body := map[string]any{
		"query":            map[string]any{"bool": boolQ},
		"size":             s.cfg.BatchSize,
		"sort":             []any{map[string]any{s.cfg.TimestampField: map[string]any{"order": "asc", "unmapped_type": unmapped}}},
		"track_total_hits": false,
	}
	return json.Marshal(body)
}

// searchResponse is the part of a _search answer the source reads.
type searchResponse struct {
	Hits struct {
		Hits []struct {
			Index  string            `json:"_index"`
			ID     string            `json:"_id"`
			Source json.RawMessage   `json:"_source"`
			Sort   []json.RawMessage `json:"sort"`
		} `json:"hits"`
	} `json:"hits"`
}

// Poll returns the next batch (see the package documentation).
func (s *Source) Poll(ctx context.Context) (sdk.Batch, error) {
	if s.client == nil {
		return sdk.Batch{}, sdk.Permanent(fmt.Errorf("elasticsearch source: Poll before Open"))
	}
	if s.fieldType == "" {
		t, err := s.lookupFieldType(ctx)
		if err != nil {
			return sdk.Batch{}, err
		}
		s.fieldType = t
	}
	body, err := s.searchBody()
	if err != nil {
		return sdk.Batch{}, err
	}
	var res searchResponse
	if _, err := s.client.Do(ctx, http.MethodPost, "/"+s.indexPath()+"/_search?ignore_unavailable=true&allow_no_indices=true", body, &res, false); err != nil {
		return sdk.Batch{}, fmt.Errorf("elasticsearch source: search %s: %w", s.cfg.Index, err)
	}
	hits := res.Hits.Hits
	if len(hits) == 0 {
		return sdk.Batch{WaitHint: s.cfg.PollingInterval.D()}, nil
	}
	next := s.next
	msgs := make([]sdk.SourceMessage, 0, len(hits))
	for _, h := range hits {
		if len(h.Sort) == 0 {
			return sdk.Batch{}, sdk.Permanent(fmt.Errorf("elasticsearch source: hit %s/%s has no sort value", h.Index, h.ID))
		}
		cur := string(bytes.TrimSpace(h.Sort[0]))
		if cur == "null" {
			continue // cannot happen with the range filter; never move the cursor to null
		}
		key := h.Index + "/" + h.ID
		if cur != next.Cursor {
			next.Cursor, next.SeenAtCursor = cur, nil
		}
		next.SeenAtCursor = append(next.SeenAtCursor, key)
		id := abi.ID(sha256Prefix(key))
		msgs = append(msgs, sdk.SourceMessage{ID: &id, Payload: h.Source,
			Headers: []sdk.Header{abi.StringHeader("es_index", h.Index), abi.StringHeader("es_id", h.ID)}})
	}
	next.LastPollTimestamp = time.Now().UTC().Format(time.RFC3339Nano)
	next.TotalDocumentsFetched += uint64(len(msgs))
	next.PollCount++
	st, err := sdk.EncodeState(next)
	if err != nil {
		return sdk.Batch{}, sdk.Permanent(err)
	}
	s.next = next
	s.log.Debug("elasticsearch source polled", "index", s.cfg.Index, "documents", len(msgs), "cursor", next.Cursor, "seen_at_cursor", len(next.SeenAtCursor))
	return sdk.Batch{Schema: abi.SchemaJSON, Messages: msgs, State: st, OnCommit: func(context.Context) error {
		s.committed = next
		return nil
	}}, nil
}

func sha256Prefix(key string) [16]byte {
	sum := sha256.Sum256([]byte(key))
	var out [16]byte
	copy(out[:], sum[:16])
	return out
}

// Committed returns the cursor of the last committed batch (for tests and logs).
func (s *Source) Committed() State { return s.committed }

// Close releases idle connections; uncommitted batches are abandoned and read again after the
// next Open from the persisted state.
func (s *Source) Close(context.Context) error {
	s.client.Close()
	s.client = nil
	return nil
}
