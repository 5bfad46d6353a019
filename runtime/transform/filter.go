package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/iggy-go/connectors/runtime/codec"
)

type keyMatch uint8

const (
	keyExact keyMatch = iota + 1
	keyStartsWith
	keyEndsWith
	keyContains
	keyRegex
)

type keyPattern struct {
	kind keyMatch
	s    []byte
	re   *regexp.Regexp
}

func (kp *keyPattern) matches(k []byte) bool {
	switch kp.kind {
	case keyExact:
		return bytes.Equal(k, kp.s)
	case keyStartsWith:
		return bytes.HasPrefix(k, kp.s)
	case keyEndsWith:
		return bytes.HasSuffix(k, kp.s)
	case keyContains:
		return bytes.Contains(k, kp.s)
	default:
		return kp.re.Match(k)
	}
}

type valueMatch uint8

const (
	valEquals valueMatch = iota + 1
	valContains
	valRegex
	valGreaterThan
	valLessThan
	valBetween
	valIsNull
	valIsNotNull
	valIsString
	valIsNumber
	valIsBoolean
	valIsObject
	valIsArray
)

var valueTests = map[string]valueMatch{
	"is_null": valIsNull, "is_not_null": valIsNotNull, "is_string": valIsString, "is_number": valIsNumber,
	"is_boolean": valIsBoolean, "is_object": valIsObject, "is_array": valIsArray,
}

type valuePattern struct {
	kind   valueMatch
	equals []byte // compact JSON
	s      []byte
	re     *regexp.Regexp
	a, b   float64
}

func isNumberStart(c byte) bool { return c == '-' || (c >= '0' && c <= '9') }

func (vp *valuePattern) matches(raw []byte) bool {
	c := raw[0]
	switch vp.kind {
	case valEquals:
		return jsonEqual(raw, vp.equals)
	case valContains:
		return c == '"' && bytes.Contains(codec.Unquote(raw), vp.s)
	case valRegex:
		return c == '"' && vp.re.Match(codec.Unquote(raw))
	case valGreaterThan, valLessThan, valBetween:
		if !isNumberStart(c) {
			return false
		}
		n, err := strconv.ParseFloat(string(raw), 64)
		if err != nil && !math.IsInf(n, 0) {
			return false
		}
		switch vp.kind {
		case valGreaterThan:
			return n > vp.a
		case valLessThan:
			return n < vp.a
		default:
			return n >= vp.a && n <= vp.b
		}
	case valIsNull:
		return c == 'n'
	case valIsNotNull:
		return c != 'n'
	case valIsString:
		return c == '"'
	case valIsNumber:
		return isNumberStart(c)
	case valIsBoolean:
		return c == 't' || c == 'f'
	case valIsObject:
		return c == '{'
	default: // array
		return c == '['
	}
}

type filterPattern struct {
	key   *keyPattern
	value *valuePattern
}

type filterFields struct {
	keep    [][]byte
	include bool
	pats    []filterPattern
}

func (*filterFields) Type() string { return TypeFilterFields }

func (t *filterFields) keepMember(key, raw []byte) bool {
	for _, k := range t.keep {
		if bytes.Equal(k, key) {
			return true
		}
	}
	matched := false
	for i := range t.pats {
		p := &t.pats[i]
		if (p.key == nil || p.key.matches(key)) && (p.value == nil || p.value.matches(raw)) {
			matched = true
			break
		}
	}
	return matched == t.include
}

func (t *filterFields) Apply(_ Meta, p *codec.Payload) error {
	if len(t.keep) == 0 && len(t.pats) == 0 {
		return nil
	}
	obj, ok := p.Object()
	if !ok {
		return nil
	}
	obj.Retain(t.keepMember)
	return nil
}

func newFilterFields(o *cfgObj) (Transform, error) {
	keep, err := o.strings("keep_fields")
	if err != nil {
		return nil, err
	}
	include, err := o.boolean("include_matching", true)
	if err != nil {
		return nil, err
	}
	list, err := o.list("patterns")
	if err != nil {
		return nil, err
	}
	t := &filterFields{include: include}
	for _, k := range keep {
		t.keep = append(t.keep, []byte(k))
	}
	for i, item := range list {
		path := fmt.Sprintf("%s[%d]", o.sub("patterns"), i)
		po, err := newCfgObj(path, item)
		if err != nil {
			return nil, err
		}
		var fp filterPattern
		if v, ok := po.get("key_pattern"); ok {
			if fp.key, err = parseKeyPattern(path+".key_pattern", v); err != nil {
				return nil, err
			}
		}
		if v, ok := po.get("value_pattern"); ok {
			if fp.value, err = parseValuePattern(path+".value_pattern", v); err != nil {
				return nil, err
			}
		}
		if err := po.done(); err != nil {
			return nil, err
		}
		t.pats = append(t.pats, fp)
	}
	return t, nil
}

func compileRegex(path, s string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid regex %q: %w", path, s, err)
	}
	return re, nil
}

func parseKeyPattern(path string, v any) (*keyPattern, error) {
	k, val, err := variant(path, v, "exact", "starts_with", "ends_with", "contains", "regex")
	if err != nil {
		return nil, err
	}
	s, ok := val.(string)
	if !ok {
		return nil, fmt.Errorf("%s.%s: want a string, got %s", path, k, typeName(val))
	}
	kp := &keyPattern{s: []byte(s)}
	switch k {
	case "exact":
		kp.kind = keyExact
	case "starts_with":
		kp.kind = keyStartsWith
	case "ends_with":
		kp.kind = keyEndsWith
	case "contains":
		kp.kind = keyContains
	default:
		kp.kind = keyRegex
		if kp.re, err = compileRegex(path+".regex", s); err != nil {
			return nil, err
		}
	}
	return kp, nil
}

func number(path string, v any) (float64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%s: want a number, got %s", path, typeName(v))
	}
	f, err := n.Float64()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

func parseValuePattern(path string, v any) (*valuePattern, error) {
	if s, ok := v.(string); ok {
		if k, ok := valueTests[s]; ok {
			return &valuePattern{kind: k}, nil
		}
		return nil, fmt.Errorf("%s: unknown value test %q (want is_null, is_not_null, is_string, is_number, is_boolean, is_object, is_array, or a table)", path, s)
	}
	k, val, err := variant(path, v, "equals", "contains", "regex", "greater_than", "less_than", "between")
	if err != nil {
		return nil, err
	}
	sub := path + "." + k
	vp := &valuePattern{}
	switch k {
	case "equals":
		vp.kind = valEquals
		if vp.equals, err = marshalValue(val); err != nil {
			return nil, fmt.Errorf("%s: %w", sub, err)
		}
	case "contains", "regex":
		s, ok := val.(string)
		if !ok {
			return nil, fmt.Errorf("%s: want a string, got %s", sub, typeName(val))
		}
		vp.kind, vp.s = valContains, []byte(s)
		if k == "regex" {
			vp.kind = valRegex
			if vp.re, err = compileRegex(sub, s); err != nil {
				return nil, err
			}
		}
	case "greater_than", "less_than":
		vp.kind = valGreaterThan
		if k == "less_than" {
			vp.kind = valLessThan
		}
		if vp.a, err = number(sub, val); err != nil {
			return nil, err
		}
	default: // between
		l, ok := val.([]any)
		if !ok || len(l) != 2 {
			return nil, fmt.Errorf("%s: want [low, high], got %s", sub, describe(val))
		}
		vp.kind = valBetween
		if vp.a, err = number(sub+"[0]", l[0]); err != nil {
			return nil, err
		}
		if vp.b, err = number(sub+"[1]", l[1]); err != nil {
			return nil, err
		}
	}
	return vp, nil
}

// jsonEqual compares two valid compact JSON values: strings by decoded content, numbers by exact
// value (1, 1.0 and 10e-1 are equal), objects as unordered key sets (last duplicate wins), arrays
// element by element.
func jsonEqual(a, b []byte) bool {
	ca, cb := a[0], b[0]
	switch {
	case ca == '"' && cb == '"':
		return bytes.Equal(codec.Unquote(a), codec.Unquote(b))
	case isNumberStart(ca) && isNumberStart(cb):
		return numEqual(string(a), string(b))
	case ca == '{' && cb == '{', ca == '[' && cb == '[':
		va, ea := decodeAny(a)
		vb, eb := decodeAny(b)
		return ea == nil && eb == nil && anyEqual(va, vb)
	case ca != cb:
		return false
	}
	return bytes.Equal(a, b) // true, false, null
}

func decodeAny(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func anyEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !anyEqual(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !anyEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		return ok && numEqual(string(x), string(y))
	default:
		return a == b
	}
}

// decimal is a JSON number as sign × 0.digits × 10^exp with no leading or trailing zero digits.
type decimal struct {
	neg    bool
	digits string
	exp    int64
}

func parseDecimal(s string) (decimal, bool) {
	var d decimal
	if strings.HasPrefix(s, "-") {
		d.neg, s = true, s[1:]
	}
	mant, exps, _ := strings.Cut(strings.ReplaceAll(s, "E", "e"), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	var exp int64
	if exps != "" {
		var err error
		if exp, err = strconv.ParseInt(exps, 10, 64); err != nil || exp > 1<<40 || exp < -(1<<40) {
			return d, false
		}
	}
	digits := intPart + frac
	exp += int64(len(intPart))
	trimmed := strings.TrimLeft(digits, "0")
	exp -= int64(len(digits) - len(trimmed))
	trimmed = strings.TrimRight(trimmed, "0")
	if trimmed == "" {
		return decimal{}, true // zero, whatever its sign
	}
	d.digits, d.exp = trimmed, exp
	return d, true
}

func numEqual(a, b string) bool {
	if a == b {
		return true
	}
	da, oka := parseDecimal(a)
	db, okb := parseDecimal(b)
	if !oka || !okb {
		return false
	}
	return da == db
}
