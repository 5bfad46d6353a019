package iggyserver

import (
	"net"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy/wire"
)

// FuzzServerRequests sends well-framed requests with arbitrary bodies, for every command code,
// to a logged-in connection of a real server. Every request must be answered (status, result
// section or eviction) and no handler may panic.
func FuzzServerRequests(f *testing.F) {
	test, orders := wire.NamedID("test"), wire.NamedID("orders")
	send, _ := wire.AppendSendMessages(nil, test, orders, wire.PartitionID(0), []wire.Message{{Payload: []byte("x"), OriginTimestamp: 1,
		Headers: []wire.Header{wire.StringHeader("k", "v")}}})
	seeds := []struct {
		code uint32
		body []byte
	}{
		{wire.CodePing, nil}, {wire.CodeGetStats, nil}, {wire.CodeGetMe, nil}, {wire.CodeGetClusterMetadata, nil},
		{wire.CodeCreateStream, (&wire.CreateStreamRequest{Name: "test"}).Append(nil)},
		{wire.CodeCreateTopic, (&wire.CreateTopicRequest{Stream: test, Partitions: 2, Name: "orders"}).Append(nil)},
		{wire.CodeSendMessages, send},
		{wire.CodePollMessages, (&wire.PollMessagesRequest{Consumer: wire.Consumer{Kind: wire.ConsumerKindSingle, ID: wire.NumericID(1)},
			Stream: test, Topic: orders, Partition: wire.Part(0), Strategy: wire.StrategyFirst(), Count: 10}).Append(nil)},
		{wire.CodePollMessages, (&wire.PollMessagesRequest{Consumer: wire.Consumer{Kind: wire.ConsumerKindGroup, ID: wire.NamedID("g")},
			Stream: test, Topic: orders, Partition: wire.Part(1), Strategy: wire.StrategyNext(), Count: 10, AutoCommit: true}).Append(nil)},
		{wire.CodeStoreConsumerOffset, (&wire.ConsumerOffsetRequest{Consumer: wire.Consumer{Kind: wire.ConsumerKindSingle, ID: wire.NumericID(1)},
			Stream: test, Topic: orders, Partition: wire.Part(0), Offset: 0, Ack: 1}).AppendStore(nil)},
		{wire.CodeGetConsumerOffset, (&wire.ConsumerOffsetRequest{Consumer: wire.Consumer{Kind: wire.ConsumerKindSingle, ID: wire.NumericID(1)},
			Stream: test, Topic: orders, Partition: wire.Part(0)}).AppendGet(nil)},
		{wire.CodeCreateConsumerGroup, (&wire.CreateGroupRequest{Stream: test, Topic: orders, Name: "g"}).Append(nil)},
		{wire.CodeJoinConsumerGroup, (&wire.GroupRef{Stream: test, Topic: orders, Group: wire.NamedID("g")}).Append(nil)},
		{wire.CodeSyncConsumerGroup, (&wire.GroupRef{Stream: test, Topic: orders, Group: wire.NamedID("g")}).Append(nil)},
		{wire.CodeGetConsumerGroup, (&wire.GroupRef{Stream: test, Topic: orders, Group: wire.NumericID(0)}).Append(nil)},
		{wire.CodeLeaveConsumerGroup, (&wire.GroupRef{Stream: test, Topic: orders, Group: wire.NamedID("g")}).Append(nil)},
		{wire.CodeCreatePartitions, (&wire.PartitionsRequest{Stream: test, Topic: orders, Count: 1}).Append(nil)},
		{wire.CodeDeletePartitions, (&wire.PartitionsRequest{Stream: test, Topic: orders, Count: 1}).Append(nil)},
		{wire.CodeGetTopic, (&wire.TopicRef{Stream: test, Topic: orders}).Append(nil)},
		{wire.CodeGetStream, (&wire.StreamRef{Stream: test}).Append(nil)},
		{wire.CodeCreatePAT, (&wire.CreatePATRequest{Name: "tok"}).Append(nil)},
		{wire.CodeDeleteTopic, (&wire.TopicRef{Stream: test, Topic: orders}).Append(nil)},
		{wire.CodeDeleteStream, (&wire.StreamRef{Stream: test}).Append(nil)},
	}
	for _, s := range seeds {
		f.Add(uint16(s.code), s.body)
	}
	s, err := Start(Config{Addr: "127.0.0.1:0", Logger: testLogger()})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	var nc net.Conn
	var session, reqNo uint64
	connect := func(t *testing.T) {
		if nc != nil {
			nc.Close()
		}
		if nc, err = net.Dial("tcp", s.Addr().String()); err != nil {
			t.Fatal(err)
		}
		r := &raw{t: t, nc: nc, client: clientC}
		r.login()
		session, reqNo = r.session, 1
	}
	f.Fuzz(func(t *testing.T, code16 uint16, body []byte) {
		if nc == nil {
			connect(t)
		}
		code := uint32(code16)
		if code == wire.CodeLoginRegister || code == wire.CodeLoginRegisterWithPAT || code == wire.CodeLogoutUser {
			code = wire.CodePing // session control is covered by the unit tests
		}
		if wire.ConsumesRequestNumber(wire.OperationFor(code)) || wire.IsPartitionOp(wire.OperationFor(code)) {
			reqNo++
		}
		frame := append(make([]byte, wire.HeaderSize), body...)
		wire.FinishRequest(frame, code, clientC, reqNo, session)
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Write(frame); err != nil {
			t.Fatalf("write: %v", err)
		}
		reply, err := wire.ReadFrame(nc, nil, 0)
		if err != nil {
			t.Fatalf("code %d body %x: no reply: %v", code, body, err)
		}
		if wire.FrameCommand(reply) == wire.CommandEviction {
			connect(t) // legacy login codes end the session by design
		}
		if n := s.panics.Load(); n != 0 {
			t.Fatalf("server recovered from %d panics (code %d body %x)", n, code, body)
		}
	})
}
