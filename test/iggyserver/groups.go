package iggyserver

import (
	"github.com/iggy-go/connectors/runtime/iggy/wire"
)

func (g *group) header() wire.ConsumerGroup {
	return wire.ConsumerGroup{ID: g.id, PartitionsCount: uint32(len(g.topic.partitions)), MembersCount: uint32(len(g.members)), Name: g.name}
}

func (g *group) details(out []byte) []byte {
	d := wire.ConsumerGroupDetails{ConsumerGroup: g.header()}
	for _, m := range g.members {
		d.Members = append(d.Members, wire.GroupMember{ID: m.id, Partitions: m.partitions})
	}
	return d.Append(out)
}

func (g *group) member(c *conn) *member {
	for _, m := range g.members {
		if m.conn == c {
			return m
		}
	}
	return nil
}

func (g *group) owns(c *conn, pid uint32) bool {
	m := g.member(c)
	if m == nil {
		return false
	}
	for _, p := range m.partitions {
		if p == pid {
			return true
		}
	}
	return false
}

// rebalance re-deals every partition round-robin in member order (partition i to member i mod n)
// and bumps the generation. Uncommitted messages of a partition that moves are delivered again to
// its new owner (at-least-once).
func (g *group) rebalance() {
	g.generation++
	for _, m := range g.members {
		m.partitions = m.partitions[:0]
	}
	if len(g.members) == 0 {
		return
	}
	for i := range g.topic.partitions {
		m := g.members[i%len(g.members)]
		m.partitions = append(m.partitions, uint32(i))
	}
}

func (g *group) remove(c *conn) bool {
	for i, m := range g.members {
		if m.conn == c {
			g.members = append(g.members[:i], g.members[i+1:]...)
			c.memberships--
			g.rebalance()
			return true
		}
	}
	return false
}

// leaveAllGroups removes c from every group (Server.mu held).
func (s *Server) leaveAllGroups(c *conn) {
	if c.memberships == 0 {
		return
	}
	for _, str := range s.st.streams {
		for _, t := range str.topics {
			for _, g := range t.groups {
				if g.remove(c) {
					s.log.Info("consumer group member left", "group", g.name, "conn", c.id, "members", len(g.members))
				}
			}
		}
	}
}

func (c *conn) createGroup(body, out []byte) ([]byte, error) {
	s := c.s
	var q wire.CreateGroupRequest
	if err := q.Decode(body); err != nil {
		return nil, badBody(err)
	}
	t, err := s.st.resolveTopic(q.Stream, q.Topic, true)
	if err != nil {
		return nil, err
	}
	if !canReadTopic(s.st.perms(c.userID), t.stream.id, t.id) {
		return nil, deny(true, "creating a consumer group on topic %q needs read_topic", t.name)
	}
	if t.findGroup(wire.NamedID(q.Name)) != nil {
		return nil, resultErr(wire.ErrCodeConsumerGroupNameExists, "consumer group %q exists", q.Name)
	}
	g := &group{topic: t, id: freeID(t.groups), name: q.Name}
	t.groups[g.id] = g
	s.log.Info("consumer group created", "stream", t.stream.name, "topic", t.name, "group", q.Name, "id", g.id)
	return s.commitMeta(g.details(out))
}

func (c *conn) groupOp(code uint32, body, out []byte) ([]byte, error) {
	s := c.s
	var q wire.GroupRef
	if err := q.Decode(body); err != nil {
		return nil, badBody(err)
	}
	sync := code == wire.CodeSyncConsumerGroup
	t, err := s.st.resolveTopic(q.Stream, q.Topic, !sync)
	if err != nil {
		return nil, err
	}
	if !sync && !canReadTopic(s.st.perms(c.userID), t.stream.id, t.id) {
		return nil, deny(true, "consumer groups of topic %q need read_topic", t.name)
	}
	g := t.findGroup(q.Group)
	if g == nil {
		if sync {
			return out, nil
		}
		return nil, resultErr(wire.ErrCodeConsumerGroupIDNotFound, "consumer group %v not found", q.Group)
	}
	switch code {
	case wire.CodeSyncConsumerGroup:
		m := g.member(c)
		if m == nil {
			return out, nil
		}
		r := wire.SyncReply{Generation: g.generation, Partitions: m.partitions}
		return r.Append(out), nil
	case wire.CodeJoinConsumerGroup:
		if g.member(c) == nil {
			var id uint32
			for _, m := range g.members {
				id = max(id, m.id+1)
			}
			g.members = append(g.members, &member{conn: c, client: c.client, id: id})
			c.memberships++
			g.rebalance()
			s.log.Info("consumer group member joined", "group", g.name, "conn", c.id, "members", len(g.members), "generation", g.generation)
		}
		s.commit.Add(1)
		return out, nil
	case wire.CodeLeaveConsumerGroup:
		if !g.remove(c) {
			return nil, resultErr(wire.ErrCodeConsumerGroupMemberNotFound, "not a member of consumer group %q", g.name)
		}
		s.commit.Add(1)
		return out, nil
	case wire.CodeDeleteConsumerGroup:
		for _, m := range g.members {
			m.conn.memberships--
		}
		delete(t.groups, g.id)
		for _, p := range t.partitions {
			delete(p.offsets, offsetKey{wire.ConsumerKindGroup, g.id})
		}
		return s.commitMeta(out)
	}
	return nil, statusErr(wire.ErrCodeInvalidCommand, "code %d", code)
}
