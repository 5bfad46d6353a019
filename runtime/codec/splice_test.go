package codec

import (
	"slices"
	"strings"
	"testing"
)

// splice runs Members over in, dropping keys in drop, replacing the value of keys in repl and
// appending add (key, value pairs) at the end.
func splice(in string, drop []string, repl map[string]string, add ...string) (Payload, bool) {
	var m Members
	if !m.Start([]byte(in)) {
		return Payload{}, false
	}
	for m.Next() {
		k := string(m.Key())
		switch {
		case slices.Contains(drop, k):
			m.Drop()
		case repl[k] != "":
			m.Replace([]byte(repl[k]))
		default:
			m.Keep()
		}
	}
	for i := 0; i+1 < len(add); i += 2 {
		m.Append(NewKey(add[i]), []byte(add[i+1]))
	}
	return m.Done()
}

func TestMembers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		drop []string
		repl map[string]string
		add  []string
		want string // "" means: not spliced (the tree path takes it)
	}{
		{in: `{"a":1,"b":[1,{"c":2}],"c":"x"}`, drop: []string{"b"}, want: `{"a":1,"c":"x"}`},
		{in: `{"a":1,"b":2,"c":3,"d":4}`, drop: []string{"a", "d"}, want: `{"b":2,"c":3}`},
		{in: `{"a":1,"b":2}`, repl: map[string]string{"a": `"new"`}, want: `{"a":"new","b":2}`},
		{in: `{"a\n":1}`, repl: map[string]string{"a\n": `2`}, want: `{"a\n":2}`},
		{in: `{}`, add: []string{"k", `true`, "é\"", `null`}, want: `{"k":true,"é\"":null}`},
		{in: `{"a":1}`, drop: []string{"a"}, want: `{}`},
		{in: `{"a":{"b":{}},"c":[]}`, want: `{"a":{"b":{}},"c":[]}`},
		// given up: whitespace, duplicates, invalid, not an object
		{in: ` {"a":1}`},
		{in: `{"a":1} `},
		{in: `{"a": 1}`},
		{in: `{"a":[1, 2]}`},
		{in: `{"a":1,"a":2}`},
		{in: `{"a":1,"\u0061":2}`},
		{in: `{"a":1,}`},
		{in: `{"a":1`},
		{in: `{"a":01}`},
		{in: `{"a":"\xff"}`},
		{in: `{"a":1}}`},
		{in: `[1]`},
		{in: `{`},
	} {
		p, ok := splice(tc.in, tc.drop, tc.repl, tc.add...)
		if tc.want == "" {
			if ok {
				t.Errorf("%q: spliced to %s, want the tree path", tc.in, p.Bytes())
			}
			continue
		}
		if !ok {
			t.Errorf("%q: not spliced", tc.in)
			continue
		}
		if got := string(p.Bytes()); got != tc.want || !p.Spliced() {
			t.Errorf("%q: got %s (spliced %v), want %s", tc.in, got, p.Spliced(), tc.want)
		}
		var dst []byte
		if got := string(p.AppendBytes(dst)); got != tc.want {
			t.Errorf("%q: AppendBytes %s, want %s", tc.in, got, tc.want)
		}
		p.Release()
	}
}

// TestMembersUnchangedIsInput: when every member is kept the payload is its input, not a copy.
func TestMembersUnchangedIsInput(t *testing.T) {
	in := []byte(`{"a":1,"b":{"c":[true]}}`)
	var m Members
	m.Start(in)
	for m.Next() {
		m.Keep()
	}
	p, ok := m.Done()
	if !ok || &p.Bytes()[0] != &in[0] || len(p.Bytes()) != len(in) {
		t.Fatalf("ok %v, bytes %s: want the input itself", ok, p.Bytes())
	}
}

// TestMembersThenObject: a spliced payload still supports Object and Unwrap (it is rendered and
// indexed first), so transforms of the tree path may follow.
func TestMembersThenObject(t *testing.T) {
	p, ok := splice(`{"x":0,"data":{"id":7},"y":1}`, []string{"x"}, map[string]string{"y": `2`}, "z", `3`)
	if !ok {
		t.Fatal("not spliced")
	}
	obj, ok := p.Object()
	if !ok || obj.Len() != 3 {
		t.Fatalf("Object: ok %v", ok)
	}
	if v, _ := obj.Get(NewKey("y")); string(v) != "2" {
		t.Errorf("y = %s", v)
	}
	obj.Set(NewKey("w"), []byte(`4`))
	if got := string(p.Bytes()); got != `{"data":{"id":7},"y":2,"z":3,"w":4}` {
		t.Errorf("after Set: %s", got)
	}
	if !p.Unwrap(NewKey("data")) || string(p.Bytes()) != `{"id":7}` {
		t.Errorf("Unwrap: %s", p.Bytes())
	}
}

// TestMembersManyKeys: more top-level keys than the inline hash buffer, duplicates found past it.
func TestMembersManyKeys(t *testing.T) {
	var sb strings.Builder
	sb.WriteByte('{')
	for i := 0; i < 200; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`"k` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `":1`)
	}
	in := sb.String() + "}"
	p, ok := splice(in, nil, nil)
	if !ok || string(p.Bytes()) != in {
		t.Fatalf("200 distinct keys: ok %v", ok)
	}
	if _, ok := splice(in[:len(in)-1]+`,"kaa":2}`, nil, nil); ok {
		t.Error("a duplicate of the first key after 200 keys was not found")
	}
}

// TestRenderBufIsolated: buffers carved from one chunk do not overlap, and appending to one (past
// its capacity) never writes into the next.
func TestRenderBufIsolated(t *testing.T) {
	a, ok1 := splice(`{"a":1,"b":2}`, []string{"a"}, nil)
	b, ok2 := splice(`{"c":3,"d":4}`, []string{"c"}, nil)
	if !ok1 || !ok2 {
		t.Fatal("not spliced")
	}
	ab, bb := a.Bytes(), b.Bytes()
	_ = append(ab, `xxxxxxxx`...)
	if string(bb) != `{"d":4}` || string(ab) != `{"b":2}` {
		t.Errorf("got %s and %s", ab, bb)
	}
}
