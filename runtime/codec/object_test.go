package codec

import (
	"strings"
	"testing"
)

func mustJSONPayload(t *testing.T, s string) Payload {
	t.Helper()
	p, err := NewPayload(KindJSON, []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func members(o *Object) string {
	var sb strings.Builder
	o.Range(func(k, v []byte) bool {
		sb.WriteString(string(k) + "=" + string(v) + ";")
		return true
	})
	return sb.String()
}

func TestObjectIndex(t *testing.T) {
	cases := []struct{ in, members, out string }{
		{`{}`, ``, `{}`},
		{`{"a":1,"b":{"c":[1,{"d":"}"}]},"e":"x\"y"}`, `a=1;b={"c":[1,{"d":"}"}]};e="x\"y";`, ``},
		// duplicates: last value wins, at the first position
		{`{"a":1,"b":2,"a":3}`, `a=3;b=2;`, `{"a":3,"b":2}`},
		// escaped keys are compared decoded
		{`{"\u0061":1,"a":2}`, `a=2;`, `{"\u0061":2}`},
		// whitespace is removed first
		{" { \"a\" : [ 1 , 2 ] ,\n\"b\":\"s p\" } ", `a=[1,2];b="s p";`, `{"a":[1,2],"b":"s p"}`},
		// numbers keep their text
		{`{"n":123456789012345678901234567890,"f":1.000}`, `n=123456789012345678901234567890;f=1.000;`, ``},
	}
	for _, c := range cases {
		p := mustJSONPayload(t, c.in)
		o, ok := p.Object()
		if !ok {
			t.Fatalf("%s: not an object", c.in)
		}
		if got := members(o); got != c.members {
			t.Errorf("%s: members %q, want %q", c.in, got, c.members)
		}
		if c.out != "" {
			// the duplicate collapse is visible only once something is serialised
			o.Set(NewKey("zz"), []byte("0"))
			o.Delete(NewKey("zz"))
			if got := string(p.Bytes()); got != c.out {
				t.Errorf("%s: serialised %s, want %s", c.in, got, c.out)
			}
		}
	}
}

func TestObjectEdits(t *testing.T) {
	in := []byte(`{"id":1,"name":"n","meta":{"x":1},"tail":true}`)
	p, _ := NewPayload(KindJSON, in)
	o, _ := p.Object()
	if !o.Has(NewKey("meta")) || o.Has(NewKey("nope")) || o.Len() != 4 {
		t.Fatal("Has/Len")
	}
	if v, ok := o.Get(NewKey("meta")); !ok || string(v) != `{"x":1}` {
		t.Fatalf("Get %s", v)
	}
	// Untouched object: same bytes.
	if b := p.Bytes(); &b[0] != &in[0] {
		t.Fatal("indexing alone must not rewrite the payload")
	}
	o.Set(NewKey("name"), []byte(`"m"`))      // in place
	o.Set(NewKey("new key"), []byte(`[1,2]`)) // appended
	if !o.Delete(NewKey("id")) || o.Delete(NewKey("id")) {
		t.Fatal("Delete")
	}
	o.Retain(func(k, v []byte) bool { return string(k) != "tail" })
	if got, want := string(p.Bytes()), `{"name":"m","meta":{"x":1},"new key":[1,2]}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	// Later edits after a serialisation are serialised again.
	o.Set(NewKey("q\"k"), []byte(`null`))
	if got, want := string(p.Bytes()), `{"name":"m","meta":{"x":1},"new key":[1,2],"q\"k":null}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if string(in) != `{"id":1,"name":"n","meta":{"x":1},"tail":true}` {
		t.Fatal("the input slice must never be modified")
	}
}

func TestNonObjectPayloads(t *testing.T) {
	for _, s := range []string{`[1]`, `"s"`, `1`, `null`, `true`, ` [ ] `} {
		p := mustJSONPayload(t, s)
		if _, ok := p.Object(); ok {
			t.Errorf("%s: must not be an object", s)
		}
		if p.Unwrap(NewKey("a")) {
			t.Errorf("%s: Unwrap must fail", s)
		}
	}
	for _, k := range []Kind{KindRaw, KindText, KindProto, KindFlatBuffer} {
		p, _ := NewPayload(k, []byte(`{"a":1}`))
		if _, ok := p.Object(); ok {
			t.Errorf("%v payload must not expose an object", k)
		}
	}
}

func TestUnwrap(t *testing.T) {
	cases := []struct{ in, key, out string }{
		{`{"data":{"a":1},"op":"c"}`, "data", `{"a":1}`},
		{`{"data":[1,2]}`, "data", `[1,2]`},
		{`{"data":"s"}`, "data", `"s"`},
		{`{"data":null}`, "data", `null`},
		{`{"data":7}`, "data", `7`},
		{`{ "data" : { "a" : 1 } }`, "data", `{"a":1}`},
		{`{"other":1}`, "data", `{"other":1}`},
	}
	for _, c := range cases {
		p := mustJSONPayload(t, c.in)
		p.Unwrap(NewKey(c.key))
		if got := string(p.Bytes()); got != c.out {
			t.Errorf("%s: got %s, want %s", c.in, got, c.out)
		}
	}
	// The unwrapped object can be transformed further.
	p := mustJSONPayload(t, `{"data":{"a":1,"b":2}}`)
	p.Unwrap(NewKey("data"))
	o, ok := p.Object()
	if !ok {
		t.Fatal("unwrapped object")
	}
	o.Delete(NewKey("a"))
	if got := string(p.Bytes()); got != `{"b":2}` {
		t.Fatalf("got %s", got)
	}
}

func TestAppendStringAndUnquote(t *testing.T) {
	cases := []struct{ in, quoted string }{
		{"plain", `"plain"`},
		{"q\"b\\s\n\r\t\b\f\x01", `"q\"b\\s\n\r\t\b\f\u0001"`},
		{"héllo 😀 </>&", `"héllo 😀 </>&"`},
		{"bad\xffutf8", "\"bad\uFFFDutf8\""},
	}
	for _, c := range cases {
		got := string(AppendString(nil, c.in))
		if got != c.quoted {
			t.Errorf("AppendString(%q) = %s, want %s", c.in, got, c.quoted)
		}
		if _, err := validateJSON([]byte(got)); err != nil {
			t.Errorf("%s is not valid JSON: %v", got, err)
		}
		if back := string(Unquote([]byte(got))); back != strings.ToValidUTF8(c.in, "\uFFFD") {
			t.Errorf("Unquote(%s) = %q", got, back)
		}
	}
	if got := string(Unquote([]byte(`"\u00e9\ud83d\ude00\/"`))); got != "é😀/" {
		t.Errorf("Unquote escapes: %q", got)
	}
	if c, err := Compact([]byte(` [ 1 , "a b" ] `)); err != nil || string(c) != `[1,"a b"]` {
		t.Errorf("Compact: %s %v", c, err)
	}
	if _, err := Compact([]byte(`[1,`)); err == nil || !strings.Contains(err.Error(), "byte offset 3") {
		t.Errorf("Compact error: %v", err)
	}
}

func TestIndexWhileValidating(t *testing.T) {
	docs := []string{
		`{}`, `{"a":1}`, `{"a":1,"b":{"c":[1,{"d":"}"}]},"e":"x\"y"}`, `{"a":1,"b":2,"a":3}`,
		`{"\u0061":1,"a":2,"b\n":3}`, `{"n":1e5,"s":"é","t":true,"f":false,"z":null,"arr":[]}`,
	}
	for _, d := range docs {
		compact, obj, err := scanJSON([]byte(d), true)
		if err != nil || !compact || obj == nil {
			t.Fatalf("%s: %v %v %v", d, compact, obj, err)
		}
		if got, want := members(obj), members(indexObject([]byte(d))); got != want {
			t.Errorf("%s: indexed while validating %q, separately %q", d, got, want)
		}
	}
	// Not compact or not an object: no index (Payload.Object indexes lazily then).
	for _, d := range []string{` {"a":1}`, `{"a": 1}`, `{"a":1} `, `[1]`, `"s"`} {
		if _, obj, err := scanJSON([]byte(d), true); err != nil || obj != nil {
			t.Errorf("%q: want no index, got %v %v", d, obj, err)
		}
	}
	dec, _ := NewDecoder("json", Options{IndexObjects: true})
	for _, d := range []string{`{"a":1,"a":2,"b":3}`, `{ "a" : 1 , "a" : 2, "b" : 3 }`} {
		p, err := dec.Decode([]byte(d))
		if err != nil {
			t.Fatal(err)
		}
		o, ok := p.Object()
		if !ok || members(o) != `a=2;b=3;` {
			t.Errorf("%s: %v %q", d, ok, members(o))
		}
		o.Delete(NewKey("b"))
		if got := string(p.Bytes()); got != `{"a":2}` {
			t.Errorf("%s: %s", d, got)
		}
	}
	if _, err := dec.Decode([]byte(`{"a":1,}`)); err == nil {
		t.Error("indexing decoder must still validate")
	}
}

func TestAppendBytes(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{`{"a":1}`, `{"a":1}`},
		{` { "a" : 1 } `, `{"a":1}`},
	} {
		p := mustJSONPayload(t, c.in)
		if got := string(p.AppendBytes([]byte("x"))); got != "x"+c.out {
			t.Errorf("%q: %q", c.in, got)
		}
		o, _ := p.Object()
		o.Set(NewKey("b"), []byte(`2`))
		want := strings.TrimSuffix(c.out, "}") + `,"b":2}`
		if got := string(p.AppendBytes([]byte("x"))); got != "x"+want {
			t.Errorf("%q modified: %q", c.in, got)
		}
		if got := string(p.Bytes()); got != want {
			t.Errorf("%q Bytes: %q", c.in, got)
		}
	}
	raw, _ := NewPayload(KindRaw, []byte{1, 2})
	if got := raw.AppendBytes([]byte{0}); string(got) != "\x00\x01\x02" {
		t.Errorf("raw: %v", got)
	}
}

func TestSerialiseRuns(t *testing.T) {
	// Edits in the middle, at the ends, and of every kind keep the rest byte for byte.
	in := `{"a":1,"b":"x","c":[1,2],"d":{"e":null},"f":true}`
	cases := []struct {
		edit func(o *Object)
		want string
	}{
		{func(o *Object) { o.Delete(NewKey("c")) }, `{"a":1,"b":"x","d":{"e":null},"f":true}`},
		{func(o *Object) { o.Delete(NewKey("a")) }, `{"b":"x","c":[1,2],"d":{"e":null},"f":true}`},
		{func(o *Object) { o.Delete(NewKey("f")) }, `{"a":1,"b":"x","c":[1,2],"d":{"e":null}}`},
		{func(o *Object) { o.Set(NewKey("c"), []byte(`0`)) }, `{"a":1,"b":"x","c":0,"d":{"e":null},"f":true}`},
		{func(o *Object) { o.Set(NewKey("a"), []byte(`0`)); o.Set(NewKey("f"), []byte(`0`)) }, `{"a":0,"b":"x","c":[1,2],"d":{"e":null},"f":0}`},
		{func(o *Object) { o.Delete(NewKey("b")); o.Delete(NewKey("d")) }, `{"a":1,"c":[1,2],"f":true}`},
		{func(o *Object) { o.Retain(func(k, v []byte) bool { return false }); o.Set(NewKey("z"), []byte(`1`)) }, `{"z":1}`},
		{func(o *Object) { o.Retain(func(k, v []byte) bool { return false }) }, `{}`},
	}
	for i, c := range cases {
		p := mustJSONPayload(t, in)
		o, _ := p.Object()
		c.edit(o)
		if got := string(p.Bytes()); got != c.want {
			t.Errorf("case %d: got %s, want %s", i, got, c.want)
		}
	}
}

func TestReleaseKeepsEarlierResults(t *testing.T) {
	dec, _ := NewDecoder("json", Options{IndexObjects: true})
	var outs []string
	var kept [][]byte
	for i := 0; i < 50; i++ {
		p, err := dec.Decode([]byte(`{"env":{"a":1},"x":2}`))
		if err != nil {
			t.Fatal(err)
		}
		o, _ := p.Object()
		o.Set(NewKey("env"), []byte(`{"n":`+strings.Repeat("9", i%5+1)+`}`)) // value lives in the pooled arena
		p.Unwrap(NewKey("env"))
		b := p.Bytes()
		kept = append(kept, b)
		outs = append(outs, string(b))
		p.Release()
		if p.Kind() != 0 {
			t.Fatal("Release must empty the payload")
		}
	}
	for i, b := range kept {
		if string(b) != outs[i] || string(b) != `{"n":`+strings.Repeat("9", i%5+1)+`}` {
			t.Fatalf("result %d changed after Release: %s", i, b)
		}
	}
	// Range stops when asked; Get of a missing key.
	p := mustJSONPayload(t, `{"a":1,"b":2,"c":3}`)
	o, _ := p.Object()
	n := 0
	o.Range(func(k, v []byte) bool { n++; return string(k) != "b" })
	if n != 2 {
		t.Errorf("Range visited %d members, want 2", n)
	}
	if _, ok := o.Get(NewKey("zz")); ok || NewKey("zz").String() != "zz" {
		t.Error("Get of a missing key")
	}
}
