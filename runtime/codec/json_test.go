package codec

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/iggy-go/connectors/abi"
)

func TestValidateJSON(t *testing.T) {
	cases := []struct {
		in      string
		compact bool
		err     string // substring; "" = valid
		pos     int
	}{
		{`{}`, true, "", 0},
		{`{"a":1,"b":[true,false,null],"c":{"d":"e"}}`, true, "", 0},
		{` {"a" : 1 } `, false, "", 0},
		{"[1,\n2]", false, "", 0},
		{`"x"`, true, "", 0},
		{`-0.5e+10`, true, "", 0},
		{`0`, true, "", 0},
		{`12345678901234567890123456789`, true, "", 0},
		{`"\u00e9\ud83d\ude00\/\b\f\n\r\t\"\\"`, true, "", 0},
		{`"héllo 世界 😀"`, true, "", 0},
		{`"a very long string with more than eight bytes to exercise the word-at-a-time path"`, true, "", 0},
		{``, false, "empty JSON payload", 0},
		{`   `, false, "empty JSON payload", 3},
		{`{"a":1,}`, false, "looking for an object key", 7},
		{`{"a" 1}`, false, "after object key, expected ':'", 5},
		{`{"a":1`, false, "unexpected end of JSON input in object", 6},
		{`[1 2]`, false, "after array element", 3},
		{`[1,]`, false, "beginning of a value", 3},
		{`01`, false, "after the JSON value", 1},
		{`1.`, false, "digit after the decimal point", 2},
		{`1e`, false, "digit in the exponent", 2},
		{`-`, false, "unexpected end of JSON input in number", 1},
		{`+1`, false, "beginning of a value", 0},
		{`tru`, false, `expected "true"`, 0},
		{`nul`, false, `expected "null"`, 0},
		{`NaN`, false, "beginning of a value", 0},
		{`"abc`, false, "unterminated string starting at offset 0", 0},
		{"\"a\tb\"", false, "control character 0x09", 2},
		{"\"\xff\"", false, "invalid UTF-8", 1},
		{"\"abcdefgh\xc3\x28\"", false, "invalid UTF-8", 9},
		{`"\x"`, false, `invalid escape \x`, 1},
		{`"\u12"`, false, `invalid \u escape`, 1},
		{`"\ud800"`, false, "lone leading surrogate", 1},
		{`"\ud800\u0041"`, false, "lone leading surrogate", 1},
		{`"\udc00"`, false, "lone trailing surrogate", 1},
		{`{"a":1}{"b":2}`, false, "after the JSON value", 7},
		{`{1:2}`, false, "looking for an object key", 1},
		{strings.Repeat("[", 1001) + strings.Repeat("]", 1001), false, "nested deeper than 1000", 1000},
		{strings.Repeat("[", 1000) + strings.Repeat("]", 1000), true, "", 0},
	}
	for _, c := range cases {
		compact, err := validateJSON([]byte(c.in))
		if c.err == "" {
			if err != nil {
				t.Errorf("%.40q: unexpected error %v", c.in, err)
			} else if compact != c.compact {
				t.Errorf("%.40q: compact = %v, want %v", c.in, compact, c.compact)
			}
			if !json.Valid([]byte(c.in)) {
				t.Errorf("%.40q: we accept what encoding/json rejects", c.in)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%.40q: got %v, want error containing %q", c.in, err, c.err)
			continue
		}
		if pos := errPos(err); pos != c.pos {
			t.Errorf("%.40q: error at offset %d, want %d (%v)", c.in, pos, c.pos, err)
		}
	}
}

// FuzzValidateJSON checks the validator against encoding/json, which differs only in accepting
// invalid UTF-8 and lone surrogate escapes (and in having no depth limit).
func FuzzValidateJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":null}]}`, `"\ud83d\ude00"`, `1e5`, `[`, ` {"a" : "b" } `, "\"\xff\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := validateJSON(b)
		std := json.Valid(b)
		if err == nil && !std {
			t.Fatalf("we accept %q, encoding/json does not", b)
		}
		if err != nil && std && utf8.Valid(b) && !strings.Contains(err.Error(), "surrogate") && !strings.Contains(err.Error(), "nested") {
			t.Fatalf("we reject %q (%v), encoding/json accepts", b, err)
		}
		if err == nil {
			c := appendCompact(nil, b)
			if !json.Valid(c) {
				t.Fatalf("compact form of %q is invalid: %q", b, c)
			}
			if compact, _ := validateJSON(c); !compact {
				t.Fatalf("compact form of %q still has whitespace: %q", b, c)
			}
		}
	})
}

func TestJSONCodecs(t *testing.T) {
	dec, err := NewDecoder(abi.SchemaJSON, Options{Stream: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := NewEncoder(abi.SchemaJSON, Options{Stream: "orders"})

	// Zero copy: an untouched compact payload leaves as the very same bytes.
	in := []byte(`{"a":1,"b":"x"}`)
	p, err := dec.Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := enc.Encode(&p)
	if err != nil || &out[0] != &in[0] || len(out) != len(in) {
		t.Fatalf("no-op path must return the input slice: %q %v", out, err)
	}
	if b, tag := p.ForPlugin(); &b[0] != &in[0] || tag != abi.SchemaJSON {
		t.Fatal("ForPlugin must return the input slice tagged json")
	}

	// Whitespace is removed, nothing else changes (numbers keep their text, duplicates stay).
	p, _ = dec.Decode([]byte(" {\n \"n\": 1.50e3 , \"s\" : \"a b\", \"s\": 2 }\n"))
	if out, _ := enc.Encode(&p); string(out) != `{"n":1.50e3,"s":"a b","s":2}` {
		t.Fatalf("got %s", out)
	}

	_, err = dec.Decode([]byte(`{"a":tru}`))
	var ce *Error
	if !asError(err, &ce) || ce.Op != "decode" || ce.Schema != abi.SchemaJSON || ce.Stream != "orders" || ce.Offset != 5 {
		t.Fatalf("want *Error at offset 5 naming the stream, got %#v", err)
	}
	if want := `decode json payload of stream "orders" at byte offset 5: invalid literal, expected "true"`; err.Error() != want {
		t.Fatalf("error text %q, want %q", err.Error(), want)
	}
}

func TestEncodersAcrossKinds(t *testing.T) {
	anyBytes := []byte("\x0a\x03t/x\x12\x01\x07") // Any{type_url:"t/x", value:[7]}
	fb := []byte{4, 0, 0, 0, 9, 9}
	type tc struct {
		schema abi.Schema
		kind   Kind
		in     string
		want   string // "" with err set
		err    string
	}
	cases := []tc{
		{abi.SchemaJSON, KindJSON, `{"a": [1, 2]}`, `{"a":[1,2]}`, ""},
		{abi.SchemaJSON, KindText, "he said \"hi\"\n", `"he said \"hi\"\n"`, ""},
		{abi.SchemaJSON, KindRaw, "x", "", "a raw payload cannot be encoded as JSON"},
		{abi.SchemaJSON, KindProto, string(anyBytes), `{"type_url":"t/x","value":"Bw=="}`, ""},
		{abi.SchemaJSON, KindFlatBuffer, string(fb), `{"buffer_size":6,"has_root_table":true,"raw_data_base64":"BAAAAAkJ"}`, ""},
		{abi.SchemaRaw, KindRaw, "\x00\xff", "\x00\xff", ""},
		{abi.SchemaRaw, KindJSON, `{}`, "", "accepts only raw payloads, not json"},
		{abi.SchemaRaw, KindText, `t`, "", "accepts only raw payloads, not text"},
		{abi.SchemaText, KindText, "héllo", "héllo", ""},
		{abi.SchemaText, KindJSON, "[1, {\"a\": 2}]", `[1,{"a":2}]`, ""},
		{abi.SchemaText, KindRaw, "x", "", "cannot be encoded as text"},
		{abi.SchemaText, KindProto, string(anyBytes), `{"type_url":"t/x","value":"Bw=="}`, ""},
		{abi.SchemaText, KindProto, "\xff", "", "has no JSON view"},
	}
	for _, c := range cases {
		enc, err := NewEncoder(c.schema, Options{Stream: "st"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := NewPayload(c.kind, []byte(c.in))
		if err != nil {
			t.Fatal(err)
		}
		out, err := enc.Encode(&p)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), `encode `+string(c.schema)+` payload of stream "st"`) {
				t.Errorf("%s ← %v %q: got %v, want error %q", c.schema, c.kind, c.in, err, c.err)
			}
			continue
		}
		if err != nil || string(out) != c.want {
			t.Errorf("%s ← %v %q: got %q, %v; want %q", c.schema, c.kind, c.in, out, err, c.want)
		}
	}
}

func TestDecoders(t *testing.T) {
	cases := []struct {
		schema abi.Schema
		in     string
		kind   Kind
		err    string
	}{
		{"", `{"a":1}`, KindJSON, ""},
		{abi.SchemaJSON, `[`, 0, "at byte offset 1: unexpected end of JSON input"},
		{abi.SchemaRaw, "\xff\x00", KindRaw, ""},
		{abi.SchemaRaw, "", KindRaw, ""},
		{abi.SchemaText, "héllo", KindText, ""},
		{abi.SchemaText, "ok\xffno", 0, "at byte offset 2: invalid UTF-8"},
		{abi.SchemaFlatBuffer, "\x04\x00\x00\x00", KindFlatBuffer, ""},
		{abi.SchemaFlatBuffer, "", 0, "empty payload"},
		{abi.SchemaFlatBuffer, "\x01\x02\x03", 0, "at least 4 bytes, got 3"},
	}
	for _, c := range cases {
		dec, err := NewDecoder(c.schema, Options{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := dec.Decode([]byte(c.in))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s %q: got %v, want %q", c.schema, c.in, err, c.err)
			}
			continue
		}
		if err != nil || p.Kind() != c.kind || p.Kind() != dec.Kind() || string(p.Bytes()) != c.in {
			t.Errorf("%s %q: got %v %q %v", c.schema, c.in, p.Kind(), p.Bytes(), err)
		}
	}
}

func TestConstructionErrors(t *testing.T) {
	cases := []struct {
		schema abi.Schema
		opts   Options
		want   string
	}{
		{"avro", Options{}, "avro_schema_path: schema avro needs the writer's schema"},
		{"avro", Options{AvroSchemaJSON: `"string"`, AvroSchemaPath: "x.avsc"}, "avro_schema_json: set either avro_schema_json or avro_schema_path, not both"},
		{"avro", Options{AvroSchemaJSON: `{"type":"record"}`}, "avro_schema_json: invalid Avro schema"},
		{"avro", Options{AvroSchemaPath: "testdata/missing.avsc"}, "avro_schema_path: open testdata/missing.avsc"},
		{abi.SchemaJSON, Options{AvroSchemaJSON: `"string"`}, `avro_schema_json is only valid for schema avro, not "json"`},
		{abi.SchemaRaw, Options{AvroConfluentSchemaID: 3}, `avro_confluent_schema_id is only valid for schema avro, not "raw"`},
		{"yaml", Options{}, `unknown schema "yaml" (supported: json, raw, text, proto, flatbuffer, avro)`},
		{abi.SchemaJSON, Options{ProtoDescriptorSet: "x"}, `proto_descriptor_set is only valid for schema proto, not "json"`},
		{abi.SchemaRaw, Options{ProtoMessageType: "x"}, "proto_message_type is only valid for schema proto"},
		{abi.SchemaProto, Options{FlatBufferSchema: "x"}, "flatbuffer_schema is only valid for schema flatbuffer"},
		{abi.SchemaText, Options{FlatBufferRootTable: "x"}, "flatbuffer_root_table is only valid for schema flatbuffer"},
	}
	for _, c := range cases {
		_, derr := NewDecoder(c.schema, c.opts)
		_, eerr := NewEncoder(c.schema, c.opts)
		for _, err := range []error{derr, eerr} {
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s %+v: got %v, want %q", c.schema, c.opts, err, c.want)
			}
		}
	}
}

func TestFlatBufferWithoutSchema(t *testing.T) {
	enc, _ := NewEncoder(abi.SchemaFlatBuffer, Options{})
	dec, _ := NewDecoder(abi.SchemaFlatBuffer, Options{})
	read := func(b []byte) (root int) { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 | int(b[3])<<24 }
	vecStrings := func(b []byte) []string {
		v := read(b)
		n := read(b[v:])
		var out []string
		for i := 0; i < n; i++ {
			at := v + 4 + 4*i
			s := at + read(b[at:])
			out = append(out, string(b[s+4:s+4+read(b[s:])]))
		}
		return out
	}
	str := func(b []byte) string { s := read(b); return string(b[s+4 : s+4+read(b[s:])]) }

	obj, _ := NewPayload(KindJSON, []byte(`{"name":"Ann","age":30,"tags":["x"],"q":"a\"b"}`))
	out, err := enc.Encode(&obj)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(vecStrings(out), "|"); got != `name|Ann|age|30|tags|["x"]|q|a"b` {
		t.Fatalf("object: %q", got)
	}
	arr, _ := NewPayload(KindJSON, []byte(`[1, 2]`))
	out, _ = enc.Encode(&arr)
	if str(out) != `[1,2]` {
		t.Fatalf("array root: %q", str(out))
	}
	txt, _ := NewPayload(KindText, []byte(`plain words`))
	out, _ = enc.Encode(&txt)
	if str(out) != `plain words` {
		t.Fatalf("text root: %q", str(out))
	}
	jtxt, _ := NewPayload(KindText, []byte(`{"k": "v"}`))
	out, _ = enc.Encode(&jtxt)
	if got := strings.Join(vecStrings(out), "|"); got != "k|v" {
		t.Fatalf("text holding JSON: %q", got)
	}
	raw, _ := NewPayload(KindRaw, []byte{9, 8, 7})
	out, _ = enc.Encode(&raw)
	if v := read(out); read(out[v:]) != 3 || string(out[v+4:v+7]) != "\x09\x08\x07" {
		t.Fatalf("raw: %v", out)
	}
	p, err := dec.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	if back, err := enc.Encode(&p); err != nil || &back[0] != &out[0] {
		t.Fatal("flatbuffer payloads pass through")
	}
}
