package transform

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/runtime/codec"
)

// benchPayload is a ~1 KB JSON object typical of connector traffic: flat scalars, a nested object,
// an array and a few fields the benchmark chain removes.
func benchPayload() []byte {
	var sb strings.Builder
	sb.WriteString(`{"id":"8d0f3c5e-6a1b-4d8e-9f2a-1b3c4d5e6f70","seq":1234567890123,"ts":"2026-01-02T03:04:05.678Z",`)
	sb.WriteString(`"customer":{"id":42,"name":"Ada Lovelace","email":"ada@example.com","tier":"gold","tags":["a","b","c"]},`)
	sb.WriteString(`"items":[{"sku":"X-1","qty":2,"price":19.99},{"sku":"Y-22","qty":1,"price":5.5},{"sku":"Z-333","qty":10,"price":0.25}],`)
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&sb, `"attr_%02d":"value number %02d with some text",`, i, i)
	}
	sb.WriteString(`"debug_trace":"0123456789abcdef0123456789abcdef","debug_host":"worker-17.internal",`)
	sb.WriteString(`"password":"hunter2","ssn":"000-00-0000","status":"pending","amount":1234.5678,"currency":"EUR",`)
	sb.WriteString(`"note":"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.","ok":true,"nothing":null}`)
	return []byte(sb.String())
}

// benchChain is the chain the benchmarks measure: add_fields (a static and a computed value),
// update_fields (conditional), filter_fields (drop keys by prefix) and delete_fields.
func benchChain(b *testing.B) Chain {
	c, err := NewChain([]Spec{
		{Type: "add_fields", Config: map[string]any{"fields": []any{
			map[string]any{"key": "source", "value": map[string]any{"static": "iggy"}},
			map[string]any{"key": "ingested_at", "value": map[string]any{"computed": "timestamp_millis"}},
		}}},
		{Type: "update_fields", Config: map[string]any{"fields": []any{
			map[string]any{"key": "status", "value": map[string]any{"static": "processed"}, "condition": "key_exists"},
		}}},
		{Type: "filter_fields", Config: map[string]any{"include_matching": false, "patterns": []any{
			map[string]any{"key_pattern": map[string]any{"starts_with": "debug_"}},
		}}},
		{Type: "delete_fields", Config: map[string]any{"fields": []any{"password", "ssn"}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func benchCodecs(b *testing.B, index bool) (codec.Decoder, codec.Encoder) {
	dec, err := codec.NewDecoder(abi.SchemaJSON, codec.Options{IndexObjects: index})
	if err != nil {
		b.Fatal(err)
	}
	enc, err := codec.NewEncoder(abi.SchemaJSON, codec.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return dec, enc
}

// BenchmarkPassthrough is the per-message cost of the no-op path: decode (full validation) → no
// transform → encode, on a ~1 KB JSON object.
func BenchmarkPassthrough(b *testing.B) {
	in := benchPayload()
	dec, enc := benchCodecs(b, false)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		p, err := dec.Decode(in)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := enc.Encode(&p); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b)
}

// BenchmarkTransformChain is the per-message cost of decode → add_fields + update_fields +
// filter_fields + delete_fields → encode, on the same payload, the way the engine runs it: the json
// decoder wrapped by Chain.Decoder, so the chain runs on the splice path while the payload is
// validated, and the result is rendered once by the encoder (an allocation per message, as
// Payload.ForPlugin makes for the sink plugin). The chain's own cost is the difference to
// BenchmarkPassthrough.
func BenchmarkTransformChain(b *testing.B) { benchmarkChainDec(b, true, true) }

// BenchmarkTransformChainTree is BenchmarkTransformChain on the tree path (what ran before the
// splice path, and still runs for chains or payloads it does not take): the decoder indexes objects
// while validating (codec.Options.IndexObjects), the transforms run on the index.
func BenchmarkTransformChainTree(b *testing.B) { benchmarkChainDec(b, true, false) }

// BenchmarkTransformChainLazyIndex is the tree path with the object indexed by the first transform
// (a second pass over the payload).
func BenchmarkTransformChainLazyIndex(b *testing.B) { benchmarkChainDec(b, false, false) }

// BenchmarkTransformChainAppend is BenchmarkTransformChain with the result appended to a reused
// buffer (codec.Payload.AppendBytes), as a caller gathering a batch into one buffer would: no
// per-message output allocation.
func BenchmarkTransformChainAppend(b *testing.B) { benchmarkChainAppend(b, true) }

// BenchmarkTransformChainTreeAppend is BenchmarkTransformChainAppend on the tree path.
func BenchmarkTransformChainTreeAppend(b *testing.B) { benchmarkChainAppend(b, false) }

func benchmarkChainAppend(b *testing.B, splice bool) {
	in := benchPayload()
	dec, _ := benchCodecs(b, true)
	c := benchChain(b)
	if splice {
		dec = c.Decoder(dec)
	}
	meta := Meta{Stream: "s", Topic: "t"}
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		p, err := dec.Decode(in)
		if err != nil {
			b.Fatal(err)
		}
		if p.Spliced() != splice {
			b.Fatalf("spliced %v, want %v", p.Spliced(), splice)
		}
		if err := c.Apply(meta, &p); err != nil {
			b.Fatal(err)
		}
		buf = p.AppendBytes(buf[:0])
		p.Release()
	}
	cpu.report(b)
}

func benchmarkChainDec(b *testing.B, index, splice bool) {
	in := benchPayload()
	dec, enc := benchCodecs(b, index)
	c := benchChain(b)
	if splice {
		dec = c.Decoder(dec)
	}
	meta := Meta{Stream: "s", Topic: "t"}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		p, err := dec.Decode(in)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Apply(meta, &p); err != nil {
			b.Fatal(err)
		}
		if _, err := enc.Encode(&p); err != nil {
			b.Fatal(err)
		}
		p.Release()
	}
	cpu.report(b)
}

// cpuClock measures the process's CPU time (user + system, GC workers included) over a benchmark
// loop. On a shared machine it is a steadier per-message cost than wall time; it is reported as
// cpu-ns/op next to ns/op.
type cpuClock struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{processCPU()} }

func (c cpuClock) report(b *testing.B) {
	if b.N > 0 {
		b.ReportMetric(float64(processCPU()-c.start)/float64(b.N), "cpu-ns/op")
	}
}

func TestBenchPayloadShape(t *testing.T) {
	in := benchPayload()
	if len(in) < 900 || len(in) > 1200 {
		t.Fatalf("benchmark payload is %d bytes, want about 1 KB", len(in))
	}
	p, err := codec.NewPayload(codec.KindJSON, in)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewChain([]Spec{
		{Type: "filter_fields", Config: map[string]any{"include_matching": false, "patterns": []any{
			map[string]any{"key_pattern": map[string]any{"starts_with": "debug_"}}}}},
		{Type: "delete_fields", Config: map[string]any{"fields": []any{"password", "ssn"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Apply(Meta{}, &p)
	out := string(p.Bytes())
	for _, gone := range []string{"debug_", "password", "ssn"} {
		if strings.Contains(out, gone) {
			t.Errorf("%s survived: %s", gone, out)
		}
	}
}
