//go:build integration

package essink

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"
	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/connectors/internal/esconn/estest"
	"github.com/iggy-go/connectors/sdk"
)

// benchDoc is a ~500-byte JSON document.
func benchDoc(i int) []byte {
	return []byte(fmt.Sprintf(`{"id":%d,"customer":{"name":"customer number %d","email":"customer%d@example.com","address":{"street":"%d Long Street Name","city":"Springfield","zip":"%05d","country":"NL"}},`+
		`"order":{"sku":"SKU-%08d","quantity":%d,"price":%d.99,"currency":"EUR","notes":"please deliver between nine and five, ring twice, leave with neighbour if absent"},`+
		`"tags":["alpha","beta","gamma","delta"],"created":"2026-12-07T12:34:56.789Z","flags":{"paid":true,"shipped":false,"gift":%t}}`,
		i, i, i, i%999, i%99999, i, i%10+1, i%500, i%3 == 0))
}

// BenchmarkSinkVsBulkIndexer indexes 100,000 ~500-byte JSON documents into fresh indexes of the
// Elasticsearch node, first with a plain esutil.BulkIndexer (its defaults: NumCPU workers, 5 MB
// flushes), then with the sink's Consume in batches of 10,000 messages (batch_size 5,000,
// max_concurrent_requests 2), and reports both rates and their ratio (sink / baseline).
//
//	go test -tags integration -run '^$' -bench SinkVsBulkIndexer -benchtime 1x ./essink/
func BenchmarkSinkVsBulkIndexer(b *testing.B) {
	srv := estest.Servers(b)[0]
	const total = 100000
	docs := make([][]byte, total)
	size := 0
	for i := range docs {
		docs[i] = benchDoc(i)
		size += len(docs[i])
	}
	b.Logf("%d documents, %d bytes on average", total, size/total)
	settings := `{"settings":{"number_of_replicas":0,"number_of_shards":1}}`
	for n := 0; n < b.N; n++ {
		// baseline
		base := estest.Name("bench-base")
		srv.Must(b, "PUT", "/"+base, settings, nil)
		es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{srv.URL}})
		if err != nil {
			b.Fatal(err)
		}
		bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{Client: es, Index: base})
		if err != nil {
			b.Fatal(err)
		}
		var failed atomic.Int64
		start := time.Now()
		for i, d := range docs {
			err := bi.Add(context.Background(), esutil.BulkIndexerItem{Action: "index", DocumentID: fmt.Sprintf("s-t-1-%d", i), Body: bytes.NewReader(d),
				OnFailure: func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem, error) { failed.Add(1) }})
			if err != nil {
				b.Fatal(err)
			}
		}
		if err := bi.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		baseDur := time.Since(start)
		if failed.Load() > 0 || srv.Count(b, base) != total {
			b.Fatalf("baseline: %d failed, %d indexed", failed.Load(), srv.Count(b, base))
		}
		srv.Delete(b, base)

		// sink
		idx := estest.Name("bench-sink")
		cfg, err := sdk.DecodeConfig[Config]([]byte(fmt.Sprintf(`{"url":%q,"index":%q,"batch_size":5000,"max_concurrent_requests":2,"index_mapping":%q}`, srv.URL, idx, settings)))
		if err != nil {
			b.Fatal(err)
		}
		s := newSink(cfg, nil)
		if err := s.Open(context.Background()); err != nil {
			b.Fatal(err)
		}
		batches := make([]*sdk.SinkBatch, 0, total/10000)
		for lo := 0; lo < total; lo += 10000 {
			bt := &sdk.SinkBatch{Stream: "s", Topic: "t", PartitionID: 1, Schema: abi.SchemaJSON}
			for i := lo; i < lo+10000; i++ {
				bt.Messages = append(bt.Messages, abi.Message{Offset: uint64(i), Timestamp: uint64(time.Now().UnixMicro()), Payload: docs[i]})
			}
			batches = append(batches, bt)
		}
		start = time.Now()
		for _, bt := range batches {
			res, err := s.Consume(context.Background(), bt)
			if err != nil || len(res.Failures) > 0 {
				b.Fatalf("consume: %v %v", err, res.Failures)
			}
		}
		sinkDur := time.Since(start)
		_ = s.Close(context.Background())
		if c := srv.Count(b, idx); c != total {
			b.Fatalf("sink: %d indexed", c)
		}
		srv.Delete(b, idx)
		baseRate, sinkRate := total/baseDur.Seconds(), total/sinkDur.Seconds()
		b.ReportMetric(baseRate, "baseline-docs/s")
		b.ReportMetric(sinkRate, "sink-docs/s")
		b.ReportMetric(sinkRate/baseRate, "ratio")
		b.Logf("%s: BulkIndexer %.0f docs/s (%v), sink %.0f docs/s (%v), ratio %.2f", srv.Flavor, baseRate, baseDur.Round(time.Millisecond), sinkRate, sinkDur.Round(time.Millisecond), sinkRate/baseRate)
	}
}
