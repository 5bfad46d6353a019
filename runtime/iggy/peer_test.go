package iggy_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/runtime/iggy/wire"
)

// peer is a scripted Iggy endpoint for behaviours of the real Apache Iggy server (0.9.0-edge.5)
// that iggy-devserver does not reproduce: it answers each request frame with what answer returns,
// byte for byte as the real server's source builds it (core/metadata, core/server/src/dispatch.rs).
// Logins are answered like the real server unless answer handles them.
type peer struct {
	ln     net.Listener
	answer func(h wire.RequestHeader, body []byte) []byte // nil: default
	mu     sync.Mutex
	seen   []wire.RequestHeader
	bodies [][]byte
}

func startPeer(t *testing.T, answer func(h wire.RequestHeader, body []byte) []byte) *peer {
	t.Helper()
	p := &peer{answer: answer}
	p.ln = serveTCP(t, p.serve)
	return p
}

// serveTCP listens on a free loopback port until the test ends and runs serve for each connection
// in its own goroutine.
func serveTCP(t *testing.T, serve func(net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(nc)
		}
	}()
	return ln
}

func (p *peer) addr() string { return p.ln.Addr().String() }

func (p *peer) serve(nc net.Conn) {
	defer nc.Close()
	for {
		frame, err := wire.ReadFrame(nc, nil, wire.MaxFrameSize)
		if err != nil {
			return
		}
		h, _ := wire.DecodeRequestHeader(frame)
		body := bytes.Clone(frame[wire.HeaderSize:])
		p.mu.Lock()
		p.seen = append(p.seen, h)
		p.bodies = append(p.bodies, body)
		p.mu.Unlock()
		var out []byte
		if p.answer != nil {
			out = p.answer(h, body)
		}
		if out == nil {
			out = defaultAnswer(h)
		}
		if _, err := nc.Write(out); err != nil {
			return
		}
	}
}

// reply builds a reply frame to h with operation op, header status and body.
func reply(h wire.RequestHeader, op uint8, status uint32, body []byte) []byte {
	frame := append(make([]byte, wire.HeaderSize), body...)
	wire.FinishReply(frame, wire.ReplyHeader{Client: h.Client, Request: h.Request, Operation: op, Status: status, OpNumber: 1, Commit: 1})
	return frame
}

func evict(h wire.RequestHeader, e wire.Eviction) []byte {
	frame := make([]byte, wire.HeaderSize)
	e.Client = h.Client
	e.Put(frame)
	return frame
}

func defaultAnswer(h wire.RequestHeader) []byte {
	switch {
	case h.Operation == wire.OpRegister:
		return reply(h, wire.OpRegister, 0, (&wire.LoginReply{UserID: 0, Session: 1, ProtocolVersion: wire.ProtocolVersion,
			ServerVersion: "0.9.0-edge.5"}).Append(wire.AppendResultOK(nil)))
	case wire.IsResultFramed(h.Operation):
		return reply(h, h.Operation, 0, wire.AppendResultOK(nil))
	}
	return reply(h, h.Operation, 0, nil)
}

func peerClient(t *testing.T, addr string, log *slog.Logger, mod ...func(*iggy.Config)) (*iggy.Client, error) {
	t.Helper()
	if log == nil {
		log = quietLogger()
	}
	cfg := iggy.Config{Address: addr, Username: "bob", Password: "secret", Logger: log, HeartbeatInterval: -1,
		Reconnect: iggy.ReconnectConfig{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond}}
	for _, m := range mod {
		m(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := iggy.Dial(ctx, cfg)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func topicDetails(name string, partitions uint32) []byte {
	d := wire.TopicDetails{Topic: wire.Topic{ID: 0, Name: name, PartitionsCount: partitions}}
	for i := uint32(0); i < partitions; i++ {
		d.Partitions = append(d.Partitions, wire.Partition{ID: i})
	}
	return d.Append(wire.AppendResultOK(nil))
}

// The real server rewrites CreateTopic into its internal CreateTopicWithAssignments (operation 64)
// before replicating it and answers with that operation (core/metadata/src/impls/metadata.rs);
// CreatePartitions likewise answers with 65. Such a reply answers the request.
func TestRealServerReplyOperationsForCreateTopic(t *testing.T) {
	p := startPeer(t, func(h wire.RequestHeader, body []byte) []byte {
		switch h.Operation {
		case wire.OpCreateTopic:
			return reply(h, wire.OpCreateTopicWithAssignments, 0, topicDetails("t", 3))
		case wire.OpCreatePartitions:
			return reply(h, wire.OpCreatePartitionsWithAssignments, 0, wire.AppendResultOK(nil))
		}
		return nil
	})
	c, err := peerClient(t, p.addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	td, err := c.CreateTopic(ctx, iggy.NamedID("s"), "t", 3, nil)
	if err != nil {
		t.Fatalf("CreateTopic answered with operation 64: %v", err)
	}
	if td.Name != "t" || len(td.Partitions) != 3 {
		t.Fatalf("topic %+v", td)
	}
	if err := c.CreatePartitions(ctx, iggy.NamedID("s"), iggy.NamedID("t"), 2); err != nil {
		t.Fatalf("CreatePartitions answered with operation 65: %v", err)
	}
	if c.Reconnects() != 0 || !c.Connected() {
		t.Fatalf("connection dropped: reconnects %d connected %v", c.Reconnects(), c.Connected())
	}
	// A rejection under the internal operation is read from its result section.
	p.answer = func(h wire.RequestHeader, body []byte) []byte {
		if h.Operation == wire.OpCreateTopic {
			return reply(h, wire.OpCreateTopicWithAssignments, 0, wire.AppendResultError(nil, wire.ErrCodeTopicNameAlreadyExists))
		}
		return nil
	}
	if _, err := c.CreateTopic(ctx, iggy.NamedID("s"), "t", 3, nil); !errors.Is(err, iggy.ErrAlreadyExists) {
		t.Fatalf("rejection under operation 64: %v", err)
	}
}

// A reply to another operation is never read as this one's: the error says what it carried.
func TestMismatchedReplyIsReportedWithItsResult(t *testing.T) {
	p := startPeer(t, func(h wire.RequestHeader, body []byte) []byte {
		if h.Operation == wire.OpCreateTopic {
			return reply(h, wire.OpDeleteStream, 0, wire.AppendResultError(nil, wire.ErrCodeStreamIDNotFound))
		}
		return nil
	})
	c, err := peerClient(t, p.addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateTopic(testCtx(t), iggy.NamedID("s"), "t", 1, nil)
	var ue *iggy.UnexpectedReplyError
	if !errors.As(err, &ue) || !errors.Is(err, iggy.ErrTransport) {
		t.Fatalf("mismatched reply: %v", err)
	}
	if ue.GotOp != wire.OpDeleteStream || ue.WantOp != wire.OpCreateTopic || ue.Result != wire.ErrCodeStreamIDNotFound ||
		!strings.Contains(err.Error(), "StreamIdNotFound (code 1009)") {
		t.Fatalf("error does not carry the reply's result: %v (%+v)", err, ue)
	}
	if c.Connected() {
		t.Fatal("connection kept after a mismatched reply")
	}
}

// Only the options the caller set are sent; a server that refuses an option key (4041, as the real
// server does for durability and consumer_offset_durability) gets the topic created without the
// optional ones, and the client says so once.
func TestCreateTopicRetriesWithoutOptionalOptions(t *testing.T) {
	p := startPeer(t, func(h wire.RequestHeader, body []byte) []byte {
		if h.Operation != wire.OpCreateTopic {
			return nil
		}
		var q wire.CreateTopicRequest
		if err := q.Decode(body); err != nil {
			return reply(h, h.Operation, 0, wire.AppendResultError(nil, wire.ErrCodeInvalidFormat))
		}
		for _, o := range q.Options {
			if wire.OptionalTopicOptionKeys[string(o.Key)] || string(o.Key) == "bogus" {
				return reply(h, wire.OpCreateTopicWithAssignments, 0, wire.AppendResultError(nil, wire.ErrCodeUnsupportedOptionKey))
			}
		}
		return reply(h, wire.OpCreateTopicWithAssignments, 0, topicDetails(q.Name, q.Partitions))
	})
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, nil))
	c, err := peerClient(t, p.addr(), log)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	if _, err := c.CreateTopic(ctx, iggy.NamedID("s"), "plain", 1, nil); err != nil {
		t.Fatal(err)
	}
	opts := []iggy.Header{iggy.ExpiryOption(time.Hour), wire.Uint64Header("durability", 1), wire.Uint64Header("consumer_offset_durability", 1)}
	for _, name := range []string{"a", "b"} {
		if _, err := c.CreateTopic(ctx, iggy.NamedID("s"), name, 2, opts); err != nil {
			t.Fatalf("create %s with optional options: %v", name, err)
		}
	}
	p.mu.Lock()
	var keys [][]string
	for i, h := range p.seen {
		if h.Operation != wire.OpCreateTopic {
			continue
		}
		var q wire.CreateTopicRequest
		q.Decode(p.bodies[i])
		var ks []string
		for _, o := range q.Options {
			ks = append(ks, string(o.Key))
		}
		keys = append(keys, ks)
	}
	p.mu.Unlock()
	want := [][]string{nil, {"message_expiry", "durability", "consumer_offset_durability"}, {"message_expiry"},
		{"message_expiry", "durability", "consumer_offset_durability"}, {"message_expiry"}}
	if len(keys) != len(want) {
		t.Fatalf("CreateTopic requests carried options %q, want %q", keys, want)
	}
	for i := range want {
		if strings.Join(keys[i], ",") != strings.Join(want[i], ",") {
			t.Fatalf("request %d carried options %q, want %q", i, keys[i], want[i])
		}
	}
	logMu.Lock()
	n := strings.Count(logs.String(), "refuses optional topic options")
	logMu.Unlock()
	if n != 1 {
		t.Fatalf("the option fallback was logged %d times, want once:\n%s", n, logs.String())
	}
	// A refused key that is not optional is an error naming the keys sent.
	_, err = c.CreateTopic(ctx, iggy.NamedID("s"), "c", 1, []iggy.Header{wire.Uint64Header("bogus", 1)})
	if code, _ := iggy.ErrorCode(err); code != wire.ErrCodeUnsupportedOptionKey || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("refused mandatory option: %v", err)
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// The login handshake's version window: a server of another protocol minor evicts the login with
// reason 14 and its window (EvictionHeader bytes 144, 148); the error names both versions and is
// permanent (no reconnect loop).
func TestLoginProtocolWindowNamesBothVersions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		min, max uint32
		want     string
	}{
		{"newer server", wire.PackVersion(0, 12, 0), wire.PackVersion(0, 12, 3), "the server accepts 0.12.0 up to 0.12.x"},
		{"older server", wire.PackVersion(0, 10, 0), wire.PackVersion(0, 10, 1), "the server accepts 0.10.0 up to 0.10.x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startPeer(t, func(h wire.RequestHeader, body []byte) []byte {
				if h.Operation == wire.OpRegister {
					return evict(h, wire.Eviction{Reason: wire.EvictIncompatibleProtocol, ServerProtocol: tc.max, ServerProtocolMin: tc.min})
				}
				return nil
			})
			start := time.Now()
			_, err := peerClient(t, p.addr(), nil)
			var le *iggy.LoginError
			var ee *iggy.EvictedError
			if !errors.As(err, &le) || !errors.As(err, &ee) || ee.Reason != wire.EvictIncompatibleProtocol {
				t.Fatalf("login error: %v", err)
			}
			if !strings.Contains(err.Error(), "this client speaks protocol 0.11.0") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error does not name both versions: %v", err)
			}
			if iggy.IsRetryable(err) || time.Since(start) > 2*time.Second {
				t.Fatalf("incompatible protocol retried (%v, took %v)", err, time.Since(start))
			}
			p.mu.Lock()
			logins := len(p.seen)
			p.mu.Unlock()
			if logins != 1 {
				t.Fatalf("%d login attempts, want 1", logins)
			}
		})
	}
}

// Evictions at login name their reason; bad credentials name the user.
func TestLoginEvictionsAreTyped(t *testing.T) {
	for _, tc := range []struct {
		reason uint8
		token  bool
		want   string
		unauth bool
	}{
		{wire.EvictInvalidCredentials, false, `iggy: login failed: invalid credentials for user "bob"`, true},
		{wire.EvictInvalidToken, true, "iggy: login failed: invalid or expired personal access token", true},
		{wire.EvictMalformedLogin, false, "malformed login", false},
	} {
		p := startPeer(t, func(h wire.RequestHeader, body []byte) []byte {
			if h.Operation == wire.OpRegister {
				return evict(h, wire.Eviction{Reason: tc.reason})
			}
			return nil
		})
		_, err := peerClient(t, p.addr(), nil, func(c *iggy.Config) {
			if tc.token {
				c.Token = "tok"
			}
		})
		var le *iggy.LoginError
		if !errors.As(err, &le) || !strings.Contains(err.Error(), tc.want) || errors.Is(err, iggy.ErrUnauthenticated) != tc.unauth || iggy.IsRetryable(err) {
			t.Fatalf("reason %d: %v", tc.reason, err)
		}
	}
}

// The real server answers a metadata operation its consensus did not commit with result 57
// (TransientNotCommitted; nothing happened): the client replays it, as the official SDK does.
func TestTransientResultIsReplayed(t *testing.T) {
	var creates atomic.Int32
	p := startPeer(t, func(h wire.RequestHeader, body []byte) []byte {
		if h.Operation == wire.OpCreateTopic && creates.Add(1) < 3 {
			return reply(h, wire.OpCreateTopicWithAssignments, 0, wire.AppendResultError(nil, wire.ErrCodeTransientNotCommitted))
		}
		if h.Operation == wire.OpCreateTopic {
			return reply(h, wire.OpCreateTopicWithAssignments, 0, topicDetails("t", 1))
		}
		return nil
	})
	c, err := peerClient(t, p.addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTopic(testCtx(t), iggy.NamedID("s"), "t", 1, nil); err != nil || creates.Load() != 3 {
		t.Fatalf("CreateTopic after two transient results: %v (%d requests)", err, creates.Load())
	}
}

// JoinConsumerGroup (which also reports the connection its membership belongs to) replays a
// transient result like every other call: found against the real server, where a join right
// after the group's creation was answered 57 and a sink counted it as a poll error.
func TestTransientJoinIsReplayed(t *testing.T) {
	var joins atomic.Int32
	p := startPeer(t, func(h wire.RequestHeader, body []byte) []byte {
		if h.Operation != wire.OpJoinConsumerGroup {
			return nil
		}
		if joins.Add(1) < 3 {
			return reply(h, wire.OpJoinConsumerGroup, 0, wire.AppendResultError(nil, wire.ErrCodeTransientNotCommitted))
		}
		return reply(h, wire.OpJoinConsumerGroup, 0, wire.AppendResultOK(nil))
	})
	c, err := peerClient(t, p.addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.JoinConsumerGroup(testCtx(t), iggy.NamedID("s"), iggy.NamedID("t"), iggy.NamedID("g")); err != nil || joins.Load() != 3 {
		t.Fatalf("JoinConsumerGroup after two transient results: %v (%d requests)", err, joins.Load())
	}
}
