package iggyserver

import (
	"github.com/iggy-go/connectors/runtime/iggy/wire"
)

// dispatch runs one validated request and returns the reply frame built from c.begin.
//
// Permissions are enforced as the official server does: a metadata command (op 128..149) that
// the user may not run is a committed Unauthorized (41) in the result section, decided after the
// stream/topic resolved (a missing one gives its not-found result first); reads and
// partition-plane operations (send, store/delete offset) are denied with status 41 and an empty
// body. Root (and every --user) holds every permission.
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
	p := st.perms(c.userID)
	switch code {
	case wire.CodeGetStats:
		if !canReadServer(p) {
			return nil, deny(false, "GetStats needs read_servers")
		}
		return c.getStats(out)
	case wire.CodeGetMe:
		return c.getMe(out)
	case wire.CodeGetClient, wire.CodeGetClients:
		if !canReadServer(p) {
			return nil, deny(false, "listing clients needs read_servers")
		}
		return c.clients(code, body, out)
	case wire.CodeGetSnapshotFile:
		if !canReadServer(p) {
			return nil, deny(false, "a snapshot needs read_servers")
		}
		return c.snapshot(body, out)
	case wire.CodeGetClusterMetadata:
		return c.clusterMetadata(out), nil
	case wire.CodeDescribeOptions:
		if len(body) != 1 || body[0] < wire.OptionsScopeTopic || body[0] > wire.OptionsScopeUser {
			return nil, statusErr(wire.ErrCodeInvalidCommand, "DescribeOptions: want one scope byte 1..3, got %x", body)
		}
		if body[0] != wire.OptionsScopeTopic {
			return wire.AppendOptionDescriptors(out, nil), nil // streams and users have no option keys
		}
		return wire.AppendOptionDescriptors(out, topicCatalog), nil
	case wire.CodeFlushUnsavedBuffer:
		return nil, statusErr(wire.ErrCodeFeatureUnavailable, "FlushUnsavedBuffer is not available (as on the official server)")
	case wire.CodeGetStream:
		var q wire.StreamRef
		if err := q.Decode(body); err != nil {
			return nil, badBody(err)
		}
		str := st.findStream(q.Stream)
		if str == nil {
			return out, nil
		}
		if !canReadStream(p, str.id) {
			return nil, deny(false, "reading stream %q needs read_stream", str.name)
		}
		return st.streamDetails(str, out), nil
	case wire.CodeGetStreams:
		if !canReadStreams(p) {
			return nil, deny(false, "listing streams needs read_streams")
		}
		for _, str := range sortedStreams(st.streams) {
			out = appendStreamOnly(out, str)
		}
		return out, nil
	case wire.CodeCreateStream:
		return c.createStream(body, out)
	case wire.CodeUpdateStream, wire.CodeDeleteStream, wire.CodePurgeStream:
		return c.streamCommand(code, body, out)
	case wire.CodeGetTopic:
		var q wire.TopicRef
		if err := q.Decode(body); err != nil {
			return nil, badBody(err)
		}
		str := st.findStream(q.Stream)
		if str == nil {
			return out, nil
		}
		t := str.findTopic(q.Topic)
		if t == nil {
			return out, nil
		}
		if !canReadTopic(p, str.id, t.id) {
			return nil, deny(false, "reading topic %q needs read_topic", t.name)
		}
		return topicDetails(t, out), nil
	case wire.CodeGetTopics:
		var q wire.StreamRef
		if err := q.Decode(body); err != nil {
			return nil, badBody(err)
		}
		var ts []wire.Topic
		if str := st.findStream(q.Stream); str != nil {
			if !canReadTopics(p, str.id) {
				return nil, deny(false, "listing the topics of stream %q needs read_topics", str.name)
			}
			for _, t := range sortedTopics(str.topics) {
				ts = append(ts, topicHeader(t))
			}
		}
		return wire.AppendTopics(out, ts), nil
	case wire.CodeCreateTopic:
		return c.createTopic(body, out)
	case wire.CodeUpdateTopic, wire.CodeDeleteTopic, wire.CodePurgeTopic:
		return c.topicCommand(code, body, out)
	case wire.CodeCreatePartitions, wire.CodeDeletePartitions:
		return c.partitions(code, body, out)
	case wire.CodeDeleteSegments:
		return c.deleteSegments(body, out)
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
		t, err := c.groupsOf(q.Stream, q.Topic)
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
		t, err := c.groupsOf(q.Stream, q.Topic)
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
		// The official server answers a missing token with ResourceNotFound (20), not 52.
		return nil, resultErr(wire.ErrCodeResourceNotFound, "personal access token %q", q.Name)
	case wire.CodeGetPATs:
		var ts []wire.PATInfo
		for _, t := range st.meta.Tokens {
			if t.UserID == c.userID {
				ts = append(ts, wire.PATInfo{Name: t.Name, ExpiryAt: t.Expiry})
			}
		}
		return wire.AppendPATs(out, ts), nil
	case wire.CodeGetUser, wire.CodeGetUsers, wire.CodeCreateUser, wire.CodeDeleteUser, wire.CodeUpdateUser,
		wire.CodeUpdatePermissions, wire.CodeChangePassword:
		return c.userCommand(code, body, out)
	}
	return nil, statusErr(wire.ErrCodeInvalidCommand, "unknown command code %d", code)
}

// groupsOf resolves the topic of a consumer-group read (status 1009/2010 when missing) and checks
// that the user may read it (status 41).
func (c *conn) groupsOf(sid, tid wire.Identifier) (*topic, error) {
	t, err := c.s.st.resolveTopic(sid, tid, false)
	if err != nil {
		return nil, err
	}
	if !canReadTopic(c.s.st.perms(c.userID), t.stream.id, t.id) {
		return nil, deny(false, "reading the consumer groups of topic %q needs read_topic", t.name)
	}
	return t, nil
}

// streamCommand runs UpdateStream, DeleteStream and PurgeStream (Server.mu held).
func (c *conn) streamCommand(code uint32, body, out []byte) ([]byte, error) {
	s := c.s
	st := s.st
	var ref wire.Identifier
	var upd wire.UpdateStreamRequest
	if code == wire.CodeUpdateStream {
		if err := upd.Decode(body); err != nil {
			return nil, badBody(err)
		}
		if len(upd.Options) > 0 {
			return nil, statusErr(wire.ErrCodeUnsupportedOptionKey, "streams have no options (got %q)", upd.Options[0].Key)
		}
		ref = upd.Stream
	} else {
		var q wire.StreamRef
		if err := q.Decode(body); err != nil {
			return nil, badBody(err)
		}
		ref = q.Stream
	}
	str := st.findStream(ref)
	if str == nil {
		return nil, resultErr(wire.ErrCodeStreamIDNotFound, "stream %v", ref)
	}
	if !canManageStream(st.perms(c.userID), str.id) {
		return nil, deny(true, "changing stream %q needs manage_stream", str.name)
	}
	switch code {
	case wire.CodeUpdateStream:
		if o := st.findStream(wire.NamedID(upd.Name)); o != nil && o != str {
			return nil, resultErr(wire.ErrCodeStreamNameAlreadyExists, "stream %q exists", upd.Name)
		}
		s.log.Info("stream renamed", "stream", str.name, "name", upd.Name)
		str.name = upd.Name
	case wire.CodeDeleteStream:
		for _, t := range str.topics {
			s.dropTopic(t)
		}
		delete(st.streams, str.id)
	case wire.CodePurgeStream:
		for _, t := range str.topics {
			if err := st.purgeTopic(t); err != nil {
				return nil, statusErr(wire.ErrCodeError, "purging stream %q: %v", str.name, err)
			}
		}
		s.log.Info("stream purged", "stream", str.name)
	}
	return s.commitMeta(out)
}

// topicCommand runs UpdateTopic, DeleteTopic and PurgeTopic (Server.mu held).
func (c *conn) topicCommand(code uint32, body, out []byte) ([]byte, error) {
	s := c.s
	st := s.st
	var ref wire.TopicRef
	var upd wire.UpdateTopicRequest
	var opts []wire.Header
	if code == wire.CodeUpdateTopic {
		if err := upd.Decode(body); err != nil {
			return nil, badBody(err)
		}
		var err error
		if opts, err = parseTopicOptions(cloneHeaders(upd.Options), true); err != nil {
			return nil, err
		}
		ref = wire.TopicRef{Stream: upd.Stream, Topic: upd.Topic}
		// The size floor is checked at admission against the topic's own segment size.
		if t, _ := st.resolveTopic(upd.Stream, upd.Topic, true); t != nil {
			if err := checkTopicSize(opts, optionU64(t.options, optSegmentSize, defaultSegmentSize)); err != nil {
				return nil, err
			}
		}
	} else if err := ref.Decode(body); err != nil {
		return nil, badBody(err)
	}
	t, err := st.resolveTopic(ref.Stream, ref.Topic, true)
	if err != nil {
		return nil, err
	}
	if !canManageTopic(st.perms(c.userID), t.stream.id, t.id) {
		return nil, deny(true, "changing topic %q needs manage_topic", t.name)
	}
	switch code {
	case wire.CodeUpdateTopic:
		if o := t.stream.findTopic(wire.NamedID(upd.Name)); o != nil && o != t {
			return nil, resultErr(wire.ErrCodeTopicNameAlreadyExists, "topic %q exists in stream %q", upd.Name, t.stream.name)
		}
		merged := opts
		for _, o := range t.options {
			if _, ok := findOption(opts, string(o.Key)); !ok {
				merged = append(merged, o)
			}
		}
		sortOptions(merged)
		t.name, t.options = upd.Name, merged
		applyTopicOptions(t)
		s.log.Info("topic updated", "stream", t.stream.name, "topic", t.name)
	case wire.CodeDeleteTopic:
		s.dropTopic(t)
		delete(t.stream.topics, t.id)
	case wire.CodePurgeTopic:
		if err := st.purgeTopic(t); err != nil {
			return nil, statusErr(wire.ErrCodeError, "purging topic %q: %v", t.name, err)
		}
		s.log.Info("topic purged", "stream", t.stream.name, "topic", t.name)
	}
	return s.commitMeta(out)
}

// deleteSegments answers DeleteSegments. The development server keeps each partition in one
// (active) segment, which the official server never deletes, so a resolved request deletes
// nothing and commits an empty success; unresolved targets are committed rejections.
func (c *conn) deleteSegments(body, out []byte) ([]byte, error) {
	st := c.s.st
	var q wire.DeleteSegmentsRequest
	if err := q.Decode(body); err != nil {
		return nil, badBody(err)
	}
	t, err := st.resolveTopic(q.Stream, q.Topic, true)
	if err != nil {
		return nil, err
	}
	if !canManageTopic(st.perms(c.userID), t.stream.id, t.id) {
		return nil, deny(true, "deleting segments of topic %q needs manage_topic", t.name)
	}
	if t.partition(q.PartitionID) == nil {
		return nil, resultErr(wire.ErrCodePartitionNotFound, "partition %d of topic %q", q.PartitionID, t.name)
	}
	return c.s.commitMeta(out)
}

// clients answers GetClient (21, empty reply when unknown) and GetClients (22).
func (c *conn) clients(code uint32, body, out []byte) ([]byte, error) {
	s := c.s
	var infos []wire.ClientInfo
	for o := range s.conns {
		if !o.loggedIn && o != c {
			continue
		}
		infos = append(infos, o.info())
	}
	sortClients(infos)
	if code == wire.CodeGetClients {
		return wire.AppendClients(out, infos), nil
	}
	r := wire.NewReader(body)
	id := r.U32("client_id")
	if err := r.Done("GetClient"); err != nil {
		return nil, badBody(err)
	}
	for _, info := range infos {
		if info.ClientID == id {
			return info.Append(out), nil
		}
	}
	return out, nil
}
