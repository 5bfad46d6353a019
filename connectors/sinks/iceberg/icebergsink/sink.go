// Package icebergsink is the Apache Iceberg sink: it appends JSON messages to Iceberg tables through
// a REST or SQL catalog, writing Parquet data files to S3-compatible storage or the local filesystem.
//
// # Writing
//
// Consume decodes each JSON payload, picks its tables (static mode: every configured table, as the
// original connector does; dynamic_routing: the table named by the string field
// dynamic_route_field), checks it against the table's current schema (missing optional fields become
// null, a value of the wrong type or a missing required field fails that message alone, unknown fields
// are ignored or, with unknown_fields = "reject", fail it) and appends the batch's rows of each table
// in one transaction: Arrow record → Parquet data files (iceberg-go, one file per partition value; a
// partitioned table gets each row's real partition value from its transform) → one fast-append
// snapshot. A table that does not exist fails the messages routed to it (permanently, so on_error
// applies to them).
//
// # Exactly once
//
// Every commit stores in its snapshot summary, under "iggy.<writer_id>.offsets", the highest Iggy
// offset this writer has put into the table for every stream/topic/partition. When a table is loaded
// (at Open, at first use, and after any failed commit) the sink reads these back from all snapshots,
// and Consume skips every message at or below its partition's recorded offset: such a message is
// already in the table, and is reported written. So when the runtime crashes after a commit but
// before it stored the consumer offset, the batch it offers again appends nothing twice. A commit that
// conflicts with another writer is retried (commit_retries attempts) on freshly loaded metadata; a
// commit whose outcome is unknown (a lost connection) is checked against the reloaded summary.
//
// # Errors
//
// Per-message problems (not JSON, wrong type, unknown table) are permanent sdk.Failures. Catalog and
// storage errors fail the whole call as retryable: the runtime offers the batch again, and whatever a
// previous attempt committed is skipped by the offsets above.
package icebergsink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"github.com/iggy-go/connectors/sdk"
)

// Plugin declares the sink for the export shim (connectors/sinks/iceberg main package).
var Plugin = sdk.NewSink(sdk.Info{
	Name:        "iceberg",
	Version:     "0.1.0",
	Description: "Appends JSON messages to Apache Iceberg tables (REST or SQL catalog, S3 or local files), exactly once",
}, New)

// missingTableTTL is how long dynamic routing remembers that a table does not exist before asking
// the catalog again.
const missingTableTTL = 10 * time.Second

// openTimeout bounds catalog calls at Open and table loads.
const openTimeout = 60 * time.Second

// Sink is one sink instance. The runtime serialises Open, Consume and Close, so it has no locks.
type Sink struct {
	cfg     *Config
	log     *slog.Logger
	cat     catalog.Catalog
	closeDB func()
	static  []*tableState          // static mode: the loaded tables, in config order
	byName  map[string]*tableState // every loaded table by its configured/routed name
	missing map[string]time.Time   // dynamic mode: table name -> when it was found missing
	sleep   func(ctx context.Context, d time.Duration) error
	maps    []map[string]any // decoded rows' maps, cleared and reused by the next Consume
}

// tableState is a loaded table and what the sink derived from it.
type tableState struct {
	name       string
	ident      table.Identifier
	tbl        *table.Table
	schemaID   int
	conv       *converter
	marks      watermarks
	lastCommit time.Time
}

// New builds a sink from a validated config; it does not connect (Open does).
func New(cfg *Config, env sdk.Env) (sdk.Sink, error) {
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sink{cfg: cfg, log: log, byName: map[string]*tableState{}, missing: map[string]time.Time{}, sleep: sdk.Sleep}, nil
}

// Open connects to the catalog and, in static mode, loads every table in tables. A table that does
// not exist is skipped with a warning (as the original connector does); when none is left Open fails
// permanently. Other catalog errors are transient (the runtime retries Open).
func (s *Sink) Open(ctx context.Context) error {
	octx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	cat, closeDB, err := openCatalog(octx, s.cfg)
	if err != nil {
		return fmt.Errorf("iceberg sink: %w", err)
	}
	s.cat, s.closeDB = cat, closeDB
	if s.cfg.DynamicRouting {
		s.log.Info("iceberg sink opened", "catalog", s.cfg.CatalogType, "dynamic_route_field", s.cfg.DynamicRouteField)
		return nil
	}
	for i, name := range s.cfg.Tables {
		ts, err := s.loadTable(octx, name)
		if errors.Is(err, catalog.ErrNoSuchTable) || errors.Is(err, catalog.ErrNoSuchNamespace) {
			s.log.Warn("iceberg sink: table does not exist; skipped", "table", name, "error", err)
			continue
		}
		if err != nil {
			var fe *sdk.FieldError
			if errors.As(err, &fe) {
				return sdk.FieldErrorf(fmt.Sprintf("tables[%d]", i), "%s", fe.Message)
			}
			return fmt.Errorf("iceberg sink: load table %s: %w", name, err)
		}
		s.static = append(s.static, ts)
	}
	if len(s.static) == 0 {
		return sdk.FieldErrorf("tables", "none of the tables exists in the catalog")
	}
	names := make([]string, len(s.static))
	for i, ts := range s.static {
		names[i] = ts.name
	}
	s.log.Info("iceberg sink opened", "catalog", s.cfg.CatalogType, "tables", strings.Join(names, ","))
	return nil
}

// loadTable loads name from the catalog and reads back the writer's offsets. A schema with a column
// type the sink cannot write is a permanent *sdk.FieldError.
func (s *Sink) loadTable(ctx context.Context, name string) (*tableState, error) {
	parts, err := parseTableName(name)
	if err != nil {
		return nil, sdk.FieldErrorf("tables", "%v", err)
	}
	ts := &tableState{name: name, ident: table.Identifier(parts), schemaID: -1}
	if err := s.reload(ctx, ts); err != nil {
		return nil, err
	}
	s.byName[name] = ts
	return ts, nil
}

// reload fetches the table's current metadata, rebuilds the converter when the schema changed, and
// re-reads the offsets recorded in its snapshots.
func (s *Sink) reload(ctx context.Context, ts *tableState) error {
	tbl, err := s.cat.LoadTable(ctx, ts.ident)
	if err != nil {
		return err
	}
	if sch := tbl.Schema(); sch.ID != ts.schemaID || ts.conv == nil {
		asch, err := table.SchemaToArrowSchema(sch, nil, true, false)
		if err != nil {
			return sdk.Permanent(fmt.Errorf("table %s: schema to Arrow: %w", ts.name, err))
		}
		conv, err := newConverter(asch, s.cfg.UnknownFields == "reject")
		if err != nil {
			return sdk.FieldErrorf("tables", "table %s: %v", ts.name, err)
		}
		ts.conv, ts.schemaID = conv, sch.ID
	}
	marks, err := readWatermarks(tbl.Metadata(), s.cfg.WriterID)
	if err != nil {
		return sdk.Permanent(fmt.Errorf("table %s: %w", ts.name, err))
	}
	ts.tbl, ts.marks = tbl, marks
	return nil
}

// route returns the table a message goes to in dynamic mode: (nil, err) for a permanent
// per-message problem, (nil, nil, transient) when the catalog could not be asked.
func (s *Sink) route(ctx context.Context, obj map[string]any) (*tableState, error, error) {
	field := s.cfg.DynamicRouteField
	v, ok := obj[field]
	if !ok || v == nil {
		return nil, fmt.Errorf("route field %q is missing", field), nil
	}
	name, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("route field %q: %w", field, typeErr("a string \"namespace.table\"", v)), nil
	}
	name = strings.TrimSpace(name)
	if ts := s.byName[name]; ts != nil {
		return ts, nil, nil
	}
	name = strings.Clone(name) // it points into the payload (fastObject); the caches keep it
	if _, err := parseTableName(name); err != nil {
		return nil, fmt.Errorf("route field %q: %w", field, err), nil
	}
	if at, ok := s.missing[name]; ok && time.Since(at) < missingTableTTL {
		return nil, fmt.Errorf("table %s does not exist", name), nil
	}
	lctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	ts, err := s.loadTable(lctx, name)
	switch {
	case errors.Is(err, catalog.ErrNoSuchTable) || errors.Is(err, catalog.ErrNoSuchNamespace):
		s.missing[name] = time.Now()
		return nil, fmt.Errorf("table %s does not exist: %w", name, err), nil
	case err != nil:
		var fe *sdk.FieldError
		if errors.As(err, &fe) || !sdk.IsRetryable(err, true) {
			return nil, fmt.Errorf("table %s: %w", name, err), nil
		}
		return nil, nil, err
	}
	delete(s.missing, name)
	return ts, nil, nil
}

// pending is what one Consume writes into one table.
type pending struct {
	ts   *tableState
	idx  []int // message indexes, in offset order
	objs []map[string]any
}

// Consume writes the batch; see the package documentation for the contract.
func (s *Sink) Consume(ctx context.Context, batch *sdk.SinkBatch) (sdk.Result, error) {
	if s.cat == nil {
		return sdk.Result{}, sdk.Permanent(errors.New("iceberg sink: Consume before Open"))
	}
	var res sdk.Result
	failed := map[int]bool{}
	fail := func(i int, err error) {
		if !failed[i] {
			failed[i] = true
			res.Failures = append(res.Failures, sdk.Failure{Index: i, Err: sdk.Permanent(fmt.Errorf("offset %d: %w", batch.Messages[i].Offset, err))})
		}
	}
	if batch.Schema != "" && batch.Schema != "json" {
		for i := range batch.Messages {
			fail(i, fmt.Errorf("stream schema %q: the Iceberg sink needs JSON payloads", batch.Schema))
		}
		return res, nil
	}
	key := partKey{Stream: batch.Stream, Topic: batch.Topic, Partition: batch.PartitionID}
	var order []*pending
	groups := map[*tableState]*pending{}
	add := func(ts *tableState, i int, obj map[string]any) {
		p := groups[ts]
		if p == nil {
			p = &pending{ts: ts}
			groups[ts] = p
			order = append(order, p)
		}
		p.idx = append(p.idx, i)
		p.objs = append(p.objs, obj)
	}
	used := 0
	defer func() { // every row is in Arrow buffers or dropped: the maps can serve the next batch
		for _, m := range s.maps[:used] {
			clear(m)
		}
	}()
	for i := range batch.Messages {
		if used == len(s.maps) {
			s.maps = append(s.maps, make(map[string]any, 16))
		}
		obj, err := decodeObject(batch.Messages[i].Payload, s.maps[used])
		used++
		if err != nil {
			fail(i, err)
			continue
		}
		if !s.cfg.DynamicRouting {
			for _, ts := range s.static {
				add(ts, i, obj)
			}
			continue
		}
		ts, perr, terr := s.route(ctx, obj)
		if terr != nil {
			return sdk.Result{}, sdk.Retryable(fmt.Errorf("iceberg sink: load table: %w", terr))
		}
		if perr != nil {
			fail(i, perr)
			continue
		}
		add(ts, i, obj)
	}
	for _, p := range order {
		if err := s.write(ctx, batch, key, p, fail); err != nil {
			return sdk.Result{}, err
		}
	}
	slices.SortFunc(res.Failures, func(a, b sdk.Failure) int { return a.Index - b.Index })
	return res, nil
}

// write appends p's messages that the table does not hold yet and that fit its schema, in one
// commit; conflicts are retried on fresh metadata. It returns a non-nil error only for a failure of
// the whole call.
func (s *Sink) write(ctx context.Context, batch *sdk.SinkBatch, key partKey, p *pending, fail func(int, error)) error {
	ts := p.ts
	var lastErr error
	for attempt := 1; attempt <= s.cfg.CommitRetries; attempt++ {
		var objs []map[string]any
		var maxOff uint64
		skipped := 0
		for j, i := range p.idx {
			off := batch.Messages[i].Offset
			if ts.marks.covers(key, off) {
				skipped++
				continue
			}
			if err := ts.conv.check(p.objs[j]); err != nil {
				fail(i, fmt.Errorf("table %s: %w", ts.name, err))
				continue
			}
			objs = append(objs, p.objs[j])
			maxOff = max(maxOff, off)
		}
		if skipped > 0 {
			s.log.Info("iceberg sink: skipped messages already in the table", "table", ts.name,
				"stream", key.Stream, "topic", key.Topic, "partition", key.Partition, "messages", skipped, "recorded_offset", ts.marks[key])
		}
		if len(objs) == 0 {
			return nil
		}
		if err := s.waitInterval(ctx, ts); err != nil {
			return sdk.Retryable(err)
		}
		marks := ts.marks.with(key, maxOff)
		start := time.Now()
		tbl, err := s.commit(ctx, ts, objs, marks)
		if err == nil {
			ts.tbl, ts.marks, ts.lastCommit = tbl, marks, time.Now()
			s.log.Info("iceberg sink: committed", "table", ts.name, "rows", len(objs),
				"partition", key.Partition, "offset", maxOff, "took", time.Since(start))
			return nil
		}
		lastErr = err
		// The commit may or may not have been applied (a conflict applied nothing; a lost response
		// is unknown): reload and let the recorded offsets decide.
		rctx, cancel := context.WithTimeout(ctx, openTimeout)
		schemaID := ts.schemaID
		rerr := s.reload(rctx, ts)
		cancel()
		if rerr != nil {
			return sdk.Retryable(fmt.Errorf("iceberg sink: table %s: commit: %w; reload: %v", ts.name, err, rerr))
		}
		if ts.marks.covers(key, maxOff) {
			s.log.Warn("iceberg sink: commit reported an error but is in the table", "table", ts.name, "error", err)
			return nil
		}
		if ts.schemaID != schemaID || !errors.Is(err, table.ErrCommitFailed) {
			break
		}
		s.log.Warn("iceberg sink: commit conflict; retrying on fresh metadata", "table", ts.name, "attempt", attempt, "error", err)
	}
	return sdk.Retryable(fmt.Errorf("iceberg sink: table %s: commit: %w", ts.name, lastErr))
}

// commit appends objs as one snapshot whose summary records marks.
//
// It runs on a goroutine of its own: a plugin call arrives on a cgo callback goroutine, which is
// locked to its OS thread, and iceberg-go's writers use iter.Pull coroutines that are resumed from
// other goroutines; the Go runtime aborts the process when a coroutine created on a locked goroutine
// is switched to from an unlocked one ("coro: OS thread locking must match"). A panic there is
// recovered into an error, since the SDK's recovery only covers the calling goroutine.
func (s *Sink) commit(ctx context.Context, ts *tableState, objs []map[string]any, marks watermarks) (tbl *table.Table, err error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				tbl, err = nil, sdk.Permanent(fmt.Errorf("iceberg sink: table %s: panic while writing: %v", ts.name, r))
			}
		}()
		tbl, err = s.appendRows(ctx, ts, objs, marks)
	}()
	<-done
	return tbl, err
}

func (s *Sink) appendRows(ctx context.Context, ts *tableState, objs []map[string]any, marks watermarks) (*table.Table, error) {
	rec := ts.conv.build(objs)
	defer rec.Release()
	rdr, err := array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
	if err != nil {
		return nil, err
	}
	defer rdr.Release()
	props := iceberg.Properties{summaryKey(s.cfg.WriterID): marks.encode()}
	txn := ts.tbl.NewTransaction()
	if err := txn.Append(ctx, rdr, props); err != nil {
		return nil, err
	}
	return txn.Commit(ctx)
}

// waitInterval delays a commit until commit_interval has passed since the table's previous one.
func (s *Sink) waitInterval(ctx context.Context, ts *tableState) error {
	iv := s.cfg.CommitInterval.D()
	if iv <= 0 || ts.lastCommit.IsZero() {
		return nil
	}
	if wait := iv - time.Since(ts.lastCommit); wait > 0 {
		return s.sleep(ctx, wait)
	}
	return nil
}

// Close releases the catalog. Safe to call when Open failed.
func (s *Sink) Close(context.Context) error {
	if s.closeDB != nil {
		s.closeDB()
		s.closeDB = nil
	}
	s.cat = nil
	return nil
}
