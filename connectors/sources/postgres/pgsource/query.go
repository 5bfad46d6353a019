package pgsource

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/iggy-go/connectors/connectors/internal/pgutil"
)

var numericOffset = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// offsetLiteral renders a cursor value for SQL text: a plain decimal number stays bare (as in the
// original, so `id > 5` compares numbers); anything else becomes a quoted string literal, which
// PostgreSQL coerces to the column's type (timestamps, text, uuids...). Never injectable.
func offsetLiteral(v string) string {
	if numericOffset.MatchString(v) {
		return v
	}
	return pgutil.QuoteLiteral(v)
}

// pollQuery is the query of one polling step for a table.
type pollQuery struct {
	Table     []string // parsed table name
	Tracking  string   // tracking_column
	Processed string   // processed_column ("" = none)
	Offset    string   // cursor value; meaningful when HasOffset
	HasOffset bool
	Limit     int
}

// SQL builds `SELECT * FROM "s"."t" [WHERE "trk" > off] [AND "processed" = FALSE] ORDER BY "trk" ASC
// LIMIT n`. Unlike the original, the processed filter also applies before the first offset exists.
func (q pollQuery) SQL() string {
	var b strings.Builder
	b.WriteString("SELECT * FROM ")
	b.WriteString(pgutil.QuoteQualified(q.Table))
	var conds []string
	if q.HasOffset {
		conds = append(conds, pgutil.QuoteIdent(q.Tracking)+" > "+offsetLiteral(q.Offset))
	}
	if q.Processed != "" {
		conds = append(conds, pgutil.QuoteIdent(q.Processed)+" = FALSE")
	}
	if len(conds) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(conds, " AND "))
	}
	fmt.Fprintf(&b, " ORDER BY %s ASC LIMIT %d", pgutil.QuoteIdent(q.Tracking), q.Limit)
	return b.String()
}

// substitution holds the values of custom_query's placeholders for one table and poll.
type substitution struct {
	Table     []string
	Offset    string
	HasOffset bool
	Limit     int
	Now       time.Time
}

// placeholders, longest first so that $now_unix is never read as $now followed by "_unix".
var placeholders = []string{"$now_unix", "$offset", "$table", "$limit", "$now"}

// value renders a placeholder for its lexical context: ctx is 0 outside quotes, '\” inside a
// standard string literal, 'E' inside an escape string literal (E'...'), '"' inside a quoted
// identifier. Outside quotes every value is a complete SQL token (quoted identifier, quoted literal,
// number or NULL); inside quotes it is the escaped text, so `'$offset'` written by users of the
// original (which substituted raw text) keeps working and cannot be broken out of.
func (s substitution) value(tok string, ctx byte) string {
	var raw string
	switch tok {
	case "$table":
		if ctx == 0 {
			return pgutil.QuoteQualified(s.Table)
		}
		raw = strings.Join(s.Table, ".")
	case "$offset":
		if ctx == 0 {
			if !s.HasOffset {
				return "NULL"
			}
			return offsetLiteral(s.Offset)
		}
		raw = s.Offset
	case "$limit":
		return strconv.Itoa(s.Limit)
	case "$now_unix":
		return strconv.FormatInt(s.Now.Unix(), 10)
	case "$now":
		raw = s.Now.UTC().Format(time.RFC3339)
		if ctx == 0 {
			return pgutil.QuoteLiteral(raw)
		}
	}
	switch ctx {
	case '"':
		return strings.ReplaceAll(raw, `"`, `""`)
	case 'E':
		return strings.ReplaceAll(strings.ReplaceAll(raw, `\`, `\\`), "'", `\'`)
	default:
		return strings.ReplaceAll(raw, "'", "''")
	}
}

// Substitute replaces custom_query's placeholders. It scans the SQL lexically: placeholders are
// recognised outside and inside string literals and quoted identifiers (see value), left alone in
// comments and dollar-quoted strings, and only when not followed by an identifier character
// ($nowhere is not $now). Positional parameters such as $1 are not touched.
func Substitute(query string, s substitution) string {
	var out strings.Builder
	var ctx byte // 0, '\'', 'E', '"'
	isIdent := func(c byte) bool {
		return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
	}
	for i := 0; i < len(query); {
		c := query[i]
		switch {
		case c == '$':
			matched := false
			for _, tok := range placeholders {
				if strings.HasPrefix(query[i:], tok) && (i+len(tok) == len(query) || !isIdent(query[i+len(tok)])) {
					out.WriteString(s.value(tok, ctx))
					i += len(tok)
					matched = true
					break
				}
			}
			if matched {
				continue
			}
			if ctx == 0 {
				// dollar-quoted string $tag$ ... $tag$: copy verbatim
				j := i + 1
				for j < len(query) && isIdent(query[j]) && !(j == i+1 && query[j] >= '0' && query[j] <= '9') {
					j++
				}
				if j < len(query) && query[j] == '$' {
					tag := query[i : j+1]
					end := strings.Index(query[j+1:], tag)
					if end < 0 {
						out.WriteString(query[i:])
						return out.String()
					}
					stop := j + 1 + end + len(tag)
					out.WriteString(query[i:stop])
					i = stop
					continue
				}
			}
			out.WriteByte(c)
			i++
		case ctx == 0 && c == '-' && i+1 < len(query) && query[i+1] == '-':
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				out.WriteString(query[i:])
				return out.String()
			}
			out.WriteString(query[i : i+end])
			i += end
		case ctx == 0 && c == '/' && i+1 < len(query) && query[i+1] == '*':
			end := strings.Index(query[i+2:], "*/")
			if end < 0 {
				out.WriteString(query[i:])
				return out.String()
			}
			out.WriteString(query[i : i+2+end+2])
			i += 2 + end + 2
		case ctx == 0 && c == '\'':
			ctx = '\''
			if i > 0 && (query[i-1] == 'E' || query[i-1] == 'e') && (i < 2 || !isIdent(query[i-2])) {
				ctx = 'E'
			}
			out.WriteByte(c)
			i++
		case ctx == 0 && c == '"':
			ctx = '"'
			out.WriteByte(c)
			i++
		case ctx == 'E' && c == '\\' && i+1 < len(query):
			out.WriteString(query[i : i+2])
			i += 2
		case (ctx == '\'' || ctx == 'E') && c == '\'':
			if i+1 < len(query) && query[i+1] == '\'' {
				out.WriteString("''")
				i += 2
				continue
			}
			ctx = 0
			out.WriteByte(c)
			i++
		case ctx == '"' && c == '"':
			if i+1 < len(query) && query[i+1] == '"' {
				out.WriteString(`""`)
				i += 2
				continue
			}
			ctx = 0
			out.WriteByte(c)
			i++
		default:
			out.WriteByte(c)
			i++
		}
	}
	return out.String()
}

// inList renders values as a parenthesised list of SQL literals for IN (...).
func inList(values []string) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = offsetLiteral(v)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
