package iggy

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy/wire"
	"github.com/iggy-go/connectors/runtime/iggy/wire/wiretest"
)

// scriptedServer answers each request frame with the next reply of a script and records what
// the client sent.
type scriptedServer struct {
	ln      net.Listener
	frames  chan []byte
	replies chan []byte
}

func newScriptedServer(t *testing.T) *scriptedServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptedServer{ln: ln, frames: make(chan []byte, 16), replies: make(chan []byte, 16)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				for {
					f, err := wire.ReadFrame(nc, nil, 0)
					if err != nil {
						return
					}
					s.frames <- f
					r, ok := <-s.replies
					if !ok || r == nil {
						return
					}
					nc.Write(r)
				}
			}()
		}
	}()
	return s
}

func vector(t *testing.T, dir, prefix string) []byte {
	t.Helper()
	vs, err := wiretest.Vectors()
	if err != nil {
		t.Fatal(err)
	}
	v, ok := wiretest.Find(vs, dir, prefix)
	if !ok {
		t.Fatalf("no %s vector %q", dir, prefix)
	}
	return bytes.Clone(v.Frame)
}

func withRequest(frame []byte, req uint64) []byte {
	binary.LittleEndian.PutUint64(frame[200:], req)
	return frame
}

func okReply(op uint8, req uint64, payload []byte) []byte {
	f := append(wire.AppendResultOK(make([]byte, wire.HeaderSize)), payload...)
	wire.FinishReply(f, wire.ReplyHeader{Client: wire.U128{Lo: wiretest.ClientLo, Hi: wiretest.ClientHi}, Request: req, Operation: op})
	return f
}

// expectFrame compares a client frame with a spec vector; maskRequest ignores the request number
// (where the client follows the official 0.9.0 client's numbering, see docs/iggy-protocol-notes.md)
// and checks it equals wantReq instead.
func expectFrame(t *testing.T, got, want []byte, wantReq uint64) {
	t.Helper()
	if r := binary.LittleEndian.Uint64(got[168:]); r != wantReq {
		t.Fatalf("request number %d, want %d", r, wantReq)
	}
	g, w := bytes.Clone(got), bytes.Clone(want)
	clear(g[168:176])
	clear(w[168:176])
	if !bytes.Equal(g, w) {
		for i := range min(len(g), len(w)) {
			if g[i] != w[i] {
				t.Fatalf("frame differs from the spec vector at byte %d: got %02x want %02x (lengths %d/%d)", i, g[i], w[i], len(g), len(w))
			}
		}
		t.Fatalf("frame length %d, want %d", len(g), len(w))
	}
}

// TestClientGolden drives the real client against scripted replies taken from the spec vectors:
// every request it encodes is compared with spec 6.1 and every spec 6.2 reply is decoded by it.
func TestClientGolden(t *testing.T) {
	old := newClientID
	newClientID = func() wire.U128 { return wire.U128{Lo: wiretest.ClientLo, Hi: wiretest.ClientHi} }
	t.Cleanup(func() { newClientID = old })
	srv := newScriptedServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	// Login: the vector's body carries sdk "rust-sdk"; ours names this client. Compare fields.
	srv.replies <- vector(t, "response", "Login OK")
	c, err := Dial(ctx, Config{Address: srv.ln.Addr().String(), Username: "iggy", Password: "iggy", HeartbeatInterval: -1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { close(srv.replies); c.Close() }()
	login := <-srv.frames
	want := vector(t, "request", "LoginRegister")
	var gl, wl wire.LoginRequest
	if err := gl.Decode(login[256:]); err != nil {
		t.Fatal(err)
	}
	wl.Decode(want[256:])
	if gl.Version.Protocol != wl.Version.Protocol || gl.Username != wl.Username || gl.Password != wl.Password || len(gl.Context) != 0 {
		t.Fatalf("login body %+v, want %+v", gl, wl)
	}
	gh, wh := bytes.Clone(login[:256]), bytes.Clone(want[:256])
	clear(gh[144:160]) // request checksum covers the (different) sdk name
	clear(wh[144:160])
	clear(gh[48:52])
	clear(wh[48:52])
	if !bytes.Equal(gh, wh) {
		t.Fatal("login header differs from the spec vector")
	}
	if binary.LittleEndian.Uint64(login[144:]) != wire.BodyChecksum(login[256:]).Lo {
		t.Fatal("login request checksum is not XXH3 of the body")
	}

	test, orders := NamedID("test"), NamedID("orders")
	// CreateStream: byte-identical; the committed rejection decodes to ErrAlreadyExists (1012).
	srv.replies <- vector(t, "response", "Committed rejection")
	_, err = c.CreateStream(ctx, "test")
	expectFrame(t, <-srv.frames, vector(t, "request", `CreateStream "test"`), 1)
	if code, _ := ErrorCode(err); !errors.Is(err, ErrAlreadyExists) || code != 1012 {
		t.Fatalf("CreateStream: %v", err)
	}

	// CreateTopic with message_expiry 1 h: byte-identical.
	srv.replies <- okReply(wire.OpCreateTopic, 2, (&wire.TopicDetails{Topic: wire.Topic{Name: "orders", PartitionsCount: 1}}).Append(nil))
	td, err := c.CreateTopic(ctx, test, "orders", 1, []Header{ExpiryOption(time.Hour)})
	expectFrame(t, <-srv.frames, vector(t, "request", "CreateTopic"), 2)
	if err != nil || td.Name != "orders" {
		t.Fatalf("CreateTopic: %+v %v", td, err)
	}

	// SendMessages: byte-identical (ids, timestamps, header, checksums); the reply decodes.
	srv.replies <- vector(t, "response", "SendMessages reply")
	msgs := []Message{
		{ID: IDFromUint64(1), OriginTimestamp: wiretest.OriginTimestamp, Payload: []byte("hello"), Headers: []Header{StringHeader("key", "value")}},
		{ID: IDFromUint64(2), OriginTimestamp: wiretest.OriginTimestamp + 1000, Payload: []byte("world")},
	}
	conf, err := c.SendMessages(ctx, test, orders, PartitionID(0), msgs)
	expectFrame(t, <-srv.frames, vector(t, "request", "SendMessages to partition 0"), 3)
	if err != nil || len(conf) != 1 || conf[0] != (SendConfirmation{}) {
		t.Fatalf("SendMessages: %+v %v", conf, err)
	}

	// PollMessages: identical except the request number (the send consumed one).
	srv.replies <- withRequest(vector(t, "response", "Poll reply"), 4)
	res, err := c.PollMessages(ctx, test, orders, SingleConsumer(1), Part(0), StrategyOffset(0), 10, false)
	expectFrame(t, <-srv.frames, vector(t, "request", "PollMessages"), 4)
	if err != nil || res.CurrentOffset != 1 || len(res.Messages) != 2 {
		t.Fatalf("PollMessages: %+v %v", res, err)
	}
	m1, m2 := res.Messages[0], res.Messages[1]
	if m1.ID != IDFromUint64(1) || m1.Offset != 0 || m1.Timestamp != wiretest.OriginTimestamp+5000 || m1.OriginTimestamp != wiretest.OriginTimestamp ||
		string(m1.Payload) != "hello" || len(m1.Headers) != 1 || string(m1.Headers[0].Key) != "key" || string(m1.Headers[0].Value) != "value" ||
		m1.Checksum != 0xa003e715d620d001 {
		t.Fatalf("message 1 %+v", m1)
	}
	if m2.ID != IDFromUint64(2) || m2.Offset != 1 || m2.OriginTimestamp != wiretest.OriginTimestamp+1000 || string(m2.Payload) != "world" || m2.Checksum != 0x5964d51405918887 {
		t.Fatalf("message 2 %+v", m2)
	}

	srv.replies <- okReply(wire.OpStoreConsumerOffset, 4, nil)
	err = c.StoreConsumerOffset(ctx, SingleConsumer(1), test, orders, Part(0), 1)
	expectFrame(t, <-srv.frames, vector(t, "request", "StoreConsumerOffset"), 4)
	if err != nil {
		t.Fatal(err)
	}

	// Join: the request checksum is part of the vector, so only the number differs.
	srv.replies <- okReply(wire.OpJoinConsumerGroup, 5, nil)
	err = c.JoinConsumerGroup(ctx, test, orders, NamedID("workers"))
	expectFrame(t, <-srv.frames, vector(t, "request", "JoinConsumerGroup"), 5)
	if err != nil {
		t.Fatal(err)
	}

	srv.replies <- withRequest(vector(t, "response", "GetStream reply"), 6)
	sd, err := c.GetStream(ctx, test)
	expectFrame(t, <-srv.frames, vector(t, "request", `GetStream "test"`), 6)
	if err != nil || sd.Name != "test" || len(sd.Topics) != 1 || sd.Topics[0].Name != "orders" || sd.Topics[0].MessageExpiry != 3_600_000_000 ||
		len(sd.Topics[0].Options) != 1 || string(sd.Topics[0].Options[0].Key) != "message_expiry" {
		t.Fatalf("GetStream: %+v %v", sd, err)
	}

	// Error status 40 maps to ErrUnauthenticated.
	srv.replies <- withRequest(vector(t, "response", "Error status"), 6)
	_, err = c.GetStreams(ctx)
	<-srv.frames
	if !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("status 40: %v", err)
	}
}

// TestClientGoldenEviction: the bad-credentials eviction vector fails Dial with ErrUnauthenticated.
func TestClientGoldenEviction(t *testing.T) {
	srv := newScriptedServer(t)
	srv.replies <- vector(t, "response", "Eviction for bad credentials")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Dial(ctx, Config{Address: srv.ln.Addr().String(), Username: "iggy", Password: "bad", HeartbeatInterval: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	<-srv.frames
	var ev *EvictedError
	if !errors.Is(err, ErrUnauthenticated) || !errors.As(err, &ev) || ev.Reason != wire.EvictInvalidCredentials || IsRetryable(err) {
		t.Fatalf("Dial with bad credentials: %v", err)
	}
	close(srv.replies)
}
