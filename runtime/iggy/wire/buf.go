package wire

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// DecodeError reports bytes that do not decode: which field, at which byte offset of the decoded
// buffer, and why.
type DecodeError struct {
	Field  string
	Offset int
	Reason string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("iggy wire: %s at byte %d: %s", e.Field, e.Offset, e.Reason)
}

// Reader decodes little-endian fields from a byte slice. The first failure sticks: later reads
// return zero values and Err returns that first error, so a decoder can read every field and
// check once. It never panics.
type Reader struct {
	b   []byte
	off int
	err error
}

// NewReader returns a Reader over b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Reset makes r read b from the start.
func (r *Reader) Reset(b []byte) { *r = Reader{b: b} }

// Err returns the first decoding error.
func (r *Reader) Err() error { return r.err }

// Offset returns the number of bytes consumed.
func (r *Reader) Offset() int { return r.off }

// Len returns the number of bytes left.
func (r *Reader) Len() int { return len(r.b) - r.off }

// Fail records an error for field at the current offset (if none is recorded yet).
func (r *Reader) Fail(field, format string, args ...any) {
	if r.err == nil {
		r.err = &DecodeError{Field: field, Offset: r.off, Reason: fmt.Sprintf(format, args...)}
	}
}

func (r *Reader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.Fail(field, "need %d bytes, %d left", n, len(r.b)-r.off)
		return nil
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s
}

// U8 reads a byte.
func (r *Reader) U8(field string) uint8 {
	if b := r.take(1, field); b != nil {
		return b[0]
	}
	return 0
}

// U16 reads a little-endian u16.
func (r *Reader) U16(field string) uint16 {
	if b := r.take(2, field); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

// U32 reads a little-endian u32.
func (r *Reader) U32(field string) uint32 {
	if b := r.take(4, field); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

// U64 reads a little-endian u64.
func (r *Reader) U64(field string) uint64 {
	if b := r.take(8, field); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// Bytes reads n bytes; the result aliases the buffer.
func (r *Reader) Bytes(n int, field string) []byte { return r.take(n, field) }

// Rest returns the unread bytes (aliasing) and consumes them.
func (r *Reader) Rest() []byte { return r.take(r.Len(), "rest") }

// Name reads a u8-length-prefixed UTF-8 string of 1..255 bytes.
func (r *Reader) Name(field string) string {
	n := int(r.U8(field + " length"))
	if r.err != nil {
		return ""
	}
	if n == 0 {
		r.Fail(field, "empty name")
		return ""
	}
	b := r.take(n, field)
	if b == nil {
		return ""
	}
	if !utf8.Valid(b) {
		r.off -= n
		r.Fail(field, "not valid UTF-8")
		return ""
	}
	return string(b)
}

// Str32 reads a u32-length-prefixed string (lengths up to max).
func (r *Reader) Str32(field string, max int) string {
	n := r.U32(field + " length")
	if r.err != nil {
		return ""
	}
	if int64(n) > int64(max) {
		r.Fail(field, "length %d exceeds %d", n, max)
		return ""
	}
	return string(r.take(int(n), field))
}

// Done fails unless every byte was consumed, then returns Err.
func (r *Reader) Done(what string) error {
	if r.err == nil && r.Len() != 0 {
		r.Fail(what, "%d unexpected trailing bytes", r.Len())
	}
	return r.err
}

// Append helpers.

func appendU8(b []byte, v uint8) []byte   { return append(b, v) }
func appendU16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
func appendU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

// appendName appends a u8-length name; callers validate the length beforehand (ValidName).
func appendName(b []byte, s string) []byte {
	b = append(b, byte(len(s)))
	return append(b, s...)
}

func appendStr32(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// ValidName checks that s fits a u8-length name (1..255 bytes of UTF-8).
func ValidName(field, s string) error {
	if len(s) == 0 || len(s) > 255 {
		return fmt.Errorf("iggy wire: %s %q must be 1..255 bytes, got %d", field, s, len(s))
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("iggy wire: %s is not valid UTF-8", field)
	}
	return nil
}
