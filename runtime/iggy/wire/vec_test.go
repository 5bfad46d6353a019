package wire

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// TestAppendSendMessagesVec checks that the segments of a vectored send body, joined, are byte for
// byte the contiguous body (same message and batch checksums), for payloads around the xxh3 size
// classes and the streaming hasher's buffer, with and without user headers, and for every
// reference threshold from "all" to "none".
func TestAppendSendMessagesVec(t *testing.T) {
	sizes := []int{1, 16, 17, 128, 129, 240, 241, 1023, 1024, 1025, 1048, 1064, 1088, 1089, 2048, 5000, 70000}
	var msgs []Message
	for i, n := range sizes {
		p := make([]byte, n)
		for j := range p {
			p[j] = byte(i*31 + j*7)
		}
		m := Message{ID: IDFromUint64(uint64(i + 1)), Payload: p, OriginTimestamp: uint64(1000 + i)}
		if i%3 == 1 {
			m.Headers = []Header{StringHeader("k", "v"), StringHeader("key", strings.Repeat("h", min(n, 40)))}
		}
		msgs = append(msgs, m)
	}
	// Two batches: many messages in one (the batch checksum streams), and mixed sizes.
	many := make([]Message, 3000)
	for i := range many {
		many[i] = msgs[i%len(msgs)]
	}
	for _, batch := range [][]Message{msgs, many, msgs[:1]} {
		want, err := AppendSendMessagesAt([]byte("HDR"), NamedID("s"), NamedID("t"), PartitionID(2), batch, 77)
		if err != nil {
			t.Fatal(err)
		}
		largest := 0
		for _, m := range batch {
			largest = max(largest, len(m.Payload))
		}
		for _, minRef := range []int{0, 1, 17, 241, 1024, 1025, 4096, math.MaxInt} {
			segs := [][]byte{[]byte("stale")}[:0]
			got, segs, err := AppendSendMessagesVec([]byte("HDR"), NamedID("s"), NamedID("t"), PartitionID(2), batch, 77, minRef, segs)
			if err != nil {
				t.Fatal(err)
			}
			joined := got
			if len(segs) > 0 {
				if minRef > largest {
					t.Fatalf("minRef %d: %d segments, none expected", minRef, len(segs))
				}
				joined = bytes.Join(segs, nil)
				if SegmentsLen(segs) != len(want) {
					t.Fatalf("minRef %d: SegmentsLen %d, want %d", minRef, SegmentsLen(segs), len(want))
				}
			} else if minRef <= largest {
				t.Fatalf("minRef %d: no segments", minRef)
			}
			if !bytes.Equal(joined, want) {
				t.Fatalf("minRef %d, %d messages: vectored body differs from the contiguous one", minRef, len(batch))
			}
			q, err := DecodeSendMessages(joined[3:])
			if err != nil {
				t.Fatal(err)
			}
			if err := ValidateBatch(q.Batch, q.Count); err != nil {
				t.Fatalf("minRef %d: %v", minRef, err)
			}
		}
	}
}

func TestAppendSendMessagesVecErrorKeepsSegments(t *testing.T) {
	big := make([]byte, 2000)
	msgs := []Message{{Payload: big, OriginTimestamp: 1}, {Payload: big, OriginTimestamp: 1 + math.MaxUint32 + 1}}
	segs := [][]byte{[]byte("x")}
	b, segs, err := AppendSendMessagesVec([]byte("HDR"), NamedID("s"), NamedID("t"), PartitionID(0), msgs, 0, 1000, segs)
	if err == nil || len(segs) != 1 || string(b) != "HDR" {
		t.Fatalf("err %v, %d segments, body %q", err, len(segs), b)
	}
}
