package codec

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const orderAvsc = "testdata/order.avsc"

func avroCodecs(t testing.TB, opts Options) (Decoder, Encoder) {
	t.Helper()
	dec, err := NewDecoder("avro", opts)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := NewEncoder("avro", opts)
	if err != nil {
		t.Fatal(err)
	}
	return dec, enc
}

const orderJSON = `{"id":42,"qty":3,"customer":"Zoë \"Q\"","paid":true,"total":19.99,"discount":0.25,"note":null,` +
	`"status":"PAID","items":[{"sku":"A-1","price":9.5,"tags":["x","y"]},{"sku":"B","price":10.49,"tags":[]}],` +
	`"attrs":{"a":1,"b":-2},"digest":"abcd","blob":"\u0000ÿ\"","created":1700000000123,` +
	`"gift":{"sku":"G","price":0,"tags":[]},"nothing":null}`

// sameJSONValue compares two JSON texts as values, numbers as float64 (Python and Go render floats
// differently: 0.0 and 0).
func sameJSONValue(t testing.TB, got, want []byte) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("not JSON: %s: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("not JSON: %s: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

func TestAvroRoundTrip(t *testing.T) {
	for _, framed := range []uint32{0, 7} {
		dec, enc := avroCodecs(t, Options{AvroSchemaPath: orderAvsc, AvroConfluentSchemaID: framed})
		if dec.Kind() != KindJSON || enc.Schema() != "avro" {
			t.Fatalf("kind %s schema %s", dec.Kind(), enc.Schema())
		}
		p := jsonPayload([]byte(orderJSON), true)
		bin, err := enc.Encode(&p)
		if err != nil {
			t.Fatal(err)
		}
		if framed != 0 && !bytes.HasPrefix(bin, []byte{0, 0, 0, 0, 7}) {
			t.Fatalf("no Confluent header: % x", bin[:5])
		}
		out, err := dec.Decode(bin)
		if err != nil {
			t.Fatal(err)
		}
		// Fields come back in schema order, exactly as sent (orderJSON is in schema order).
		if string(out.Bytes()) != orderJSON {
			t.Fatalf("round trip (framed=%d):\n got %s\nwant %s", framed, out.Bytes(), orderJSON)
		}
	}
}

// TestAvroKnownBytes checks the encoding against bytes worked out by hand from the Avro spec.
func TestAvroKnownBytes(t *testing.T) {
	schema := `{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"s","type":"string"},` +
		`{"name":"u","type":["null","int"]},{"name":"m","type":{"type":"map","values":"boolean"}}]}`
	dec, enc := avroCodecs(t, Options{AvroSchemaJSON: schema})
	p := jsonPayload([]byte(`{"m":{"k":true},"u":-1,"s":"hé","a":-64}`), true)
	bin, err := enc.Encode(&p)
	if err != nil {
		t.Fatal(err)
	}
	// a=-64 → zigzag 127 → 7f; s: len 3 → 06 'h' c3 a9; u: branch 1 → 02, -1 → 01; m: count 1 → 02,
	// key len 1 → 02 'k', true → 01, end 00
	want := []byte{0x7f, 0x06, 'h', 0xc3, 0xa9, 0x02, 0x01, 0x02, 0x02, 'k', 0x01, 0x00}
	if !bytes.Equal(bin, want) {
		t.Fatalf("encoded % x, want % x", bin, want)
	}
	out, err := dec.Decode(want)
	if err != nil || string(out.Bytes()) != `{"a":-64,"s":"hé","u":-1,"m":{"k":true}}` {
		t.Fatalf("decoded %s, %v", out.Bytes(), err)
	}
	// Negative block counts (with a byte size) are read as the spec allows.
	out, err = dec.Decode([]byte{0x00, 0x00, 0x00, 0x01, 0x04, 0x02, 'k', 0x00, 0x00})
	if err != nil || string(out.Bytes()) != `{"a":0,"s":"","u":null,"m":{"k":false}}` {
		t.Fatalf("negative block count: %s, %v", out.Bytes(), err)
	}
}

func TestAvroDefaultsAndMissingFields(t *testing.T) {
	dec, enc := avroCodecs(t, Options{AvroSchemaPath: orderAvsc})
	p := jsonPayload([]byte(`{"id":1,"qty":1,"customer":"c","paid":false,"total":1,"discount":1,"items":[{"sku":"s","price":1}],`+
		`"digest":[1,2,3,4],"created":5,"ignored":"not in the schema"}`), true)
	bin, err := enc.Encode(&p)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := dec.Decode(bin)
	want := `{"id":1,"qty":1,"customer":"c","paid":false,"total":1,"discount":1,"note":null,"status":"NEW",` +
		`"items":[{"sku":"s","price":1,"tags":[]}],"attrs":{},"digest":"\u0001\u0002\u0003\u0004","blob":"",` +
		`"created":5,"gift":null,"nothing":null}`
	if string(out.Bytes()) != want {
		t.Fatalf("got  %s\nwant %s", out.Bytes(), want)
	}
}

// TestAvroEncodeErrorsNameTheField: values the schema does not accept are errors naming the field.
func TestAvroEncodeErrorsNameTheField(t *testing.T) {
	_, enc := avroCodecs(t, Options{AvroSchemaPath: orderAvsc, Stream: "orders"})
	base := map[string]any{}
	if err := json.Unmarshal([]byte(orderJSON), &base); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		edit func(m map[string]any)
		want string
	}{
		{func(m map[string]any) { delete(m, "customer") }, `field customer: missing (the field has no default and its type string does not allow null)`},
		{func(m map[string]any) { m["qty"] = 3000000000 }, `field qty: 3000000000 out of the int range`},
		{func(m map[string]any) { m["qty"] = 1.5 }, `field qty: expected an integer (int), got the number 1.5`},
		{func(m map[string]any) { m["status"] = "LOST" }, `field status: "LOST" is not a symbol of enum shop.v1.Status (NEW, PAID, SHIPPED)`},
		{func(m map[string]any) { m["items"].([]any)[1].(map[string]any)["price"] = "cheap" }, `field items[1].price: expected a number (double), got the string "cheap"`},
		{func(m map[string]any) { m["digest"] = "abc" }, `field digest: fixed shop.v1.MD5 needs 4 bytes, got 3`},
		{func(m map[string]any) { m["blob"] = "€" }, `field blob: bytes are written as a string of code points U+0000..U+00FF`},
		{func(m map[string]any) { m["attrs"] = map[string]any{"x": "y"} }, `field attrs["x"]: expected an integer (long), got the string "y"`},
		{func(m map[string]any) { m["note"] = 5 }, `field note: no branch of the union [null, string] accepts the number 5`},
		{func(m map[string]any) { m["gift"] = map[string]any{"sku": "G", "price": "free"} }, `field gift.price: expected a number (double), got the string "free"`},
	}
	for _, c := range cases {
		m := map[string]any{}
		_ = json.Unmarshal([]byte(orderJSON), &m)
		c.edit(m)
		js, _ := json.Marshal(m)
		p := jsonPayload(js, true)
		_, err := enc.Encode(&p)
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `encode avro payload of stream "orders"`) {
			t.Errorf("got %v\nwant an *Error containing %q", err, c.want)
		}
	}
	for _, p := range []Payload{{kind: KindText, data: []byte("not json")}, {kind: KindRaw, data: []byte{0xff}}, {kind: KindProto, data: []byte{1}}} {
		if _, err := enc.Encode(&p); err == nil {
			t.Errorf("%s payload %q encoded", p.kind, p.data)
		}
	}
	// text holding JSON, and raw holding a valid datum, are accepted
	tp := Payload{kind: KindText, data: []byte(orderJSON)}
	bin, err := enc.Encode(&tp)
	if err != nil {
		t.Fatal(err)
	}
	rp := Payload{kind: KindRaw, data: bin}
	if same, err := enc.Encode(&rp); err != nil || !bytes.Equal(same, bin) {
		t.Fatalf("raw datum: %v", err)
	}
}

// TestAvroMalformedRecords: truncated datums and datums written with another schema are reported
// per payload, naming the field and the byte offset.
func TestAvroMalformedRecords(t *testing.T) {
	dec, enc := avroCodecs(t, Options{AvroSchemaPath: orderAvsc, Stream: "orders"})
	p := jsonPayload([]byte(orderJSON), true)
	good, err := enc.Encode(&p)
	if err != nil {
		t.Fatal(err)
	}
	// every truncation fails, none panics, and each names a field
	for n := 0; n < len(good); n++ {
		_, err := dec.Decode(good[:n])
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "field ") || !strings.Contains(err.Error(), "truncated") || ce.Offset < 0 || ce.Offset > n {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
	}
	_, err = dec.Decode(good[:20])
	if err == nil || !strings.Contains(err.Error(), `decode avro payload of stream "orders" at byte offset`) {
		t.Fatalf("truncated: %v", err)
	}
	// written with another schema
	other := `{"type":"record","name":"Other","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"},{"name":"when","type":"int"}]}`
	_, oenc := avroCodecs(t, Options{AvroSchemaJSON: other})
	op := jsonPayload([]byte(`{"id":5,"name":"something longer than the rest","when":3}`), true)
	ob, _ := oenc.Encode(&op)
	_, err = dec.Decode(ob)
	if err == nil || !strings.Contains(err.Error(), "field ") {
		t.Fatalf("datum of another schema: %v", err)
	}
	t.Logf("another schema: %v", err)
	// trailing bytes
	if _, err := dec.Decode(append(append([]byte(nil), good...), 0, 0)); err == nil || !strings.Contains(err.Error(), "2 bytes left after the datum") {
		t.Fatalf("trailing bytes: %v", err)
	}
	// invalid enum index, union branch, boolean, UTF-8
	s := `{"type":"record","name":"R","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}},{"name":"u","type":["null","boolean"]},{"name":"s","type":"string"}]}`
	d2, _ := avroCodecs(t, Options{AvroSchemaJSON: s})
	for _, c := range []struct {
		in   []byte
		want string
	}{
		{[]byte{0x02, 0x00, 0x00}, "field e: enum index 1 out of range"},
		{[]byte{0x00, 0x04, 0x00}, "field u: union branch 2 out of range"},
		{[]byte{0x00, 0x02, 0x07, 0x00}, "field u: invalid boolean byte 0x07"},
		{[]byte{0x00, 0x00, 0x02, 0xff}, "field s: string is not valid UTF-8"},
		{[]byte{0x00, 0x00, 0x01}, "field s: negative string length -1"},
	} {
		if _, err := d2.Decode(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("% x: %v, want %q", c.in, err, c.want)
		}
	}
	// Confluent framing errors
	fdec, _ := avroCodecs(t, Options{AvroSchemaPath: orderAvsc, AvroConfluentSchemaID: 9})
	for _, c := range []struct {
		in   []byte
		want string
	}{
		{[]byte{0, 0}, "truncated Confluent wire-format header"},
		{append([]byte{1, 0, 0, 0, 9}, good...), "magic byte 0x01"},
		{append([]byte{0, 0, 0, 0, 8}, good...), "written with schema id 8, but this stream reads schema id 9"},
	} {
		if _, err := fdec.Decode(c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("framed % x...: %v, want %q", c.in[:min(len(c.in), 5)], err, c.want)
		}
	}
}

// FuzzAvroDecode: no input makes the decoder panic or return invalid JSON.
func FuzzAvroDecode(f *testing.F) {
	dec, enc := avroCodecs(f, Options{AvroSchemaPath: orderAvsc})
	p := jsonPayload([]byte(orderJSON), true)
	good, _ := enc.Encode(&p)
	f.Add(good)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := dec.Decode(b)
		if err == nil && !json.Valid(out.Bytes()) {
			t.Fatalf("invalid JSON %q from % x", out.Bytes(), b)
		}
	})
}

// venvPython returns build/venv's Python when it has fastavro (scripts/setup.sh installs it). A
// missing one skips the test, unless IGGY_REQUIRE_TOOLS=1 (CI), where it fails it.
func venvPython(t testing.TB) string {
	t.Helper()
	py := ""
	if dir, err := filepath.Abs("."); err == nil {
		for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
				py = filepath.Join(dir, "build", "venv", "bin", "python")
				break
			}
		}
	}
	if py == "" || exec.Command(py, "-c", "import fastavro").Run() != nil {
		msg := "build/venv with fastavro not found: run scripts/setup.sh (fastavro is in scripts/requirements.txt)"
		if os.Getenv("IGGY_REQUIRE_TOOLS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return py
}

// TestAvroInteropWithFastavro: datums written by Python fastavro (an independent implementation)
// decode to the same JSON, and datums our encoder writes are read back by fastavro as the same
// records.
func TestAvroInteropWithFastavro(t *testing.T) {
	py := venvPython(t)
	dec, enc := avroCodecs(t, Options{AvroSchemaPath: orderAvsc})
	lines := bytes.Split(bytes.TrimSpace(run(t, nil, py, "testdata/avro_interop.py", "write", orderAvsc)), []byte("\n"))
	if len(lines) < 3 {
		t.Fatalf("fastavro wrote %d records", len(lines))
	}
	var toPython bytes.Buffer
	var sent [][]byte
	for i, line := range lines {
		var rec struct {
			AvroHex string          `json:"avro_hex"`
			JSON    json.RawMessage `json:"json"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatal(err)
		}
		bin, _ := hex.DecodeString(rec.AvroHex)
		out, err := dec.Decode(bin)
		if err != nil {
			t.Fatalf("record %d written by fastavro: %v", i, err)
		}
		if !sameJSONValue(t, out.Bytes(), rec.JSON) {
			t.Fatalf("record %d written by fastavro:\n ours     %s\n fastavro %s", i, out.Bytes(), rec.JSON)
		}
		// and back: our encoder's bytes for the same JSON
		p := jsonPayload(out.Bytes(), true)
		ours, err := enc.Encode(&p)
		if err != nil {
			t.Fatalf("record %d: encode: %v", i, err)
		}
		// Both write map entries in document order, so the bytes are the same.
		if !bytes.Equal(ours, bin) {
			t.Errorf("record %d: our encoding\n% x\ndiffers from fastavro's\n% x", i, ours, bin)
		}
		sent = append(sent, out.Bytes())
		toPython.WriteString(`{"avro_hex":"` + hex.EncodeToString(ours) + "\"}\n")
	}
	back := run(t, toPython.Bytes(), py, "testdata/avro_interop.py", "read", orderAvsc)
	sc := bufio.NewScanner(bytes.NewReader(back))
	sc.Buffer(nil, 1<<20)
	i := 0
	for ; sc.Scan(); i++ {
		var rec struct {
			JSON json.RawMessage `json:"json"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		if !sameJSONValue(t, rec.JSON, sent[i]) {
			t.Fatalf("record %d as fastavro read our encoding:\n fastavro %s\n sent     %s", i, rec.JSON, sent[i])
		}
	}
	if i != len(sent) {
		t.Fatalf("fastavro read %d of our %d records", i, len(sent))
	}
	t.Logf("%d records: fastavro → Go decode → same JSON; Go encode → fastavro → same records", i)
}

// BenchmarkAvroDecode / BenchmarkAvroEncode: one order record (every Avro type) per operation.
func BenchmarkAvroDecode(b *testing.B) {
	dec, enc := avroCodecs(b, Options{AvroSchemaPath: orderAvsc})
	p := jsonPayload([]byte(orderJSON), true)
	bin, err := enc.Encode(&p)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(bin)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dec.Decode(bin); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAvroEncode(b *testing.B) {
	_, enc := avroCodecs(b, Options{AvroSchemaPath: orderAvsc})
	b.SetBytes(int64(len(orderJSON)))
	b.ReportAllocs()
	for b.Loop() {
		p := jsonPayload([]byte(orderJSON), true)
		if _, err := enc.Encode(&p); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAvroRecursiveSchema: named types referring to themselves (a linked list) work both ways, and
// nesting is bounded.
func TestAvroRecursiveSchema(t *testing.T) {
	schema := `{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"],"default":null}]}`
	dec, enc := avroCodecs(t, Options{AvroSchemaJSON: schema})
	in := `{"v":1,"next":{"v":2,"next":{"v":3,"next":null}}}`
	p := jsonPayload([]byte(in), true)
	bin, err := enc.Encode(&p)
	if err != nil {
		t.Fatal(err)
	}
	out, err := dec.Decode(bin)
	if err != nil || string(out.Bytes()) != in {
		t.Fatalf("linked list: %s, %v", out.Bytes(), err)
	}
	// 2000 nodes: each is v (1 byte) + branch 1 (1 byte)
	deep := bytes.Repeat([]byte{0x02, 0x02}, 2000)
	deep = append(deep, 0x02, 0x00)
	if _, err := dec.Decode(deep); err == nil || !strings.Contains(err.Error(), "nested more than 1000 levels deep") {
		t.Fatalf("deep datum: %v", err)
	}
	js := strings.Repeat(`{"v":1,"next":`, 1500) + "null" + strings.Repeat("}", 1500)
	dp := jsonPayload([]byte(js), true)
	if _, err := enc.Encode(&dp); err == nil || !strings.Contains(err.Error(), "nested more than 1000 levels deep") {
		t.Fatalf("deep JSON: %v", err)
	}
}

// FuzzAvroEncode: no JSON makes the encoder panic; what it encodes decodes; and the fast path (on
// the JSON bytes) agrees with the reference encoder (on decoded Go values): both fail, or both write
// datums that decode to the same JSON value (map entries may be ordered differently).
func FuzzAvroEncode(f *testing.F) {
	dec, enc := avroCodecs(f, Options{AvroSchemaPath: orderAvsc})
	f.Add([]byte(orderJSON))
	f.Add([]byte(`{"id":1}`))
	f.Add([]byte(`{"id":1,"qty":2,"customer":"c\u00e9\n","paid":false,"total":-1.5e3,"discount":0.1,"items":[{"sku":"s","price":1,"tags":["a"]}],"attrs":{"b":2,"a":1,"b":3},"digest":[1,2,3,4],"blob":"\u00ff","created":9,"gift":{"sku":"g","price":2},"status":"SHIPPED","note":"n"}`))
	f.Add([]byte(`{"id":9223372036854775808,"qty":-2147483649}`))
	f.Fuzz(func(t *testing.T, js []byte) {
		p := Payload{kind: KindText, data: js}
		bin, err := enc.Encode(&p)
		if _, verr := validateJSON(js); verr != nil {
			if err == nil {
				t.Fatalf("invalid JSON %q encoded", js)
			}
			return
		}
		ref, rerr := encodeDecoded(enc.(*avroEncoder).c.schema, js)
		if (err == nil) != (rerr == nil) {
			t.Fatalf("%s: fast path error %v, reference error %v", js, err, rerr)
		}
		if err != nil {
			bothMap := strings.Contains(err.Error(), `["`) && strings.Contains(rerr.Error(), `["`)
			if !strings.HasSuffix(err.Error(), rerr.Error()) && !bothMap {
				t.Fatalf("%s: fast path says %q, reference %q", js, err, rerr)
			}
			return
		}
		got, err := dec.Decode(bin)
		if err != nil {
			t.Fatalf("%s encoded to % x, which does not decode: %v", js, bin, err)
		}
		want, err := dec.Decode(ref)
		if err != nil || !sameJSON(t, got.Bytes(), want.Bytes()) {
			t.Fatalf("%s: fast path %s, reference %s (%v)", js, got.Bytes(), want.Bytes(), err)
		}
	})
}

// TestAvroFastPathMatchesReference replaces each field of the order record (and of a nested item)
// with values of every JSON shape and checks that the encoder's fast path and the reference encoder
// agree: the same error, or datums that decode to the same JSON.
func TestAvroFastPathMatchesReference(t *testing.T) {
	dec, enc := avroCodecs(t, Options{AvroSchemaPath: orderAvsc})
	schema := enc.(*avroEncoder).c.schema
	values := []string{`null`, `true`, `false`, `0`, `-1`, `2147483648`, `-9223372036854775809`, `1.5`, `1e3`, `-0`, `"x"`,
		`"é€"`, `"\u00ff\u0000"`, `"NEW"`, `"abcd"`, `[]`, `[1,255]`, `[1,300]`, `["a"]`, `{}`, `{"a":1,"b":-2}`,
		`{"sku":"s","price":1}`, `{"sku":"s","price":"p"}`, `[{"sku":"s","price":1}]`, `[{"sku":1}]`}
	var base map[string]json.RawMessage
	if err := json.Unmarshal([]byte(orderJSON), &base); err != nil {
		t.Fatal(err)
	}
	n, agreeErr := 0, 0
	check := func(js []byte) {
		n++
		p := jsonPayload(js, true)
		bin, err := enc.Encode(&p)
		ref, rerr := encodeDecoded(schema, js)
		if (err == nil) != (rerr == nil) {
			t.Fatalf("%s: fast path error %v, reference error %v", js, err, rerr)
		}
		if err != nil {
			agreeErr++
			// Map entries are visited in another order (document vs sorted), so with two bad
			// entries each may name a different one.
			bothMap := strings.Contains(err.Error(), `["`) && strings.Contains(rerr.Error(), `["`)
			if !strings.HasSuffix(err.Error(), rerr.Error()) && !bothMap {
				t.Fatalf("%s: fast path says %q, reference %q", js, err, rerr)
			}
			return
		}
		got, err1 := dec.Decode(bin)
		want, err2 := dec.Decode(ref)
		if err1 != nil || err2 != nil || !sameJSON(t, got.Bytes(), want.Bytes()) {
			t.Fatalf("%s: fast path %s (%v), reference %s (%v)", js, got.Bytes(), err1, want.Bytes(), err2)
		}
	}
	for field := range base {
		for _, v := range values {
			m := map[string]json.RawMessage{}
			for k, x := range base {
				m[k] = x
			}
			m[field] = json.RawMessage(v)
			js, _ := json.Marshal(m)
			check(js)
			delete(m, field)
			js, _ = json.Marshal(m)
			check(js)
		}
	}
	for _, v := range values { // inside an array item
		m := map[string]json.RawMessage{}
		for k, x := range base {
			m[k] = x
		}
		m["items"] = json.RawMessage(`[{"sku":"a","price":1},{"sku":"b","price":` + v + `}]`)
		js, _ := json.Marshal(m)
		check(js)
	}
	t.Logf("%d variants, %d rejected alike by both encoders, the rest encoded to the same records", n, agreeErr)
}
