package abi

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

// refImage renders b as the golden IggySinkBatchRef image of iggy_connector.h §6.
func refImage(b *SinkBatch) []byte { return AppendSinkBatchImage(nil, b) }

// refFromImage builds real descriptors from a golden image: every pointer points into img.
func refFromImage(t *testing.T, img []byte) (*SinkBatchRef, []MessageRef) {
	t.Helper()
	var bl SinkBatchRefBuilder
	r, err := bl.ImageRef(img)
	if err != nil {
		t.Fatal(err)
	}
	return r, bl.msgs
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
		var ib SinkBatchRefBuilder
		img := append([]byte("prefix"), AppendSinkBatchImage([]byte("prefix"), want)[6:]...)
		iref, err := ib.ImageRef(img[6:])
		if err != nil {
			t.Fatalf("batch %d: image: %v", i, err)
		}
		for _, r := range []struct {
			how string
			ref *SinkBatchRef
		}{{"built", ref}, {"from an image", iref}} {
			for _, borrow := range []bool{true, false} {
				got, err := dec.DecodeRef(r.ref, borrow)
				if err != nil {
					t.Fatal(err)
				}
				if normalise(got) != normalise(viaCBOR) {
					t.Fatalf("batch %d %s borrow=%v:\n got %s\nwant %s", i, r.how, borrow, normalise(got), normalise(viaCBOR))
				}
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

// TestImageRefRejects: every offset and length of an image is checked against its size.
func TestImageRefRejects(t *testing.T) {
	img := AppendSinkBatchImage(nil, goldenSinkBatch(t))
	var bl SinkBatchRefBuilder
	for _, c := range []struct {
		name, want string
		at         int
		v          uint64
	}{
		{"stream offset", "stream:", 16, 1 << 40},
		{"topic length", "topic:", 40, 1 << 20},
		{"message count", "messages at", 72, 1 << 40},
		{"payload", "messages[1].payload", 88 + 80 + 64, uint64(len(img))},
		{"headers", "messages[0].headers", 88 + 56, 1 << 30},
		{"sizes", "sizes", 80, 96},
	} {
		bad := append([]byte(nil), img...)
		binary.LittleEndian.PutUint64(bad[c.at:], c.v)
		if _, err := bl.ImageRef(bad); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := bl.ImageRef(img[:50]); err == nil {
		t.Error("a truncated image was accepted")
	}
}

// BenchmarkPollResultOwned compares the two ways to get a PollResult that owns its bytes from a
// buffer that is about to be freed: clone the whole buffer and decode aliasing the clone, or decode
// aliasing the buffer and gather the bytes the result keeps (DecodeOwnedPollResult).
func BenchmarkPollResultOwned(b *testing.B) {
	for _, size := range []int{100, 1024} {
		r := &PollResult{BatchID: 1, Schema: SchemaJSON, Messages: make([]SourceMessage, 1000), State: []byte("state")}
		for i := range r.Messages {
			r.Messages[i] = SourceMessage{Payload: bytes.Repeat([]byte{'x'}, size)}
		}
		data := AppendPollResult(nil, r)
		b.Run(fmt.Sprintf("clone/size=%d", size), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := DecodePollResult(bytes.Clone(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("gather/size=%d", size), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := DecodeOwnedPollResult(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
