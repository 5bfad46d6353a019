//go:build integration

package essink

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"
	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/connectors/internal/esconn"
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

// BenchmarkSinkVsBulkIndexer indexes 100,000 ~500-byte JSON payloads into fresh indexes of the
// Elasticsearch node and of the OpenSearch node (after a warm-up of 20,000 documents), alternately
// with a plain esutil.BulkIndexer (its defaults: NumCPU workers, 5 MB flushes; fed the same final
// documents, metadata included) and with the sink's Consume in batches of 10,000 messages
// (batch_size 5,000, max_concurrent_requests 2), and reports the best rate of each side and their
// ratio (sink / baseline).
//
//	go test -tags integration -run '^$' -bench SinkVsBulkIndexer -benchtime 1x ./essink/
func BenchmarkSinkVsBulkIndexer(b *testing.B) {
	for _, srv := range estest.Servers(b) {
		b.Run(srv.Flavor, func(b *testing.B) { benchSinkVsBulkIndexer(b, srv) })
	}
}

func benchSinkVsBulkIndexer(b *testing.B, srv estest.Server) {
	const total = 100000
	docs := make([][]byte, total)
	size := 0
	for i := range docs {
		docs[i] = benchDoc(i)
		size += len(docs[i])
	}
	b.Logf("%d documents, %d bytes on average", total, size/total)
	settings := `{"settings":{"number_of_replicas":0,"number_of_shards":1}}`
	// warm-up (JIT, caches) so that neither side pays for it
	warm := estest.Name("bench-warm")
	var nd strings.Builder
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&nd, "{\"index\":{\"_index\":%q}}\n%s\n", warm, docs[i])
		if (i+1)%5000 == 0 {
			srv.Bulk(b, nd.String())
			nd.Reset()
		}
	}
	srv.Delete(b, warm)
	// The baseline indexes the very documents the sink writes (payload plus the _iggy_* fields), so
	// the ratio measures the connector, not the cost of indexing five more fields.
	full := make([][]byte, len(docs))
	for i, d := range docs {
		var err error
		m := abi.Message{Offset: uint64(i), Timestamp: uint64(time.Now().UnixMicro()), Payload: d}
		if full[i], err = appendDocument(nil, abi.SchemaJSON, meta{stream: "s", topic: "t", partition: 1}, &m); err != nil {
			b.Fatal(err)
		}
	}
	var baseBest, sinkBest time.Duration
	for n := 0; n < b.N*2; n++ { // alternating rounds; the best of each side counts
		if d := runBulkIndexer(b, srv, full, settings); baseBest == 0 || d < baseBest {
			baseBest = d
		}
		if d := runSink(b, srv, docs, settings); sinkBest == 0 || d < sinkBest {
			sinkBest = d
		}
	}
	baseRate, sinkRate := float64(len(docs))/baseBest.Seconds(), float64(len(docs))/sinkBest.Seconds()
	b.ReportMetric(baseRate, "baseline-docs/s")
	b.ReportMetric(sinkRate, "sink-docs/s")
	b.ReportMetric(sinkRate/baseRate, "ratio")
	b.Logf("%s: BulkIndexer %.0f docs/s (%v), sink %.0f docs/s (%v), ratio %.2f (best of %d rounds each)", srv.Flavor, baseRate,
		baseBest.Round(time.Millisecond), sinkRate, sinkBest.Round(time.Millisecond), sinkRate/baseRate, 2*b.N)
}

// runBulkIndexer indexes docs with a plain esutil.BulkIndexer (defaults: NumCPU workers, 5 MB
// flushes) and returns the time from the first Add to Close. For OpenSearch the client needs the
// product-header transport of esconn (the only difference).
func runBulkIndexer(b *testing.B, srv estest.Server, docs [][]byte, settings string) time.Duration {
	base := estest.Name("bench-base")
	srv.Must(b, "PUT", "/"+base, settings, nil)
	defer srv.Delete(b, base)
	var es *elasticsearch.Client
	if srv.Flavor == "opensearch" {
		c, err := esconn.New(context.Background(), esconn.Options{URL: srv.URL, Flavor: "opensearch"}, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		es = c.ES
	} else {
		var err error
		if es, err = elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{srv.URL}}); err != nil {
			b.Fatal(err)
		}
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
	d := time.Since(start)
	if n := srv.Count(b, base); failed.Load() > 0 || n != len(docs) {
		b.Fatalf("baseline: %d failed, %d indexed", failed.Load(), n)
	}
	return d
}

// runSink indexes docs with the sink's Consume in batches of 10,000 messages (batch_size 5,000,
// max_concurrent_requests 2) and returns the time of the Consume calls.
func runSink(b *testing.B, srv estest.Server, docs [][]byte, settings string) time.Duration {
	idx := estest.Name("bench-sink")
	defer srv.Delete(b, idx)
	cfg, err := sdk.DecodeConfig[Config]([]byte(fmt.Sprintf(`{"url":%q,"index":%q,"batch_size":5000,"max_concurrent_requests":2,"index_mapping":%q}`, srv.URL, idx, settings)))
	if err != nil {
		b.Fatal(err)
	}
	s := newSink(cfg, nil)
	if err := s.Open(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	var batches []*sdk.SinkBatch
	for lo := 0; lo < len(docs); lo += 10000 {
		bt := &sdk.SinkBatch{Stream: "s", Topic: "t", PartitionID: 1, Schema: abi.SchemaJSON}
		for i := lo; i < min(lo+10000, len(docs)); i++ {
			bt.Messages = append(bt.Messages, abi.Message{Offset: uint64(i), Timestamp: uint64(time.Now().UnixMicro()), Payload: docs[i]})
		}
		batches = append(batches, bt)
	}
	start := time.Now()
	for _, bt := range batches {
		res, err := s.Consume(context.Background(), bt)
		if err != nil || len(res.Failures) > 0 {
			b.Fatalf("consume: %v %v", err, res.Failures)
		}
	}
	d := time.Since(start)
	if c := srv.Count(b, idx); c != len(docs) {
		b.Fatalf("sink: %d indexed", c)
	}
	return d
}
