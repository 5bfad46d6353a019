package codec

import (
	"fmt"
	"unicode/utf8"
)

// unquoteJSON decodes the valid JSON string token raw (with its quotes). When the string has no
// escape sequence the result aliases raw.
func unquoteJSON(raw []byte) []byte {
	body := raw[1 : len(raw)-1]
	i := 0
	for i < len(body) && body[i] != '\\' {
		i++
	}
	if i == len(body) {
		return body
	}
	out := make([]byte, i, len(body))
	copy(out, body[:i])
	for i < len(body) {
		c := body[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch body[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, _ := hex4(body, i+2)
			i += 6
			if r >= 0xD800 && r <= 0xDBFF {
				lo, _ := hex4(body, i+2)
				r = (r-0xD800)<<10 | (lo - 0xDC00) + 0x10000
				i += 6
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // '"', '\\', '/'
			out = append(out, body[i+1])
		}
		i += 2
	}
	return out
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal. Like serde_json, only '"', '\\' and control
// characters are escaped; invalid UTF-8 is replaced by U+FFFD so the output is always valid JSON.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, "\uFFFD"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendString appends s to dst as a JSON string literal (escaping '"', '\\' and control
// characters, replacing invalid UTF-8 by U+FFFD). The result is a value Object.Set accepts.
func AppendString(dst []byte, s string) []byte { return appendJSONString(dst, s) }

// Unquote returns the content of the raw JSON string value raw (with its quotes), decoding escape
// sequences. raw must be a valid JSON string, e.g. a value from Object.Get whose first byte is '"'.
// Without escapes the result aliases raw.
func Unquote(raw []byte) []byte { return unquoteJSON(raw) }

// Compact validates the JSON text b and returns it without insignificant whitespace (b itself when
// it is already compact). The error names the byte offset of the problem.
func Compact(b []byte) ([]byte, error) {
	compact, err := validateJSON(b)
	if err != nil {
		return nil, fmt.Errorf("invalid JSON at byte offset %d: %w", errPos(err), err)
	}
	if compact {
		return b, nil
	}
	return appendCompact(make([]byte, 0, len(b)), b), nil
}
