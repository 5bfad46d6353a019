// Package codec turns message payloads into Payload values and back, per stream schema.
//
// On the sink path a stream's Decoder turns the bytes stored in Iggy into a Payload, the connector's
// transforms (package runtime/transform) modify it, and Payload.ForPlugin gives the bytes and schema
// tag the sink plugin receives. On the source path the batch schema's Decoder turns what the source
// plugin produced into a Payload, the transforms run, and the stream's Encoder produces the bytes sent
// to Iggy.
//
// Schemas and what their decoder and encoder do (details on NewDecoder and NewEncoder):
//
//	json        JSON, validated; transforms act on objects
//	raw         opaque bytes
//	text        UTF-8 text
//	proto       with Options.ProtoDescriptorSet: real protobuf <-> JSON (protojson);
//	            without: the original runtime's google.protobuf.Any behaviour
//	flatbuffer  with Options.FlatBufferSchema (.bfbs): real FlatBuffers <-> JSON driven by the schema;
//	            without: the original's opaque behaviour
//	avro        with Options.AvroSchemaPath or AvroSchemaJSON (required): Avro binary datums <-> JSON,
//	            optionally in the Confluent wire format (see avro.go for the JSON mapping)
//
// Decoders and encoders hold no per-message state and are safe for concurrent use. The no-op path —
// json decoder, no transform, json encoder — copies nothing: Encode returns the slice given to Decode
// when it is already compact JSON.
//
// Deliberate deviations from the original runtime (its behaviour is described in the connectors spec,
// §7):
//   - proto and flatbuffer streams without a schema file keep payloads opaque: transforms pass them
//     through and sink plugins get the original bytes under the proto/flatbuffer tag. The original
//     turned them into a JSON view ({"type_url","value"} / {"buffer_size",...}) that transforms
//     modified and plugins received under the proto/flatbuffer tag. The same views are still produced
//     where JSON is needed (json and text encoders, Payload.JSONView).
//   - With a schema file, protobuf and FlatBuffers are really converted (protojson; a reflection-driven
//     FlatBuffers converter) instead of the original's partial hand-written wire parser, which
//     mis-skipped 64-bit fixed fields. An empty protobuf payload is then a valid all-defaults message
//     (the original rejected empty payloads regardless).
//   - The schema-less proto encoder passes a protobuf payload on as is (the original wrapped its text
//     form once more in a StringValue Any).
//   - The schema-less FlatBuffers encoder writes a JSON object as a well-formed vector of strings (the
//     original stored builder-internal offsets as plain integers, which no reader can follow).
//   - Unmodified JSON keeps its key order and duplicate keys; numbers keep their exact text (the
//     original re-serialised through simd-json values).
//
// Hot-path advice for callers (the pipeline): set Options.IndexObjects on a json decoder whose
// payloads go through transforms (one pass instead of two), and wrap it with the chain's
// transform.Chain.Decoder, which applies field transforms while validating (Members, the splice
// path); call Payload.Release when done with a transformed payload (its object index is pooled);
// use Payload.AppendBytes to gather a batch into one buffer instead of allocating per message.
package codec

import (
	"errors"
	"fmt"
	"os"

	"github.com/iggy-go/connectors/abi"
)

// Options configure the schema-aware codecs. Paths are used as given (relative to the working
// directory). Options are checked by NewDecoder/NewEncoder; errors name the option by its config key.
type Options struct {
	// Stream names the stream in decode/encode errors (optional).
	Stream string
	// IndexObjects makes the json decoder index the top-level members of a (compact) JSON object
	// while it validates it, saving the second pass Payload.Object would otherwise make. Set it when
	// the decoded payloads go through transforms; it costs an allocation per payload otherwise.
	IndexObjects bool
	// ProtoDescriptorSet (config key proto_descriptor_set) is the path of a binary
	// google.protobuf.FileDescriptorSet holding ProtoMessageType and everything it imports, as written
	// by `protoc --include_imports --descriptor_set_out=FILE`. Only for schema proto.
	ProtoDescriptorSet string
	// ProtoMessageType (proto_message_type) is the full name of the message, e.g. "shop.v1.Order".
	// Required with ProtoDescriptorSet.
	ProtoMessageType string
	// FlatBufferSchema (flatbuffer_schema) is the path of a binary FlatBuffers schema (.bfbs), as
	// written by `flatc --binary --schema FILE.fbs`. Only for schema flatbuffer.
	FlatBufferSchema string
	// FlatBufferRootTable (flatbuffer_root_table) is the full name of the buffers' root table, e.g.
	// "shop.Order". Default: the schema's root_type. Requires FlatBufferSchema.
	FlatBufferRootTable string
	// AvroSchemaPath (avro_schema_path, the original's key) is the path of the writer's Avro schema
	// (.avsc, JSON). AvroSchemaJSON (avro_schema_json) is the schema itself. Exactly one is required
	// for schema avro.
	AvroSchemaPath string
	AvroSchemaJSON string
	// AvroConfluentSchemaID (avro_confluent_schema_id), when not 0, frames every datum in the
	// Confluent wire format: magic byte 0, then this schema id (4 bytes, big-endian). The decoder
	// requires the header and this id; the encoder writes them.
	AvroConfluentSchemaID uint32
}

// Decoder turns payload bytes of one stream schema into Payloads.
type Decoder interface {
	// Schema is the stream schema this decoder reads.
	Schema() abi.Schema
	// Kind is the kind of every Payload Decode returns (transforms do not change it), so
	// Kind().Schema() is the schema tag of what a sink plugin receives.
	Kind() Kind
	// Decode makes a Payload from b, which it may alias (see Payload). A failure is an *Error.
	Decode(b []byte) (Payload, error)
}

// Encoder turns Payloads into the bytes of one stream schema.
type Encoder interface {
	// Schema is the stream schema this encoder writes.
	Schema() abi.Schema
	// Encode renders p. The result may alias p's bytes and must not be modified. A failure is an
	// *Error.
	Encode(p *Payload) ([]byte, error)
}

// Error is a failure to decode or encode one payload.
type Error struct {
	Op     string     // "decode" or "encode"
	Schema abi.Schema // the stream schema
	Stream string     // Options.Stream; may be empty
	Offset int        // byte offset in the payload where the problem was found; -1 when not known
	Err    error      // the cause
}

func (e *Error) Error() string {
	s := e.Op + " " + string(e.Schema) + " payload"
	if e.Stream != "" {
		s += fmt.Sprintf(" of stream %q", e.Stream)
	}
	if e.Offset >= 0 {
		s += fmt.Sprintf(" at byte offset %d", e.Offset)
	}
	return s + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

type base struct {
	schema abi.Schema
	stream string
}

func (b base) Schema() abi.Schema { return b.schema }

func (b base) err(op string, offset int, err error) error {
	return &Error{Op: op, Schema: b.schema, Stream: b.stream, Offset: offset, Err: err}
}

func (b base) errf(op string, offset int, format string, args ...any) error {
	return b.err(op, offset, fmt.Errorf(format, args...))
}

// checkOptions rejects options that do not belong to schema.
func checkOptions(schema abi.Schema, opts Options) error {
	if schema != abi.SchemaProto {
		if opts.ProtoDescriptorSet != "" {
			return fmt.Errorf("proto_descriptor_set is only valid for schema proto, not %q", schema)
		}
		if opts.ProtoMessageType != "" {
			return fmt.Errorf("proto_message_type is only valid for schema proto, not %q", schema)
		}
	}
	if schema != schemaAvro {
		for _, o := range []struct {
			key string
			set bool
		}{{"avro_schema_path", opts.AvroSchemaPath != ""}, {"avro_schema_json", opts.AvroSchemaJSON != ""}, {"avro_confluent_schema_id", opts.AvroConfluentSchemaID != 0}} {
			if o.set {
				return fmt.Errorf("%s is only valid for schema avro, not %q", o.key, schema)
			}
		}
	}
	if schema != abi.SchemaFlatBuffer {
		if opts.FlatBufferSchema != "" {
			return fmt.Errorf("flatbuffer_schema is only valid for schema flatbuffer, not %q", schema)
		}
		if opts.FlatBufferRootTable != "" {
			return fmt.Errorf("flatbuffer_root_table is only valid for schema flatbuffer, not %q", schema)
		}
	}
	return nil
}

func normSchema(schema abi.Schema) (abi.Schema, error) {
	switch schema {
	case "":
		return abi.SchemaJSON, nil
	case abi.SchemaJSON, abi.SchemaRaw, abi.SchemaText, abi.SchemaProto, abi.SchemaFlatBuffer, schemaAvro:
		return schema, nil
	}
	return "", fmt.Errorf("unknown schema %q (supported: json, raw, text, proto, flatbuffer, avro)", schema)
}

// NewDecoder returns the decoder of schema ("" means json):
//
//   - json: validates the whole payload (RFC 8259; strings must be valid UTF-8 without lone surrogate
//     escapes; nesting is limited to 1000 levels) → KindJSON. Invalid JSON is an error.
//   - raw: → KindRaw, any bytes.
//   - text: valid UTF-8 → KindText; otherwise an error.
//   - proto with ProtoDescriptorSet: the bytes must parse as ProtoMessageType; the result is its
//     canonical protobuf JSON (protojson, original .proto field names, compact) → KindJSON. An empty
//     payload is a message with every field at its default ({}).
//   - proto without: the payload must be a non-empty google.protobuf.Any → KindProto, bytes kept as
//     they are (JSONView gives the original's {"type_url","value"} view).
//   - flatbuffer with FlatBufferSchema: the buffer is verified against the root table and converted to
//     JSON (see the flatbuffer files for the mapping) → KindJSON.
//   - flatbuffer without: empty or shorter than 4 bytes is an error; otherwise → KindFlatBuffer, kept
//     opaque (JSONView gives the original's {"buffer_size",...} view).
//   - avro: each payload must be one binary Avro datum of the schema (AvroSchemaPath or
//     AvroSchemaJSON, required), behind the Confluent header when AvroConfluentSchemaID is set, with
//     no bytes left over → KindJSON (mapping in avro.go). A truncated datum, or one written with
//     another schema, is an error naming the field and the byte offset.
func NewDecoder(schema abi.Schema, opts Options) (Decoder, error) {
	schema, err := normSchema(schema)
	if err != nil {
		return nil, err
	}
	if err := checkOptions(schema, opts); err != nil {
		return nil, err
	}
	b := base{schema: schema, stream: opts.Stream}
	switch schema {
	case abi.SchemaJSON:
		return jsonDecoder{base: b, index: opts.IndexObjects}, nil
	case abi.SchemaRaw:
		return rawDecoder{b}, nil
	case abi.SchemaText:
		return textDecoder{b}, nil
	case schemaAvro:
		c, err := loadAvro(opts)
		if err != nil {
			return nil, err
		}
		return &avroDecoder{base: b, c: c}, nil
	case abi.SchemaProto:
		if opts.ProtoDescriptorSet == "" && opts.ProtoMessageType == "" {
			return anyDecoder{b}, nil
		}
		md, types, err := loadProto(opts)
		if err != nil {
			return nil, err
		}
		return &protoDecoder{base: b, md: md, types: types}, nil
	default: // flatbuffer
		if opts.FlatBufferSchema == "" {
			if opts.FlatBufferRootTable != "" {
				return nil, errors.New("flatbuffer_root_table needs flatbuffer_schema")
			}
			return opaqueFBDecoder{b}, nil
		}
		s, err := loadFlatBufferSchema(opts)
		if err != nil {
			return nil, err
		}
		return &fbDecoder{base: b, s: s}, nil
	}
}

// NewEncoder returns the encoder of schema ("" means json). What each encoder accepts:
//
//   - json: KindJSON → compact JSON; KindText → a JSON string literal of the text; KindProto and
//     KindFlatBuffer (opaque) → their JSONView; KindRaw → error.
//   - raw: KindRaw only, bytes as they are.
//   - text: KindText → its bytes; KindJSON → compact JSON; opaque KindProto/KindFlatBuffer → their
//     JSONView; KindRaw → error.
//   - proto with ProtoDescriptorSet: KindJSON (and KindText holding JSON) → ProtoMessageType in
//     binary form via protojson (unknown fields are an error); KindProto and KindRaw must already
//     parse as ProtoMessageType and are passed on as they are; KindFlatBuffer → error.
//   - proto without: a google.protobuf.Any, as the original: KindJSON → type_url
//     type.googleapis.com/google.protobuf.StringValue with the compact JSON as value; KindText → the
//     same type_url with value {"text":...,"timestamp":<ms>,"encoding":"utf-8"}; KindRaw and
//     KindFlatBuffer → type.googleapis.com/google.protobuf.BytesValue with the bytes as value (like the
//     original, the value is the bytes themselves, not an encoded wrapper message); KindProto is
//     already protobuf and is passed on as is.
//   - flatbuffer with FlatBufferSchema: KindJSON object (and KindText holding one) → a buffer of the
//     root table, built from the schema; KindFlatBuffer and KindRaw are verified against the schema
//     and passed on; KindProto → error.
//   - flatbuffer without: as the original: KindFlatBuffer passes; a JSON object → a buffer whose root
//     is a vector of strings key1, value1, key2, ... (string values as they are, other values as
//     compact JSON); any other JSON value → a string root holding its compact JSON; KindText → as
//     JSON when it parses as JSON, else a string root; KindRaw and KindProto → a [ubyte] vector root.
//   - avro: KindJSON (and KindText holding JSON) → a binary datum of the schema, behind the
//     Confluent header when AvroConfluentSchemaID is set; a value the schema does not accept is an
//     error naming the field. KindRaw must already be such a datum and is passed on; other kinds are
//     errors.
func NewEncoder(schema abi.Schema, opts Options) (Encoder, error) {
	schema, err := normSchema(schema)
	if err != nil {
		return nil, err
	}
	if err := checkOptions(schema, opts); err != nil {
		return nil, err
	}
	b := base{schema: schema, stream: opts.Stream}
	switch schema {
	case abi.SchemaJSON:
		return jsonEncoder{b}, nil
	case abi.SchemaRaw:
		return rawEncoder{b}, nil
	case abi.SchemaText:
		return textEncoder{b}, nil
	case schemaAvro:
		c, err := loadAvro(opts)
		if err != nil {
			return nil, err
		}
		return &avroEncoder{base: b, c: c}, nil
	case abi.SchemaProto:
		if opts.ProtoDescriptorSet == "" && opts.ProtoMessageType == "" {
			return anyEncoder{b}, nil
		}
		md, types, err := loadProto(opts)
		if err != nil {
			return nil, err
		}
		return &protoEncoder{base: b, md: md, types: types}, nil
	default: // flatbuffer
		if opts.FlatBufferSchema == "" {
			if opts.FlatBufferRootTable != "" {
				return nil, errors.New("flatbuffer_root_table needs flatbuffer_schema")
			}
			return opaqueFBEncoder{b}, nil
		}
		s, err := loadFlatBufferSchema(opts)
		if err != nil {
			return nil, err
		}
		return &fbEncoder{base: b, s: s}, nil
	}
}

func readOptionFile(key, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return b, nil
}
