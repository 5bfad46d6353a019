package transform

import (
	"testing"

	"github.com/iggy-go/connectors/runtime/codec"
)

// benchmarkSpecs measures decode → specs → AppendBytes the way the engine runs it (the decoder
// indexing objects and wrapped by Chain.Decoder, so these single-transform chains take the splice
// path); with no specs it is the baseline of the per-transform benchmarks below.
func benchmarkSpecs(b *testing.B, specs ...Spec) {
	in := benchPayload()
	dec, _ := benchCodecs(b, true)
	c, err := NewChain(specs)
	if err != nil {
		b.Fatal(err)
	}
	dec = c.Decoder(dec)
	meta := Meta{Stream: "s", Topic: "t"}
	buf := make([]byte, 0, 4096)
	var p codec.Payload
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		p, err = dec.Decode(in)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Apply(meta, &p); err != nil {
			b.Fatal(err)
		}
		buf = p.AppendBytes(buf[:0])
		p.Release()
	}
	cpu.report(b)
}

func BenchmarkEachBaseline(b *testing.B) { benchmarkSpecs(b) }

func BenchmarkEachAddStatic(b *testing.B) {
	benchmarkSpecs(b, Spec{Type: "add_fields", Config: map[string]any{"fields": []any{
		map[string]any{"key": "source", "value": map[string]any{"static": "iggy"}}}}})
}

func BenchmarkEachAddComputed(b *testing.B) {
	benchmarkSpecs(b, Spec{Type: "add_fields", Config: map[string]any{"fields": []any{
		map[string]any{"key": "ingested_at", "value": map[string]any{"computed": "timestamp_millis"}}}}})
}

func BenchmarkEachUpdate(b *testing.B) {
	benchmarkSpecs(b, Spec{Type: "update_fields", Config: map[string]any{"fields": []any{
		map[string]any{"key": "status", "value": map[string]any{"static": "processed"}, "condition": "key_exists"}}}})
}

func BenchmarkEachFilter(b *testing.B) {
	benchmarkSpecs(b, Spec{Type: "filter_fields", Config: map[string]any{"include_matching": false, "patterns": []any{
		map[string]any{"key_pattern": map[string]any{"starts_with": "debug_"}}}}})
}

func BenchmarkEachDelete(b *testing.B) {
	benchmarkSpecs(b, Spec{Type: "delete_fields", Config: map[string]any{"fields": []any{"password", "ssn"}}})
}
