// Package api is the runtime's HTTP management API (spec §5): the original's routes and JSON
// shapes — /, /health, /stats, /sinks and /sources with details, transforms, versioned configs,
// the active version, plugin config rendering and restart — plus GET /ready and, when
// http.metrics.enabled, the Prometheus endpoint at http.metrics.endpoint. docs/openapi.yaml
// describes every route.
//
// Access: when http.api_key is set, every route except /, /health and /ready needs the header
// `api-key: <key>` (401 with an empty body otherwise), the metrics endpoint included, as in the
// original. /ready answers without the key so that probes need no secret, but then it only says
// whether the runtime is ready; the reasons (which name connectors and their errors) are shown to
// callers that present the key. CORS (http.cors) answers preflight requests before the key is
// checked, as the original's layer order does; HTTPS is served with http.tls.cert_file/key_file.
//
// Differences from the original, on purpose (also in docs/openapi.yaml):
//   - disabled connectors are listed by /sinks, /sources and /stats (enabled false, status
//     "stopped") so that they can be inspected, re-configured and restarted through the API; the
//     original hid them although its shape has the "enabled" field;
//   - a config version that does not exist is 404 {sink,source}_config_not_found (the original
//     answered 500 with the same code);
//   - bodies of POST …/configs and PUT …/configs/active must be JSON (Content-Type
//     application/json, else 415, like the original's extractor): this keeps them from being
//     "simple" cross-site requests; a malformed body is 400;
//   - restart uses the ACTIVE config version, not the highest (engine.Restart).
//
// Handlers run concurrently; every engine and provider method they call is safe for that.
package api

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/runtime/engine"
	"github.com/iggy-go/connectors/runtime/metrics"
)

// Options configure a Server.
type Options struct {
	HTTP   config.HTTPConfig // [http]: address, api_key, cors, metrics, tls
	Engine *engine.Engine    // required
	// Metrics is served at HTTP.Metrics.Endpoint when HTTP.Metrics.Enabled; nil = no metrics route.
	Metrics *metrics.Metrics
	Logger  *slog.Logger // nil = slog.Default()
	// Version is the runtime version reported by /stats.
	Version string
	// Instance is this runtime's name among replicas (config key instance), reported by /stats;
	// empty = not reported.
	Instance string
	// StartTime is when the runtime started (/stats run_time, start_time); zero = when New ran.
	StartTime time.Time
}

// Route is one registered method and path pattern (Go ServeMux wildcards: /sinks/{key}).
type Route struct {
	Method string
	Path   string
}

// Server is the management API of one runtime.
type Server struct {
	opt     Options
	log     *slog.Logger
	mux     *http.ServeMux
	routes  []Route
	handler http.Handler
	tls     *tls.Config
	cpu     cpuSampler

	mu       sync.Mutex
	listener net.Listener
	srv      *http.Server
}

// New builds the server: routes, the api-key check, CORS and, when enabled, the TLS key pair
// (read now, so a bad file is reported at startup with its name). It does not listen.
func New(opt Options) (*Server, error) {
	if opt.Engine == nil {
		return nil, errors.New("api: Options.Engine is required")
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.StartTime.IsZero() {
		opt.StartTime = time.Now()
	}
	s := &Server{opt: opt, log: opt.Logger.With("component", "api"), mux: http.NewServeMux()}
	if err := s.registerRoutes(); err != nil {
		return nil, err
	}
	cors, err := newCORS(opt.HTTP.CORS)
	if err != nil {
		return nil, err
	}
	s.handler = cors.wrap(s.authenticate(s.mux))
	if opt.HTTP.TLS.Enabled {
		pair, err := tls.LoadX509KeyPair(opt.HTTP.TLS.CertFile, opt.HTTP.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("http.tls: load certificate %q and key %q: %w", opt.HTTP.TLS.CertFile, opt.HTTP.TLS.KeyFile, err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	return s, nil
}

// Handler is the whole API (CORS, api-key check, routes), e.g. for httptest.
func (s *Server) Handler() http.Handler { return s.handler }

// Routes lists the registered routes in registration order.
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// Listen binds http.address (":0" picks a free port; Addr tells which). Call it before starting
// the connectors so that a busy port fails the start before any plugin runs.
func (s *Server) Listen() (net.Addr, error) {
	l, err := net.Listen("tcp", s.opt.HTTP.Address)
	if err != nil {
		return nil, fmt.Errorf("http.address %q: %w", s.opt.HTTP.Address, err)
	}
	s.mu.Lock()
	s.listener = l
	s.mu.Unlock()
	s.warnExposure(l.Addr())
	return l.Addr(), nil
}

// Serve serves the API on the listener of Listen, in the background, until Shutdown.
func (s *Server) Serve() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		return errors.New("api: Serve before Listen")
	}
	if s.srv != nil {
		return errors.New("api: Serve called twice")
	}
	l := s.listener
	if s.tls != nil {
		l = tls.NewListener(l, s.tls)
	}
	s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	srv := s.srv
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("HTTP API stopped", "err", err)
		}
	}()
	s.log.Info("HTTP API listening", "address", s.listener.Addr().String(), "tls", s.tls != nil,
		"metrics", s.metricsEnabled(), "auth", s.opt.HTTP.APIKey != "")
	return nil
}

// Shutdown stops accepting requests and waits for the running ones until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv, l := s.srv, s.listener
	s.mu.Unlock()
	if srv != nil {
		return srv.Shutdown(ctx)
	}
	if l != nil {
		return l.Close()
	}
	return nil
}

func (s *Server) metricsEnabled() bool { return s.opt.HTTP.Metrics.Enabled && s.opt.Metrics != nil }

// handle registers one route; a pattern that conflicts with another (a metrics endpoint such as
// "/sinks") is an error naming the key.
func (s *Server) handle(method, path string, h http.HandlerFunc) (err error) {
	pattern := method + " " + path
	if path == "/" {
		pattern = method + " /{$}" // exactly "/", not every unmatched path
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("route %s %s: %v", method, path, r)
		}
	}()
	s.mux.HandleFunc(pattern, h)
	s.routes = append(s.routes, Route{Method: method, Path: path})
	return nil
}

func (s *Server) registerRoutes() error {
	type route struct {
		method, path string
		h            http.HandlerFunc
	}
	routes := []route{
		{"GET", "/", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("Connector Runtime API"))
		}},
		{"GET", "/health", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]string{"status": "healthy"})
		}},
		{"GET", "/ready", s.getReady},
		{"GET", "/stats", s.getStats},
	}
	for _, kind := range []config.Kind{config.KindSink, config.KindSource} {
		base := "/" + kind.Plural()
		k := kind
		routes = append(routes,
			route{"GET", base, func(w http.ResponseWriter, r *http.Request) { s.list(w, r, k) }},
			route{"GET", base + "/{key}", func(w http.ResponseWriter, r *http.Request) { s.details(w, r, k) }},
			route{"GET", base + "/{key}/transforms", func(w http.ResponseWriter, r *http.Request) { s.transforms(w, r, k) }},
			route{"GET", base + "/{key}/configs", func(w http.ResponseWriter, r *http.Request) { s.listConfigs(w, r, k) }},
			route{"POST", base + "/{key}/configs", func(w http.ResponseWriter, r *http.Request) { s.createConfig(w, r, k) }},
			route{"DELETE", base + "/{key}/configs", func(w http.ResponseWriter, r *http.Request) { s.deleteConfig(w, r, k) }},
			route{"GET", base + "/{key}/configs/{version}", func(w http.ResponseWriter, r *http.Request) { s.getConfig(w, r, k) }},
			route{"GET", base + "/{key}/configs/active", func(w http.ResponseWriter, r *http.Request) { s.activeConfig(w, r, k) }},
			route{"PUT", base + "/{key}/configs/active", func(w http.ResponseWriter, r *http.Request) { s.setActive(w, r, k) }},
			route{"GET", base + "/{key}/configs/plugin", func(w http.ResponseWriter, r *http.Request) { s.pluginConfig(w, r, k) }},
			route{"POST", base + "/{key}/restart", func(w http.ResponseWriter, r *http.Request) { s.restart(w, r, k) }},
		)
	}
	for _, rt := range routes {
		if strings.Contains(rt.path, "{key}") {
			rt.h = checkKey(rt.h)
		}
		if err := s.handle(rt.method, rt.path, rt.h); err != nil {
			return err
		}
	}
	if s.metricsEnabled() {
		ep := s.opt.HTTP.Metrics.Endpoint
		if !strings.HasPrefix(ep, "/") || strings.ContainsAny(ep, "{} \t") {
			return fmt.Errorf("http.metrics.endpoint %q: must be a plain path starting with \"/\"", ep)
		}
		if err := s.handle("GET", ep, s.opt.Metrics.Handler().ServeHTTP); err != nil {
			return fmt.Errorf("http.metrics.endpoint %q collides with an API route: %w", ep, err)
		}
	}
	return nil
}

// checkKey answers 400 invalid_key, before h runs, when the {key} of the path does not match
// config.KeyPattern: no provider lookup, file name or log line ever sees such a key.
func checkKey(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := config.CheckKey(r.PathValue("key")); err != nil {
			writeError(w, http.StatusBadRequest, codeInvalidKey, "connector key: "+err.Error())
			return
		}
		h(w, r)
	}
}

// authorized reports whether r may use the protected routes: no api_key is configured, or the
// api-key header equals it.
func (s *Server) authorized(r *http.Request) bool {
	key := s.opt.HTTP.APIKey
	if key == "" {
		return true
	}
	got := r.Header.Get("api-key")
	return subtle.ConstantTimeCompare([]byte(got), []byte(key)) == 1
}

// authenticate answers 401 (empty body) to requests without the right api-key, except on /,
// /health and /ready.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/", "/health", "/ready":
		default:
			if !s.authorized(r) {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// warnExposure logs the original's containment warnings: an API reachable beyond loopback without
// an api_key, or without TLS.
func (s *Server) warnExposure(addr net.Addr) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP.IsLoopback() {
		return
	}
	if s.opt.HTTP.APIKey == "" {
		s.log.Warn("the HTTP API listens beyond loopback without http.api_key: anyone who reaches it can read and rewrite every connector config",
			"address", addr.String())
	}
	if !s.opt.HTTP.TLS.Enabled {
		s.log.Warn("the HTTP API listens beyond loopback with http.tls disabled: the api-key header and the configs in responses cross in cleartext",
			"address", addr.String())
	}
}
