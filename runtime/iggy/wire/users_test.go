package wire

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"
)

// The permissions block byte for byte as the official encoder (binary_protocol
// primitives/permissions.rs) writes it: 10 global bools, has-streams, then per stream its id, 6
// bools, has-topics, the topics (id, 4 bools, has-next-topic) and has-next-stream.
func TestPermissionsLayout(t *testing.T) {
	p := Permissions{
		Global: GlobalPermissions{ReadServers: true, SendMessages: true},
		Streams: []StreamPermissions{
			{StreamID: 3, ReadStream: true, Topics: []TopicPermissions{{TopicID: 1, ReadTopic: true}, {TopicID: 2, SendMessages: true}}},
			{StreamID: 7, PollMessages: true},
		},
	}
	want := []byte{
		0, 1, 0, 0, 0, 0, 0, 0, 0, 1, // global
		1,          // has streams
		3, 0, 0, 0, // stream 3
		0, 1, 0, 0, 0, 0, // manage_stream read_stream manage_topics read_topics poll send
		1,                         // has topics
		1, 0, 0, 0, 0, 1, 0, 0, 1, // topic 1: read_topic, has next
		2, 0, 0, 0, 0, 0, 0, 1, 0, // topic 2: send_messages, last
		1,          // has next stream
		7, 0, 0, 0, // stream 7
		0, 0, 0, 0, 1, 0, // poll_messages
		0, // no topics
		0, // last stream
	}
	got := p.Append(nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("permissions\n got %v\nwant %v", got, want)
	}
	var back Permissions
	if err := back.Decode(got); err != nil || !reflect.DeepEqual(back, p) {
		t.Fatalf("decode: %+v %v", back, err)
	}
}

func TestUserLayoutsRoundTrip(t *testing.T) {
	perms := &Permissions{Global: GlobalPermissions{ManageUsers: true}, Streams: []StreamPermissions{{StreamID: 1, SendMessages: true}}}
	cu := CreateUserRequest{Username: "alice", Password: "secret", Status: UserActive, Permissions: perms, Options: []Header{StringHeader("k", "v")}}
	var cu2 CreateUserRequest
	if err := cu2.Decode(cu.Append(nil)); err != nil || !reflect.DeepEqual(cu2, cu) {
		t.Fatalf("create user: %+v %v", cu2, err)
	}
	// Without permissions: [has 0] and no length.
	if b := (&CreateUserRequest{Username: "bob", Password: "pw", Status: 1}).Append(nil); !bytes.Equal(b, []byte{3, 'b', 'o', 'b', 2, 'p', 'w', 1, 0}) {
		t.Fatalf("create user without permissions: %v", b)
	}
	for _, d := range []UserDetails{
		{UserInfo: UserInfo{ID: 4, CreatedAt: 99, Status: UserInactive, Username: "carol"}, Permissions: perms},
		{UserInfo: UserInfo{ID: 5, CreatedAt: 1, Status: UserActive, Username: "dave"}},
	} {
		b := d.Append(nil)
		if d.Permissions == nil && !bytes.HasSuffix(b, []byte{0, 0, 0, 0}) {
			t.Fatalf("details without permissions end in %v, want a u32 zero", b[len(b)-4:])
		}
		var d2 UserDetails
		if err := d2.Decode(b); err != nil || !reflect.DeepEqual(d2, d) {
			t.Fatalf("user details: %+v %v", d2, err)
		}
	}
	uu := UpdateUserRequest{User: NamedID("bob"), Username: "robert", Status: UserInactive}
	var uu2 UpdateUserRequest
	if err := uu2.Decode(uu.Append(nil)); err != nil || !reflect.DeepEqual(uu2, uu) {
		t.Fatalf("update user: %+v %v", uu2, err)
	}
	up := UpdatePermissionsRequest{User: NumericID(2), Permissions: perms}
	var up2 UpdatePermissionsRequest
	if err := up2.Decode(up.Append(nil)); err != nil || !reflect.DeepEqual(up2, up) {
		t.Fatalf("update permissions: %+v %v", up2, err)
	}
	ds := []OptionDescriptor{{Key: "segment_size", Kind: KindUint64, Default: []byte{0, 0, 0, 64, 0, 0, 0, 0}, Description: "Segment size"}}
	ds2, err := DecodeOptionDescriptors(AppendOptionDescriptors(nil, ds))
	if err != nil || !reflect.DeepEqual(ds2, ds) {
		t.Fatalf("option descriptors: %+v %v", ds2, err)
	}
}

// The decoders never panic, whatever the bytes (they are fed to the server by any client).
func TestUserDecodersNeverPanic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	seeds := [][]byte{
		(&CreateUserRequest{Username: "alice", Password: "pw", Status: 1, Permissions: AllPermissions()}).Append(nil),
		(&UpdatePermissionsRequest{User: NamedID("x"), Permissions: &Permissions{Streams: []StreamPermissions{{StreamID: 1, Topics: []TopicPermissions{{TopicID: 2}}}}}}).Append(nil),
	}
	for i := 0; i < 20000; i++ {
		b := bytes.Clone(seeds[i%len(seeds)])
		for j := rng.IntN(4); j >= 0; j-- {
			b[rng.IntN(len(b))] = byte(rng.Uint32())
		}
		b = b[:rng.IntN(len(b)+1)]
		var cu CreateUserRequest
		var up UpdatePermissionsRequest
		var ud UserDetails
		var uu UpdateUserRequest
		var cp ChangePasswordRequest
		_, _ = cu.Decode(b), up.Decode(b)
		_, _, _ = ud.Decode(b), uu.Decode(b), cp.Decode(b)
		_, _ = DecodeUsers(b)
		_, _ = DecodeClients(b)
		_, _ = DecodeOptionDescriptors(b)
	}
}
