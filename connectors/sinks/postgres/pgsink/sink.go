// Package pgsink is the PostgreSQL sink: it writes Iggy messages into a table, one row per message,
// idempotently, so that a batch the runtime offers again after a crash adds no duplicate rows.
//
// # Writing
//
// Consume converts every message to a row in Go first (UTF-8 and NUL checks for text); a message
// that cannot be stored is reported as a per-message sdk.Failure and the others are written. Valid rows
// are written in rounds of at most batch_size rows, each atomic. The idempotent path is COPY (binary)
// into a per-connection temporary staging table, then
//
//	INSERT INTO target (cols) SELECT cols FROM staging ON CONFLICT DO NOTHING
//
// The fast path, used when the table's column types are exactly those the sink creates, COPYs the
// round straight into the table (as fast as a plain CopyFrom); if that hits a unique conflict
// (SQLSTATE 23505: part of the round is already there, i.e. a replay) the aborted COPY wrote nothing
// and the round is redone through the idempotent path, which later rounds keep using until one finds
// no duplicate. Either way a replayed message that is already in the table is skipped.
//
// Idempotency needs a unique index on
// the message identity: auto_create_table makes UNIQUE (iggy_stream, iggy_topic, iggy_partition_id,
// iggy_offset); with include_metadata = false there are no identity columns and it makes a partial
// unique index on id WHERE id <> 0 instead, so messages with producer-set ids are deduplicated by id
// while messages with id 0 (no id set) are always inserted (a replay of them duplicates). For a table
// created by hand, Open warns when no such unique index exists. ON CONFLICT has no conflict target, so
// a conflict on any unique index of the table counts as "already written".
//
// Payloads of json/jsonb are parsed by PostgreSQL only, not by Go first (parsing every payload twice
// would cost the sink most of its CPU): if the server rejects a round with a data error (SQLSTATE
// class 22 or 23) or a program limit (class 54, e.g. JSON nested too deeply), the round's payloads
// are checked with Go's JSON parser, the invalid ones become per-message failures ("not valid JSON")
// and the others are written again. If the server still rejects them (e.g. a JSON value that Go
// accepts but jsonb does not, such as "\u0000"), the round is bisected until the bad rows are
// alone; they become per-message failures and every other row is written.
//
// # Errors
//
// Transient errors (connection loss, I/O, SQLSTATE 08xxx, 40001, 40P01, 53300, 57P01-57P03) are
// retried inside Consume up to max_retries attempts with retry_delay × attempt between them, each on
// a fresh pooled connection, then returned marked sdk.Retryable so the runtime backs off and offers the
// batch again (rounds already committed are then no-ops). Any other server error (missing table,
// permission, type mismatch) is returned marked sdk.Permanent.
package pgsink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/iggy-go/connectors/connectors/internal/pgutil"
	"github.com/iggy-go/connectors/sdk"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Plugin declares the sink for the export shim (connectors/sinks/postgres main package).
var Plugin = sdk.NewSink(sdk.Info{
	Name:        "postgres",
	Version:     "0.1.0",
	Description: "Writes Iggy messages to a PostgreSQL table, idempotently keyed by stream/topic/partition/offset",
}, New)

// stagingTable is the per-connection temporary table rounds are COPYed into.
const stagingTable = "iggy_sink_stage"

// roundTimeout bounds one write attempt (COPY + INSERT + COMMIT of at most batch_size rows).
const roundTimeout = 60 * time.Second

// Sink is one sink instance. The runtime serialises Open, Consume and Close.
type Sink struct {
	cfg     *Config
	log     *slog.Logger
	cols    columns
	table   []string // parsed target_table
	quoted  string   // quoted target_table
	insert  string   // INSERT ... SELECT ... ON CONFLICT DO NOTHING
	staging string   // CREATE TEMP TABLE IF NOT EXISTS staging ...
	copyTo  string   // COPY target (cols) FROM STDIN BINARY
	copyStg string   // COPY staging (cols) FROM STDIN BINARY
	pool    *pgxpool.Pool
	sleep   func(ctx context.Context, d time.Duration) error
	// direct is set at Open when the table's columns have exactly the types the sink writes, so rows
	// can be COPYed straight into it (the fast path). replaying is set after a round hit a unique
	// conflict and cleared after a round found no duplicate: while set, rounds take the idempotent
	// staging path without trying the fast one first.
	direct, replaying bool
	stats             Stats
	// rows and encBuf are reused by every Consume (nothing of a batch is kept after it returns).
	rows   []row
	encBuf []byte
}

// Stats counts how rounds were written; for tests and logs.
type Stats struct {
	DirectRounds int // rounds COPYed straight into the table
	StagedRounds int // rounds written through the staging table with ON CONFLICT DO NOTHING
	Conflicts    int // direct rounds that hit a unique conflict and were redone through staging
}

// New builds a sink from a validated config; it does not connect (Open does).
func New(cfg *Config, env sdk.Env) (sdk.Sink, error) {
	return newSink(cfg, env.Logger)
}

func newSink(cfg *Config, log *slog.Logger) (*Sink, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	table, err := pgutil.ParseQualifiedName(cfg.TargetTable)
	if err != nil {
		return nil, sdk.FieldErrorf("target_table", "%v", err)
	}
	s := &Sink{cfg: cfg, log: log, cols: newColumns(cfg), table: table, quoted: pgutil.QuoteQualified(table), sleep: sdk.Sleep}
	quotedCols := make([]string, len(s.cols.names))
	for i, n := range s.cols.names {
		quotedCols[i] = pgutil.QuoteIdent(n)
	}
	list := strings.Join(quotedCols, ", ")
	s.staging = s.stagingSQL()
	s.insert = fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s ON CONFLICT DO NOTHING", s.quoted, list, list, stagingTable)
	s.copyTo = fmt.Sprintf("COPY %s (%s) FROM STDIN BINARY", s.quoted, list)
	s.copyStg = fmt.Sprintf("COPY %s (%s) FROM STDIN BINARY", stagingTable, list)
	return s, nil
}

// CreateTableSQL returns the statements auto_create_table runs: the table with the original's
// columns (id DECIMAL(39,0) is not a key: ids repeat when producers do not set them) plus the
// idempotency index.
func (s *Sink) CreateTableSQL() []string {
	var stmts []string
	if len(s.table) == 2 {
		stmts = append(stmts, "CREATE SCHEMA IF NOT EXISTS "+pgutil.QuoteIdent(s.table[0]))
	}
	var defs []string
	for i, t := range s.cols.sqlTypes() {
		n := s.cols.names[i]
		d := pgutil.QuoteIdent(n) + " " + t
		if n == "id" || n == "iggy_offset" || n == "iggy_stream" || n == "iggy_topic" || n == "iggy_partition_id" {
			d += " NOT NULL"
		}
		defs = append(defs, d)
	}
	defs = append(defs, "created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()")
	if s.cols.metadata {
		defs = append(defs, "UNIQUE (iggy_stream, iggy_topic, iggy_partition_id, iggy_offset)")
	}
	stmts = append(stmts, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n  %s\n)", s.quoted, strings.Join(defs, ",\n  ")))
	if !s.cols.metadata {
		idx := s.table[len(s.table)-1] + "_iggy_id_key"
		if len(idx) > 63 {
			idx = idx[len(idx)-63:]
		}
		stmts = append(stmts, fmt.Sprintf("CREATE UNIQUE INDEX IF NOT EXISTS %s ON %s (id) WHERE id <> 0", pgutil.QuoteIdent(idx), s.quoted))
	}
	return stmts
}

// createTable runs CreateTableSQL in one transaction that first takes a transaction-scoped advisory
// lock on the table's name: replicas of a scaled-out sink open at the same moment, and concurrent
// CREATE ... IF NOT EXISTS of one table can fail with a unique violation in the catalog.
func (s *Sink) createTable(ctx context.Context, pool *pgxpool.Pool) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit a no-op
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", "iggy-connectors create "+s.quoted); err != nil {
		return err
	}
	for _, stmt := range s.CreateTableSQL() {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

func (s *Sink) stagingSQL() string {
	var defs []string
	for i, t := range s.cols.sqlTypes() {
		defs = append(defs, pgutil.QuoteIdent(s.cols.names[i])+" "+t)
	}
	return fmt.Sprintf("CREATE TEMP TABLE IF NOT EXISTS %s (%s) ON COMMIT DELETE ROWS", stagingTable, strings.Join(defs, ", "))
}

// Open connects (at most max_connections pooled connections), checks the
// connection with SELECT 1, creates the table when auto_create_table is set, and checks that the
// table exists. A missing table or a bad connection string is permanent; a failed connection is
// transient.
func (s *Sink) Open(ctx context.Context) error {
	pcfg, err := pgutil.PoolConfig(s.cfg.ConnectionString.Reveal(), s.cfg.MaxConnections)
	if err != nil {
		return err
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(octx, pcfg)
	if err != nil {
		return fmt.Errorf("postgres sink: connect: %w", err)
	}
	if _, err := pool.Exec(octx, "SELECT 1"); err != nil {
		pool.Close()
		return s.classify("connect", err)
	}
	if s.cfg.AutoCreateTable {
		if err := s.createTable(octx, pool); err != nil {
			pool.Close()
			return s.classify("auto_create_table", err)
		}
	}
	var exists bool
	if err := pool.QueryRow(octx, "SELECT to_regclass($1) IS NOT NULL", s.quoted).Scan(&exists); err != nil {
		pool.Close()
		return s.classify("check table", err)
	}
	if !exists {
		pool.Close()
		return sdk.FieldErrorf("target_table", "table %s does not exist (set auto_create_table = true to create it)", s.quoted)
	}
	s.pool = pool
	s.warnWithoutUniqueKey(octx)
	s.direct = s.columnsMatch(octx)
	s.log.Info("postgres sink opened", "table", s.quoted, "payload_format", s.cfg.PayloadFormat,
		"columns", strings.Join(s.cols.names, ","), "max_connections", pcfg.MaxConns)
	return nil
}

// warnWithoutUniqueKey logs a warning when no unique index of the table is made only of the
// identity columns, because replays would then duplicate rows.
func (s *Sink) warnWithoutUniqueKey(ctx context.Context) {
	identity := []string{"iggy_stream", "iggy_topic", "iggy_partition_id", "iggy_offset"}
	if !s.cols.metadata {
		identity = []string{"id"}
	}
	const q = `SELECT count(*) FROM pg_index i
		WHERE i.indrelid = to_regclass($1) AND i.indisunique AND NOT EXISTS (
			SELECT 1 FROM unnest(i.indkey) k JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k
			WHERE NOT (a.attname = ANY($2)))`
	var n int
	if err := s.pool.QueryRow(ctx, q, s.quoted, identity).Scan(&n); err != nil {
		s.log.Warn("cannot inspect the table's unique indexes", "table", s.quoted, "error", err)
		return
	}
	if n == 0 {
		s.log.Warn("table has no unique index on the message identity; a replayed batch will insert duplicate rows",
			"table", s.quoted, "identity", strings.Join(identity, ","))
	}
}

// columnsMatch reports whether the table has every written column with exactly the type the sink
// would create, which is what the fast path (binary COPY straight into the table) needs. Any other
// table is written through the staging table, where PostgreSQL applies its assignment casts.
func (s *Sink) columnsMatch(ctx context.Context) bool {
	const q = `SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a
		WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`
	rows, err := s.pool.Query(ctx, q, s.quoted)
	if err != nil {
		return false
	}
	types, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var kv [2]string
		err := r.Scan(&kv[0], &kv[1])
		return kv, err
	})
	if err != nil {
		return false
	}
	have := map[string]string{}
	for _, kv := range types {
		have[kv[0]] = kv[1]
	}
	want := map[string]string{"id": "numeric", "iggy_offset": "bigint", "iggy_checksum": "bigint",
		"iggy_timestamp": "timestamp with time zone", "iggy_origin_timestamp": "timestamp with time zone",
		"iggy_stream": "text", "iggy_topic": "text", "iggy_partition_id": "integer",
		"payload": strings.ToLower(s.cols.format.SQLType())}
	for _, n := range s.cols.names {
		if have[n] != want[n] {
			s.log.Debug("postgres sink: column type differs from the sink's, using the staging path",
				"column", n, "table_type", have[n], "sink_type", want[n])
			return false
		}
	}
	return true
}

// Stats returns how rounds were written so far.
func (s *Sink) Stats() Stats { return s.stats }

// BorrowsBatch marks the sink as an sdk.BatchBorrower: every row is written (or its failure
// reported) before Consume returns and nothing of the batch is kept, so the SDK may decode batches
// into reused memory (no per-batch 1 MB allocation inside the plugin).
func (s *Sink) BorrowsBatch() {}

// Compile-time check.
var _ sdk.BatchBorrower = (*Sink)(nil)

// Consume writes the batch; see the package documentation for the contract.
func (s *Sink) Consume(ctx context.Context, batch *sdk.SinkBatch) (sdk.Result, error) {
	if s.pool == nil {
		return sdk.Result{}, sdk.Permanent(errors.New("postgres sink: Consume before Open"))
	}
	if batch.PartitionID > math.MaxInt32 {
		return sdk.Result{}, sdk.Permanent(fmt.Errorf("postgres sink: partition id %d does not fit iggy_partition_id INTEGER", batch.PartitionID))
	}
	start := time.Now()
	var res sdk.Result
	rows := s.rows[:0]
	defer func() { clear(rows); s.rows = rows[:0] }() // drop the references into the batch
	for i := range batch.Messages {
		r, err := s.cols.convert(i, &batch.Messages[i])
		if err != nil {
			res.Failures = append(res.Failures, sdk.Failure{Index: i, Err: err})
			continue
		}
		rows = append(rows, r)
	}
	invalid := len(res.Failures)
	src := &copyReader{cols: s.cols, stream: batch.Stream, topic: batch.Topic, partition: int32(batch.PartitionID)}
	var inserted int64
	for lo := 0; lo < len(rows); lo += s.cfg.BatchSize {
		hi := min(lo+s.cfg.BatchSize, len(rows))
		n, err := s.writeIsolating(ctx, src, rows[lo:hi], &res, false)
		inserted += n
		if err != nil {
			return sdk.Result{}, err
		}
	}
	lvl := slog.LevelDebug
	if s.cfg.VerboseLogging {
		lvl = slog.LevelInfo
	}
	s.log.Log(ctx, lvl, "postgres sink wrote batch", "stream", batch.Stream, "topic", batch.Topic,
		"partition", batch.PartitionID, "messages", len(batch.Messages), "inserted", inserted,
		"already_present", int64(len(rows)-(len(res.Failures)-invalid))-inserted, "failed", len(res.Failures),
		"elapsed", time.Since(start))
	return res, nil
}

// writeIsolating writes rows; when the server rejects them with a data error it first (unless
// checked) runs the Go payload check of jsonb rows (invalidJSON), records the rows it rejects as
// failures and writes the others; otherwise it bisects until the offending rows are alone and
// records them as failures. It returns the number of rows inserted and a non-nil error only for a
// failure of the whole call (transient after retries, or permanent). It may reorder rows in place.
func (s *Sink) writeIsolating(ctx context.Context, src *copyReader, rows []row, res *sdk.Result, checked bool) (int64, error) {
	n, err := s.writeWithRetry(ctx, src, rows)
	if err == nil {
		return n, nil
	}
	if !isRowError(err) {
		return 0, err
	}
	if !checked && s.cols.format == FormatJSONB {
		valid := rows[:0]
		for _, r := range rows {
			if err := invalidJSON(&r); err != nil {
				res.Failures = append(res.Failures, sdk.Failure{Index: r.index, Err: err})
				continue
			}
			valid = append(valid, r)
		}
		if len(valid) < len(rows) {
			if len(valid) == 0 {
				return 0, nil
			}
			return s.writeIsolating(ctx, src, valid, res, true)
		}
	}
	if len(rows) == 1 {
		res.Failures = append(res.Failures, sdk.Failure{Index: rows[0].index,
			Err: sdk.Permanent(fmt.Errorf("offset %d rejected by PostgreSQL: %w", rows[0].offset, err))})
		return 0, nil
	}
	mid := len(rows) / 2
	n1, err := s.writeIsolating(ctx, src, rows[:mid], res, true)
	if err != nil {
		return n1, err
	}
	n2, err := s.writeIsolating(ctx, src, rows[mid:], res, true)
	return n1 + n2, err
}

// isRowError reports whether the rows of a round may have caused err, so that writeIsolating looks
// for the offending rows instead of failing the batch: a data error (SQLSTATE class 22 or 23) or a
// program limit hit by a value (class 54, e.g. 54001 for a JSON payload nested too deeply for the
// server's stack).
func isRowError(err error) bool {
	return pgutil.IsDataError(err) || strings.HasPrefix(pgutil.SQLState(err), "54")
}

// writeWithRetry runs one round, retrying transient failures; the returned error is already
// classified (sdk.Retryable / sdk.Permanent) except for row errors (isRowError), which are returned raw.
func (s *Sink) writeWithRetry(ctx context.Context, src *copyReader, rows []row) (int64, error) {
	var n int64
	retry := pgutil.Retry{Attempts: s.cfg.MaxRetries, Delay: s.cfg.RetryDelay.D(), Sleep: s.sleep,
		OnRetry: func(a, attempts int, delay time.Duration, err error) {
			s.log.Warn("postgres sink: transient error, retrying", "table", s.quoted, "attempt", a,
				"max_retries", attempts, "delay", delay, "error", err)
		}}
	err := retry.Do(ctx, fmt.Sprintf("write %d rows", len(rows)), func(ctx context.Context) (err error) {
		n, err = s.writeRound(ctx, src, rows)
		return err
	}, func(what string, err error) error {
		if isRowError(err) {
			return err
		}
		return s.classify(what, err)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// writeRound writes rows in one transaction. Fast path (direct, not replaying): COPY straight into
// the table; if that hits a unique conflict (23505: some rows are already there, i.e. a replay),
// nothing of it was written and the round is redone through the staging path. Staging path: COPY
// into the temporary staging table, then INSERT ... SELECT ... ON CONFLICT DO NOTHING.
func (s *Sink) writeRound(ctx context.Context, src *copyReader, rows []row) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, roundTimeout)
	defer cancel()
	if s.direct && !s.replaying {
		n, err := s.copyDirect(ctx, src, rows)
		if !pgutil.IsUniqueViolation(err) {
			if err == nil {
				s.stats.DirectRounds++
			}
			return n, err
		}
		s.stats.Conflicts++
		s.replaying = true
	}
	n, err := s.copyStaged(ctx, src, rows)
	if err == nil {
		s.stats.StagedRounds++
		if n == int64(len(rows)) {
			s.replaying = false // no duplicate left: back to the fast path
		}
	}
	return n, err
}

func (s *Sink) copyDirect(ctx context.Context, src *copyReader, rows []row) (int64, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	// COPY outside a transaction is atomic: one statement.
	return s.copyFrom(ctx, conn.Conn().PgConn(), s.copyTo, src, rows)
}

func (s *Sink) copyStaged(ctx context.Context, src *copyReader, rows []row) (int64, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// Created in the transaction (a no-op when this session has it): works behind poolers that
	// reset sessions, and costs nothing on the fast path, which does not use it.
	if _, err := tx.Exec(ctx, s.staging); err != nil {
		return 0, err
	}
	if _, err := s.copyFrom(ctx, tx.Conn().PgConn(), s.copyStg, src, rows); err != nil {
		return 0, err
	}
	tag, err := tx.Exec(ctx, s.insert)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// copyFrom runs one binary COPY of rows (sql is s.copyTo or s.copyStg) with its own reader made
// from the template src, encoding into s.encBuf. The buffer is kept for the next COPY only after
// one that succeeded: on some connection failures pgconn returns while its goroutine may still be
// reading.
func (s *Sink) copyFrom(ctx context.Context, pc *pgconn.PgConn, sql string, src *copyReader, rows []row) (int64, error) {
	r := *src
	r.rows, r.buf = rows, s.encBuf[:0]
	tag, err := pc.CopyFrom(ctx, &r, sql)
	if err != nil {
		return 0, err
	}
	s.encBuf = r.buf[:0]
	return tag.RowsAffected(), nil
}

func (s *Sink) classify(what string, err error) error {
	return pgutil.Classify(fmt.Errorf("postgres sink %s: table %s: %w", what, s.quoted, err))
}

// Close releases the pool. Safe to call when Open failed.
func (s *Sink) Close(context.Context) error {
	if s.pool != nil {
		s.pool.Close()
		s.pool = nil
	}
	return nil
}
