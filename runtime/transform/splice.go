package transform

import (
	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/runtime/codec"
)

// The splice path.
//
// A chain made only of add_fields, update_fields, delete_fields and filter_fields (any number, any
// order, any conditions and patterns) can run while a json payload is validated, in one pass over
// its bytes, instead of after decoding (the tree path: index every top-level member, run each
// transform over the index, write the result). Chain.Decoder returns a decoder that does this:
//
//   - Keys the chain names (every key of an add_fields, update_fields or delete_fields field) are
//     "named keys". Every other member can only be removed by a filter_fields; its fate is decided
//     when the scan reaches it, from its key and raw value (value patterns read the raw value as the
//     tree path does), and it is either dropped or kept as it is — its bytes are copied to the output
//     later in runs of adjacent kept members, never parsed beyond validation.
//   - A named key's fate depends only on whether it is present and on its value: the steps that
//     concern it (its sets and deletes and every filter, in chain order) are simulated when the scan
//     reaches it or, for a key the object lacks, after the scan. The result is: kept (at its place,
//     with the original or a new value), dropped, or appended after the original members. Appended
//     keys come in the order of the step that last appended them, which is the order the tree path's
//     Object.Set produces (a key deleted and set again moves to the end).
//   - Computed values are evaluated at the steps where the tree path evaluates them (only when the
//     condition holds).
//
// Nothing of the chain's semantics needs a parse of nested values: value patterns of filter_fields
// work on the raw value (equals on objects and arrays decodes that one value, as on the tree path),
// and update_fields conditions only test presence. The splice path gives up, and the payload goes
// the tree path (decoder, then Chain.Apply), when the payload is not a compact JSON object (any
// insignificant whitespace, an array or scalar, invalid JSON — whose error therefore comes from the
// decoder, exactly as without the splice path), when it has a duplicate top-level key, when a
// computed value fails, and for a chain with a transform of another type (unwrap_envelope) or more
// than 64 named keys.

type stepKind uint8

const (
	stepSet stepKind = iota + 1
	stepDelete
	stepFilter
)

type step struct {
	kind   stepKind
	field  *setField     // stepSet
	filter *filterFields // stepFilter
}

// splicePlan is a chain compiled for the splice path. It is immutable.
type splicePlan struct {
	names   []codec.Key
	nameSet *codec.KeySet
	nameB   [][]byte // names as bytes, for filter patterns
	steps   []step
	perKey  [][]int         // per named key: the steps that concern it, in order
	filters []*filterFields // every filter step, in order (for members with an unnamed key)
}

// compileSplice returns the splice plan of ts, or nil when the chain cannot take the splice path.
func compileSplice(ts []Transform) *splicePlan {
	sp := &splicePlan{}
	index := map[string]int{}
	named := func(k codec.Key) int {
		i, ok := index[k.String()]
		if !ok {
			i = len(sp.names)
			index[k.String()] = i
			sp.names = append(sp.names, k)
			sp.nameB = append(sp.nameB, []byte(k.String()))
			sp.perKey = append(sp.perKey, nil)
		}
		return i
	}
	for _, t := range ts {
		switch t := t.(type) {
		case *setFields:
			for i := range t.fields {
				k := named(t.fields[i].key)
				sp.perKey[k] = append(sp.perKey[k], len(sp.steps))
				sp.steps = append(sp.steps, step{kind: stepSet, field: &t.fields[i]})
			}
		case *deleteFields:
			for _, key := range t.keys {
				k := named(key)
				sp.perKey[k] = append(sp.perKey[k], len(sp.steps))
				sp.steps = append(sp.steps, step{kind: stepDelete})
			}
		case *filterFields:
			if len(t.keep) == 0 && len(t.pats) == 0 {
				continue // a no-op, as in its Apply
			}
			sp.filters = append(sp.filters, t)
			sp.steps = append(sp.steps, step{kind: stepFilter, filter: t})
		default:
			return nil
		}
	}
	if len(sp.names) > 64 {
		return nil
	}
	sp.nameSet = codec.NewKeySet(sp.names)
	// Every filter concerns every named key, also one before the key's first mention (it may drop
	// the original member).
	for k := range sp.perKey {
		var list []int
		for si, s := range sp.steps {
			if s.kind == stepFilter {
				list = append(list, si)
				continue
			}
			for _, x := range sp.perKey[k] {
				if x == si {
					list = append(list, si)
					break
				}
			}
		}
		sp.perKey[k] = list
	}
	return sp
}

// fate says where a named key ends up.
type fate struct {
	pos     uint8 // posNone, posKept (at its original place), posAppended
	changed bool  // posKept: the value is not the original
	at      int   // posAppended: the step that last appended it
	val     []byte
}

const (
	posNone uint8 = iota
	posKept
	posAppended
)

// fateOf runs the steps concerning named key k on its initial state: present with value orig, or
// absent. Computed values are appended to *scratch. ok=false: a computed value failed (the tree
// path reports it).
func (sp *splicePlan) fateOf(k int, present bool, orig []byte, scratch *[]byte, f *fate) (ok bool) {
	*f = fate{}
	if present {
		f.pos, f.val = posKept, orig
	}
	for _, si := range sp.perKey[k] {
		s := &sp.steps[si]
		switch s.kind {
		case stepSet:
			sf := s.field
			if (sf.cond == condKeyExists && f.pos == posNone) || (sf.cond == condKeyNotExists && f.pos != posNone) {
				continue
			}
			if sf.value.static != nil {
				f.val = sf.value.static
			} else {
				start := len(*scratch)
				v, err := appendComputed(*scratch, sf.value.computed)
				if err != nil {
					return false
				}
				*scratch = v
				f.val = v[start:len(v):len(v)]
			}
			f.changed = true
			if f.pos == posNone {
				f.pos, f.at = posAppended, si
			}
		case stepDelete:
			f.pos = posNone
		case stepFilter:
			if f.pos != posNone && !s.filter.keepMember(sp.nameB[k], f.val) {
				f.pos = posNone
			}
		}
	}
	return true
}

type pendingAppend struct {
	key int
	f   fate
}

// splice runs the plan on b while validating it. ok=false means the payload must take the tree
// path (nothing of b was judged yet).
func (sp *splicePlan) splice(b []byte) (codec.Payload, bool) {
	var m codec.Members
	if !m.Start(b) {
		return codec.Payload{}, false
	}
	var seen uint64
	var f fate
	var pendBuf [4]pendingAppend
	pending := pendBuf[:0]
	for m.Next() {
		k := -1
		if len(sp.names) > 0 {
			k = m.Find(sp.nameSet)
		}
		if k < 0 {
			keep := true
			for _, t := range sp.filters {
				if !t.keepMember(m.Key(), m.Value()) {
					keep = false
					break
				}
			}
			if keep {
				m.Keep()
			} else {
				m.Drop()
			}
			continue
		}
		seen |= 1 << k
		if !sp.fateOf(k, true, m.Value(), m.Scratch(), &f) {
			m.Abort()
			return codec.Payload{}, false
		}
		switch {
		case f.pos == posKept && !f.changed:
			m.Keep()
		case f.pos == posKept:
			m.Replace(f.val)
		default:
			m.Drop()
			if f.pos == posAppended {
				pending = append(pending, pendingAppend{key: k, f: f})
			}
		}
	}
	for k := range sp.names {
		if seen&(1<<k) != 0 {
			continue
		}
		if !sp.fateOf(k, false, nil, m.Scratch(), &f) {
			m.Abort()
			return codec.Payload{}, false
		}
		if f.pos == posAppended {
			pending = append(pending, pendingAppend{key: k, f: f})
		}
	}
	// In the order of the steps that appended them (insertion sort: a handful of keys).
	for i := 1; i < len(pending); i++ {
		for j := i; j > 0 && pending[j].f.at < pending[j-1].f.at; j-- {
			pending[j], pending[j-1] = pending[j-1], pending[j]
		}
	}
	for i := range pending {
		m.Append(sp.names[pending[i].key], pending[i].f.val)
	}
	return m.Done()
}

// spliceDecoder is a json decoder that applies a chain on the splice path, falling back to the
// wrapped decoder (and the tree path in Chain.Apply).
type spliceDecoder struct {
	codec.Decoder
	plan *splicePlan
}

func (d spliceDecoder) Decode(b []byte) (codec.Payload, error) {
	if p, ok := d.plan.splice(b); ok {
		return p, nil
	}
	return d.Decoder.Decode(b)
}

// Decoder returns a decoder that applies the chain while it decodes when it can (the splice path,
// described in splice.go), or dec itself. It can for a json decoder and a chain of add_fields,
// update_fields, delete_fields and filter_fields only. Payloads it transformed report
// Payload.Spliced, and Apply leaves them alone; the others (not a compact JSON object, a duplicate
// key, invalid JSON — with dec's error) come from dec and Apply transforms them on the tree path.
// Call Apply on every decoded payload either way.
func (c Chain) Decoder(dec codec.Decoder) codec.Decoder {
	if c.plan == nil || len(c.ts) == 0 || dec.Schema() != abi.SchemaJSON {
		return dec
	}
	return spliceDecoder{Decoder: dec, plan: c.plan}
}
