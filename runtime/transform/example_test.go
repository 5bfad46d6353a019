package transform_test

import (
	"fmt"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/runtime/codec"
	"github.com/iggy-go/connectors/runtime/transform"
)

// The sink path: decode with the stream's schema, run the connector's transforms, hand the bytes and
// their schema tag to the plugin.
func Example_sinkPath() {
	chain, err := transform.NewChain([]transform.Spec{
		{Type: "unwrap_envelope", Config: map[string]any{"field": "data"}},
		{Type: "delete_fields", Config: map[string]any{"fields": []any{"password"}}},
		{Type: "add_fields", Config: map[string]any{"fields": []any{
			map[string]any{"key": "source", "value": map[string]any{"static": "pg"}},
		}}},
	})
	if err != nil {
		panic(err)
	}
	// IndexObjects: the decoder indexes top-level members while validating, since transforms follow.
	dec, err := codec.NewDecoder(abi.SchemaJSON, codec.Options{Stream: "users", IndexObjects: chain.Len() > 0})
	if err != nil {
		panic(err)
	}

	stored := []byte(`{"op":"INSERT","data":{"id":7,"name":"Ann","password":"x"}}`)
	p, err := dec.Decode(stored)
	if err != nil {
		panic(err) // a *codec.Error naming the stream and byte offset
	}
	if err := chain.Apply(transform.Meta{Stream: "users", Topic: "changes"}, &p); err != nil {
		panic(err)
	}
	payload, tag := p.ForPlugin()
	fmt.Println(tag, string(payload))
	p.Release() // optional: recycles the object index; payload stays valid
	// Output: json {"id":7,"name":"Ann","source":"pg"}
}

// The source path: decode what the plugin produced with the batch schema, transform, encode with the
// stream's schema.
func Example_sourcePath() {
	dec, _ := codec.NewDecoder(abi.SchemaText, codec.Options{})
	enc, _ := codec.NewEncoder(abi.SchemaJSON, codec.Options{Stream: "logs"})
	var chain transform.Chain // no transforms

	p, _ := dec.Decode([]byte("disk almost full"))
	_ = chain.Apply(transform.Meta{Stream: "logs", Topic: "lines"}, &p)
	out, err := enc.Encode(&p)
	fmt.Println(string(out), err)
	// Output: "disk almost full" <nil>
}
