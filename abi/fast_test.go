package abi

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestFastGolden: the hand-written codec produces and reads the golden vectors byte for byte.
func TestFastGolden(t *testing.T) {
	for _, v := range goldenVectors() {
		want, err := os.ReadFile(filepath.Join("testdata", v.Name+".cbor"))
		if err != nil {
			t.Fatal(err)
		}
		switch x := v.Value.(type) {
		case *SinkBatch:
			if got := AppendSinkBatch(nil, x); !bytes.Equal(got, want) {
				t.Errorf("%s: AppendSinkBatch\n got %x\nwant %x", v.Name, got, want)
			}
			back, err := DecodeSinkBatch(want)
			if err != nil || !reflect.DeepEqual(back, x) {
				t.Errorf("%s: DecodeSinkBatch = %#v, %v", v.Name, back, err)
			}
		case *PollResult:
			if got := AppendPollResult(nil, x); !bytes.Equal(got, want) {
				t.Errorf("%s: AppendPollResult\n got %x\nwant %x", v.Name, got, want)
			}
			back, err := DecodePollResult(want)
			if err != nil || !reflect.DeepEqual(back, x) {
				t.Errorf("%s: DecodePollResult = %#v, %v", v.Name, back, err)
			}
		}
	}
}

func randBytes(r *rand.Rand, allowNil bool) []byte {
	switch n := r.IntN(6); {
	case n == 0 && allowNil:
		return nil
	case n == 1:
		return []byte{}
	case n == 2:
		b := make([]byte, 24+r.IntN(300)) // multi-byte length heads
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	default:
		b := make([]byte, r.IntN(23))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
}

func randUint(r *rand.Rand) uint64 {
	switch r.IntN(6) {
	case 0:
		return uint64(r.IntN(24))
	case 1:
		return uint64(24 + r.IntN(232))
	case 2:
		return uint64(256 + r.IntN(65280))
	case 3:
		return uint64(65536 + r.Uint32()%(1<<31))
	case 4:
		return r.Uint64()
	}
	return 0
}

func randText(r *rand.Rand) string {
	words := []string{"", "a", "orders", "héllo wörld", "json", string(make([]byte, 30)), "日本語のトピック名は長いかもしれません"}
	return words[r.IntN(len(words))]
}

func randHeaders(r *rand.Rand) []Header {
	if r.IntN(3) == 0 {
		return nil
	}
	hs := make([]Header, r.IntN(4))
	for i := range hs {
		hs[i] = Header{KeyKind: HeaderKind(r.IntN(256)), Key: randBytes(r, true), ValueKind: HeaderKind(r.IntN(16)), Value: randBytes(r, true)}
	}
	return hs
}

func randSinkBatch(r *rand.Rand) *SinkBatch {
	b := &SinkBatch{Stream: randText(r), Topic: randText(r), PartitionID: uint32(randUint(r)), CurrentOffset: randUint(r), Schema: Schema(randText(r))}
	if r.IntN(8) != 0 {
		b.Messages = make([]Message, r.IntN(40))
		for i := range b.Messages {
			m := &b.Messages[i]
			for j := range m.ID {
				m.ID[j] = byte(r.Uint32())
			}
			m.Offset, m.Checksum, m.Timestamp, m.OriginTimestamp = randUint(r), randUint(r), randUint(r), randUint(r)
			m.Headers = randHeaders(r)
			m.Payload = randBytes(r, true)
		}
	}
	return b
}

func randPollResult(r *rand.Rand) *PollResult {
	p := &PollResult{BatchID: randUint(r), Schema: Schema(randText(r)), State: randBytes(r, true), WaitHintMs: randUint(r)}
	if r.IntN(8) != 0 {
		p.Messages = make([]SourceMessage, r.IntN(40))
		for i := range p.Messages {
			m := &p.Messages[i]
			if r.IntN(2) == 0 {
				var id ID
				for j := range id {
					id[j] = byte(r.Uint32())
				}
				m.ID = &id
			}
			m.Headers = randHeaders(r)
			m.Payload = randBytes(r, true)
			m.OriginTimestamp = randUint(r)
			m.Key = randBytes(r, true)
		}
	}
	return p
}

// TestFastMatchesReflection: on random values the fast encoders are byte-identical to Marshal and the
// fast decoders give what Unmarshal gives.
func TestFastMatchesReflection(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		sb := randSinkBatch(r)
		want, err := Marshal(sb)
		if err != nil {
			t.Fatal(err)
		}
		got := AppendSinkBatch(nil, sb)
		if !bytes.Equal(got, want) {
			t.Fatalf("SinkBatch %d: fast encoding differs\n got %x\nwant %x", i, got, want)
		}
		var ref SinkBatch
		if err := Unmarshal(want, &ref); err != nil {
			t.Fatal(err)
		}
		back, err := DecodeSinkBatch(want)
		if err != nil || !reflect.DeepEqual(*back, ref) {
			t.Fatalf("SinkBatch %d: fast decoding differs: %v\n got %#v\nwant %#v", i, err, back, ref)
		}

		pr := randPollResult(r)
		want, err = Marshal(pr)
		if err != nil {
			t.Fatal(err)
		}
		got = AppendPollResult(nil, pr)
		if !bytes.Equal(got, want) {
			t.Fatalf("PollResult %d: fast encoding differs\n got %x\nwant %x", i, got, want)
		}
		var pref PollResult
		if err := Unmarshal(want, &pref); err != nil {
			t.Fatal(err)
		}
		pback, err := DecodePollResult(want)
		if err != nil || !reflect.DeepEqual(*pback, pref) {
			t.Fatalf("PollResult %d: fast decoding differs: %v\n got %#v\nwant %#v", i, err, pback, pref)
		}
	}
}

// TestSinkBatchDecoderReuse: a reusing decoder gives what Unmarshal gives, batch after batch, with
// growing and shrinking message counts and headers.
func TestSinkBatchDecoderReuse(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var dec SinkBatchDecoder
	for i := 0; i < 2000; i++ {
		data := AppendSinkBatch(nil, randSinkBatch(r))
		var ref SinkBatch
		if err := Unmarshal(data, &ref); err != nil {
			t.Fatal(err)
		}
		got, err := dec.Decode(data)
		if err != nil || !reflect.DeepEqual(*got, ref) {
			t.Fatalf("batch %d: reusing decoder differs: %v\n got %#v\nwant %#v", i, err, got, ref)
		}
	}
	// After warming up, decoding allocates nothing.
	data := AppendSinkBatch(nil, benchBatch(1000, 100))
	dec.Decode(data)
	if n := testing.AllocsPerRun(10, func() { dec.Decode(data) }); n != 0 {
		t.Fatalf("%v allocations per reused decode", n)
	}
}

// TestFastDecodeFallback: non-canonical but valid input (unknown keys, reordered keys, indefinite
// lengths) decodes like Unmarshal, and invalid input fails like Unmarshal.
func TestFastDecodeFallback(t *testing.T) {
	cases := []struct {
		name    string
		hex     []byte
		wantErr bool
	}{
		{"unknown key and reordered", []byte{0xa3, 0x02, 0x63, 'r', 'a', 'w', 0x09, 0x82, 0x01, 0xf5, 0x01, 0x07}, false},
		{"indefinite messages", []byte{0xa3, 0x01, 0x07, 0x02, 0x60, 0x03, 0x9f, 0xa1, 0x03, 0x41, 0x78, 0xff}, false},
		{"duplicate key", []byte{0xa2, 0x01, 0x07, 0x01, 0x08}, true},
		{"truncated", []byte{0xa2, 0x01, 0x07, 0x02}, true},
		{"trailing bytes", []byte{0xa1, 0x01, 0x07, 0x00}, true},
		{"invalid utf8 schema", []byte{0xa2, 0x01, 0x07, 0x02, 0x61, 0xff}, true},
		{"not a map", []byte{0x80}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ref PollResult
			refErr := Unmarshal(c.hex, &ref)
			got, err := DecodePollResult(c.hex)
			if (err != nil) != c.wantErr || (refErr != nil) != c.wantErr {
				t.Fatalf("err = %v, Unmarshal err = %v, want error %v", err, refErr, c.wantErr)
			}
			if err == nil && !reflect.DeepEqual(*got, ref) {
				t.Fatalf("got %#v, want %#v", got, ref)
			}
			var sref SinkBatch
			sRefErr := Unmarshal(c.hex, &sref)
			sgot, sErr := DecodeSinkBatch(c.hex)
			if (sErr != nil) != (sRefErr != nil) || sErr == nil && !reflect.DeepEqual(*sgot, sref) {
				t.Fatalf("SinkBatch: got %#v %v, want %#v %v", sgot, sErr, sref, sRefErr)
			}
		})
	}
}

// FuzzFastDecode: on any input the fast decoders agree with Unmarshal.
func FuzzFastDecode(f *testing.F) {
	for _, v := range goldenVectors() {
		b, _ := Marshal(v.Value)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ref SinkBatch
		refErr := Unmarshal(data, &ref)
		got, err := DecodeSinkBatch(data)
		if (err != nil) != (refErr != nil) || err == nil && !reflect.DeepEqual(*got, ref) {
			t.Fatalf("SinkBatch: fast %#v %v, reflection %#v %v", got, err, ref, refErr)
		}
		var pref PollResult
		prefErr := Unmarshal(data, &pref)
		pgot, perr := DecodePollResult(data)
		if (perr != nil) != (prefErr != nil) || perr == nil && !reflect.DeepEqual(*pgot, pref) {
			t.Fatalf("PollResult: fast %#v %v, reflection %#v %v", pgot, perr, pref, prefErr)
		}
	})
}

func benchBatch(n, size int) *SinkBatch {
	b := &SinkBatch{Stream: "bench", Topic: "t", PartitionID: 1, CurrentOffset: uint64(n), Schema: SchemaJSON, Messages: make([]Message, n)}
	payload := bytes.Repeat([]byte("x"), size)
	for i := range b.Messages {
		b.Messages[i] = Message{ID: IDFromUint64s(0, uint64(i)), Offset: uint64(i), Checksum: uint64(i) * 7919,
			Timestamp: 1_700_000_000_000_000 + uint64(i), OriginTimestamp: 1_700_000_000_000_000, Payload: payload}
	}
	return b
}

func BenchmarkSinkBatchEncode(b *testing.B) {
	batch := benchBatch(1000, 100)
	b.Run("reflection", func(b *testing.B) {
		for b.Loop() {
			if _, err := Marshal(batch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		buf := make([]byte, 0, 256<<10)
		for b.Loop() {
			buf = AppendSinkBatch(buf[:0], batch)
		}
	})
}

func BenchmarkSinkBatchDecode(b *testing.B) {
	data := AppendSinkBatch(nil, benchBatch(1000, 100))
	b.Run("reflection", func(b *testing.B) {
		for b.Loop() {
			var sb SinkBatch
			if err := Unmarshal(data, &sb); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeSinkBatch(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast_reused", func(b *testing.B) {
		var dec SinkBatchDecoder
		for b.Loop() {
			if _, err := dec.Decode(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
