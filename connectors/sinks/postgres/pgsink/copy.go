package pgsink

import (
	"encoding/binary"
	"io"
	"math/bits"
)

// This file writes rows in PostgreSQL's binary COPY format (COPY ... FROM STDIN BINARY) directly,
// without pgx's per-value type dispatch: the sink knows every column's type (the fast path only
// runs when the table has exactly the sink's column types, and the staging table is created with
// them), so each row is a few appends into one reused buffer. In particular the DECIMAL(39,0) id is
// written as binary NUMERIC from the u128's two uint64 halves, where pgx's numeric encoder divides
// a big.Int per row.

// copyHeader is the binary COPY signature, the flags field and the header extension length.
var copyHeader = []byte("PGCOPY\n\xff\r\n\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x00")

// copyChunk is how many bytes of rows copyReader encodes before handing them out (pgconn sends
// CopyData messages of up to 64 KiB).
const copyChunk = 64 << 10

// pgEpochMicros is 2000-01-01T00:00:00Z, PostgreSQL's timestamp epoch, in µs since the Unix epoch.
const pgEpochMicros = 946_684_800_000_000

// copyReader is the io.Reader of one COPY: the header, the rows in binary, the trailer. It encodes
// rows lazily, at most about copyChunk bytes ahead of the reader, into buf (which Sink.copyFrom
// reuses across COPYs). One per COPY, not safe for concurrent use.
type copyReader struct {
	cols      columns
	stream    string
	topic     string
	partition int32
	rows      []row
	i         int    // next row to encode
	buf       []byte // encoded, buf[pos:] not yet read
	pos       int
	header    bool // header written
	done      bool // trailer written
}

// Read implements io.Reader.
func (r *copyReader) Read(p []byte) (int, error) {
	for r.pos == len(r.buf) {
		if r.done {
			return 0, io.EOF
		}
		r.fill()
	}
	n := copy(p, r.buf[r.pos:])
	r.pos += n
	return n, nil
}

// fill encodes the next rows (and the trailer after the last) into the empty buffer.
func (r *copyReader) fill() {
	b := r.buf[:0]
	if !r.header {
		b = append(b, copyHeader...)
		r.header = true
	}
	for r.i < len(r.rows) && len(b) < copyChunk {
		b = r.cols.appendRow(b, &r.rows[r.i], r.stream, r.topic, r.partition)
		r.i++
	}
	if r.i == len(r.rows) {
		b = binary.BigEndian.AppendUint16(b, 0xFFFF) // trailer: field count -1
		r.done = true
	}
	r.buf, r.pos = b, 0
}

// appendRow appends one tuple: the field count, then every column as length + binary value, in
// the order of c.names.
func (c columns) appendRow(b []byte, r *row, stream, topic string, partition int32) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.names)))
	b = appendNumericU128(b, &r.id)
	if c.metadata {
		b = appendInt64(b, r.iggyOff)
		b = appendInt64(b, r.ts-pgEpochMicros)
		b = appendBytes(b, stream)
		b = appendBytes(b, topic)
		b = binary.BigEndian.AppendUint32(b, 4)
		b = binary.BigEndian.AppendUint32(b, uint32(partition))
	}
	if c.checksum {
		b = appendInt64(b, r.checksum)
	}
	if c.origin {
		b = appendInt64(b, r.origin-pgEpochMicros)
	}
	if c.format == FormatJSONB {
		// jsonb's binary form is a version byte (1) followed by the JSON text
		b = binary.BigEndian.AppendUint32(b, uint32(len(r.payload)+1))
		b = append(b, 1)
		return append(b, r.payload...)
	}
	return appendBytes(b, r.payload) // bytea and text: the bytes as they are
}

func appendInt64(b []byte, v int64) []byte {
	b = binary.BigEndian.AppendUint32(b, 8)
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

func appendBytes[S string | []byte](b []byte, v S) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// appendNumericU128 appends the field (length + value) of the big-endian unsigned 128-bit integer
// id in PostgreSQL's binary NUMERIC form: ndigits, weight, sign, dscale (int16 each), then ndigits
// base-10000 digits, most significant first, with no leading or trailing zero digits (weight says
// where the first digit sits, so trailing zero groups are implied). Zero is ndigits = weight = 0.
func appendNumericU128(b []byte, id *[16]byte) []byte {
	hi, lo := binary.BigEndian.Uint64(id[:8]), binary.BigEndian.Uint64(id[8:])
	// base-10000 digits, least significant first; 2^128-1 has 39 decimal digits = 10 groups
	var d [10]uint16
	n := 0
	for hi != 0 { // split off 16 decimal digits; the quotient is still ≥ 2^64/10^16 > 0
		var rem uint64
		lo, rem = bits.Div64(hi%1e16, lo, 1e16)
		hi /= 1e16
		for range 4 {
			d[n] = uint16(rem % 10000)
			rem /= 10000
			n++
		}
	}
	for lo != 0 {
		d[n] = uint16(lo % 10000)
		lo /= 10000
		n++
	}
	tz := 0 // trailing (least significant) zero groups
	for tz < n && d[tz] == 0 {
		tz++
	}
	nd := n - tz
	weight := 0
	if n > 0 {
		weight = n - 1
	}
	b = binary.BigEndian.AppendUint32(b, uint32(8+2*nd))
	b = binary.BigEndian.AppendUint16(b, uint16(nd))
	b = binary.BigEndian.AppendUint16(b, uint16(weight))
	b = binary.BigEndian.AppendUint32(b, 0) // sign (positive) and dscale 0
	for k := n - 1; k >= tz; k-- {
		b = binary.BigEndian.AppendUint16(b, d[k])
	}
	return b
}
