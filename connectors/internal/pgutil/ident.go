package pgutil

import (
	"errors"
	"fmt"
	"strings"
)

// ParseQualifiedName splits a table name of the form `table` or `schema.table` into its segments.
// A segment may be double-quoted to contain dots or quotes (`"my.schema"."Tbl"`, with "" for a quote
// inside); bare segments are taken verbatim (case is preserved, as in the original connector, which
// quotes every identifier). At most two segments are allowed and none may be empty.
func ParseQualifiedName(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("table name must not be empty")
	}
	var parts []string
	var cur strings.Builder
	quoted, inQuote, closed := false, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote:
			if c == '"' {
				if i+1 < len(s) && s[i+1] == '"' {
					cur.WriteByte('"')
					i++
				} else {
					inQuote, closed = false, true
				}
			} else {
				cur.WriteByte(c)
			}
		case c == '"':
			if cur.Len() > 0 || closed {
				return nil, fmt.Errorf("table name %q: a quote may only start a segment", s)
			}
			inQuote, quoted = true, true
		case c == '.':
			if cur.Len() == 0 && !quoted {
				return nil, fmt.Errorf("table name %q has an empty segment", s)
			}
			parts = append(parts, cur.String())
			cur.Reset()
			quoted, closed = false, false
		default:
			if closed {
				return nil, fmt.Errorf("table name %q: text after a closing quote", s)
			}
			cur.WriteByte(c)
		}
	}
	if inQuote {
		return nil, fmt.Errorf("table name %q has an unterminated quote", s)
	}
	if cur.Len() == 0 && !quoted {
		return nil, fmt.Errorf("table name %q has an empty segment", s)
	}
	parts = append(parts, cur.String())
	if len(parts) > 2 {
		return nil, fmt.Errorf("table name %q has %d segments; use table or schema.table", s, len(parts))
	}
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("table name %q has an empty segment", s)
		}
		if strings.IndexByte(p, 0) >= 0 {
			return nil, fmt.Errorf("table name %q contains a NUL byte", s)
		}
	}
	return parts, nil
}

// QuoteIdent quotes one identifier for SQL text: "name" with embedded quotes doubled.
func QuoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// QuoteQualified quotes each segment of a parsed name and joins them with dots.
func QuoteQualified(parts []string) string {
	q := make([]string, len(parts))
	for i, p := range parts {
		q[i] = QuoteIdent(p)
	}
	return strings.Join(q, ".")
}

// QuoteLiteral quotes s as an SQL string literal ('...' with quotes doubled). Standard-conforming
// strings are on by default since PostgreSQL 9.1, so backslashes need no escaping.
func QuoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
