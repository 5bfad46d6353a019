package codec

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting of arrays and objects the validator accepts, so a hostile payload
// cannot exhaust the stack. Real data rarely nests deeper than a few dozen levels.
const maxJSONDepth = 1000

// syntaxError is a JSON syntax error at a byte offset of the payload.
type syntaxError struct {
	pos int
	msg string
}

func (e *syntaxError) Error() string { return e.msg }

func errAt(pos int, format string, args ...any) error {
	return &syntaxError{pos: pos, msg: fmt.Sprintf(format, args...)}
}

// scanner validates a JSON document (RFC 8259, strings must be valid UTF-8 and must not contain lone
// surrogate escapes, as serde_json requires) and notes whether it contains insignificant whitespace.
type scanner struct {
	b       []byte
	ws      bool
	escaped bool    // the last string scanned had an escape sequence
	obj     *Object // when set, the members of a top-level object are recorded in it
}

// validateJSON checks that b holds exactly one JSON value, optionally surrounded by whitespace.
// compact reports that b has no insignificant whitespace at all (so it can be passed on as is).
func validateJSON(b []byte) (compact bool, err error) {
	compact, _, err = scanJSON(b, false)
	return compact, err
}

// scanJSON validates b like validateJSON and, with index set, also returns the index of the
// top-level members when b is a compact object (nil otherwise).
func scanJSON(b []byte, index bool) (compact bool, obj *Object, err error) {
	s := scanner{b: b}
	if index {
		if i := skipWS(b, 0); i == 0 && i < len(b) && b[i] == '{' {
			s.obj = newObject(b)
		}
	}
	i := s.skipWS(0)
	if i == len(b) {
		return false, nil, errAt(i, "empty JSON payload")
	}
	i, err = s.value(i, 0)
	if err == nil {
		if i = s.skipWS(i); i != len(b) {
			err = errAt(i, "unexpected %s after the JSON value", describeByte(b[i]))
		}
	}
	if err != nil || s.ws {
		if s.obj != nil {
			releaseObject(s.obj) // offsets of a non-compact document are of no use
		}
		return !s.ws && err == nil, nil, err
	}
	return true, s.obj, nil
}

func describeByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("character %q", c)
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func (s *scanner) skipWS(i int) int {
	b := s.b
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			s.ws = true
			i++
		default:
			return i
		}
	}
	return i
}

func (s *scanner) value(i, depth int) (int, error) {
	b := s.b
	if i >= len(b) {
		return i, errAt(i, "unexpected end of JSON input")
	}
	switch c := b[i]; {
	case c == '"':
		return s.str(i)
	case c == '{':
		return s.object(i, depth+1)
	case c == '[':
		return s.array(i, depth+1)
	case c == 't':
		return s.literal(i, "true")
	case c == 'f':
		return s.literal(i, "false")
	case c == 'n':
		return s.literal(i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number(i)
	default:
		return i, errAt(i, "invalid %s looking for the beginning of a value", describeByte(c))
	}
}

func (s *scanner) literal(i int, lit string) (int, error) {
	if len(s.b)-i < len(lit) || string(s.b[i:i+len(lit)]) != lit {
		return i, errAt(i, "invalid literal, expected %q", lit)
	}
	return i + len(lit), nil
}

func (s *scanner) number(i int) (int, error) {
	b := s.b
	start := i
	if b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return i, errAt(i, "unexpected end of JSON input in number")
	}
	switch {
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return i, errAt(i, "invalid %s in number starting at offset %d", describeByte(b[i]), start)
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return i, errAt(i, "number starting at offset %d needs a digit after the decimal point", start)
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return i, errAt(i, "number starting at offset %d needs a digit in the exponent", start)
		}
	}
	return i, nil
}

const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// specialBytes returns a mask with the high bit set of the first byte (in memory order) of the 8
// in x that needs attention inside a JSON string — a quote, a backslash, a control character or a
// non-ASCII byte — and possibly of later ones; 0 when there is none. The lowest set bit is exact
// (a borrow only propagates towards higher bytes), so bits.TrailingZeros64(mask)/8 is the first
// such byte's index.
func specialBytes(x uint64) uint64 {
	ctrl := (x - swarLo*0x20) & ^x
	q := x ^ (swarLo * '"')
	bs := x ^ (swarLo * '\\')
	return (ctrl | ((q - swarLo) &^ q) | ((bs - swarLo) &^ bs) | x) & swarHi
}

// strSpecial marks the bytes that end the plain run of a JSON string: the quote, the backslash,
// control characters and every non-ASCII byte.
var strSpecial = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf
	}
	return t
}()

// str validates the string starting with the quote at b[i] and returns the offset after its closing
// quote.
func (s *scanner) str(i int) (int, error) {
	b := s.b
	start := i
	i++
	for {
		for i+8 <= len(b) {
			if m := specialBytes(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto special
			}
			i += 8
		}
		for i < len(b) && !strSpecial[b[i]] {
			i++
		}
		if i >= len(b) {
			return i, errAt(start, "unterminated string starting at offset %d", start)
		}
	special:
		c := b[i]
		switch {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			s.escaped = true
			n, err := s.escape(i)
			if err != nil {
				return n, err
			}
			i = n
		case c < 0x20:
			return i, errAt(i, "control character 0x%02x in string (must be escaped)", c)
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				return i, errAt(i, "invalid UTF-8 in string")
			}
			i += size
		}
	}
}

// escape validates the escape sequence starting with the backslash at b[i].
func (s *scanner) escape(i int) (int, error) {
	b := s.b
	if i+1 >= len(b) {
		return i, errAt(i, "unexpected end of JSON input in escape sequence")
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 2, nil
	case 'u':
		r, ok := hex4(b, i+2)
		if !ok {
			return i, errAt(i, "invalid \\u escape")
		}
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			if i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' {
				if lo, ok := hex4(b, i+8); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					return i + 12, nil
				}
			}
			return i, errAt(i, "lone leading surrogate in \\u escape")
		case r >= 0xDC00 && r <= 0xDFFF:
			return i, errAt(i, "lone trailing surrogate in \\u escape")
		}
		return i + 6, nil
	default:
		return i, errAt(i, "invalid escape \\%c", b[i+1])
	}
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

func (s *scanner) object(i, depth int) (int, error) {
	if depth > maxJSONDepth {
		return i, errAt(i, "JSON nested deeper than %d levels", maxJSONDepth)
	}
	b := s.b
	i = s.skipWS(i + 1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) {
			return i, errAt(i, "unexpected end of JSON input in object")
		}
		if b[i] != '"' {
			return i, errAt(i, "invalid %s looking for an object key", describeByte(b[i]))
		}
		ks := i
		s.escaped = false
		var err error
		if i, err = s.str(i); err != nil {
			return i, err
		}
		ke, escaped := i, s.escaped
		i = s.skipWS(i)
		if i >= len(b) || b[i] != ':' {
			if i >= len(b) {
				return i, errAt(i, "unexpected end of JSON input after object key")
			}
			return i, errAt(i, "invalid %s after object key, expected ':'", describeByte(b[i]))
		}
		i = s.skipWS(i + 1)
		vs := i
		if i < len(b) && b[i] == '"' {
			i, err = s.str(i) // the most common value, without the dispatch
		} else {
			i, err = s.value(i, depth)
		}
		if err != nil {
			return i, err
		}
		if depth == 1 && s.obj != nil && !s.ws {
			o := s.obj
			h := keyHash(b[ks+1 : ke-1])
			if bit := uint64(1) << (h >> 58); !escaped && o.seen&bit == 0 {
				// fast path: a plain key not seen before
				o.seen |= bit
				o.fields = append(o.fields, field{
					hash:    h,
					key:     span{off: uint32(ks + 1), n: uint32(ke - ks - 2)},
					keyJSON: span{off: uint32(ks), n: uint32(ke - ks)},
					val:     span{off: uint32(vs), n: uint32(i - vs)},
				})
			} else {
				o.member(ks, ke, vs, i, escaped)
			}
		}
		i = s.skipWS(i)
		if i >= len(b) {
			return i, errAt(i, "unexpected end of JSON input in object")
		}
		switch b[i] {
		case ',':
			i = s.skipWS(i + 1)
		case '}':
			return i + 1, nil
		default:
			return i, errAt(i, "invalid %s after object value, expected ',' or '}'", describeByte(b[i]))
		}
	}
}

func (s *scanner) array(i, depth int) (int, error) {
	if depth > maxJSONDepth {
		return i, errAt(i, "JSON nested deeper than %d levels", maxJSONDepth)
	}
	b := s.b
	i = s.skipWS(i + 1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = s.value(i, depth); err != nil {
			return i, err
		}
		i = s.skipWS(i)
		if i >= len(b) {
			return i, errAt(i, "unexpected end of JSON input in array")
		}
		switch b[i] {
		case ',':
			i = s.skipWS(i + 1)
		case ']':
			return i + 1, nil
		default:
			return i, errAt(i, "invalid %s after array element, expected ',' or ']'", describeByte(b[i]))
		}
	}
}

// The functions below work on JSON already validated by validateJSON and do no checking.

// skipString returns the offset after the closing quote of the string whose opening quote is at b[i],
// and whether the string contains an escape sequence.
func skipString(b []byte, i int) (end int, escaped bool) {
	i++
	for {
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			q := x ^ (swarLo * '"')
			bs := x ^ (swarLo * '\\')
			if (((q-swarLo)&^q)|((bs-swarLo)&^bs))&swarHi != 0 {
				break
			}
			i += 8
		}
		switch b[i] {
		case '"':
			return i + 1, escaped
		case '\\':
			escaped = true
			i += 2
		default:
			i++
		}
	}
}

// skipValue returns the offset after the (valid) JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		end, _ := skipString(b, i)
		return end
	case '{', '[':
		depth := 0
		for {
			switch b[i] {
			case '"':
				i, _ = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
	case 't', 'n':
		return i + 4
	case 'f':
		return i + 5
	default:
		for i < len(b) {
			switch c := b[i]; {
			case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
				i++
			default:
				return i
			}
		}
		return i
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// appendCompact appends the valid JSON b to dst without insignificant whitespace.
func appendCompact(dst, b []byte) []byte {
	i := 0
	for i < len(b) {
		switch c := b[i]; c {
		case ' ', '\t', '\n', '\r':
			i++
		case '"':
			end, _ := skipString(b, i)
			dst = append(dst, b[i:end]...)
			i = end
		default:
			j := i + 1
			for j < len(b) {
				c := b[j]
				if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' {
					break
				}
				j++
			}
			dst = append(dst, b[i:j]...)
			i = j
		}
	}
	return dst
}
