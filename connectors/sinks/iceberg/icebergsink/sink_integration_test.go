//go:build integration

package icebergsink

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/iggy-go/connectors/sdk"
)

// testSchema has one column of most types the sink writes.
func testSchema() *iceberg.Schema {
	return iceberg.NewSchema(0,
		iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
		iceberg.NestedField{ID: 2, Name: "name", Type: iceberg.PrimitiveTypes.String},
		iceberg.NestedField{ID: 3, Name: "amount", Type: iceberg.PrimitiveTypes.Float64},
		iceberg.NestedField{ID: 4, Name: "qty", Type: iceberg.PrimitiveTypes.Int32},
		iceberg.NestedField{ID: 5, Name: "paid", Type: iceberg.PrimitiveTypes.Bool},
		iceberg.NestedField{ID: 6, Name: "ts", Type: iceberg.PrimitiveTypes.TimestampTz, Required: true},
		iceberg.NestedField{ID: 7, Name: "day", Type: iceberg.PrimitiveTypes.Date},
		iceberg.NestedField{ID: 8, Name: "price", Type: iceberg.DecimalTypeOf(10, 2)},
		iceberg.NestedField{ID: 9, Name: "tags", Type: &iceberg.ListType{ElementID: 10, Element: iceberg.PrimitiveTypes.String, ElementRequired: false}},
		iceberg.NestedField{ID: 11, Name: "addr", Type: &iceberg.StructType{FieldList: []iceberg.NestedField{
			{ID: 12, Name: "city", Type: iceberg.PrimitiveTypes.String},
			{ID: 13, Name: "zip", Type: iceberg.PrimitiveTypes.Int32},
		}}},
	)
}

func daySpec() *iceberg.PartitionSpec {
	s := iceberg.NewPartitionSpec(iceberg.PartitionField{SourceIDs: []int{6}, FieldID: 1000, Name: "ts_day", Transform: iceberg.DayTransform{}})
	return &s
}

var day0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

const days = 7

// payload is message i: a row whose values derive from i (every 3rd row leaves optional fields out).
func payload(i int) []byte {
	ts := day0.Add(time.Duration(i%days)*24*time.Hour + time.Duration(i)*time.Second)
	if i%3 == 0 {
		return []byte(fmt.Sprintf(`{"id":%d,"ts":%q,"extra":"ignored"}`, i, ts.Format(time.RFC3339Nano)))
	}
	return []byte(fmt.Sprintf(`{"id":%d,"name":"name \"%d\" ✓","amount":%d.25,"qty":%d,"paid":%t,"ts":%q,"day":%q,"price":"%d.%02d","tags":["a%d","b"],"addr":{"city":"c%d","zip":%d}}`,
		i, i, i, i%100, i%2 == 0, ts.Format(time.RFC3339Nano), ts.Format(time.DateOnly), i, i%100, i, i%10, 10000+i))
}

func batchOf(stream, topic string, partition uint32, from, n int, payloadOf func(int) []byte) *sdk.SinkBatch {
	b := &sdk.SinkBatch{Stream: stream, Topic: topic, PartitionID: partition, Schema: "json"}
	for i := from; i < from+n; i++ {
		b.Messages = append(b.Messages, sdk.Message{Offset: uint64(i), Payload: payloadOf(i)})
	}
	return b
}

func consume(t *testing.T, s *Sink, b *sdk.SinkBatch) sdk.Result {
	t.Helper()
	res, err := s.Consume(context.Background(), b)
	if err != nil {
		t.Fatalf("consume offsets %d..: %v", b.Messages[0].Offset, err)
	}
	return res
}

// checkRow compares one row read by pyiceberg with message i.
func checkRow(t *testing.T, r map[string]any, i int) {
	t.Helper()
	ts := day0.Add(time.Duration(i%days)*24*time.Hour + time.Duration(i)*time.Second)
	if r["id"] != float64(i) {
		t.Fatalf("row id %v, want %d", r["id"], i)
	}
	gotTS, err := time.Parse(time.RFC3339Nano, fmt.Sprint(r["ts"]))
	if err != nil || !gotTS.Equal(ts) {
		t.Fatalf("row %d: ts %v, want %v", i, r["ts"], ts)
	}
	if i%3 == 0 {
		for _, k := range []string{"name", "amount", "qty", "paid", "day", "price", "tags", "addr"} {
			if r[k] != nil {
				t.Fatalf("row %d: %s = %v, want null", i, k, r[k])
			}
		}
		return
	}
	want := map[string]any{"name": fmt.Sprintf("name \"%d\" ✓", i), "amount": float64(i) + 0.25, "qty": float64(i % 100),
		"paid": i%2 == 0, "day": ts.Format(time.DateOnly), "price": fmt.Sprintf("%d.%02d", i, i%100)}
	for k, v := range want {
		if r[k] != v {
			t.Fatalf("row %d: %s = %#v, want %#v", i, k, r[k], v)
		}
	}
	if fmt.Sprint(r["tags"]) != fmt.Sprintf("[a%d b]", i) {
		t.Fatalf("row %d: tags %v", i, r["tags"])
	}
	addr, _ := r["addr"].(map[string]any)
	if addr["city"] != fmt.Sprintf("c%d", i%10) || addr["zip"] != float64(10000+i) {
		t.Fatalf("row %d: addr %v", i, r["addr"])
	}
}

// TestAppendReadBackExactlyOnce: 10,000 JSON messages in batches of 1,000 into an unpartitioned and a
// day-partitioned table (static mode: every batch to both, as the original does); pyiceberg reads
// every row back with its values and types, the partitioned table has one partition per day, each
// batch is one snapshot recording its offsets, and a replayed batch (new sink instance, as after a
// crash between commit and offset store) appends nothing.
func TestAppendReadBackExactlyOnce(t *testing.T) {
	for _, e := range envs(t) {
		t.Run(e.name, func(t *testing.T) {
			plain := e.createTable(t, "plain", testSchema(), nil)
			parted := e.createTable(t, "by_day", testSchema(), daySpec())
			s := e.openSink(t, map[string]any{"tables": []string{plain, parted}})
			const total, per = 10000, 1000
			start := time.Now()
			for from := 0; from < total; from += per {
				if res := consume(t, s, batchOf("st", "tp", 1, from, per, payload)); len(res.Failures) > 0 {
					t.Fatalf("failures: %v", res.Failures[0].Err)
				}
			}
			t.Logf("%s: %d messages into 2 tables in %v", e.name, total, time.Since(start))

			// A new instance (a restart) offered the last two batches again: nothing is appended.
			s2 := e.openSink(t, map[string]any{"tables": []string{plain, parted}})
			if res := consume(t, s2, batchOf("st", "tp", 1, total-2*per, 2*per, payload)); len(res.Failures) > 0 {
				t.Fatalf("replay failures: %v", res.Failures[0].Err)
			}

			for _, tbl := range []string{plain, parted} {
				r := e.read(t, tbl, "id", false)
				if r.Count != total || len(r.Rows) != total {
					t.Fatalf("%s: pyiceberg counts %d rows, want %d", tbl, r.Count, total)
				}
				for i, row := range r.Rows {
					checkRow(t, row, i)
				}
				wantTypes := map[string]string{"id": "int64", "name": "large_string", "amount": "double", "qty": "int32", "paid": "bool",
					"ts": "timestamp[us, tz=UTC]", "day": "date32[day]", "price": "decimal128(10, 2)"}
				for k, v := range wantTypes {
					if got := r.Types[k]; got != v && !(v == "large_string" && got == "string") {
						t.Errorf("%s: column %s has Arrow type %s, want %s", tbl, k, got, v)
					}
				}
				if len(r.Snapshots) != total/per {
					t.Errorf("%s: %d snapshots, want %d (one per batch, none for the replay)", tbl, len(r.Snapshots), total/per)
				}
				last := r.Snapshots[len(r.Snapshots)-1].Summary[summaryKey("iggy-connectors")]
				if want := fmt.Sprintf(`[{"stream":"st","topic":"tp","partition":1,"offset":%d}]`, total-1); last != want {
					t.Errorf("%s: last snapshot records %s, want %s", tbl, last, want)
				}
				if tbl == parted {
					if len(r.Partitions) != days {
						t.Errorf("%s: %d partitions, want %d: %v", tbl, len(r.Partitions), days, r.Partitions)
					}
					seen := map[string]bool{}
					for _, p := range r.Partitions {
						seen[fmt.Sprint(p["ts_day"])] = true
					}
					for d := 0; d < days; d++ {
						if day := day0.AddDate(0, 0, d).Format(time.DateOnly); !seen[day] {
							t.Errorf("%s: no partition for %s: %v", tbl, day, r.Partitions)
						}
					}
				} else if len(r.Partitions) != 1 {
					t.Errorf("%s: unpartitioned table reports %d partitions", tbl, len(r.Partitions))
				}
			}
		})
	}
}

// TestSchemaMismatchFailsOnlyThatMessage: a string in a long column, a missing required field and a
// non-JSON payload are per-message permanent failures; the rest of the batch is written.
func TestSchemaMismatchFailsOnlyThatMessage(t *testing.T) {
	for _, e := range envs(t) {
		t.Run(e.name, func(t *testing.T) {
			tbl := e.createTable(t, "mismatch", testSchema(), nil)
			s := e.openSink(t, map[string]any{"tables": []string{tbl}})
			bad := map[int]string{
				3: `{"id":"three","ts":"2026-03-01T00:00:00Z"}`,
				5: `{"name":"no id","ts":"2026-03-01T00:00:00Z"}`,
				7: `not json`,
				8: `{"id":8,"ts":"2026-03-01T00:00:00Z","qty":3000000000}`,
			}
			b := batchOf("st", "tp", 0, 0, 10, func(i int) []byte {
				if p, ok := bad[i]; ok {
					return []byte(p)
				}
				return payload(i)
			})
			res := consume(t, s, b)
			if len(res.Failures) != len(bad) {
				t.Fatalf("%d failures, want %d: %v", len(res.Failures), len(bad), res.Failures)
			}
			for _, f := range res.Failures {
				if _, ok := bad[f.Index]; !ok || sdk.IsRetryable(f.Err, false) {
					t.Errorf("failure of message %d (retryable %v): %v", f.Index, sdk.IsRetryable(f.Err, false), f.Err)
				}
			}
			if msg := res.Failures[0].Err.Error(); !strings.Contains(msg, `field "id"`) || !strings.Contains(msg, "string") {
				t.Errorf("failure of the string-in-long message does not name the field: %s", msg)
			}
			r := e.read(t, tbl, "id", false)
			if r.Count != 10-len(bad) {
				t.Fatalf("pyiceberg counts %d rows, want %d", r.Count, 10-len(bad))
			}
		})
	}
}

// TestDynamicRouting: a string field selects one of three tables; unknown and malformed names fail
// only their messages (the runtime's on_error sends them to the dead-letter topic).
func TestDynamicRouting(t *testing.T) {
	for _, e := range envs(t) {
		t.Run(e.name, func(t *testing.T) {
			sch := iceberg.NewSchema(0,
				iceberg.NestedField{ID: 1, Name: "id", Type: iceberg.PrimitiveTypes.Int64, Required: true},
				iceberg.NestedField{ID: 2, Name: "target", Type: iceberg.PrimitiveTypes.String})
			names := []string{e.createTable(t, "r0", sch, nil), e.createTable(t, "r1", sch, nil), e.createTable(t, "r2", sch, nil)}
			s := e.openSink(t, map[string]any{"dynamic_routing": true, "dynamic_route_field": "target"})
			const n = 300
			target := func(i int) string {
				switch {
				case i%50 == 10:
					return e.ns + ".nope"
				case i%50 == 20:
					return "notqualified"
				}
				return names[i%3]
			}
			res := consume(t, s, batchOf("st", "tp", 0, 0, n, func(i int) []byte {
				if i%50 == 30 {
					return []byte(fmt.Sprintf(`{"id":%d,"target":42}`, i))
				}
				return []byte(fmt.Sprintf(`{"id":%d,"target":%q}`, i, target(i)))
			}))
			wantFail := 3 * n / 50
			if len(res.Failures) != wantFail {
				t.Fatalf("%d failures, want %d: %v", len(res.Failures), wantFail, res.Failures)
			}
			want := map[string]int{}
			for i := 0; i < n; i++ {
				if k := i % 50; k != 10 && k != 20 && k != 30 {
					want[names[i%3]]++
				}
			}
			for _, name := range names {
				r := e.read(t, name, "id", false)
				if r.Count != want[name] {
					t.Errorf("%s: %d rows, want %d", name, r.Count, want[name])
				}
				for _, row := range r.Rows {
					if row["target"] != name {
						t.Errorf("%s holds a row routed to %v", name, row["target"])
					}
				}
			}
		})
	}
}

var _ = math.MaxInt
