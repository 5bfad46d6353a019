package wire

import (
	"bytes"
	"errors"
	"testing"

	"github.com/iggy-go/connectors/runtime/iggy/wire/wiretest"
)

// seedFrames returns every golden frame of the spec (whole frames and bodies) as fuzz seeds.
func seedFrames(f *testing.F) [][]byte {
	// The encoders are proven byte-identical to the spec vectors by the golden tests.
	var seeds [][]byte
	test, orders := NamedID("test"), NamedID("orders")
	login := LoginRequest{Version: ClientVersion{ProtocolVersion, "rust-sdk", "0.11.0"}, Username: "iggy", Password: "iggy"}
	send, _ := AppendSendMessages(nil, test, orders, PartitionID(0), sendVectorMessages())
	q, _ := DecodeSendMessages(send)
	stored := append([]byte(nil), q.Batch...)
	StampBatch(stored, 0, 0, originTS)
	bodies := [][]byte{
		nil, login.Append(nil), (&PATLoginRequest{Version: login.Version, Token: "tok"}).Append(nil),
		(&CreateStreamRequest{Name: "test"}).Append(nil),
		(&CreateTopicRequest{Stream: test, Partitions: 3, Name: "orders", Options: []Header{Uint64Header("message_expiry", 1)}}).Append(nil),
		send,
		(&PollMessagesRequest{Consumer: Consumer{ConsumerKindGroup, NamedID("g")}, Stream: test, Topic: orders, Partition: Part(0), Strategy: StrategyNext(), Count: 10}).Append(nil),
		(&ConsumerOffsetRequest{Consumer: Consumer{ConsumerKindSingle, NumericID(1)}, Stream: test, Topic: orders, Partition: Part(0), Offset: 1, Ack: 1}).AppendStore(nil),
		(&GroupRef{test, orders, NamedID("workers")}).Append(nil),
		AppendPollReplyHeader(nil, 0, 1, 2), append(AppendPollReplyHeader(nil, 0, 1, 2), stored...),
		AppendResultError(nil, 1012),
	}
	d := getStreamVectorDetails()
	bodies = append(bodies, d.Append(nil))
	bodies = append(bodies, d.Append(AppendResultOK(nil)))
	for i, b := range bodies {
		frame := append(make([]byte, HeaderSize), b...)
		FinishRequest(frame, []uint32{CodePing, CodeLoginRegister, CodeLoginRegisterWithPAT, CodeCreateStream, CodeCreateTopic,
			CodeSendMessages, CodePollMessages, CodeStoreConsumerOffset, CodeJoinConsumerGroup, CodePollMessages,
			CodePollMessages, CodeCreateStream, CodeGetStream, CodeCreateStream}[i], testClient, 1, 7)
		seeds = append(seeds, frame, b)
	}
	return seeds
}

// FuzzDecoders feeds arbitrary bytes to the frame reader and to every body decoder. None may
// panic; a frame that ReadFrame accepts must have a size in range.
func FuzzDecoders(f *testing.F) {
	for _, s := range seedFrames(f) {
		f.Add(s)
	}
	vs, err := wiretest.Vectors()
	if err != nil {
		f.Fatal(err)
	}
	for _, v := range vs {
		f.Add(v.Frame)
		f.Add(v.Frame[HeaderSize:])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		frame, err := ReadFrame(bytes.NewReader(b), nil, 1<<20)
		if err == nil {
			if len(frame) < HeaderSize || int(FrameSize(frame)) != len(frame) {
				t.Fatalf("ReadFrame returned %d bytes for size %d", len(frame), FrameSize(frame))
			}
			if _, err := DecodeRequestHeader(frame); err != nil {
				t.Fatal(err)
			}
			DecodeReplyHeader(frame)
			DecodeEviction(frame)
		} else if errors.Is(err, ErrFrameSize) && len(b) >= HeaderSize {
			if s := FrameSize(b); s >= HeaderSize && s <= 1<<20 {
				t.Fatalf("size %d rejected: %v", s, err)
			}
		}
		bodies := [][]byte{b}
		if len(b) >= HeaderSize {
			bodies = append(bodies, b[HeaderSize:])
		}
		for _, body := range bodies {
			decodeAll(body)
		}
	})
}

func decodeAll(body []byte) {
	(&LoginRequest{}).Decode(body)
	(&PATLoginRequest{}).Decode(body)
	(&CreateStreamRequest{}).Decode(body)
	(&StreamRef{}).Decode(body)
	(&TopicRef{}).Decode(body)
	(&CreateTopicRequest{}).Decode(body)
	(&PartitionsRequest{}).Decode(body)
	if q, err := DecodeSendMessages(body); err == nil {
		if ValidateBatch(q.Batch, q.Count) == nil {
			rec := append([]byte(nil), q.Batch...)
			StampBatch(rec, 1, 2, 3)
			if err := ValidateBatch(rec, q.Count); err != nil {
				panic("stamped batch no longer validates: " + err.Error())
			}
			spans := FrameSpans(rec, nil)
			AppendRecordSlice(nil, rec, rec[spans[0]:spans[len(spans)-1]], uint32(len(spans)-1))
			if msgs, err := DecodeRecords(rec, nil); err != nil || len(msgs) != int(q.Count) {
				panic("validated batch does not decode")
			}
		}
	}
	(&PollMessagesRequest{}).Decode(body)
	q := &ConsumerOffsetRequest{}
	q.DecodeStore(body)
	q.DecodeGet(body)
	q.DecodeDelete(body)
	(&GroupRef{}).Decode(body)
	(&CreateGroupRequest{}).Decode(body)
	(&CreatePATRequest{}).Decode(body)
	(&NameRequest{}).Decode(body)
	SplitResult(body)
	(&LoginReply{}).Decode(body)
	DecodeStreamDetails(body)
	DecodeStreams(body)
	DecodeTopicDetails(body)
	DecodeTopics(body)
	DecodeSendReply(body)
	DecodePollReply(body, nil)
	DecodeRecords(body, nil)
	(&ConsumerOffsetInfo{}).Decode(body)
	DecodeGroupDetails(body)
	DecodeGroups(body)
	(&SyncReply{}).Decode(body)
	(&ClientInfo{}).Decode(body)
	(&Stats{}).Decode(body)
	(&RawToken{}).Decode(body)
	(&ClusterMetadata{}).Decode(body)
	DecodePATs(body)
	DecodeHeaders(body, nil)
	ReadBatchInfo(body)
}

func TestRecordSliceHeaderMatchesSlice(t *testing.T) {
	body, _ := AppendSendMessages(nil, NamedID("s"), NamedID("t"), PartitionID(0), benchMessages()[:10])
	q, _ := DecodeSendMessages(body)
	rec := append([]byte(nil), q.Batch...)
	StampBatch(rec, 3, 100, 5)
	spans := FrameSpans(rec, nil)
	for from := 0; from < 10; from++ {
		for to := from + 1; to <= 10; to++ {
			whole := AppendRecordSlice(nil, rec, rec[spans[from]:spans[to]], uint32(to-from))
			hdr := AppendRecordSliceHeader(nil, rec, rec[spans[from]:spans[to]], uint32(to-from))
			if string(hdr) != string(whole[:BatchHeaderSize]) {
				t.Fatalf("slice %d..%d: headers differ", from, to)
			}
			if err := ValidateBatchStored(whole); err != nil {
				t.Fatalf("slice %d..%d: %v", from, to, err)
			}
		}
	}
}

// ValidateBatchStored checks a served record: its checksum and frame tiling.
func ValidateBatchStored(rec []byte) error {
	info, err := ReadBatchInfo(rec)
	if err != nil {
		return err
	}
	if BatchChecksum(rec) != info.Checksum || info.BatchLength != uint64(len(rec)) || len(FrameSpans(rec, nil))-1 != int(info.MessageCount) {
		return &CodeError{Code: ErrCodeInvalidBatchChecksum, Reason: "served record is inconsistent"}
	}
	return nil
}
