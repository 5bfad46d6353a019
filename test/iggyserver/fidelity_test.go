package iggyserver

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy/wire"
)

// Tests of the behaviours where the development server follows the official server's code rather
// than the spec (docs/iggy-protocol-notes.md lists each).

// reply is one decoded answer: header status, result code (result-framed operations) and payload.
type reply struct {
	status, result uint32
	payload        []byte
	size           uint32
}

// do sends code with the next request number and returns the reply.
func (r *raw) do(code uint32, body []byte) reply {
	r.t.Helper()
	r.req++
	r.send(code, r.req, r.session, body)
	h, b := r.mustReply(2 * time.Second)
	out := reply{status: h.Status, payload: b, size: uint32(wire.HeaderSize + len(b))}
	if h.Status == 0 && wire.IsResultFramed(h.Operation) && len(b) > 0 {
		rc, p, err := wire.SplitResult(b)
		if err != nil {
			r.t.Fatalf("code %d: result section: %v", code, err)
		}
		out.result, out.payload = rc, p
	}
	return out
}

// must fails unless the reply is a success.
func (p reply) must(t *testing.T, what string) []byte {
	t.Helper()
	if p.status != 0 || p.result != 0 {
		t.Fatalf("%s: status %d result %d", what, p.status, p.result)
	}
	return p.payload
}

func (r *raw) loginAs(user, pass string) {
	r.t.Helper()
	body := (&wire.LoginRequest{Version: wire.ClientVersion{Protocol: wire.ProtocolVersion, SDKName: "rust-sdk", SDKVersion: "0.11.0"}, Username: user, Password: pass}).Append(nil)
	r.send(wire.CodeLoginRegister, 0, 0, body)
	h, b := r.mustReply(2 * time.Second)
	code, payload, err := wire.SplitResult(b)
	var lr wire.LoginReply
	if h.Status != 0 || err != nil || code != 0 || lr.Decode(payload) != nil {
		r.t.Fatalf("login %s: status %d code %d err %v", user, h.Status, code, err)
	}
	r.session = lr.Session
}

func rootConn(t *testing.T, s *Server) *raw {
	r := rawDial(t, s)
	r.login()
	return r
}

func (r *raw) mkStream(name string) uint32 {
	r.t.Helper()
	d, err := wire.DecodeStreamDetails(r.do(wire.CodeCreateStream, (&wire.CreateStreamRequest{Name: name}).Append(nil)).must(r.t, "create stream "+name))
	if err != nil {
		r.t.Fatal(err)
	}
	return d.ID
}

func (r *raw) mkTopic(stream, name string, partitions uint32, opts ...wire.Header) wire.TopicDetails {
	r.t.Helper()
	p := r.do(wire.CodeCreateTopic, (&wire.CreateTopicRequest{Stream: wire.NamedID(stream), Partitions: partitions, Name: name, Options: opts}).Append(nil))
	d, err := wire.DecodeTopicDetails(p.must(r.t, "create topic "+name))
	if err != nil {
		r.t.Fatal(err)
	}
	return d
}

func (r *raw) sendOne(stream, topic string) reply {
	r.t.Helper()
	body, err := wire.AppendSendMessages(nil, wire.NamedID(stream), wire.NamedID(topic), wire.PartitionID(0),
		[]wire.Message{{ID: [16]byte{1}, Payload: []byte("x")}})
	if err != nil {
		r.t.Fatal(err)
	}
	return r.do(wire.CodeSendMessages, body)
}

func offsetReq(stream, topic string, consumer uint32) *wire.ConsumerOffsetRequest {
	return &wire.ConsumerOffsetRequest{Consumer: wire.Consumer{Kind: wire.ConsumerKindSingle, ID: wire.NumericID(consumer)},
		Stream: wire.NamedID(stream), Topic: wire.NamedID(topic), Partition: wire.Part(0), Ack: 1}
}

// Deleting an offset that was never stored is a typed deny: status 3021, empty body (official
// partitions plane), not a success header with a result entry.
func TestDeleteNeverStoredOffset(t *testing.T) {
	r := rootConn(t, start(t, Config{}))
	r.mkStream("s")
	r.mkTopic("s", "t", 1)
	r.sendOne("s", "t").must(t, "send")
	del := func() reply { return r.do(wire.CodeDeleteConsumerOffset, offsetReq("s", "t", 7).AppendDelete(nil)) }
	if p := del(); p.status != wire.ErrCodeConsumerOffsetNotFound || p.size != wire.HeaderSize {
		t.Fatalf("delete of a never-stored offset: status %d, frame %d bytes; want status 3021 and an empty body", p.status, p.size)
	}
	q := offsetReq("s", "t", 7)
	q.Offset = 0
	r.do(wire.CodeStoreConsumerOffset, q.AppendStore(nil)).must(t, "store offset")
	if p := del(); p.status != 0 || p.result != 0 || p.size != wire.HeaderSize+4 {
		t.Fatalf("delete of a stored offset: status %d result %d size %d", p.status, p.result, p.size)
	}
	if p := del(); p.status != wire.ErrCodeConsumerOffsetNotFound {
		t.Fatalf("second delete: status %d, want 3021", p.status)
	}
}

func optMap(t *testing.T, hs []wire.Header) map[string]wire.Header {
	t.Helper()
	m := map[string]wire.Header{}
	for i, h := range hs {
		if i > 0 && string(hs[i-1].Key) >= string(h.Key) {
			t.Fatalf("options not sorted by key: %q before %q", hs[i-1].Key, h.Key)
		}
		m[string(h.Key)] = h
	}
	return m
}

func wantOpt(t *testing.T, m map[string]wire.Header, key string, kind uint8, value []byte) {
	t.Helper()
	h, ok := m[key]
	if !ok {
		t.Fatalf("option %s missing (have %v)", key, keys(m))
	}
	if h.ValueKind != kind || !bytes.Equal(h.Value, value) {
		t.Fatalf("option %s: kind %d value %x, want kind %d value %x", key, h.ValueKind, h.Value, kind, value)
	}
}

func keys(m map[string]wire.Header) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Topic options come back in their canonical kinds, and every catalog key the client did not send
// is in the derived block with the server default.
func TestTopicOptionsCanonical(t *testing.T) {
	r := rootConn(t, start(t, Config{}))
	r.mkStream("s")
	d := r.mkTopic("s", "t", 2,
		wire.StringHeader(optEnforceFsync, "true"),
		wire.StringHeader(optSegmentSize, "128 MiB"),
		wire.StringHeader(optMaxTopicSize, "1 GiB"),
		wire.StringHeader(optMessageExpiry, "7 days"),
		wire.Header{KeyKind: wire.KindString, Key: []byte(optCompression), ValueKind: wire.KindUint8, Value: []byte{2}})
	week := uint64(7 * 24 * time.Hour / time.Microsecond)
	ex := optMap(t, d.Options)
	if len(ex) != 5 {
		t.Fatalf("explicit options %v, want the 5 sent", keys(ex))
	}
	wantOpt(t, ex, optEnforceFsync, wire.KindBool, []byte{1})
	wantOpt(t, ex, optSegmentSize, wire.KindUint64, u64le(128<<20))
	wantOpt(t, ex, optMaxTopicSize, wire.KindUint64, u64le(1<<30))
	wantOpt(t, ex, optMessageExpiry, wire.KindUint64, u64le(week))
	wantOpt(t, ex, optCompression, wire.KindString, []byte("gzip"))
	der := optMap(t, d.DerivedOptions)
	if len(der) != 3 {
		t.Fatalf("derived options %v, want the 3 catalog keys not sent", keys(der))
	}
	wantOpt(t, der, optMessagesToSave, wire.KindUint32, binary.LittleEndian.AppendUint32(nil, 1024))
	wantOpt(t, der, optSizeToSave, wire.KindUint64, u64le(1<<20))
	wantOpt(t, der, optPreallocSegment, wire.KindBool, []byte{0})
	if d.Compression != 2 || d.MaxTopicSize != 1<<30 || d.MessageExpiry != week {
		t.Fatalf("topic header: compression %d max size %d expiry %d", d.Compression, d.MaxTopicSize, d.MessageExpiry)
	}

	// No options: all 8 keys derived, the header says never expire / unlimited / no compression.
	d = r.mkTopic("s", "plain", 1)
	if len(d.Options) != 0 || len(d.DerivedOptions) != len(topicCatalog) {
		t.Fatalf("plain topic: %d explicit, %d derived options", len(d.Options), len(d.DerivedOptions))
	}
	der = optMap(t, d.DerivedOptions)
	wantOpt(t, der, optSegmentSize, wire.KindUint64, u64le(1<<30))
	wantOpt(t, der, optEnforceFsync, wire.KindBool, []byte{0})
	wantOpt(t, der, optMessageExpiry, wire.KindUint64, u64le(math.MaxUint64))
	wantOpt(t, der, optCompression, wire.KindString, []byte("none"))
	if d.MessageExpiry != math.MaxUint64 || d.MaxTopicSize != math.MaxUint64 || d.Compression != 1 {
		t.Fatalf("plain topic header: expiry %d max size %d compression %d", d.MessageExpiry, d.MaxTopicSize, d.Compression)
	}

	// Zero sizes mean "server default": not explicit, derived instead.
	d = r.mkTopic("s", "zeros", 1, wire.Uint64Header(optSegmentSize, 0), wire.Uint64Header(optMaxTopicSize, 0))
	if len(d.Options) != 0 {
		t.Fatalf("zero sizes kept as explicit options: %v", keys(optMap(t, d.Options)))
	}
	wantOpt(t, optMap(t, d.DerivedOptions), optSegmentSize, wire.KindUint64, u64le(1<<30))
}

// Option values are validated as the official server does, each failure in the header status.
func TestTopicOptionValidation(t *testing.T) {
	r := rootConn(t, start(t, Config{}))
	r.mkStream("s")
	u32 := func(k string, v uint32) wire.Header {
		return wire.Header{KeyKind: wire.KindString, Key: []byte(k), ValueKind: wire.KindUint32, Value: binary.LittleEndian.AppendUint32(nil, v)}
	}
	cases := []struct {
		name string
		opts []wire.Header
		want uint32
	}{
		{"messages_required_to_save 0", []wire.Header{u32(optMessagesToSave, 0)}, wire.ErrCodeInvalidOptionValue},
		{"messages_required_to_save above 16 Mi", []wire.Header{u32(optMessagesToSave, 16<<20+1)}, wire.ErrCodeInvalidOptionValue},
		{"segment_size below 1 MiB", []wire.Header{wire.Uint64Header(optSegmentSize, 512*1024)}, wire.ErrCodeInvalidOptionValue},
		{"segment_size not a multiple of 512", []wire.Header{wire.Uint64Header(optSegmentSize, 1<<20+100)}, wire.ErrCodeInvalidOptionValue},
		{"segment_size above 1 GiB", []wire.Header{wire.StringHeader(optSegmentSize, "2 GiB")}, wire.ErrCodeInvalidOptionValue},
		{"segment_size of kind Uint32", []wire.Header{u32(optSegmentSize, 1<<20)}, wire.ErrCodeInvalidOptionValue},
		{"max_topic_size below the default segment", []wire.Header{wire.StringHeader(optMaxTopicSize, "512 MiB")}, wire.ErrCodeInvalidTopicSize},
		{"max_topic_size below its segment", []wire.Header{wire.StringHeader(optSegmentSize, "2 MiB"), wire.StringHeader(optMaxTopicSize, "1 MiB")}, wire.ErrCodeInvalidTopicSize},
		{"enforce_fsync yes", []wire.Header{wire.StringHeader(optEnforceFsync, "yes")}, wire.ErrCodeInvalidOptionValue},
		{"compression lz4", []wire.Header{wire.StringHeader(optCompression, "lz4")}, wire.ErrCodeInvalidOptionValue},
		{"message_expiry gibberish", []wire.Header{wire.StringHeader(optMessageExpiry, "soon")}, wire.ErrCodeInvalidOptionValue},
		{"durability (not in the catalog)", []wire.Header{wire.StringHeader("durability", "replicated")}, wire.ErrCodeUnsupportedOptionKey},
		{"duplicate key", []wire.Header{wire.StringHeader(optCompression, "none"), wire.StringHeader(optCompression, "gzip")}, wire.ErrCodeInvalidCommand},
	}
	for i, c := range cases {
		p := r.do(wire.CodeCreateTopic, (&wire.CreateTopicRequest{Stream: wire.NamedID("s"), Partitions: 1, Name: "t" + string(rune('a'+i)), Options: c.opts}).Append(nil))
		if p.status != c.want || p.size != wire.HeaderSize {
			t.Errorf("%s: status %d result %d (%d bytes), want status %d and an empty body", c.name, p.status, p.result, p.size, c.want)
		}
	}
	// The edges that pass: a max_topic_size equal to its segment, 1 MiB segments, 1 message.
	r.mkTopic("s", "ok", 1, wire.StringHeader(optSegmentSize, "1MiB"), wire.Uint64Header(optMaxTopicSize, 1<<20), u32(optMessagesToSave, 1))
}

func TestDescribeOptions(t *testing.T) {
	r := rootConn(t, start(t, Config{}))
	ds, err := wire.DecodeOptionDescriptors(r.do(wire.CodeDescribeOptions, []byte{wire.OptionsScopeTopic}).must(t, "describe topic options"))
	if err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{optCompression, optMessageExpiry, optMaxTopicSize, optSegmentSize, optEnforceFsync, optMessagesToSave, optSizeToSave, optPreallocSegment}
	if len(ds) != len(wantKeys) {
		t.Fatalf("%d descriptors, want %d", len(ds), len(wantKeys))
	}
	for i, d := range ds {
		if d.Key != wantKeys[i] || d.Description == "" || len(d.Default) == 0 {
			t.Fatalf("descriptor %d: %+v, want key %s", i, d, wantKeys[i])
		}
	}
	if ds[3].Kind != wire.KindUint64 || !bytes.Equal(ds[3].Default, u64le(1<<30)) || ds[4].Kind != wire.KindBool {
		t.Fatalf("segment_size / enforce_fsync descriptors: %+v %+v", ds[3], ds[4])
	}
	for _, scope := range []byte{wire.OptionsScopeStream, wire.OptionsScopeUser} {
		if p := r.do(wire.CodeDescribeOptions, []byte{scope}).must(t, "describe"); !bytes.Equal(p, []byte{0, 0, 0, 0}) {
			t.Fatalf("scope %d: %x, want an empty catalog", scope, p)
		}
	}
	if p := r.do(wire.CodeDescribeOptions, []byte{9}); p.status != wire.ErrCodeInvalidCommand {
		t.Fatalf("unknown scope: status %d", p.status)
	}
}

func TestClusterMetadataSingleNode(t *testing.T) {
	r := rootConn(t, start(t, Config{}))
	var m wire.ClusterMetadata
	if err := m.Decode(r.do(wire.CodeGetClusterMetadata, nil).must(t, "cluster metadata")); err != nil {
		t.Fatal(err)
	}
	// The test server listens on 127.0.0.1:0: the official server reports the requested port.
	want := wire.ClusterMetadata{Name: "single-node", Nodes: []wire.ClusterNode{{Name: "iggy-node", IP: "127.0.0.1"}}}
	if m.Name != want.Name || len(m.Nodes) != 1 || m.Nodes[0] != want.Nodes[0] {
		t.Fatalf("cluster metadata %+v, want %+v", m, want)
	}
}

func TestUserManagement(t *testing.T) {
	s := start(t, Config{})
	r := rootConn(t, s)
	perms := &wire.Permissions{Global: wire.GlobalPermissions{ReadStreams: true},
		Streams: []wire.StreamPermissions{{StreamID: 3, SendMessages: true, Topics: []wire.TopicPermissions{{TopicID: 1, ReadTopic: true}, {TopicID: 2, ManageTopic: true}}}}}
	var d wire.UserDetails
	if err := d.Decode(r.do(wire.CodeCreateUser, (&wire.CreateUserRequest{Username: "alice", Password: "pw-alice", Status: wire.UserActive, Permissions: perms}).Append(nil)).must(t, "create user")); err != nil {
		t.Fatal(err)
	}
	if d.ID != 1 || d.Username != "alice" || d.Status != wire.UserActive || d.CreatedAt == 0 || d.Permissions == nil || !equalPerms(d.Permissions, perms) {
		t.Fatalf("create user reply %+v perms %+v", d.UserInfo, d.Permissions)
	}
	for _, id := range []wire.Identifier{wire.NamedID("alice"), wire.NumericID(1)} {
		var g wire.UserDetails
		if err := g.Decode(r.do(wire.CodeGetUser, (&wire.UserRef{User: id}).Append(nil)).must(t, "get user")); err != nil || g.ID != 1 || !equalPerms(g.Permissions, perms) {
			t.Fatalf("get user %v: %+v %v", id, g, err)
		}
	}
	if p := r.do(wire.CodeGetUser, (&wire.UserRef{User: wire.NamedID("nobody")}).Append(nil)); p.status != 0 || p.size != wire.HeaderSize {
		t.Fatalf("get of a missing user: status %d size %d, want an empty reply", p.status, p.size)
	}
	// A user without permissions: the reply carries a u32 zero.
	r.do(wire.CodeCreateUser, (&wire.CreateUserRequest{Username: "bob", Password: "pw-bob", Status: wire.UserActive}).Append(nil)).must(t, "create bob")
	p := r.do(wire.CodeGetUser, (&wire.UserRef{User: wire.NamedID("bob")}).Append(nil)).must(t, "get bob")
	if !bytes.HasSuffix(p, []byte{0, 0, 0, 0}) {
		t.Fatalf("user without permissions: %x does not end in a u32 zero", p)
	}
	us, err := wire.DecodeUsers(r.do(wire.CodeGetUsers, nil).must(t, "get users"))
	if err != nil || len(us) != 3 || us[0].Username != "iggy" || us[1].Username != "alice" || us[2].Username != "bob" {
		t.Fatalf("get users %+v %v", us, err)
	}

	results := []struct {
		name string
		code uint32
		body []byte
		want uint32
	}{
		{"duplicate user", wire.CodeCreateUser, (&wire.CreateUserRequest{Username: "alice", Password: "xyz", Status: 1}).Append(nil), wire.ErrCodeUserAlreadyExists},
		{"username too short", wire.CodeCreateUser, (&wire.CreateUserRequest{Username: "al", Password: "xyz", Status: 1}).Append(nil), wire.ErrCodeInvalidUsername},
		{"delete root", wire.CodeDeleteUser, (&wire.UserRef{User: wire.NumericID(0)}).Append(nil), wire.ErrCodeCannotDeleteUser},
		{"root permissions", wire.CodeUpdatePermissions, (&wire.UpdatePermissionsRequest{User: wire.NumericID(0)}).Append(nil), wire.ErrCodeCannotChangePermissions},
		{"delete a missing user", wire.CodeDeleteUser, (&wire.UserRef{User: wire.NamedID("nobody")}).Append(nil), wire.ErrCodeResourceNotFound},
		{"wrong current password", wire.CodeChangePassword, (&wire.ChangePasswordRequest{User: wire.NamedID("bob"), CurrentPassword: "nope", NewPassword: "pw-new"}).Append(nil), wire.ErrCodeInvalidCredentials},
		{"rename onto another user", wire.CodeUpdateUser, (&wire.UpdateUserRequest{User: wire.NamedID("bob"), Username: "alice"}).Append(nil), wire.ErrCodeUserAlreadyExists},
		{"missing PAT", wire.CodeDeletePAT, (&wire.NameRequest{Name: "none"}).Append(nil), wire.ErrCodeResourceNotFound},
	}
	for _, c := range results {
		if p := r.do(c.code, c.body); p.status != 0 || p.result != c.want {
			t.Errorf("%s: status %d result %d, want result %d", c.name, p.status, p.result, c.want)
		}
	}

	// Change password, rename, deactivate: logins follow.
	r.do(wire.CodeChangePassword, (&wire.ChangePasswordRequest{User: wire.NamedID("bob"), CurrentPassword: "pw-bob", NewPassword: "pw-new"}).Append(nil)).must(t, "change password")
	r.do(wire.CodeUpdateUser, (&wire.UpdateUserRequest{User: wire.NamedID("bob"), Username: "robert"}).Append(nil)).must(t, "rename")
	rb := rawDial(t, s)
	rb.loginAs("robert", "pw-new")
	// A user may change its own password without manage_users.
	rb.do(wire.CodeChangePassword, (&wire.ChangePasswordRequest{User: wire.NamedID("robert"), CurrentPassword: "pw-new", NewPassword: "pw-newer"}).Append(nil)).must(t, "own password")
	var tok wire.RawToken
	if err := tok.Decode(rb.do(wire.CodeCreatePAT, (&wire.CreatePATRequest{Name: "robert-token"}).Append(nil)).must(t, "create token")); err != nil {
		t.Fatal(err)
	}
	r.do(wire.CodeUpdateUser, (&wire.UpdateUserRequest{User: wire.NamedID("robert"), Status: wire.UserInactive}).Append(nil)).must(t, "deactivate")
	version := wire.ClientVersion{Protocol: wire.ProtocolVersion, SDKName: "x", SDKVersion: "1"}
	bad := rawDial(t, s)
	bad.send(wire.CodeLoginRegister, 0, 0, (&wire.LoginRequest{Version: version, Username: "robert", Password: "pw-newer"}).Append(nil))
	bad.expectEviction(wire.EvictInvalidCredentials) // an inactive user's password login looks like bad credentials
	bad = rawDial(t, s)
	bad.send(wire.CodeLoginRegisterWithPAT, 0, 0, (&wire.PATLoginRequest{Version: version, Token: tok.Token}).Append(nil))
	bad.expectEviction(wire.EvictUserInactive) // its token login says why

	// Users and permissions survive a restart with a data directory.
	dir := t.TempDir()
	s2 := start(t, Config{DataDir: dir})
	r2 := rootConn(t, s2)
	r2.do(wire.CodeCreateUser, (&wire.CreateUserRequest{Username: "carol", Password: "pw-carol", Status: 1, Permissions: perms}).Append(nil)).must(t, "create carol")
	s2.Close()
	s3 := start(t, Config{DataDir: dir})
	r3 := rawDial(t, s3)
	r3.loginAs("carol", "pw-carol")
	var g wire.UserDetails
	if err := g.Decode(r3.do(wire.CodeGetUser, (&wire.UserRef{User: wire.NamedID("carol")}).Append(nil)).must(t, "get carol")); err != nil || !equalPerms(g.Permissions, perms) {
		t.Fatalf("carol after restart: %+v %v", g, err)
	}
	r.do(wire.CodeDeleteUser, (&wire.UserRef{User: wire.NamedID("alice")}).Append(nil)).must(t, "delete alice")
}

func equalPerms(a, b *wire.Permissions) bool {
	if a == nil || b == nil {
		return a == b
	}
	return bytes.Equal(a.Append(nil), b.Append(nil))
}

// Permissions are enforced with the official rules and channels: metadata commands get a
// committed Unauthorized result, reads and partition operations a status 41 with an empty body.
func TestPermissionsEnforced(t *testing.T) {
	s := start(t, Config{})
	root := rootConn(t, s)
	s1 := root.mkStream("one")
	root.mkStream("two")
	root.mkTopic("one", "t", 1)
	root.mkTopic("one", "u", 1)
	root.mkTopic("two", "t", 1)
	root.sendOne("one", "t").must(t, "send")
	root.sendOne("two", "t").must(t, "send")
	mk := func(name string, p *wire.Permissions) *raw {
		root.do(wire.CodeCreateUser, (&wire.CreateUserRequest{Username: name, Password: "pw-" + name, Status: 1, Permissions: p}).Append(nil)).must(t, "create "+name)
		r := rawDial(t, s)
		r.loginAs(name, "pw-"+name)
		return r
	}
	none := mk("nobody", nil)
	reader := mk("reader", &wire.Permissions{Global: wire.GlobalPermissions{ReadStreams: true}})
	// Stream one: send; topic one/u: read only.
	scoped := mk("scoped", &wire.Permissions{Streams: []wire.StreamPermissions{{StreamID: s1, SendMessages: true,
		Topics: []wire.TopicPermissions{{TopicID: 1, ReadTopic: true}}}}})
	admin := mk("admin", &wire.Permissions{Global: wire.GlobalPermissions{ManageStreams: true}})

	poll := func(stream, topic string) []byte {
		return (&wire.PollMessagesRequest{Consumer: wire.Consumer{Kind: wire.ConsumerKindSingle, ID: wire.NumericID(1)},
			Stream: wire.NamedID(stream), Topic: wire.NamedID(topic), Partition: wire.Part(0), Strategy: wire.StrategyFirst(), Count: 10}).Append(nil)
	}
	sendBody := func(stream, topic string) []byte {
		b, _ := wire.AppendSendMessages(nil, wire.NamedID(stream), wire.NamedID(topic), wire.PartitionID(0), []wire.Message{{ID: [16]byte{9}, Payload: []byte("y")}})
		return b
	}
	const ok, status41, result41 = 0, 1, 2
	cases := []struct {
		name string
		r    *raw
		code uint32
		body []byte
		want int
	}{
		{"no permissions: get streams", none, wire.CodeGetStreams, nil, status41},
		{"no permissions: create stream", none, wire.CodeCreateStream, (&wire.CreateStreamRequest{Name: "x"}).Append(nil), result41},
		{"no permissions: get stats", none, wire.CodeGetStats, nil, status41},
		{"no permissions: get users", none, wire.CodeGetUsers, nil, status41},
		{"no permissions: get me", none, wire.CodeGetMe, nil, ok},
		{"no permissions: describe options", none, wire.CodeDescribeOptions, []byte{1}, ok},
		{"read_streams: get streams", reader, wire.CodeGetStreams, nil, ok},
		{"read_streams: poll", reader, wire.CodePollMessages, poll("one", "t"), ok},
		{"read_streams: send", reader, wire.CodeSendMessages, sendBody("one", "t"), status41},
		{"read_streams: store offset", reader, wire.CodeStoreConsumerOffset, offsetReq("one", "t", 1).AppendStore(nil), ok},
		{"read_streams: create topic", reader, wire.CodeCreateTopic, (&wire.CreateTopicRequest{Stream: wire.NamedID("one"), Partitions: 1, Name: "new"}).Append(nil), result41},
		{"read_streams: delete topic", reader, wire.CodeDeleteTopic, (&wire.TopicRef{Stream: wire.NamedID("one"), Topic: wire.NamedID("t")}).Append(nil), result41},
		{"read_streams: create group", reader, wire.CodeCreateConsumerGroup, (&wire.CreateGroupRequest{Stream: wire.NamedID("one"), Topic: wire.NamedID("t"), Name: "g"}).Append(nil), ok},
		{"read_streams: create user", reader, wire.CodeCreateUser, (&wire.CreateUserRequest{Username: "zed", Password: "pw-zed", Status: 1}).Append(nil), result41},
		{"stream send grant: send to its stream", scoped, wire.CodeSendMessages, sendBody("one", "t"), ok},
		{"stream send grant: send to another stream", scoped, wire.CodeSendMessages, sendBody("two", "t"), status41},
		{"stream send grant: poll", scoped, wire.CodePollMessages, poll("one", "t"), status41},
		{"stream send grant: get streams", scoped, wire.CodeGetStreams, nil, status41},
		{"topic read grant: get that topic", scoped, wire.CodeGetTopic, (&wire.TopicRef{Stream: wire.NamedID("one"), Topic: wire.NamedID("u")}).Append(nil), ok},
		{"topic read grant: poll that topic", scoped, wire.CodePollMessages, poll("one", "u"), ok},
		{"topic read grant: get another topic", scoped, wire.CodeGetTopic, (&wire.TopicRef{Stream: wire.NamedID("one"), Topic: wire.NamedID("t")}).Append(nil), status41},
		{"topic read grant: get the stream", scoped, wire.CodeGetStream, (&wire.StreamRef{Stream: wire.NamedID("one")}).Append(nil), status41},
		{"missing stream resolves before the permission", none, wire.CodeGetStream, (&wire.StreamRef{Stream: wire.NamedID("nope")}).Append(nil), ok},
		{"manage_streams: send", admin, wire.CodeSendMessages, sendBody("two", "t"), ok},
		{"manage_streams: purge topic", admin, wire.CodePurgeTopic, (&wire.TopicRef{Stream: wire.NamedID("two"), Topic: wire.NamedID("t")}).Append(nil), ok},
		{"manage_streams: get stats", admin, wire.CodeGetStats, nil, status41},
	}
	for _, c := range cases {
		p := c.r.do(c.code, c.body)
		got := ok
		switch {
		case p.status == wire.ErrCodeUnauthorized && p.size == wire.HeaderSize:
			got = status41
		case p.status == 0 && p.result == wire.ErrCodeUnauthorized:
			got = result41
		case p.status != 0 || p.result != 0:
			t.Errorf("%s: status %d result %d", c.name, p.status, p.result)
			continue
		}
		if got != c.want {
			t.Errorf("%s: got %v (status %d result %d), want %v", c.name, []string{"ok", "status 41", "result 41"}[got], p.status, p.result, []string{"ok", "status 41", "result 41"}[c.want])
		}
	}
	// A grant takes effect on the next request of a logged-in session.
	root.do(wire.CodeUpdatePermissions, (&wire.UpdatePermissionsRequest{User: wire.NamedID("reader"),
		Permissions: &wire.Permissions{Global: wire.GlobalPermissions{ReadStreams: true, SendMessages: true}}}).Append(nil)).must(t, "grant")
	reader.do(wire.CodeSendMessages, sendBody("one", "t")).must(t, "send after the grant")
	root.do(wire.CodeUpdatePermissions, (&wire.UpdatePermissionsRequest{User: wire.NamedID("reader")}).Append(nil)).must(t, "revoke all")
	if p := reader.do(wire.CodePollMessages, poll("one", "t")); p.status != wire.ErrCodeUnauthorized {
		t.Fatalf("poll after revoking everything: status %d", p.status)
	}
}

func TestUpdatePurgeAndSegments(t *testing.T) {
	r := rootConn(t, start(t, Config{}))
	r.mkStream("s")
	r.mkStream("taken")
	r.mkTopic("s", "t", 2, wire.StringHeader(optSegmentSize, "2 MiB"))
	r.sendOne("s", "t").must(t, "send")
	r.sendOne("s", "t").must(t, "send")
	q := offsetReq("s", "t", 5)
	q.Offset = 1
	r.do(wire.CodeStoreConsumerOffset, q.AppendStore(nil)).must(t, "store")

	if p := r.do(wire.CodeUpdateStream, (&wire.UpdateStreamRequest{Stream: wire.NamedID("s"), Name: "taken"}).Append(nil)); p.result != wire.ErrCodeStreamNameAlreadyExists {
		t.Fatalf("rename onto an existing stream: status %d result %d", p.status, p.result)
	}
	if p := r.do(wire.CodeUpdateStream, (&wire.UpdateStreamRequest{Stream: wire.NamedID("s"), Name: "s2", Options: []wire.Header{wire.StringHeader("x", "y")}}).Append(nil)); p.status != wire.ErrCodeUnsupportedOptionKey {
		t.Fatalf("stream option: status %d", p.status)
	}
	if p := r.do(wire.CodeUpdateStream, (&wire.UpdateStreamRequest{Stream: wire.NamedID("s"), Name: "s2"}).Append(nil)); p.status != 0 || p.result != 0 || p.size != wire.HeaderSize+4 {
		t.Fatalf("rename stream: status %d result %d size %d", p.status, p.result, p.size)
	}
	upd := func(name string, opts ...wire.Header) reply {
		return r.do(wire.CodeUpdateTopic, (&wire.UpdateTopicRequest{Stream: wire.NamedID("s2"), Topic: wire.NamedID("t"), Name: name, Options: opts}).Append(nil))
	}
	if p := upd("t", wire.StringHeader(optSegmentSize, "4 MiB")); p.status != wire.ErrCodeUnsupportedOptionKey {
		t.Fatalf("update of a create-only key: status %d", p.status)
	}
	if p := upd("t", wire.StringHeader(optMaxTopicSize, "1 MiB")); p.status != wire.ErrCodeInvalidTopicSize {
		t.Fatalf("update below the topic's segment size: status %d", p.status)
	}
	upd("t2", wire.StringHeader(optMessageExpiry, "1h"), wire.StringHeader(optMaxTopicSize, "4 MiB")).must(t, "update topic")
	d, err := wire.DecodeTopicDetails(r.do(wire.CodeGetTopic, (&wire.TopicRef{Stream: wire.NamedID("s2"), Topic: wire.NamedID("t2")}).Append(nil)).must(t, "get topic"))
	if err != nil || d.MessageExpiry != uint64(time.Hour/time.Microsecond) || d.MaxTopicSize != 4<<20 || len(d.Options) != 3 || len(d.DerivedOptions) != 5 {
		t.Fatalf("after update: %+v %v", d, err)
	}
	wantOpt(t, optMap(t, d.Options), optSegmentSize, wire.KindUint64, u64le(2<<20))

	tref := (&wire.TopicRef{Stream: wire.NamedID("s2"), Topic: wire.NamedID("t2")}).Append(nil)
	r.do(wire.CodePurgeTopic, tref).must(t, "purge topic")
	d, _ = wire.DecodeTopicDetails(r.do(wire.CodeGetTopic, tref).must(t, "get topic"))
	if d.MessagesCount != 0 || len(d.Partitions) != 2 || d.Partitions[0].CurrentOffset != 0 {
		t.Fatalf("after purge: %d messages, %d partitions", d.MessagesCount, len(d.Partitions))
	}
	q.Stream, q.Topic = wire.NamedID("s2"), wire.NamedID("t2")
	if p := r.do(wire.CodeGetConsumerOffset, q.AppendGet(nil)); p.status != 0 || p.size != wire.HeaderSize {
		t.Fatalf("stored offset after purge: status %d, %d bytes (want none)", p.status, p.size)
	}
	// The partition takes new messages from offset 0 again.
	body, _ := wire.AppendSendMessages(nil, wire.NamedID("s2"), wire.NamedID("t2"), wire.PartitionID(0), []wire.Message{{ID: [16]byte{1}, Payload: []byte("z")}})
	var conf []wire.SendConfirmation
	if conf, err = wire.DecodeSendReply(r.do(wire.CodeSendMessages, body).must(t, "send after purge")); err != nil || len(conf) != 1 || conf[0].BaseOffset != 0 {
		t.Fatalf("send after purge: %+v %v", conf, err)
	}
	r.do(wire.CodePurgeStream, (&wire.StreamRef{Stream: wire.NamedID("s2")}).Append(nil)).must(t, "purge stream")

	seg := func(partition uint32) reply {
		return r.do(wire.CodeDeleteSegments, (&wire.DeleteSegmentsRequest{Stream: wire.NamedID("s2"), Topic: wire.NamedID("t2"), PartitionID: partition, Count: 1}).Append(nil))
	}
	if p := seg(1); p.status != 0 || p.result != 0 || p.size != wire.HeaderSize+4 {
		t.Fatalf("delete segments: status %d result %d size %d", p.status, p.result, p.size)
	}
	if p := seg(7); p.result != wire.ErrCodePartitionNotFound {
		t.Fatalf("delete segments of a missing partition: status %d result %d", p.status, p.result)
	}
}

func TestGetClients(t *testing.T) {
	s := start(t, Config{})
	r := rootConn(t, s)
	other := rootConn(t, s)
	other.mkStream("s")
	other.mkTopic("s", "t", 1)
	other.do(wire.CodeCreateConsumerGroup, (&wire.CreateGroupRequest{Stream: wire.NamedID("s"), Topic: wire.NamedID("t"), Name: "g"}).Append(nil)).must(t, "group")
	other.do(wire.CodeJoinConsumerGroup, (&wire.GroupRef{Stream: wire.NamedID("s"), Topic: wire.NamedID("t"), Group: wire.NamedID("g")}).Append(nil)).must(t, "join")
	cs, err := wire.DecodeClients(r.do(wire.CodeGetClients, nil).must(t, "get clients"))
	if err != nil || len(cs) != 2 {
		t.Fatalf("get clients: %+v %v", cs, err)
	}
	var me wire.ClientInfo
	if err := me.Decode(other.do(wire.CodeGetMe, nil).must(t, "get me")); err != nil {
		t.Fatal(err)
	}
	var got wire.ClientInfo
	idBody := binary.LittleEndian.AppendUint32(nil, me.ClientID)
	if err := got.Decode(r.do(wire.CodeGetClient, idBody).must(t, "get client")); err != nil || got.ClientID != me.ClientID || got.Address != me.Address || len(got.Groups) != 1 {
		t.Fatalf("get client %d: %+v %v (get me: %+v)", me.ClientID, got, err, me)
	}
	if cs[1].GroupsCount != 1 || cs[1].Address != me.Address || cs[1].Transport != 1 {
		t.Fatalf("get clients entry %+v", cs[1])
	}
	if p := r.do(wire.CodeGetClient, binary.LittleEndian.AppendUint32(nil, 9999)); p.status != 0 || p.size != wire.HeaderSize {
		t.Fatalf("get of an unknown client: status %d size %d", p.status, p.size)
	}
}

// GetSnapshotFile (11): a ZIP archive with one "<type>.txt" entry per requested type.
func TestSnapshot(t *testing.T) {
	s := start(t, Config{})
	r := rootConn(t, s)
	entries := func(p []byte) map[string]string {
		t.Helper()
		zr, err := zip.NewReader(bytes.NewReader(p), int64(len(p)))
		if err != nil {
			t.Fatalf("snapshot is not a ZIP archive: %v", err)
		}
		out := map[string]string{}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			out[f.Name] = string(b)
		}
		return out
	}
	if got := entries(r.do(wire.CodeGetSnapshotFile, []byte{1, 1, 4}).must(t, "snapshot test")); len(got) != 1 || got["test.txt"] != "test\n" {
		t.Fatalf("stored snapshot of type test: %v", got)
	}
	all := entries(r.do(wire.CodeGetSnapshotFile, []byte{2, 1, snapshotAll}).must(t, "snapshot all"))
	for _, name := range []string{"filesystem_overview", "process_list", "resource_usage", "test", "server_logs", "server_config"} {
		if all[name+".txt"] == "" {
			t.Errorf("snapshot all: %s.txt missing or empty", name)
		}
	}
	for _, c := range []struct {
		body []byte
		want uint32
	}{
		{[]byte{9, 1, 4}, wire.ErrCodeInvalidCommand},              // unknown compression
		{[]byte{4, 1, 4}, wire.ErrCodeFeatureUnavailable},          // zstd: not in Go's standard library
		{[]byte{1, 1, 42}, wire.ErrCodeInvalidCommand},             // unknown type
		{[]byte{1, 2, snapshotAll, 4}, wire.ErrCodeInvalidCommand}, // all with another type
	} {
		if p := r.do(wire.CodeGetSnapshotFile, c.body); p.status != c.want {
			t.Errorf("snapshot %v: status %d, want %d", c.body, p.status, c.want)
		}
	}
	r.do(wire.CodeCreateUser, (&wire.CreateUserRequest{Username: "plain", Password: "pw-plain", Status: 1}).Append(nil)).must(t, "create user")
	u := rawDial(t, s)
	u.loginAs("plain", "pw-plain")
	if p := u.do(wire.CodeGetSnapshotFile, []byte{1, 1, 4}); p.status != wire.ErrCodeUnauthorized {
		t.Fatalf("snapshot without read_servers: status %d", p.status)
	}
}
