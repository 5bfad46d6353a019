package iggyserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy/wire"
)

// conn is one client connection. Its fields are owned by its serve goroutine, except
// memberships (guarded by Server.mu), lastSeen (atomic) and writes (wmu).
type conn struct {
	s      *Server
	nc     net.Conn
	id     uint32
	remote string

	wmu      sync.Mutex
	lastSeen atomic.Int64

	// session state (serve goroutine; client and userID read under Server.mu by groups/GetMe)
	loggedIn bool
	userID   uint32
	session  uint64
	client   wire.U128

	lastMetaReq uint64
	lastReply   []byte // cached reply of lastMetaReq (retransmissions)

	memberships int // number of groups this connection is a member of (Server.mu)

	rbuf, wbuf []byte
	owned      bool     // the current frame's buffer may be kept (send batches are stored in place)
	tail       [][]byte // reply segments written after wbuf (poll records, zero-copy)
	tailLen    int
	segs       net.Buffers
}

func (s *Server) newConn(nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, id: s.nextConnID.Add(1), remote: nc.RemoteAddr().String()}
	c.lastSeen.Store(time.Now().UnixNano())
	return c
}

// errReply is a rejection: the code travels in the header status, or in the result section of
// a result-framed reply when result is true.
type errReply struct {
	code   uint32
	result bool
	msg    string
}

func (e *errReply) Error() string {
	return fmt.Sprintf("%s (%d): %s", wire.ErrorName(e.code), e.code, e.msg)
}

func statusErr(code uint32, format string, a ...any) error {
	return &errReply{code: code, msg: fmt.Sprintf(format, a...)}
}

func resultErr(code uint32, format string, a ...any) error {
	return &errReply{code: code, result: true, msg: fmt.Sprintf(format, a...)}
}

// evictErr ends the session with an eviction frame.
type evictErr struct{ reason uint8 }

func (e evictErr) Error() string { return fmt.Sprintf("eviction reason %d", e.reason) }

func (c *conn) serve() {
	s := c.s
	defer s.wg.Done()
	defer func() {
		if r := recover(); r != nil {
			s.panics.Add(1)
			s.log.Error("iggy-devserver: panic while serving a connection (closed)", "conn", c.id, "remote", c.remote, "panic", r, "stack", string(debug.Stack()))
		}
		c.nc.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.leaveAllGroups(c)
		s.mu.Unlock()
		s.log.Debug("connection closed", "conn", c.id, "remote", c.remote)
	}()
	s.log.Debug("connection opened", "conn", c.id, "remote", c.remote)
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var hdr [wire.HeaderSize]byte
	for {
		frame, err := c.readFrame(br, hdr[:])
		if err != nil {
			if errors.Is(err, wire.ErrFrameSize) {
				s.log.Warn("closing connection: bad frame size", "conn", c.id, "remote", c.remote, "err", err)
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Debug("connection read ended", "conn", c.id, "err", err)
			}
			return
		}
		c.lastSeen.Store(time.Now().UnixNano())
		if wire.FrameCommand(frame) != wire.CommandRequest {
			s.log.Debug("ignoring a frame that is not a request", "conn", c.id, "command", wire.FrameCommand(frame))
			continue
		}
		if !c.handle(frame) {
			return
		}
	}
}

// readFrame reads one frame. A SendMessages frame gets a buffer of its own (c.owned is set) so
// that its batch can be stored without a copy; other frames reuse c.rbuf.
func (c *conn) readFrame(br *bufio.Reader, hdr []byte) ([]byte, error) {
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, err
	}
	size := wire.FrameSize(hdr)
	if size < wire.HeaderSize || int64(size) > int64(c.s.cfg.MaxFrameSize) {
		return nil, fmt.Errorf("%w: %d (allowed %d..%d)", wire.ErrFrameSize, size, wire.HeaderSize, c.s.cfg.MaxFrameSize)
	}
	var frame []byte
	c.owned = hdr[176] == wire.OpSendMessages
	if c.owned {
		frame = make([]byte, size)
	} else {
		if cap(c.rbuf) < int(size) {
			c.rbuf = make([]byte, size)
		}
		frame = c.rbuf[:size]
	}
	copy(frame, hdr)
	if _, err := io.ReadFull(br, frame[wire.HeaderSize:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if !c.owned && cap(c.rbuf) > 4<<20 {
		defer func() { c.rbuf = nil }() // do not keep a huge buffer per idle connection
	}
	return frame, nil
}

// handle processes one request frame; false closes the connection.
func (c *conn) handle(frame []byte) bool {
	s := c.s
	h, _ := wire.DecodeRequestHeader(frame)
	body := frame[wire.HeaderSize:]
	if s.cfg.TraceFrames {
		s.log.Debug("request", "conn", c.id, "op", h.Operation, "code", h.Code, "request", h.Request, "session", h.Session, "body_len", len(body), "client", h.Client.String())
	}
	switch {
	case h.Client.IsZero():
		s.log.Warn("dropping request with client id 0", "conn", c.id, "op", h.Operation)
		return true
	case !wire.IsKnownOp(h.Operation):
		s.log.Warn("dropping request with unknown operation", "conn", c.id, "op", h.Operation)
		return true
	case h.Operation == wire.OpRegister && (h.Session != 0 || h.Request != 0):
		s.log.Warn("dropping register with non-zero session/request", "conn", c.id, "session", h.Session, "request", h.Request)
		return true
	case h.Operation != wire.OpRegister && h.Operation != wire.OpNonReplicated && (h.Session == 0 || h.Request == 0):
		if !c.loggedIn && h.Session == 0 {
			// A replicated request on a connection that never logged in.
			return c.evict(wire.EvictNoSession, h.Client)
		}
		s.log.Warn("dropping request with session or request number 0", "conn", c.id, "op", h.Operation)
		return true
	}
	if !h.RequestChecksum.IsZero() && h.RequestChecksum != wire.BodyChecksum(body) {
		return c.reply(&h, nil, statusErr(wire.ErrCodeInvalidFormat, "request_checksum does not match the body"))
	}
	// Retransmitted metadata request: answer from the cache, or not at all.
	if c.loggedIn && wire.IsMetadataOp(h.Operation) {
		if h.Request <= c.lastMetaReq {
			if h.Request == c.lastMetaReq && c.lastReply != nil {
				return c.write(c.lastReply)
			}
			s.log.Warn("dropping stale metadata request", "conn", c.id, "request", h.Request, "last", c.lastMetaReq)
			return true
		}
	}
	payload, err := c.dispatch(&h, body)
	var ev evictErr
	if errors.As(err, &ev) {
		return c.evict(ev.reason, h.Client)
	}
	return c.reply(&h, payload, err)
}

// reply writes the reply for h. out is the frame dispatch built (header space, result section,
// payload; see begin) and is ignored when err is set.
func (c *conn) reply(h *wire.RequestHeader, out []byte, err error) bool {
	s := c.s
	rh := wire.ReplyHeader{RequestChecksum: h.RequestChecksum, Client: h.Client, OpNumber: c.session,
		Commit: s.commit.Load(), Timestamp: h.Timestamp, Request: h.Request, Operation: h.Operation}
	frame := out
	if err != nil {
		c.tail, c.tailLen = c.tail[:0], 0
		var er *errReply
		if !errors.As(err, &er) {
			er = &errReply{code: wire.ErrCodeError, msg: err.Error()}
		}
		s.log.Debug("request rejected", "conn", c.id, "op", h.Operation, "code", h.Code, "err", er)
		frame = c.begin(wire.OpNonReplicated)
		if er.result && wire.IsResultFramed(h.Operation) {
			frame = wire.AppendResultError(frame, er.code)
		} else {
			rh.Status = er.code
		}
	}
	wire.FinishReply(frame, rh)
	if c.tailLen > 0 {
		wire.SetFrameSize(frame, uint32(len(frame)+c.tailLen))
	}
	if cap(frame) <= 4<<20 {
		c.wbuf = frame[:0]
	} else {
		c.wbuf = nil
	}
	if s.cfg.TraceFrames {
		s.log.Debug("reply", "conn", c.id, "op", h.Operation, "request", h.Request, "status", rh.Status, "size", len(frame))
	}
	if c.loggedIn && wire.IsMetadataOp(h.Operation) {
		c.lastMetaReq = h.Request
		c.lastReply = append(c.lastReply[:0], frame...)
	}
	if c.tailLen > 0 {
		c.segs = append(append(c.segs[:0], frame), c.tail...)
		clear(c.tail)
		c.tail, c.tailLen = c.tail[:0], 0
		return c.writeBuffers()
	}
	return c.write(frame)
}

// writeBuffers writes c.segs with one writev.
func (c *conn) writeBuffers() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	segs := c.segs
	_, err := segs.WriteTo(c.nc)
	clear(c.segs[:cap(c.segs)])
	c.segs = c.segs[:0]
	if err != nil {
		c.s.log.Debug("write failed", "conn", c.id, "err", err)
		return false
	}
	return true
}

// begin returns the buffer dispatch appends a payload to: zeroed header space, then an OK result
// section for result-framed operations (reply rewrites it on error).
func (c *conn) begin(op uint8) []byte {
	if cap(c.wbuf) < wire.HeaderSize+64 {
		c.wbuf = make([]byte, 0, 64<<10)
	}
	b := c.wbuf[:wire.HeaderSize]
	clear(b)
	if wire.IsResultFramed(op) {
		b = wire.AppendResultOK(b)
	}
	return b
}

func (c *conn) write(frame []byte) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.nc.Write(frame); err != nil {
		c.s.log.Debug("write failed", "conn", c.id, "err", err)
		return false
	}
	return true
}

// evict sends an eviction frame and closes the connection (always returns false).
func (c *conn) evict(reason uint8, client wire.U128) bool {
	var b [wire.HeaderSize]byte
	e := wire.Eviction{Client: client, Reason: reason}
	if reason == wire.EvictIncompatibleProtocol {
		e.ServerProtocol, e.ServerProtocolMin = wire.ProtocolVersion, wire.ProtocolVersion
	}
	e.Put(b[:])
	c.write(b[:])
	c.nc.Close()
	return false
}
