package pgsink

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"
	"unicode/utf8"

	"github.com/iggy-go/connectors/sdk"
	"github.com/jackc/pgx/v5/pgtype"
)

// columns describes which columns the sink writes, in order. It depends only on the config.
type columns struct {
	names    []string // column names, unquoted
	metadata bool     // iggy_offset, iggy_timestamp, iggy_stream, iggy_topic, iggy_partition_id
	checksum bool
	origin   bool
	format   PayloadFormat
}

func newColumns(c *Config) columns {
	f, _ := ParsePayloadFormat(c.PayloadFormat)
	cols := columns{metadata: c.IncludeMetadata, checksum: c.IncludeChecksum,
		origin: c.IncludeOriginTimestamp, format: f}
	cols.names = append(cols.names, "id")
	if cols.metadata {
		cols.names = append(cols.names, "iggy_offset", "iggy_timestamp", "iggy_stream", "iggy_topic", "iggy_partition_id")
	}
	if cols.checksum {
		cols.names = append(cols.names, "iggy_checksum")
	}
	if cols.origin {
		cols.names = append(cols.names, "iggy_origin_timestamp")
	}
	cols.names = append(cols.names, "payload")
	return cols
}

// sqlTypes returns the SQL type of every column in names order.
func (c columns) sqlTypes() []string {
	out := make([]string, 0, len(c.names))
	for _, n := range c.names {
		switch n {
		case "id":
			out = append(out, "DECIMAL(39,0)")
		case "iggy_offset", "iggy_checksum":
			out = append(out, "BIGINT")
		case "iggy_timestamp", "iggy_origin_timestamp":
			out = append(out, "TIMESTAMPTZ")
		case "iggy_stream", "iggy_topic":
			out = append(out, "TEXT")
		case "iggy_partition_id":
			out = append(out, "INTEGER")
		case "payload":
			out = append(out, c.format.SQLType())
		}
	}
	return out
}

// row is one message converted to column values. Stream, topic and partition are per batch.
type row struct {
	index    int // position in SinkBatch.Messages
	offset   uint64
	id       pgtype.Numeric
	iggyOff  int64
	ts       time.Time
	checksum int64
	origin   time.Time
	payload  any // []byte for bytea and jsonb, string for text
}

// ErrInvalidPayload is wrapped by every per-message conversion failure.
var ErrInvalidPayload = errors.New("invalid message")

// convert turns one message into a row, or returns why it cannot be stored. Conversions follow the
// original: bytea is byte-exact; json/jsonb must parse as JSON; text must be UTF-8 (and, for
// PostgreSQL, free of NUL bytes); timestamps are µs since the epoch; the u64 checksum is stored as
// the BIGINT with the same 64 bits (values above 2^63-1 become negative).
func (c columns) convert(i int, m *sdk.Message) (row, error) {
	r := row{index: i, offset: m.Offset,
		id:       pgtype.Numeric{Int: new(big.Int).SetBytes(m.ID[:]), Valid: true},
		checksum: int64(m.Checksum)}
	if c.metadata {
		if m.Offset > math.MaxInt64 {
			return r, fmt.Errorf("%w: offset %d does not fit BIGINT", ErrInvalidPayload, m.Offset)
		}
		r.iggyOff = int64(m.Offset)
		if m.Timestamp > math.MaxInt64 {
			return r, fmt.Errorf("%w: offset %d: timestamp %d µs out of range", ErrInvalidPayload, m.Offset, m.Timestamp)
		}
		r.ts = time.UnixMicro(int64(m.Timestamp)).UTC()
	}
	if c.origin {
		if m.OriginTimestamp > math.MaxInt64 {
			return r, fmt.Errorf("%w: offset %d: origin_timestamp %d µs out of range", ErrInvalidPayload, m.Offset, m.OriginTimestamp)
		}
		r.origin = time.UnixMicro(int64(m.OriginTimestamp)).UTC()
	}
	switch c.format {
	case FormatBytea:
		p := m.Payload
		if p == nil {
			p = []byte{} // an empty payload is an empty bytea, not NULL
		}
		r.payload = p
	case FormatJSONB:
		if !json.Valid(m.Payload) {
			return r, fmt.Errorf("%w: offset %d: payload is not valid JSON (payload_format jsonb)%s", ErrInvalidPayload, m.Offset, jsonErrorDetail(m.Payload))
		}
		r.payload = m.Payload
	case FormatText:
		if !utf8.Valid(m.Payload) {
			return r, fmt.Errorf("%w: offset %d: payload is not valid UTF-8 (payload_format text)", ErrInvalidPayload, m.Offset)
		}
		for _, b := range m.Payload {
			if b == 0 {
				return r, fmt.Errorf("%w: offset %d: payload contains a NUL byte, which PostgreSQL text cannot store", ErrInvalidPayload, m.Offset)
			}
		}
		r.payload = string(m.Payload)
	}
	return r, nil
}

func jsonErrorDetail(p []byte) string {
	var v any
	if err := json.Unmarshal(p, &v); err != nil {
		return ": " + err.Error()
	}
	return ""
}

// rowSource feeds rows to pgx.CopyFrom without building a [][]any; one values slice is reused
// (CopyFrom encodes a row before asking for the next).
type rowSource struct {
	cols      columns
	rows      []row
	stream    string
	topic     string
	partition int32
	i         int
	vals      []any
}

func (s *rowSource) Next() bool { s.i++; return s.i <= len(s.rows) }

func (s *rowSource) Values() ([]any, error) {
	r := &s.rows[s.i-1]
	v := s.vals[:0]
	v = append(v, r.id)
	if s.cols.metadata {
		v = append(v, r.iggyOff, r.ts, s.stream, s.topic, s.partition)
	}
	if s.cols.checksum {
		v = append(v, r.checksum)
	}
	if s.cols.origin {
		v = append(v, r.origin)
	}
	v = append(v, r.payload)
	s.vals = v
	return v, nil
}

func (s *rowSource) Err() error { return nil }
