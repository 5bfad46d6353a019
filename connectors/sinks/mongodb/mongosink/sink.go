// Package mongosink is the MongoDB sink: it writes Iggy messages into a collection, one document
// per message, idempotently, so that a batch the runtime offers again after a crash adds no
// duplicate and loses nothing.
//
// # Documents
//
// Every document has the _id the original connector gives it,
// "{stream}:{topic}:{partition_id}:{message_id}" (see DocumentID), so a collection the original
// wrote is continued without duplicates. With the default settings it also has iggy_offset,
// iggy_timestamp, iggy_stream, iggy_topic, iggy_partition_id, iggy_checksum and
// iggy_origin_timestamp, and the payload as BSON Binary (payload_format "binary"), as the BSON
// form of its JSON value ("json": objects become embedded documents with their key order, numbers
// stay numbers) or as a string ("string"/"text").
//
// # Writing
//
// Consume turns each message into a BSON document in Go first; a message that cannot become one
// (invalid JSON or UTF-8 for its payload_format, a document over 16 MiB) is reported as a
// permanent per-message sdk.Failure and the others are written. Documents go to the server in
// chunks of at most batch_size through an unordered insertMany, so one rejected document does not
// stop the others of its chunk. The server's answer is read per document:
//
//   - inserted: written;
//   - duplicate key (11000): written before (a replay) — success;
//   - a transient error code (shutdown, step-down, time limit, ...): sent again in the next attempt;
//   - any other code (e.g. a validator, or FerretDB refusing nested arrays): a permanent
//     per-message Failure carrying the server's code and message, which the runtime hands to the
//     connector's on_error policy alone.
//
// A write-concern error leaves every document of the attempt unresolved (the server did not
// acknowledge them as asked), and they are sent again; a replay of a document that did land is a
// duplicate key and counts as written then. The sink refuses unacknowledged write concerns (w=0)
// at validation and at open, and checks every insertMany result's Acknowledged flag: it never
// reports a document written that the server did not acknowledge.
//
// # Errors
//
// Errors of the whole insertMany call that may pass (network, timeouts, server selection, cleared
// pools, retryable-write labels, transient or unknown server codes; see isTransient) are retried
// inside Consume up to max_retries attempts in total with retry_delay × attempt between them, and
// only the unresolved documents are sent again. Then the error goes back to the runtime marked
// sdk.Retryable, so the runtime's [retry] backs off and offers the batch again (documents already
// written are then duplicates, i.e. no-ops). Other errors (authentication, authorization, an
// invalid namespace) are returned marked sdk.Permanent.
package mongosink

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/iggy-go/connectors/sdk"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Plugin declares the sink for the export shim (connectors/sinks/mongodb main package).
var Plugin = sdk.NewSink(sdk.Info{
	Name:        "mongodb",
	Version:     "0.1.0",
	Description: "Writes Iggy messages to a MongoDB collection, idempotently keyed by stream/topic/partition/message id",
}, New)

// Timeouts of single server calls. The runtime cannot interrupt a call into the plugin, so every
// call bounds itself.
const (
	openTimeout    = 30 * time.Second // connect, ping, create the collection
	attemptTimeout = 30 * time.Second // one insertMany of at most batch_size documents
	closeTimeout   = 10 * time.Second
)

// Sink is one sink instance. The runtime serialises Open, Consume and Close.
type Sink struct {
	cfg    *Config
	log    *slog.Logger
	layout layout
	client *mongo.Client
	coll   *mongo.Collection
	sleep  func(ctx context.Context, d time.Duration) error
	buf    []byte // the BSON documents of the batch being written, reused across batches
	stats  Stats
}

// Stats counts what the sink did since Open; for tests and logs.
type Stats struct {
	Inserted  int64 // documents the server inserted
	Present   int64 // documents that were already there (duplicate key on _id: replays)
	Rejected  int64 // messages reported as permanent per-message failures (by the sink or the server)
	Retries   int64 // insertMany attempts after a transient failure
	InsertOps int64 // insertMany calls
	Splits    int64 // chunks split in halves to isolate a document the server refused as a whole
}

// New builds a sink from a validated config; it does not connect (Open does).
func New(cfg *Config, env sdk.Env) (sdk.Sink, error) {
	return newSink(cfg, env.Logger), nil
}

func newSink(cfg *Config, log *slog.Logger) *Sink {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sink{cfg: cfg, log: log, layout: newLayout(cfg), sleep: sdk.Sleep}
}

// Open connects (pool of at most max_pool_size connections when set), checks the connection with a
// ping on the database and, with auto_create_collection, creates the collection when missing. A
// connection string that does not parse or asks for unacknowledged writes is a permanent error
// naming connection_uri; a server that does not answer is transient (the runtime opens again
// after a backoff).
func (s *Sink) Open(ctx context.Context) error {
	uri := s.cfg.ConnectionURI.Reveal()
	opts := options.Client().ApplyURI(uri)
	if s.cfg.MaxPoolSize != nil {
		opts.SetMaxPoolSize(*s.cfg.MaxPoolSize)
	}
	if opts.AppName == nil {
		opts.SetAppName("iggy-connectors mongodb sink")
	}
	if wc := opts.WriteConcern; wc != nil && !wc.Acknowledged() {
		return sdk.FieldErrorf("connection_uri", "the write concern is unacknowledged (w=0); the sink reports a message written only after the server acknowledged it")
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return sdk.FieldErrorf("connection_uri", "%s", redact(err.Error(), uri))
	}
	octx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	db := client.Database(s.cfg.Database)
	if err := db.RunCommand(octx, bson.D{{Key: "ping", Value: 1}}).Err(); err != nil {
		_ = client.Disconnect(context.Background())
		return s.classify(fmt.Sprintf("ping database %q", s.cfg.Database), err, uri)
	}
	if s.cfg.AutoCreateCollection {
		if err := s.ensureCollection(octx, db); err != nil {
			_ = client.Disconnect(context.Background())
			return s.classify(fmt.Sprintf("create collection %q", s.cfg.Collection), err, uri)
		}
	}
	s.client, s.coll = client, db.Collection(s.cfg.Collection)
	s.stats = Stats{}
	s.log.Info("mongodb sink opened", "hosts", strings.Join(opts.Hosts, ","), "database", s.cfg.Database,
		"collection", s.cfg.Collection, "payload_format", s.layout.format.String(), "batch_size", s.cfg.BatchSize)
	return nil
}

// ensureCollection creates the collection unless it exists (another writer creating it at the
// same moment is fine).
func (s *Sink) ensureCollection(ctx context.Context, db *mongo.Database) error {
	names, err := db.ListCollectionNames(ctx, bson.D{{Key: "name", Value: s.cfg.Collection}})
	if err != nil {
		return err
	}
	if slices.Contains(names, s.cfg.Collection) {
		s.log.Debug("collection exists", "collection", s.cfg.Collection)
		return nil
	}
	if err := db.CreateCollection(ctx, s.cfg.Collection); err != nil {
		var ce mongo.CommandError
		if errors.As(err, &ce) && ce.Code == 48 { // NamespaceExists
			return nil
		}
		return err
	}
	s.log.Info("created collection", "database", s.cfg.Database, "collection", s.cfg.Collection)
	return nil
}

// Stats returns what the sink did since Open.
func (s *Sink) Stats() Stats { return s.stats }

// BorrowsBatch marks the sink as an sdk.BatchBorrower: every document is built from a copy of the
// message (payloads are copied into BSON) and written or rejected before Consume returns.
func (s *Sink) BorrowsBatch() {}

// Compile-time check.
var _ sdk.BatchBorrower = (*Sink)(nil)

// span locates one built document in Sink.buf.
type span struct {
	index      int // position in SinkBatch.Messages
	start, end int
}

// Consume writes the batch; see the package documentation for the contract.
func (s *Sink) Consume(ctx context.Context, batch *sdk.SinkBatch) (sdk.Result, error) {
	if s.coll == nil {
		return sdk.Result{}, sdk.Permanent(errors.New("mongodb sink: Consume before Open"))
	}
	start := time.Now()
	before := s.stats
	var res sdk.Result
	buf := s.buf[:0]
	spans := make([]span, 0, len(batch.Messages))
	for i := range batch.Messages {
		out, err := s.layout.appendDocument(buf, batch, &batch.Messages[i])
		if err != nil {
			res.Failures = append(res.Failures, sdk.Failure{Index: i, Err: sdk.Permanent(err)})
			s.stats.Rejected++
			continue
		}
		spans = append(spans, span{index: i, start: len(buf), end: len(out)})
		buf = out
	}
	s.buf = buf
	docs := make([]bson.Raw, len(spans))
	for i, sp := range spans {
		docs[i] = bson.Raw(buf[sp.start:sp.end:sp.end])
	}
	for lo := 0; lo < len(docs); lo += s.cfg.BatchSize {
		hi := min(lo+s.cfg.BatchSize, len(docs))
		if err := s.writeChunk(ctx, docs[lo:hi], spans[lo:hi], &res); err != nil {
			return sdk.Result{}, err
		}
	}
	slices.SortFunc(res.Failures, func(a, b sdk.Failure) int { return cmp.Compare(a.Index, b.Index) })
	lvl := slog.LevelDebug
	if s.cfg.VerboseLogging {
		lvl = slog.LevelInfo
	}
	s.log.Log(ctx, lvl, "mongodb sink wrote batch", "stream", batch.Stream, "topic", batch.Topic,
		"partition", batch.PartitionID, "messages", len(batch.Messages), "inserted", s.stats.Inserted-before.Inserted,
		"already_present", s.stats.Present-before.Present, "rejected", len(res.Failures), "elapsed", time.Since(start))
	return res, nil
}

// writeChunk writes docs (the documents of spans) with insertChunk, recording the documents the
// server rejects in res. When the server refuses the whole insertMany because of the data of some
// document (see isDataError) the documents still pending are split in halves and written
// separately, until the culprits are alone and become per-message failures. It returns nil once
// every document is written or rejected, or the error of the whole call.
func (s *Sink) writeChunk(ctx context.Context, docs []bson.Raw, spans []span, res *sdk.Result) error {
	pending, err := s.insertChunk(ctx, docs, spans, res)
	if err == nil || !isDataError(err) {
		return err
	}
	if len(pending) == 1 {
		sp := spans[pending[0]]
		res.Failures = append(res.Failures, sdk.Failure{Index: sp.index, Err: sdk.Permanent(
			fmt.Errorf("rejected by the server: %s", redact(err.Error(), s.cfg.ConnectionURI.Reveal())))})
		s.stats.Rejected++
		return nil
	}
	s.stats.Splits++
	subDocs, subSpans := make([]bson.Raw, len(pending)), make([]span, len(pending))
	for i, p := range pending {
		subDocs[i], subSpans[i] = docs[p], spans[p]
	}
	mid := len(pending) / 2
	if err := s.writeChunk(ctx, subDocs[:mid], subSpans[:mid], res); err != nil {
		return err
	}
	return s.writeChunk(ctx, subDocs[mid:], subSpans[mid:], res)
}

// insertChunk inserts docs (the documents of spans) with one unordered insertMany per attempt and
// records the documents the server rejects in res. It returns nil once every document is written
// or rejected; otherwise the positions (in docs) of the documents not yet resolved and the error
// of the whole call: a data error as the server returned it (see isDataError), retryable after
// max_retries transient failures, permanent otherwise.
func (s *Sink) insertChunk(ctx context.Context, docs []bson.Raw, spans []span, res *sdk.Result) ([]int, error) {
	attempts := max(1, s.cfg.MaxRetries)
	pending := make([]int, len(docs)) // positions in docs not yet written or rejected
	for i := range pending {
		pending[i] = i
	}
	send := make([]bson.Raw, 0, len(docs))
	opts := options.InsertMany().SetOrdered(false)
	for attempt := 1; ; attempt++ {
		send = send[:0]
		for _, p := range pending {
			send = append(send, docs[p])
		}
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		r, err := s.coll.InsertMany(actx, send, opts)
		cancel()
		s.stats.InsertOps++
		if err == nil {
			if r == nil || !r.Acknowledged {
				return pending, sdk.Permanent(errors.New("mongodb sink: the server did not acknowledge the insert (unacknowledged write concern)"))
			}
			s.stats.Inserted += int64(len(send))
			return nil, nil
		}
		var bwe mongo.BulkWriteException
		if errors.As(err, &bwe) {
			if r != nil && !r.Acknowledged {
				return pending, sdk.Permanent(errors.New("mongodb sink: the server did not acknowledge the insert (unacknowledged write concern)"))
			}
			pending = s.resolve(pending, spans, &bwe, res)
			if len(pending) == 0 {
				return nil, nil
			}
		} else if isDataError(err) {
			return pending, err
		} else if !isTransient(err) {
			return pending, sdk.Permanent(fmt.Errorf("mongodb sink: insert into %s.%s: %s", s.cfg.Database, s.cfg.Collection,
				redact(err.Error(), s.cfg.ConnectionURI.Reveal())))
		}
		msg := redact(err.Error(), s.cfg.ConnectionURI.Reveal())
		if attempt >= attempts || ctx.Err() != nil {
			return pending, sdk.Retryable(fmt.Errorf("mongodb sink: insert of %d documents into %s.%s failed %d time(s), last: %s",
				len(pending), s.cfg.Database, s.cfg.Collection, attempt, msg))
		}
		d := s.cfg.RetryDelay.D() * time.Duration(attempt)
		s.log.Warn("mongodb sink: transient error, retrying", "collection", s.cfg.Collection, "attempt", attempt,
			"max_retries", attempts, "delay", d, "unresolved", len(pending), "error", msg)
		s.stats.Retries++
		if err := s.sleep(ctx, d); err != nil {
			return pending, sdk.Retryable(err)
		}
	}
}

// resolve reads a bulk write exception for the documents pending[0..]: it records rejected
// documents in res and returns the positions still to be sent (transient write errors, and every
// unrejected document when the write concern failed).
func (s *Sink) resolve(pending []int, spans []span, bwe *mongo.BulkWriteException, res *sdk.Result) []int {
	wcFailed := bwe.WriteConcernError != nil
	for _, we := range bwe.WriteErrors {
		if we.Index < 0 || we.Index >= len(pending) {
			// an answer that does not fit what was sent: nothing of it can be trusted
			s.log.Warn("mongodb sink: write error for a document that was not sent; sending the chunk again",
				"index", we.Index, "sent", len(pending))
			return pending
		}
	}
	status := make([]int, len(pending)) // 0 inserted, 1 duplicate, 2 retry, 3 rejected
	for _, we := range bwe.WriteErrors {
		switch {
		case isDuplicateKey(we.Code):
			status[we.Index] = 1
		case isTransientCode(we.Code):
			status[we.Index] = 2
		default:
			status[we.Index] = 3
			sp := spans[pending[we.Index]]
			res.Failures = append(res.Failures, sdk.Failure{Index: sp.index, Err: sdk.Permanent(
				fmt.Errorf("rejected by the server (code %d): %s", we.Code, we.Message))})
			s.stats.Rejected++
		}
	}
	var next []int
	for i, p := range pending {
		switch {
		case status[i] == 3:
		case status[i] == 2 || wcFailed:
			next = append(next, p)
		case status[i] == 1:
			s.stats.Present++
		default:
			s.stats.Inserted++
		}
	}
	return next
}

// classify marks an error of Open: transient errors plain (the runtime opens again), others
// permanent. The connection string never appears in the message.
func (s *Sink) classify(what string, err error, uri string) error {
	e := fmt.Errorf("mongodb sink: %s: %s", what, redact(err.Error(), uri))
	if isTransient(err) {
		return sdk.Retryable(e)
	}
	return sdk.Permanent(e)
}

// Close disconnects. Safe to call when Open failed.
func (s *Sink) Close(context.Context) error {
	if s.client == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	err := s.client.Disconnect(ctx)
	s.client, s.coll = nil, nil
	s.log.Info("mongodb sink closed", "inserted", s.stats.Inserted, "already_present", s.stats.Present,
		"rejected", s.stats.Rejected, "retries", s.stats.Retries)
	if err != nil {
		return fmt.Errorf("mongodb sink: disconnect: %w", err)
	}
	return nil
}

// redact removes the connection string and its password from a message.
func redact(msg, uri string) string {
	if uri == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, uri, "<connection_uri>")
	if _, rest, ok := strings.Cut(uri, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, pw, ok := strings.Cut(rest[:at], ":"); ok && pw != "" {
				msg = strings.ReplaceAll(msg, pw, "***")
			}
		}
	}
	return msg
}
