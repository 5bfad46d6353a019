//go:build integration

package mongosink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/connectors/sinks/mongodb/mongotest"
	"github.com/iggy-go/connectors/sdk"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestJSONDocuments writes 10 000 JSON messages in batches of 1000 with batch_size 100 and 1000 and
// reads them back with pymongo: every message once, contiguous offsets, every metadata field with
// the original's BSON type, and payloads as embedded documents whose values keep their types and
// can be queried.
func TestJSONDocuments(t *testing.T) {
	for _, size := range []int{100, 1000} {
		t.Run(fmt.Sprintf("batch_size=%d", size), func(t *testing.T) {
			db := newDB(t)
			s := openSink(t, sinkConfig(t, db.URI, db.Name, map[string]any{"payload_format": "json", "batch_size": size}))
			const total, per = 10_000, 1000
			start := time.Now()
			for off := 0; off < total; off += per {
				payloads := make([][]byte, per)
				for i := range payloads {
					payloads[i] = userJSON(off + i)
				}
				consumeOK(t, s, batchOf(uint64(off), payloads...))
			}
			elapsed := time.Since(start)
			if st := s.Stats(); st.Inserted != total || st.Present != 0 || st.InsertOps != total/int64(size) {
				t.Errorf("stats %+v, want %d inserted in %d insertMany calls", st, total, total/size)
			}

			st := mongotest.ReadStats(t, db.URI, db.Name, "messages")
			g := st.Groups["orders/created/3"]
			if st.Count != total || st.DistinctIDs != total || len(st.Groups) != 1 || g.N != total || g.Min != 0 || g.Max != total-1 || !g.Contiguous {
				t.Fatalf("pymongo stats %+v, want %d documents with contiguous offsets 0..%d", st, total, total-1)
			}

			if size != 100 {
				// the documents are the same as with batch_size 100, checked below (FerretDB scans are slow)
				t.Logf("batch_size %d: %d JSON messages in %v (%.0f documents/s), counted with pymongo", size, total, elapsed, float64(total)/elapsed.Seconds())
				return
			}
			ids := make([]string, 0, 3)
			for _, off := range []uint64{0, 4999, 9999} {
				m := batchOf(off, nil).Messages[0]
				ids = append(ids, fmt.Sprintf("%q", "orders:created:3:"+decimalID(m.ID)))
			}
			docs := mongotest.ReadDocs(t, db.URI, db.Name, "messages", `{"_id": {"$in": [`+strings.Join(ids, ",")+`]}}`)
			if len(docs) != 3 {
				t.Fatalf("%d documents for n in (0, 4999, 9999)", len(docs))
			}
			for _, d := range docs {
				n := mongotest.Value(t, mongotest.Value(t, d, "payload").(bson.D), "n").(int64)
				off := uint64(n)
				base := batchOf(off, nil)
				m := base.Messages[0]
				if got := mongotest.Keys(d); got != "_id,iggy_offset,iggy_timestamp,iggy_stream,iggy_topic,iggy_partition_id,iggy_checksum,iggy_origin_timestamp,payload" {
					t.Errorf("n=%d fields %s", n, got)
				}
				want := map[string]any{
					"_id":                   "orders:created:3:" + decimalID(m.ID),
					"iggy_offset":           int64(off),
					"iggy_timestamp":        bson.DateTime(int64(m.Timestamp / 1000)),
					"iggy_stream":           "orders",
					"iggy_topic":            "created",
					"iggy_partition_id":     int32(3),
					"iggy_checksum":         int64(m.Checksum),
					"iggy_origin_timestamp": bson.DateTime(int64(m.OriginTimestamp / 1000)),
				}
				for k, v := range want {
					if got := mongotest.Value(t, d, k); got != v {
						t.Errorf("n=%d %s = %#v (%T), want %#v (%T)", n, k, got, got, v, v)
					}
				}
				p := mongotest.Value(t, d, "payload").(bson.D)
				if got := mongotest.Keys(p); got != "n,user,tags,items,active,note" {
					t.Errorf("n=%d payload keys %s (order of the JSON object)", n, got)
				}
				user := mongotest.Value(t, p, "user").(bson.D)
				if mongotest.Value(t, user, "age") != int64(n%100) || mongotest.Value(t, user, "score") != float64(n)+0.5 ||
					mongotest.Value(t, user, "name") != fmt.Sprintf("user-%d", n) {
					t.Errorf("n=%d user %#v", n, user)
				}
				tags := mongotest.Value(t, p, "tags").(bson.A)
				items := mongotest.Value(t, p, "items").(bson.A)
				if len(tags) != 2 || tags[0] != "a" || len(items) != 1 || mongotest.Value(t, items[0].(bson.D), "qty") != int64(n%3+1) {
					t.Errorf("n=%d arrays tags %#v items %#v", n, tags, items)
				}
				if mongotest.Value(t, p, "active") != (n%2 == 0) || mongotest.Value(t, p, "note") != nil {
					t.Errorf("n=%d active/note %#v", n, p)
				}
			}
			// the payload is queryable: nested numbers compare as numbers, arrays of documents match by field
			if n := mongotest.ReadCount(t, db.URI, db.Name, "messages", `{"payload.user.age": {"$gte": 50}, "payload.items.qty": {"$gte": 1}}`); n != total/2 {
				t.Errorf("payload.user.age >= 50 and payload.items.qty >= 1: %d documents, want %d", n, total/2)
			}
			t.Logf("batch_size %d: %d JSON messages in %v (%.0f documents/s), read back with pymongo", size, total, elapsed, float64(total)/elapsed.Seconds())
		})
	}
}

// decimalID is the message id as a decimal u128: hi·2^64 + lo.
func decimalID(id abi.ID) string {
	hi, lo := id.Uint64s()
	v := new(big.Int).Lsh(new(big.Int).SetUint64(hi), 64)
	return v.Add(v, new(big.Int).SetUint64(lo)).String()
}

// TestBinaryAndTextPayloads writes random bytes with payload_format binary and text with
// payload_format string (and its alias text); pymongo reads the bytes back exactly as BSON Binary
// of subtype 0 and the text as strings.
func TestBinaryAndTextPayloads(t *testing.T) {
	db := newDB(t)
	rng := rand.New(rand.NewPCG(1, 2))
	raw := make([][]byte, 500)
	for i := range raw {
		raw[i] = make([]byte, rng.IntN(300))
		for j := range raw[i] {
			raw[i][j] = byte(rng.UintN(256))
		}
	}
	raw[0] = []byte{}            // empty
	raw[1] = []byte{0, 0, 0xff}  // NUL and non-UTF-8 bytes
	raw[2] = []byte(`{"a":1}`)   // JSON, still stored as bytes
	texts := make([][]byte, 300) // text with multi-byte characters, quotes, tabs and newlines (no NUL: FerretDB cannot store it)
	for i := range texts {
		texts[i] = fmt.Appendf(nil, "line %d: żółć \"quoted\" 🚀 tab\tend\n%s", i, strings.Repeat("x", i%50))
	}

	bin := openSink(t, sinkConfig(t, db.URI, db.Name, map[string]any{"collection": "binary", "batch_size": 64}))
	consumeOK(t, bin, batchOf(0, raw...))
	for _, format := range []string{"string", "text"} {
		s := openSink(t, sinkConfig(t, db.URI, db.Name, map[string]any{"collection": format, "payload_format": format}))
		consumeOK(t, s, batchOf(0, texts...))
	}

	docs := mongotest.ReadDocs(t, db.URI, db.Name, "binary", "")
	if len(docs) != len(raw) {
		t.Fatalf("%d binary documents, want %d", len(docs), len(raw))
	}
	for _, d := range docs {
		off := mongotest.Value(t, d, "iggy_offset").(int64)
		b, ok := mongotest.Value(t, d, "payload").(bson.Binary)
		if !ok || b.Subtype != 0 || !bytes.Equal(b.Data, raw[off]) {
			t.Errorf("offset %d: payload %#v, want Binary subtype 0 with % x", off, mongotest.Value(t, d, "payload"), raw[off])
		}
	}
	for _, coll := range []string{"string", "text"} {
		docs := mongotest.ReadDocs(t, db.URI, db.Name, coll, "")
		if len(docs) != len(texts) {
			t.Fatalf("%s: %d documents, want %d", coll, len(docs), len(texts))
		}
		for _, d := range docs {
			off := mongotest.Value(t, d, "iggy_offset").(int64)
			if got := mongotest.Value(t, d, "payload"); got != string(texts[off]) {
				t.Errorf("%s offset %d: payload %#v, want %q", coll, off, got, texts[off])
			}
		}
	}
}

// TestPreseededCollisionAndReplay seeds a document with the _id of one message of a batch: the
// batch is written without error or failure, the seeded document is left as it was and every other
// message lands. A replay of the whole batch changes nothing.
func TestPreseededCollisionAndReplay(t *testing.T) {
	db := newDB(t)
	payloads := make([][]byte, 20)
	for i := range payloads {
		payloads[i] = userJSON(i)
	}
	b := batchOf(0, payloads...)
	seeded := DocumentID(b.Stream, b.Topic, b.PartitionID, b.Messages[5].ID, b.Messages[5].Offset)
	ctx := context.Background()
	if _, err := db.DB.Collection("messages").InsertOne(ctx, bson.D{{Key: "_id", Value: seeded}, {Key: "seeded", Value: true}}); err != nil {
		t.Fatal(err)
	}
	s := openSink(t, sinkConfig(t, db.URI, db.Name, map[string]any{"payload_format": "json", "batch_size": 7}))
	consumeOK(t, s, b)
	if st := s.Stats(); st.Inserted != 19 || st.Present != 1 || st.Rejected != 0 {
		t.Fatalf("stats %+v, want 19 inserted, 1 already present", st)
	}
	consumeOK(t, s, b) // replay
	if st := s.Stats(); st.Inserted != 19 || st.Present != 21 {
		t.Fatalf("stats after the replay %+v, want 19 inserted, 21 already present", st)
	}
	st := mongotest.ReadStats(t, db.URI, db.Name, "messages")
	if st.Count != 20 || st.DistinctIDs != 20 {
		t.Fatalf("pymongo: %d documents, %d distinct ids, want 20", st.Count, st.DistinctIDs)
	}
	docs := mongotest.ReadDocs(t, db.URI, db.Name, "messages", fmt.Sprintf(`{"_id": %q}`, seeded))
	if len(docs) != 1 || mongotest.Keys(docs[0]) != "_id,seeded" {
		t.Fatalf("the seeded document was changed: %v", docs)
	}
}

// TestRejectedDocuments mixes messages the server refuses (FerretDB v1 refuses nested arrays, keys
// with '.' and keys starting with '$' one by one with BadValue, code 2, and a string holding NUL
// with an error of the whole insert, which the sink narrows down by splitting the chunk) and
// messages the sink refuses itself
// (invalid UTF-8, a document over 16 MiB, which FerretDB would store) into valid ones: exactly the
// bad ones come back as permanent per-message failures naming the reason, every other message
// lands, and a replay reports the same failures.
func TestRejectedDocuments(t *testing.T) {
	db := newDB(t)
	bad := map[int]string{}
	payloads := make([][]byte, 60)
	for i := range payloads {
		switch {
		case i%20 == 5:
			payloads[i], bad[i] = fmt.Appendf(nil, `{"n":%d,"matrix":[[1,2],[3,4]]}`, i), "rejected by the server (code 2)"
		case i%20 == 11:
			payloads[i], bad[i] = fmt.Appendf(nil, `{"n":%d,"a.b":1}`, i), "rejected by the server (code 2)"
		case i == 30:
			payloads[i], bad[i] = fmt.Appendf(nil, `{"n":%d,"s":"NUL \u0000 inside"}`, i), "SQLSTATE 22P05"
		case i == 42:
			payloads[i], bad[i] = fmt.Appendf(nil, `{"n":%d,"$set":{"x":1}}`, i), "rejected by the server (code 2)"
		case i == 50:
			payloads[i], bad[i] = []byte("{\"n\":50,\"s\":\"\xff\"}"), "not valid UTF-8"
		case i == 51:
			payloads[i], bad[i] = fmt.Appendf(nil, `{"n":51,"big":"%s"}`, strings.Repeat("x", MaxDocumentSize)), "over MongoDB's limit"
		default:
			payloads[i] = userJSON(i)
		}
	}
	s := openSink(t, sinkConfig(t, db.URI, db.Name, map[string]any{"payload_format": "json", "batch_size": 25}))
	for round := 0; round < 2; round++ {
		res, err := s.Consume(context.Background(), batchOf(0, payloads...))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Failures) != len(bad) {
			t.Errorf("round %d: %d failures, want %d: %v", round, len(res.Failures), len(bad), res.Failures)
		}
		for _, f := range res.Failures {
			want, ok := bad[f.Index]
			if !ok || !strings.Contains(f.Err.Error(), want) || sdk.IsRetryable(f.Err, true) {
				t.Errorf("round %d: failure %d: %v (retryable %v), want a permanent error with %q", round, f.Index, f.Err, sdk.IsRetryable(f.Err, true), want)
			}
		}
	}
	st := mongotest.ReadStats(t, db.URI, db.Name, "messages")
	if want := int64(len(payloads) - len(bad)); st.Count != want || st.DistinctIDs != want {
		t.Fatalf("pymongo: %d documents (%d distinct), want %d", st.Count, st.DistinctIDs, want)
	}
	for _, d := range mongotest.ReadDocs(t, db.URI, db.Name, "messages", "") {
		if off := mongotest.Value(t, d, "iggy_offset").(int64); bad[int(off)] != "" {
			t.Errorf("rejected message %d was stored", off)
		}
	}
	t.Logf("%d messages: %d written, %d rejected (%v)", len(payloads), st.Count, len(bad), bad)
}

// TestServerOutage kills a private FerretDB under the sink: a batch then fails with a retryable
// error after max_retries attempts (so the runtime backs off and offers it again); once the server
// is back the same batch and the next ones land; nothing is lost and nothing is written twice.
func TestServerOutage(t *testing.T) {
	srv := mongotest.StartServer(t)
	db := mongotest.NewDB(t, srv.URI, "outage_")
	uri := srv.URI + "?serverSelectionTimeoutMS=500&connectTimeoutMS=500"
	s := openSink(t, sinkConfig(t, uri, db.Name, map[string]any{"payload_format": "json", "max_retries": 3, "retry_delay": "100ms"}))
	batch := func(n int) *sdk.SinkBatch {
		p := make([][]byte, 100)
		for i := range p {
			p[i] = userJSON(n*100 + i)
		}
		return batchOf(uint64(n*100), p...)
	}
	consumeOK(t, s, batch(0))

	srv.Stop()
	start := time.Now()
	_, err := s.Consume(context.Background(), batch(1))
	if err == nil || !sdk.IsRetryable(err, false) {
		t.Fatalf("consume with the server down: %v, want a retryable error", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the failing consume took %v", d)
	}
	t.Logf("server down: %v after %v", err, time.Since(start).Round(time.Millisecond))

	// back: the batch the runtime offers again lands, and so do later ones
	srv.Start()
	consumeOK(t, s, batch(1))
	consumeOK(t, s, batch(2))
	st := mongotest.ReadStats(t, srv.URI, db.Name, "messages")
	if st.Count != 300 || st.DistinctIDs != 300 || !st.Groups["orders/created/3"].Contiguous {
		t.Fatalf("after the outage: %+v, want 300 documents once each", st)
	}
}

// TestServerComesBackDuringRetries stops the server, starts Consume, and starts the server again
// 1.5 s later: the sink's own retries carry the batch through.
func TestServerComesBackDuringRetries(t *testing.T) {
	srv := mongotest.StartServer(t)
	db := mongotest.NewDB(t, srv.URI, "comeback_")
	uri := srv.URI + "?serverSelectionTimeoutMS=300&connectTimeoutMS=300"
	s := openSink(t, sinkConfig(t, uri, db.Name, map[string]any{"max_retries": 50, "retry_delay": "50ms"}))
	consumeOK(t, s, batchOf(0, []byte("a"), []byte("b")))
	srv.Stop()
	restarted := make(chan struct{})
	go func() {
		time.Sleep(1500 * time.Millisecond)
		close(restarted)
	}()
	errc := make(chan error, 1)
	go func() {
		res, err := s.Consume(context.Background(), batchOf(2, []byte("c"), []byte("d"), []byte("e")))
		if err == nil && len(res.Failures) > 0 {
			err = fmt.Errorf("failures %v", res.Failures)
		}
		errc <- err
	}()
	<-restarted
	srv.Start()
	if err := <-errc; err != nil {
		t.Fatalf("consume across the restart: %v", err)
	}
	if s.Stats().Retries == 0 {
		t.Fatal("no retry was made although the server was down")
	}
	if st := mongotest.ReadStats(t, srv.URI, db.Name, "messages"); st.Count != 5 || st.DistinctIDs != 5 {
		t.Fatalf("%+v, want 5 documents", st)
	}
	t.Logf("retries while the server was down: %d", s.Stats().Retries)
}

// TestOpen covers Open: an unreachable server is a transient error without the password in it, a
// w=0 connection string is refused naming connection_uri, auto_create_collection creates the
// collection, and the metadata options leave their fields out.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	cfg := sinkConfig(t, "mongodb://bob:hunter2@127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300", "iggy", nil)
	err := newSink(cfg, nil).Open(ctx)
	var fe *sdk.FieldError
	if err == nil || errors.As(err, &fe) || !sdk.IsRetryable(err, true) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("unreachable server: %v, want a transient error without the password", err)
	}

	cfg = &Config{ConnectionURI: sdk.Secret(mongotest.URI(t) + "?w=0"), Database: "x", Collection: "y", BatchSize: 1}
	if err := newSink(cfg, nil).Open(ctx); !errors.As(err, &fe) || fe.Field != "connection_uri" || !strings.Contains(err.Error(), "unacknowledged") {
		t.Fatalf("w=0: %v, want a field error on connection_uri", err)
	}

	db := newDB(t)
	openSink(t, sinkConfig(t, db.URI, db.Name, map[string]any{"collection": "made_at_open", "auto_create_collection": true}))
	if got := string(mongotest.Read(t, db.URI, db.Name, "-", "collections")); !strings.Contains(got, `"made_at_open"`) {
		t.Fatalf("collections after open: %s", got)
	}

	s := openSink(t, sinkConfig(t, db.URI, db.Name, map[string]any{"collection": "bare", "include_metadata": false,
		"include_checksum": false, "include_origin_timestamp": false, "payload_format": "string"}))
	consumeOK(t, s, batchOf(0, []byte("only payload")))
	docs := mongotest.ReadDocs(t, db.URI, db.Name, "bare", "")
	if len(docs) != 1 || mongotest.Keys(docs[0]) != "_id,payload" || mongotest.Value(t, docs[0], "payload") != "only payload" {
		t.Fatalf("documents without metadata: %v", docs)
	}
}

// TestMessagesWithoutID writes messages whose id is 0 (producers that set none; Iggy stores ids
// verbatim): each gets an offset-based _id, so all land once, and a replay adds nothing.
func TestMessagesWithoutID(t *testing.T) {
	db := newDB(t)
	s := openSink(t, sinkConfig(t, db.URI, db.Name, map[string]any{"payload_format": "string"}))
	b := batchOf(10, []byte("a"), []byte("b"), []byte("c"), []byte("d"))
	for i := range b.Messages {
		b.Messages[i].ID = abi.ID{}
	}
	consumeOK(t, s, b)
	consumeOK(t, s, b)
	docs := mongotest.ReadDocs(t, db.URI, db.Name, "messages", "")
	if len(docs) != 4 || mongotest.Value(t, docs[0], "_id") != "orders:created:3:offset:10" || mongotest.Value(t, docs[3], "payload") != "d" {
		t.Fatalf("documents %v, want 4 with offset-based ids", docs)
	}
}
