package engine

import (
	"fmt"
	"sync"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/runtime/codec"
	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/runtime/pipeline"
	"github.com/iggy-go/connectors/runtime/transform"
)

// TransformChain builds a connector's transforms, in file order. Shared by the engine and
// `iggy-connectors validate` so both judge a config the same way.
func TransformChain(c *config.ConnectorConfig) (transform.Chain, error) {
	specs := make([]transform.Spec, 0, len(c.Transforms))
	for _, t := range c.Transforms {
		specs = append(specs, transform.Spec{Type: t.Type, Config: t.Table(), Path: t.Path})
	}
	return transform.NewChain(specs)
}

// CodecOptions turns a stream's codec keys into codec.Options.
func CodecOptions(stream string, o config.CodecOptions) codec.Options {
	return codec.Options{Stream: stream, ProtoDescriptorSet: o.ProtoDescriptorSet, ProtoMessageType: o.ProtoMessageType,
		FlatBufferSchema: o.FlatbufferSchema, FlatBufferRootTable: o.FlatbufferRootTable,
		AvroSchemaPath: o.AvroSchemaPath, AvroSchemaJSON: o.AvroSchemaJSON, AvroConfluentSchemaID: o.AvroConfluentSchemaID}
}

// needsDecoding reports whether payloads of a stream must be decoded even without transforms: a
// protobuf or FlatBuffers schema turns them into JSON for the plugin.
func needsDecoding(o config.CodecOptions) bool {
	return o.ProtoDescriptorSet != "" || o.FlatbufferSchema != ""
}

// sinkProcessor decodes with the stream's schema, applies the chain and renders for the plugin.
type sinkProcessor struct {
	dec   codec.Decoder
	chain transform.Chain
}

// newSinkProcessor returns the processor of one sink stream. Without transforms and without a
// schema-driven codec (one whose decoder changes the payload kind, e.g. avro → json), payloads are
// handed to the plugin untouched (no per-message work): invalid
// JSON on a json stream then reaches the plugin, which reports it as a per-message failure if it
// cares (e.g. a jsonb column), and on_error applies.
func newSinkProcessor(s config.SinkStream, chain transform.Chain) (pipeline.SinkProcessor, error) {
	schema := abi.Schema(s.Schema)
	opts := CodecOptions(s.Stream, s.CodecOptions)
	opts.IndexObjects = chain.Len() > 0
	dec, err := codec.NewDecoder(schema, opts)
	if err != nil {
		return nil, err
	}
	dec = chain.Decoder(dec) // the splice path where the chain allows it
	if chain.Len() == 0 && !needsDecoding(s.CodecOptions) && dec.Kind().Schema() == dec.Schema() {
		return pipeline.PassthroughSink(dec.Kind().Schema()), nil
	}
	return &sinkProcessor{dec: dec, chain: chain}, nil
}

// Schema is the tag of what ForPlugin produces for this stream's payloads.
func (p *sinkProcessor) Schema() abi.Schema { return p.dec.Kind().Schema() }

func (p *sinkProcessor) Process(meta pipeline.Meta, msg *abi.Message) (bool, error) {
	pl, err := p.dec.Decode(msg.Payload)
	if err != nil {
		return false, &pipeline.StageError{Stage: pipeline.StageDecode, Err: err}
	}
	if err := p.chain.Apply(transform.Meta{Stream: meta.Stream, Topic: meta.Topic}, &pl); err != nil {
		pl.Release()
		return false, &pipeline.StageError{Stage: pipeline.StageTransform, Err: err}
	}
	out, _ := pl.ForPlugin()
	msg.Payload = out
	pl.Release()
	return true, nil
}

// sourceProcessor decodes what the plugin produced (in the batch's schema), applies the chain and
// encodes once per target stream.
type sourceProcessor struct {
	chain    transform.Chain
	encoders []codec.Encoder
	avroOpts codec.Options // of the first avro stream: how a plugin's avro batches are read
	mu       sync.Mutex
	decoders map[abi.Schema]codec.Decoder
}

// newSourceProcessor returns nil (payloads go to Iggy as the plugin wrote them) when there are no
// transforms and every stream's schema is a plain one; the batch schema is then expected to match
// (a plugin writing json to a json stream).
func newSourceProcessor(streams []config.SourceStream, chain transform.Chain) (pipeline.SourceProcessor, error) {
	p := &sourceProcessor{chain: chain, decoders: map[abi.Schema]codec.Decoder{}}
	plain := chain.Len() == 0
	for i, s := range streams {
		enc, err := codec.NewEncoder(abi.Schema(s.Schema), CodecOptions(s.Stream, s.CodecOptions))
		if err != nil {
			return nil, fmt.Errorf("streams[%d]: %w", i, err)
		}
		p.encoders = append(p.encoders, enc)
		if s.Schema == "avro" && p.avroOpts.AvroSchemaPath == "" && p.avroOpts.AvroSchemaJSON == "" {
			p.avroOpts = CodecOptions(s.Stream, s.CodecOptions)
		}
		if needsDecoding(s.CodecOptions) {
			plain = false
		}
	}
	if plain {
		return &plainSource{p: p, streams: streams}, nil
	}
	return p, nil
}

func (p *sourceProcessor) decoder(in abi.Schema) (codec.Decoder, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d, ok := p.decoders[in]; ok {
		return d, nil
	}
	opts := codec.Options{}
	if in == "avro" { // a plugin writing Avro uses the schema of the connector's avro stream
		opts = p.avroOpts
	}
	opts.IndexObjects = p.chain.Len() > 0
	d, err := codec.NewDecoder(in, opts)
	if err != nil {
		return nil, err
	}
	d = p.chain.Decoder(d) // the splice path where the chain allows it
	p.decoders[in] = d
	return d, nil
}

func (p *sourceProcessor) Process(in abi.Schema, payload []byte) ([][]byte, bool, error) {
	dec, err := p.decoder(in)
	if err != nil {
		return nil, false, &pipeline.StageError{Stage: pipeline.StageDecode, Err: err}
	}
	pl, err := dec.Decode(payload)
	if err != nil {
		return nil, false, &pipeline.StageError{Stage: pipeline.StageDecode, Err: err}
	}
	defer pl.Release()
	if err := p.chain.Apply(transform.Meta{}, &pl); err != nil {
		return nil, false, &pipeline.StageError{Stage: pipeline.StageTransform, Err: err}
	}
	out := make([][]byte, len(p.encoders))
	for i, enc := range p.encoders {
		b, err := enc.Encode(&pl)
		if err != nil {
			return nil, false, &pipeline.StageError{Stage: pipeline.StageEncode, Err: err}
		}
		out[i] = b
	}
	return out, true, nil
}

// plainSource passes payloads through untouched when the plugin's batch schema equals a stream's
// schema, and converts otherwise (e.g. a plugin producing text to a json stream).
type plainSource struct {
	p       *sourceProcessor
	streams []config.SourceStream
}

func (s *plainSource) Process(in abi.Schema, payload []byte) ([][]byte, bool, error) {
	out := make([][]byte, len(s.streams))
	for i, st := range s.streams {
		if abi.Schema(st.Schema) == in {
			out[i] = payload
			continue
		}
		conv, _, err := s.p.Process(in, payload)
		if err != nil {
			return nil, false, err
		}
		return conv, true, nil
	}
	return out, true, nil
}
