package mongosink

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/iggy-go/connectors/sdk"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// MaxDocumentSize is MongoDB's limit on one BSON document (maxBsonObjectSize, 16 MiB). The sink
// refuses larger documents itself: MongoDB would reject them, and FerretDB v1 stores them although
// it advertises the same limit.
const MaxDocumentSize = 16 * 1024 * 1024

// ErrInvalidMessage is wrapped by every failure to turn a message into a document.
var ErrInvalidMessage = errors.New("invalid message")

// layout says which fields documents carry; it depends only on the config.
type layout struct {
	metadata bool // iggy_offset, iggy_timestamp, iggy_stream, iggy_topic, iggy_partition_id
	checksum bool
	origin   bool
	format   PayloadFormat
}

func newLayout(c *Config) layout {
	f, _ := ParsePayloadFormat(c.PayloadFormat)
	return layout{metadata: c.IncludeMetadata, checksum: c.IncludeChecksum, origin: c.IncludeOriginTimestamp, format: f}
}

// DocumentID is the _id of a message: "{stream}:{topic}:{partition_id}:{message_id}" with the
// 128-bit message id in decimal, as the original writes it, so a collection written by the original
// is continued without duplicates. A message without id (0: Iggy stores ids as producers send
// them, and only some SDKs replace 0 with a random id) gets "{stream}:{topic}:{partition_id}:offset:{offset}"
// instead, unique and stable per message: under the original's rule every id-less message of a
// partition after the first would be taken for a replay of it and dropped.
func DocumentID(stream, topic string, partition uint32, id sdk.ID, offset uint64) string {
	prefix := stream + ":" + topic + ":" + strconv.FormatUint(uint64(partition), 10) + ":"
	if id.IsZero() {
		return prefix + "offset:" + strconv.FormatUint(offset, 10)
	}
	return prefix + idDecimal(id)
}

func idDecimal(id sdk.ID) string {
	hi, lo := id.Uint64s()
	if hi == 0 {
		return strconv.FormatUint(lo, 10)
	}
	return new(big.Int).SetBytes(id[:]).String()
}

// appendDocument appends message m of batch b as one BSON document to dst (a buffer shared by the
// documents of a chunk) and returns the extended buffer, or dst unchanged and why the message
// cannot be stored. Field values follow the original: iggy_offset Int64 (iggy_offset_str, a string,
// above 2^63-1), iggy_timestamp and iggy_origin_timestamp BSON dates (µs / 1000), iggy_partition_id
// Int32 (Int64 above 2^31-1), iggy_checksum Int64 (a decimal string above 2^63-1), payload per
// payload_format.
func (l layout) appendDocument(dst []byte, b *sdk.SinkBatch, m *sdk.Message) ([]byte, error) {
	start := len(dst)
	fail := func(err error) ([]byte, error) { return dst[:start], err }
	idx, out := bsoncore.AppendDocumentStart(dst)
	out = bsoncore.AppendStringElement(out, "_id", DocumentID(b.Stream, b.Topic, b.PartitionID, m.ID, m.Offset))
	if l.metadata {
		if m.Offset > math.MaxInt64 {
			out = bsoncore.AppendStringElement(out, "iggy_offset_str", strconv.FormatUint(m.Offset, 10))
		} else {
			out = bsoncore.AppendInt64Element(out, "iggy_offset", int64(m.Offset))
		}
		out = bsoncore.AppendDateTimeElement(out, "iggy_timestamp", microsToMillis(m.Timestamp))
		out = bsoncore.AppendStringElement(out, "iggy_stream", b.Stream)
		out = bsoncore.AppendStringElement(out, "iggy_topic", b.Topic)
		if b.PartitionID > math.MaxInt32 {
			out = bsoncore.AppendInt64Element(out, "iggy_partition_id", int64(b.PartitionID))
		} else {
			out = bsoncore.AppendInt32Element(out, "iggy_partition_id", int32(b.PartitionID))
		}
	}
	if l.checksum {
		if m.Checksum > math.MaxInt64 {
			out = bsoncore.AppendStringElement(out, "iggy_checksum", strconv.FormatUint(m.Checksum, 10))
		} else {
			out = bsoncore.AppendInt64Element(out, "iggy_checksum", int64(m.Checksum))
		}
	}
	if l.origin {
		out = bsoncore.AppendDateTimeElement(out, "iggy_origin_timestamp", microsToMillis(m.OriginTimestamp))
	}
	switch l.format {
	case FormatBinary:
		out = bsoncore.AppendBinaryElement(out, "payload", bson.TypeBinaryGeneric, m.Payload)
	case FormatString:
		if !utf8.Valid(m.Payload) {
			return fail(fmt.Errorf("%w: offset %d: payload is not valid UTF-8 (payload_format string)", ErrInvalidMessage, m.Offset))
		}
		out = bsoncore.AppendStringElement(out, "payload", string(m.Payload))
	case FormatJSON:
		var err error
		if out, err = appendJSON(out, "payload", m.Payload); err != nil {
			return fail(fmt.Errorf("%w: offset %d: %v (payload_format json)", ErrInvalidMessage, m.Offset, err))
		}
	}
	out, err := bsoncore.AppendDocumentEnd(out, idx)
	if err != nil {
		return fail(fmt.Errorf("%w: offset %d: %v", ErrInvalidMessage, m.Offset, err))
	}
	if size := len(out) - start; size > MaxDocumentSize {
		return fail(fmt.Errorf("%w: offset %d: the document is %d bytes, over MongoDB's limit of %d (16 MiB)",
			ErrInvalidMessage, m.Offset, size, MaxDocumentSize))
	}
	return out, nil
}

// microsToMillis converts Iggy's µs timestamps to a BSON date (ms), as the original does.
func microsToMillis(us uint64) int64 {
	return int64(min(us/1000, math.MaxInt64))
}

// appendJSON appends payload, a JSON text, as the BSON element key: an object becomes an embedded
// document and an array a BSON array (nested structure kept, key order kept), a string a string,
// true/false a boolean, null null; numbers written without fraction or exponent become Int64
// (Double when outside the Int64 range), all others Double. A key repeated in one object keeps its
// first position and its last value, as in JavaScript and Python. The payload must be UTF-8 (JSON
// requires it; invalid bytes would otherwise be replaced silently), and keys must not hold NUL,
// which BSON keys cannot.
func appendJSON(dst []byte, key string, payload []byte) ([]byte, error) {
	if !utf8.Valid(payload) {
		return dst, errors.New("payload is not valid UTF-8")
	}
	if !json.Valid(payload) {
		var v any
		err := json.Unmarshal(payload, &v)
		if err == nil {
			err = errors.New("not a single JSON value")
		}
		return dst, fmt.Errorf("payload is not valid JSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return dst, err
	}
	start := len(dst)
	out, err := appendJSONValue(dst, key, tok, dec)
	if err != nil {
		return dst[:start], err
	}
	if _, err := dec.Token(); err != io.EOF {
		return dst[:start], errors.New("payload is not valid JSON: data after the value")
	}
	return out, nil
}

func appendJSONValue(dst []byte, key string, tok json.Token, dec *json.Decoder) ([]byte, error) {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			idx, out := bsoncore.AppendArrayElementStart(dst, key)
			var buf [20]byte
			for i := 0; dec.More(); i++ {
				t, err := dec.Token()
				if err != nil {
					return dst, err
				}
				if out, err = appendJSONValue(out, string(strconv.AppendInt(buf[:0], int64(i), 10)), t, dec); err != nil {
					return dst, err
				}
			}
			if _, err := dec.Token(); err != nil { // ']'
				return dst, err
			}
			return bsoncore.AppendArrayEnd(out, idx)
		}
		idx, out := bsoncore.AppendDocumentElementStart(dst, key)
		return appendJSONObject(out, idx, dec)
	case string:
		return bsoncore.AppendStringElement(dst, key, v), nil
	case json.Number:
		s := string(v)
		if !strings.ContainsAny(s, ".eE") {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return bsoncore.AppendInt64Element(dst, key, n), nil
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return dst, err
		}
		if math.IsInf(f, 0) {
			return dst, fmt.Errorf("number %s is out of the range of a BSON double", s)
		}
		return bsoncore.AppendDoubleElement(dst, key, f), nil
	case bool:
		return bsoncore.AppendBooleanElement(dst, key, v), nil
	case nil:
		return bsoncore.AppendNullElement(dst, key), nil
	}
	return dst, fmt.Errorf("unexpected JSON token %v", tok)
}

// appendJSONObject appends the members of an object whose '{' was read and whose document was
// started at idx, then ends the document. A key that repeats keeps its first position and its last
// value.
func appendJSONObject(out []byte, idx int32, dec *json.Decoder) ([]byte, error) {
	type member struct {
		key        string
		start, end int
	}
	var members []member
	var index map[string]int // key → its last member; kept once the object has many members
	dup := false
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return out, err
		}
		k, _ := kt.(string)
		if strings.IndexByte(k, 0) >= 0 {
			return out, fmt.Errorf("key %q holds a NUL character, which BSON keys cannot", k)
		}
		vt, err := dec.Token()
		if err != nil {
			return out, err
		}
		if index == nil && len(members) >= 16 {
			index = make(map[string]int, 2*len(members))
			for i, m := range members {
				index[m.key] = i
			}
		}
		if index != nil {
			_, seen := index[k]
			dup = dup || seen
			index[k] = len(members)
		} else {
			for _, m := range members {
				dup = dup || m.key == k
			}
		}
		start := len(out)
		if out, err = appendJSONValue(out, k, vt, dec); err != nil {
			return out, err
		}
		members = append(members, member{k, start, len(out)})
	}
	if _, err := dec.Token(); err != nil { // '}'
		return out, err
	}
	if dup {
		// as JavaScript and Python do: the key stays where it first appeared, with its last value
		lastOf := make(map[string]int, len(members))
		for i, m := range members {
			lastOf[m.key] = i
		}
		body := int(idx) + 4
		kept := make([]byte, 0, len(out)-body)
		for _, m := range members {
			if l, ok := lastOf[m.key]; ok {
				kept = append(kept, out[members[l].start:members[l].end]...)
				delete(lastOf, m.key)
			}
		}
		out = append(out[:body], kept...)
	}
	return bsoncore.AppendDocumentEnd(out, idx)
}
