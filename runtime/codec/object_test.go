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
