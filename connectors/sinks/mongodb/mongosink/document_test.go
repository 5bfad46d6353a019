package mongosink

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/connectors/sinks/mongodb/mongotest"
	"github.com/iggy-go/connectors/sdk"
	"go.mongodb.org/mongo-driver/v2/bson"
)

func testBatch(partition uint32, msgs ...sdk.Message) *sdk.SinkBatch {
	return &sdk.SinkBatch{Stream: "orders", Topic: "created", PartitionID: partition, Schema: sdk.Schema("json"), Messages: msgs}
}

// build converts one message and decodes the document back with the driver's decoder.
func build(t *testing.T, l layout, b *sdk.SinkBatch) bson.D {
	t.Helper()
	out, err := l.appendDocument(nil, b, &b.Messages[0])
	if err != nil {
		t.Fatalf("appendDocument: %v", err)
	}
	if err := bson.Raw(out).Validate(); err != nil {
		t.Fatalf("invalid BSON: %v", err)
	}
	var d bson.D
	if err := bson.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

var (
	field = mongotest.Value
	keys  = mongotest.Keys
)

func TestDocumentMetadata(t *testing.T) {
	ts := time.Date(2025, 1, 2, 3, 4, 5, 678_901_000, time.UTC)
	origin := time.Date(2024, 6, 7, 8, 9, 10, 0, time.UTC)
	m := sdk.Message{ID: abi.IDFromUint64s(0, 42), Offset: 7, Checksum: 99, Timestamp: uint64(ts.UnixMicro()),
		OriginTimestamp: uint64(origin.UnixMicro()), Payload: []byte{0, 1, 2, 0xff}}
	l := layout{metadata: true, checksum: true, origin: true, format: FormatBinary}
	d := build(t, l, testBatch(3, m))
	if got := keys(d); got != "_id,iggy_offset,iggy_timestamp,iggy_stream,iggy_topic,iggy_partition_id,iggy_checksum,iggy_origin_timestamp,payload" {
		t.Fatalf("fields %s", got)
	}
	want := map[string]any{"_id": "orders:created:3:42", "iggy_offset": int64(7), "iggy_stream": "orders", "iggy_topic": "created",
		"iggy_partition_id": int32(3), "iggy_checksum": int64(99),
		"iggy_timestamp": bson.DateTime(ts.UnixMilli()), "iggy_origin_timestamp": bson.DateTime(origin.UnixMilli())}
	for k, v := range want {
		if got := field(t, d, k); got != v {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
	bin, ok := field(t, d, "payload").(bson.Binary)
	if !ok || bin.Subtype != 0 || !bytes.Equal(bin.Data, m.Payload) {
		t.Errorf("payload %#v, want Binary subtype 0 % x", field(t, d, "payload"), m.Payload)
	}

	// only _id and payload without the metadata options
	d = build(t, layout{format: FormatBinary}, testBatch(3, sdk.Message{}))
	if got := keys(d); got != "_id,payload" {
		t.Fatalf("fields without metadata: %s", got)
	}
	if bin := field(t, d, "payload").(bson.Binary); bin.Subtype != 0 || len(bin.Data) != 0 {
		t.Errorf("empty payload: %#v", bin)
	}
}

func TestDocumentLargeValues(t *testing.T) {
	hi, lo := uint64(0xFEDCBA9876543210), uint64(0x0123456789ABCDEF)
	id := abi.IDFromUint64s(hi, lo)
	m := sdk.Message{ID: id, Offset: math.MaxInt64 + 1, Checksum: math.MaxUint64, Timestamp: math.MaxUint64, OriginTimestamp: 0}
	d := build(t, layout{metadata: true, checksum: true, origin: true}, testBatch(math.MaxInt32+1, m))
	wantID := "orders:created:2147483648:" + new(big.Int).Or(new(big.Int).Lsh(new(big.Int).SetUint64(hi), 64), new(big.Int).SetUint64(lo)).String()
	checks := map[string]any{
		"_id":                   wantID,
		"iggy_offset_str":       "9223372036854775808",
		"iggy_partition_id":     int64(math.MaxInt32 + 1),
		"iggy_checksum":         "18446744073709551615",
		"iggy_timestamp":        bson.DateTime(math.MaxUint64 / 1000),
		"iggy_origin_timestamp": bson.DateTime(0),
	}
	for k, v := range checks {
		if got := field(t, d, k); got != v {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
	if strings.Contains(keys(d), "iggy_offset,") {
		t.Errorf("iggy_offset written beside iggy_offset_str: %s", keys(d))
	}
}

func TestDocumentJSONPayload(t *testing.T) {
	l := layout{format: FormatJSON}
	payload := `{"z":1,"a":{"nested":[1,2.5,"x",true,null,{"k":-3}]},"big":12345678901234567890,"exp":1e3,"neg":-0.0,` +
		`"s":"ünï \"q\" \u00e9 \ud83d\ude00","dup":1,"dup":{"last":true},"empty":{},"arr":[]}`
	d := build(t, l, testBatch(0, sdk.Message{Payload: []byte(payload)}))
	p, ok := field(t, d, "payload").(bson.D)
	if !ok {
		t.Fatalf("payload is %T, want an embedded document", field(t, d, "payload"))
	}
	if got := keys(p); got != "z,a,big,exp,neg,s,dup,empty,arr" {
		t.Fatalf("payload keys %s (key order kept; the repeated key at its first position)", got)
	}
	if v := field(t, p, "z"); v != int64(1) {
		t.Errorf("z = %#v, want int64 1", v)
	}
	nested := field(t, field(t, p, "a").(bson.D), "nested").(bson.A)
	want := bson.A{int64(1), 2.5, "x", true, nil, bson.D{{Key: "k", Value: int64(-3)}}}
	if len(nested) != len(want) {
		t.Fatalf("nested %#v", nested)
	}
	for i := range want {
		if d, ok := want[i].(bson.D); ok {
			if g, ok := nested[i].(bson.D); !ok || len(g) != 1 || g[0] != d[0] {
				t.Errorf("nested[%d] = %#v, want %#v", i, nested[i], want[i])
			}
			continue
		}
		if nested[i] != want[i] {
			t.Errorf("nested[%d] = %#v, want %#v", i, nested[i], want[i])
		}
	}
	if v := field(t, p, "big"); v != 12345678901234567890.0 {
		t.Errorf("big = %#v, want the double 1.2345678901234567e19", v)
	}
	if v := field(t, p, "exp"); v != 1000.0 {
		t.Errorf("exp = %#v, want double 1000", v)
	}
	if v := field(t, p, "s"); v != "ünï \"q\" é 😀" {
		t.Errorf("s = %q", v)
	}
	dup, ok := field(t, p, "dup").(bson.D)
	if !ok || len(dup) != 1 || dup[0].Key != "last" || dup[0].Value != true {
		t.Errorf("dup = %#v, want the last value {last: true}", field(t, p, "dup"))
	}
	if e := field(t, p, "empty").(bson.D); len(e) != 0 {
		t.Errorf("empty = %#v", e)
	}
	if a := field(t, p, "arr").(bson.A); len(a) != 0 {
		t.Errorf("arr = %#v", a)
	}
}

func TestDocumentJSONTopLevelValues(t *testing.T) {
	l := layout{format: FormatJSON}
	for payload, want := range map[string]any{`"text"`: "text", `12`: int64(12), ` 1.5 `: 1.5, `true`: true, `null`: nil} {
		d := build(t, l, testBatch(0, sdk.Message{Payload: []byte(payload)}))
		if got := field(t, d, "payload"); got != want {
			t.Errorf("payload %s → %#v, want %#v", payload, got, want)
		}
	}
	d := build(t, l, testBatch(0, sdk.Message{Payload: []byte(`[[1,2],{"a":[3]}]`)}))
	a := field(t, d, "payload").(bson.A)
	if len(a) != 2 || len(a[0].(bson.A)) != 2 {
		t.Errorf("array payload %#v", a)
	}
}

func TestDocumentManyKeysWithRepeats(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 100; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%02d":%d`, i%40, i%10)
	}
	b.WriteString("}")
	d := build(t, layout{format: FormatJSON}, testBatch(0, sdk.Message{Payload: []byte(b.String())}))
	p := field(t, d, "payload").(bson.D)
	if len(p) != 40 {
		t.Fatalf("%d keys, want 40 distinct", len(p))
	}
	// key k<j> last appears at i = 80+j (j < 20) or 40+j (j >= 20)
	for n, e := range p {
		j, _ := strconv.Atoi(e.Key[1:])
		if j != n {
			t.Errorf("key %d is %s: first positions not kept", n, e.Key)
		}
		last := 80 + j
		if j >= 20 {
			last = 40 + j
		}
		if e.Value != int64(last%10) {
			t.Errorf("%s = %v, want the last value %d", e.Key, e.Value, last%10)
		}
	}
}

func TestDocumentRejections(t *testing.T) {
	cases := []struct {
		name    string
		format  PayloadFormat
		payload []byte
		want    string
	}{
		{"json syntax", FormatJSON, []byte(`{"a":`), "not valid JSON"},
		{"json two values", FormatJSON, []byte(`{} {}`), "not valid JSON"},
		{"json empty", FormatJSON, nil, "not valid JSON"},
		{"json bad utf8", FormatJSON, []byte("{\"a\":\"\xff\"}"), "not valid UTF-8"},
		{"json NUL key", FormatJSON, []byte(`{"a\u0000b":1}`), "NUL"},
		{"json huge number", FormatJSON, []byte(`{"a":1e999}`), "out of the range"},
		{"string bad utf8", FormatString, []byte("ok \xc3\x28"), "not valid UTF-8"},
		{"binary over 16 MiB", FormatBinary, make([]byte, MaxDocumentSize), "over MongoDB's limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := layout{metadata: true, format: c.format}
			prefix := []byte("previous documents")
			b := testBatch(0, sdk.Message{Offset: 5, Payload: c.payload})
			out, err := l.appendDocument(prefix, b, &b.Messages[0])
			if err == nil || !errors.Is(err, ErrInvalidMessage) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "offset 5") {
				t.Fatalf("err = %v, want ErrInvalidMessage with %q and the offset", err, c.want)
			}
			if string(out) != string(prefix) {
				t.Fatalf("buffer changed on failure: %d bytes", len(out))
			}
		})
	}
	// valid strings, including NUL characters (BSON strings are length-prefixed)
	d := build(t, layout{format: FormatString}, testBatch(0, sdk.Message{Payload: []byte("héllo\x00world")}))
	if got := field(t, d, "payload"); got != "héllo\x00world" {
		t.Errorf("string payload %q", got)
	}
}

func TestDocumentID(t *testing.T) {
	if got := DocumentID("s", "t", 0, abi.IDFromUint64s(0, 7), 99); got != "s:t:0:7" {
		t.Errorf("small id: %s", got)
	}
	max := abi.IDFromUint64s(math.MaxUint64, math.MaxUint64)
	if got := DocumentID("s", "t", math.MaxUint32, max, 0); got != "s:t:4294967295:340282366920938463463374607431768211455" {
		t.Errorf("max id: %s", got)
	}
	if DocumentID("s", "a", 1, abi.IDFromUint64s(0, 1), 0) == DocumentID("s", "b", 1, abi.IDFromUint64s(0, 1), 0) {
		t.Error("ids of different topics collide")
	}
	// no id: the offset makes it unique, and it cannot look like a message id
	a, b := DocumentID("s", "t", 2, abi.ID{}, 5), DocumentID("s", "t", 2, abi.ID{}, 6)
	if a != "s:t:2:offset:5" || a == b || a == DocumentID("s", "t", 2, abi.IDFromUint64s(0, 5), 5) {
		t.Errorf("id 0: %s, %s", a, b)
	}
}
