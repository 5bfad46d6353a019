package pgsource

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/iggy-go/connectors/connectors/internal/pgutil"
	"github.com/iggy-go/connectors/sdk"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

type pollTable struct {
	key    string   // as configured: the key of State.TrackingOffsets
	name   []string // parsed
	quoted string
}

// poller implements polling mode.
type poller struct {
	s      *Source
	tables []pollTable
	// cursor is where the next Poll continues: the position after the last polled batch, committed
	// or not. It starts at the state given to the constructor.
	cursor State
	// cleanup holds delete/mark work of committed batches that failed; retried on the next commit.
	cleanup []tableKeys
	clock   func() time.Time

	warnedNoTracking bool
}

// tableKeys are the primary-key values (text form) of rows of one table in a batch.
type tableKeys struct {
	table pollTable
	keys  []string
}

func newPoller(s *Source) (*poller, error) {
	p := &poller{s: s, clock: time.Now}
	for _, t := range s.cfg.Tables {
		name, _ := pgutil.ParseQualifiedName(t) // validated
		p.tables = append(p.tables, pollTable{key: t, name: name, quoted: pgutil.QuoteQualified(name)})
	}
	p.cursor = s.state
	p.cursor.TrackingOffsets = maps.Clone(s.state.TrackingOffsets)
	if p.tableIsPosition() {
		// The persisted cursor may be ahead of the table: the runtime saves a batch's state before it
		// calls the batch's commit, so a crash in between leaves rows behind the cursor that are in
		// Iggy but neither deleted nor marked. Polled from the cursor they would stay in the table
		// for ever; polled from the first remaining row they are read again (same ids), sent again
		// (a duplicate bounded by one batch per crash) and then deleted or marked.
		p.cursor.TrackingOffsets = map[string]string{}
	}
	return p, nil
}

// tableIsPosition reports whether the table itself says what is left to read: rows of committed
// batches are deleted (delete_after_read) or filtered out (processed_column), and the built query
// is used (a custom_query may need $offset). A newly opened poller then starts at the first
// remaining row (after initial_offset) instead of the persisted cursor.
func (p *poller) tableIsPosition() bool {
	cfg := p.s.cfg
	return (cfg.DeleteAfterRead || cfg.ProcessedColumn != "") && cfg.CustomQuery == ""
}

// offset returns the cursor of a table: the polled position, else initial_offset.
func (p *poller) offset(t pollTable) (string, bool) {
	if v, ok := p.cursor.TrackingOffsets[t.key]; ok {
		return v, true
	}
	if p.s.cfg.InitialOffset != nil {
		return string(*p.s.cfg.InitialOffset), true
	}
	return "", false
}

func (p *poller) query(t pollTable, now time.Time) string {
	off, has := p.offset(t)
	cfg := p.s.cfg
	if cfg.CustomQuery != "" {
		return Substitute(cfg.CustomQuery, substitution{Table: t.name, Offset: off, HasOffset: has, Limit: cfg.BatchSize, Now: now})
	}
	processed := cfg.ProcessedColumn
	if cfg.DeleteAfterRead {
		processed = "" // delete wins, as in the original
	}
	return pollQuery{Table: t.name, Tracking: cfg.TrackingColumn, Processed: processed, Offset: off,
		HasOffset: has, Limit: cfg.BatchSize}.SQL()
}

// Poll reads up to batch_size rows of every table after the cursor.
func (p *poller) Poll(ctx context.Context) (sdk.Batch, error) {
	cfg := p.s.cfg
	now := p.clock().UTC()
	next := State{LastPollTime: now.Format(time.RFC3339Nano), TrackingOffsets: maps.Clone(p.cursor.TrackingOffsets),
		ProcessedRows: p.cursor.ProcessedRows}
	batch := sdk.Batch{Schema: p.s.format.Schema()}
	var work []tableKeys
	for _, t := range p.tables {
		sql := p.query(t, now)
		var rows []polledRow
		var fields []pgconn.FieldDescription
		err := p.s.withRetry(ctx, "poll "+t.quoted, func(ctx context.Context) error {
			var err error
			rows, fields, err = p.fetch(ctx, sql)
			return err
		})
		if err != nil {
			return sdk.Batch{}, err
		}
		if len(rows) == 0 {
			continue
		}
		trk, pk, pay := -1, -1, -1
		for i, f := range fields {
			switch f.Name {
			case cfg.TrackingColumn:
				trk = i
			}
			if f.Name == cfg.pkColumn() {
				pk = i
			}
			if cfg.PayloadColumn != "" && f.Name == cfg.PayloadColumn {
				pay = i
			}
		}
		if cfg.PayloadColumn != "" && pay < 0 {
			return sdk.Batch{}, sdk.Permanent(fmt.Errorf("postgres source: table %s: payload_column %q is not in the result", t.quoted, cfg.PayloadColumn))
		}
		if (cfg.DeleteAfterRead || cfg.ProcessedColumn != "") && pk < 0 {
			return sdk.Batch{}, sdk.Permanent(fmt.Errorf("postgres source: table %s: primary key column %q (primary_key_column, default tracking_column) is not in the result, so rows cannot be deleted or marked", t.quoted, cfg.pkColumn()))
		}
		if trk < 0 {
			if cfg.CustomQuery == "" {
				return sdk.Batch{}, sdk.Permanent(fmt.Errorf("postgres source: table %s has no tracking_column %q", t.quoted, cfg.TrackingColumn))
			}
			if !p.warnedNoTracking {
				p.warnedNoTracking = true
				p.s.log.Warn("postgres source: custom_query result has no tracking_column, so the cursor ($offset) does not move",
					"table", t.quoted, "tracking_column", cfg.TrackingColumn)
			}
		}
		keys := tableKeys{table: t}
		for _, r := range rows {
			msg, err := p.message(t, fields, r, trk, pk, pay, now)
			if err != nil {
				return sdk.Batch{}, err
			}
			batch.Messages = append(batch.Messages, msg)
			if pk >= 0 && !r[pk].Null {
				keys.keys = append(keys.keys, string(r[pk].Text))
			}
		}
		if last := rows[len(rows)-1]; trk >= 0 && !last[trk].Null {
			next.TrackingOffsets[t.key] = string(last[trk].Text)
		}
		if len(keys.keys) > 0 {
			work = append(work, keys)
		}
		next.ProcessedRows += uint64(len(rows))
	}
	if len(batch.Messages) == 0 {
		batch.WaitHint = cfg.PollInterval.D()
		return batch, nil
	}
	state, err := sdk.EncodeState(next)
	if err != nil {
		return sdk.Batch{}, sdk.Permanent(fmt.Errorf("postgres source: encode state: %w", err))
	}
	batch.State = state
	p.cursor = next
	if cfg.DeleteAfterRead || cfg.ProcessedColumn != "" {
		batch.OnCommit = func(ctx context.Context) error { return p.commit(ctx, work) }
	}
	p.s.logBatch(ctx, "postgres source polled", "rows", len(batch.Messages), "offsets", next.TrackingOffsets)
	return batch, nil
}

// polledRow is one result row in text format.
type polledRow []column

// fetch runs sql with text result format and copies the rows out.
func (p *poller) fetch(ctx context.Context, sql string) ([]polledRow, []pgconn.FieldDescription, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	rs, err := p.s.pool.Query(ctx, sql, pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return nil, nil, err
	}
	defer rs.Close()
	fields := append([]pgconn.FieldDescription(nil), rs.FieldDescriptions()...)
	var out []polledRow
	for rs.Next() {
		raw := rs.RawValues()
		row := make(polledRow, len(raw))
		for i, v := range raw {
			row[i] = column{Name: fields[i].Name, OID: fields[i].DataTypeOID, Null: v == nil}
			if v != nil {
				row[i].Text = append([]byte{}, v...)
			}
		}
		out = append(out, row)
	}
	return out, fields, rs.Err()
}

// message turns a row into a message: the payload column's value, or a DatabaseRecord.
func (p *poller) message(t pollTable, fields []pgconn.FieldDescription, r polledRow, trk, pk, pay int, now time.Time) (sdk.SourceMessage, error) {
	var payload []byte
	if pay >= 0 {
		var err error
		if payload, err = p.payloadValue(r[pay]); err != nil {
			return sdk.SourceMessage{}, fmt.Errorf("postgres source: table %s: %w", t.quoted, err)
		}
	} else {
		payload = p.s.conv.appendRecord(nil, p.s.cfg.IncludeMetadata, recordMeta{Table: t.name[len(t.name)-1], Op: OpSelect, Time: now}, r, nil)
	}
	var pkText, trkText string
	if pk >= 0 {
		pkText = string(r[pk].Text)
	}
	if trk >= 0 {
		trkText = string(r[trk].Text)
	}
	var id sdk.ID
	if pk >= 0 || trk >= 0 {
		id = MessageID("poll", t.key, pkText, trkText)
	} else {
		id = MessageID("poll", t.key, string(payload))
	}
	return sdk.SourceMessage{ID: &id, Payload: payload, OriginTimestamp: uint64(now.UnixMicro())}, nil
}

// payloadValue extracts payload_column: bytea bytes, text as is, json/jsonb text; other types as
// their JSON rendering. NULL is empty, or `null` when the batch schema is json.
func (p *poller) payloadValue(c column) ([]byte, error) {
	if c.Null {
		if p.s.format.Schema() == "json" {
			return []byte("null"), nil
		}
		return []byte{}, nil
	}
	switch c.OID {
	case pgtype.ByteaOID:
		b, ok := decodeByteaHex(string(c.Text))
		if !ok {
			return nil, fmt.Errorf("payload_column %q: cannot decode bytea %.20q", c.Name, c.Text)
		}
		return b, nil
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.JSONOID, pgtype.JSONBOID, pgtype.NameOID:
		return c.Text, nil
	}
	return p.s.conv.appendValue(nil, c), nil
}

// commit makes a committed batch permanent in the table: DELETE (delete_after_read) or UPDATE
// processed_column = TRUE, by primary key, in chunks of 1000 keys, with retries. Work that still
// fails is kept and retried at the next commit; the error is reported to the runtime.
func (p *poller) commit(ctx context.Context, work []tableKeys) error {
	all := append(p.cleanup, work...)
	p.cleanup = nil
	var errs []error
	for i, tk := range all {
		if err := p.cleanupTable(ctx, tk); err != nil {
			p.cleanup = append(p.cleanup, all[i])
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (p *poller) cleanupTable(ctx context.Context, tk tableKeys) error {
	cfg := p.s.cfg
	for lo := 0; lo < len(tk.keys); lo += 1000 {
		chunk := tk.keys[lo:min(lo+1000, len(tk.keys))]
		var sql string
		if cfg.DeleteAfterRead {
			sql = fmt.Sprintf("DELETE FROM %s WHERE %s IN %s", tk.table.quoted, pgutil.QuoteIdent(cfg.pkColumn()), inList(chunk))
		} else {
			sql = fmt.Sprintf("UPDATE %s SET %s = TRUE WHERE %s IN %s", tk.table.quoted, pgutil.QuoteIdent(cfg.ProcessedColumn),
				pgutil.QuoteIdent(cfg.pkColumn()), inList(chunk))
		}
		err := p.s.withRetry(ctx, "commit "+tk.table.quoted, func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			_, err := p.s.pool.Exec(ctx, sql)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}
