package codec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/iggy-go/connectors/abi"
)

const fbOrderJSON = `{"id":18446744073709551615,"customer":"Zoë \"Q\"","color":"Green",
"pos":{"x":1.5,"y":-2,"z":0.25},
"box":{"min":{"x":0,"y":0,"z":0},"max":{"x":1,"y":2,"z":3},"tag":7,"ids":[1,-2,2147483647]},
"items":[{"name":"apple","qty":3,"price":0.5},{"name":"pear","qty":1,"price":2}],
"tags":["a","b"],"scores":[-32768,32767],"flags":[true,false,true],
"points":[{"x":1,"y":2,"z":3}],"extra_type":"Promo","extra":{"code":"X1","percent":15},
"big":-9223372036854775808,"ratio":0.1,"active":false,"maybe":0,"raw":[0,255,7],"colors":["Red","Blue"],"neg":-5}`

func TestFlatBufferRoundTripWithSchema(t *testing.T) {
	schema := flatBufferSchema(t)
	opts := Options{Stream: "orders", FlatBufferSchema: schema}
	enc, err := NewEncoder(abi.SchemaFlatBuffer, opts)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder(abi.SchemaFlatBuffer, opts)
	if err != nil {
		t.Fatal(err)
	}
	if dec.Kind() != KindJSON {
		t.Fatalf("decoder kind %v, want json", dec.Kind())
	}
	in, err := NewPayload(KindJSON, []byte(fbOrderJSON))
	if err != nil {
		t.Fatal(err)
	}
	bin, err := enc.Encode(&in)
	if err != nil {
		t.Fatal(err)
	}
	if string(bin[4:8]) != "ORDR" {
		t.Errorf("file identifier %q, want ORDR", bin[4:8])
	}
	p, err := dec.Decode(bin)
	if err != nil {
		t.Fatal(err)
	}
	got := p.Bytes()
	// Every field of the input comes back; the only addition is nothing (all scalars were given).
	if !sameJSON(t, got, []byte(fbOrderJSON)) {
		t.Fatalf("round trip differs:\n got %s\nwant %s", got, fbOrderJSON)
	}
	// Field order is declaration order.
	if !strings.HasPrefix(string(got), `{"id":18446744073709551615,"customer":"Zoë \"Q\"","color":"Green","pos":{"x":1.5,"y":-2,"z":0.25}`) {
		t.Errorf("unexpected order/rendering: %s", got)
	}

	// Independent check: flatc itself reads our buffer.
	flatc := requireTool(t, "flatc", "flatbuffers-compiler")
	dir := t.TempDir()
	binPath := filepath.Join(dir, "order.bin")
	if err := os.WriteFile(binPath, bin, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, nil, flatc, "--json", "--strict-json", "--raw-binary", "-o", dir, filepath.Join("testdata", "order.fbs"), "--", binPath)
	flatcJSON, err := os.ReadFile(filepath.Join(dir, "order.json"))
	if err != nil {
		t.Fatal(err)
	}
	// flatc omits fields equal to their defaults and prints floats its own way; compare the fields it
	// shows against ours.
	fj := decodeJSON(t, flatcJSON).(map[string]any)
	ours := decodeJSON(t, got).(map[string]any)
	if !contains(ours, fj) {
		t.Errorf("flatc reads our buffer as\n%s\nwe decode it as\n%s", flatcJSON, got)
	}
	for _, k := range []string{"customer", "items", "tags", "extra", "extra_type", "box", "colors", "raw", "big", "id"} {
		if _, ok := fj[k]; !ok {
			t.Errorf("flatc does not see field %s in our buffer: %s", k, flatcJSON)
		}
	}
}

func TestFlatBufferDecodeFlatcBuffer(t *testing.T) {
	schema := flatBufferSchema(t)
	flatc := requireTool(t, "flatc", "flatbuffers-compiler")
	dir := t.TempDir()
	src := `{customer: "bob", items: [{name: "x"}], extra_type: "Note", extra: {text: "hi"}, pos: {x: 1, y: 2, z: 3}, colors: [Green]}`
	jsonPath := filepath.Join(dir, "in.json")
	if err := os.WriteFile(jsonPath, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, nil, flatc, "--binary", "-o", dir, filepath.Join("testdata", "order.fbs"), jsonPath)
	bin, err := os.ReadFile(filepath.Join(dir, "in.bin"))
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder(abi.SchemaFlatBuffer, Options{FlatBufferSchema: schema})
	if err != nil {
		t.Fatal(err)
	}
	p, err := dec.Decode(bin)
	if err != nil {
		t.Fatal(err)
	}
	// Scalars absent from the buffer appear with their defaults (qty = 1, color = Blue, active =
	// true, neg = -5); the optional scalar "maybe" and absent non-scalars are omitted.
	want := `{"id":0,"customer":"bob","color":"Blue","pos":{"x":1,"y":2,"z":3},"items":[{"name":"x","qty":1,"price":0}],` +
		`"extra_type":"Note","extra":{"text":"hi"},"big":0,"ratio":0,"active":true,"colors":["Green"],"neg":-5}`
	if got := string(p.Bytes()); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestFlatBufferMalformedBuffersAreErrors(t *testing.T) {
	schema := flatBufferSchema(t)
	opts := Options{FlatBufferSchema: schema, Stream: "s1"}
	enc, _ := NewEncoder(abi.SchemaFlatBuffer, opts)
	dec, err := NewDecoder(abi.SchemaFlatBuffer, opts)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := NewPayload(KindJSON, []byte(fbOrderJSON))
	bin, err := enc.Encode(&in)
	if err != nil {
		t.Fatal(err)
	}
	// Every truncation and many single-byte corruptions must give an error or a valid result, never a
	// panic; truncations that cut the root must be errors.
	for n := 0; n < len(bin); n++ {
		if _, err := dec.Decode(bin[:n]); err == nil && n < 8 {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
	for i := 0; i < len(bin); i++ {
		for _, v := range []byte{0x00, 0xff, 0x7f, 0x80} {
			c := append([]byte(nil), bin...)
			c[i] = v
			_, _ = dec.Decode(c)
		}
	}
	_, err = dec.Decode([]byte{1, 2, 3})
	var ce *Error
	if !asError(err, &ce) || ce.Stream != "s1" || !strings.Contains(err.Error(), `stream "s1"`) {
		t.Fatalf("want *Error naming the stream, got %v", err)
	}
	bad := append([]byte(nil), bin...)
	bad[0] = 0xf0 // root offset far outside the buffer
	if _, err := dec.Decode(bad); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Fatalf("want out-of-bounds error, got %v", err)
	}
}

func TestFlatBufferEncodeErrors(t *testing.T) {
	schema := flatBufferSchema(t)
	enc, err := NewEncoder(abi.SchemaFlatBuffer, Options{FlatBufferSchema: schema, Stream: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ in, want string }{
		{`{"nope":1}`, `$: table shop.Order has no field "nope"`},
		{`{"id":-1}`, `$.id: -1 is not a ulong (uint64)`},
		{`{"scores":[40000]}`, `$.scores[0]: 40000 is out of range for short (int16)`},
		{`{"color":"Purple"}`, `$.color: "Purple" is not a value of enum shop.Color (one of Red, Green, Blue)`},
		{`{"items":[{"qty":2}]}`, `$.items[0]: required field shop.Item.name is missing`},
		{`{"pos":{"x":1,"y":2}}`, `$.pos.z: struct field shop.Vec3.z is missing`},
		{`{"box":{"min":{"x":0,"y":0,"z":0},"max":{"x":0,"y":0,"z":0},"tag":1,"ids":[1]}}`, `$.box.ids: want exactly 3 elements, got 1`},
		{`{"extra":{"text":"x"}}`, `$.extra: union value needs "extra_type"`},
		{`{"extra_type":"Nope","extra":{}}`, `$.extra_type: "Nope" is not a value of enum shop.Extra`},
		{`{"customer":5}`, `$.customer: want a string, got a number`},
		{`[1,2]`, `root table shop.Order needs a JSON object, got an array`},
	}
	for _, c := range cases {
		p, err := NewPayload(KindJSON, []byte(c.in))
		if err != nil {
			t.Fatal(err)
		}
		_, err = enc.Encode(&p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `stream "orders"`) {
			t.Errorf("%s: got %v, want error containing %q", c.in, err, c.want)
		}
	}
	// Unions of the NONE type and null values are absence.
	p, _ := NewPayload(KindJSON, []byte(`{"customer":null,"extra_type":"NONE"}`))
	if _, err := enc.Encode(&p); err != nil {
		t.Errorf("null and NONE: %v", err)
	}
}

func TestFlatBufferSchemaOptionErrors(t *testing.T) {
	schema := flatBufferSchema(t)
	notSchema := filepath.Join(t.TempDir(), "x.bfbs")
	os.WriteFile(notSchema, []byte("definitely not a schema"), 0o600)
	cases := []struct {
		opts Options
		want string
	}{
		{Options{FlatBufferSchema: "/nonexistent/x.bfbs"}, "flatbuffer_schema: open /nonexistent/x.bfbs"},
		{Options{FlatBufferSchema: notSchema}, "not a binary FlatBuffers schema"},
		{Options{FlatBufferSchema: schema, FlatBufferRootTable: "shop.Nope"}, `flatbuffer_root_table "shop.Nope": no such table`},
		{Options{FlatBufferSchema: schema, FlatBufferRootTable: "shop.Vec3"}, "is a struct"},
		{Options{FlatBufferRootTable: "shop.Order"}, "flatbuffer_root_table needs flatbuffer_schema"},
	}
	for _, c := range cases {
		for _, mk := range []func() error{
			func() error { _, err := NewDecoder(abi.SchemaFlatBuffer, c.opts); return err },
			func() error { _, err := NewEncoder(abi.SchemaFlatBuffer, c.opts); return err },
		} {
			if err := mk(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%+v: got %v, want %q", c.opts, err, c.want)
			}
		}
	}
	// A non-root table can be chosen.
	enc, err := NewEncoder(abi.SchemaFlatBuffer, Options{FlatBufferSchema: schema, FlatBufferRootTable: "shop.Item"})
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := NewDecoder(abi.SchemaFlatBuffer, Options{FlatBufferSchema: schema, FlatBufferRootTable: "shop.Item"})
	p, _ := NewPayload(KindJSON, []byte(`{"name":"n","qty":9}`))
	bin, err := enc.Encode(&p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := dec.Decode(bin)
	if err != nil || string(back.Bytes()) != `{"name":"n","qty":9,"price":0}` {
		t.Fatalf("got %s, %v", back.Bytes(), err)
	}
}

func TestFlatBufferSchemaEncoderPassesVerifiedBuffers(t *testing.T) {
	schema := flatBufferSchema(t)
	enc, _ := NewEncoder(abi.SchemaFlatBuffer, Options{FlatBufferSchema: schema})
	in, _ := NewPayload(KindJSON, []byte(`{"customer":"c"}`))
	bin, err := enc.Encode(&in)
	if err != nil {
		t.Fatal(err)
	}
	fb, _ := NewPayload(KindFlatBuffer, bin)
	out, err := enc.Encode(&fb)
	if err != nil || &out[0] != &bin[0] {
		t.Fatalf("a valid buffer must pass as is: %v", err)
	}
	junk, _ := NewPayload(KindRaw, []byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0})
	if _, err := enc.Encode(&junk); err == nil {
		t.Fatal("an invalid raw buffer must be rejected")
	}
	pr, _ := NewPayload(KindProto, []byte{8, 1})
	if _, err := enc.Encode(&pr); err == nil {
		t.Fatal("proto payloads cannot become FlatBuffers")
	}
}

func TestFlatBufferUnsupportedSchemas(t *testing.T) {
	flatc := requireTool(t, "flatc", "flatbuffers-compiler")
	cases := []struct{ fbs, want string }{
		{`table A { x: int; } table B { y: int; } union U { A, B } table R { us: [U]; } root_type R;`, "field R.us: vectors of unions are not supported"},
	}
	for _, c := range cases {
		dir := t.TempDir()
		src := filepath.Join(dir, "s.fbs")
		os.WriteFile(src, []byte(c.fbs), 0o600)
		run(t, nil, flatc, "--binary", "--schema", "-o", dir, src)
		_, err := NewDecoder(abi.SchemaFlatBuffer, Options{FlatBufferSchema: filepath.Join(dir, "s.bfbs")})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.fbs, err, c.want)
		}
	}
	// A schema without root_type needs flatbuffer_root_table.
	dir := t.TempDir()
	src := filepath.Join(dir, "n.fbs")
	os.WriteFile(src, []byte(`namespace n; table T { x: int; }`), 0o600)
	run(t, nil, flatc, "--binary", "--schema", "-o", dir, src)
	if _, err := NewDecoder(abi.SchemaFlatBuffer, Options{FlatBufferSchema: filepath.Join(dir, "n.bfbs")}); err == nil || !strings.Contains(err.Error(), "declares no root_type: set flatbuffer_root_table") {
		t.Errorf("no root_type: %v", err)
	}
	if _, err := NewDecoder(abi.SchemaFlatBuffer, Options{FlatBufferSchema: filepath.Join(dir, "n.bfbs"), FlatBufferRootTable: "n.T"}); err != nil {
		t.Errorf("explicit root table: %v", err)
	}
}

func TestFlatBufferEnumsAndScalarsEdgeCases(t *testing.T) {
	schema := flatBufferSchema(t)
	enc, _ := NewEncoder(abi.SchemaFlatBuffer, Options{FlatBufferSchema: schema})
	dec, _ := NewDecoder(abi.SchemaFlatBuffer, Options{FlatBufferSchema: schema})
	cases := []struct{ in, wantSub string }{
		// enums by number; undeclared values come back as numbers
		{`{"color":1,"colors":[2,7]}`, `"color":"Green"`},
		{`{"colors":[2,7]}`, `"colors":["Blue",7]`},
		// bool from 0/1, optional scalar present, byte default
		{`{"active":0,"maybe":-1,"neg":127}`, `"active":false,"maybe":-1,"old"`},
		{`{"ratio":3.4028234663852886e38}`, `"ratio":3.4028235e+38`},
	}
	for _, c := range cases {
		p, _ := NewPayload(KindJSON, []byte(c.in))
		bin, err := enc.Encode(&p)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		out, err := dec.Decode(bin)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		got := string(out.Bytes())
		want := c.wantSub
		if strings.HasSuffix(want, `,"old"`) { // "old" is deprecated: it must never appear
			want = strings.TrimSuffix(want, `,"old"`)
			if strings.Contains(got, `"old"`) {
				t.Errorf("%s: deprecated field in %s", c.in, got)
			}
		}
		if !strings.Contains(got, want) {
			t.Errorf("%s: got %s, want it to contain %s", c.in, got, want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{`{"active":2}`, "want a boolean"},
		{`{"color":1.5}`, "is not a value of enum shop.Color"},
		{`{"color":true}`, "want a name of enum shop.Color or a number, got a boolean"},
		{`{"ratio":1e39}`, "out of range for a 32-bit float"},
		{`{"ratio":"x"}`, "want a number, got a string"},
		{`{"neg":128}`, "128 is out of range for byte (int8)"},
		{`{"maybe":2147483648}`, "out of range for int (int32)"},
		{`{"box":{"min":{"x":0,"y":0,"z":0},"max":{"x":0,"y":0,"z":0},"tag":256,"ids":[1,2,3]}}`, "256 is out of range for ubyte (uint8)"},
		{`{"items":"x"}`, "$.items: want an array, got a string"},
		{`{"items":[1]}`, "$.items[0]: want an object (table shop.Item), got a number"},
		{`{"tags":[null]}`, "$.tags[0]: want a string, got null"},
		{`{"pos":[1,2,3]}`, "$.pos: want an object (struct shop.Vec3), got an array"},
		{`{"pos":{"x":1,"y":2,"z":3,"w":4}}`, `struct shop.Vec3 has no field "w"`},
		{`{"extra_type":"Note","extra":5}`, "$.extra: want an object (table shop.Note), got a number"},
		{`{"old":1}`, `has no field "old"`},
	} {
		p, _ := NewPayload(KindJSON, []byte(c.in))
		if _, err := enc.Encode(&p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.in, err, c.want)
		}
	}
}

func TestFlatBufferSharedOffsetsCannotExplode(t *testing.T) {
	schema := flatBufferSchema(t)
	dec, _ := NewDecoder(abi.SchemaFlatBuffer, Options{FlatBufferSchema: schema})
	// Build an Order whose "tags" vector has 100000 offsets all pointing at one 1 KiB string: a
	// ~400 KB buffer that would expand into ~100 MB of JSON.
	bl := flatbuffers.NewBuilder(0)
	str := bl.CreateString(strings.Repeat("x", 1024))
	const n = 100000
	bl.StartVector(4, n, 4)
	for i := 0; i < n; i++ {
		bl.PrependUOffsetT(str)
	}
	vec := bl.EndVector(n)
	bl.StartObject(20)
	bl.PrependUOffsetTSlot(6, vec, 0) // tags has id 6
	bl.Finish(bl.EndObject())
	_, err := dec.Decode(bl.FinishedBytes())
	if err == nil || !strings.Contains(err.Error(), "expands to more than") {
		t.Fatalf("want an expansion error, got %v", err)
	}
}

// FuzzFlatBufferDecode checks that no buffer makes the schema-driven decoder panic, and that what it
// accepts becomes valid JSON.
func FuzzFlatBufferDecode(f *testing.F) {
	schema := flatBufferSchema(f)
	enc, _ := NewEncoder(abi.SchemaFlatBuffer, Options{FlatBufferSchema: schema})
	dec, _ := NewDecoder(abi.SchemaFlatBuffer, Options{FlatBufferSchema: schema})
	for _, js := range []string{fbOrderJSON, `{}`, `{"customer":"c","extra_type":"Note","extra":{"text":"t"}}`} {
		p, _ := NewPayload(KindJSON, []byte(js))
		b, err := enc.Encode(&p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := dec.Decode(b)
		if err != nil {
			return
		}
		out := p.Bytes()
		if _, err := validateJSON(out); err != nil {
			t.Fatalf("decoder produced invalid JSON %s: %v", out, err)
		}
	})
}
