package icebergsink

import (
	"unicode/utf8"
	"unsafe"

	json "github.com/goccy/go-json"
)

// fastObject decodes the common shape of an event payload — one JSON object whose keys have no
// escapes and whose values are numbers, booleans, null or strings without escapes — in one pass
// without reflection, producing what decodeObject's general path would (json.Number for numbers).
// For anything else (nested values, escapes, invalid JSON) it reports false and the caller uses the
// general decoder, which also produces the error messages.
//
// obj, when not nil, is an empty map to fill (reused across batches). Keys and string values point
// into p without copying: the caller must not keep them beyond p's lifetime (the sink copies them
// into Arrow buffers within the call).
func fastObject(p []byte, obj map[string]any) (map[string]any, bool) {
	i := skipWS(p, 0)
	if i >= len(p) || p[i] != '{' {
		return nil, false
	}
	if obj == nil {
		obj = make(map[string]any, 16)
	}
	i = skipWS(p, i+1)
	if i < len(p) && p[i] == '}' {
		return obj, skipWS(p, i+1) == len(p)
	}
	for {
		if i >= len(p) || p[i] != '"' {
			return nil, false
		}
		key, next, ok := plainString(p, i)
		if !ok {
			return nil, false
		}
		i = skipWS(p, next)
		if i >= len(p) || p[i] != ':' {
			return nil, false
		}
		i = skipWS(p, i+1)
		if i >= len(p) {
			return nil, false
		}
		var v any
		switch c := p[i]; {
		case c == '"':
			s, next, ok := plainString(p, i)
			if !ok {
				return nil, false
			}
			v, i = s, next
		case c == '-' || (c >= '0' && c <= '9'):
			end, ok := number(p, i)
			if !ok {
				return nil, false
			}
			v, i = json.Number(p[i:end]), end
		case c == 't' && hasPrefix(p[i:], "true"):
			v, i = true, i+4
		case c == 'f' && hasPrefix(p[i:], "false"):
			v, i = false, i+5
		case c == 'n' && hasPrefix(p[i:], "null"):
			v, i = nil, i+4
		default:
			return nil, false // nested value or invalid
		}
		obj[key] = v
		i = skipWS(p, i)
		if i >= len(p) {
			return nil, false
		}
		switch p[i] {
		case ',':
			i = skipWS(p, i+1)
		case '}':
			return obj, skipWS(p, i+1) == len(p)
		default:
			return nil, false
		}
	}
}

func skipWS(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
		i++
	}
	return i
}

func hasPrefix(p []byte, s string) bool { return len(p) >= len(s) && string(p[:len(s)]) == s }

// plainString reads the string starting at p[i] == '"' when it has no escape and no control
// character and is valid UTF-8; it returns the value and the index after the closing quote.
func plainString(p []byte, i int) (string, int, bool) {
	for j := i + 1; j < len(p); j++ {
		switch c := p[j]; {
		case c == '"':
			if !utf8.Valid(p[i+1 : j]) {
				return "", 0, false
			}
			if j == i+1 {
				return "", j + 1, true
			}
			return unsafe.String(&p[i+1], j-i-1), j + 1, true
		case c == '\\' || c < 0x20:
			return "", 0, false
		}
	}
	return "", 0, false
}

// number returns the end of the JSON number starting at p[i], checking its grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func number(p []byte, i int) (int, bool) {
	digits := func(j int) int {
		for j < len(p) && p[j] >= '0' && p[j] <= '9' {
			j++
		}
		return j
	}
	if i < len(p) && p[i] == '-' {
		i++
	}
	switch {
	case i < len(p) && p[i] == '0':
		i++
	case i < len(p) && p[i] >= '1' && p[i] <= '9':
		i = digits(i)
	default:
		return 0, false
	}
	if i < len(p) && p[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(p) && (p[i] == 'e' || p[i] == 'E') {
		i++
		if i < len(p) && (p[i] == '+' || p[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}
