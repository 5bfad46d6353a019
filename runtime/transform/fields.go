package transform

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/iggy-go/connectors/runtime/codec"
)

// Computed value kinds.
const (
	ComputedDateTime         = "date_time"
	ComputedTimestampNanos   = "timestamp_nanos"
	ComputedTimestampMicros  = "timestamp_micros"
	ComputedTimestampMillis  = "timestamp_millis"
	ComputedTimestampSeconds = "timestamp_seconds"
	ComputedUUIDv4           = "uuid_v4"
	ComputedUUIDv7           = "uuid_v7"
)

var computedKinds = []string{ComputedDateTime, ComputedTimestampNanos, ComputedTimestampMicros,
	ComputedTimestampMillis, ComputedTimestampSeconds, ComputedUUIDv4, ComputedUUIDv7}

// now is the clock of computed values (a variable for tests).
var now = time.Now

// fieldValue is a static or computed value of add_fields/update_fields.
type fieldValue struct {
	static   []byte // compact JSON; nil for computed values
	computed string
}

// appendValue appends the JSON to store for one message to dst.
func (v *fieldValue) appendValue(dst []byte) ([]byte, error) {
	if v.static != nil {
		return append(dst, v.static...), nil
	}
	return appendComputed(dst, v.computed)
}

// compute renders a computed value as JSON.
func compute(kind string) ([]byte, error) { return appendComputed(nil, kind) }

// appendComputed appends a computed value as JSON to dst.
func appendComputed(dst []byte, kind string) ([]byte, error) {
	switch kind {
	case ComputedUUIDv4:
		u, err := uuid.NewRandom()
		if err != nil {
			return nil, fmt.Errorf("uuid_v4: %w", err)
		}
		return appendUUID(dst, u), nil
	case ComputedUUIDv7:
		u, err := uuid.NewV7()
		if err != nil {
			return nil, fmt.Errorf("uuid_v7: %w", err)
		}
		return appendUUID(dst, u), nil
	}
	t := now().UTC()
	switch kind {
	case ComputedDateTime:
		return appendRFC3339(dst, t), nil
	case ComputedTimestampNanos:
		return strconv.AppendInt(dst, t.UnixNano(), 10), nil
	case ComputedTimestampMicros:
		return strconv.AppendInt(dst, t.UnixMicro(), 10), nil
	case ComputedTimestampMillis:
		return strconv.AppendInt(dst, t.UnixMilli(), 10), nil
	default: // seconds
		return strconv.AppendInt(dst, t.Unix(), 10), nil
	}
}

func appendUUID(dst []byte, u uuid.UUID) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[b>>4], hexDigits[b&0xf])
	}
	return append(dst, '"')
}

// appendRFC3339 renders t (UTC) as a quoted RFC 3339 string the way chrono's to_rfc3339 does:
// "+00:00" offset and 0, 3, 6 or 9 fractional digits, whichever is shortest without losing precision.
func appendRFC3339(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, "2006-01-02T15:04:05")
	ns := t.Nanosecond()
	switch {
	case ns == 0:
	case ns%1_000_000 == 0:
		dst = appendFrac(dst, ns/1_000_000, 3)
	case ns%1_000 == 0:
		dst = appendFrac(dst, ns/1_000, 6)
	default:
		dst = appendFrac(dst, ns, 9)
	}
	return append(dst, `+00:00"`...)
}

func appendFrac(dst []byte, v, digits int) []byte {
	dst = append(dst, '.')
	var buf [9]byte
	for i := digits - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[:digits]...)
}

// parseFieldValue reads value = { static = ... } | { computed = "..." }.
func parseFieldValue(path string, v any) (fieldValue, error) {
	k, val, err := variant(path, v, "static", "computed")
	if err != nil {
		return fieldValue{}, err
	}
	if k == "static" {
		raw, err := marshalValue(val)
		if err != nil {
			return fieldValue{}, fmt.Errorf("%s.static: %w", path, err)
		}
		return fieldValue{static: raw}, nil
	}
	s, ok := val.(string)
	if !ok {
		return fieldValue{}, fmt.Errorf("%s.computed: want one of %s, got %s", path, strings.Join(computedKinds, ", "), typeName(val))
	}
	for _, c := range computedKinds {
		if s == c {
			return fieldValue{computed: s}, nil
		}
	}
	return fieldValue{}, fmt.Errorf("%s.computed: unknown computed value %q (want one of %s)", path, s, strings.Join(computedKinds, ", "))
}

// --- add_fields and update_fields ---------------------------------------------------------------

type condition uint8

const (
	condAlways condition = iota
	condKeyExists
	condKeyNotExists
)

type setField struct {
	key   codec.Key
	value fieldValue
	cond  condition
}

// setFields is add_fields (no conditions) and update_fields.
type setFields struct {
	typ    string
	fields []setField
}

func (t *setFields) Type() string { return t.typ }

func (t *setFields) Apply(_ Meta, p *codec.Payload) error {
	if len(t.fields) == 0 {
		return nil
	}
	obj, ok := p.Object()
	if !ok {
		return nil
	}
	for i := range t.fields {
		f := &t.fields[i]
		switch f.cond {
		case condKeyExists:
			if !obj.Has(f.key) {
				continue
			}
		case condKeyNotExists:
			if obj.Has(f.key) {
				continue
			}
		}
		if f.value.static != nil {
			obj.Set(f.key, f.value.static)
			continue
		}
		var buf [64]byte // computed values are short; Set copies them
		v, err := appendComputed(buf[:0], f.value.computed)
		if err != nil {
			return fmt.Errorf("field %q: %w", f.key.String(), err)
		}
		obj.Set(f.key, v)
	}
	return nil
}

func parseSetFields(o *cfgObj, typ string, withCondition bool) (*setFields, error) {
	list, err := o.list("fields")
	if err != nil {
		return nil, err
	}
	t := &setFields{typ: typ}
	for i, item := range list {
		path := fmt.Sprintf("%s[%d]", o.sub("fields"), i)
		fo, err := newCfgObj(path, item)
		if err != nil {
			return nil, err
		}
		key, err := fo.str("key", true)
		if err != nil {
			return nil, err
		}
		rawVal, ok := fo.get("value")
		if !ok {
			return nil, fmt.Errorf("%s.value: missing (want { static = ... } or { computed = \"...\" })", path)
		}
		val, err := parseFieldValue(path+".value", rawVal)
		if err != nil {
			return nil, err
		}
		f := setField{key: codec.NewKey(key), value: val}
		if withCondition {
			c, err := fo.str("condition", false)
			if err != nil {
				return nil, err
			}
			switch c {
			case "", "always":
				f.cond = condAlways
			case "key_exists":
				f.cond = condKeyExists
			case "key_not_exists":
				f.cond = condKeyNotExists
			default:
				return nil, fmt.Errorf("%s.condition: unknown condition %q (want always, key_exists or key_not_exists)", path, c)
			}
		}
		if err := fo.done(); err != nil {
			return nil, err
		}
		t.fields = append(t.fields, f)
	}
	return t, nil
}

func newAddFields(o *cfgObj) (Transform, error) { return parseSetFields(o, TypeAddFields, false) }

func newUpdateFields(o *cfgObj) (Transform, error) {
	return parseSetFields(o, TypeUpdateFields, true)
}

// --- delete_fields ------------------------------------------------------------------------------

type deleteFields struct{ keys []codec.Key }

func (*deleteFields) Type() string { return TypeDeleteFields }

func (t *deleteFields) Apply(_ Meta, p *codec.Payload) error {
	if len(t.keys) == 0 {
		return nil
	}
	obj, ok := p.Object()
	if !ok {
		return nil
	}
	for _, k := range t.keys {
		obj.Delete(k)
	}
	return nil
}

func newDeleteFields(o *cfgObj) (Transform, error) {
	names, err := o.strings("fields")
	if err != nil {
		return nil, err
	}
	t := &deleteFields{}
	for _, n := range names {
		t.keys = append(t.keys, codec.NewKey(n))
	}
	return t, nil
}

// --- unwrap_envelope ----------------------------------------------------------------------------

type unwrapEnvelope struct{ key codec.Key }

func (*unwrapEnvelope) Type() string { return TypeUnwrapEnvelope }

func (t *unwrapEnvelope) Apply(_ Meta, p *codec.Payload) error {
	p.Unwrap(t.key)
	return nil
}

func newUnwrapEnvelope(o *cfgObj) (Transform, error) {
	f, err := o.str("field", true)
	if err != nil {
		return nil, err
	}
	if f == "" {
		return nil, fmt.Errorf("%s: must not be empty", o.sub("field"))
	}
	return &unwrapEnvelope{key: codec.NewKey(f)}, nil
}
