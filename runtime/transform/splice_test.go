package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/runtime/codec"
)

// keyPool are the top-level keys of generated objects and of generated chains, so that chains hit.
// Some spell the same key with escapes ("\u0061" is "a"), which makes duplicates the splice scan
// must notice.
var keyPool = []string{`a`, `b`, `status`, `source`, `debug_x`, `debug_trace`, `id`, `xdebug`, `ké`, `k"q`, `日本`, `emoji😀`, ``}

// keyLiterals are JSON spellings of pool keys, escaped ones included.
var keyLiterals = map[string][]string{
	`a`:       {`"a"`, `"\u0061"`},
	`status`:  {`"status"`, `"st\u0061tus"`},
	`debug_x`: {`"debug_x"`, `"debug\u005fx"`},
	`ké`:      {`"ké"`, `"k\u00e9"`},
	`k"q`:     {`"k\"q"`},
	`emoji😀`:  {`"emoji😀"`, `"emoji\ud83d\ude00"`},
}

type gen struct {
	r  *rand.Rand
	ws bool // insert insignificant whitespace
}

func (g *gen) space(sb *strings.Builder) {
	if g.ws && g.r.Intn(4) == 0 {
		sb.WriteString([]string{" ", "\n", "\t", "\r\n  "}[g.r.Intn(4)])
	}
}

var numberShapes = []string{`0`, `-0`, `1`, `-1`, `42`, `1.5`, `-0.25`, `1e5`, `1E+5`, `2.5e-3`, `-1.0E-10`,
	`123456789012345678901234567890`, `0.1`, `1.0`, `10e-1`, `9007199254740993`, `1e308`, `5`, `7.000`}

var stringShapes = []string{`""`, `"plain"`, `"with \"quotes\""`, `"tab\tnew\nline"`, `"\u00e9t\u00e9"`, `"été"`,
	`"\ud83d\ude00"`, `"😀 emoji"`, `"back\\slash"`, `"\/slash"`, `"日本語"`, `"debug_value"`, `"processed"`, `"iggy"`,
	`"\u0000ctl"`, `"x"`}

func (g *gen) value(sb *strings.Builder, depth int) {
	n := 7
	if depth >= 3 {
		n = 5
	}
	switch g.r.Intn(n) {
	case 0:
		sb.WriteString(numberShapes[g.r.Intn(len(numberShapes))])
	case 1:
		sb.WriteString(stringShapes[g.r.Intn(len(stringShapes))])
	case 2:
		sb.WriteString([]string{"true", "false", "null"}[g.r.Intn(3)])
	case 3:
		sb.WriteString(numberShapes[g.r.Intn(len(numberShapes))])
	case 4:
		sb.WriteString(stringShapes[g.r.Intn(len(stringShapes))])
	case 5:
		g.object(sb, depth+1, 4)
	default:
		sb.WriteByte('[')
		for i, k := 0, g.r.Intn(4); i < k; i++ {
			if i > 0 {
				sb.WriteByte(',')
			}
			g.space(sb)
			g.value(sb, depth+1)
			g.space(sb)
		}
		sb.WriteByte(']')
	}
}

func (g *gen) key() string {
	k := keyPool[g.r.Intn(len(keyPool))]
	if g.r.Intn(3) == 0 {
		k = fmt.Sprintf("f%d", g.r.Intn(40)) // mostly unique keys
	}
	if lits, ok := keyLiterals[k]; ok {
		return lits[g.r.Intn(len(lits))]
	}
	b, _ := json.Marshal(k)
	return string(b)
}

func (g *gen) object(sb *strings.Builder, depth, max int) {
	sb.WriteByte('{')
	g.space(sb)
	for i, k := 0, g.r.Intn(max+1); i < k; i++ {
		if i > 0 {
			sb.WriteByte(',')
			g.space(sb)
		}
		sb.WriteString(g.key())
		g.space(sb)
		sb.WriteByte(':')
		g.space(sb)
		g.value(sb, depth)
		g.space(sb)
	}
	sb.WriteByte('}')
}

// payload returns a random JSON object; sometimes not an object, sometimes corrupted.
func (g *gen) payload() []byte {
	g.ws = g.r.Intn(5) == 0
	var sb strings.Builder
	switch g.r.Intn(20) {
	case 0:
		g.value(&sb, 0)
	default:
		g.object(&sb, 0, 12)
	}
	b := []byte(sb.String())
	if g.r.Intn(8) == 0 && len(b) > 0 { // corrupt it
		switch i := g.r.Intn(len(b)); g.r.Intn(5) {
		case 0:
			b = b[:i]
		case 1:
			const junk = "{}[],:\"\\x \x00\xff"
			b[i] = junk[g.r.Intn(len(junk))]
		case 2:
			b = append(b, '}')
		case 3:
			b = append(b[:i:i], append([]byte{0xc3}, b[i:]...)...) // truncated UTF-8
		default:
			b = append(b, " x"...)
		}
	}
	return b
}

func (g *gen) staticValue() any {
	switch g.r.Intn(8) {
	case 0:
		return "processed"
	case 1:
		return int64(g.r.Intn(100) - 50)
	case 2:
		return 1.5
	case 3:
		return g.r.Intn(2) == 0
	case 4:
		return map[string]any{"nested": []any{int64(1), "two", nil}}
	case 5:
		return "été \"quoted\"\n"
	case 6:
		return []any{}
	default:
		return "debug_value"
	}
}

var computedForTest = []string{ComputedDateTime, ComputedTimestampNanos, ComputedTimestampMicros, ComputedTimestampMillis, ComputedTimestampSeconds}

func (g *gen) fieldValue() map[string]any {
	if g.r.Intn(3) == 0 {
		return map[string]any{"computed": computedForTest[g.r.Intn(len(computedForTest))]}
	}
	return map[string]any{"static": g.staticValue()}
}

func (g *gen) poolKey() string {
	if g.r.Intn(4) == 0 {
		return fmt.Sprintf("f%d", g.r.Intn(40))
	}
	return keyPool[g.r.Intn(len(keyPool))]
}

func (g *gen) keyPattern() map[string]any {
	k := g.poolKey()
	switch g.r.Intn(5) {
	case 0:
		return map[string]any{"exact": k}
	case 1:
		return map[string]any{"starts_with": []string{"debug_", "f1", "k", "s"}[g.r.Intn(4)]}
	case 2:
		return map[string]any{"ends_with": []string{"_x", "s", "q\"", "😀"}[g.r.Intn(4)]}
	case 3:
		return map[string]any{"contains": []string{"ug", "a", "é", "1"}[g.r.Intn(4)]}
	default:
		return map[string]any{"regex": []string{"^f[0-9]$", "debug", "^.$", "[^a-z]"}[g.r.Intn(4)]}
	}
}

func (g *gen) valuePattern() any {
	switch g.r.Intn(9) {
	case 0:
		return []string{"is_null", "is_not_null", "is_string", "is_number", "is_boolean", "is_object", "is_array"}[g.r.Intn(7)]
	case 1:
		return map[string]any{"equals": g.staticValue()}
	case 2:
		return map[string]any{"equals": int64(1)}
	case 3:
		return map[string]any{"contains": []string{"debug", "é", "x"}[g.r.Intn(3)]}
	case 4:
		return map[string]any{"regex": "^[a-z]+$"}
	case 5:
		return map[string]any{"greater_than": int64(0)}
	case 6:
		return map[string]any{"less_than": 2.5}
	case 7:
		return map[string]any{"between": []any{int64(-1), int64(1)}}
	default:
		return "is_string"
	}
}

func (g *gen) chain() []Spec {
	var specs []Spec
	for i, n := 0, 1+g.r.Intn(5); i < n; i++ {
		switch g.r.Intn(4) {
		case 0, 1:
			typ := "add_fields"
			if g.r.Intn(2) == 0 {
				typ = "update_fields"
			}
			fields := []any{}
			for j, m := 0, g.r.Intn(4); j < m; j++ {
				f := map[string]any{"key": g.poolKey(), "value": g.fieldValue()}
				if typ == "update_fields" && g.r.Intn(4) != 0 {
					f["condition"] = []string{"always", "key_exists", "key_not_exists"}[g.r.Intn(3)]
				}
				fields = append(fields, f)
			}
			specs = append(specs, Spec{Type: typ, Config: map[string]any{"fields": fields}})
		case 2:
			keys := []any{}
			for j, m := 0, g.r.Intn(4); j < m; j++ {
				keys = append(keys, g.poolKey())
			}
			specs = append(specs, Spec{Type: "delete_fields", Config: map[string]any{"fields": keys}})
		default:
			cfg := map[string]any{}
			if g.r.Intn(3) == 0 {
				cfg["keep_fields"] = []any{g.poolKey(), g.poolKey()}
			}
			if g.r.Intn(4) != 0 {
				var pats []any
				for j, m := 0, 1+g.r.Intn(3); j < m; j++ {
					p := map[string]any{}
					if g.r.Intn(3) != 0 {
						p["key_pattern"] = g.keyPattern()
					}
					if g.r.Intn(2) == 0 {
						p["value_pattern"] = g.valuePattern()
					}
					pats = append(pats, p)
				}
				cfg["patterns"] = pats
			}
			if g.r.Intn(2) == 0 {
				cfg["include_matching"] = false
			}
			specs = append(specs, Spec{Type: "filter_fields", Config: cfg})
		}
	}
	return specs
}

// runBoth decodes and transforms in with c on the tree path and on the splice path. spliced tells
// whether the splice path took the payload.
func runBoth(t testing.TB, c Chain, in []byte) (tree, splice []byte, treeErr, spliceErr error, spliced bool) {
	t.Helper()
	dec, err := codec.NewDecoder(abi.SchemaJSON, codec.Options{Stream: "s1", IndexObjects: true})
	if err != nil {
		t.Fatal(err)
	}
	run := func(d codec.Decoder) ([]byte, error, bool) {
		p, err := d.Decode(bytes.Clone(in))
		if err != nil {
			return nil, err, false
		}
		defer p.Release()
		sp := p.Spliced()
		if err := c.Apply(Meta{}, &p); err != nil {
			return nil, err, sp
		}
		return bytes.Clone(p.Bytes()), nil, sp
	}
	tree, treeErr, treeSpliced := run(dec)
	if treeSpliced {
		t.Fatal("the plain decoder produced a spliced payload")
	}
	splice, spliceErr, spliced = run(c.Decoder(dec))
	return
}

func semantic(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("output is not JSON: %v: %s", err, b)
	}
	return v
}

// TestSpliceMatchesTree is the property test of the splice path: for random objects (nested values,
// unicode, escapes, numbers of every shape, duplicate keys spelled the same or with escapes,
// whitespace, some not objects, some corrupted) and random chains of the four field transforms, the
// splice path gives byte for byte the tree path's output — so also the same JSON, which is checked
// separately with encoding/json — and rejects exactly the payloads the tree path rejects, with the
// same error.
func TestSpliceMatchesTree(t *testing.T) {
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	now = func() time.Time { return fixed }
	defer func() { now = time.Now }()
	seed := time.Now().UnixNano()
	iters := 20000
	if testing.Short() {
		iters = 3000
	}
	g := &gen{r: rand.New(rand.NewSource(seed))}
	var splicedN, invalidN, fallbackN int
	for i := 0; i < iters; i++ {
		specs := g.chain()
		c, err := NewChain(specs)
		if err != nil {
			t.Fatalf("seed %d iteration %d: chain: %v", seed, i, err)
		}
		if c.plan == nil {
			t.Fatalf("seed %d: chain of field transforms has no splice plan", seed)
		}
		in := g.payload()
		tree, splice, treeErr, spliceErr, spliced := runBoth(t, c, in)
		fail := func(format string, args ...any) {
			t.Helper()
			cfg, _ := json.Marshal(specs)
			t.Fatalf("seed %d iteration %d\nchain: %s\ninput: %s\n%s", seed, i, cfg, in, fmt.Sprintf(format, args...))
		}
		if (treeErr == nil) != (spliceErr == nil) || (treeErr != nil && treeErr.Error() != spliceErr.Error()) {
			fail("errors differ: tree %v, splice %v", treeErr, spliceErr)
		}
		if treeErr != nil {
			invalidN++
			continue
		}
		if spliced {
			splicedN++
		} else {
			fallbackN++
		}
		if !bytes.Equal(tree, splice) {
			fail("outputs differ (spliced %v):\ntree:   %s\nsplice: %s", spliced, tree, splice)
		}
		if !reflect.DeepEqual(semantic(t, tree), semantic(t, splice)) {
			fail("outputs differ semantically")
		}
	}
	t.Logf("seed %d: %d spliced, %d on the tree path, %d invalid", seed, splicedN, fallbackN, invalidN)
	if splicedN < iters/3 || fallbackN == 0 || invalidN == 0 {
		t.Errorf("the generator does not cover the paths: %d spliced, %d fallback, %d invalid", splicedN, fallbackN, invalidN)
	}
}

// TestSpliceCases are the cases the property test found or that pin a rule down.
func TestSpliceCases(t *testing.T) {
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now = func() time.Time { return fixed }
	defer func() { now = time.Now }()
	add := func(k string, v any) Spec {
		return Spec{Type: "add_fields", Config: map[string]any{"fields": []any{map[string]any{"key": k, "value": map[string]any{"static": v}}}}}
	}
	del := func(ks ...any) Spec { return Spec{Type: "delete_fields", Config: map[string]any{"fields": ks}} }
	upd := func(k, cond string, v any) Spec {
		return Spec{Type: "update_fields", Config: map[string]any{"fields": []any{map[string]any{"key": k, "value": map[string]any{"static": v}, "condition": cond}}}}
	}
	dropDebug := Spec{Type: "filter_fields", Config: map[string]any{"include_matching": false,
		"patterns": []any{map[string]any{"key_pattern": map[string]any{"starts_with": "debug_"}}}}}
	keepNumbers := Spec{Type: "filter_fields", Config: map[string]any{"patterns": []any{map[string]any{"value_pattern": "is_number"}}}}
	for _, tc := range []struct {
		name    string
		specs   []Spec
		in      string
		want    string
		spliced bool
	}{
		{"add appends, replaces in place", []Spec{add("b", 2), add("z", true)}, `{"a":1,"b":"x","c":3}`, `{"a":1,"b":2,"c":3,"z":true}`, true},
		{"delete then add moves to the end", []Spec{del("a"), add("a", 9)}, `{"a":1,"b":2}`, `{"b":2,"a":9}`, true},
		{"appended in step order", []Spec{add("y", 1), add("x", 2), del("y"), add("y", 3)}, `{}`, `{"x":2,"y":3}`, true},
		{"update key_exists sees an earlier add", []Spec{add("s", 1), upd("s", "key_exists", 2)}, `{"a":0}`, `{"a":0,"s":2}`, true},
		{"update key_not_exists", []Spec{upd("s", "key_not_exists", 2)}, `{"s":0}`, `{"s":0}`, true},
		{"filter sees added keys", []Spec{add("debug_x", 1), dropDebug}, `{"debug_y":1,"a":2}`, `{"a":2}`, true},
		{"filter on values after a set", []Spec{add("a", "str"), keepNumbers}, `{"a":1,"b":2,"c":"x"}`, `{"b":2}`, true},
		{"escaped key is the same key", []Spec{del("a")}, `{"\u0061":1,"b":2}`, `{"b":2}`, true},
		{"escaped key kept as written", []Spec{del("b")}, `{"\u0061":1,"b":2}`, `{"\u0061":1}`, true},
		{"duplicate keys: tree path", []Spec{del("b")}, `{"a":1,"b":2,"a":3}`, `{"a":3}`, false},
		{"duplicate spelled with escapes", []Spec{del("b")}, `{"a":1,"b":0,"\u0061":3}`, `{"a":3}`, false},
		{"unmodified keeps duplicates", []Spec{del("b")}, `{"a":1,"\u0061":3}`, `{"a":1,"\u0061":3}`, false},
		{"whitespace: tree path", []Spec{del("b")}, `{ "a" : [1, 2] , "b":2 }`, `{"a":[1,2]}`, false},
		{"nested values untouched", []Spec{del("x")}, `{"a":{"b":[1,{"c":"d\"e"}]},"x":1}`, `{"a":{"b":[1,{"c":"d\"e"}]}}`, true},
		{"array payload passes", []Spec{del("x")}, `[1,2]`, `[1,2]`, false},
		{"empty object", []Spec{add("a", 1)}, `{}`, `{"a":1}`, true},
		{"computed value", []Spec{{Type: "add_fields", Config: map[string]any{"fields": []any{map[string]any{"key": "t", "value": map[string]any{"computed": "timestamp_seconds"}}}}}}, `{"a":1}`,
			fmt.Sprintf(`{"a":1,"t":%d}`, fixed.Unix()), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewChain(tc.specs)
			if err != nil {
				t.Fatal(err)
			}
			tree, splice, treeErr, spliceErr, spliced := runBoth(t, c, []byte(tc.in))
			if treeErr != nil || spliceErr != nil {
				t.Fatalf("errors: %v, %v", treeErr, spliceErr)
			}
			if string(tree) != tc.want || string(splice) != tc.want || spliced != tc.spliced {
				t.Errorf("tree %s, splice %s (spliced %v); want %s (spliced %v)", tree, splice, spliced, tc.want, tc.spliced)
			}
		})
	}
}

// TestSpliceInvalidJSON: a payload the decoder rejects is rejected on the splice path with the
// decoder's error, naming the stream and the byte offset.
func TestSpliceInvalidJSON(t *testing.T) {
	c, err := NewChain([]Spec{{Type: "delete_fields", Config: map[string]any{"fields": []any{"b"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{`{"a":1,"b":[1,}`, `{"a":"\xff"}`, `{"b":01}`, `{"a":1}x`, `{"a":1`, `{"a":"\ud800"}`, `{"b":1,}`} {
		_, _, treeErr, spliceErr, _ := runBoth(t, c, []byte(in))
		if treeErr == nil || spliceErr == nil || treeErr.Error() != spliceErr.Error() {
			t.Errorf("%q: tree %v, splice %v", in, treeErr, spliceErr)
			continue
		}
		if !strings.Contains(spliceErr.Error(), `decode json payload of stream "s1" at byte offset`) {
			t.Errorf("%q: error does not name the stream and offset: %v", in, spliceErr)
		}
	}
}

// TestSplicePlanScope: which chains take the splice path.
func TestSplicePlanScope(t *testing.T) {
	dec, _ := codec.NewDecoder(abi.SchemaJSON, codec.Options{})
	raw, _ := codec.NewDecoder(abi.SchemaRaw, codec.Options{})
	fields, _ := NewChain([]Spec{{Type: "delete_fields", Config: map[string]any{"fields": []any{"a"}}}})
	unwrap, _ := NewChain([]Spec{{Type: "delete_fields", Config: map[string]any{"fields": []any{"a"}}}, {Type: "unwrap_envelope", Config: map[string]any{"field": "d"}}})
	if _, ok := fields.Decoder(dec).(spliceDecoder); !ok {
		t.Error("a delete_fields chain on json does not take the splice path")
	}
	if _, ok := unwrap.Decoder(dec).(spliceDecoder); ok {
		t.Error("a chain with unwrap_envelope takes the splice path")
	}
	if _, ok := fields.Decoder(raw).(spliceDecoder); ok {
		t.Error("a raw stream takes the splice path")
	}
	if _, ok := (Chain{}).Decoder(dec).(spliceDecoder); ok {
		t.Error("an empty chain takes the splice path")
	}
}

// FuzzSplice compares the two paths on arbitrary input with a chain of every kind.
func FuzzSplice(f *testing.F) {
	for _, s := range []string{`{"a":1,"debug_x":{"y":[1,2]},"status":"new","password":"p"}`, `{"\u0061":1,"a":2}`,
		`{ "a" : 1 }`, `[1]`, `{"a":"\ud83d\ude00"}`, `{"a":1e5,"b":-0.0}`, `{}`} {
		f.Add([]byte(s))
	}
	now = func() time.Time { return time.Unix(1700000000, 0) }
	c, err := NewChain([]Spec{
		{Type: "add_fields", Config: map[string]any{"fields": []any{map[string]any{"key": "source", "value": map[string]any{"static": "iggy"}},
			map[string]any{"key": "t", "value": map[string]any{"computed": "timestamp_millis"}}}}},
		{Type: "update_fields", Config: map[string]any{"fields": []any{map[string]any{"key": "status", "value": map[string]any{"static": "done"}, "condition": "key_exists"}}}},
		{Type: "filter_fields", Config: map[string]any{"include_matching": false, "patterns": []any{
			map[string]any{"key_pattern": map[string]any{"starts_with": "debug_"}},
			map[string]any{"value_pattern": map[string]any{"equals": int64(1)}}}}},
		{Type: "delete_fields", Config: map[string]any{"fields": []any{"password", "a"}}},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		tree, splice, treeErr, spliceErr, _ := runBoth(t, c, in)
		if (treeErr == nil) != (spliceErr == nil) || (treeErr != nil && treeErr.Error() != spliceErr.Error()) {
			t.Fatalf("errors differ: tree %v, splice %v", treeErr, spliceErr)
		}
		if !bytes.Equal(tree, splice) {
			t.Fatalf("outputs differ:\ntree:   %s\nsplice: %s", tree, splice)
		}
	})
}
