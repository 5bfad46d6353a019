package pgsource

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/iggy-go/connectors/sdk"
	"github.com/jackc/pgx/v5/pgtype"
)

// column is one value of a row in PostgreSQL's text format, as both the polling queries (text result
// format) and pgoutput deliver them. Text is nil for NULL.
type column struct {
	Name string
	OID  uint32
	Text []byte
	Null bool
}

// converter turns text-format column values into JSON following the original's typing rules
// (spec §10.2 step 3): bool/int/oid → numbers; float4/8 → numbers (NaN/±Infinity → null);
// numeric → f64 number (unparsable → null); char/varchar/text/name/bpchar → strings (padding kept);
// date/time/timetz/timestamp → strings as PostgreSQL prints them (DateStyle ISO); timestamptz →
// RFC 3339; interval → PostgreSQL text (`1 year 2 mons 3 days 04:05:06`); uuid → string;
// json/jsonb → the JSON value; bytea → base64; arrays → JSON arrays; other types → their text, with
// a warning logged once per type. Safe for concurrent use.
type converter struct {
	tm     *pgtype.Map
	snake  bool
	log    *slog.Logger
	warned sync.Map // oid → struct{}
	mu     sync.Mutex
}

func newConverter(snake bool, log *slog.Logger) *converter {
	return &converter{tm: pgtype.NewMap(), snake: snake, log: log}
}

func (c *converter) key(name string) string {
	if c.snake {
		return SnakeCase(name)
	}
	return name
}

// appendObject appends {"col": value, ...} in column order.
func (c *converter) appendObject(dst []byte, cols []column) []byte {
	dst = append(dst, '{')
	for i, col := range cols {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, c.key(col.Name))
		dst = append(dst, ':')
		dst = c.appendValue(dst, col)
	}
	return append(dst, '}')
}

// appendValue appends the JSON of one column value.
func (c *converter) appendValue(dst []byte, col column) []byte {
	if col.Null || col.Text == nil {
		return append(dst, "null"...)
	}
	s := string(col.Text)
	switch col.OID {
	case pgtype.BoolOID:
		if s == "t" || s == "true" {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.OIDOID, pgtype.XIDOID, pgtype.CIDOID:
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			return append(dst, s...)
		}
		if _, err := strconv.ParseUint(s, 10, 64); err == nil {
			return append(dst, s...)
		}
		return append(dst, "null"...)
	case pgtype.Float4OID, pgtype.Float8OID, pgtype.NumericOID:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return append(dst, "null"...)
		}
		b, _ := json.Marshal(f)
		return append(dst, b...)
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.QCharOID,
		pgtype.DateOID, pgtype.TimeOID, pgtype.TimetzOID, pgtype.TimestampOID, pgtype.IntervalOID,
		pgtype.UUIDOID, pgtype.InetOID, pgtype.CIDROID, pgtype.MacaddrOID, pgtype.XMLOID:
		return appendJSONString(dst, s)
	case pgtype.TimestamptzOID:
		if t, ok := parseTimestamptz(s); ok {
			return appendJSONString(dst, t.Format(rfc3339Micro))
		}
		return appendJSONString(dst, s) // infinity, -infinity
	case pgtype.JSONOID, pgtype.JSONBOID:
		if json.Valid(col.Text) {
			return append(dst, col.Text...)
		}
		return appendJSONString(dst, s)
	case pgtype.ByteaOID:
		if b, ok := decodeByteaHex(s); ok {
			return appendJSONString(dst, base64.StdEncoding.EncodeToString(b))
		}
		return appendJSONString(dst, s)
	}
	if dt, ok := c.tm.TypeForOID(col.OID); ok {
		if _, isArray := dt.Codec.(*pgtype.ArrayCodec); isArray {
			c.mu.Lock()
			v, err := dt.Codec.DecodeValue(c.tm, col.OID, pgtype.TextFormatCode, col.Text)
			c.mu.Unlock()
			if err == nil {
				return appendGoValue(dst, v)
			}
		}
	}
	if _, seen := c.warned.LoadOrStore(col.OID, struct{}{}); !seen && c.log != nil {
		c.log.Warn("postgres source: column type without a JSON mapping, sending its text", "column", col.Name, "type_oid", col.OID)
	}
	return appendJSONString(dst, s)
}

const rfc3339Micro = "2006-01-02T15:04:05.999999Z07:00"

// parseTimestamptz reads PostgreSQL's ISO output ("2024-01-02 03:04:05.123456+00", "+05:30", BC).
func parseTimestamptz(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07", "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999-07:00:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func decodeByteaHex(s string) ([]byte, bool) {
	if !strings.HasPrefix(s, `\x`) {
		return nil, false
	}
	b, err := hex.DecodeString(s[2:])
	return b, err == nil
}

// appendGoValue renders a value decoded by pgx (array elements) as JSON, with the same rules.
func appendGoValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendGoValue(dst, e)
		}
		return append(dst, ']')
	case float32:
		return appendGoValue(dst, float64(x))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(dst, "null"...)
		}
	case pgtype.Numeric:
		f, err := x.Float64Value()
		if err != nil || !f.Valid || math.IsNaN(f.Float64) || math.IsInf(f.Float64, 0) {
			return append(dst, "null"...)
		}
		return appendGoValue(dst, f.Float64)
	case time.Time:
		return appendJSONString(dst, x.UTC().Format(rfc3339Micro))
	case []byte:
		return appendJSONString(dst, base64.StdEncoding.EncodeToString(x))
	case [16]byte:
		return appendJSONString(dst, fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16]))
	case pgtype.Interval, pgtype.Time, pgtype.Date:
		if val, ok := x.(interface{ Value() (any, error) }); ok {
			if s, err := val.Value(); err == nil {
				if str, ok := s.(string); ok {
					return appendJSONString(dst, str)
				}
			}
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return appendJSONString(dst, fmt.Sprint(v))
	}
	return append(dst, b...)
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // never fails for a string; invalid UTF-8 becomes U+FFFD
	return append(dst, b...)
}

// recordMeta is the envelope of a DatabaseRecord.
type recordMeta struct {
	Table string
	Op    Operation
	Time  time.Time
}

// appendRecord appends the original's DatabaseRecord
// {"table_name","operation_type","timestamp","data","old_data"}, or with include_metadata = false
// just the data object (no double nesting, unlike the original).
func (c *converter) appendRecord(dst []byte, includeMeta bool, m recordMeta, data, old []column) []byte {
	if !includeMeta {
		return c.appendObject(dst, data)
	}
	dst = append(dst, `{"table_name":`...)
	dst = appendJSONString(dst, m.Table)
	dst = append(dst, `,"operation_type":`...)
	dst = appendJSONString(dst, string(m.Op))
	dst = append(dst, `,"timestamp":`...)
	dst = appendJSONString(dst, m.Time.UTC().Format(rfc3339Micro))
	dst = append(dst, `,"data":`...)
	dst = c.appendObject(dst, data)
	dst = append(dst, `,"old_data":`...)
	if old == nil {
		dst = append(dst, "null"...)
	} else {
		dst = c.appendObject(dst, old)
	}
	return append(dst, '}')
}

// MessageID derives a deterministic 128-bit message id from its parts (the first 16 bytes of
// SHA-256 over the parts, each length-prefixed), so a row or change read again after a crash gets
// the same id and downstream can recognise the replay.
func MessageID(parts ...string) sdk.ID {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		l := len(p)
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write([]byte(p))
	}
	var id sdk.ID
	copy(id[:], h.Sum(nil))
	return id
}

// SnakeCase converts a column name to snake_case: "UserName" → "user_name", "userID" → "user_id",
// "HTTPCode" → "http_code", "first name" / "first-name" → "first_name".
func SnakeCase(s string) string {
	rs := []rune(s)
	var b strings.Builder
	for i, r := range rs {
		switch {
		case r == ' ' || r == '-' || r == '.':
			b.WriteByte('_')
		case unicode.IsUpper(r):
			if i > 0 {
				prev := rs[i-1]
				nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
				if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
					b.WriteByte('_')
				}
			}
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
