package wire

// Layouts of the user-management, client-listing, option-catalog, stream/topic update and segment
// commands, as the official server (apache/iggy core/binary_protocol) encodes them. The spec lists
// these codes without their bodies; see docs/iggy-protocol-notes.md.

// Command codes not in codes.go.
const (
	CodeGetSnapshotFile uint32 = 11
	CodeGetClient       uint32 = 21
	CodeGetClients      uint32 = 22
)

// Error codes of the official server not in codes.go.
const (
	ErrCodeCannotDeleteUser        uint32 = 48
	ErrCodeCannotChangePermissions uint32 = 49
	ErrCodeInvalidTopicSize        uint32 = 1019
	ErrCodeConsumerOffsetNotFound  uint32 = 3021
	ErrCodeSnapshotFailed          uint32 = 9000 // SnapshotFileCompletionFailed
)

// User statuses (UserStatus codes).
const (
	UserActive   uint8 = 1
	UserInactive uint8 = 2
)

// Options scopes of DescribeOptions (13).
const (
	OptionsScopeTopic  uint8 = 1
	OptionsScopeStream uint8 = 2
	OptionsScopeUser   uint8 = 3
)

// GlobalPermissions are a user's server-wide grants (10 bools on the wire, in this order).
type GlobalPermissions struct {
	ManageServers bool `json:"manage_servers,omitempty"`
	ReadServers   bool `json:"read_servers,omitempty"`
	ManageUsers   bool `json:"manage_users,omitempty"`
	ReadUsers     bool `json:"read_users,omitempty"`
	ManageStreams bool `json:"manage_streams,omitempty"`
	ReadStreams   bool `json:"read_streams,omitempty"`
	ManageTopics  bool `json:"manage_topics,omitempty"`
	ReadTopics    bool `json:"read_topics,omitempty"`
	PollMessages  bool `json:"poll_messages,omitempty"`
	SendMessages  bool `json:"send_messages,omitempty"`
}

// TopicPermissions are a user's grants on one topic of a stream.
type TopicPermissions struct {
	TopicID      uint32 `json:"topic_id"`
	ManageTopic  bool   `json:"manage_topic,omitempty"`
	ReadTopic    bool   `json:"read_topic,omitempty"`
	PollMessages bool   `json:"poll_messages,omitempty"`
	SendMessages bool   `json:"send_messages,omitempty"`
}

// StreamPermissions are a user's grants on one stream (by numeric id) and its topics.
type StreamPermissions struct {
	StreamID     uint32             `json:"stream_id"`
	ManageStream bool               `json:"manage_stream,omitempty"`
	ReadStream   bool               `json:"read_stream,omitempty"`
	ManageTopics bool               `json:"manage_topics,omitempty"`
	ReadTopics   bool               `json:"read_topics,omitempty"`
	PollMessages bool               `json:"poll_messages,omitempty"`
	SendMessages bool               `json:"send_messages,omitempty"`
	Topics       []TopicPermissions `json:"topics,omitempty"`
}

// Permissions is the permissions block: global grants, then a has-next linked list of streams,
// each with a has-next linked list of topics.
type Permissions struct {
	Global  GlobalPermissions   `json:"global"`
	Streams []StreamPermissions `json:"streams,omitempty"`
}

// AllPermissions returns every global grant (what the root user holds).
func AllPermissions() *Permissions {
	return &Permissions{Global: GlobalPermissions{true, true, true, true, true, true, true, true, true, true}}
}

// Append appends the permissions block.
func (p *Permissions) Append(b []byte) []byte {
	g := &p.Global
	for _, v := range []bool{g.ManageServers, g.ReadServers, g.ManageUsers, g.ReadUsers, g.ManageStreams,
		g.ReadStreams, g.ManageTopics, g.ReadTopics, g.PollMessages, g.SendMessages} {
		b = appendBool(b, v)
	}
	b = appendBool(b, len(p.Streams) > 0)
	for i, s := range p.Streams {
		b = appendU32(b, s.StreamID)
		for _, v := range []bool{s.ManageStream, s.ReadStream, s.ManageTopics, s.ReadTopics, s.PollMessages, s.SendMessages} {
			b = appendBool(b, v)
		}
		b = appendBool(b, len(s.Topics) > 0)
		for j, t := range s.Topics {
			b = appendU32(b, t.TopicID)
			for _, v := range []bool{t.ManageTopic, t.ReadTopic, t.PollMessages, t.SendMessages} {
				b = appendBool(b, v)
			}
			b = appendBool(b, j < len(s.Topics)-1)
		}
		b = appendBool(b, i < len(p.Streams)-1)
	}
	return b
}

func readBool(r *Reader, field string) bool { return r.U8(field) != 0 }

// maxPermissionEntries bounds the linked lists a decoder follows (a malformed block cannot loop).
const maxPermissionEntries = 1 << 16

func readPermissions(r *Reader) Permissions {
	var p Permissions
	g := &p.Global
	for _, v := range []*bool{&g.ManageServers, &g.ReadServers, &g.ManageUsers, &g.ReadUsers, &g.ManageStreams,
		&g.ReadStreams, &g.ManageTopics, &g.ReadTopics, &g.PollMessages, &g.SendMessages} {
		*v = readBool(r, "global permission")
	}
	for more := readBool(r, "has streams"); more && r.err == nil; more = readBool(r, "has next stream") {
		if len(p.Streams) == maxPermissionEntries {
			r.Fail("stream permissions", "more than %d entries", maxPermissionEntries)
			break
		}
		s := StreamPermissions{StreamID: r.U32("stream_id")}
		for _, v := range []*bool{&s.ManageStream, &s.ReadStream, &s.ManageTopics, &s.ReadTopics, &s.PollMessages, &s.SendMessages} {
			*v = readBool(r, "stream permission")
		}
		for tmore := readBool(r, "has topics"); tmore && r.err == nil; tmore = readBool(r, "has next topic") {
			if len(s.Topics) == maxPermissionEntries {
				r.Fail("topic permissions", "more than %d entries", maxPermissionEntries)
				break
			}
			t := TopicPermissions{TopicID: r.U32("topic_id")}
			for _, v := range []*bool{&t.ManageTopic, &t.ReadTopic, &t.PollMessages, &t.SendMessages} {
				*v = readBool(r, "topic permission")
			}
			s.Topics = append(s.Topics, t)
		}
		p.Streams = append(p.Streams, s)
	}
	return p
}

// Decode decodes a complete permissions block.
func (p *Permissions) Decode(b []byte) error {
	r := Reader{b: b}
	*p = readPermissions(&r)
	return r.Done("permissions")
}

// appendOptPermissions appends [has u8][len u32][block] (request form).
func appendOptPermissions(b []byte, p *Permissions) []byte {
	if p == nil {
		return append(b, 0)
	}
	block := p.Append(nil)
	return append(appendU32(append(b, 1), uint32(len(block))), block...)
}

func readOptPermissions(r *Reader) *Permissions {
	if r.U8("has permissions") != 1 || r.err != nil {
		return nil
	}
	n := r.U32("permissions length")
	raw := r.Bytes(int(min(n, 1<<24)), "permissions")
	if r.err != nil {
		return nil
	}
	var p Permissions
	if err := p.Decode(raw); err != nil {
		r.Fail("permissions", "%v", err)
		return nil
	}
	return &p
}

// readOptionsTail decodes the rest of r as an options TLV into dst (after r's first error, returns it).
func readOptionsTail(r *Reader, dst *[]Header) error {
	if r.err != nil {
		return r.err
	}
	var err error
	*dst, err = DecodeHeaders(r.Rest(), nil)
	return err
}

// UserRef carries one user identifier (GetUser 31, DeleteUser 34).
type UserRef struct{ User Identifier }

// Append appends the body.
func (q *UserRef) Append(b []byte) []byte { return AppendIdentifier(b, q.User) }

// Decode decodes the body.
func (q *UserRef) Decode(b []byte) error {
	r := Reader{b: b}
	q.User = ReadIdentifier(&r, "user_id")
	return r.Done("user request")
}

// CreateUserRequest is CreateUser (33): `[username name][password u8 len + bytes][status u8]
// [has_permissions u8]([len u32][permissions])[options TLV to end]`.
type CreateUserRequest struct {
	Username    string
	Password    string
	Status      uint8
	Permissions *Permissions // nil: none
	Options     []Header
}

// Append appends the body.
func (q *CreateUserRequest) Append(b []byte) []byte {
	b = appendName(b, q.Username)
	b = append(append(b, byte(len(q.Password))), q.Password...)
	b = appendOptPermissions(append(b, q.Status), q.Permissions)
	return AppendHeaders(b, q.Options)
}

// Decode decodes the body.
func (q *CreateUserRequest) Decode(b []byte) error {
	r := Reader{b: b}
	q.Username = r.Name("username")
	q.Password = string(r.Bytes(int(r.U8("password length")), "password"))
	q.Status = r.U8("status")
	q.Permissions = readOptPermissions(&r)
	return readOptionsTail(&r, &q.Options)
}

// UpdateUserRequest is UpdateUser (35): `[user_id][has_username u8]([name])[has_status u8]
// ([status u8])[options TLV to end]`. Empty Username and zero Status mean "unchanged".
type UpdateUserRequest struct {
	User     Identifier
	Username string
	Status   uint8
	Options  []Header
}

// Append appends the body.
func (q *UpdateUserRequest) Append(b []byte) []byte {
	b = AppendIdentifier(b, q.User)
	if q.Username != "" {
		b = appendName(append(b, 1), q.Username)
	} else {
		b = append(b, 0)
	}
	if q.Status != 0 {
		b = append(b, 1, q.Status)
	} else {
		b = append(b, 0)
	}
	return AppendHeaders(b, q.Options)
}

// Decode decodes the body.
func (q *UpdateUserRequest) Decode(b []byte) error {
	r := Reader{b: b}
	q.User = ReadIdentifier(&r, "user_id")
	if r.U8("has username") == 1 {
		q.Username = r.Name("username")
	}
	if r.U8("has status") == 1 {
		q.Status = r.U8("status")
	}
	return readOptionsTail(&r, &q.Options)
}

// ChangePasswordRequest is ChangePassword (37): `[user_id][current u8 len + bytes][new u8 len + bytes]`.
type ChangePasswordRequest struct {
	User            Identifier
	CurrentPassword string
	NewPassword     string
}

// Append appends the body.
func (q *ChangePasswordRequest) Append(b []byte) []byte {
	b = AppendIdentifier(b, q.User)
	b = append(append(b, byte(len(q.CurrentPassword))), q.CurrentPassword...)
	return append(append(b, byte(len(q.NewPassword))), q.NewPassword...)
}

// Decode decodes the body.
func (q *ChangePasswordRequest) Decode(b []byte) error {
	r := Reader{b: b}
	q.User = ReadIdentifier(&r, "user_id")
	q.CurrentPassword = string(r.Bytes(int(r.U8("current password length")), "current password"))
	q.NewPassword = string(r.Bytes(int(r.U8("new password length")), "new password"))
	return r.Done("change password request")
}

// UpdatePermissionsRequest is UpdatePermissions (36): `[user_id][has u8]([len u32][permissions])`.
// A nil Permissions removes every grant.
type UpdatePermissionsRequest struct {
	User        Identifier
	Permissions *Permissions
}

// Append appends the body.
func (q *UpdatePermissionsRequest) Append(b []byte) []byte {
	return appendOptPermissions(AppendIdentifier(b, q.User), q.Permissions)
}

// Decode decodes the body.
func (q *UpdatePermissionsRequest) Decode(b []byte) error {
	r := Reader{b: b}
	q.User = ReadIdentifier(&r, "user_id")
	q.Permissions = readOptPermissions(&r)
	return r.Done("update permissions request")
}

// UserInfo is a UserResponse: `[id u32][created_at u64][status u8][username name][options_len u32][options]`.
type UserInfo struct {
	ID        uint32
	CreatedAt uint64
	Status    uint8
	Username  string
	Options   []Header
}

// Append appends the user.
func (u *UserInfo) Append(b []byte) []byte {
	b = append(appendU64(appendU32(b, u.ID), u.CreatedAt), u.Status)
	return appendOptions(appendName(b, u.Username), u.Options)
}

func readUserInfo(r *Reader) UserInfo {
	return UserInfo{ID: r.U32("user id"), CreatedAt: r.U64("user created_at"), Status: r.U8("user status"),
		Username: r.Name("username"), Options: readOptions(r, "user options")}
}

// UserDetails is a GetUser / CreateUser reply: the UserInfo, then `[1][len u32][permissions]` or
// a u32 zero when the user has no permissions.
type UserDetails struct {
	UserInfo
	Permissions *Permissions
}

// Append appends the reply.
func (u *UserDetails) Append(b []byte) []byte {
	b = u.UserInfo.Append(b)
	if u.Permissions == nil {
		return appendU32(b, 0)
	}
	return appendOptPermissions(b, u.Permissions)
}

// Decode decodes the reply.
func (u *UserDetails) Decode(b []byte) error {
	r := Reader{b: b}
	u.UserInfo = readUserInfo(&r)
	if r.U8("has permissions") == 0 {
		r.Bytes(3, "permissions padding")
		u.Permissions = nil
		return r.Done("user details")
	}
	n := r.U32("permissions length")
	raw := r.Bytes(int(min(n, 1<<24)), "permissions")
	if r.err != nil {
		return r.err
	}
	var p Permissions
	if err := p.Decode(raw); err != nil {
		return err
	}
	u.Permissions = &p
	return r.Done("user details")
}

// AppendUsers appends a GetUsers (32) reply: UserInfo repeated to the end of the body.
func AppendUsers(b []byte, us []UserInfo) []byte {
	for i := range us {
		b = us[i].Append(b)
	}
	return b
}

// DecodeUsers decodes a GetUsers reply.
func DecodeUsers(b []byte) ([]UserInfo, error) {
	r := Reader{b: b}
	var out []UserInfo
	for r.Len() > 0 && r.err == nil {
		out = append(out, readUserInfo(&r))
	}
	return out, r.err
}

// AppendClients appends a GetClients (22) reply: per client `[client_id u32][user_id u32]
// [transport u8][address_len u32][address][consumer_groups_count u32]` (no group list), repeated.
func AppendClients(b []byte, cs []ClientInfo) []byte {
	for _, c := range cs {
		b = append(appendU32(appendU32(b, c.ClientID), c.UserID), c.Transport)
		b = appendU32(appendStr32(b, c.Address), uint32(len(c.Groups)))
	}
	return b
}

// ClientSummary is one entry of a GetClients reply.
type ClientSummary struct {
	ClientID, UserID uint32
	Transport        uint8
	Address          string
	GroupsCount      uint32
}

// DecodeClients decodes a GetClients reply.
func DecodeClients(b []byte) ([]ClientSummary, error) {
	r := Reader{b: b}
	var out []ClientSummary
	for r.Len() > 0 && r.err == nil {
		out = append(out, ClientSummary{ClientID: r.U32("client_id"), UserID: r.U32("user_id"), Transport: r.U8("transport"),
			Address: r.Str32("address", 1024), GroupsCount: r.U32("consumer_groups_count")})
	}
	return out, r.err
}

// UpdateStreamRequest is UpdateStream (204): `[stream_id][name][options TLV to end]`.
type UpdateStreamRequest struct {
	Stream  Identifier
	Name    string
	Options []Header
}

// Append appends the body.
func (q *UpdateStreamRequest) Append(b []byte) []byte {
	return AppendHeaders(appendName(AppendIdentifier(b, q.Stream), q.Name), q.Options)
}

// Decode decodes the body.
func (q *UpdateStreamRequest) Decode(b []byte) error {
	r := Reader{b: b}
	q.Stream = ReadIdentifier(&r, "stream_id")
	q.Name = r.Name("stream name")
	return readOptionsTail(&r, &q.Options)
}

// UpdateTopicRequest is UpdateTopic (304): `[stream_id][topic_id][name][options TLV to end]`.
type UpdateTopicRequest struct {
	Stream, Topic Identifier
	Name          string
	Options       []Header
}

// Append appends the body.
func (q *UpdateTopicRequest) Append(b []byte) []byte {
	b = AppendIdentifier(AppendIdentifier(b, q.Stream), q.Topic)
	return AppendHeaders(appendName(b, q.Name), q.Options)
}

// Decode decodes the body.
func (q *UpdateTopicRequest) Decode(b []byte) error {
	r := Reader{b: b}
	q.Stream = ReadIdentifier(&r, "stream_id")
	q.Topic = ReadIdentifier(&r, "topic_id")
	q.Name = r.Name("topic name")
	return readOptionsTail(&r, &q.Options)
}

// DeleteSegmentsRequest is DeleteSegments (503): `[stream_id][topic_id][partition_id u32][segments_count u32]`.
type DeleteSegmentsRequest struct {
	Stream, Topic Identifier
	PartitionID   uint32
	Count         uint32
}

// Append appends the body.
func (q *DeleteSegmentsRequest) Append(b []byte) []byte {
	b = AppendIdentifier(AppendIdentifier(b, q.Stream), q.Topic)
	return appendU32(appendU32(b, q.PartitionID), q.Count)
}

// Decode decodes the body.
func (q *DeleteSegmentsRequest) Decode(b []byte) error {
	r := Reader{b: b}
	q.Stream = ReadIdentifier(&r, "stream_id")
	q.Topic = ReadIdentifier(&r, "topic_id")
	q.PartitionID = r.U32("partition_id")
	q.Count = r.U32("segments_count")
	return r.Done("delete segments request")
}

// OptionDescriptor is one entry of a DescribeOptions (13) reply: `[key name][kind u8]
// [default_len u32][default][description_len u32][description]`; the reply is `[count u32]` then
// the entries. The request body is the scope byte (OptionsScope*).
type OptionDescriptor struct {
	Key         string
	Kind        uint8
	Default     []byte
	Description string
}

// AppendOptionDescriptors appends a DescribeOptions reply.
func AppendOptionDescriptors(b []byte, ds []OptionDescriptor) []byte {
	b = appendU32(b, uint32(len(ds)))
	for _, d := range ds {
		b = append(appendName(b, d.Key), d.Kind)
		b = append(appendU32(b, uint32(len(d.Default))), d.Default...)
		b = appendStr32(b, d.Description)
	}
	return b
}

// DecodeOptionDescriptors decodes a DescribeOptions reply.
func DecodeOptionDescriptors(b []byte) ([]OptionDescriptor, error) {
	r := Reader{b: b}
	n := r.U32("options count")
	var out []OptionDescriptor
	for i := uint32(0); i < n && r.err == nil; i++ {
		d := OptionDescriptor{Key: r.Name("option key"), Kind: r.U8("option kind")}
		d.Default = r.Bytes(int(min(r.U32("default length"), 1<<20)), "default value")
		d.Description = r.Str32("description", 1<<20)
		out = append(out, d)
	}
	return out, r.Done("describe options reply")
}
