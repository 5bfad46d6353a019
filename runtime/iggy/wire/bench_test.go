package wire

import "testing"

func benchMessages() []Message {
	msgs := make([]Message, 1000)
	payload := make([]byte, 1024)
	for i := range msgs {
		msgs[i] = Message{ID: IDFromUint64(uint64(i)), Payload: payload, OriginTimestamp: 1, Headers: []Header{StringHeader("k", "v")}}
	}
	return msgs
}

// BenchmarkAppendSendMessages encodes a 1000 x 1 KB send body into a reused buffer (0 allocs).
func BenchmarkAppendSendMessages(b *testing.B) {
	msgs := benchMessages()
	buf, _ := AppendSendMessages(nil, NamedID("s"), NamedID("t"), PartitionID(0), msgs)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var err error
		if buf, err = AppendSendMessages(buf[:0], NamedID("s"), NamedID("t"), PartitionID(0), msgs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodePollReply decodes a 1000 x 1 KB poll reply (payloads alias the buffer; one
// header slice per message that has headers).
func BenchmarkDecodePollReply(b *testing.B) {
	body, _ := AppendSendMessages(nil, NamedID("s"), NamedID("t"), PartitionID(0), benchMessages())
	q, _ := DecodeSendMessages(body)
	reply := append(AppendPollReplyHeader(nil, 0, 999, 1000), q.Batch...)
	dst := make([]Message, 0, 1000)
	b.SetBytes(int64(len(reply)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p, err := DecodePollReply(reply, dst)
		if err != nil || len(p.Messages) != 1000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateBatch is the server's per-send verification (both checksums).
func BenchmarkValidateBatch(b *testing.B) {
	body, _ := AppendSendMessages(nil, NamedID("s"), NamedID("t"), PartitionID(0), benchMessages())
	q, _ := DecodeSendMessages(body)
	b.SetBytes(int64(len(q.Batch)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := ValidateBatch(q.Batch, q.Count); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendSendMessagesVec encodes the same body for a vectored write: payloads stay where
// they are, message checksums are computed over the frame pieces.
func BenchmarkAppendSendMessagesVec(b *testing.B) {
	msgs := benchMessages()
	buf, segs, _ := AppendSendMessagesVec(nil, NamedID("s"), NamedID("t"), PartitionID(0), msgs, 0, 512, nil)
	b.SetBytes(int64(SegmentsLen(segs)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var err error
		if buf, segs, err = AppendSendMessagesVec(buf[:0], NamedID("s"), NamedID("t"), PartitionID(0), msgs, 0, 512, segs[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
