package codec

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/iggy-go/connectors/abi"
)

const protoOrderJSON = `{"id":"o-1","amount_cents":"-9007199254740993","big":"18446744073709551615","price":12.5,` +
	`"paid":true,"status":"STATUS_PAID","tags":["a","b"],"ship_to":{"city":"Oslo","zip":"0150"},` +
	`"counts":{"x":3},"blob":"AAH/","email":"a@b.c","f64":"42","delta":-7,"history":[{"city":"Rome"}],"ratio":0.5}`

func TestProtoRoundTripWithDescriptorSet(t *testing.T) {
	set := protoDescriptorSet(t)
	opts := Options{Stream: "orders", ProtoDescriptorSet: set, ProtoMessageType: "shop.v1.Order"}
	enc, err := NewEncoder(abi.SchemaProto, opts)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder(abi.SchemaProto, opts)
	if err != nil {
		t.Fatal(err)
	}
	if dec.Kind() != KindJSON {
		t.Fatalf("decoder kind %v", dec.Kind())
	}
	in, err := NewPayload(KindJSON, []byte(protoOrderJSON))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := enc.Encode(&in)
	if err != nil {
		t.Fatal(err)
	}

	// Independent check: protoc decodes our bytes.
	protoc := requireTool(t, "protoc", "protobuf-compiler")
	text := string(run(t, bin, protoc, "--decode=shop.v1.Order", "-I", "testdata", "order.proto"))
	for _, want := range []string{`id: "o-1"`, `amount_cents: -9007199254740993`, `big: 18446744073709551615`,
		`status: STATUS_PAID`, `city: "Oslo"`, `email: "a@b.c"`, `delta: -7`, `f64: 42`, `blob: "\000\001\377"`} {
		if !strings.Contains(text, want) {
			t.Errorf("protoc does not see %q in our encoding:\n%s", want, text)
		}
	}

	p, err := dec.Decode(bin)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(p.Bytes()); got != protoOrderJSON {
		t.Fatalf("round trip:\n got %s\nwant %s", got, protoOrderJSON)
	}

	// protoc encodes, we decode.
	bin2 := run(t, []byte(`id: "x" status: STATUS_NEW ship_to { city: "Lima" } tags: "t"`), protoc, "--encode=shop.v1.Order", "-I", "testdata", "order.proto")
	p2, err := dec.Decode(bin2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(p2.Bytes()), `{"id":"x","status":"STATUS_NEW","tags":["t"],"ship_to":{"city":"Lima"}}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	// An empty payload is a message with all defaults.
	if p3, err := dec.Decode(nil); err != nil || string(p3.Bytes()) != `{}` {
		t.Fatalf("empty: %s, %v", p3.Bytes(), err)
	}
}

func TestProtoWithDescriptorSetErrors(t *testing.T) {
	set := protoDescriptorSet(t)
	opts := Options{Stream: "orders", ProtoDescriptorSet: set, ProtoMessageType: "shop.v1.Order"}
	enc, _ := NewEncoder(abi.SchemaProto, opts)
	dec, _ := NewDecoder(abi.SchemaProto, opts)

	if _, err := dec.Decode([]byte{0x0a, 0x05, 'a'}); err == nil || !strings.Contains(err.Error(), `decode proto payload of stream "orders": not a valid shop.v1.Order`) {
		t.Errorf("truncated message: %v", err)
	}
	for _, c := range []struct{ in, want string }{
		{`{"nope":1}`, `unknown field "nope"`},
		{`{"paid":"yes"}`, `invalid value for bool field paid`},
		{`[1]`, `JSON to shop.v1.Order`},
	} {
		p, _ := NewPayload(KindJSON, []byte(c.in))
		if _, err := enc.Encode(&p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.in, err, c.want)
		}
	}
	// Text holding JSON is encoded; text that is not JSON is an error naming the offset.
	txt, _ := NewPayload(KindText, []byte(`{"id":"t"}`))
	if b, err := enc.Encode(&txt); err != nil || string(b) != "\x0a\x01t" {
		t.Errorf("text JSON: %q, %v", b, err)
	}
	bad, _ := NewPayload(KindText, []byte(`{"id" x}`))
	if _, err := enc.Encode(&bad); err == nil || !strings.Contains(err.Error(), "at byte offset 6") {
		t.Errorf("text non-JSON: %v", err)
	}
	// Binary payloads are validated against the type and passed on untouched.
	good, _ := NewPayload(KindRaw, []byte("\x0a\x01t"))
	if b, err := enc.Encode(&good); err != nil || &b[0] != &good.Bytes()[0] {
		t.Errorf("raw proto: %v", err)
	}
	junk, _ := NewPayload(KindProto, []byte{0xff})
	if _, err := enc.Encode(&junk); err == nil {
		t.Error("invalid proto bytes must be rejected")
	}
	fb, _ := NewPayload(KindFlatBuffer, []byte{1, 2, 3, 4})
	if _, err := enc.Encode(&fb); err == nil {
		t.Error("flatbuffer payloads cannot become protobuf")
	}

	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{ProtoDescriptorSet: set}, "needs proto_message_type"},
		{Options{ProtoMessageType: "shop.v1.Order"}, "needs proto_descriptor_set"},
		{Options{ProtoDescriptorSet: set, ProtoMessageType: "shop.v1.Nope"}, `proto_message_type "shop.v1.Nope": not found`},
		{Options{ProtoDescriptorSet: set, ProtoMessageType: "shop.v1.Status"}, "is not a message"},
		{Options{ProtoDescriptorSet: "/nonexistent.pb", ProtoMessageType: "a.B"}, "proto_descriptor_set: open /nonexistent.pb"},
		{Options{ProtoDescriptorSet: "testdata/order.proto", ProtoMessageType: "a.B"}, "not a binary FileDescriptorSet"},
	} {
		if _, err := NewDecoder(abi.SchemaProto, c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.opts, err, c.want)
		}
	}
}

func TestProtoWithoutSchemaIsTheOriginalAnyBehaviour(t *testing.T) {
	dec, _ := NewDecoder(abi.SchemaProto, Options{Stream: "p"})
	enc, _ := NewEncoder(abi.SchemaProto, Options{Stream: "p"})
	jsonEnc, _ := NewEncoder(abi.SchemaJSON, Options{})
	if dec.Kind() != KindProto {
		t.Fatalf("kind %v", dec.Kind())
	}
	anyBytes, _ := proto.Marshal(&anypb.Any{TypeUrl: "type.googleapis.com/x.Y", Value: []byte{0, 1, 2}})

	p, err := dec.Decode(anyBytes)
	if err != nil {
		t.Fatal(err)
	}
	if b, tag := p.ForPlugin(); &b[0] != &anyBytes[0] || tag != abi.SchemaProto {
		t.Errorf("plugin must get the original bytes tagged proto, got %q %s", b, tag)
	}
	view, err := jsonEnc.Encode(&p)
	if err != nil || string(view) != `{"type_url":"type.googleapis.com/x.Y","value":"AAEC"}` {
		t.Errorf("JSON view %s, %v", view, err)
	}
	if _, err := dec.Decode(nil); err == nil || !strings.Contains(err.Error(), "empty payload") {
		t.Errorf("empty: %v", err)
	}
	if _, err := dec.Decode([]byte{0x0a, 0x10}); err == nil || !strings.Contains(err.Error(), "not a google.protobuf.Any") {
		t.Errorf("not an Any: %v", err)
	}

	now = func() time.Time { return time.UnixMilli(1700000000123) }
	defer func() { now = time.Now }()
	cases := []struct {
		kind    Kind
		in      string
		typeURL string
		value   string
	}{
		{KindJSON, `{"a": 1}`, stringValueTypeURL, `{"a":1}`},
		{KindText, "hé\n", stringValueTypeURL, `{"text":"hé\n","timestamp":1700000000123,"encoding":"utf-8"}`},
		{KindRaw, "\x00\x01", bytesValueTypeURL, "\x00\x01"},
		{KindFlatBuffer, "\x04\x00\x00\x00", bytesValueTypeURL, "\x04\x00\x00\x00"},
	}
	for _, c := range cases {
		in, err := NewPayload(c.kind, []byte(c.in))
		if err != nil {
			t.Fatal(err)
		}
		out, err := enc.Encode(&in)
		if err != nil {
			t.Fatal(err)
		}
		var a anypb.Any
		if err := proto.Unmarshal(out, &a); err != nil {
			t.Fatal(err)
		}
		if a.TypeUrl != c.typeURL || string(a.Value) != c.value {
			t.Errorf("%v %q: got %s %q", c.kind, c.in, a.TypeUrl, a.Value)
		}
	}
	// A protobuf payload is already protobuf: passed on.
	if out, err := enc.Encode(&p); err != nil || &out[0] != &anyBytes[0] {
		t.Errorf("proto passthrough: %v", err)
	}
}
