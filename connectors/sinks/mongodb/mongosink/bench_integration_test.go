//go:build integration

package mongosink

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/iggy-go/connectors/sdk"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// BenchmarkSinkVsInsertMany writes 100k messages of ~200-byte JSON through the sink (Consume with
// batches of 1000 messages, the runtime's default batch_length, batch_size 1000, payload_format
// json) and, in the same run, the same documents with a plain mongo-driver InsertMany (unordered,
// 1000 per call) into another collection; the baseline's documents are built before its clock
// starts, the sink converts inside its time. It reports both rates and their ratio (sink /
// InsertMany; goal ≥ 0.8), plus the rate of replaying everything (every document a duplicate).
//
//	cd connectors/sinks/mongodb && go test -tags integration -run '^$' -bench SinkVsInsertMany -benchtime 1x ./mongosink
func BenchmarkSinkVsInsertMany(b *testing.B) {
	const total, perBatch = 100_000, 1000
	db := newDB(b)
	ctx := context.Background()
	s := newSink(sinkConfig(b, db.URI, db.Name, map[string]any{"collection": "sink", "payload_format": "json", "batch_size": perBatch}), nil)
	if err := s.Open(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close(ctx) })

	payloads := make([][]byte, perBatch)
	for i := range payloads {
		payloads[i] = fmt.Appendf(nil, `{"order_id":%d,"customer":"customer-%06d","items":[{"sku":"SKU-%05d","qty":%d,"price":%d.99}],"status":"created","note":"benchmark payload ~200 bytes"}`,
			i, i, i%9973, i%7+1, i%500)
	}
	batchAt := func(off int) *sdk.SinkBatch { return batchOf(uint64(off), payloads...) }
	// the baseline's documents: the same fields and values, built with the driver's bson.D
	plain := make([][]any, 0, total/perBatch)
	for off := 0; off < total; off += perBatch {
		bt := batchAt(off)
		docs := make([]any, len(bt.Messages))
		for i, m := range bt.Messages {
			var payload bson.D
			if err := bson.UnmarshalExtJSON(m.Payload, false, &payload); err != nil {
				b.Fatal(err)
			}
			docs[i] = bson.D{{Key: "_id", Value: DocumentID(bt.Stream, bt.Topic, bt.PartitionID, m.ID, m.Offset)},
				{Key: "iggy_offset", Value: int64(m.Offset)}, {Key: "iggy_timestamp", Value: bson.DateTime(m.Timestamp / 1000)},
				{Key: "iggy_stream", Value: bt.Stream}, {Key: "iggy_topic", Value: bt.Topic}, {Key: "iggy_partition_id", Value: int32(bt.PartitionID)},
				{Key: "iggy_checksum", Value: int64(m.Checksum)}, {Key: "iggy_origin_timestamp", Value: bson.DateTime(m.OriginTimestamp / 1000)},
				{Key: "payload", Value: payload}}
		}
		plain = append(plain, docs)
	}
	base := db.DB.Collection("plain")

	var sinkDur, plainDur, replayDur time.Duration
	runSink := func() {
		start := time.Now()
		for off := 0; off < total; off += perBatch {
			res, err := s.Consume(ctx, batchAt(off))
			if err != nil || len(res.Failures) != 0 {
				b.Fatal(err, res.Failures)
			}
		}
		sinkDur += time.Since(start)
		start = time.Now()
		for off := 0; off < total; off += perBatch { // a replay of everything: all duplicates
			if _, err := s.Consume(ctx, batchAt(off)); err != nil {
				b.Fatal(err)
			}
		}
		replayDur += time.Since(start)
	}
	runPlain := func() {
		start := time.Now()
		for _, docs := range plain {
			r, err := base.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
			if err != nil || len(r.InsertedIDs) != len(docs) {
				b.Fatal(err)
			}
		}
		plainDur += time.Since(start)
	}
	i := 0
	for b.Loop() {
		for _, c := range []string{"sink", "plain"} {
			if err := db.DB.Collection(c).Drop(ctx); err != nil {
				b.Fatal(err)
			}
		}
		if i%2 == 0 { // alternate the order so neither side always runs first
			runSink()
			runPlain()
		} else {
			runPlain()
			runSink()
		}
		i++
		// (counting 100k documents in FerretDB takes longer than writing them: trust the acknowledgements)
		if st := s.Stats(); st.Inserted != int64(total*i) || st.Present != int64(total*i) {
			b.Fatalf("sink stats %+v, want %d inserted and %d already present (the replay)", st, total*i, total*i)
		}
	}
	sinkRate := float64(total*b.N) / sinkDur.Seconds()
	plainRate := float64(total*b.N) / plainDur.Seconds()
	b.ReportMetric(sinkRate, "sink_docs/s")
	b.ReportMetric(plainRate, "insertmany_docs/s")
	b.ReportMetric(sinkRate/plainRate, "ratio")
	b.ReportMetric(float64(total*b.N)/replayDur.Seconds(), "replay_docs/s")
	b.ReportMetric(0, "ns/op")
}
