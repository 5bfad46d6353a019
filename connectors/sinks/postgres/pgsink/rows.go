package pgsink

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/iggy-go/connectors/sdk"
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

// row is one message converted to column values (encoded by copyReader). Stream, topic and
// partition are per batch. payload aliases the message's payload: rows live only during Consume.
type row struct {
	index    int // position in SinkBatch.Messages
	offset   uint64
	id       [16]byte // the u128, big-endian
	iggyOff  int64
	ts       int64 // µs since the Unix epoch
	checksum int64
	origin   int64 // µs since the Unix epoch
	payload  []byte
}

// ErrInvalidPayload is wrapped by every per-message conversion failure.
var ErrInvalidPayload = errors.New("invalid message")

// convert turns one message into a row, or returns why it cannot be stored. Conversions follow the
// original: bytea is byte-exact; json/jsonb must parse as JSON (checked by invalidJSON, see there);
// text must be UTF-8 (and, for
// PostgreSQL, free of NUL bytes); timestamps are µs since the epoch; the u64 checksum is stored as
// the BIGINT with the same 64 bits (values above 2^63-1 become negative).
func (c columns) convert(i int, m *sdk.Message) (row, error) {
	r := row{index: i, offset: m.Offset,
		id:       m.ID,
		checksum: int64(m.Checksum)}
	if c.metadata {
		if m.Offset > math.MaxInt64 {
			return r, fmt.Errorf("%w: offset %d does not fit BIGINT", ErrInvalidPayload, m.Offset)
		}
		r.iggyOff = int64(m.Offset)
		if m.Timestamp > math.MaxInt64 {
			return r, fmt.Errorf("%w: offset %d: timestamp %d µs out of range", ErrInvalidPayload, m.Offset, m.Timestamp)
		}
		r.ts = int64(m.Timestamp)
	}
	if c.origin {
		if m.OriginTimestamp > math.MaxInt64 {
			return r, fmt.Errorf("%w: offset %d: origin_timestamp %d µs out of range", ErrInvalidPayload, m.Offset, m.OriginTimestamp)
		}
		r.origin = int64(m.OriginTimestamp)
	}
	switch c.format {
	case FormatBytea:
		p := m.Payload
		if p == nil {
			p = []byte{} // an empty payload is an empty bytea, not NULL
		}
		r.payload = p
	case FormatJSONB:
		r.payload = m.Payload // checked by invalidJSON only when PostgreSQL rejects the round
	case FormatText:
		if !utf8.Valid(m.Payload) {
			return r, fmt.Errorf("%w: offset %d: payload is not valid UTF-8 (payload_format text)", ErrInvalidPayload, m.Offset)
		}
		for _, b := range m.Payload {
			if b == 0 {
				return r, fmt.Errorf("%w: offset %d: payload contains a NUL byte, which PostgreSQL text cannot store", ErrInvalidPayload, m.Offset)
			}
		}
		r.payload = m.Payload
	}
	return r, nil
}

// invalidJSON returns why a jsonb row's payload is not JSON (wrapping ErrInvalidPayload), or nil.
// The sink runs it only on the rows of a round PostgreSQL rejected with a data error
// (writeIsolating), not on every row, so valid data is not parsed twice. PostgreSQL's JSON parser
// is as strict as Go's about syntax (and stricter about invalid UTF-8, lone surrogates and "\u0000"
// in jsonb), so a round it accepts holds no payload this check would reject, with one exception:
// nesting deeper than Go's limit (10000 levels), which PostgreSQL stores as long as its stack
// allows (about 20000 levels with the default max_stack_depth; deeper fails with 54001, and then
// this check rejects it).
func invalidJSON(r *row) error {
	if json.Valid(r.payload) {
		return nil
	}
	return fmt.Errorf("%w: offset %d: payload is not valid JSON (payload_format jsonb)%s", ErrInvalidPayload, r.offset, jsonErrorDetail(r.payload))
}

func jsonErrorDetail(p []byte) string {
	var v any
	if err := json.Unmarshal(p, &v); err != nil {
		return ": " + err.Error()
	}
	return ""
}
