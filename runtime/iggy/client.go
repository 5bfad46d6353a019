// Package iggy is a Go client for Apache Iggy 0.9 over the binary TCP protocol (VSR framing,
// protocol 0.11), with TLS and personal access tokens.
//
// A Client owns one connection and is safe for concurrent use: calls are serialized on the
// connection (the protocol is strictly one request in flight). When the connection breaks, the
// failing call returns an error matching ErrTransport and the client reconnects by itself — on
// the next call and from its heartbeat loop — with exponential backoff and jitter, logs in
// again (a new session) and carries on. Consumer-group membership is per connection on the
// server, so after a reconnect members must join again; GroupConsumer does that.
//
// Every call honours its context and Config.RequestTimeout. A call cancelled mid-request leaves
// the connection in an unknown state; it is closed and re-established. The client never retries a
// request whose outcome is unknown (a send may then have been stored or not); callers decide.
//
// Memory: polled messages alias the reply they came in (no copy per message). Reply memory is
// pooled: a caller done with a poll result calls its Release (Polled.Release, Batch.Release) and
// the next poll reuses that memory instead of allocating and zeroing a new buffer; after Release
// the result's messages must not be touched. Sends write large payloads (vecMinPayload bytes or
// more) from where they lie with one vectored write instead of copying them into the frame.
package iggy

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iggy-go/connectors/runtime/backoff"
	"github.com/iggy-go/connectors/runtime/iggy/wire"
)

// SDKName and SDKVersion are sent in the login version prefix.
const (
	SDKName    = "iggy-go-connectors"
	SDKVersion = "0.11.0"
)

// TLSConfig enables TLS on the connection.
type TLSConfig struct {
	Enabled    bool
	CAFile     string // PEM bundle to verify the server with; "" uses the system roots
	ServerName string // name to verify; "" uses the host of Address
	// InsecureSkipVerify disables verification (development only).
	InsecureSkipVerify bool
}

// ReconnectConfig is the backoff between reconnection attempts.
type ReconnectConfig struct {
	Initial     time.Duration // default 100ms
	Max         time.Duration // default 5s
	MaxAttempts int           // per reconnection; 0 = unlimited (bounded by the caller's context)
	Jitter      float64       // 0..1, default 0.2
	Disabled    bool          // fail calls instead of reconnecting
}

// Config configures a Client.
type Config struct {
	Address  string // host:port, default 127.0.0.1:8090
	Username string // with Password, unless Token is set
	Password string
	// Token is a personal access token, literally or as "file:PATH" (the file's content, trimmed).
	Token             string
	TLS               TLSConfig
	DialTimeout       time.Duration // default 5s
	RequestTimeout    time.Duration // per call, default 30s (the official clients' limit)
	HeartbeatInterval time.Duration // ping period when idle, default 5s; negative disables
	Reconnect         ReconnectConfig
	// OnReconnect, if set, is called (from the reconnecting goroutine, without locks held) after
	// every successful reconnection, with the number of reconnections so far.
	OnReconnect func(reconnects uint64)
	Logger      *slog.Logger // default slog.Default()
}

func (cfg *Config) defaults() error {
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1:8090"
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = 5 * time.Second
	}
	if cfg.Reconnect.Initial <= 0 {
		cfg.Reconnect.Initial = 100 * time.Millisecond
	}
	if cfg.Reconnect.Max <= 0 {
		cfg.Reconnect.Max = 5 * time.Second
	}
	if cfg.Reconnect.Jitter == 0 {
		cfg.Reconnect.Jitter = 0.2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Token == "" && (cfg.Username == "" || cfg.Password == "") {
		return fmt.Errorf("%w: iggy config: set username and password, or token", ErrInvalidArgument)
	}
	if _, _, err := net.SplitHostPort(cfg.Address); err != nil {
		return fmt.Errorf("%w: iggy config: address %q: %v", ErrInvalidArgument, cfg.Address, err)
	}
	return nil
}

// Client is a connection to an Iggy server. Create with Dial; safe for concurrent use.
type Client struct {
	cfg   Config
	log   *slog.Logger
	token string

	sem chan struct{} // held while a request (or a connect) uses the connection

	// guarded by sem
	nc      net.Conn
	client  wire.U128
	session uint64
	reqNo   uint64
	userID  uint32
	wbuf    []byte
	rbuf    []byte
	// segs, when a build function fills it, is the request as segments for a vectored write
	// (wbuf's frame followed by payloads where they lie); empty: the frame alone is the request.
	segs [][]byte
	// pollMem is the reply memory of the PollMessages call in flight; its reply handler takes it
	// (sets it to nil) when the result keeps it, else it goes back to the pool.
	pollMem *replyMem

	base        context.Context // cancelled by Close: bounds background work
	cancel      context.CancelFunc
	connected   atomic.Bool
	epoch       atomic.Uint64 // successful connections so far
	reconnects  atomic.Uint64
	closed      chan struct{}
	closeOnce   sync.Once
	draining    chan struct{} // closed by Drain: no more reconnect back-off
	drainOnce   sync.Once
	optionsOnce sync.Once // the "server refuses optional topic options" warning
	lastUsed    atomic.Int64
	wg          sync.WaitGroup
}

// Dial connects and logs in. It fails fast on bad credentials; transport failures are retried
// per cfg.Reconnect until ctx is done.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, log: cfg.Logger, sem: make(chan struct{}, 1), closed: make(chan struct{}), draining: make(chan struct{})}
	c.base, c.cancel = context.WithCancel(context.Background())
	if t, ok := strings.CutPrefix(cfg.Token, "file:"); ok {
		raw, err := os.ReadFile(t)
		if err != nil {
			return nil, fmt.Errorf("%w: iggy token file: %v", ErrInvalidArgument, err)
		}
		c.token = strings.TrimSpace(string(raw))
		if c.token == "" {
			return nil, fmt.Errorf("%w: iggy token file %s is empty", ErrInvalidArgument, t)
		}
	} else {
		c.token = cfg.Token
	}
	c.sem <- struct{}{}
	err := c.connectLocked(ctx)
	<-c.sem
	if err != nil {
		c.cancel()
		return nil, err
	}
	if cfg.HeartbeatInterval > 0 {
		c.wg.Add(1)
		go c.heartbeat()
	}
	return c, nil
}

// Close logs out (best effort), closes the connection and stops the heartbeat. Calls in flight
// fail with ErrClosed or ErrTransport.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.cancel()
		select {
		case c.sem <- struct{}{}:
			if c.nc != nil {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				c.roundTrip(ctx, wire.CodeLogoutUser, nil, nil)
				cancel()
				c.dropLocked(nil)
			}
			<-c.sem
		case <-time.After(2 * time.Second):
		}
		c.wg.Wait()
	})
	return nil
}

// Drain tells the client that its owner is shutting down: from now on a call that finds the
// connection down tries to connect once and fails at once instead of backing off, a reconnection
// waiting for its next attempt gives up, and the heartbeat stops reconnecting. Calls on a live
// connection are unaffected (a final offset store still goes through). Safe to call more than once
// and concurrently with anything.
func (c *Client) Drain() { c.drainOnce.Do(func() { close(c.draining) }) }

func (c *Client) isDraining() bool {
	select {
	case <-c.draining:
		return true
	default:
		return false
	}
}

// Connected reports whether the client currently holds a logged-in connection (for readiness).
func (c *Client) Connected() bool { return c.connected.Load() }

// Reconnects returns how many times the client re-established its connection after losing it.
func (c *Client) Reconnects() uint64 { return c.reconnects.Load() }

// ConnectionEpoch increases by one with every successful (re)connection; a change tells that
// server-side session state (consumer-group membership) was lost.
func (c *Client) ConnectionEpoch() uint64 { return c.epoch.Load() }

// UserID returns the id of the logged-in user.
func (c *Client) UserID() uint32 {
	c.sem <- struct{}{}
	defer func() { <-c.sem }()
	return c.userID
}

func (c *Client) heartbeat() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-c.closed:
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, c.lastUsed.Load())) < c.cfg.HeartbeatInterval && c.connected.Load() {
			continue
		}
		if c.isDraining() && !c.connected.Load() {
			continue // shutting down: no reconnection from the heartbeat
		}
		ctx, cancel := context.WithTimeout(c.base, max(c.cfg.RequestTimeout, c.cfg.HeartbeatInterval))
		if err := c.Ping(ctx); err != nil && !errors.Is(err, ErrClosed) {
			c.log.Warn("iggy: heartbeat failed", "address", c.cfg.Address, "err", err)
		}
		cancel()
	}
}

func (c *Client) reconnectPolicy() backoff.Policy {
	return backoff.Policy{Initial: c.cfg.Reconnect.Initial, Max: c.cfg.Reconnect.Max, Multiplier: 2,
		Jitter: c.cfg.Reconnect.Jitter, MaxAttempts: c.cfg.Reconnect.MaxAttempts}
}

// connectLocked dials and logs in, retrying transport failures with backoff (sem held).
func (c *Client) connectLocked(ctx context.Context) error {
	first := c.epoch.Load() == 0
	pol := c.reconnectPolicy()
	for attempt := 1; ; attempt++ {
		select {
		case <-c.closed:
			return ErrClosed
		default:
		}
		err := c.dialLocked(ctx)
		if err == nil {
			n := c.epoch.Add(1)
			c.connected.Store(true)
			if !first {
				r := c.reconnects.Add(1)
				c.log.Info("iggy: reconnected", "address", c.cfg.Address, "attempts", attempt, "reconnects", r, "epoch", n)
				if c.cfg.OnReconnect != nil {
					c.cfg.OnReconnect(r)
				}
			}
			return nil
		}
		if !errors.Is(err, ErrTransport) || errors.Is(err, ErrUnauthenticated) || c.cfg.Reconnect.Disabled || pol.Exhausted(attempt) || c.isDraining() {
			return err
		}
		if ctx.Err() != nil {
			return err
		}
		wait := pol.Delay(attempt)
		c.log.Warn("iggy: connect failed, retrying", "address", c.cfg.Address, "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-c.closed:
			t.Stop()
			return ErrClosed
		case <-c.draining:
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// newClientID mints the client id of a session (replaced in tests).
var newClientID = randomClientID

func randomClientID() wire.U128 {
	var b [16]byte
	for {
		rand.Read(b[:])
		id := wire.U128{Lo: binary.LittleEndian.Uint64(b[:]), Hi: binary.LittleEndian.Uint64(b[8:])}
		if !id.IsZero() {
			return id
		}
	}
}

func (c *Client) dialLocked(ctx context.Context) error {
	d := net.Dialer{Timeout: c.cfg.DialTimeout, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", c.cfg.Address)
	if err != nil {
		return &TransportError{Op: "dial " + c.cfg.Address, Err: err}
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
		// Room for a whole 1 MB batch in flight: fewer wake-ups per request on large sends/polls.
		tc.SetWriteBuffer(4 << 20)
		tc.SetReadBuffer(4 << 20)
	}
	if c.cfg.TLS.Enabled {
		tcfg, err := c.tlsConfig()
		if err != nil {
			nc.Close()
			return err
		}
		tc := tls.Client(nc, tcfg)
		hctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
		err = tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			nc.Close()
			var verr *tls.CertificateVerificationError
			if errors.As(err, &verr) {
				return fmt.Errorf("iggy: TLS handshake with %s: %w", c.cfg.Address, err)
			}
			return &TransportError{Op: "TLS handshake with " + c.cfg.Address, Err: err}
		}
		nc = tc
	}
	c.nc = nc
	c.client = newClientID()
	c.session, c.reqNo = 0, 1
	var body []byte
	var code uint32
	v := wire.ClientVersion{Protocol: wire.ProtocolVersion, SDKName: SDKName, SDKVersion: SDKVersion}
	if c.token != "" {
		code = wire.CodeLoginRegisterWithPAT
		body = (&wire.PATLoginRequest{Version: v, Token: c.token}).Append(nil)
	} else {
		code = wire.CodeLoginRegister
		body = (&wire.LoginRequest{Version: v, Username: c.cfg.Username, Password: c.cfg.Password}).Append(nil)
	}
	var lr wire.LoginReply
	err = c.roundTrip(ctx, code, func(b []byte) ([]byte, error) { return append(b, body...), nil }, func(p []byte) error {
		return lr.Decode(p)
	})
	if err != nil {
		c.dropLocked(nil)
		if isLoginRefusal(err) {
			user := c.cfg.Username
			if c.token != "" {
				user = ""
			}
			return &LoginError{User: user, Err: err}
		}
		return err
	}
	c.session, c.userID = lr.Session, lr.UserID
	c.log.Debug("iggy: logged in", "address", c.cfg.Address, "user_id", lr.UserID, "session", lr.Session, "server", lr.ServerVersion)
	return nil
}

// isLoginRefusal reports whether a login failed for a reason retrying cannot fix: credentials,
// token, inactive user, or a protocol version outside the server's window.
func isLoginRefusal(err error) bool {
	if errors.Is(err, ErrUnauthenticated) {
		return true
	}
	var ee *EvictedError
	if errors.As(err, &ee) {
		return ee.Reason == wire.EvictIncompatibleProtocol || ee.Reason == wire.EvictMalformedLogin
	}
	code, ok := ErrorCode(err)
	return ok && (code == wire.ErrCodeUserInactive || code == wire.ErrCodeIncompatibleProtocol)
}

func (c *Client) tlsConfig() (*tls.Config, error) {
	host, _, _ := net.SplitHostPort(c.cfg.Address)
	tcfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.cfg.TLS.InsecureSkipVerify}
	if c.cfg.TLS.ServerName != "" {
		tcfg.ServerName = c.cfg.TLS.ServerName
	}
	if c.cfg.TLS.CAFile != "" {
		pem, err := os.ReadFile(c.cfg.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: iggy TLS CA file: %v", ErrInvalidArgument, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: iggy TLS CA file %s holds no PEM certificate", ErrInvalidArgument, c.cfg.TLS.CAFile)
		}
		tcfg.RootCAs = pool
	}
	return tcfg, nil
}

// dropLocked closes the connection after a failure (sem held).
func (c *Client) dropLocked(cause error) {
	if c.nc != nil {
		c.nc.Close()
		c.nc = nil
	}
	if c.connected.Swap(false) && cause != nil {
		c.log.Warn("iggy: connection lost", "address", c.cfg.Address, "err", cause)
	}
}

// acquire takes the connection, (re)connecting when needed.
func (c *Client) acquire(ctx context.Context) error {
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closed:
		return ErrClosed
	}
	if c.nc == nil {
		if err := c.connectLocked(ctx); err != nil {
			<-c.sem
			return err
		}
	}
	return nil
}

func (c *Client) release() {
	c.lastUsed.Store(time.Now().UnixNano())
	<-c.sem
}

// call runs one request: build appends the body, handle decodes the reply payload (after the
// result section for result-framed operations; empty for "nothing" replies).
//
// A transient result (57 TransientNotCommitted, 58 TransientNotAccepted: the real server's
// consensus did not commit or accept the operation, so nothing happened) is replayed a few times,
// as the official SDK does.
func (c *Client) call(ctx context.Context, code uint32, build func([]byte) ([]byte, error), handle func([]byte) error) error {
	return replayTransient(ctx, func() error { return c.call1(ctx, code, build, handle) })
}

// replayTransient runs one request (attempt) and runs it again, up to five times in all with a short
// growing pause, while the server answers with a transient result.
func replayTransient(ctx context.Context, attempt func() error) error {
	for n := 1; ; n++ {
		err := attempt()
		if n == 5 || !isTransientResult(err) {
			return err
		}
		if backoff.Wait(ctx, time.Duration(n)*20*time.Millisecond) != nil {
			return err
		}
	}
}

func isTransientResult(err error) bool {
	code, ok := ErrorCode(err)
	return ok && (code == wire.ErrCodeTransientNotCommitted || code == wire.ErrCodeTransientNotAccepted)
}

func (c *Client) call1(ctx context.Context, code uint32, build func([]byte) ([]byte, error), handle func([]byte) error) error {
	if err := c.acquire(ctx); err != nil {
		return err
	}
	defer c.release()
	return c.roundTrip(ctx, code, build, handle)
}

// callEpoch is call that also returns the connection epoch the request ran on (for state the
// server keeps per connection, such as consumer-group membership: reading ConnectionEpoch before
// or after a call races with a reconnection the call itself makes). Transient results are replayed
// as in call; the epoch is the one of the last attempt.
func (c *Client) callEpoch(ctx context.Context, code uint32, build func([]byte) ([]byte, error), handle func([]byte) error) (uint64, error) {
	var epoch uint64
	err := replayTransient(ctx, func() error {
		if err := c.acquire(ctx); err != nil {
			return err
		}
		defer c.release()
		epoch = c.epoch.Load()
		return c.roundTrip(ctx, code, build, handle)
	})
	return epoch, err
}

// roundTrip writes one request and reads its reply (sem held, c.nc set). Transport failures drop
// the connection.
func (c *Client) roundTrip(ctx context.Context, code uint32, build func([]byte) ([]byte, error), handle func([]byte) error) error {
	if c.nc == nil {
		return &TransportError{Op: commandName(code), Err: errors.New("not connected")}
	}
	op := wire.OperationFor(code)
	frame := c.wbuf[:0]
	if cap(frame) < wire.HeaderSize {
		frame = make([]byte, 0, 64<<10)
	}
	frame = frame[:wire.HeaderSize]
	c.segs = c.segs[:0]
	defer func() { clear(c.segs) }() // no references to the caller's payloads after the call
	if build != nil {
		var err error
		if frame, err = build(frame); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrInvalidArgument, commandName(code), err)
		}
	}
	size := len(frame)
	if len(c.segs) > 0 {
		size = wire.SegmentsLen(c.segs)
	}
	if size > wire.MaxFrameSize {
		return fmt.Errorf("%w: %s: request of %d bytes exceeds the %d-byte frame limit", ErrInvalidArgument, commandName(code), size, wire.MaxFrameSize)
	}
	reqNo := c.reqNo
	session := c.session
	if op == wire.OpRegister {
		reqNo, session = 0, 0
	} else if wire.ConsumesRequestNumber(op) || wire.IsPartitionOp(op) {
		// Metadata and Logout consume a request number (spec 1.5); so do partition-plane
		// operations in the official 0.9.0 client (see docs/iggy-protocol-notes.md).
		c.reqNo++
	}
	wire.FinishRequestSized(frame, size, code, c.client, reqNo, session)
	if cap(frame) <= 8<<20 {
		c.wbuf = frame[:0]
	}

	deadline := time.Now().Add(c.cfg.RequestTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	nc := c.nc
	nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	fail := func(op string, err error) error {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		te := &TransportError{Op: commandName(code) + ": " + op, Err: err}
		c.dropLocked(te)
		return te
	}
	var err error
	if len(c.segs) > 0 {
		bufs := net.Buffers(c.segs) // writev; WriteTo consumes its own copy of the slice header
		_, err = bufs.WriteTo(nc)
	} else {
		_, err = nc.Write(frame)
	}
	if err != nil {
		return fail("write", err)
	}
	if code == wire.CodePollMessages {
		// Poll replies go to pooled memory that the returned messages alias (see replyMem).
		c.pollMem = getReplyMem()
		defer func() {
			if c.pollMem != nil {
				putReplyMem(c.pollMem)
				c.pollMem = nil
			}
		}()
	}
	for {
		buf := c.rbuf
		if c.pollMem != nil {
			buf = c.pollMem.buf
		}
		reply, err := wire.ReadFrame(nc, buf, wire.MaxFrameSize)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("connection closed by the server")
			}
			return fail("read", err)
		}
		if c.pollMem != nil {
			c.pollMem.buf = reply[:0]
		} else if cap(reply) <= 8<<20 {
			c.rbuf = reply[:0]
		}
		switch wire.FrameCommand(reply) {
		case wire.CommandEviction:
			ev, _ := wire.DecodeEviction(reply)
			e := &EvictedError{Reason: ev.Reason, Code: wire.EvictionErrorCode(ev.Reason),
				ServerProtocol: ev.ServerProtocol, ServerProtocolMin: ev.ServerProtocolMin}
			c.dropLocked(e)
			return fmt.Errorf("iggy: %s: %w", commandName(code), e)
		case wire.CommandReply:
		default:
			continue // not for clients; ignore like the official SDKs
		}
		h, _ := wire.DecodeReplyHeader(reply)
		body := reply[wire.HeaderSize:]
		if h.Request != reqNo || !wire.ReplyOperationMatches(op, h.Operation) {
			// Never read a reply to something else as this one's: report what it said and start over.
			ue := &UnexpectedReplyError{Command: commandName(code), WantRequest: reqNo, GotRequest: h.Request,
				WantOp: op, GotOp: h.Operation, Status: h.Status}
			if h.Status == 0 && wire.IsResultFramed(h.Operation) {
				if rc, _, err := wire.SplitResult(body); err == nil {
					ue.Result = rc
				}
			}
			c.dropLocked(ue)
			return ue
		}
		if h.Status != 0 {
			return &ServerError{Code: h.Status, Command: commandName(code)}
		}
		// The reply's operation decides the framing: the real server answers CreateTopic with its
		// internal CreateTopicWithAssignments operation (result-framed too).
		if wire.IsResultFramed(h.Operation) && (h.Operation != wire.OpRegister || len(body) > 0) {
			rc, payload, err := wire.SplitResult(body)
			if err != nil {
				return fail("decode", err)
			}
			if rc != 0 {
				return &ServerError{Code: rc, Command: commandName(code)}
			}
			body = payload
		}
		if handle == nil {
			return nil
		}
		if err := handle(body); err != nil {
			if errors.Is(err, ErrNotFound) {
				return err
			}
			return fail("decode reply", err)
		}
		return nil
	}
}

var commandNames = map[uint32]string{
	wire.CodePing: "Ping", wire.CodeGetStats: "GetStats", wire.CodeGetMe: "GetMe", wire.CodeLogoutUser: "Logout",
	wire.CodeLoginRegister: "Login", wire.CodeLoginRegisterWithPAT: "LoginWithToken", wire.CodePollMessages: "PollMessages",
	wire.CodeSendMessages: "SendMessages", wire.CodeGetConsumerOffset: "GetConsumerOffset",
	wire.CodeStoreConsumerOffset: "StoreConsumerOffset", wire.CodeDeleteConsumerOffset: "DeleteConsumerOffset",
	wire.CodeGetStream: "GetStream", wire.CodeGetStreams: "GetStreams", wire.CodeCreateStream: "CreateStream",
	wire.CodeDeleteStream: "DeleteStream", wire.CodeGetTopic: "GetTopic", wire.CodeGetTopics: "GetTopics",
	wire.CodeCreateTopic: "CreateTopic", wire.CodeDeleteTopic: "DeleteTopic", wire.CodeCreatePartitions: "CreatePartitions",
	wire.CodeDeletePartitions: "DeletePartitions", wire.CodeGetConsumerGroup: "GetConsumerGroup",
	wire.CodeGetConsumerGroups: "GetConsumerGroups", wire.CodeCreateConsumerGroup: "CreateConsumerGroup",
	wire.CodeDeleteConsumerGroup: "DeleteConsumerGroup", wire.CodeJoinConsumerGroup: "JoinConsumerGroup",
	wire.CodeLeaveConsumerGroup: "LeaveConsumerGroup", wire.CodeSyncConsumerGroup: "SyncConsumerGroup",
	wire.CodeCreatePAT: "CreatePersonalAccessToken", wire.CodeDeletePAT: "DeletePersonalAccessToken",
	wire.CodeGetPATs: "GetPersonalAccessTokens", wire.CodeGetClusterMetadata: "GetClusterMetadata",
}

func commandName(code uint32) string {
	if n, ok := commandNames[code]; ok {
		return n
	}
	return fmt.Sprintf("command %d", code)
}
