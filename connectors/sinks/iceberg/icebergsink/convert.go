package icebergsink

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"
	json "github.com/goccy/go-json"
	"github.com/google/uuid"
)

// converter turns JSON objects into Arrow records of one table schema. Each value is checked before
// anything is appended, so a message that does not fit (a string in a long column, a missing
// required field) fails alone and leaves the builders consistent. Not safe for concurrent use.
type converter struct {
	schema        *arrow.Schema
	cols          []column
	byName        map[string]int
	rejectUnknown bool
	mem           memory.Allocator
}

// column is one top-level field: how to check a JSON value and how to append it.
type column struct {
	name     string
	required bool
	codec    codec
}

// codec checks a decoded JSON value (nil, bool, string, json.Number, []any, map[string]any) against an
// Arrow type, and appends it to that type's builder. add is only called with values check accepted;
// nil (JSON null or a missing field) is handled by the caller.
type codec struct {
	check func(v any) error
	add   func(b array.Builder, v any)
}

func newConverter(schema *arrow.Schema, rejectUnknown bool) (*converter, error) {
	c := &converter{schema: schema, byName: map[string]int{}, rejectUnknown: rejectUnknown, mem: memory.DefaultAllocator}
	for i, f := range schema.Fields() {
		cd, err := codecFor(f.Type)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		c.cols = append(c.cols, column{name: f.Name, required: !f.Nullable, codec: cd})
		c.byName[f.Name] = i
	}
	return c, nil
}

// decodeObject parses a JSON payload that must be an object. Numbers stay json.Number so that longs
// keep all 64 bits. Flat objects take the single-pass fastObject; the rest goes through go-json.
//
// reuse, when not nil, is an empty map the fast path fills; strings of the result may point into
// payload (see fastObject).
func decodeObject(payload []byte, reuse map[string]any) (map[string]any, error) {
	if obj, ok := fastObject(payload, reuse); ok {
		return obj, nil
	}
	if reuse != nil {
		clear(reuse) // the fast path may have filled part of it
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("payload is not a JSON object: %w", err)
	}
	if obj == nil {
		return nil, errors.New("payload is JSON null, not an object")
	}
	if dec.More() {
		return nil, errors.New("payload has data after the JSON object")
	}
	return obj, nil
}

// check reports whether obj fits the schema, naming the first offending field.
func (c *converter) check(obj map[string]any) error {
	for i := range c.cols {
		col := &c.cols[i]
		v, ok := obj[col.name]
		if !ok || v == nil {
			if col.required {
				return fmt.Errorf("field %q: required column is missing or null", col.name)
			}
			continue
		}
		if err := col.codec.check(v); err != nil {
			return fmt.Errorf("field %q: %w", col.name, err)
		}
	}
	if c.rejectUnknown && len(obj) > 0 {
		for k := range obj {
			if _, ok := c.byName[k]; !ok {
				return fmt.Errorf("field %q is not a column of the table (unknown_fields = \"reject\")", k)
			}
		}
	}
	return nil
}

// build appends checked objects to a new record.
func (c *converter) build(objs []map[string]any) arrow.RecordBatch {
	rb := array.NewRecordBuilder(c.mem, c.schema)
	defer rb.Release()
	rb.Reserve(len(objs))
	for _, obj := range objs {
		for i := range c.cols {
			b := rb.Field(i)
			if v := obj[c.cols[i].name]; v != nil {
				c.cols[i].codec.add(b, v)
			} else {
				b.AppendNull()
			}
		}
	}
	return rb.NewRecordBatch()
}

// prim builds the codec of a primitive type from its parser.
func prim[T any, B interface{ Append(T) }](parse func(any) (T, error)) codec {
	return codec{
		check: func(v any) error { _, err := parse(v); return err },
		add: func(b array.Builder, v any) {
			x, _ := parse(v)
			b.(B).Append(x)
		},
	}
}

func codecFor(t arrow.DataType) (codec, error) {
	switch t := t.(type) {
	case *arrow.BooleanType:
		return prim[bool, *array.BooleanBuilder](parseBool), nil
	case *arrow.Int32Type:
		return prim[int32, *array.Int32Builder](func(v any) (int32, error) {
			n, err := parseInt(v, 32)
			return int32(n), err
		}), nil
	case *arrow.Int64Type:
		return prim[int64, *array.Int64Builder](func(v any) (int64, error) { return parseInt(v, 64) }), nil
	case *arrow.Float32Type:
		return prim[float32, *array.Float32Builder](func(v any) (float32, error) {
			f, err := parseFloat(v)
			return float32(f), err
		}), nil
	case *arrow.Float64Type:
		return prim[float64, *array.Float64Builder](parseFloat), nil
	case *arrow.Decimal128Type:
		return prim[decimal128.Num, *array.Decimal128Builder](func(v any) (decimal128.Num, error) {
			var s string
			switch x := v.(type) {
			case json.Number:
				s = string(x)
			case string:
				s = x
			default:
				return decimal128.Num{}, typeErr("a decimal (number or string)", v)
			}
			return decimal128.FromString(s, t.Precision, t.Scale)
		}), nil
	case *arrow.Date32Type:
		return prim[arrow.Date32, *array.Date32Builder](parseDate), nil
	case *arrow.Time64Type:
		return prim[arrow.Time64, *array.Time64Builder](func(v any) (arrow.Time64, error) { return parseTime(v, t.Unit) }), nil
	case *arrow.TimestampType:
		return prim[arrow.Timestamp, *array.TimestampBuilder](func(v any) (arrow.Timestamp, error) { return parseTimestamp(v, t) }), nil
	case *arrow.StringType:
		return prim[string, *array.StringBuilder](parseString), nil
	case *arrow.LargeStringType:
		return prim[string, *array.LargeStringBuilder](parseString), nil
	case *arrow.BinaryType:
		return prim[[]byte, *array.BinaryBuilder](parseBase64), nil
	case *arrow.LargeBinaryType:
		return prim[[]byte, *array.BinaryBuilder](parseBase64), nil
	case *arrow.FixedSizeBinaryType:
		return prim[[]byte, *array.FixedSizeBinaryBuilder](func(v any) ([]byte, error) {
			b, err := parseBase64(v)
			if err == nil && len(b) != t.ByteWidth {
				err = fmt.Errorf("fixed[%d] needs %d bytes, got %d", t.ByteWidth, t.ByteWidth, len(b))
			}
			return b, err
		}), nil
	case *extensions.UUIDType:
		return prim[uuid.UUID, *extensions.UUIDBuilder](func(v any) (uuid.UUID, error) {
			s, ok := v.(string)
			if !ok {
				return uuid.UUID{}, typeErr("a UUID string", v)
			}
			return uuid.Parse(s)
		}), nil
	case *arrow.StructType:
		return structCodec(t)
	case *arrow.ListType:
		return listCodec(t.Elem(), !t.ElemField().Nullable, func(b array.Builder) (array.Builder, func()) {
			lb := b.(*array.ListBuilder)
			return lb.ValueBuilder(), func() { lb.Append(true) }
		})
	case *arrow.LargeListType:
		return listCodec(t.Elem(), !t.ElemField().Nullable, func(b array.Builder) (array.Builder, func()) {
			lb := b.(*array.LargeListBuilder)
			return lb.ValueBuilder(), func() { lb.Append(true) }
		})
	case *arrow.MapType:
		return mapCodec(t)
	}
	return codec{}, fmt.Errorf("type %s is not supported by the sink", t)
}

func structCodec(t *arrow.StructType) (codec, error) {
	fields := t.Fields()
	subs := make([]codec, len(fields))
	for i, f := range fields {
		cd, err := codecFor(f.Type)
		if err != nil {
			return codec{}, fmt.Errorf("%s: %w", f.Name, err)
		}
		subs[i] = cd
	}
	return codec{
		check: func(v any) error {
			obj, ok := v.(map[string]any)
			if !ok {
				return typeErr("an object", v)
			}
			for i, f := range fields {
				x := obj[f.Name]
				if x == nil {
					if !f.Nullable {
						return fmt.Errorf("%s: required field is missing or null", f.Name)
					}
					continue
				}
				if err := subs[i].check(x); err != nil {
					return fmt.Errorf("%s: %w", f.Name, err)
				}
			}
			return nil
		},
		add: func(b array.Builder, v any) {
			sb := b.(*array.StructBuilder)
			sb.Append(true)
			obj := v.(map[string]any)
			for i, f := range fields {
				if x := obj[f.Name]; x != nil {
					subs[i].add(sb.FieldBuilder(i), x)
				} else {
					sb.FieldBuilder(i).AppendNull()
				}
			}
		},
	}, nil
}

func listCodec(elem arrow.DataType, elemRequired bool, open func(array.Builder) (array.Builder, func())) (codec, error) {
	sub, err := codecFor(elem)
	if err != nil {
		return codec{}, fmt.Errorf("element: %w", err)
	}
	return codec{
		check: func(v any) error {
			arr, ok := v.([]any)
			if !ok {
				return typeErr("an array", v)
			}
			for i, x := range arr {
				if x == nil {
					if elemRequired {
						return fmt.Errorf("[%d]: required element is null", i)
					}
					continue
				}
				if err := sub.check(x); err != nil {
					return fmt.Errorf("[%d]: %w", i, err)
				}
			}
			return nil
		},
		add: func(b array.Builder, v any) {
			vb, start := open(b)
			start()
			for _, x := range v.([]any) {
				if x == nil {
					vb.AppendNull()
				} else {
					sub.add(vb, x)
				}
			}
		},
	}, nil
}

// mapCodec accepts a JSON object (keys converted to the key type: strings as they are, numbers
// parsed) for maps.
func mapCodec(t *arrow.MapType) (codec, error) {
	kc, err := codecFor(t.KeyType())
	if err != nil {
		return codec{}, fmt.Errorf("key: %w", err)
	}
	vc, err := codecFor(t.ItemType())
	if err != nil {
		return codec{}, fmt.Errorf("value: %w", err)
	}
	_, stringKeys := t.KeyType().(*arrow.StringType)
	key := func(k string) any {
		if stringKeys {
			return k
		}
		return json.Number(k)
	}
	valueRequired := !t.ItemField().Nullable
	return codec{
		check: func(v any) error {
			obj, ok := v.(map[string]any)
			if !ok {
				return typeErr("an object", v)
			}
			for k, x := range obj {
				if err := kc.check(key(k)); err != nil {
					return fmt.Errorf("key %q: %w", k, err)
				}
				if x == nil {
					if valueRequired {
						return fmt.Errorf("%s: required value is null", k)
					}
					continue
				}
				if err := vc.check(x); err != nil {
					return fmt.Errorf("%s: %w", k, err)
				}
			}
			return nil
		},
		add: func(b array.Builder, v any) {
			mb := b.(*array.MapBuilder)
			mb.Append(true)
			for k, x := range v.(map[string]any) {
				kc.add(mb.KeyBuilder(), key(k))
				if x == nil {
					mb.ItemBuilder().AppendNull()
				} else {
					vc.add(mb.ItemBuilder(), x)
				}
			}
		},
	}, nil
}

func typeErr(want string, v any) error {
	var got string
	switch v.(type) {
	case bool:
		got = "a boolean"
	case string:
		got = "a string"
	case json.Number:
		got = "a number"
	case []any:
		got = "an array"
	case map[string]any:
		got = "an object"
	default:
		got = fmt.Sprintf("%T", v)
	}
	return fmt.Errorf("want %s, got %s", want, got)
}

func parseBool(v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, typeErr("a boolean", v)
	}
	return b, nil
}

func parseString(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", typeErr("a string", v)
	}
	return s, nil
}

func parseBase64(v any) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return nil, typeErr("a base64 string", v)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("invalid base64: %w", err)
	}
	return b, nil
}

func parseInt(v any, bits int) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, typeErr("an integer", v)
	}
	i, err := strconv.ParseInt(string(n), 10, bits)
	if err != nil {
		// 1.0 and 1e3 are integers too.
		f, ferr := strconv.ParseFloat(string(n), 64)
		if ferr != nil || f != math.Trunc(f) || f < -math.Pow(2, float64(bits-1)) || f >= math.Pow(2, float64(bits-1)) {
			return 0, fmt.Errorf("%s is not a %d-bit integer", n, bits)
		}
		return int64(f), nil
	}
	return i, nil
}

func parseFloat(v any) (float64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, typeErr("a number", v)
	}
	return strconv.ParseFloat(string(n), 64)
}

// parseDate accepts "2006-01-02" or a number of days since 1970-01-01.
func parseDate(v any) (arrow.Date32, error) {
	switch x := v.(type) {
	case string:
		t, err := time.Parse(time.DateOnly, x)
		if err != nil {
			return 0, fmt.Errorf("invalid date %q (want YYYY-MM-DD)", x)
		}
		return arrow.Date32FromTime(t), nil
	case json.Number:
		n, err := parseInt(x, 32)
		return arrow.Date32(n), err
	}
	return 0, typeErr("a date (YYYY-MM-DD or days since the epoch)", v)
}

// parseTime accepts "15:04:05[.fraction]" or a number of the column's unit since midnight.
func parseTime(v any, unit arrow.TimeUnit) (arrow.Time64, error) {
	switch x := v.(type) {
	case string:
		t, err := time.Parse("15:04:05.999999999", x)
		if err != nil {
			return 0, fmt.Errorf("invalid time %q (want HH:MM:SS[.ffffff])", x)
		}
		d := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute +
			time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond())
		return arrow.Time64(d / unit.Multiplier()), nil
	case json.Number:
		n, err := parseInt(x, 64)
		return arrow.Time64(n), err
	}
	return 0, typeErr("a time (HH:MM:SS[.ffffff] or a number)", v)
}

// parseTimestamp accepts RFC 3339 text (a timestamp without zone may omit the offset, read as UTC)
// or a number of the column's unit since the epoch.
func parseTimestamp(v any, t *arrow.TimestampType) (arrow.Timestamp, error) {
	switch x := v.(type) {
	case string:
		ts, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			ts, err = time.Parse("2006-01-02T15:04:05.999999999", strings.Replace(x, " ", "T", 1))
			if err != nil {
				return 0, fmt.Errorf("invalid timestamp %q (want RFC 3339)", x)
			}
		}
		return arrow.TimestampFromTime(ts, t.Unit)
	case json.Number:
		n, err := parseInt(x, 64)
		return arrow.Timestamp(n), err
	}
	return 0, typeErr("a timestamp (RFC 3339 text or a number)", v)
}
