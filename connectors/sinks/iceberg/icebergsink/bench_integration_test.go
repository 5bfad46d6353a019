//go:build integration

package icebergsink

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/iggy-go/connectors/sdk"
)

func benchSchema() *iceberg.Schema {
	return iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "user", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 3, Name: "event", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 4, Name: "amount", Type: iceberg.PrimitiveTypes.Float64},
		iceberg.NestedField{ID: 5, Name: "qty", Type: iceberg.PrimitiveTypes.Int32},
		iceberg.NestedField{ID: 6, Name: "ts", Type: iceberg.PrimitiveTypes.TimestampTz},
		iceberg.NestedField{ID: 7, Name: "country", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 8, Name: "device", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 9, Name: "session", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 10, Name: "url", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 11, Name: "ok", Type: iceberg.PrimitiveTypes.Bool},
	)
}

type benchRow struct {
	id                                         int64
	user, event, country, device, session, url string
	amount                                     float64
	qty                                        int32
	ts                                         time.Time
	ok                                         bool
}

func benchRowOf(i int) benchRow {
	return benchRow{id: int64(i), user: fmt.Sprintf("user-%06d", i%50000), event: []string{"click", "view", "purchase", "scroll"}[i%4],
		amount: float64(i%10000) / 7, qty: int32(i % 17), ts: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
		country: []string{"DE", "PL", "US", "JP", "BR"}[i%5], device: "device-model-" + fmt.Sprint(i%300),
		session: fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", i, i%65536, 16384+i%4096, 32768+i%16384, i*7919),
		url:     fmt.Sprintf("https://shop.example.com/catalog/category-%d/product-%d?ref=campaign-%d", i%40, i, i%13), ok: i%9 != 0}
}

func (r benchRow) json() []byte {
	return []byte(fmt.Sprintf(`{"id":%d,"user":%q,"event":%q,"amount":%g,"qty":%d,"ts":%q,"country":%q,"device":%q,"session":%q,"url":%q,"ok":%t}`,
		r.id, r.user, r.event, r.amount, r.qty, r.ts.Format(time.RFC3339Nano), r.country, r.device, r.session, r.url, r.ok))
}

// BenchmarkSinkVsPlainAppend: 100,000 JSON messages (~300 bytes) through the sink into a SQL-catalog
// table on local files, in batches of 5,000 (one commit each), against a plain iceberg-go program
// appending the same rows, already built as Arrow records, with the same commits, in the same run.
// Reports rows/s of both and their ratio (sink / plain).
func BenchmarkSinkVsPlainAppend(b *testing.B) {
	const total, per = 100_000, 5_000
	rows := make([]benchRow, total)
	payloadBytes := 0
	for i := range rows {
		rows[i] = benchRowOf(i)
		payloadBytes += len(rows[i].json())
	}
	var sinkRate, plainRate float64
	for n := 0; n < b.N; n++ {
		e := sqlEnv(b)
		sinkTbl := e.createTable(b, "bench_sink", benchSchema(), nil)
		e.createTable(b, "bench_plain", benchSchema(), nil)

		// Plain iceberg-go: Arrow records prepared up front (not timed).
		tbl, err := e.cat.LoadTable(context.Background(), table.Identifier{e.ns, "bench_plain"})
		if err != nil {
			b.Fatal(err)
		}
		asch, err := table.SchemaToArrowSchema(tbl.Schema(), nil, true, false)
		if err != nil {
			b.Fatal(err)
		}
		var recs []arrow.RecordBatch
		for from := 0; from < total; from += per {
			recs = append(recs, arrowRecord(asch, rows[from:from+per]))
		}
		// The sink: JSON payloads prepared up front (not timed).
		cfg := e.config(b, map[string]any{"tables": []string{sinkTbl}})
		s, err := New(cfg, sdk.Env{})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Open(context.Background()); err != nil {
			b.Fatal(err)
		}
		var batches []*sdk.SinkBatch
		for from := 0; from < total; from += per {
			batches = append(batches, batchOf("bench", "events", 1, from, per, func(i int) []byte { return rows[i].json() }))
		}
		// Interleaved, batch by batch, so that both see the same machine load; the garbage of the
		// preparation is collected first.
		runtime.GC()
		var plainTime, sinkTime time.Duration
		for k, rec := range recs {
			start := time.Now()
			rdr, _ := array.NewRecordReader(asch, []arrow.RecordBatch{rec})
			txn := tbl.NewTransaction()
			if err := txn.Append(context.Background(), rdr, nil); err != nil {
				b.Fatal(err)
			}
			if tbl, err = txn.Commit(context.Background()); err != nil {
				b.Fatal(err)
			}
			plainTime += time.Since(start)
			rdr.Release()
			rec.Release()

			start = time.Now()
			res, err := s.Consume(context.Background(), batches[k])
			if err != nil || len(res.Failures) > 0 {
				b.Fatalf("consume: %v %v", err, res.Failures)
			}
			sinkTime += time.Since(start)
		}
		plainRate = total / plainTime.Seconds()
		sinkRate = total / sinkTime.Seconds()
		_ = s.Close(context.Background())
	}
	b.ReportMetric(sinkRate, "sink_rows/s")
	b.ReportMetric(plainRate, "plain_rows/s")
	b.ReportMetric(sinkRate/plainRate, "ratio")
	b.Logf("%d messages, %.0f bytes of JSON each on average: sink %.0f rows/s, plain iceberg-go %.0f rows/s, ratio %.2f",
		total, float64(payloadBytes)/total, sinkRate, plainRate, sinkRate/plainRate)
}

func arrowRecord(sch *arrow.Schema, rows []benchRow) arrow.RecordBatch {
	rb := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer rb.Release()
	for _, r := range rows {
		rb.Field(0).(*array.Int64Builder).Append(r.id)
		rb.Field(1).(*array.StringBuilder).Append(r.user)
		rb.Field(2).(*array.StringBuilder).Append(r.event)
		rb.Field(3).(*array.Float64Builder).Append(r.amount)
		rb.Field(4).(*array.Int32Builder).Append(r.qty)
		ts, _ := arrow.TimestampFromTime(r.ts, arrow.Microsecond)
		rb.Field(5).(*array.TimestampBuilder).Append(ts)
		rb.Field(6).(*array.StringBuilder).Append(r.country)
		rb.Field(7).(*array.StringBuilder).Append(r.device)
		rb.Field(8).(*array.StringBuilder).Append(r.session)
		rb.Field(9).(*array.StringBuilder).Append(r.url)
		rb.Field(10).(*array.BooleanBuilder).Append(r.ok)
	}
	return rb.NewRecordBatch()
}
