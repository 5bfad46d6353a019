package icebergsink

import (
	"bytes"
	"reflect"
	"testing"

	json "github.com/goccy/go-json"
)

// TestFastObjectMatchesDecoder: wherever fastObject accepts a payload it yields what go-json (with
// UseNumber) yields, and it declines everything it cannot decode exactly.
func TestFastObjectMatchesDecoder(t *testing.T) {
	accept := []string{
		`{}`, ` { } `, `{"a":1}`, `{"a":-0.5e+10,"b":"x y ✓","c":true,"d":false,"e":null}`,
		"{\n\t\"a\" : 12 ,\r\n \"b\":\"\"}", `{"a":1,"a":2}`, `{"big":9223372036854775807,"neg":-12}`,
	}
	decline := []string{
		`{"a":{"b":1}}`, `{"a":[1]}`, `{"a":"q\"uote"}`, `{"k\u0041":1}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`,
		`{"a":1e}`, `{"a":tru}`, `{"a":1,}`, `{"a":1} x`, `{"a" 1}`, `[1]`, `{"a":"` + "\x01" + `"}`,
		`{"a":"` + "\xff" + `"}`, `{"a":1`, ``, `{"a":+1}`,
	}
	for _, p := range accept {
		got, ok := fastObject([]byte(p), nil)
		if !ok {
			t.Errorf("%q declined", p)
			continue
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(p)))
		dec.UseNumber()
		var want map[string]any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: fast %#v, decoder %#v", p, got, want)
		}
	}
	for _, p := range decline {
		if got, ok := fastObject([]byte(p), nil); ok {
			t.Errorf("%q accepted as %#v", p, got)
		}
	}
}
