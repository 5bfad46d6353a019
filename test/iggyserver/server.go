// Package iggyserver is a small Apache Iggy 0.9 compatible server (binary TCP protocol 0.11, VSR
// framing) for development and tests. It is a stand-in that the project's tests, benchmarks and
// quick start run against — never a replacement for Apache Iggy: one process, no replication, no
// segments, no message expiry enforcement.
//
// What it does: users (root iggy/iggy and configured ones with every permission, plus users
// created with the user-management commands) with permissions enforced by the official server's
// rules, and personal access tokens; streams, topics (options parsed, validated and reported as
// the official server does) and partitions, with update and purge; send and poll with
// server-assigned offsets and timestamps and
// checksum verification; consumer groups whose partition assignment is re-dealt on join, leave,
// disconnect and partition changes, with heartbeat eviction of silent members; stored consumer
// offsets; the real error codes and eviction frames. Each connection is served by one goroutine,
// strictly in order (lockstep replies). With DataDir set, messages go to append-only
// per-partition log files and metadata plus offsets to an atomically replaced JSON file, always
// before the reply is sent: a kill -9 after a reply loses nothing the client saw acknowledged
// (an OS crash can, unless Fsync is on).
//
// It never panics on client input: decoders return errors that become the protocol's status codes,
// frames with a bad size close the connection, and a per-connection recover is the last line of
// defence.
package iggyserver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy/wire"
)

// Version is the server version reported at login and in stats.
const Version = "0.9.0"

// Config configures a Server. The zero value serves on 127.0.0.1:8090 in memory.
type Config struct {
	Addr              string            // listen address for ListenAndServe (default 127.0.0.1:8090)
	DataDir           string            // persistence directory; "" keeps everything in memory
	Fsync             bool              // fsync log and metadata writes (default off: safe against kill -9, not power loss)
	TLS               *tls.Config       // serve TLS on the same listener when set
	RootUsername      string            // default "iggy"
	RootPassword      string            // default "iggy"
	Users             map[string]string // extra users with every global permission: username -> password
	HeartbeatInterval time.Duration     // default 30s; group members silent for 1.2x this are evicted
	MaxFrameSize      int               // default wire.MaxFrameSize (64 MiB)
	Logger            *slog.Logger      // default slog.Default()
	// TraceFrames logs every request and reply header at debug level.
	TraceFrames bool
}

// Server is a running development server. Create with New, then Serve or ListenAndServe.
type Server struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex // guards the state below and every stream/topic/partition/group
	st    *state
	conns map[*conn]struct{}

	panics     atomic.Uint64 // connections ended by a recovered panic (tests assert 0)
	nextConnID atomic.Uint32
	nextSess   atomic.Uint64
	commit     atomic.Uint64
	started    time.Time

	lnMu     sync.Mutex
	ln       net.Listener
	closed   chan struct{}
	closeOne sync.Once
	wg       sync.WaitGroup
}

// New loads DataDir (when set) and returns a server that is not yet listening.
func New(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8090"
	}
	if cfg.RootUsername == "" {
		cfg.RootUsername = "iggy"
	}
	if cfg.RootPassword == "" {
		cfg.RootPassword = "iggy"
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 30 * time.Second
	}
	if cfg.MaxFrameSize <= 0 {
		cfg.MaxFrameSize = wire.MaxFrameSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger, conns: map[*conn]struct{}{}, closed: make(chan struct{}), started: time.Now()}
	st, err := loadState(cfg, s.log)
	if err != nil {
		return nil, err
	}
	s.st = st
	s.nextSess.Store(st.meta.LastSession)
	return s, nil
}

// ListenAndServe listens on Config.Addr and serves until Close.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("iggy-devserver: listen %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ln)
}

// Start listens on addr (use "127.0.0.1:0" for a free port) and serves in the background. It is
// the usual way tests run the server; stop it with Close.
func Start(cfg Config) (*Server, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		s.st.close()
		return nil, fmt.Errorf("iggy-devserver: listen %s: %w", s.cfg.Addr, err)
	}
	s.setListener(ln)
	go s.Serve(ln)
	return s, nil
}

func (s *Server) setListener(ln net.Listener) {
	s.lnMu.Lock()
	s.ln = ln
	s.lnMu.Unlock()
}

// Addr returns the listening address (nil before Serve).
func (s *Server) Addr() net.Addr {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve accepts connections on ln until Close. It returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	s.setListener(ln)
	s.wg.Add(1)
	go s.janitor()
	s.log.Info("iggy-devserver listening", "addr", ln.Addr().String(), "tls", s.cfg.TLS != nil, "data_dir", s.cfg.DataDir)
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-s.closed:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(delay*2, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if tc, ok := nc.(*net.TCPConn); ok {
			tc.SetNoDelay(true)
			tc.SetWriteBuffer(4 << 20)
			tc.SetReadBuffer(4 << 20)
		}
		c := s.newConn(nc)
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go c.serve()
	}
}

// Close stops listening, closes every connection and the data files. It waits for connection
// goroutines to finish.
func (s *Server) Close() error {
	s.closeOne.Do(func() {
		close(s.closed)
		s.lnMu.Lock()
		if s.ln != nil {
			s.ln.Close()
		}
		s.lnMu.Unlock()
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
		s.mu.Lock()
		s.st.close()
		s.mu.Unlock()
	})
	return nil
}

// janitor evicts consumer-group members whose connection was silent for 1.2 heartbeat intervals.
func (s *Server) janitor() {
	defer s.wg.Done()
	tick := time.NewTicker(max(s.cfg.HeartbeatInterval/10, 50*time.Millisecond))
	defer tick.Stop()
	limit := s.cfg.HeartbeatInterval * 12 / 10
	for {
		select {
		case <-s.closed:
			return
		case <-tick.C:
		}
		now := time.Now().UnixNano()
		var stale []*conn
		s.mu.Lock()
		for c := range s.conns {
			if c.memberships > 0 && time.Duration(now-c.lastSeen.Load()) > limit {
				stale = append(stale, c)
			}
		}
		s.mu.Unlock()
		for _, c := range stale {
			s.log.Warn("evicting silent consumer-group member", "conn", c.id, "remote", c.remote, "silent_for", time.Duration(now-c.lastSeen.Load()))
			c.s.mu.Lock()
			client := c.client
			c.s.mu.Unlock()
			c.evict(wire.EvictStaleClient, client)
		}
	}
}
