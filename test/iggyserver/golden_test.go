package iggyserver

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy/wire"
	"github.com/iggy-go/connectors/runtime/iggy/wire/wiretest"
)

type span struct{ from, to int }

// Informational reply-header fields: op number (the session here) and commit number.
var hdrInfo = []span{{176, 184}, {184, 192}}

func specFrame(t *testing.T, vs []wiretest.Vector, dir, prefix string) []byte {
	t.Helper()
	v, ok := wiretest.Find(vs, dir, prefix)
	if !ok {
		t.Fatalf("no %s vector %q", dir, prefix)
	}
	return bytes.Clone(v.Frame)
}

// sameFrame compares a server reply with a spec vector, ignoring the byte ranges in masks (values
// the spec calls informational or that depend on the clock).
func sameFrame(t *testing.T, what string, got, want []byte, masks ...span) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d bytes, want %d", what, len(got), len(want))
	}
	g, w := bytes.Clone(got), bytes.Clone(want)
	for _, m := range masks {
		clear(g[m.from:m.to])
		clear(w[m.from:m.to])
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("%s: byte %d is %02x, spec vector has %02x", what, i, g[i], w[i])
		}
	}
}

// TestServerGolden replays the spec's request vectors (6.1) against the real server, byte for
// byte, and compares its replies with the spec's reply vectors (6.2).
func TestServerGolden(t *testing.T) {
	vs, err := wiretest.Vectors()
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, Config{})
	r := rawDial(t, s)
	wait := 2 * time.Second
	next := func() []byte {
		t.Helper()
		f := r.read(wait)
		if f == nil {
			t.Fatal("no reply")
		}
		return f
	}

	r.write(specFrame(t, vs, "request", "Ping before login"))
	if f := next(); wire.FrameSize(f) != 256 || wire.FrameCommand(f) != wire.CommandReply {
		t.Fatalf("ping reply %x", f[:64])
	}

	r.write(specFrame(t, vs, "request", "LoginRegister"))
	login := next()
	sameFrame(t, "login reply", login, specFrame(t, vs, "response", "Login OK"), append(hdrInfo, span{256 + 8, 256 + 16})...)
	if sess := binary.LittleEndian.Uint64(login[256+8:]); sess == 0 || sess != binary.LittleEndian.Uint64(login[176:]) {
		t.Fatalf("session %d, op number %d", sess, binary.LittleEndian.Uint64(login[176:]))
	}

	r.write(specFrame(t, vs, "request", `CreateStream "test"`))
	if h, _ := wire.DecodeReplyHeader(next()); h.Status != 0 || h.Request != 1 || h.Operation != wire.OpCreateStream {
		t.Fatalf("create stream %+v", h)
	}
	// The same body again, with a new request number: the committed rejection.
	again := specFrame(t, vs, "request", `CreateStream "test"`)
	binary.LittleEndian.PutUint64(again[168:], 10)
	r.write(again)
	want := specFrame(t, vs, "response", "Committed rejection")
	binary.LittleEndian.PutUint64(want[200:], 10)
	sameFrame(t, "duplicate stream", next(), want, hdrInfo...)

	ct := specFrame(t, vs, "request", "CreateTopic")
	binary.LittleEndian.PutUint64(ct[168:], 11)
	r.write(ct)
	f := next()
	if h, _ := wire.DecodeReplyHeader(f); h.Status != 0 || h.Operation != wire.OpCreateTopic {
		t.Fatalf("create topic %+v", h)
	}
	code, payload, _ := wire.SplitResult(f[256:])
	td, err := wire.DecodeTopicDetails(payload)
	if code != 0 || err != nil || td.Name != "orders" || len(td.Partitions) != 1 || td.MessageExpiry != 3_600_000_000 {
		t.Fatalf("create topic reply %d %+v %v", code, td, err)
	}

	// GetStream before any message: everything but the creation times matches.
	// The spec's vector has an empty derived block; the official server (and so this one) lists
	// every catalog key the client did not send there, with the server default.
	wantStream := specFrame(t, vs, "response", "GetStream reply")
	derived := derivedOptions([]wire.Header{wire.Uint64Header(optMessageExpiry, 3_600_000_000)})
	if len(derived) != len(topicCatalog)-1 {
		t.Fatalf("derived options %d, want %d", len(derived), len(topicCatalog)-1)
	}
	wantStream = binary.LittleEndian.AppendUint32(wantStream[:len(wantStream)-4], uint32(wire.HeadersLen(derived)))
	wantStream = wire.AppendHeaders(wantStream, derived)
	wire.SetFrameSize(wantStream, uint32(len(wantStream)))
	r.write(specFrame(t, vs, "request", `GetStream "test"`))
	sameFrame(t, "get stream", next(), wantStream,
		append(hdrInfo, span{256 + 4, 256 + 12}, span{256 + 45, 256 + 53})...)

	r.write(specFrame(t, vs, "request", "SendMessages to partition 0"))
	sameFrame(t, "send reply", next(), specFrame(t, vs, "response", "SendMessages reply"), hdrInfo...)

	// Poll: the broker timestamp (and so the stored batch checksum) come from the server's clock.
	r.write(specFrame(t, vs, "request", "PollMessages"))
	poll := next()
	sameFrame(t, "poll reply", poll, specFrame(t, vs, "response", "Poll reply"),
		append(hdrInfo, span{256 + 16 + 16, 256 + 16 + 24}, span{256 + 16 + 40, 256 + 16 + 48})...)
	rec := poll[256+16:]
	if wire.BatchChecksum(rec) != binary.LittleEndian.Uint64(rec[40:]) {
		t.Fatal("stored batch checksum does not match the record")
	}
	if ts := binary.LittleEndian.Uint64(rec[16:]); ts < uint64(time.Now().Add(-time.Minute).UnixMicro()) {
		t.Fatalf("broker timestamp %d is not now", ts)
	}

	r.write(specFrame(t, vs, "request", "StoreConsumerOffset"))
	if f := next(); wire.FrameSize(f) != 260 || !bytes.Equal(f[256:], []byte{0, 0, 0, 0}) {
		t.Fatalf("store offset reply %x", f[256:])
	}

	// Join needs the group; it does not exist yet: result 5000.
	join := specFrame(t, vs, "request", "JoinConsumerGroup")
	binary.LittleEndian.PutUint64(join[168:], 12)
	r.write(join)
	if c, _, _ := wire.SplitResult(next()[256:]); c != wire.ErrCodeConsumerGroupIDNotFound {
		t.Fatalf("join of missing group: result %d", c)
	}
	r.send(wire.CodeCreateConsumerGroup, 13, r.session+7, (&wire.CreateGroupRequest{Stream: wire.NamedID("test"), Topic: wire.NamedID("orders"), Name: "workers"}).Append(nil))
	next()
	binary.LittleEndian.PutUint64(join[168:], 14)
	r.write(join)
	if f := next(); !bytes.Equal(f[256:], []byte{0, 0, 0, 0}) {
		t.Fatalf("join reply %x", f[256:])
	}

	// A fresh connection: GetStreams before login, then a bad password.
	r2 := rawDial(t, s)
	r2.send(wire.CodeGetStreams, 1, 0, nil)
	sameFrame(t, "status 40", r2.read(wait), specFrame(t, vs, "response", "Error status"), hdrInfo...)
	bad := (&wire.LoginRequest{Version: wire.ClientVersion{Protocol: wire.ProtocolVersion, SDKName: "rust-sdk", SDKVersion: "0.11.0"}, Username: "iggy", Password: "wrong"}).Append(nil)
	r2.send(wire.CodeLoginRegister, 0, 0, bad)
	sameFrame(t, "eviction", r2.read(wait), specFrame(t, vs, "response", "Eviction for bad credentials"))
}
