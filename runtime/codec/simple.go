package codec

import (
	"encoding/base64"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"

	flatbuffers "github.com/google/flatbuffers/go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// --- json ---------------------------------------------------------------------------------------

type jsonDecoder struct {
	base
	index bool
}

func (jsonDecoder) Kind() Kind { return KindJSON }

func (d jsonDecoder) Decode(b []byte) (Payload, error) {
	compact, obj, err := scanJSON(b, d.index)
	if err != nil {
		return Payload{}, d.err("decode", errPos(err), err)
	}
	p := jsonPayload(b, compact)
	p.obj = obj
	return p, nil
}

type jsonEncoder struct{ base }

func (e jsonEncoder) Encode(p *Payload) ([]byte, error) {
	if p.kind == KindRaw {
		return nil, e.errf("encode", -1, "a raw payload cannot be encoded as JSON")
	}
	b, err := p.JSONView()
	if err != nil {
		return nil, e.err("encode", -1, err)
	}
	return b, nil
}

// --- raw ----------------------------------------------------------------------------------------

type rawDecoder struct{ base }

func (rawDecoder) Kind() Kind { return KindRaw }

func (rawDecoder) Decode(b []byte) (Payload, error) { return Payload{kind: KindRaw, data: b}, nil }

type rawEncoder struct{ base }

func (e rawEncoder) Encode(p *Payload) ([]byte, error) {
	if p.kind != KindRaw {
		return nil, e.errf("encode", -1, "the raw encoder accepts only raw payloads, not %s", p.kind)
	}
	return p.data, nil
}

// --- text ---------------------------------------------------------------------------------------

type textDecoder struct{ base }

func (textDecoder) Kind() Kind { return KindText }

func (d textDecoder) Decode(b []byte) (Payload, error) {
	if !utf8.Valid(b) {
		return Payload{}, d.errf("decode", invalidUTF8At(b), "invalid UTF-8")
	}
	return Payload{kind: KindText, data: b}, nil
}

type textEncoder struct{ base }

func (e textEncoder) Encode(p *Payload) ([]byte, error) {
	switch p.kind {
	case KindText:
		return p.data, nil
	case KindRaw:
		return nil, e.errf("encode", -1, "a raw payload cannot be encoded as text")
	}
	b, err := p.JSONView()
	if err != nil {
		return nil, e.err("encode", -1, err)
	}
	return b, nil
}

// --- proto without a schema: google.protobuf.Any ------------------------------------------------

const (
	typeURLPrefix      = "type.googleapis.com/"
	stringValueTypeURL = typeURLPrefix + "google.protobuf.StringValue"
	bytesValueTypeURL  = typeURLPrefix + "google.protobuf.BytesValue"
)

type anyDecoder struct{ base }

func (anyDecoder) Kind() Kind { return KindProto }

func (d anyDecoder) Decode(b []byte) (Payload, error) {
	if len(b) == 0 {
		return Payload{}, d.errf("decode", -1, "empty payload")
	}
	if err := proto.Unmarshal(b, &anypb.Any{}); err != nil {
		return Payload{}, d.errf("decode", -1, "not a google.protobuf.Any (configure proto_descriptor_set and proto_message_type for other messages): %w", err)
	}
	return Payload{kind: KindProto, data: b}, nil
}

// anyJSONView renders a google.protobuf.Any as {"type_url":...,"value":<base64>}.
func anyJSONView(b []byte) ([]byte, error) {
	var a anypb.Any
	if err := proto.Unmarshal(b, &a); err != nil {
		return nil, errors.New("protobuf payload is not a google.protobuf.Any, so it has no JSON view without a descriptor set")
	}
	out := make([]byte, 0, len(a.TypeUrl)+base64.StdEncoding.EncodedLen(len(a.Value))+30)
	out = append(out, `{"type_url":`...)
	out = appendJSONString(out, a.TypeUrl)
	out = append(out, `,"value":"`...)
	out = base64.StdEncoding.AppendEncode(out, a.Value)
	return append(out, `"}`...), nil
}

type anyEncoder struct{ base }

// now is the clock of the text wrapper's timestamp (a variable for tests).
var now = time.Now

func (e anyEncoder) Encode(p *Payload) ([]byte, error) {
	var a anypb.Any
	switch p.kind {
	case KindProto:
		return p.data, nil
	case KindJSON:
		a.TypeUrl, a.Value = stringValueTypeURL, p.Bytes()
	case KindText:
		v := make([]byte, 0, len(p.data)+64)
		v = append(v, `{"text":`...)
		v = appendJSONString(v, string(p.data))
		v = append(v, `,"timestamp":`...)
		v = strconv.AppendInt(v, now().UnixMilli(), 10)
		v = append(v, `,"encoding":"utf-8"}`...)
		a.TypeUrl, a.Value = stringValueTypeURL, v
	default: // raw, flatbuffer
		a.TypeUrl, a.Value = bytesValueTypeURL, p.data
	}
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(&a)
	if err != nil {
		return nil, e.err("encode", -1, err)
	}
	return out, nil
}

// --- flatbuffer without a schema: opaque --------------------------------------------------------

type opaqueFBDecoder struct{ base }

func (opaqueFBDecoder) Kind() Kind { return KindFlatBuffer }

func (d opaqueFBDecoder) Decode(b []byte) (Payload, error) {
	if len(b) == 0 {
		return Payload{}, d.errf("decode", -1, "empty payload")
	}
	if len(b) < 4 {
		return Payload{}, d.errf("decode", -1, "a FlatBuffer needs at least 4 bytes, got %d", len(b))
	}
	return Payload{kind: KindFlatBuffer, data: b}, nil
}

// flatBufferJSONView is the original runtime's JSON view of an opaque FlatBuffer.
func flatBufferJSONView(b []byte) []byte {
	out := make([]byte, 0, base64.StdEncoding.EncodedLen(len(b))+80)
	out = append(out, `{"buffer_size":`...)
	out = strconv.AppendInt(out, int64(len(b)), 10)
	out = append(out, `,"has_root_table":true,"raw_data_base64":"`...)
	out = base64.StdEncoding.AppendEncode(out, b)
	return append(out, `"}`...)
}

type opaqueFBEncoder struct{ base }

// Encode follows the original's schema-less FlatBuffers encoder, except that a JSON object becomes a
// well-formed vector of string offsets (the original stored builder-internal offsets as plain
// integers, which no reader can follow).
func (e opaqueFBEncoder) Encode(p *Payload) ([]byte, error) {
	switch p.kind {
	case KindFlatBuffer:
		return p.data, nil
	case KindRaw, KindProto:
		bl := flatbuffers.NewBuilder(len(p.data) + 16)
		v := bl.CreateByteVector(p.data)
		bl.Finish(v)
		return bl.FinishedBytes(), nil
	case KindText:
		if _, err := validateJSON(p.data); err != nil {
			bl := flatbuffers.NewBuilder(len(p.data) + 16)
			bl.Finish(bl.CreateByteString(p.data))
			return bl.FinishedBytes(), nil
		}
		compact, _ := Compact(p.data)
		return encodeJSONNoSchema(compact), nil
	}
	return encodeJSONNoSchema(p.Bytes()), nil
}

// encodeJSONNoSchema encodes valid compact JSON the way the original's schema-less encoder did.
func encodeJSONNoSchema(b []byte) []byte {
	bl := flatbuffers.NewBuilder(len(b)*2 + 64)
	if b[0] != '{' {
		bl.Finish(bl.CreateByteString(b))
		return bl.FinishedBytes()
	}
	obj := indexObject(b)
	offs := make([]flatbuffers.UOffsetT, 0, 2*len(obj.fields))
	for _, f := range obj.fields {
		offs = append(offs, bl.CreateByteString(obj.bytes(f.key)))
		v := obj.bytes(f.val)
		if v[0] == '"' {
			v = unquoteJSON(v)
		}
		offs = append(offs, bl.CreateByteString(v))
	}
	bl.StartVector(4, len(offs), 4)
	for i := len(offs) - 1; i >= 0; i-- {
		bl.PrependUOffsetT(offs[i])
	}
	bl.Finish(bl.EndVector(len(offs)))
	return bl.FinishedBytes()
}
