//go:build integration

package pgsink

import (
	"context"
	"fmt"
	"math/big"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// BenchmarkSinkVsCopyFrom writes 100k messages of ~200-byte JSON through the sink (batches of 1000
// messages, the runtime's default batch_length, batch_size 1000) and, in the same run, the same rows
// with a plain pgx CopyFrom into a table of the same shape (same columns, same unique index). It
// reports both rates and their ratio (sink / CopyFrom; goal ≥ 0.8), plus the rate of replaying all
// rows again (every row a no-op through the staging path), and the CPU this process spends per row
// written on either side (less noisy than the rates on a shared machine; the server's CPU is not in
// it).
//
//	go test -tags integration -run '^$' -bench SinkVsCopyFrom -benchtime 3x ./pgsink
func BenchmarkSinkVsCopyFrom(b *testing.B) {
	for _, format := range []string{"bytea", "jsonb"} {
		b.Run(format, func(b *testing.B) { benchSinkVsCopy(b, format) })
	}
}

func benchSinkVsCopy(b *testing.B, format string) {
	const total, perBatch = 100_000, 1000
	db := newTestDB(b)
	ctx := context.Background()
	cfg := sinkConfig(b, db.URL, map[string]any{"target_table": db.Table("sink"), "auto_create_table": true,
		"payload_format": format, "batch_size": perBatch})
	s := openSink(b, cfg)
	// the baseline table: same DDL as the sink's
	base, _ := newSink(sinkConfig(b, db.URL, map[string]any{"target_table": db.Table("plain"), "payload_format": format}), nil)
	for _, stmt := range base.CreateTableSQL() {
		db.Exec(b, stmt)
	}

	payloads := make([][]byte, perBatch)
	for i := range payloads {
		payloads[i] = fmt.Appendf(nil, `{"order_id":%d,"customer":"customer-%06d","items":[{"sku":"SKU-%05d","qty":%d,"price":%d.99}],"status":"created","note":"benchmark payload ~200 bytes"}`,
			i, i, i%9973, i%7+1, i%500)
	}
	var sinkDur, copyDur, replayDur, sinkCPU, copyCPU time.Duration
	runSink := func() {
		start, cpu := time.Now(), processCPU(b)
		for off := 0; off < total; off += perBatch {
			res, err := s.Consume(ctx, batchOf(uint64(off), payloads...))
			if err != nil || len(res.Failures) != 0 {
				b.Fatal(err, res.Failures)
			}
		}
		sinkDur += time.Since(start)
		sinkCPU += processCPU(b) - cpu

		// a replay of everything (the runtime restarted before committing offsets): all no-ops
		start = time.Now()
		for off := 0; off < total; off += perBatch {
			if _, err := s.Consume(ctx, batchOf(uint64(off), payloads...)); err != nil {
				b.Fatal(err)
			}
		}
		replayDur += time.Since(start)
	}
	runCopy := func() {
		conn, err := pgx.Connect(ctx, db.URL)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		start, cpu := time.Now(), processCPU(b)
		for off := 0; off < total; off += perBatch {
			batch := batchOf(uint64(off), payloads...)
			rows := make([][]any, len(batch.Messages))
			for i, m := range batch.Messages {
				var p any = m.Payload
				rows[i] = []any{pgtype.Numeric{Int: new(big.Int).SetBytes(m.ID[:]), Valid: true}, int64(m.Offset),
					time.UnixMicro(int64(m.Timestamp)), batch.Stream, batch.Topic, int32(batch.PartitionID),
					int64(m.Checksum), time.UnixMicro(int64(m.OriginTimestamp)), p}
			}
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{db.Schema, "plain"}, s.cols.names, pgx.CopyFromRows(rows)); err != nil {
				b.Fatal(err)
			}
		}
		copyDur += time.Since(start)
		copyCPU += processCPU(b) - cpu
	}
	i := 0
	for b.Loop() {
		db.Exec(b, fmt.Sprintf(`TRUNCATE %q.sink, %q.plain`, db.Schema, db.Schema))
		if i%2 == 0 { // alternate the order so neither side always runs on a freshly written database
			runSink()
			runCopy()
		} else {
			runCopy()
			runSink()
		}
		i++
		if n, m := db.Count(b, db.Q("sink")), db.Count(b, db.Q("plain")); n != total || m != total {
			b.Fatalf("rows: sink %d, plain %d, want %d", n, m, total)
		}
	}
	sinkRate := float64(total*b.N) / sinkDur.Seconds()
	copyRate := float64(total*b.N) / copyDur.Seconds()
	b.ReportMetric(sinkRate, "sink_rows/s")
	b.ReportMetric(copyRate, "copyfrom_rows/s")
	b.ReportMetric(sinkRate/copyRate, "ratio")
	b.ReportMetric(float64(total*b.N)/replayDur.Seconds(), "replay_rows/s")
	// this process's CPU (user + system) per row written: the client side only, not the server's
	b.ReportMetric(float64(sinkCPU.Nanoseconds())/float64(total*b.N), "sink_cpu_ns/row")
	b.ReportMetric(float64(copyCPU.Nanoseconds())/float64(total*b.N), "copyfrom_cpu_ns/row")
	b.ReportMetric(0, "ns/op")
}

// processCPU returns the user + system CPU time this process has used so far.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
