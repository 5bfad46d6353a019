package iggyserver

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy/wire"
)

// dispatch runs one validated request and returns the reply frame built from c.begin.
func (c *conn) dispatch(h *wire.RequestHeader, body []byte) ([]byte, error) {
	s := c.s
	switch h.Operation {
	case wire.OpRegister:
		return c.login(h, body)
	case wire.OpLogout:
		c.logout()
		return c.begin(h.Operation), nil
	case wire.OpNonReplicated:
		if h.Code == wire.CodeLegacyLoginUser || h.Code == wire.CodeLegacyLoginPAT {
			return nil, evictErr{wire.EvictMalformedLogin}
		}
		if h.Code == wire.CodePing {
			return c.begin(h.Operation), nil
		}
		if !c.loggedIn {
			return nil, statusErr(wire.ErrCodeUnauthenticated, "code %d before login", h.Code)
		}
	default:
		if !c.loggedIn {
			return nil, evictErr{wire.EvictNoSession}
		}
	}
	code := h.Code
	if h.Operation != wire.OpNonReplicated {
		code, _ = wire.CodeForOperation(h.Operation)
	}
	out := c.begin(h.Operation)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	switch code {
	case wire.CodeGetStats:
		return c.getStats(out)
	case wire.CodeGetMe:
		return c.getMe(out)
	case wire.CodeGetClusterMetadata:
		return c.clusterMetadata(out), nil
	case wire.CodeDescribeOptions, wire.CodeFlushUnsavedBuffer:
		return nil, statusErr(wire.ErrCodeFeatureUnavailable, "code %d is not available on the development server", code)
	case wire.CodeGetStream:
		var q wire.StreamRef
		if err := q.Decode(body); err != nil {
			return nil, badBody(err)
		}
		if str := st.findStream(q.Stream); str != nil {
			return st.streamDetails(str, out), nil
		}
		return out, nil
	case wire.CodeGetStreams:
		for _, str := range sortedStreams(st.streams) {
			out = appendStreamOnly(out, str)
		}
		return out, nil
	case wire.CodeCreateStream:
		return c.createStream(body, out)
	case wire.CodeDeleteStream:
		var q wire.StreamRef
		if err := q.Decode(body); err != nil {
			return nil, badBody(err)
		}
		str := st.findStream(q.Stream)
		if str == nil {
			return nil, resultErr(wire.ErrCodeStreamIDNotFound, "stream %v", q.Stream)
		}
		for _, t := range str.topics {
			s.dropTopic(t)
		}
		delete(st.streams, str.id)
		return s.commitMeta(out)
	case wire.CodeGetTopic:
		var q wire.TopicRef
		if err := q.Decode(body); err != nil {
			return nil, badBody(err)
		}
		str := st.findStream(q.Stream)
		if str == nil {
			return out, nil
		}
		if t := str.findTopic(q.Topic); t != nil {
			return topicDetails(t, out), nil
		}
		return out, nil
	case wire.CodeGetTopics:
		var q wire.StreamRef
		if err := q.Decode(body); err != nil {
			return nil, badBody(err)
		}
		var ts []wire.Topic
		if str := st.findStream(q.Stream); str != nil {
			for _, t := range sortedTopics(str.topics) {
				ts = append(ts, topicHeader(t))
			}
		}
		return wire.AppendTopics(out, ts), nil
	case wire.CodeCreateTopic:
		return c.createTopic(body, out)
	case wire.CodeDeleteTopic:
		var q wire.TopicRef
		if err := q.Decode(body); err != nil {
			return nil, badBody(err)
		}
		t, err := st.resolveTopic(q.Stream, q.Topic, true)
		if err != nil {
			return nil, err
		}
		s.dropTopic(t)
		delete(t.stream.topics, t.id)
		return s.commitMeta(out)
	case wire.CodeCreatePartitions, wire.CodeDeletePartitions:
		return c.partitions(code, body, out)
	case wire.CodeSendMessages:
		return c.send(body, out)
	case wire.CodePollMessages:
		return c.poll(body, out)
	case wire.CodeStoreConsumerOffset:
		return c.storeOffset(body, out)
	case wire.CodeGetConsumerOffset:
		return c.getOffset(body, out)
	case wire.CodeDeleteConsumerOffset:
		return c.deleteOffset(body, out)
	case wire.CodeGetConsumerGroup:
		var q wire.GroupRef
		if err := q.Decode(body); err != nil {
			return nil, badBody(err)
		}
		t, err := st.resolveTopic(q.Stream, q.Topic, false)
		if err != nil {
			return nil, err
		}
		if g := t.findGroup(q.Group); g != nil {
			return g.details(out), nil
		}
		return out, nil
	case wire.CodeGetConsumerGroups:
		var q wire.TopicRef
		if err := q.Decode(body); err != nil {
			return nil, badBody(err)
		}
		t, err := st.resolveTopic(q.Stream, q.Topic, false)
		if err != nil {
			return nil, err
		}
		for _, g := range sortedGroups(t.groups) {
			hdr := g.header()
			out = hdr.Append(out)
		}
		return out, nil
	case wire.CodeCreateConsumerGroup:
		return c.createGroup(body, out)
	case wire.CodeDeleteConsumerGroup, wire.CodeJoinConsumerGroup, wire.CodeLeaveConsumerGroup, wire.CodeSyncConsumerGroup:
		return c.groupOp(code, body, out)
	case wire.CodeCreatePAT:
		return c.createPAT(body, out)
	case wire.CodeDeletePAT:
		var q wire.NameRequest
		if err := q.Decode(body); err != nil {
			return nil, badBody(err)
		}
		for i, t := range st.meta.Tokens {
			if t.UserID == c.userID && t.Name == q.Name {
				st.meta.Tokens = append(st.meta.Tokens[:i], st.meta.Tokens[i+1:]...)
				return s.commitMeta(out)
			}
		}
		return nil, resultErr(wire.ErrCodePATNotFound, "personal access token %q", q.Name)
	case wire.CodeGetPATs:
		var ts []wire.PATInfo
		for _, t := range st.meta.Tokens {
			if t.UserID == c.userID {
				ts = append(ts, wire.PATInfo{Name: t.Name, ExpiryAt: t.Expiry})
			}
		}
		return wire.AppendPATs(out, ts), nil
	case wire.CodeGetUser, wire.CodeGetUsers, wire.CodeCreateUser, wire.CodeDeleteUser, wire.CodeUpdateUser,
		wire.CodeUpdatePermissions, wire.CodeChangePassword, wire.CodeUpdateStream, wire.CodePurgeStream,
		wire.CodeUpdateTopic, wire.CodePurgeTopic, wire.CodeDeleteSegments:
		return nil, statusErr(wire.ErrCodeFeatureUnavailable, "code %d is not implemented by the development server", code)
	}
	return nil, statusErr(wire.ErrCodeInvalidCommand, "unknown command code %d", code)
}

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
		s.mu.Unlock()
		if !ok {
			s.log.Warn("login failed: invalid personal access token", "conn", c.id)
			return nil, evictErr{wire.EvictInvalidToken}
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

func (s *Server) checkPassword(user, pass string) (uint32, bool) {
	if user == s.cfg.RootUsername {
		return 0, pass == s.cfg.RootPassword
	}
	names := make([]string, 0, len(s.cfg.Users))
	for n := range s.cfg.Users {
		names = append(names, n)
	}
	for i, n := range sortStrings(names) {
		if n == user {
			return uint32(i + 1), s.cfg.Users[n] == pass
		}
	}
	return 0, false
}

func (s *Server) checkToken(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.tokenUser(token)
	return ok
}

// tokenUser returns the owner of a valid, unexpired token (Server.mu held).
func (s *Server) tokenUser(token string) (uint32, bool) {
	h := tokenHash(token)
	now := nowMicros()
	for _, t := range s.st.meta.Tokens {
		if t.Hash == h && (t.Expiry == 0 || t.Expiry > now) {
			return t.UserID, true
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
		Compression: t.compression, MaxTopicSize: t.maxSize, SizeBytes: size, MessagesCount: n, Name: t.name, Options: t.options}
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

// parseTopicOptions applies the option TLV to t (4041 unknown key, 4042 bad value).
func parseTopicOptions(t *topic, opts []wire.Header) error {
	seen := map[string]bool{}
	for _, o := range opts {
		key := string(o.Key)
		if o.KeyKind != wire.KindString || !wire.TopicOptionKeys[key] {
			return statusErr(wire.ErrCodeUnsupportedOptionKey, "unsupported topic option %q", key)
		}
		if seen[key] {
			return statusErr(wire.ErrCodeInvalidOptionValue, "duplicate topic option %q", key)
		}
		seen[key] = true
		num, isNum := optionNumber(o)
		str := strings.ToLower(strings.TrimSpace(string(o.Value)))
		switch key {
		case "message_expiry":
			switch {
			case isNum:
				t.expiry = num
			case o.ValueKind == wire.KindString && (str == "never" || str == "never_expire" || str == "none" || str == "unlimited"):
				t.expiry = math.MaxUint64
			case o.ValueKind == wire.KindString && (str == "server_default" || str == "default"):
				t.expiry = 0
			case o.ValueKind == wire.KindString:
				d, err := time.ParseDuration(strings.ReplaceAll(str, " ", ""))
				if err != nil || d <= 0 {
					return statusErr(wire.ErrCodeInvalidOptionValue, "message_expiry %q", str)
				}
				t.expiry = uint64(d.Microseconds())
			default:
				return statusErr(wire.ErrCodeInvalidOptionValue, "message_expiry of kind %d", o.ValueKind)
			}
		case "max_topic_size":
			switch {
			case isNum:
				t.maxSize = num
			case o.ValueKind == wire.KindString && (str == "unlimited" || str == "none"):
				t.maxSize = math.MaxUint64
			case o.ValueKind == wire.KindString && (str == "server_default" || str == "default"):
				t.maxSize = 0
			}
		case "compression_algorithm":
			switch {
			case isNum && (num == 1 || num == 2):
				t.compression = uint8(num)
			case str == "none":
				t.compression = 1
			case str == "gzip":
				t.compression = 2
			default:
				return statusErr(wire.ErrCodeInvalidOptionValue, "compression_algorithm %q", str)
			}
		}
	}
	return nil
}

func optionNumber(o wire.Header) (uint64, bool) {
	switch o.ValueKind {
	case wire.KindUint8:
		return uint64(o.Value[0]), true
	case wire.KindUint16:
		return uint64(binary.LittleEndian.Uint16(o.Value)), true
	case wire.KindUint32:
		return uint64(binary.LittleEndian.Uint32(o.Value)), true
	case wire.KindUint64:
		return binary.LittleEndian.Uint64(o.Value), true
	}
	return 0, false
}

func (c *conn) createTopic(body, out []byte) ([]byte, error) {
	s := c.s
	var q wire.CreateTopicRequest
	if err := q.Decode(body); err != nil {
		return nil, badBody(err)
	}
	if q.Partitions > 1000 {
		return nil, statusErr(wire.ErrCodeTooManyPartitions, "%d partitions (max 1000)", q.Partitions)
	}
	t := &topic{name: q.Name, createdAt: nowMicros(), options: cloneHeaders(q.Options), expiry: math.MaxUint64,
		maxSize: math.MaxUint64, compression: 1, groups: map[uint32]*group{}}
	if err := parseTopicOptions(t, q.Options); err != nil {
		return nil, err
	}
	if s.cfg.TraceFrames {
		for _, o := range q.Options {
			s.log.Debug("topic option", "key", string(o.Key), "value_kind", o.ValueKind, "value", fmt.Sprintf("%q", o.Value))
		}
	}
	str := s.st.findStream(q.Stream)
	if str == nil {
		return nil, resultErr(wire.ErrCodeStreamIDNotFound, "stream %v", q.Stream)
	}
	if str.findTopic(wire.NamedID(q.Name)) != nil {
		return nil, resultErr(wire.ErrCodeTopicNameAlreadyExists, "topic %q exists in stream %q", q.Name, str.name)
	}
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

func (c *conn) getMe(out []byte) ([]byte, error) {
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

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// clusterMetadata describes this server as a single healthy leader, so the official clients (which
// ask after every login and before partition-plane requests) stay on this connection.
func (c *conn) clusterMetadata(out []byte) []byte {
	host, port := "127.0.0.1", uint16(0)
	if a, ok := c.nc.LocalAddr().(*net.TCPAddr); ok {
		host, port = a.IP.String(), uint16(a.Port)
	}
	m := wire.ClusterMetadata{Name: "iggy-devserver", Nodes: []wire.ClusterNode{{Name: "iggy-devserver", IP: host, TCP: port}}}
	return m.Append(out)
}
