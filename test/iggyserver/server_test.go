package iggyserver

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy/wire"
)

func testLogger() *slog.Logger {
	if os.Getenv("IGGY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	cfg.Logger = testLogger()
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// raw is a hand-driven protocol connection.
type raw struct {
	t       *testing.T
	nc      net.Conn
	client  wire.U128
	session uint64
	req     uint64
}

var clientC = wire.U128{Lo: 0x0706050403020100, Hi: 0x0f0e0d0c0b0a0908}

func rawDial(t *testing.T, s *Server) *raw {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &raw{t: t, nc: nc, client: clientC, req: 1}
}

func (r *raw) send(code uint32, reqNo, session uint64, body []byte) {
	r.t.Helper()
	frame := append(make([]byte, wire.HeaderSize), body...)
	wire.FinishRequest(frame, code, r.client, reqNo, session)
	r.write(frame)
}

func (r *raw) write(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

// read returns the next frame, or nil when the connection was closed or nothing came within wait.
func (r *raw) read(wait time.Duration) []byte {
	r.nc.SetReadDeadline(time.Now().Add(wait))
	f, err := wire.ReadFrame(r.nc, nil, 0)
	if err != nil {
		return nil
	}
	return f
}

func (r *raw) mustReply(wait time.Duration) (wire.ReplyHeader, []byte) {
	r.t.Helper()
	f := r.read(wait)
	if f == nil {
		r.t.Fatal("no reply")
	}
	if wire.FrameCommand(f) != wire.CommandReply {
		e, _ := wire.DecodeEviction(f)
		r.t.Fatalf("expected a reply, got command %d (eviction reason %d)", wire.FrameCommand(f), e.Reason)
	}
	h, _ := wire.DecodeReplyHeader(f)
	return h, f[wire.HeaderSize:]
}

func (r *raw) login() {
	r.t.Helper()
	body := (&wire.LoginRequest{Version: wire.ClientVersion{Protocol: wire.ProtocolVersion, SDKName: "rust-sdk", SDKVersion: "0.11.0"}, Username: "iggy", Password: "iggy"}).Append(nil)
	r.send(wire.CodeLoginRegister, 0, 0, body)
	h, b := r.mustReply(2 * time.Second)
	code, payload, err := wire.SplitResult(b)
	var lr wire.LoginReply
	if h.Status != 0 || err != nil || code != 0 || lr.Decode(payload) != nil || lr.Session == 0 {
		r.t.Fatalf("login: status %d code %d err %v reply %+v", h.Status, code, err, lr)
	}
	r.session = lr.Session
}

func (r *raw) expectEviction(reason uint8) {
	r.t.Helper()
	f := r.read(2 * time.Second)
	if f == nil || wire.FrameCommand(f) != wire.CommandEviction {
		r.t.Fatalf("expected eviction %d, got %x", reason, f)
	}
	if e, _ := wire.DecodeEviction(f); e.Reason != reason || e.Client != r.client {
		r.t.Fatalf("eviction %+v, want reason %d", e, reason)
	}
	if r.read(time.Second) != nil {
		r.t.Fatal("connection still open after eviction")
	}
}

func (r *raw) expectClosed() {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 1024)
	for {
		_, err := r.nc.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			r.t.Fatal("connection not closed by the server")
		}
		return
	}
}

func (r *raw) expectSilence() {
	r.t.Helper()
	if f := r.read(300 * time.Millisecond); f != nil {
		r.t.Fatalf("expected no reply, got %d bytes", len(f))
	}
}

// stillServes proves the server survived: a fresh client can log in and ping.
func stillServes(t *testing.T, s *Server) {
	t.Helper()
	r := rawDial(t, s)
	r.login()
	r.send(wire.CodePing, 1, r.session, nil)
	if h, _ := r.mustReply(2 * time.Second); h.Status != 0 {
		t.Fatalf("ping status %d", h.Status)
	}
}

func TestBadInputNeverBreaksTheServer(t *testing.T) {
	s := start(t, Config{})
	hdr := func(size uint32, cmd byte) []byte {
		b := make([]byte, wire.HeaderSize)
		binary.LittleEndian.PutUint32(b[48:], size)
		b[60] = cmd
		return b
	}
	t.Run("garbage bytes", func(t *testing.T) {
		for seed := uint64(0); seed < 20; seed++ {
			r := rawDial(t, s)
			g := make([]byte, 2000)
			rng := rand.New(rand.NewPCG(seed, 1))
			for i := range g {
				g[i] = byte(rng.Uint32())
			}
			r.write(g)
			r.nc.Close()
		}
		stillServes(t, s)
	})
	t.Run("size below header", func(t *testing.T) {
		r := rawDial(t, s)
		r.write(hdr(100, wire.CommandRequest))
		r.expectClosed()
	})
	t.Run("oversized frame", func(t *testing.T) {
		r := rawDial(t, s)
		r.write(hdr(wire.MaxFrameSize+1, wire.CommandRequest))
		r.expectClosed()
	})
	t.Run("truncated frame", func(t *testing.T) {
		r := rawDial(t, s)
		r.write(append(hdr(1000, wire.CommandRequest), make([]byte, 100)...))
		r.nc.(*net.TCPConn).CloseWrite()
		r.expectClosed()
		stillServes(t, s)
	})
	t.Run("not a request", func(t *testing.T) {
		r := rawDial(t, s)
		r.write(hdr(wire.HeaderSize, wire.CommandReply))
		r.expectSilence()
		r.send(wire.CodePing, 1, 0, nil)
		if h, _ := r.mustReply(time.Second); h.Status != 0 {
			t.Fatal(h.Status)
		}
	})
	t.Run("client id zero and unknown operation are dropped", func(t *testing.T) {
		r := rawDial(t, s)
		r.client = wire.U128{}
		r.send(wire.CodePing, 1, 0, nil)
		r.expectSilence()
		r.client = clientC
		f := make([]byte, wire.HeaderSize)
		(&wire.RequestHeader{Size: wire.HeaderSize, Client: clientC, Request: 1, Operation: 77}).Put(f)
		r.write(f)
		r.expectSilence()
		r.send(wire.CodePing, 1, 0, nil)
		r.mustReply(time.Second)
	})
	t.Run("reads before login get 40", func(t *testing.T) {
		r := rawDial(t, s)
		r.send(wire.CodePing, 1, 0, nil)
		if h, body := r.mustReply(time.Second); h.Status != 0 || len(body) != 0 || h.Request != 1 || h.Client != clientC {
			t.Fatalf("ping before login: %+v", h)
		}
		r.send(wire.CodeGetStreams, 1, 0, nil)
		if h, body := r.mustReply(time.Second); h.Status != wire.ErrCodeUnauthenticated || len(body) != 0 {
			t.Fatalf("GetStreams before login: status %d", h.Status)
		}
	})
	t.Run("replicated request before login is evicted", func(t *testing.T) {
		r := rawDial(t, s)
		r.send(wire.CodeCreateStream, 1, 0, (&wire.CreateStreamRequest{Name: "x"}).Append(nil))
		r.expectEviction(wire.EvictNoSession)
	})
	t.Run("legacy login", func(t *testing.T) {
		r := rawDial(t, s)
		r.send(wire.CodeLegacyLoginUser, 1, 0, []byte{4, 'i', 'g', 'g', 'y'})
		r.expectEviction(wire.EvictMalformedLogin)
	})
	t.Run("bad credentials", func(t *testing.T) {
		r := rawDial(t, s)
		body := (&wire.LoginRequest{Version: wire.ClientVersion{Protocol: wire.ProtocolVersion, SDKName: "x", SDKVersion: "1"}, Username: "iggy", Password: "nope"}).Append(nil)
		r.send(wire.CodeLoginRegister, 0, 0, body)
		r.expectEviction(wire.EvictInvalidCredentials)
	})
	t.Run("bad token", func(t *testing.T) {
		r := rawDial(t, s)
		body := (&wire.PATLoginRequest{Version: wire.ClientVersion{Protocol: wire.ProtocolVersion, SDKName: "x", SDKVersion: "1"}, Token: "nope"}).Append(nil)
		r.send(wire.CodeLoginRegisterWithPAT, 0, 0, body)
		r.expectEviction(wire.EvictInvalidToken)
	})
	t.Run("malformed login", func(t *testing.T) {
		r := rawDial(t, s)
		r.send(wire.CodeLoginRegister, 0, 0, []byte{1, 2, 3})
		r.expectEviction(wire.EvictMalformedLogin)
	})
	t.Run("incompatible protocol", func(t *testing.T) {
		r := rawDial(t, s)
		body := (&wire.LoginRequest{Version: wire.ClientVersion{Protocol: wire.PackVersion(0, 10, 0), SDKName: "x", SDKVersion: "1"}, Username: "iggy", Password: "iggy"}).Append(nil)
		r.send(wire.CodeLoginRegister, 0, 0, body)
		f := r.read(time.Second)
		if e, _ := wire.DecodeEviction(f); f == nil || e.Reason != wire.EvictIncompatibleProtocol || e.ServerProtocol != wire.ProtocolVersion {
			t.Fatalf("eviction %+v", e)
		}
	})
	t.Run("after login", func(t *testing.T) {
		r := rawDial(t, s)
		r.login()
		r.send(9999, 1, r.session, nil)
		if h, _ := r.mustReply(time.Second); h.Status != wire.ErrCodeInvalidCommand {
			t.Fatalf("unknown code: status %d", h.Status)
		}
		for _, code := range []uint32{wire.CodeGetStream, wire.CodeGetTopic, wire.CodePollMessages, wire.CodeGetConsumerOffset, wire.CodeSyncConsumerGroup} {
			r.send(code, 1, r.session, []byte{9, 9, 9})
			if h, _ := r.mustReply(time.Second); h.Status != wire.ErrCodeInvalidCommand {
				t.Fatalf("garbage body for %d: status %d", code, h.Status)
			}
		}
		// Metadata op with a body that does not decode.
		r.send(wire.CodeCreateTopic, 1, r.session, []byte{2, 0})
		if h, _ := r.mustReply(time.Second); h.Status != wire.ErrCodeInvalidCommand {
			t.Fatalf("garbage create topic: status %d", h.Status)
		}
		// Checksum mismatch.
		frame := append(make([]byte, wire.HeaderSize), (&wire.CreateStreamRequest{Name: "cs"}).Append(nil)...)
		wire.FinishRequest(frame, wire.CodeCreateStream, r.client, 2, r.session)
		frame[144] ^= 0xff
		r.write(frame)
		if h, _ := r.mustReply(time.Second); h.Status != wire.ErrCodeInvalidFormat {
			t.Fatalf("bad checksum: status %d", h.Status)
		}
		// A corrupted message checksum is refused with 4027, a corrupted batch checksum with 4039.
		r.send(wire.CodeCreateStream, 3, r.session, (&wire.CreateStreamRequest{Name: "s"}).Append(nil))
		r.mustReply(time.Second)
		r.send(wire.CodeCreateTopic, 4, r.session, (&wire.CreateTopicRequest{Stream: wire.NamedID("s"), Partitions: 1, Name: "t"}).Append(nil))
		r.mustReply(time.Second)
		msgs := []wire.Message{{Payload: []byte("hello"), OriginTimestamp: 1}}
		body, _ := wire.AppendSendMessages(nil, wire.NamedID("s"), wire.NamedID("t"), wire.PartitionID(0), msgs)
		bad := bytes.Clone(body)
		bad[len(bad)-1] ^= 1 // payload byte
		r.send(wire.CodeSendMessages, 5, r.session, bad)
		if h, _ := r.mustReply(time.Second); h.Status != wire.ErrCodeInvalidMessageChecksum {
			t.Fatalf("corrupt message: status %d", h.Status)
		}
		bad = bytes.Clone(body)
		bad[4+16+40] ^= 1 // batch checksum (metadata block is 4+16 bytes)
		r.send(wire.CodeSendMessages, 5, r.session, bad)
		if h, _ := r.mustReply(time.Second); h.Status != wire.ErrCodeInvalidBatchChecksum {
			t.Fatalf("corrupt batch: status %d", h.Status)
		}
		r.send(wire.CodeSendMessages, 5, r.session, body[:len(body)-3])
		if h, _ := r.mustReply(time.Second); h.Status == 0 {
			t.Fatal("truncated batch accepted")
		}
		r.send(wire.CodeSendMessages, 5, r.session, body)
		if h, _ := r.mustReply(time.Second); h.Status != 0 {
			t.Fatalf("good send: status %d", h.Status)
		}
	})
	t.Run("fuzzed bodies after login", func(t *testing.T) {
		r := rawDial(t, s)
		r.login()
		rng := rand.New(rand.NewPCG(7, 7))
		codes := []uint32{wire.CodeGetStream, wire.CodeCreateStream, wire.CodeCreateTopic, wire.CodeSendMessages, wire.CodePollMessages,
			wire.CodeStoreConsumerOffset, wire.CodeJoinConsumerGroup, wire.CodeCreateConsumerGroup, wire.CodeSyncConsumerGroup, wire.CodeGetMe,
			wire.CodeCreatePartitions, wire.CodeDeleteStream, wire.CodeCreatePAT, wire.CodeGetConsumerOffset}
		reqNo := uint64(1)
		for i := 0; i < 2000; i++ {
			body := make([]byte, rng.IntN(64))
			for j := range body {
				body[j] = byte(rng.Uint32() % 8)
			}
			code := codes[rng.IntN(len(codes))]
			if wire.ConsumesRequestNumber(wire.OperationFor(code)) {
				reqNo++
			}
			r.send(code, reqNo, r.session, body)
			if f := r.read(2 * time.Second); f == nil || wire.FrameCommand(f) != wire.CommandReply {
				t.Fatalf("request %d (code %d, body %x): no reply", i, code, body)
			}
		}
	})
	stillServes(t, s)
}
