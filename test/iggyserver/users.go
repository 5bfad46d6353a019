package iggyserver

import (
	"sort"

	"github.com/iggy-go/connectors/runtime/iggy/wire"
)

// rootUserID is the root user's id; root is not deletable and its permissions are fixed.
const rootUserID = 0

// Username and password bounds of the official server (InvalidUsername 43 / InvalidPassword 44).
const (
	minUsernameLen, maxUsernameLen = 3, 50
	minPasswordLen, maxPasswordLen = 3, 100
)

// user is one account (Server.mu). Passwords are kept as SHA-256 hashes.
type user struct {
	ID          uint32            `json:"id"`
	Username    string            `json:"username"`
	Hash        string            `json:"sha256"`
	Status      uint8             `json:"status"`
	CreatedAt   uint64            `json:"created_at"`
	Permissions *wire.Permissions `json:"permissions,omitempty"`
}

// ensureUsers puts the root user and the configured users (Config.Users, every global
// permission) in place after loading: their passwords come from the configuration on every start.
func (st *state) ensureUsers(cfg Config) {
	if st.users == nil {
		st.users = map[uint32]*user{}
	}
	root := st.users[rootUserID]
	if root == nil {
		root = &user{ID: rootUserID, Status: wire.UserActive, CreatedAt: 1}
		st.users[rootUserID] = root
	}
	root.Username, root.Hash, root.Permissions = cfg.RootUsername, tokenHash(cfg.RootPassword), wire.AllPermissions()
	names := make([]string, 0, len(cfg.Users))
	for n := range cfg.Users {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		u := st.findUser(wire.NamedID(n))
		if u == nil {
			u = &user{ID: freeID(st.users), Username: n, Status: wire.UserActive, CreatedAt: nowMicros(), Permissions: wire.AllPermissions()}
			st.users[u.ID] = u
		}
		u.Hash = tokenHash(cfg.Users[n])
	}
}

func (st *state) findUser(id wire.Identifier) *user {
	if id.Kind == wire.IDNumeric {
		return st.users[id.Num]
	}
	for _, u := range st.users {
		if u.Username == id.Str {
			return u
		}
	}
	return nil
}

// targetUser resolves the user a command names; a missing one is result 20 ResourceNotFound.
func (st *state) targetUser(id wire.Identifier) (*user, error) {
	if u := st.findUser(id); u != nil {
		return u, nil
	}
	return nil, resultErr(wire.ErrCodeResourceNotFound, "user %v not found", id)
}

// managedUser is the start of a user-management command: the caller needs manage_users (result
// 41), the target must exist (result 20) and, when rootCode is not 0, must not be root (result
// rootCode).
func (st *state) managedUser(p *wire.Permissions, id wire.Identifier, what string, rootCode uint32) (*user, error) {
	if !canManageUsers(p) {
		return nil, deny(true, "%s needs manage_users", what)
	}
	u, err := st.targetUser(id)
	if err != nil {
		return nil, err
	}
	if rootCode != 0 && u.ID == rootUserID {
		return nil, resultErr(rootCode, "%s: not allowed for the root user", what)
	}
	return u, nil
}

func (u *user) info() wire.UserInfo {
	return wire.UserInfo{ID: u.ID, CreatedAt: u.CreatedAt, Status: u.Status, Username: u.Username}
}

func sortedUsers(m map[uint32]*user) []*user {
	out := make([]*user, 0, len(m))
	for _, u := range m {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// The permission rules below are those of the official server's permissioner
// (core/metadata/src/permissioner): a grant implies the ones below it (manage_streams >
// read_streams > read_topics > poll_messages; manage_streams > manage_topics > send_messages), and
// stream- and topic-level grants apply to their stream or topic only.

// perms returns the permissions of user uid (nil when it has none or does not exist).
func (st *state) perms(uid uint32) *wire.Permissions {
	if u := st.users[uid]; u != nil {
		return u.Permissions
	}
	return nil
}

func streamPerms(p *wire.Permissions, sid uint32) *wire.StreamPermissions {
	for i := range p.Streams {
		if p.Streams[i].StreamID == sid {
			return &p.Streams[i]
		}
	}
	return nil
}

func topicPerms(sp *wire.StreamPermissions, tid uint32) *wire.TopicPermissions {
	for i := range sp.Topics {
		if sp.Topics[i].TopicID == tid {
			return &sp.Topics[i]
		}
	}
	return nil
}

func canPoll(p *wire.Permissions, sid, tid uint32) bool {
	if p == nil {
		return false
	}
	g := p.Global
	if g.PollMessages || g.ReadTopics || g.ManageTopics || g.ReadStreams || g.ManageStreams {
		return true
	}
	sp := streamPerms(p, sid)
	if sp == nil {
		return false
	}
	if sp.PollMessages || sp.ManageStream || sp.ReadStream || sp.ManageTopics || sp.ReadTopics {
		return true
	}
	tp := topicPerms(sp, tid)
	return tp != nil && (tp.ManageTopic || tp.ReadTopic || tp.PollMessages)
}

func canSend(p *wire.Permissions, sid, tid uint32) bool {
	if p == nil {
		return false
	}
	g := p.Global
	if g.SendMessages || g.ManageStreams || g.ManageTopics {
		return true
	}
	sp := streamPerms(p, sid)
	if sp == nil {
		return false
	}
	if sp.SendMessages || sp.ManageStream || sp.ManageTopics {
		return true
	}
	tp := topicPerms(sp, tid)
	return tp != nil && (tp.ManageTopic || tp.SendMessages)
}

func canReadStream(p *wire.Permissions, sid uint32) bool {
	if p == nil {
		return false
	}
	if p.Global.ManageStreams || p.Global.ReadStreams {
		return true
	}
	sp := streamPerms(p, sid)
	return sp != nil && (sp.ManageStream || sp.ReadStream)
}

func canReadStreams(p *wire.Permissions) bool {
	return p != nil && (p.Global.ManageStreams || p.Global.ReadStreams)
}

func canCreateStream(p *wire.Permissions) bool { return p != nil && p.Global.ManageStreams }

func canManageStream(p *wire.Permissions, sid uint32) bool {
	if p == nil {
		return false
	}
	if p.Global.ManageStreams {
		return true
	}
	sp := streamPerms(p, sid)
	return sp != nil && sp.ManageStream
}

// canReadTopic also rules consumer-group reads, create, delete, join and leave.
func canReadTopic(p *wire.Permissions, sid, tid uint32) bool {
	if p == nil {
		return false
	}
	g := p.Global
	if g.ReadStreams || g.ManageStreams || g.ManageTopics || g.ReadTopics {
		return true
	}
	sp := streamPerms(p, sid)
	if sp == nil {
		return false
	}
	if sp.ManageStream || sp.ReadStream || sp.ManageTopics || sp.ReadTopics {
		return true
	}
	tp := topicPerms(sp, tid)
	return tp != nil && (tp.ManageTopic || tp.ReadTopic)
}

func canReadTopics(p *wire.Permissions, sid uint32) bool {
	if p == nil {
		return false
	}
	g := p.Global
	if g.ReadStreams || g.ManageStreams || g.ManageTopics || g.ReadTopics {
		return true
	}
	sp := streamPerms(p, sid)
	return sp != nil && (sp.ManageStream || sp.ReadStream || sp.ManageTopics || sp.ReadTopics)
}

func canCreateTopic(p *wire.Permissions, sid uint32) bool {
	if p == nil {
		return false
	}
	if p.Global.ManageStreams || p.Global.ManageTopics {
		return true
	}
	sp := streamPerms(p, sid)
	return sp != nil && (sp.ManageStream || sp.ManageTopics)
}

// canManageTopic rules topic update, delete and purge, partitions and segments.
func canManageTopic(p *wire.Permissions, sid, tid uint32) bool {
	if p == nil {
		return false
	}
	if p.Global.ManageStreams || p.Global.ManageTopics {
		return true
	}
	sp := streamPerms(p, sid)
	if sp == nil {
		return false
	}
	if sp.ManageStream || sp.ManageTopics {
		return true
	}
	tp := topicPerms(sp, tid)
	return tp != nil && tp.ManageTopic
}

func canReadServer(p *wire.Permissions) bool {
	return p != nil && (p.Global.ManageServers || p.Global.ReadServers)
}

func canReadUsers(p *wire.Permissions) bool {
	return p != nil && (p.Global.ManageUsers || p.Global.ReadUsers)
}

func canManageUsers(p *wire.Permissions) bool { return p != nil && p.Global.ManageUsers }

// deny is the Unauthorized rejection: in the result section for metadata operations (the
// official server decides them when it applies the command), in the header status otherwise.
func deny(result bool, format string, a ...any) error {
	if result {
		return resultErr(wire.ErrCodeUnauthorized, format, a...)
	}
	return statusErr(wire.ErrCodeUnauthorized, format, a...)
}

// userCommand runs the user-management commands (31..37); Server.mu held.
func (c *conn) userCommand(code uint32, body, out []byte) ([]byte, error) {
	s := c.s
	st := s.st
	p := st.perms(c.userID)
	switch code {
	case wire.CodeGetUser:
		var q wire.UserRef
		if err := q.Decode(body); err != nil {
			return nil, badBody(err)
		}
		u := st.findUser(q.User)
		if u == nil {
			return out, nil
		}
		if u.ID != c.userID && !canReadUsers(p) {
			return nil, deny(false, "reading user %q needs read_users", u.Username)
		}
		d := wire.UserDetails{UserInfo: u.info(), Permissions: u.Permissions}
		return d.Append(out), nil
	case wire.CodeGetUsers:
		if !canReadUsers(p) {
			return nil, deny(false, "listing users needs read_users")
		}
		var us []wire.UserInfo
		for _, u := range sortedUsers(st.users) {
			us = append(us, u.info())
		}
		return wire.AppendUsers(out, us), nil
	case wire.CodeCreateUser:
		var q wire.CreateUserRequest
		if err := q.Decode(body); err != nil {
			return nil, badBody(err)
		}
		if len(q.Options) > 0 {
			return nil, statusErr(wire.ErrCodeUnsupportedOptionKey, "users have no options (got %q)", q.Options[0].Key)
		}
		if !canManageUsers(p) {
			return nil, deny(true, "creating users needs manage_users")
		}
		if n := len(q.Username); n < minUsernameLen || n > maxUsernameLen {
			return nil, resultErr(wire.ErrCodeInvalidUsername, "username of %d bytes (allowed %d..%d)", n, minUsernameLen, maxUsernameLen)
		}
		if n := len(q.Password); n < minPasswordLen || n > maxPasswordLen {
			return nil, statusErr(wire.ErrCodeInvalidPassword, "password of %d bytes (allowed %d..%d)", n, minPasswordLen, maxPasswordLen)
		}
		if st.findUser(wire.NamedID(q.Username)) != nil {
			return nil, resultErr(wire.ErrCodeUserAlreadyExists, "user %q exists", q.Username)
		}
		status := q.Status
		if status != wire.UserActive && status != wire.UserInactive {
			status = wire.UserActive
		}
		u := &user{ID: freeID(st.users), Username: q.Username, Hash: tokenHash(q.Password), Status: status,
			CreatedAt: nowMicros(), Permissions: q.Permissions}
		st.users[u.ID] = u
		s.log.Info("user created", "username", u.Username, "id", u.ID)
		d := wire.UserDetails{UserInfo: u.info(), Permissions: u.Permissions}
		d.Status = q.Status // the reply echoes the request's status byte, as the official server does
		return s.commitMeta(d.Append(out))
	case wire.CodeUpdateUser:
		var q wire.UpdateUserRequest
		if err := q.Decode(body); err != nil {
			return nil, badBody(err)
		}
		if len(q.Options) > 0 {
			return nil, statusErr(wire.ErrCodeUnsupportedOptionKey, "users have no updatable options (got %q)", q.Options[0].Key)
		}
		u, err := st.managedUser(p, q.User, "updating users", 0)
		if err != nil {
			return nil, err
		}
		if q.Username != "" {
			if n := len(q.Username); n < minUsernameLen || n > maxUsernameLen {
				return nil, resultErr(wire.ErrCodeInvalidUsername, "username of %d bytes (allowed %d..%d)", n, minUsernameLen, maxUsernameLen)
			}
			if o := st.findUser(wire.NamedID(q.Username)); o != nil && o.ID != u.ID {
				return nil, resultErr(wire.ErrCodeUserAlreadyExists, "user %q exists", q.Username)
			}
			u.Username = q.Username
		}
		if q.Status == wire.UserActive || q.Status == wire.UserInactive {
			u.Status = q.Status
		}
		return s.commitMeta(out)
	case wire.CodeDeleteUser:
		var q wire.UserRef
		if err := q.Decode(body); err != nil {
			return nil, badBody(err)
		}
		u, err := st.managedUser(p, q.User, "deleting users", wire.ErrCodeCannotDeleteUser)
		if err != nil {
			return nil, err
		}
		delete(st.users, u.ID)
		kept := st.meta.Tokens[:0]
		for _, t := range st.meta.Tokens {
			if t.UserID != u.ID {
				kept = append(kept, t)
			}
		}
		st.meta.Tokens = kept
		s.log.Info("user deleted", "username", u.Username, "id", u.ID)
		return s.commitMeta(out)
	case wire.CodeChangePassword:
		var q wire.ChangePasswordRequest
		if err := q.Decode(body); err != nil {
			return nil, badBody(err)
		}
		u, err := st.targetUser(q.User)
		if err != nil {
			return nil, err
		}
		if u.ID != c.userID && !canManageUsers(p) {
			return nil, deny(true, "changing another user's password needs manage_users")
		}
		if n := len(q.NewPassword); n < minPasswordLen || n > maxPasswordLen {
			return nil, statusErr(wire.ErrCodeInvalidPassword, "new password of %d bytes (allowed %d..%d)", n, minPasswordLen, maxPasswordLen)
		}
		if tokenHash(q.CurrentPassword) != u.Hash {
			return nil, resultErr(wire.ErrCodeInvalidCredentials, "current password of %q does not match", u.Username)
		}
		u.Hash = tokenHash(q.NewPassword)
		return s.commitMeta(out)
	case wire.CodeUpdatePermissions:
		var q wire.UpdatePermissionsRequest
		if err := q.Decode(body); err != nil {
			return nil, badBody(err)
		}
		u, err := st.managedUser(p, q.User, "updating permissions", wire.ErrCodeCannotChangePermissions)
		if err != nil {
			return nil, err
		}
		u.Permissions = q.Permissions
		s.log.Info("user permissions updated", "username", u.Username, "id", u.ID)
		return s.commitMeta(out)
	}
	return nil, statusErr(wire.ErrCodeInvalidCommand, "code %d", code)
}
