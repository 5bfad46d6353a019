package essink

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"unicode/utf8"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/sdk"
)

// meta is what every document gets besides the payload.
type meta struct {
	stream, topic string
	partition     uint32
}

// appendDocument appends the JSON document of m (one line, no newline) to buf. Payloads map as in
// the original: JSON as it is (an object gets the metadata fields; any other JSON value is kept under
// "data"), raw (and proto/flatbuffer) parsed as JSON when it is JSON, else {"data": base64,
// "data_type": "raw"}, text as {"text": ..., "data_type": "text"}. Metadata: _iggy_offset,
// _iggy_stream, _iggy_topic, _iggy_partition, _iggy_timestamp (the message's Iggy timestamp in
// milliseconds since the epoch) and _iggy_headers (only when the message has headers). A payload
// that cannot be a document (invalid JSON under schema json, invalid UTF-8 text) is an error,
// permanent for that message.
func appendDocument(buf []byte, schema abi.Schema, mt meta, m *abi.Message) ([]byte, error) {
	p := m.Payload
	switch schema {
	case abi.SchemaJSON, "":
		if !json.Valid(p) {
			return buf, errors.New("payload is not valid JSON")
		}
		return appendJSONDoc(buf, p, mt, m)
	case abi.SchemaText:
		if !utf8.Valid(p) {
			return buf, errors.New("text payload is not valid UTF-8")
		}
		buf = append(buf, `{"text":`...)
		buf = appendJSONString(buf, string(p))
		buf = append(buf, `,"data_type":"text",`...)
		return appendMeta(buf, mt, m), nil
	default: // raw, proto, flatbuffer, avro: JSON when it is JSON
		if json.Valid(p) {
			return appendJSONDoc(buf, p, mt, m)
		}
		buf = append(buf, `{"data":"`...)
		buf = base64.StdEncoding.AppendEncode(buf, p)
		buf = append(buf, `","data_type":"raw",`...)
		return appendMeta(buf, mt, m), nil
	}
}

// appendJSONDoc appends a valid JSON payload with the metadata fields spliced into its top-level
// object (or with a non-object value under "data"). Payloads spanning several lines are compacted
// (_bulk is newline-delimited); payloads that already hold _iggy_ fields are merged key by key, so
// the document has no duplicate key.
func appendJSONDoc(buf, p []byte, mt meta, m *abi.Message) ([]byte, error) {
	p = bytes.TrimSpace(p)
	if bytes.IndexByte(p, '\n') >= 0 || bytes.IndexByte(p, '\r') >= 0 {
		var c bytes.Buffer
		if err := json.Compact(&c, p); err != nil {
			return buf, err
		}
		p = c.Bytes()
	}
	if len(p) == 0 || p[0] != '{' {
		buf = append(buf, `{"data":`...)
		buf = append(buf, p...)
		buf = append(buf, ',')
		return appendMeta(buf, mt, m), nil
	}
	if bytes.Contains(p, []byte(`"_iggy_`)) {
		return appendMerged(buf, p, mt, m)
	}
	inner := bytes.TrimSpace(p[1 : len(p)-1])
	buf = append(buf, '{')
	if len(inner) > 0 {
		buf = append(buf, inner...)
		buf = append(buf, ',')
	}
	return appendMeta(buf, mt, m), nil
}

// appendMerged handles a payload object that has _iggy_* keys of its own: the metadata wins.
func appendMerged(buf, p []byte, mt meta, m *abi.Message) ([]byte, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(p, &obj); err != nil {
		return buf, err
	}
	var md map[string]json.RawMessage
	if err := json.Unmarshal(appendMeta([]byte{'{'}, mt, m), &md); err != nil {
		return buf, err
	}
	for k, v := range md {
		obj[k] = v
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return buf, err
	}
	return append(buf, out...), nil
}

// appendMeta appends the metadata fields and the closing brace.
func appendMeta(buf []byte, mt meta, m *abi.Message) []byte {
	buf = append(buf, `"_iggy_offset":`...)
	buf = strconv.AppendUint(buf, m.Offset, 10)
	buf = append(buf, `,"_iggy_stream":`...)
	buf = appendJSONString(buf, mt.stream)
	buf = append(buf, `,"_iggy_topic":`...)
	buf = appendJSONString(buf, mt.topic)
	buf = append(buf, `,"_iggy_partition":`...)
	buf = strconv.AppendUint(buf, uint64(mt.partition), 10)
	buf = append(buf, `,"_iggy_timestamp":`...)
	buf = strconv.AppendUint(buf, m.Timestamp/1000, 10)
	if len(m.Headers) > 0 {
		buf = append(buf, `,"_iggy_headers":{`...)
		for i, h := range m.Headers {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, headerText(h.KeyKind, h.Key))
			buf = append(buf, ':')
			buf = appendJSONString(buf, headerText(h.ValueKind, h.Value))
		}
		buf = append(buf, '}')
	}
	return append(buf, '}')
}

// headerText renders a header key or value as text: strings as they are, integers and floats in
// decimal, booleans as true/false, anything else in base64.
func headerText(kind abi.HeaderKind, v []byte) string {
	le := func() uint64 {
		var b [8]byte
		copy(b[:], v)
		return binary.LittleEndian.Uint64(b[:])
	}
	switch kind {
	case abi.HeaderString:
		if utf8.Valid(v) {
			return string(v)
		}
	case abi.HeaderBool:
		if len(v) == 1 {
			return strconv.FormatBool(v[0] != 0)
		}
	case abi.HeaderUint8, abi.HeaderUint16, abi.HeaderUint32, abi.HeaderUint64:
		if len(v) <= 8 {
			return strconv.FormatUint(le(), 10)
		}
	case abi.HeaderInt8, abi.HeaderInt16, abi.HeaderInt32, abi.HeaderInt64:
		if n := len(v); n >= 1 && n <= 8 {
			shift := uint(64 - 8*n)
			return strconv.FormatInt(int64(le()<<shift)>>shift, 10)
		}
	}
	return base64.StdEncoding.EncodeToString(v)
}

// appendJSONString appends s as a JSON string.
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			b, _ := json.Marshal(s)
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// documentID returns the _id of m under mode ("" for none). identity is
// {stream}-{topic}-{partition}-{offset}; message_id is the message's id in decimal (identity when
// the id is 0, i.e. not set). Ids longer than Elasticsearch's 512 bytes become a SHA-256 hex digest.
func documentID(mode idMode, mt meta, m *abi.Message) string {
	var id string
	switch mode {
	case idNone:
		return ""
	case idMessageID:
		if !m.ID.IsZero() {
			return new(big.Int).SetBytes(m.ID[:]).String()
		}
		fallthrough
	default:
		id = mt.stream + "-" + mt.topic + "-" + strconv.FormatUint(uint64(mt.partition), 10) + "-" + strconv.FormatUint(m.Offset, 10)
	}
	if len(id) > 512 {
		sum := sha256.Sum256([]byte(id))
		id = hex.EncodeToString(sum[:])
	}
	return id
}

// appendAction appends the _bulk action line of one document (with its newline).
func appendAction(buf []byte, index, id string) []byte {
	buf = append(buf, `{"index":{"_index":`...)
	buf = appendJSONString(buf, index)
	if id != "" {
		buf = append(buf, `,"_id":`...)
		buf = appendJSONString(buf, id)
	}
	return append(buf, "}}\n"...)
}

// docError marks a conversion failure as permanent, naming the offset.
func docError(m *abi.Message, err error) error {
	return sdk.Permanent(fmt.Errorf("offset %d: %w", m.Offset, err))
}
