package config

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// Go maps forget the order of keys, but transforms run in the order a file lists them. These
// helpers recover, for every table of a document, the order in which its direct child keys first
// appear. Paths use the decoder's key-path form ("transforms", "plugin_config.x"); elements of
// arrays of tables share the array's path (only the order of plain tables is needed).

// tomlKeyOrder walks the TOML syntax tree of doc (go-toml's order-preserving parser) and returns,
// per table path, its child keys in first-appearance order. A document that does not parse yields
// what was read before the error (the caller reports the parse error separately).
func tomlKeyOrder(doc []byte) map[string][]string {
	o := orderRecorder{seen: map[string]map[string]bool{}, order: map[string][]string{}}
	var p unstable.Parser
	p.Reset(doc)
	var current []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			current = keyParts(e.Key())
			o.addPath(nil, current)
		case unstable.KeyValue:
			parts := keyParts(e.Key())
			o.addPath(current, parts)
			o.walkValue(append(append([]string{}, current...), parts...), e.Value())
		}
	}
	return o.order
}

type orderRecorder struct {
	seen  map[string]map[string]bool
	order map[string][]string
}

func (o *orderRecorder) add(table []string, key string) {
	p := strings.Join(table, ".")
	if o.seen[p] == nil {
		o.seen[p] = map[string]bool{}
	}
	if !o.seen[p][key] {
		o.seen[p][key] = true
		o.order[p] = append(o.order[p], key)
	}
}

// addPath records every step of the dotted key parts below base.
func (o *orderRecorder) addPath(base, parts []string) {
	t := append([]string{}, base...)
	for _, k := range parts {
		o.add(t, k)
		t = append(t, k)
	}
}

// walkValue records the keys of inline tables (also inside arrays, under the array's path).
func (o *orderRecorder) walkValue(path []string, n *unstable.Node) {
	switch n.Kind {
	case unstable.InlineTable:
		it := n.Children()
		for it.Next() {
			kv := it.Node()
			if kv.Kind != unstable.KeyValue {
				continue
			}
			parts := keyParts(kv.Key())
			o.addPath(path, parts)
			o.walkValue(append(append([]string{}, path...), parts...), kv.Value())
		}
	case unstable.Array:
		it := n.Children()
		for it.Next() {
			o.walkValue(path, it.Node())
		}
	}
}

func keyParts(it unstable.Iterator) []string {
	var parts []string
	for it.Next() {
		parts = append(parts, string(it.Node().Data))
	}
	return parts
}

// jsonKeyOrder returns the keys of the JSON object at doc's top-level member `member`, in document
// order, or nil when it is absent or not an object.
func jsonKeyOrder(doc []byte, member string) []string {
	var top map[string]json.RawMessage
	if json.Unmarshal(doc, &top) != nil {
		return nil
	}
	raw, ok := top[member]
	if !ok {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return keys
		}
		k, _ := t.(string)
		keys = append(keys, k)
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return keys
		}
	}
	return keys
}

// orderedKeys returns the keys of m: first those listed in order (that exist in m), then the rest
// sorted.
func orderedKeys(m map[string]any, order []string) []string {
	out := make([]string, 0, len(m))
	seen := make(map[string]bool, len(m))
	for _, k := range order {
		if _, ok := m[k]; ok && !seen[k] {
			out = append(out, k)
			seen[k] = true
		}
	}
	for _, k := range sortedKeys(m) {
		if !seen[k] {
			out = append(out, k)
		}
	}
	return out
}
