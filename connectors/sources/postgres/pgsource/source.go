// Package pgsource is the PostgreSQL source: it reads rows (polling mode) or committed changes
// (CDC mode) of the configured tables and hands them to the runtime as JSON records, raw bytes or
// text. Nothing is made permanent in PostgreSQL before Iggy accepted the batch.
//
// # Polling
//
// Each Poll runs, per table, `SELECT * FROM t WHERE tracking_column > cursor [AND processed = FALSE]
// ORDER BY tracking_column LIMIT batch_size` (or custom_query with $table, $offset, $limit, $now and
// $now_unix substituted safely, see Substitute), continuing after the previous batch even when that
// batch is not committed yet. The batch's State is the cursor after it (MessagePack, see State). Its
// OnCommit, run by the runtime once the batch is in Iggy and the state is persisted, deletes the rows
// (delete_after_read) or sets processed_column = TRUE, by primary_key_column. A crash before the
// commit leaves every row in place and unmarked; the next instance, built with the last saved
// state, reads them again (at-least-once; ids are deterministic so replays are recognisable). As
// the runtime saves the state before the commit, in delete/mark mode (without custom_query) a new
// instance starts at the first remaining row rather than at the saved cursor, so the rows of a batch
// whose commit a crash interrupted are read again and deleted or marked, not left behind.
//
// # CDC
//
// CDC uses logical replication with the built-in pgoutput plugin through github.com/jackc/pglogrepl
// rather than the original's test_decoding: pgoutput needs no extension, is what PostgreSQL's own
// logical replication uses, sends typed values with relation metadata (no parsing of a text format
// whose quoting the original had to reverse-engineer), streams only committed transactions of the
// publication's tables (rolled-back work never arrives), and lets the client acknowledge positions
// explicitly with standby status updates, which is what commit-after-Iggy needs. The publication
// (`publication`, default iggy_pub) is created for the tables when missing (tables added when it
// exists without them); the slot (`replication_slot`, pgoutput) is created when missing, and an
// existing slot with another plugin is an open error naming the slot.
//
// Poll returns committed changes in commit order; the slot's confirmed position is reported to the
// server only from OnCommit: the end LSN of the last transaction completely contained in committed
// batches. A transaction larger than batch_size is split across batches; the state then also records
// how many of its changes were delivered, so a restart skips exactly those. After a crash the slot
// re-sends everything after the last committed batch and the source skips what the persisted state
// says was delivered, so each change reaches Iggy once more at most.
//
// Old rows: for UPDATE, old_data is present only when pgoutput sends the old tuple: the key columns
// when an update changes the replica identity key (REPLICA IDENTITY DEFAULT with a primary key), or the
// whole old row with REPLICA IDENTITY FULL. DELETE records carry the key columns (or the whole row
// with FULL) as data. Tables without a primary key need REPLICA IDENTITY FULL (or USING INDEX) for
// PostgreSQL to accept UPDATE and DELETE once they are in a publication.
package pgsource

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/iggy-go/connectors/connectors/internal/pgutil"
	"github.com/iggy-go/connectors/sdk"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Plugin declares the source for the export shim (connectors/sources/postgres main package).
var Plugin = sdk.NewSource(sdk.Info{
	Name:        "postgres",
	Version:     "0.1.0",
	Description: "Reads PostgreSQL tables by polling or logical replication (pgoutput); deletes, marks and slot moves only after Iggy accepted the batch",
}, New)

// State is the persisted position, MessagePack-encoded as an array (EncodeState). Its first three
// fields are those of the original connector's state, so an original state file is read.
type State struct {
	LastPollTime    string            // RFC 3339 time of the poll that produced the batch
	TrackingOffsets map[string]string // polling: table (as configured) → cursor value after the batch
	ProcessedRows   uint64            // rows or changes delivered so far
	CDC             CDCPosition       // cdc: position after the batch
}

// originalState is the state of the original Rust connector.
type originalState struct {
	LastPollTime    string
	TrackingOffsets map[string]string
	ProcessedRows   uint64
}

// CDCPosition is where a CDC batch ends in the replication stream.
type CDCPosition struct {
	// FlushLSN is the end LSN of the last transaction completely delivered: the slot may be
	// confirmed up to here, and replication restarts here.
	FlushLSN uint64
	// PartialLSN is the commit LSN of a transaction only partly delivered (0 = none), and
	// PartialCount how many of its row changes (counted before filtering) were delivered.
	PartialLSN   uint64
	PartialCount uint64
}

// Source is one source instance. The runtime serialises Open, Poll, OnCommit and Close.
type Source struct {
	cfg    *Config
	log    *slog.Logger
	conv   *converter
	format PayloadFormat
	state  State // as given at construction (last committed), then as of the last Poll
	pool   *pgxpool.Pool
	sleep  func(ctx context.Context, d time.Duration) error

	poll *poller // polling mode
	cdc  *cdc    // cdc mode
}

// New builds a source from a validated config and the last persisted state (nil on first start).
// It does not connect (Open does). Undecodable state is a permanent error.
func New(cfg *Config, state []byte, env sdk.Env) (sdk.Source, error) {
	return newSource(cfg, state, env.Logger)
}

func newSource(cfg *Config, state []byte, log *slog.Logger) (*Source, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f, err := ParsePayloadFormat(cfg.PayloadFormat)
	if err != nil {
		return nil, sdk.FieldErrorf("payload_format", "%v", err)
	}
	s := &Source{cfg: cfg, log: log, conv: newConverter(cfg.SnakeCaseColumns, log), format: f, sleep: sdk.Sleep}
	if err := sdk.DecodeState(state, &s.state); err != nil {
		// The original connector's state has only the first three fields.
		var orig originalState
		if err2 := sdk.DecodeState(state, &orig); err2 != nil {
			return nil, sdk.Permanent(fmt.Errorf("postgres source: cannot decode the persisted state (%d bytes): %w", len(state), err))
		}
		s.state = State{LastPollTime: orig.LastPollTime, TrackingOffsets: orig.TrackingOffsets, ProcessedRows: orig.ProcessedRows}
	}
	if s.state.TrackingOffsets == nil {
		s.state.TrackingOffsets = map[string]string{}
	}
	return s, nil
}

// Open connects, checks the connection, and prepares the mode: polling checks nothing more (tables
// may appear later); cdc checks wal_level, ensures the publication and the slot and starts
// replication at the persisted position.
func (s *Source) Open(ctx context.Context) error {
	pcfg, err := pgutil.PoolConfig(s.cfg.ConnectionString.Reveal(), s.cfg.MaxConnections)
	if err != nil {
		return err
	}
	setTextParams(pcfg.ConnConfig.RuntimeParams)
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(octx, pcfg)
	if err != nil {
		return fmt.Errorf("postgres source: connect: %w", err)
	}
	if _, err := pool.Exec(octx, "SELECT 1"); err != nil {
		pool.Close()
		return classify("connect", err)
	}
	s.pool = pool
	if s.cfg.polling() {
		s.poll, err = newPoller(s)
	} else {
		s.cdc, err = openCDC(octx, s, pcfg)
	}
	if err != nil {
		pool.Close()
		s.pool = nil
		return err
	}
	s.log.Info("postgres source opened", "mode", s.cfg.Mode, "tables", s.cfg.Tables, "payload_format", s.cfg.PayloadFormat)
	return nil
}

// setTextParams fixes the session settings that shape text output, so values look the same on every
// server: ISO dates, UTC, PostgreSQL interval style, hex bytea, shortest exact floats.
func setTextParams(p map[string]string) {
	for k, v := range map[string]string{"DateStyle": "ISO, YMD", "TimeZone": "UTC", "IntervalStyle": "postgres",
		"bytea_output": "hex", "extra_float_digits": "1", "standard_conforming_strings": "on", "client_encoding": "UTF8"} {
		if _, set := p[k]; !set {
			p[k] = v
		}
	}
}

// Poll returns the next batch (see the package documentation).
func (s *Source) Poll(ctx context.Context) (sdk.Batch, error) {
	if s.pool == nil {
		return sdk.Batch{}, sdk.Permanent(fmt.Errorf("postgres source: Poll before Open"))
	}
	if s.poll != nil {
		return s.poll.Poll(ctx)
	}
	return s.cdc.Poll(ctx)
}

// Close releases the connections. Uncommitted batches are abandoned; nothing of them was made
// permanent, so they are read again after the next Open.
func (s *Source) Close(ctx context.Context) error {
	if s.cdc != nil {
		s.cdc.close(ctx)
		s.cdc = nil
	}
	if s.pool != nil {
		s.pool.Close()
		s.pool = nil
	}
	return nil
}

func (s *Source) logBatch(ctx context.Context, msg string, args ...any) {
	lvl := slog.LevelDebug
	if s.cfg.VerboseLogging {
		lvl = slog.LevelInfo
	}
	s.log.Log(ctx, lvl, msg, args...)
}

// extraTransient are the SQLSTATEs the source retries besides those pgutil.IsTransient does:
// 55006 object_in_use, e.g. a replication slot still held by a closing walsender.
var extraTransient = []string{"55006"}

// withRetry runs f, retrying transient errors up to max_retries attempts with retry_delay × attempt;
// the final error is classified (sdk.Retryable / sdk.Permanent).
func (s *Source) withRetry(ctx context.Context, what string, f func(ctx context.Context) error) error {
	retry := pgutil.Retry{Attempts: s.cfg.MaxRetries, Delay: s.cfg.RetryDelay.D(), ExtraTransient: extraTransient, Sleep: s.sleep,
		OnRetry: func(a, _ int, d time.Duration, err error) {
			s.log.Warn("postgres source: transient error, retrying", "what", what, "attempt", a, "delay", d, "error", err)
		}}
	return retry.Do(ctx, what, f, classify)
}

func classify(what string, err error) error {
	return pgutil.Classify(fmt.Errorf("postgres source: %s: %w", what, err), extraTransient...)
}
