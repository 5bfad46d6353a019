package wire

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"
)

// testClient is the client id C of the spec vectors (wire bytes 00 01 .. 0f).
var testClient = U128{Lo: 0x0706050403020100, Hi: 0x0f0e0d0c0b0a0908}

const originTS = 1_700_000_000_000_000

func diffBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		if got[i] != want[i] {
			t.Fatalf("%s: first difference at byte %d: got %02x want %02x (len got %d want %d)\ngot  %s\nwant %s",
				what, i, got[i], want[i], len(got), len(want), hex.EncodeToString(got[max(0, i-8):min(len(got), i+24)]), hex.EncodeToString(want[max(0, i-8):min(len(want), i+24)]))
		}
	}
	t.Fatalf("%s: length %d, want %d", what, len(got), len(want))
}

func request(code uint32, reqNo, session uint64, appendBody func([]byte) []byte) []byte {
	frame := appendBody(make([]byte, HeaderSize))
	FinishRequest(frame, code, testClient, reqNo, session)
	return frame
}

func sendVectorMessages() []Message {
	return []Message{
		{ID: IDFromUint64(1), OriginTimestamp: originTS, Payload: []byte("hello"), Headers: []Header{StringHeader("key", "value")}},
		{ID: IDFromUint64(2), OriginTimestamp: originTS + 1000, Payload: []byte("world")},
	}
}

// TestGoldenRequestsEncode encodes every request of spec 6.1 the way the client does and compares
// the whole frame.
func TestGoldenRequestsEncode(t *testing.T) {
	vs := loadVectors(t)
	login := LoginRequest{Version: ClientVersion{Protocol: ProtocolVersion, SDKName: "rust-sdk", SDKVersion: "0.11.0"}, Username: "iggy", Password: "iggy"}
	expiry := Header{KeyKind: KindString, Key: []byte("message_expiry"), ValueKind: KindUint64, Value: []byte{0x00, 0xa4, 0x93, 0xd6, 0, 0, 0, 0}}
	test, orders := NamedID("test"), NamedID("orders")
	cases := []struct {
		title string
		frame []byte
	}{
		{"Ping before login", request(CodePing, 1, 0, func(b []byte) []byte { return b })},
		{"LoginRegister", request(CodeLoginRegister, 0, 0, login.Append)},
		{"CreateStream", request(CodeCreateStream, 1, 7, (&CreateStreamRequest{Name: "test"}).Append)},
		{"CreateTopic", request(CodeCreateTopic, 2, 7, (&CreateTopicRequest{Stream: test, Partitions: 1, Name: "orders", Options: []Header{expiry}}).Append)},
		{"SendMessages to partition", request(CodeSendMessages, 3, 7, func(b []byte) []byte {
			out, err := AppendSendMessages(b, test, orders, PartitionID(0), sendVectorMessages())
			if err != nil {
				t.Fatal(err)
			}
			return out
		})},
		{"PollMessages", request(CodePollMessages, 3, 7, (&PollMessagesRequest{Consumer: Consumer{Kind: ConsumerKindSingle, ID: NumericID(1)},
			Stream: test, Topic: orders, Partition: Part(0), Strategy: StrategyOffset(0), Count: 10}).Append)},
		{"StoreConsumerOffset", request(CodeStoreConsumerOffset, 3, 7, (&ConsumerOffsetRequest{Consumer: Consumer{Kind: ConsumerKindSingle, ID: NumericID(1)},
			Stream: test, Topic: orders, Partition: Part(0), Offset: 1, Ack: 1}).AppendStore)},
		{"JoinConsumerGroup", request(CodeJoinConsumerGroup, 3, 7, (&GroupRef{Stream: test, Topic: orders, Group: NamedID("workers")}).Append)},
		{`GetStream "test"`, request(CodeGetStream, 4, 7, (&StreamRef{Stream: test}).Append)},
	}
	for _, c := range cases {
		t.Run(c.title, func(t *testing.T) {
			v := find(t, vs, c.title)
			if v.Dir != "request" {
				t.Fatalf("vector %q is a %s", v.Title, v.Dir)
			}
			diffBytes(t, v.Title, c.frame, v.Frame)
		})
	}
}

// TestGoldenRequestsDecode decodes every request of spec 6.1 the way the server does.
func TestGoldenRequestsDecode(t *testing.T) {
	vs := loadVectors(t)
	hdr := func(t *testing.T, prefix string) (RequestHeader, []byte) {
		v := find(t, vs, prefix)
		h, err := DecodeRequestHeader(v.Frame)
		if err != nil {
			t.Fatal(err)
		}
		if FrameCommand(v.Frame) != CommandRequest || h.Client != testClient || int(h.Size) != len(v.Frame) {
			t.Fatalf("%s: header %+v", prefix, h)
		}
		body := v.Frame[HeaderSize:]
		if !h.RequestChecksum.IsZero() && h.RequestChecksum != BodyChecksum(body) {
			t.Fatalf("%s: request checksum %v does not match the body (%v)", prefix, h.RequestChecksum, BodyChecksum(body))
		}
		return h, body
	}
	check := func(t *testing.T, h RequestHeader, op uint8, code uint32, reqNo, session uint64) {
		t.Helper()
		if h.Operation != op || h.Code != code || h.Request != reqNo || h.Session != session {
			t.Fatalf("header op %d code %d request %d session %d, want %d %d %d %d", h.Operation, h.Code, h.Request, h.Session, op, code, reqNo, session)
		}
		if op != OpNonReplicated && op != OpRegister {
			if c, ok := CodeForOperation(op); !ok || c == 0 {
				t.Fatalf("operation %d has no code", op)
			}
		}
	}
	test, orders := NamedID("test"), NamedID("orders")
	t.Run("Ping", func(t *testing.T) {
		h, body := hdr(t, "Ping before login")
		check(t, h, OpNonReplicated, CodePing, 1, 0)
		if err := EmptyBody(body, "ping"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Login", func(t *testing.T) {
		h, body := hdr(t, "LoginRegister")
		check(t, h, OpRegister, 0, 0, 0)
		var q LoginRequest
		if err := q.Decode(body); err != nil {
			t.Fatal(err)
		}
		want := LoginRequest{Version: ClientVersion{11264, "rust-sdk", "0.11.0"}, Username: "iggy", Password: "iggy", Context: []byte{}}
		if !reflect.DeepEqual(q, want) {
			t.Fatalf("got %+v want %+v", q, want)
		}
		var p PATLoginRequest
		if err := p.Decode(body); err == nil {
			t.Fatalf("a password login body also decodes as a token login: %+v", p)
		}
	})
	t.Run("CreateStream", func(t *testing.T) {
		h, body := hdr(t, "CreateStream")
		check(t, h, OpCreateStream, 0, 1, 7)
		var q CreateStreamRequest
		if err := q.Decode(body); err != nil || q.Name != "test" || len(q.Options) != 0 {
			t.Fatalf("%+v %v", q, err)
		}
	})
	t.Run("CreateTopic", func(t *testing.T) {
		h, body := hdr(t, "CreateTopic")
		check(t, h, OpCreateTopic, 0, 2, 7)
		var q CreateTopicRequest
		if err := q.Decode(body); err != nil {
			t.Fatal(err)
		}
		if q.Stream != test || q.Partitions != 1 || q.Name != "orders" || len(q.Options) != 1 ||
			string(q.Options[0].Key) != "message_expiry" || q.Options[0].ValueKind != KindUint64 ||
			le64(q.Options[0].Value) != 3_600_000_000 {
			t.Fatalf("%+v", q)
		}
	})
	t.Run("SendMessages", func(t *testing.T) {
		h, body := hdr(t, "SendMessages to partition")
		check(t, h, OpSendMessages, 0, 3, 7)
		q, err := DecodeSendMessages(body)
		if err != nil {
			t.Fatal(err)
		}
		if q.Stream != test || q.Topic != orders || q.Partitioning.Kind != PartitionByID || q.Partitioning.PartitionID != 0 || q.Count != 2 {
			t.Fatalf("%+v", q)
		}
		if err := ValidateBatch(q.Batch, q.Count); err != nil {
			t.Fatal(err)
		}
		info, _ := ReadBatchInfo(q.Batch)
		if info.OriginTimestamp != originTS || info.Checksum != 0x6e2ec16d30d63c10 || info.BatchLength != 380 || info.MessageCount != 2 {
			t.Fatalf("batch header %+v", info)
		}
		msgs, err := DecodeRecords(q.Batch, nil)
		if err != nil {
			t.Fatal(err)
		}
		checkVectorMessages(t, msgs, 0, 0)
	})
	t.Run("PollMessages", func(t *testing.T) {
		h, body := hdr(t, "PollMessages")
		check(t, h, OpNonReplicated, CodePollMessages, 3, 7)
		var q PollMessagesRequest
		if err := q.Decode(body); err != nil {
			t.Fatal(err)
		}
		want := PollMessagesRequest{Consumer: Consumer{ConsumerKindSingle, NumericID(1)}, Stream: test, Topic: orders, Partition: Part(0), Strategy: StrategyOffset(0), Count: 10}
		if !reflect.DeepEqual(q, want) {
			t.Fatalf("got %+v want %+v", q, want)
		}
	})
	t.Run("StoreConsumerOffset", func(t *testing.T) {
		h, body := hdr(t, "StoreConsumerOffset")
		check(t, h, OpStoreConsumerOffset, 0, 3, 7)
		var q ConsumerOffsetRequest
		if err := q.DecodeStore(body); err != nil {
			t.Fatal(err)
		}
		want := ConsumerOffsetRequest{Consumer: Consumer{ConsumerKindSingle, NumericID(1)}, Stream: test, Topic: orders, Partition: Part(0), Offset: 1, Ack: 1}
		if !reflect.DeepEqual(q, want) {
			t.Fatalf("got %+v want %+v", q, want)
		}
	})
	t.Run("JoinConsumerGroup", func(t *testing.T) {
		h, body := hdr(t, "JoinConsumerGroup")
		check(t, h, OpJoinConsumerGroup, 0, 3, 7)
		var q GroupRef
		if err := q.Decode(body); err != nil || q != (GroupRef{test, orders, NamedID("workers")}) {
			t.Fatalf("%+v %v", q, err)
		}
	})
	t.Run("GetStream", func(t *testing.T) {
		h, body := hdr(t, `GetStream "test"`)
		check(t, h, OpNonReplicated, CodeGetStream, 4, 7)
		var q StreamRef
		if err := q.Decode(body); err != nil || q.Stream != test {
			t.Fatalf("%+v %v", q, err)
		}
	})
}

func le64(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func checkVectorMessages(t *testing.T, msgs []Message, baseOffset, brokerTS uint64) {
	t.Helper()
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	m1, m2 := msgs[0], msgs[1]
	if m1.ID != IDFromUint64(1) || m1.Offset != baseOffset || m1.Timestamp != brokerTS || m1.OriginTimestamp != originTS ||
		m1.Checksum != 0xa003e715d620d001 || string(m1.Payload) != "hello" || len(m1.Headers) != 1 ||
		!reflect.DeepEqual(m1.Headers[0], StringHeader("key", "value")) {
		t.Fatalf("message 1: %+v", m1)
	}
	if m2.ID != IDFromUint64(2) || m2.Offset != baseOffset+1 || m2.Timestamp != brokerTS || m2.OriginTimestamp != originTS+1000 ||
		m2.Checksum != 0x5964d51405918887 || string(m2.Payload) != "world" || len(m2.Headers) != 0 {
		t.Fatalf("message 2: %+v", m2)
	}
}

func reply(h ReplyHeader, appendBody func([]byte) []byte) []byte {
	frame := appendBody(make([]byte, HeaderSize))
	FinishReply(frame, h)
	return frame
}

var loginCksum = U128{Lo: 0x8fde203c2a3f8095}
var createStreamCksum = U128{Lo: 0x923711c6113ecfad}

func getStreamVectorDetails() StreamDetails {
	expiry := Header{KeyKind: KindString, Key: []byte("message_expiry"), ValueKind: KindUint64, Value: []byte{0x00, 0xa4, 0x93, 0xd6, 0, 0, 0, 0}}
	return StreamDetails{
		Stream: Stream{ID: 0, CreatedAt: originTS, TopicsCount: 1, Name: "test"},
		Topics: []Topic{{ID: 0, CreatedAt: originTS, PartitionsCount: 1, MessageExpiry: 3_600_000_000, Compression: 1,
			MaxTopicSize: ^uint64(0), Name: "orders", Options: []Header{expiry}}},
	}
}

// pollVectorBody builds the poll reply of spec 6.2 the way the server does: stamp the received
// send batch, then serve it as a record.
func pollVectorBody(t *testing.T, vs []specVector) []byte {
	send := find(t, vs, "SendMessages to partition 0").Frame[HeaderSize:]
	q, err := DecodeSendMessages(send)
	if err != nil {
		t.Fatal(err)
	}
	stored := append([]byte(nil), q.Batch...)
	StampBatch(stored, 0, 0, originTS+5000)
	body := AppendPollReplyHeader(nil, 0, 1, 2)
	spans := FrameSpans(stored, nil)
	return AppendRecordSlice(body, stored[:BatchHeaderSize], stored[spans[0]:spans[len(spans)-1]], uint32(len(spans)-1))
}

// TestGoldenResponsesEncode encodes every reply of spec 6.2 the way the server does.
func TestGoldenResponsesEncode(t *testing.T) {
	vs := loadVectors(t)
	details := getStreamVectorDetails()
	cases := []struct {
		title string
		frame []byte
	}{
		{"Login OK", reply(ReplyHeader{RequestChecksum: loginCksum, Client: testClient, OpNumber: 7, Commit: 7, Operation: OpRegister},
			func(b []byte) []byte {
				return (&LoginReply{UserID: 0, Session: 7, ProtocolVersion: 11264, ServerVersion: "0.9.0"}).Append(AppendResultOK(b))
			})},
		{"Poll reply", reply(ReplyHeader{Client: testClient, OpNumber: 7, Commit: 9, Request: 3, Operation: OpNonReplicated},
			func(b []byte) []byte { return append(b, pollVectorBody(t, vs)...) })},
		{"Error status", reply(ReplyHeader{Client: testClient, Commit: 9, Request: 1, Operation: OpNonReplicated, Status: ErrCodeUnauthenticated},
			func(b []byte) []byte { return b })},
		{"Committed rejection", reply(ReplyHeader{RequestChecksum: createStreamCksum, Client: testClient, OpNumber: 7, Commit: 9, Request: 1, Operation: OpCreateStream},
			func(b []byte) []byte { return AppendResultError(b, ErrCodeStreamNameAlreadyExists) })},
		{"GetStream reply", reply(ReplyHeader{Client: testClient, OpNumber: 7, Commit: 9, Request: 4, Operation: OpNonReplicated}, details.Append)},
		{"Eviction for bad credentials", func() []byte {
			b := make([]byte, HeaderSize)
			(&Eviction{Client: testClient, Reason: EvictInvalidCredentials}).Put(b)
			return b
		}()},
		{"SendMessages reply", reply(ReplyHeader{Client: testClient, OpNumber: 1, Commit: 1, Request: 3, Operation: OpSendMessages},
			func(b []byte) []byte { return AppendSendReply(b, []SendConfirmation{{}}) })},
	}
	for _, c := range cases {
		t.Run(c.title, func(t *testing.T) {
			v := find(t, vs, c.title)
			if v.Dir != "response" {
				t.Fatalf("vector %q is a %s", v.Title, v.Dir)
			}
			diffBytes(t, v.Title, c.frame, v.Frame)
		})
	}
}

// TestGoldenResponsesDecode decodes every reply of spec 6.2 the way the client does.
func TestGoldenResponsesDecode(t *testing.T) {
	vs := loadVectors(t)
	rh := func(t *testing.T, prefix string, op uint8, reqNo uint64, status uint32) []byte {
		v := find(t, vs, prefix)
		if FrameCommand(v.Frame) != CommandReply {
			t.Fatalf("command %d", FrameCommand(v.Frame))
		}
		h, err := DecodeReplyHeader(v.Frame)
		if err != nil {
			t.Fatal(err)
		}
		if h.Client != testClient || h.Operation != op || h.Request != reqNo || h.Status != status || int(h.Size) != len(v.Frame) {
			t.Fatalf("reply header %+v", h)
		}
		return v.Frame[HeaderSize:]
	}
	t.Run("Login OK", func(t *testing.T) {
		body := rh(t, "Login OK", OpRegister, 0, 0)
		code, payload, err := SplitResult(body)
		if err != nil || code != 0 {
			t.Fatal(code, err)
		}
		var p LoginReply
		if err := p.Decode(payload); err != nil || p != (LoginReply{0, 7, 11264, "0.9.0"}) {
			t.Fatalf("%+v %v", p, err)
		}
	})
	t.Run("Poll reply", func(t *testing.T) {
		body := rh(t, "Poll reply", OpNonReplicated, 3, 0)
		p, err := DecodePollReply(body, nil)
		if err != nil || p.PartitionID != 0 || p.CurrentOffset != 1 {
			t.Fatalf("%+v %v", p, err)
		}
		checkVectorMessages(t, p.Messages, 0, originTS+5000)
		info, _ := ReadBatchInfo(body[16:])
		if info.Checksum != 0x0de95c53202d8f12 || BatchChecksum(body[16:]) != info.Checksum {
			t.Fatalf("stored batch checksum %x", info.Checksum)
		}
	})
	t.Run("Error status", func(t *testing.T) {
		if body := rh(t, "Error status", OpNonReplicated, 1, ErrCodeUnauthenticated); len(body) != 0 {
			t.Fatalf("body %x", body)
		}
	})
	t.Run("Committed rejection", func(t *testing.T) {
		code, payload, err := SplitResult(rh(t, "Committed rejection", OpCreateStream, 1, 0))
		if err != nil || code != ErrCodeStreamNameAlreadyExists || len(payload) != 0 {
			t.Fatal(code, payload, err)
		}
	})
	t.Run("GetStream reply", func(t *testing.T) {
		d, err := DecodeStreamDetails(rh(t, "GetStream reply", OpNonReplicated, 4, 0))
		if err != nil {
			t.Fatal(err)
		}
		want := getStreamVectorDetails()
		if !reflect.DeepEqual(d, want) {
			t.Fatalf("got %+v\nwant %+v", d, want)
		}
	})
	t.Run("Eviction", func(t *testing.T) {
		v := find(t, vs, "Eviction for bad credentials")
		if FrameCommand(v.Frame) != CommandEviction {
			t.Fatal("not an eviction")
		}
		e, err := DecodeEviction(v.Frame)
		if err != nil || e != (Eviction{Client: testClient, Reason: EvictInvalidCredentials}) || EvictionErrorCode(e.Reason) != ErrCodeInvalidCredentials {
			t.Fatalf("%+v %v", e, err)
		}
	})
	t.Run("SendMessages reply", func(t *testing.T) {
		cs, err := DecodeSendReply(rh(t, "SendMessages reply", OpSendMessages, 3, 0))
		if err != nil || len(cs) != 1 || cs[0] != (SendConfirmation{}) {
			t.Fatalf("%+v %v", cs, err)
		}
	})
}

func TestChecksumConstants(t *testing.T) {
	if got := BodyChecksum(nil).Lo; got != 0x2d06800538d394c2 {
		t.Fatalf("XXH3-64 of empty body = %x", got)
	}
}

func TestXXH32(t *testing.T) {
	// Reference values from the xxhash reference implementation (python-xxhash).
	cases := []struct {
		in   string
		seed uint32
		want uint32
	}{
		{"", 0, 0x02cc5d05}, {"a", 0, 0x550d7456}, {"abc", 0, 0x32d153ff},
		{"Nobody inspects the spammish repetition", 0, 0xe2293b2f},
		{"orders-key-1234567", 0, 0x45b22e79},
		{"", 1, 0x0b2cb792}, {"a", 1, 0xf514706f}, {"abc", 1, 0xaa3da8ff},
		{"Nobody inspects the spammish repetition", 1, 0x534469ea}, {"orders-key-1234567", 1, 0x237183cd},
	}
	for _, c := range cases {
		if got := XXH32([]byte(c.in), c.seed); got != c.want {
			t.Errorf("XXH32(%q, %d) = %08x, want %08x", c.in, c.seed, got, c.want)
		}
	}
	seq := make([]byte, 100)
	for i := range seq {
		seq[i] = byte(i)
	}
	if got := XXH32(seq, 0); got != 0x7f89ba44 {
		t.Errorf("XXH32(0..99) = %08x, want 7f89ba44", got)
	}
	if got := XXH32(seq, 1); got != 0x858afcd2 {
		t.Errorf("XXH32(0..99, 1) = %08x, want 858afcd2", got)
	}
}
