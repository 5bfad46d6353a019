// Package engine runs the runtime's connectors: it reads the active connector configs from the
// config provider, loads each connector's plugin, connects it to Iggy, wraps it in a pipeline and
// supervises it — start, status, restart with the active config, reload on SIGHUP, shutdown.
//
// One Engine per process. Its methods are safe for concurrent use (the HTTP API calls them).
// A connector's failure never stops the others: a bad config, a missing plugin or a plugin that
// cannot open puts that connector in status "error" with its reason.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/iggy-go/connectors/runtime/backoff"
	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/runtime/config/provider"
	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/runtime/pipeline"
	"github.com/iggy-go/connectors/runtime/plugin"
	"github.com/iggy-go/connectors/runtime/state"
)

// Options configure an Engine.
type Options struct {
	Config   *config.Config    // the main config (iggy, state)
	Provider provider.Provider // connector configs
	Logger   *slog.Logger
	// PluginDirs are searched for relative plugin paths before plugin.SearchDirs (tests; nil in
	// the runtime).
	PluginDirs []string
	// Observer, if set, returns the stage observer of a connector (latency histograms).
	Observer func(kind config.Kind, key string) pipeline.Observer
	// OnStatus, if set, is told about every status change of every connector.
	OnStatus func(kind config.Kind, key string, from, to pipeline.Status)
	// StopTimeout bounds how long stopping one connector may take (default 10s): the in-flight plugin
	// call is waited for, then the connector is abandoned (nothing uncommitted is committed).
	StopTimeout time.Duration
	// Executable is the runtime binary started as plugin host by transport = "process" (default: this
	// executable).
	Executable string
}

// Engine supervises every connector of the process.
type Engine struct {
	opt    Options
	log    *slog.Logger
	states *state.Store

	mu         sync.Mutex
	connectors map[string]*Connector // by kind/key
	nextID     uint32                // plugin ids for the API, as the original's counter (from 1)
	libs       map[string]*plugin.Library

	problems    config.Problems // errors of the latest read of the active configs (Start, Reload)
	admin       *iggy.Client    // liveness of the Iggy connection for /ready and /stats
	adminOnce   sync.Once
	adminCancel context.CancelFunc // ends connectAdmin's retries
	loginErr    error              // guarded by mu: the last refused login (bad credentials), until a login succeeds
	ctx         context.Context
	cancel      context.CancelFunc
}

// New creates an engine; Start starts it.
func New(opt Options) (*Engine, error) {
	if opt.Config == nil || opt.Provider == nil {
		return nil, errors.New("engine: Config and Provider are required")
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.StopTimeout == 0 {
		opt.StopTimeout = 10 * time.Second
	}
	return &Engine{
		opt: opt, log: opt.Logger, states: state.New(opt.Config.State.Path),
		connectors: map[string]*Connector{}, libs: map[string]*plugin.Library{},
	}, nil
}

func connectorID(kind config.Kind, key string) string { return string(kind) + "/" + key }

// Start connects the admin Iggy client, reads the active configs and starts every connector (sources
// first, like the original). A provider failure is returned; connector failures are not (they show
// in the connectors' status, and config problems in Ready).
func (e *Engine) Start(ctx context.Context) error {
	e.ctx, e.cancel = context.WithCancel(context.WithoutCancel(ctx))
	actx, acancel := context.WithCancel(e.ctx)
	e.adminCancel = acancel
	go e.connectAdmin(actx)
	snap, err := e.opt.Provider.ActiveConfigs(ctx)
	if err != nil {
		return fmt.Errorf("read connector configs from %s: %w", e.opt.Provider.Describe(), err)
	}
	e.noteProblems(snap.Problems)
	for _, c := range snap.All() {
		e.launch(ctx, c)
	}
	return nil
}

// noteProblems logs the problems of the latest read of the active configs and keeps the errors
// for Ready: a connector config that was rejected is a connector that should run and does not.
func (e *Engine) noteProblems(ps config.Problems) {
	for _, p := range ps {
		e.log.Warn("connector config problem", "problem", p.Error())
	}
	errs := ps.Errors()
	e.mu.Lock()
	e.problems = errs
	e.mu.Unlock()
}

// connectAdmin dials the Iggy client the engine itself uses (readiness, stats), retrying until ctx
// ends (the engine stops).
func (e *Engine) connectAdmin(ctx context.Context) {
	for attempt := 1; ctx.Err() == nil; attempt++ {
		c, err := e.dialIggy(ctx, e.log.With("client", "admin"))
		if err == nil {
			e.mu.Lock()
			e.admin = c
			e.mu.Unlock()
			return
		}
		if e.retryDial(ctx, attempt, err, e.log) != nil {
			return
		}
	}
}

// LoginRetry is the back-off between logins the server refused (bad credentials or token, an
// inactive user, an incompatible protocol version): slow, since only an operator can fix them.
var LoginRetry = backoff.Policy{Initial: 10 * time.Second, Max: time.Minute, Multiplier: 2, Jitter: 0.2}

// dialIggy connects a client with the runtime's Iggy settings; a success clears a recorded login
// refusal.
func (e *Engine) dialIggy(ctx context.Context, log *slog.Logger) (*iggy.Client, error) {
	c, err := iggy.Dial(ctx, IggyConfig(e.opt.Config, log))
	if err == nil {
		e.mu.Lock()
		e.loginErr = nil
		e.mu.Unlock()
	}
	return c, err
}

// retryDial reports a failed connection and waits before the next attempt: a refused login is
// logged once at error level (until a login succeeds), recorded for Ready and retried slowly
// (LoginRetry); other failures are logged as warnings and retried with the default back-off. It
// returns ctx's error when ctx ends while waiting.
func (e *Engine) retryDial(ctx context.Context, attempt int, err error, log *slog.Logger) error {
	var le *iggy.LoginError
	if errors.As(err, &le) {
		e.mu.Lock()
		first := e.loginErr == nil || e.loginErr.Error() != err.Error()
		e.loginErr = err
		e.mu.Unlock()
		wait := LoginRetry.Delay(attempt)
		if first {
			e.log.Error("cannot log in to Iggy; retrying slowly until the credentials are fixed", "address", e.opt.Config.Iggy.Address,
				"err", err, "retry_after", wait)
		}
		log.Debug("Iggy login refused", "attempt", attempt, "retry_after", wait)
		return backoff.Wait(ctx, wait)
	}
	log.Warn("cannot connect to Iggy; retrying", "address", e.opt.Config.Iggy.Address, "attempt", attempt, "err", err)
	return backoff.Default.Sleep(ctx, attempt)
}

// IggyConnected reports whether the engine's own Iggy connection is up.
func (e *Engine) IggyConnected() bool {
	e.mu.Lock()
	c := e.admin
	e.mu.Unlock()
	return c != nil && c.Connected()
}

// IggyReconnects sums the reconnections of every Iggy client of the engine.
func (e *Engine) IggyReconnects() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var n uint64
	if e.admin != nil {
		n += e.admin.Reconnects()
	}
	for _, c := range e.connectors {
		n += c.reconnects()
	}
	return n
}

// Connectors returns every connector the engine knows, sources first then sinks, by key.
func (e *Engine) Connectors() []*Connector {
	e.mu.Lock()
	out := make([]*Connector, 0, len(e.connectors))
	for _, c := range e.connectors {
		out = append(out, c)
	}
	e.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind == config.KindSource
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// Connector returns one connector, or nil.
func (e *Engine) Connector(kind config.Kind, key string) *Connector {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.connectors[connectorID(kind, key)]
}

// Provider is the connector config provider (for the API's config endpoints).
func (e *Engine) Provider() provider.Provider { return e.opt.Provider }

// Reason is one thing that keeps the runtime from being ready. What names it without error text
// (safe to show to anyone who can reach /ready); Detail is the error behind it, which may quote
// Iggy, a plugin or a config file, "" when there is none.
type Reason struct {
	What   string
	Detail string
}

// String renders "what: detail" (or what alone).
func (r Reason) String() string {
	if r.Detail == "" {
		return r.What
	}
	return r.What + ": " + r.Detail
}

// Ready reports whether the runtime runs what it is configured to: Iggy is connected, every
// enabled connector is running, and the latest read of the connector configs (start or reload)
// rejected none (a rejected file is a connector that should run and does not). When not ready,
// the reasons name what is not ready, in that order.
func (e *Engine) Ready() (bool, []Reason) {
	var reasons []Reason
	e.mu.Lock()
	problems, loginErr := e.problems, e.loginErr
	e.mu.Unlock()
	switch {
	case loginErr != nil:
		// Composed by the client from the login's result code and the configured user name (no
		// server text): "login failed: invalid credentials for user ...".
		reasons = append(reasons, Reason{What: strings.TrimPrefix(loginErr.Error(), "iggy: ")})
	case !e.IggyConnected():
		reasons = append(reasons, Reason{What: fmt.Sprintf("iggy: not connected to %s", e.opt.Config.Iggy.Address)})
	}
	byFile := map[string]int{} // index in reasons: one reason per file
	for _, p := range problems {
		what := "connector config rejected"
		if p.File != "" {
			what += ": " + p.File
		}
		detail := p.Message
		if p.Key != "" {
			detail = p.Key + ": " + detail
		}
		if i, ok := byFile[what]; ok {
			reasons[i].Detail += "; " + detail
			continue
		}
		byFile[what] = len(reasons)
		reasons = append(reasons, Reason{What: what, Detail: detail})
	}
	for _, c := range e.Connectors() {
		if !c.Config().Enabled {
			continue
		}
		st, lastErr := c.State.Get()
		if st != pipeline.StatusRunning {
			r := Reason{What: fmt.Sprintf("%s %s: %s", c.Kind, c.Key, st)}
			if lastErr != nil {
				r.Detail = lastErr.Message
			}
			reasons = append(reasons, r)
		}
	}
	return len(reasons) == 0, reasons
}

// ensure returns the connector of cfg's kind and key, registering it (not started yet; start it
// with restart) when the engine does not know it. Safe for concurrent use: concurrent calls for
// one key return the same connector.
func (e *Engine) ensure(cfg *config.ConnectorConfig) *Connector {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := connectorID(cfg.Kind, cfg.Key)
	c := e.connectors[id]
	if c == nil {
		c = newConnector(e, cfg)
		e.connectors[id] = c
	}
	return c
}

// newPluginID returns the next plugin instance id (from 1, as the original's counter).
func (e *Engine) newPluginID() uint32 {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.nextID++
	return e.nextID
}

// launch starts the connector of cfg through its restart path, so that every start of a connector
// (startup, reload, API restart) is serialised with the others of the same connector: one instance
// runs at a time.
func (e *Engine) launch(ctx context.Context, cfg *config.ConnectorConfig) {
	c := e.ensure(cfg)
	if err := c.restart(ctx, func() (*config.ConnectorConfig, error) { return cfg, nil }); err != nil {
		e.log.Error("starting connector failed", "connector", connectorID(cfg.Kind, cfg.Key), "err", err)
	}
}

// Restart stops the connector and starts it again with its ACTIVE config from the provider (the
// original reloaded the highest version). The config is read before anything is stopped: when it
// cannot be used (invalid file, no config) the error is returned and the running instance keeps
// running. A connector the engine does not run yet but the provider has is started. Concurrent
// restarts of one connector are collapsed: a call made while a restart is running waits for it to
// finish and returns nil (the running restart reports its own error).
func (e *Engine) Restart(ctx context.Context, kind config.Kind, key string) error {
	load := func() (*config.ConnectorConfig, error) { return e.opt.Provider.ActiveConfig(ctx, kind, key) }
	c := e.Connector(kind, key)
	if c != nil {
		return c.restart(ctx, load)
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	c = e.ensure(cfg)
	if err := c.restart(ctx, load); err != nil {
		// The config went away between the two reads: do not list a connector that never ran.
		e.mu.Lock()
		if !c.started() && e.connectors[connectorID(kind, key)] == c {
			delete(e.connectors, connectorID(kind, key))
		}
		e.mu.Unlock()
		return err
	}
	return nil
}

// Reload re-reads the active configs (SIGHUP): connectors whose config changed are restarted, new
// ones started, removed ones stopped; the others keep running untouched. It returns the ids of the
// connectors it restarted, started or stopped.
func (e *Engine) Reload(ctx context.Context) ([]string, error) {
	snap, err := e.opt.Provider.ActiveConfigs(ctx)
	if err != nil {
		return nil, err
	}
	e.noteProblems(snap.Problems)
	problemFiles := map[string]bool{}
	for _, p := range snap.Problems.Errors() {
		problemFiles[p.File] = true
	}
	seen := map[string]bool{}
	var changed []string
	for _, cfg := range snap.All() {
		id := connectorID(cfg.Kind, cfg.Key)
		seen[id] = true
		c := e.Connector(cfg.Kind, cfg.Key)
		if c != nil && sameConfig(c.Config(), cfg) {
			continue
		}
		changed = append(changed, id)
		e.launch(ctx, cfg)
	}
	for _, c := range e.Connectors() {
		id := connectorID(c.Kind, c.Key)
		if seen[id] {
			continue
		}
		// Left out of the snapshot: removed, or its config is now invalid. Only a removed connector
		// is stopped; a broken edit (a problem names the file it runs from, or the provider says the
		// config is invalid) leaves the running one alone; the problem is logged above.
		if f := c.Config().File; f != "" && problemFiles[f] {
			e.log.Warn("connector config file is invalid; the connector keeps running with its current config",
				"connector", id, "file", f)
			continue
		}
		if _, err := e.opt.Provider.ActiveConfig(ctx, c.Kind, c.Key); !errors.Is(err, provider.ErrNotFound) {
			e.log.Warn("connector config cannot be used; the connector keeps running with its current config",
				"connector", id, "err", err)
			continue
		}
		changed = append(changed, id)
		c.stop()
		e.mu.Lock()
		delete(e.connectors, id)
		e.mu.Unlock()
	}
	e.log.Info("connector configs reloaded", "changed", changed)
	return changed, nil
}

func sameConfig(a, b *config.ConnectorConfig) bool {
	ja, err1 := a.MarshalJSON()
	jb, err2 := b.MarshalJSON()
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// Stop stops every connector (sources first, so nothing new is produced while sinks drain), closes
// the plugins and the Iggy clients. Each connector's stop is bounded by StopTimeout.
func (e *Engine) Stop() {
	// The engine's own client is not needed to stop: end its reconnections at once (with Iggy down
	// they would otherwise keep starting during the stop).
	if e.adminCancel != nil {
		e.adminCancel()
	}
	e.mu.Lock()
	admin := e.admin
	e.mu.Unlock()
	if admin != nil {
		admin.Drain()
		_ = admin.Close()
	}
	all := e.Connectors()
	var wg sync.WaitGroup
	for _, kind := range []config.Kind{config.KindSource, config.KindSink} {
		for _, c := range all {
			if c.Kind == kind {
				wg.Add(1)
				go func() { defer wg.Done(); c.stop() }()
			}
		}
		wg.Wait()
	}
	if e.cancel != nil {
		e.cancel()
	}
}

// library opens (once per path and transport) the plugin library of a connector.
func (e *Engine) library(cfg *config.ConnectorConfig, log *slog.Logger) (*plugin.Library, error) {
	resolved, err := plugin.Resolve(cfg.Path, e.opt.PluginDirs)
	if err != nil {
		return nil, err
	}
	transport := plugin.Transport(cfg.Transport)
	id := resolved + "|" + string(transport)
	e.mu.Lock()
	defer e.mu.Unlock()
	if l, ok := e.libs[id]; ok {
		return l, nil
	}
	l, err := plugin.Open(resolved, plugin.Options{Transport: transport, Logger: e.log, Executable: e.opt.Executable})
	if err != nil {
		return nil, err
	}
	e.libs[id] = l
	return l, nil
}

// IggyConfig builds the Iggy client config from the main config.
func IggyConfig(c *config.Config, log *slog.Logger) iggy.Config {
	ic := iggy.Config{
		Address:  c.Iggy.Address,
		Username: c.Iggy.Username,
		Password: c.Iggy.Password,
		Token:    c.Iggy.Token,
		Logger:   log,
	}
	if c.Iggy.TLS.Enabled {
		ic.TLS = iggy.TLSConfig{Enabled: true, CAFile: c.Iggy.TLS.CAFile, ServerName: c.Iggy.TLS.Domain}
	}
	return ic
}
