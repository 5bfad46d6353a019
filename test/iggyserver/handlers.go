package iggyserver

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy/wire"
)

func badBody(err error) error {
	return statusErr(wire.ErrCodeInvalidCommand, "undecodable body: %v", err)
}

// commitMeta persists metadata and returns out (or the persistence error as status 1).
func (s *Server) commitMeta(out []byte) ([]byte, error) {
	s.commit.Add(1)
	if err := s.st.save(); err != nil {
		s.log.Error("iggy-devserver: saving metadata failed", "err", err)
		return nil, statusErr(wire.ErrCodeError, "persisting metadata: %v", err)
	}
	return out, nil
}

// login handles Register: a password login, else a token login (spec 4: the code is not on the wire).
func (c *conn) login(h *wire.RequestHeader, body []byte) ([]byte, error) {
	s := c.s
	var pw wire.LoginRequest
	var pat wire.PATLoginRequest
	var version wire.ClientVersion
	var userID uint32
	pwErr := pw.Decode(body)
	switch {
	case pwErr == nil:
		version = pw.Version
		id, ok := s.checkPassword(pw.Username, pw.Password)
		if !ok {
			if pat.Decode(body) == nil && s.checkToken(pat.Token) {
				pwErr = errors.New("token")
				break
			}
			s.log.Warn("login failed: invalid credentials", "conn", c.id, "username", pw.Username)
			return nil, evictErr{wire.EvictInvalidCredentials}
		}
		userID = id
	}
	if pwErr != nil {
		if err := pat.Decode(body); err != nil {
			s.log.Warn("login failed: malformed body", "conn", c.id, "password_shape", pwErr, "token_shape", err)
			return nil, evictErr{wire.EvictMalformedLogin}
		}
		version = pat.Version
		s.mu.Lock()
		id, ok := s.tokenUser(pat.Token)
		u := s.st.users[id]
		s.mu.Unlock()
		if !ok {
			s.log.Warn("login failed: invalid personal access token", "conn", c.id)
			return nil, evictErr{wire.EvictInvalidToken}
		}
		if u.Status != wire.UserActive { // a valid token of an inactive user: reason 11 (official auth.rs)
			s.log.Warn("login failed: the token's user is inactive", "conn", c.id, "user", u.Username)
			return nil, evictErr{wire.EvictUserInactive}
		}
		userID = id
	}
	major, minor, patch := wire.UnpackVersion(version.Protocol)
	if major != 0 || minor != 11 {
		s.log.Warn("login refused: incompatible protocol version", "conn", c.id, "version", fmt.Sprintf("%d.%d.%d", major, minor, patch), "sdk", version.SDKName, "sdk_version", version.SDKVersion)
		return nil, evictErr{wire.EvictIncompatibleProtocol}
	}
	if !c.loggedIn {
		c.session = s.nextSess.Add(1)
		s.mu.Lock()
		c.loggedIn, c.userID, c.client = true, userID, h.Client
		s.st.meta.LastSession = c.session
		s.mu.Unlock()
	}
	s.log.Info("client logged in", "conn", c.id, "remote", c.remote, "user_id", c.userID, "session", c.session,
		"sdk", version.SDKName, "sdk_version", version.SDKVersion, "protocol", fmt.Sprintf("%d.%d.%d", major, minor, patch))
	out := c.begin(wire.OpRegister)
	lr := wire.LoginReply{UserID: c.userID, Session: c.session, ProtocolVersion: wire.ProtocolVersion, ServerVersion: Version}
	return lr.Append(out), nil
}

// checkPassword returns the id of the active user with that name and password.
func (s *Server) checkPassword(name, pass string) (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.st.findUser(wire.NamedID(name))
	if u == nil || u.Status != wire.UserActive || u.Hash != tokenHash(pass) {
		return 0, false
	}
	return u.ID, true
}

func (s *Server) checkToken(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.tokenUser(token)
	return ok
}

// tokenUser returns the owner of a valid, unexpired token, active or not (Server.mu held).
func (s *Server) tokenUser(token string) (uint32, bool) {
	h := tokenHash(token)
	now := nowMicros()
	for _, t := range s.st.meta.Tokens {
		if t.Hash == h && (t.Expiry == 0 || t.Expiry > now) {
			return t.UserID, s.st.users[t.UserID] != nil
		}
	}
	return 0, false
}

func (c *conn) logout() {
	s := c.s
	s.mu.Lock()
	s.leaveAllGroups(c)
	c.loggedIn = false
	s.mu.Unlock()
	c.lastMetaReq, c.lastReply = 0, nil
}

func (c *conn) createPAT(body, out []byte) ([]byte, error) {
	s := c.s
	var q wire.CreatePATRequest
	if err := q.Decode(body); err != nil {
		return nil, badBody(err)
	}
	for _, t := range s.st.meta.Tokens {
		if t.UserID == c.userID && t.Name == q.Name {
			return nil, resultErr(wire.ErrCodePATNameAlreadyExists, "personal access token %q", q.Name)
		}
	}
	var raw [32]byte
	rand.Read(raw[:])
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	var exp uint64
	if q.Expiry > 0 && q.Expiry < math.MaxUint64 {
		exp = nowMicros() + q.Expiry
	}
	s.st.meta.Tokens = append(s.st.meta.Tokens, metaToken{Name: q.Name, UserID: c.userID, Hash: tokenHash(token), Expiry: exp})
	rt := wire.RawToken{Token: token}
	return s.commitMeta(rt.Append(out))
}

func appendStreamOnly(out []byte, str *stream) []byte {
	w := streamHeader(str)
	return w.Append(out)
}

func streamHeader(str *stream) wire.Stream {
	var n, size uint64
	for _, t := range str.topics {
		tn, ts := t.messages()
		n, size = n+tn, size+ts
	}
	return wire.Stream{ID: str.id, CreatedAt: str.createdAt, TopicsCount: uint32(len(str.topics)), SizeBytes: size, MessagesCount: n, Name: str.name}
}

func (st *state) streamDetails(str *stream, out []byte) []byte {
	d := wire.StreamDetails{Stream: streamHeader(str)}
	for _, t := range sortedTopics(str.topics) {
		d.Topics = append(d.Topics, topicHeader(t))
	}
	return d.Append(out)
}

func topicHeader(t *topic) wire.Topic {
	n, size := t.messages()
	return wire.Topic{ID: t.id, CreatedAt: t.createdAt, PartitionsCount: uint32(len(t.partitions)), MessageExpiry: t.expiry,
		Compression: t.compression, MaxTopicSize: t.maxSize, SizeBytes: size, MessagesCount: n, Name: t.name, Options: t.options,
		DerivedOptions: derivedOptions(t.options)}
}

func topicDetails(t *topic, out []byte) []byte {
	d := wire.TopicDetails{Topic: topicHeader(t)}
	for _, p := range t.partitions {
		cur := uint64(0)
		if p.next > 0 {
			cur = p.next - 1
		}
		d.Partitions = append(d.Partitions, wire.Partition{ID: p.id, CreatedAt: p.createdAt, SegmentsCount: 1,
			CurrentOffset: cur, SizeBytes: p.sizeBytes, MessagesCount: p.next})
	}
	return d.Append(out)
}

func (c *conn) createStream(body, out []byte) ([]byte, error) {
	s := c.s
	var q wire.CreateStreamRequest
	if err := q.Decode(body); err != nil {
		return nil, badBody(err)
	}
	if len(q.Options) > 0 {
		return nil, statusErr(wire.ErrCodeUnsupportedOptionKey, "streams have no options (got %q)", q.Options[0].Key)
	}
	if !canCreateStream(s.st.perms(c.userID)) {
		return nil, deny(true, "creating streams needs manage_streams")
	}
	if s.st.findStream(wire.NamedID(q.Name)) != nil {
		return nil, resultErr(wire.ErrCodeStreamNameAlreadyExists, "stream %q exists", q.Name)
	}
	str := &stream{id: freeID(s.st.streams), name: q.Name, createdAt: nowMicros(), topics: map[uint32]*topic{}}
	s.st.streams[str.id] = str
	s.log.Info("stream created", "stream", q.Name, "id", str.id)
	return s.commitMeta(s.st.streamDetails(str, out))
}

// resolveTopic finds a topic; missing stream/topic give 1009/2010 (in the result section when
// result is true).
func (st *state) resolveTopic(sid, tid wire.Identifier, result bool) (*topic, error) {
	mk := statusErr
	if result {
		mk = resultErr
	}
	str := st.findStream(sid)
	if str == nil {
		return nil, mk(wire.ErrCodeStreamIDNotFound, "stream %v not found", sid)
	}
	t := str.findTopic(tid)
	if t == nil {
		return nil, mk(wire.ErrCodeTopicIDNotFound, "topic %v not found in stream %v", tid, sid)
	}
	return t, nil
}

func cloneHeaders(hs []wire.Header) []wire.Header {
	out := make([]wire.Header, len(hs))
	for i, h := range hs {
		out[i] = wire.Header{KeyKind: h.KeyKind, Key: append([]byte(nil), h.Key...), ValueKind: h.ValueKind, Value: append([]byte(nil), h.Value...)}
	}
	return out
}

func (c *conn) createTopic(body, out []byte) ([]byte, error) {
	s := c.s
	var q wire.CreateTopicRequest
	if err := q.Decode(body); err != nil {
		return nil, badBody(err)
	}
	if s.cfg.TraceFrames {
		for _, o := range q.Options {
			s.log.Debug("topic option", "key", string(o.Key), "value_kind", o.ValueKind, "value", fmt.Sprintf("%q", o.Value))
		}
	}
	// Admission (header status), as the official server checks before the command is applied:
	// partitions count, option keys and values, the size floor.
	if q.Partitions > 1000 {
		return nil, statusErr(wire.ErrCodeTooManyPartitions, "%d partitions (max 1000)", q.Partitions)
	}
	opts, err := parseTopicOptions(cloneHeaders(q.Options), false)
	if err != nil {
		return nil, err
	}
	segment := optionU64(opts, optSegmentSize, defaultSegmentSize)
	if err := checkTopicSize(opts, segment); err != nil {
		return nil, err
	}
	if h, ok := findOption(opts, optPreallocSegment); ok && h.Value[0] == 1 && segment*uint64(q.Partitions) > maxPreallocatedTopicBytes {
		return nil, statusErr(wire.ErrCodeInvalidOptionValue, "preallocate_segments: %d partitions of %d bytes exceed %d bytes", q.Partitions, segment, uint64(maxPreallocatedTopicBytes))
	}
	// Applied: missing stream, permission, duplicate name (result section).
	str := s.st.findStream(q.Stream)
	if str == nil {
		return nil, resultErr(wire.ErrCodeStreamIDNotFound, "stream %v", q.Stream)
	}
	if !canCreateTopic(s.st.perms(c.userID), str.id) {
		return nil, deny(true, "creating a topic in stream %q needs manage_topics", str.name)
	}
	if str.findTopic(wire.NamedID(q.Name)) != nil {
		return nil, resultErr(wire.ErrCodeTopicNameAlreadyExists, "topic %q exists in stream %q", q.Name, str.name)
	}
	t := &topic{name: q.Name, createdAt: nowMicros(), options: opts, groups: map[uint32]*group{}}
	applyTopicOptions(t)
	t.stream, t.id = str, freeID(str.topics)
	for i := uint32(0); i < q.Partitions; i++ {
		p, err := s.st.newPartition(t, i)
		if err != nil {
			return nil, statusErr(wire.ErrCodeError, "%v", err)
		}
		t.partitions = append(t.partitions, p)
	}
	str.topics[t.id] = t
	s.log.Info("topic created", "stream", str.name, "topic", t.name, "id", t.id, "partitions", q.Partitions)
	return s.commitMeta(topicDetails(t, out))
}

// dropTopic removes a topic's logs and group members (Server.mu held).
func (s *Server) dropTopic(t *topic) {
	for _, g := range t.groups {
		for _, m := range g.members {
			m.conn.memberships--
		}
	}
	for _, p := range t.partitions {
		s.st.removeLog(p)
	}
}

func (c *conn) partitions(code uint32, body, out []byte) ([]byte, error) {
	s := c.s
	var q wire.PartitionsRequest
	if err := q.Decode(body); err != nil {
		return nil, badBody(err)
	}
	if q.Count == 0 || q.Count > 1000 {
		return nil, statusErr(wire.ErrCodeTooManyPartitions, "partitions count %d not in 1..1000", q.Count)
	}
	t, err := s.st.resolveTopic(q.Stream, q.Topic, true)
	if err != nil {
		return nil, err
	}
	if !canManageTopic(s.st.perms(c.userID), t.stream.id, t.id) {
		return nil, deny(true, "changing the partitions of topic %q needs manage_topic", t.name)
	}
	if code == wire.CodeCreatePartitions {
		if len(t.partitions)+int(q.Count) > 1000 {
			return nil, statusErr(wire.ErrCodeTooManyPartitions, "topic would have %d partitions (max 1000)", len(t.partitions)+int(q.Count))
		}
		for i := uint32(0); i < q.Count; i++ {
			p, err := s.st.newPartition(t, uint32(len(t.partitions)))
			if err != nil {
				return nil, statusErr(wire.ErrCodeError, "%v", err)
			}
			t.partitions = append(t.partitions, p)
		}
	} else {
		if int(q.Count) > len(t.partitions) {
			return nil, resultErr(wire.ErrCodeInvalidPartitionsCount, "cannot delete %d of %d partitions", q.Count, len(t.partitions))
		}
		keep := len(t.partitions) - int(q.Count)
		for _, p := range t.partitions[keep:] {
			s.st.removeLog(p)
		}
		t.partitions = t.partitions[:keep]
	}
	for _, g := range t.groups {
		g.rebalance()
	}
	return s.commitMeta(out)
}

// info describes this connection as GetMe / GetClient do (Server.mu held).
func (c *conn) info() wire.ClientInfo {
	info := wire.ClientInfo{ClientID: c.id, UserID: c.userID, Transport: 1, Address: c.remote}
	for _, str := range sortedStreams(c.s.st.streams) {
		for _, t := range sortedTopics(str.topics) {
			for _, g := range sortedGroups(t.groups) {
				if g.member(c) != nil {
					info.Groups = append(info.Groups, wire.GroupRefIDs{StreamID: str.id, TopicID: t.id, GroupID: g.id})
				}
			}
		}
	}
	return info
}

func sortClients(cs []wire.ClientInfo) {
	sort.Slice(cs, func(i, j int) bool { return cs[i].ClientID < cs[j].ClientID })
}

func (c *conn) getMe(out []byte) ([]byte, error) {
	info := c.info()
	return info.Append(out), nil
}

func (c *conn) getStats(out []byte) ([]byte, error) {
	s := c.s
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	host, _ := os.Hostname()
	st := wire.Stats{ProcessID: uint32(os.Getpid()), MemoryUsage: ms.Sys, RunTime: uint64(time.Since(s.started).Microseconds()),
		StartTime: uint64(s.started.UnixMicro()), ClientsCount: uint32(len(s.conns)), Hostname: host, OSName: runtime.GOOS,
		OSVersion: runtime.GOARCH, KernelVersion: runtime.Version(), ServerVersion: Version, ServerSemver: 9 << 10,
		ThreadsCount: uint32(runtime.NumGoroutine())}
	for _, str := range s.st.streams {
		st.StreamsCount++
		for _, t := range str.topics {
			st.TopicsCount++
			st.PartitionsCount += uint32(len(t.partitions))
			st.SegmentsCount += uint32(len(t.partitions))
			st.ConsumerGroupsCount += uint32(len(t.groups))
			n, size := t.messages()
			st.MessagesCount += n
			st.MessagesSizeBytes += size
		}
	}
	return st.Append(out), nil
}

// clusterMetadata answers what the official server says when it runs as a single node (cluster
// disabled): cluster "single-node" with one healthy leader "iggy-node" whose address and TCP port
// are the configured listen address (a ":0" port is reported as 0, as the official server reports
// the requested, not the bound, port), and 0 for the transports this server does not have.
func (c *conn) clusterMetadata(out []byte) []byte {
	host, port := "127.0.0.1", uint16(0)
	if h, p, err := net.SplitHostPort(c.s.cfg.Addr); err == nil {
		host = h
		if n, err := strconv.ParseUint(p, 10, 16); err == nil {
			port = uint16(n)
		}
	}
	m := wire.ClusterMetadata{Name: "single-node", Nodes: []wire.ClusterNode{{Name: "iggy-node", IP: host, TCP: port}}}
	return m.Append(out)
}
