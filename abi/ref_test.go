package abi

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// refImage renders b as the golden IggySinkBatchRef image of iggy_connector.h §6 (64-bit
// little-endian; pointers as offsets from the start of the image, 0 = NULL).
func refImage(b *SinkBatch) []byte {
	const batchSize, msgSize = 88, 80
	img := make([]byte, batchSize+msgSize*len(b.Messages))
	le := binary.LittleEndian
	data := func(p []byte) (off uint64) {
		if len(p) == 0 {
			return 0
		}
		off = uint64(len(img))
		img = append(img, p...)
		return off
	}
	le.PutUint32(img[0:], batchSize)
	le.PutUint32(img[4:], b.PartitionID)
	le.PutUint64(img[8:], b.CurrentOffset)
	for i, s := range []string{b.Stream, b.Topic, string(b.Schema)} {
		off := data([]byte(s))
		le.PutUint64(img[16+16*i:], off)
		le.PutUint64(img[24+16*i:], uint64(len(s)))
	}
	if len(b.Messages) > 0 {
		le.PutUint64(img[64:], batchSize)
	}
	le.PutUint64(img[72:], uint64(len(b.Messages)))
	le.PutUint64(img[80:], msgSize)
	for i := range b.Messages {
		m := &b.Messages[i]
		at := batchSize + msgSize*i
		copy(img[at:], m.ID[:])
		le.PutUint64(img[at+16:], m.Offset)
		le.PutUint64(img[at+24:], m.Checksum)
		le.PutUint64(img[at+32:], m.Timestamp)
		le.PutUint64(img[at+40:], m.OriginTimestamp)
		var hs []byte
		if len(m.Headers) > 0 {
			hs = appendHeaders(nil, m.Headers)
		}
		hoff := data(hs)
		le.PutUint64(img[at+48:], hoff)
		le.PutUint64(img[at+56:], uint64(len(hs)))
		poff := data(m.Payload)
		le.PutUint64(img[at+64:], poff)
		le.PutUint64(img[at+72:], uint64(len(m.Payload)))
	}
	return img
}

// refFromImage builds real descriptors from a golden image: every pointer points into img.
func refFromImage(t *testing.T, img []byte) (*SinkBatchRef, []MessageRef) {
	t.Helper()
	le := binary.LittleEndian
	ptr := func(at int) unsafe.Pointer {
		off := le.Uint64(img[at:])
		if off == 0 {
			return nil
		}
		if off >= uint64(len(img)) {
			t.Fatalf("pointer at %d: offset %d outside the image of %d bytes", at, off, len(img))
		}
		return unsafe.Pointer(&img[off])
	}
	r := &SinkBatchRef{Size: SinkBatchRefSize, PartitionID: le.Uint32(img[4:]), CurrentOffset: le.Uint64(img[8:]),
		Stream: ptr(16), StreamLen: uintptr(le.Uint64(img[24:])), Topic: ptr(32), TopicLen: uintptr(le.Uint64(img[40:])),
		Schema: ptr(48), SchemaLen: uintptr(le.Uint64(img[56:])), MessagesLen: uintptr(le.Uint64(img[72:])), MessageSize: MessageRefSize}
	if le.Uint32(img[0:]) != 88 || le.Uint64(img[80:]) != 80 {
		t.Fatalf("image sizes %d/%d, want 88/80", le.Uint32(img[0:]), le.Uint64(img[80:]))
	}
	base := int(le.Uint64(img[64:]))
	msgs := make([]MessageRef, r.MessagesLen)
	for i := range msgs {
		at := base + 80*i
		m := &msgs[i]
		copy(m.ID[:], img[at:at+16])
		m.Offset, m.Checksum = le.Uint64(img[at+16:]), le.Uint64(img[at+24:])
		m.Timestamp, m.OriginTimestamp = le.Uint64(img[at+32:]), le.Uint64(img[at+40:])
		m.Headers, m.HeadersLen = ptr(at+48), uintptr(le.Uint64(img[at+56:]))
		m.Payload, m.PayloadLen = ptr(at+64), uintptr(le.Uint64(img[at+72:]))
	}
	if len(msgs) > 0 {
		r.Messages = unsafe.Pointer(&msgs[0])
	}
	return r, msgs
}

func goldenSinkBatch(t *testing.T) *SinkBatch {
	for _, v := range goldenVectors() {
		if v.Name == "sink_batch" {
			return v.Value.(*SinkBatch)
		}
	}
	t.Fatal("no sink_batch vector")
	return nil
}

// TestGoldenRef checks sink_batch_ref.bin: it is the image of the sink_batch vector, and decoding it
// (borrowed and copied) gives the same batch as decoding sink_batch.cbor.
func TestGoldenRef(t *testing.T) {
	want := goldenSinkBatch(t)
	img := refImage(want)
	path := filepath.Join("testdata", "sink_batch_ref.bin")
	if *update {
		if err := os.WriteFile(path, img, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update)", err)
	}
	if !bytes.Equal(got, img) {
		t.Fatalf("sink_batch_ref.bin changed\n got %x\nwant %x", got, img)
	}
	cb, err := os.ReadFile(filepath.Join("testdata", "sink_batch.cbor"))
	if err != nil {
		t.Fatal(err)
	}
	fromCBOR, err := DecodeSinkBatch(cb)
	if err != nil {
		t.Fatal(err)
	}
	for _, borrow := range []bool{true, false} {
		ref, msgs := refFromImage(t, got)
		var dec SinkBatchDecoder
		b, err := dec.DecodeRef(ref, borrow)
		if err != nil {
			t.Fatal(err)
		}
		if normalise(b) != normalise(fromCBOR) || normalise(b) != normalise(want) {
			t.Fatalf("borrow=%v: decoded\n%s\nwant\n%s", borrow, normalise(b), normalise(want))
		}
		aliases := unsafe.SliceData(b.Messages[0].Payload) == (*byte)(msgs[0].Payload)
		if aliases != borrow {
			t.Fatalf("borrow=%v: payload aliases the runtime's memory: %v", borrow, aliases)
		}
	}
}

// TestRefBuildDecode round-trips batches through SinkBatchRefBuilder and DecodeRef, reusing both
// across batches of different shapes.
func TestRefBuildDecode(t *testing.T) {
	var bl SinkBatchRefBuilder
	var dec SinkBatchDecoder
	batches := []*SinkBatch{
		goldenSinkBatch(t),
		{Stream: "s", Topic: "t", Schema: SchemaRaw},
		{Stream: "orders", Topic: "created", PartitionID: 9, Schema: SchemaText, Messages: []Message{
			{Offset: 1, Payload: []byte("a")}, {Offset: 2, Headers: []Header{StringHeader("k", strings.Repeat("v", 300))}, Payload: nil},
			{Offset: 3, Payload: []byte{}}, {Offset: 4, Headers: []Header{StringHeader("x", "y")}, Payload: []byte("d")}}},
		goldenSinkBatch(t),
	}
	for i, want := range batches {
		ref := bl.Build(want)
		viaCBOR, err := DecodeSinkBatch(AppendSinkBatch(nil, want))
		if err != nil {
			t.Fatal(err)
		}
		if ref.Size != SinkBatchRefSize || ref.MessageSize != MessageRefSize || int(ref.MessagesLen) != len(want.Messages) {
			t.Fatalf("batch %d: descriptor %+v", i, ref)
		}
		for _, borrow := range []bool{true, false} {
			got, err := dec.DecodeRef(ref, borrow)
			if err != nil {
				t.Fatal(err)
			}
			if normalise(got) != normalise(viaCBOR) {
				t.Fatalf("batch %d borrow=%v:\n got %s\nwant %s", i, borrow, normalise(got), normalise(viaCBOR))
			}
		}
	}
	if unsafe.Sizeof(SinkBatchRef{}) == 88 && (unsafe.Offsetof(SinkBatchRef{}.Messages) != 64 || unsafe.Offsetof(MessageRef{}.Payload) != 64 ||
		unsafe.Offsetof(MessageRef{}.Headers) != 48 || MessageRefSize != 80) {
		t.Fatal("the Go structs do not have the C layout of iggy_connector.h §6")
	}
}

// TestDecodeRefRejects names the field of a malformed descriptor.
func TestDecodeRefRejects(t *testing.T) {
	var bl SinkBatchRefBuilder
	good := func() *SinkBatchRef { r := *bl.Build(goldenSinkBatch(t)); return &r }
	bad := []byte{0xff, 0xfe}
	cases := []struct {
		name, want string
		mod        func(r *SinkBatchRef)
	}{
		{"nil", "NULL batch", nil},
		{"small size", "size 40 is smaller", func(r *SinkBatchRef) { r.Size = 40 }},
		{"small stride", "stride 16", func(r *SinkBatchRef) { r.MessageSize = 16 }},
		{"null stream", "stream: NULL with length", func(r *SinkBatchRef) { r.Stream = nil }},
		{"bad topic", "topic: invalid UTF-8", func(r *SinkBatchRef) { r.Topic, r.TopicLen = unsafe.Pointer(&bad[0]), 2 }},
		{"null payload", "messages[0].payload: NULL", func(r *SinkBatchRef) {
			ms := append([]MessageRef(nil), unsafe.Slice((*MessageRef)(r.Messages), r.MessagesLen)...)
			ms[0].Payload = nil
			r.Messages = unsafe.Pointer(&ms[0])
		}},
		{"bad headers", "messages[1].headers", func(r *SinkBatchRef) {
			ms := append([]MessageRef(nil), unsafe.Slice((*MessageRef)(r.Messages), r.MessagesLen)...)
			ms[1].Headers, ms[1].HeadersLen = unsafe.Pointer(&bad[0]), 2
			r.Messages = unsafe.Pointer(&ms[0])
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r *SinkBatchRef
			if c.mod != nil {
				r = good()
				c.mod(r)
			}
			var dec SinkBatchDecoder
			_, err := dec.DecodeRef(r, false)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

// TestDecodeOwnedPollResult: the result shares no byte with the input.
func TestDecodeOwnedPollResult(t *testing.T) {
	var want *PollResult
	for _, v := range goldenVectors() {
		if v.Name == "poll_result" {
			want = v.Value.(*PollResult)
		}
	}
	data := AppendPollResult(nil, want)
	got, err := DecodeOwnedPollResult(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 0xaa
	}
	if !reflect.DeepEqual(normalise(got), normalise(want)) {
		t.Fatalf("after overwriting the input:\n got %s\nwant %s", normalise(got), normalise(want))
	}
}

func BenchmarkRefBuildDecode(b *testing.B) {
	batch := &SinkBatch{Stream: "s", Topic: "t", Schema: SchemaRaw, Messages: make([]Message, 1000)}
	for i := range batch.Messages {
		batch.Messages[i] = Message{Offset: uint64(i), Payload: make([]byte, 1024)}
	}
	var bl SinkBatchRefBuilder
	var dec SinkBatchDecoder
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dec.DecodeRef(bl.Build(batch), true); err != nil {
			b.Fatal(err)
		}
	}
}
