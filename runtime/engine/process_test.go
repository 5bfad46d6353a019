package engine

import (
	"testing"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/runtime/codec"
	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/runtime/pipeline"
	"github.com/iggy-go/connectors/runtime/transform"
)

const recAvsc = `{"type":"record","name":"R","fields":[{"name":"k","type":"long"},{"name":"tag","type":["null","string"],"default":null}]}`

// TestAvroSourceAndSinkProcessors: a source plugin writing Avro batches to an avro stream has them
// read with that stream's schema, transformed and re-encoded; a sink on an avro stream always decodes
// (even without transforms) and hands the plugin JSON.
func TestAvroSourceAndSinkProcessors(t *testing.T) {
	opts := config.CodecOptions{AvroSchemaJSON: recAvsc}
	chain, err := transform.NewChain([]transform.Spec{{Type: "add_fields", Config: map[string]any{
		"fields": []any{map[string]any{"key": "tag", "value": map[string]any{"static": "t1"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := codec.NewEncoder("avro", CodecOptions("s", opts))
	if err != nil {
		t.Fatal(err)
	}
	in, err := codec.NewPayload(codec.KindJSON, []byte(`{"k":7}`))
	if err != nil {
		t.Fatal(err)
	}
	datum, err := enc.Encode(&in)
	if err != nil {
		t.Fatal(err)
	}
	src, err := newSourceProcessor([]config.SourceStream{{Stream: "s", Topic: "t", Schema: "avro", CodecOptions: opts}}, chain)
	if err != nil {
		t.Fatal(err)
	}
	out, ok, err := src.Process("avro", datum)
	if err != nil || !ok || len(out) != 1 {
		t.Fatalf("source: %v %v %d", err, ok, len(out))
	}
	sink, err := newSinkProcessor(config.SinkStream{Stream: "s", Topics: []string{"t"}, Schema: "avro", CodecOptions: opts}, transform.Chain{})
	if err != nil {
		t.Fatal(err)
	}
	if sink.Schema() != abi.SchemaJSON {
		t.Fatalf("sink plugin schema %s, want json", sink.Schema())
	}
	msg := &abi.Message{Payload: out[0]}
	if ok, err := sink.Process(pipeline.Meta{Stream: "s", Topic: "t"}, msg); err != nil || !ok || string(msg.Payload) != `{"k":7,"tag":"t1"}` {
		t.Fatalf("sink: %s %v %v", msg.Payload, ok, err)
	}
}
