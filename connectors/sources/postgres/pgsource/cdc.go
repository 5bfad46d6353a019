package pgsource

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/iggy-go/connectors/connectors/internal/pgutil"
	"github.com/iggy-go/connectors/sdk"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	statusInterval = 10 * time.Second       // standby status updates at least this often
	maxPollWait    = time.Second            // longest wait for the first change inside one Poll
	idleGap        = 20 * time.Millisecond  // a Poll that has changes stops after this long without more
	maxPollTime    = 3 * time.Second        // a Poll returns after this long whatever it has
	cdcWaitHint    = 10 * time.Millisecond  // after an empty CDC poll (the poll itself waited already)
	openRetryDelay = 200 * time.Millisecond // slot still held by a closing walsender
)

// tableFilter matches relations against `tables`: schema.table exactly, a bare name in any schema.
type tableFilter struct {
	exact map[[2]string]bool
	bare  map[string]bool
}

func newTableFilter(tables []string) tableFilter {
	f := tableFilter{exact: map[[2]string]bool{}, bare: map[string]bool{}}
	for _, t := range tables {
		parts, _ := pgutil.ParseQualifiedName(t)
		if len(parts) == 2 {
			f.exact[[2]string{parts[0], parts[1]}] = true
		} else {
			f.bare[parts[0]] = true
		}
	}
	return f
}

func (f tableFilter) match(schema, table string) bool {
	return f.exact[[2]string{schema, table}] || f.bare[table]
}

// cdc implements CDC mode over a replication connection.
type cdc struct {
	s         *Source
	connCfg   *pgconn.Config
	conn      *pgconn.PgConn
	filter    tableFilter
	relations map[uint32]*pglogrepl.RelationMessage

	// committed is the position after the last committed batch (reported to the server);
	// delivered the position after the last batch Poll returned (where reading continues).
	committed, delivered CDCPosition
	outstanding          int // batches returned by Poll and not committed yet
	processed            uint64

	// the transaction being read
	inTx          bool
	txLSN         pglogrepl.LSN
	txTime        time.Time
	txCount       uint64 // row changes seen in it, before filtering
	txSkipAll     bool
	txSkip        uint64
	lastStatus    time.Time
	reportedFlush pglogrepl.LSN
	clock         func() time.Time
}

func openCDC(ctx context.Context, s *Source, pcfg *pgxpool.Config) (*cdc, error) {
	c := &cdc{s: s, filter: newTableFilter(s.cfg.Tables), relations: map[uint32]*pglogrepl.RelationMessage{},
		committed: s.state.CDC, delivered: s.state.CDC, processed: s.state.ProcessedRows, clock: time.Now}
	var walLevel string
	if err := s.pool.QueryRow(ctx, "SHOW wal_level").Scan(&walLevel); err != nil {
		return nil, classify("SHOW wal_level", err)
	}
	if walLevel != "logical" {
		return nil, sdk.Permanent(fmt.Errorf("postgres source: cdc needs wal_level = logical, the server has %q (set it in postgresql.conf and restart PostgreSQL)", walLevel))
	}
	if err := c.ensurePublication(ctx); err != nil {
		return nil, err
	}
	if err := c.ensureSlot(ctx); err != nil {
		return nil, err
	}
	// Never report a position behind the slot's (PostgreSQL 15 would move confirmed_flush back in
	// memory): a slot ahead of the state was advanced over changes that needed no batch.
	var confirmed *string
	if err := s.pool.QueryRow(ctx, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
		s.cfg.ReplicationSlot).Scan(&confirmed); err != nil {
		return nil, classify("inspect replication slot "+s.cfg.ReplicationSlot, err)
	}
	if confirmed != nil {
		if lsn, err := pglogrepl.ParseLSN(*confirmed); err == nil && uint64(lsn) > c.committed.FlushLSN {
			c.committed = CDCPosition{FlushLSN: uint64(lsn)}
			c.delivered = c.committed
		}
	}
	c.connCfg = pcfg.ConnConfig.Config.Copy()
	c.connCfg.RuntimeParams["replication"] = "database"
	// A receive that times out must leave the stream usable: only set a deadline on the socket
	// (never send a cancel request, which would end the replication command).
	c.connCfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: pc.Conn()}
	}
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// resolveTables finds the existing tables `tables` names (bare names in every schema).
func (c *cdc) resolveTables(ctx context.Context) ([][2]string, error) {
	rows, err := c.s.pool.Query(ctx, `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2]string
	found := map[string]bool{}
	for rows.Next() {
		var schema, table string
		if err := rows.Scan(&schema, &table); err != nil {
			return nil, err
		}
		if c.filter.match(schema, table) {
			out = append(out, [2]string{schema, table})
			found[schema+"."+table], found[table] = true, true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, t := range c.s.cfg.Tables {
		parts, _ := pgutil.ParseQualifiedName(t)
		if !found[strings.Join(parts, ".")] {
			c.s.log.Warn("postgres source: table does not exist; its changes are captured only after it exists and the source is reopened", "table", t)
		}
	}
	return out, nil
}

// ensurePublication creates the publication for the tables, or adds missing tables to it.
func (c *cdc) ensurePublication(ctx context.Context) error {
	tables, err := c.resolveTables(ctx)
	if err != nil {
		return classify("list tables", err)
	}
	pub := c.s.cfg.Publication
	var allTables bool
	err = c.s.pool.QueryRow(ctx, "SELECT puballtables FROM pg_publication WHERE pubname = $1", pub).Scan(&allTables)
	quoted := func(t [2]string) string { return pgutil.QuoteQualified(t[:]) }
	switch {
	case err == nil:
		if allTables {
			return nil
		}
		for _, t := range tables {
			var in bool
			if err := c.s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3)",
				pub, t[0], t[1]).Scan(&in); err != nil {
				return classify("inspect publication", err)
			}
			if !in {
				if _, err := c.s.pool.Exec(ctx, fmt.Sprintf("ALTER PUBLICATION %s ADD TABLE %s", pgutil.QuoteIdent(pub), quoted(t))); err != nil {
					return classify("add table to publication "+pub, err)
				}
				c.s.log.Info("postgres source: added table to publication", "publication", pub, "table", quoted(t))
			}
		}
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		stmt := "CREATE PUBLICATION " + pgutil.QuoteIdent(pub)
		if len(tables) > 0 {
			list := make([]string, len(tables))
			for i, t := range tables {
				list[i] = quoted(t)
			}
			stmt += " FOR TABLE " + strings.Join(list, ", ")
		}
		if _, err := c.s.pool.Exec(ctx, stmt); err != nil {
			return classify("create publication "+pub, err)
		}
		c.s.log.Info("postgres source: created publication", "publication", pub, "tables", len(tables))
		return nil
	default:
		return classify("inspect publication", err)
	}
}

// ensureSlot creates the logical slot with pgoutput when missing; a slot of another kind or plugin
// is an error naming it.
func (c *cdc) ensureSlot(ctx context.Context) error {
	slot := c.s.cfg.ReplicationSlot
	var plugin, kind *string
	err := c.s.pool.QueryRow(ctx, "SELECT plugin, slot_type FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&plugin, &kind)
	switch {
	case err == nil:
		if kind == nil || *kind != "logical" || plugin == nil || *plugin != "pgoutput" {
			p := "none"
			if plugin != nil {
				p = *plugin
			}
			return sdk.FieldErrorf("replication_slot", "slot %q exists with plugin %s, but this source needs a logical slot with pgoutput; drop it (SELECT pg_drop_replication_slot('%s')) or choose another replication_slot", slot, p, slot)
		}
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := c.s.pool.Exec(ctx, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", slot); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "42710" { // created concurrently
				return c.ensureSlot(ctx)
			}
			return classify("create replication slot "+slot, err)
		}
		c.s.log.Info("postgres source: created replication slot", "slot", slot)
		return nil
	default:
		return classify("inspect replication slot "+slot, err)
	}
}

// connect opens the replication connection and starts streaming after the committed position.
// The server starts at the later of that position and the slot's confirmed one.
func (c *cdc) connect(ctx context.Context) error {
	var lastErr error
	for attempt := 1; attempt <= max(1, c.s.cfg.MaxRetries)+10; attempt++ {
		conn, err := pgconn.ConnectConfig(ctx, c.connCfg)
		if err != nil {
			return classify("replication connection", err)
		}
		pub := "publication_names " + pgutil.QuoteLiteral(pgutil.QuoteIdent(c.s.cfg.Publication))
		err = pglogrepl.StartReplication(ctx, conn, c.s.cfg.ReplicationSlot, pglogrepl.LSN(c.committed.FlushLSN),
			pglogrepl.StartReplicationOptions{PluginArgs: []string{"proto_version '1'", pub}})
		if err == nil {
			c.conn = conn
			c.inTx = false
			c.lastStatus = time.Time{}
			c.reportedFlush = 0
			return c.sendStatus(ctx)
		}
		_ = conn.Close(ctx)
		lastErr = err
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "55006" { // 55006: slot still active (a closing walsender)
			break
		}
		if err := c.s.sleep(ctx, openRetryDelay); err != nil {
			break
		}
	}
	return classify("start replication on slot "+c.s.cfg.ReplicationSlot, lastErr)
}

// sendStatus reports the committed position as written, flushed and applied.
func (c *cdc) sendStatus(ctx context.Context) error { return c.status(ctx, false) }

// sendStatusRequestReply is sendStatus asking the server for an immediate keepalive.
func (c *cdc) sendStatusRequestReply(ctx context.Context) error { return c.status(ctx, true) }

func (c *cdc) status(ctx context.Context, reply bool) error {
	lsn := pglogrepl.LSN(c.committed.FlushLSN)
	if err := pglogrepl.SendStandbyStatusUpdate(ctx, c.conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: lsn, ReplyRequested: reply}); err != nil {
		return err
	}
	c.lastStatus = c.clock()
	c.reportedFlush = lsn
	return nil
}

func (c *cdc) dropConn(ctx context.Context) {
	if c.conn != nil {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_ = c.conn.Close(cctx)
		cancel()
		c.conn = nil
	}
	c.inTx = false
}

func (c *cdc) close(ctx context.Context) { c.dropConn(ctx) }

// Poll reads committed changes (see the package documentation).
func (c *cdc) Poll(ctx context.Context) (sdk.Batch, error) {
	if c.conn == nil {
		if err := c.connect(ctx); err != nil {
			return sdk.Batch{}, err
		}
	}
	start := c.clock()
	firstWait := min(max(c.s.cfg.PollInterval.D(), 10*time.Millisecond), maxPollWait)
	if c.outstanding == 0 && !c.inTx && c.delivered.PartialLSN == 0 && start.Sub(c.lastStatus) >= time.Second {
		// Everything returned is committed: ask for a keepalive, whose position (what the walsender
		// has sent) can then be confirmed if nothing arrives before it.
		if err := c.sendStatusRequestReply(ctx); err != nil {
			return c.fail(ctx, err)
		}
	}
	pos := c.delivered
	var msgs []sdk.SourceMessage
	var walEnd pglogrepl.LSN
	for len(msgs) < c.s.cfg.BatchSize {
		if c.clock().Sub(c.lastStatus) >= statusInterval {
			if err := c.sendStatus(ctx); err != nil {
				return c.fail(ctx, err)
			}
		}
		wait := idleGap
		if len(msgs) == 0 {
			wait = firstWait - c.clock().Sub(start)
		}
		if c.inTx {
			wait = max(wait, 500*time.Millisecond) // the rest of a transaction is on its way
		}
		if wait <= 0 || c.clock().Sub(start) >= maxPollTime {
			break
		}
		rctx, cancel := context.WithTimeout(ctx, wait)
		raw, err := c.conn.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if pgconn.Timeout(err) && ctx.Err() == nil {
				break
			}
			return c.fail(ctx, err)
		}
		switch m := raw.(type) {
		case *pgproto3.ErrorResponse:
			return c.fail(ctx, pgconn.ErrorResponseToPgError(m))
		case *pgproto3.CopyData:
			if len(m.Data) == 0 {
				continue
			}
			switch m.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(m.Data[1:])
				if err != nil {
					return c.fail(ctx, err)
				}
				walEnd = max(walEnd, ka.ServerWALEnd)
				if ka.ReplyRequested {
					if err := c.sendStatus(ctx); err != nil {
						return c.fail(ctx, err)
					}
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(m.Data[1:])
				if err != nil {
					return c.fail(ctx, err)
				}
				msg, err := c.handle(xld.WALData, &pos)
				if err != nil {
					return c.fail(ctx, err)
				}
				if msg != nil {
					msgs = append(msgs, *msg)
				}
			}
		}
	}
	if c.inTx {
		pos.PartialLSN, pos.PartialCount = uint64(c.txLSN), c.txCount
	}
	c.delivered = pos
	if len(msgs) == 0 {
		// Nothing to deliver. When everything returned so far is committed and no transaction is
		// half read, the stream up to here (filtered or skipped changes, or the keepalive's
		// position, which in logical replication is what the walsender has already sent) needs no
		// batch: confirm it so the slot does not retain WAL while the tables are quiet.
		if c.outstanding == 0 && !c.inTx && pos.PartialLSN == 0 {
			flush := max(pos.FlushLSN, uint64(walEnd))
			if flush > c.committed.FlushLSN {
				c.committed = CDCPosition{FlushLSN: flush}
				c.delivered = c.committed
				if err := c.sendStatus(ctx); err != nil {
					return c.fail(ctx, err)
				}
			}
		}
		return sdk.Batch{Schema: "json", WaitHint: cdcWaitHint}, nil
	}
	c.processed += uint64(len(msgs))
	st, err := sdk.EncodeState(State{LastPollTime: start.UTC().Format(time.RFC3339Nano), TrackingOffsets: map[string]string{},
		ProcessedRows: c.processed, CDC: pos})
	if err != nil {
		return sdk.Batch{}, sdk.Permanent(err)
	}
	c.outstanding++
	c.s.logBatch(ctx, "postgres source: cdc batch", "changes", len(msgs), "flush_lsn", pglogrepl.LSN(pos.FlushLSN),
		"partial_lsn", pglogrepl.LSN(pos.PartialLSN), "partial_count", pos.PartialCount)
	return sdk.Batch{Schema: "json", Messages: msgs, State: st,
		OnCommit: func(ctx context.Context) error { return c.commit(ctx, pos) }}, nil
}

// fail drops the connection after a stream error; the next Poll reconnects and, skipping what was
// delivered, continues where the last returned batch ended. Changes read in the failed Poll are
// read again.
func (c *cdc) fail(ctx context.Context, err error) (sdk.Batch, error) {
	c.dropConn(ctx)
	return sdk.Batch{}, classify("replication stream", err)
}

// commit confirms a batch's position to the server: the slot may then drop everything before it.
func (c *cdc) commit(ctx context.Context, pos CDCPosition) error {
	c.outstanding = max(0, c.outstanding-1)
	if pos.FlushLSN > c.committed.FlushLSN || pos.PartialLSN != c.committed.PartialLSN || pos.PartialCount != c.committed.PartialCount {
		c.committed = pos
	}
	if c.conn == nil || pglogrepl.LSN(c.committed.FlushLSN) == c.reportedFlush {
		return nil // reported at the next (re)connect
	}
	if err := c.sendStatus(ctx); err != nil {
		c.dropConn(ctx)
		return fmt.Errorf("postgres source: confirm LSN %s on slot %s: %w", pglogrepl.LSN(c.committed.FlushLSN), c.s.cfg.ReplicationSlot, err)
	}
	return nil
}

// handle decodes one pgoutput message and returns the message to emit, if any. pos moves past
// every complete transaction.
func (c *cdc) handle(data []byte, pos *CDCPosition) (*sdk.SourceMessage, error) {
	lm, err := pglogrepl.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("decode pgoutput message: %w", err)
	}
	switch m := lm.(type) {
	case *pglogrepl.RelationMessage:
		c.relations[m.RelationID] = m
	case *pglogrepl.BeginMessage:
		c.inTx, c.txLSN, c.txTime, c.txCount = true, m.FinalLSN, m.CommitTime, 0
		// Delivered before: a transaction that committed before the end of the last delivered one,
		// or the first PartialCount changes of the partly delivered one.
		c.txSkipAll = uint64(m.FinalLSN) < c.delivered.FlushLSN
		c.txSkip = 0
		if uint64(m.FinalLSN) == c.delivered.PartialLSN {
			c.txSkip = c.delivered.PartialCount
		}
	case *pglogrepl.CommitMessage:
		c.inTx = false
		if uint64(m.TransactionEndLSN) > pos.FlushLSN {
			pos.FlushLSN = uint64(m.TransactionEndLSN)
		}
		pos.PartialLSN, pos.PartialCount = 0, 0
	case *pglogrepl.InsertMessage:
		return c.change(OpInsert, m.RelationID, m.Tuple, 0, nil)
	case *pglogrepl.UpdateMessage:
		return c.change(OpUpdate, m.RelationID, m.NewTuple, m.OldTupleType, m.OldTuple)
	case *pglogrepl.DeleteMessage:
		return c.change(OpDelete, m.RelationID, nil, m.OldTupleType, m.OldTuple)
	}
	return nil, nil
}

// change turns one row change into a message, unless it was delivered before or is filtered out.
func (c *cdc) change(op Operation, relID uint32, newTup *pglogrepl.TupleData, oldType uint8, oldTup *pglogrepl.TupleData) (*sdk.SourceMessage, error) {
	c.txCount++
	idx := c.txCount
	if c.txSkipAll || idx <= c.txSkip {
		return nil, nil
	}
	rel, ok := c.relations[relID]
	if !ok {
		return nil, fmt.Errorf("change for unknown relation %d (no Relation message received)", relID)
	}
	if !c.filter.match(rel.Namespace, rel.RelationName) || !c.s.cfg.captures(op) {
		return nil, nil
	}
	var data, old []column
	keyOnly := oldType == 'K'
	switch op {
	case OpInsert:
		data = tupleColumns(rel, newTup, false)
	case OpUpdate:
		data = tupleColumns(rel, newTup, false)
		if oldTup != nil {
			old = tupleColumns(rel, oldTup, keyOnly)
		}
	case OpDelete:
		data = tupleColumns(rel, oldTup, keyOnly)
	}
	var pk []string
	keySrc := data
	for _, col := range rel.Columns {
		if col.Flags&1 == 1 {
			for _, d := range keySrc {
				if d.Name == col.Name {
					pk = append(pk, string(d.Text))
				}
			}
		}
	}
	payload := c.s.conv.appendRecord(nil, c.s.cfg.IncludeMetadata, recordMeta{Table: rel.RelationName, Op: op, Time: c.txTime}, data, old)
	id := MessageID("cdc", rel.Namespace+"."+rel.RelationName, strings.Join(pk, "\x00"),
		strconv.FormatUint(uint64(c.txLSN), 10), strconv.FormatUint(idx, 10))
	return &sdk.SourceMessage{ID: &id, Payload: payload, OriginTimestamp: uint64(c.txTime.UnixMicro())}, nil
}

// tupleColumns pairs tuple values with the relation's columns. keyOnly keeps only the replica
// identity key columns (a 'K' tuple carries NULL for the others). Unchanged TOASTed values are null.
func tupleColumns(rel *pglogrepl.RelationMessage, tup *pglogrepl.TupleData, keyOnly bool) []column {
	if tup == nil {
		return nil
	}
	out := make([]column, 0, len(tup.Columns))
	for i, v := range tup.Columns {
		if i >= len(rel.Columns) {
			break
		}
		rc := rel.Columns[i]
		if keyOnly && rc.Flags&1 == 0 {
			continue
		}
		col := column{Name: rc.Name, OID: rc.DataType}
		switch v.DataType {
		case pglogrepl.TupleDataTypeText:
			col.Text = v.Data
		default: // null, unchanged toast, binary (not requested)
			col.Null = true
		}
		out = append(out, col)
	}
	return out
}
