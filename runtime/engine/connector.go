package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/runtime/backoff"
	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/runtime/pipeline"
	"github.com/iggy-go/connectors/runtime/plugin"
	"github.com/iggy-go/connectors/runtime/state"
	"github.com/iggy-go/connectors/runtime/transform"
)

// Connector is one configured connector and its running instance.
type Connector struct {
	Kind     config.Kind
	Key      string
	State    *pipeline.State
	Counters *pipeline.Counters

	e   *Engine
	log *slog.Logger

	mu       sync.Mutex
	cfg      *config.ConnectorConfig
	pluginID uint32
	lib      *plugin.Library
	clients  []*iggy.Client
	cancel   context.CancelFunc
	done     chan struct{}

	restartMu sync.Mutex // one restart at a time

	// Plugin-process restarts: of instances that are closed (restartsBase) and of the open one.
	restartsBase uint64        // guarded by mu
	restartsCur  func() uint64 // guarded by mu; nil when no instance is open
}

func newConnector(e *Engine, cfg *config.ConnectorConfig) *Connector {
	c := &Connector{Kind: cfg.Kind, Key: cfg.Key, Counters: &pipeline.Counters{}, e: e, cfg: cfg,
		log: e.log.With("connector", cfg.Key, "connector_type", string(cfg.Kind))}
	c.State = pipeline.NewState(func(from, to pipeline.Status) {
		if e.opt.OnStatus != nil {
			e.opt.OnStatus(c.Kind, c.Key, from, to)
		}
	})
	return c
}

// Config returns the config the connector runs with (or last ran with).
func (c *Connector) Config() *config.ConnectorConfig {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg
}

func (c *Connector) setConfig(cfg *config.ConnectorConfig) {
	c.mu.Lock()
	c.cfg = cfg
	c.mu.Unlock()
}

// PluginID is the id of the connector's current plugin instance attempt (0 before the first start).
func (c *Connector) PluginID() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pluginID
}

// Library returns the loaded plugin library, or nil when it could not be loaded.
func (c *Connector) Library() *plugin.Library {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lib
}

// PluginRestarts counts how often the plugin process of this connector's instances was restarted
// after dying (transport "process"; always 0 in process), over every instance the connector opened
// (connector restarts included). Monotonic; safe for concurrent use (the metrics exporter reads it).
func (c *Connector) PluginRestarts() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.restartsBase
	if c.restartsCur != nil {
		n += c.restartsCur()
	}
	return n
}

// trackRestarts makes PluginRestarts include an open instance's restarts; the returned function,
// called when the instance is closed, folds its final count into the base.
func (c *Connector) trackRestarts(restarts func() uint64) (untrack func()) {
	c.mu.Lock()
	c.restartsCur = restarts
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		c.restartsCur = nil
		c.restartsBase += restarts()
		c.mu.Unlock()
	}
}

func (c *Connector) reconnects() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n uint64
	for _, cl := range c.clients {
		n += cl.Reconnects()
	}
	return n
}

// start runs the connector in the background.
func (c *Connector) start(parent context.Context, pluginID uint32) {
	ctx, cancel := context.WithCancel(parent)
	done := make(chan struct{})
	c.mu.Lock()
	c.pluginID, c.cancel, c.done = pluginID, cancel, done
	c.mu.Unlock()
	c.State.Set(pipeline.StatusStarting, true)
	go func() {
		defer close(done)
		err := c.run(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			c.log.Error("connector failed", "err", err)
			c.State.Fail(pipeline.StatusError, err)
		default:
			c.State.Set(pipeline.StatusStopped, err == nil)
		}
	}()
}

// stop cancels the connector and waits for it, at most StopTimeout.
func (c *Connector) stop() {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	if cancel == nil {
		return
	}
	if st := c.State.Status(); st != pipeline.StatusError && st != pipeline.StatusStopped {
		c.State.Set(pipeline.StatusStopping, false)
	}
	// Work in flight on a live connection finishes (the final offset store); with Iggy down, no
	// call waits for a reconnection any more.
	c.mu.Lock()
	for _, cl := range c.clients {
		cl.Drain()
	}
	c.mu.Unlock()
	cancel()
	select {
	case <-done:
	case <-time.After(c.e.opt.StopTimeout):
		c.log.Error("connector did not stop in time; abandoning it (nothing uncommitted was committed)",
			"timeout", c.e.opt.StopTimeout)
	}
}

// restart stops the connector (when it was started) and starts it with the config load returns;
// a disabled config leaves it stopped. load runs first: when it fails nothing is stopped and its
// error is returned. Every start of a connector goes through here, under restartMu, so that one
// instance runs at a time.
func (c *Connector) restart(ctx context.Context, load func() (*config.ConnectorConfig, error)) error {
	if !c.restartMu.TryLock() {
		// A restart is already running: wait for it, like the original's guard (which returned at once).
		c.restartMu.Lock()
		c.restartMu.Unlock()
		return nil
	}
	defer c.restartMu.Unlock()
	cfg, err := load()
	if err != nil {
		return err
	}
	if c.started() {
		c.log.Info("restarting connector", "version", cfg.Version)
		c.stop()
	}
	c.setConfig(cfg)
	if !cfg.Enabled {
		c.State.Set(pipeline.StatusStopped, true)
		return nil
	}
	c.start(c.e.ctx, c.e.newPluginID())
	return nil
}

// started reports whether the connector was ever started (an instance runs or ran).
func (c *Connector) started() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cancel != nil
}

// run is the connector's whole life: load, open, set up, run the pipeline, close.
func (c *Connector) run(ctx context.Context) error {
	cfg := c.Config()
	lib, err := c.e.library(cfg, c.log)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.lib = lib
	c.mu.Unlock()
	if info := lib.Info(); string(info.Kind) != string(cfg.Kind) {
		return fmt.Errorf("plugin %q (%s) is a %s, but connector %q is configured as a %s", info.Name, lib.Path(), info.Kind, cfg.Key, cfg.Kind)
	}
	chain, err := TransformChain(cfg)
	if err != nil {
		return fmt.Errorf("transforms: %w", err)
	}
	cfgJSON, err := cfg.PluginConfigJSON()
	if err != nil {
		return err
	}
	retry := cfg.Retry.Policy()
	client, err := c.dial(ctx, retry)
	if err != nil {
		return nil // cancelled while connecting
	}
	defer client.Close()

	var observer pipeline.Observer
	if c.e.opt.Observer != nil {
		observer = c.e.opt.Observer(cfg.Kind, cfg.Key)
	}
	var dlq *pipeline.DeadLetter
	if cfg.OnError == string(pipeline.OnErrorDeadLetter) && cfg.DeadLetter != nil {
		if err := c.setUpTopic(ctx, client, cfg.DeadLetter.Stream, cfg.DeadLetter.Topic, false, 0); err != nil {
			return fmt.Errorf("dead_letter: %w", err)
		}
		dlq = &pipeline.DeadLetter{Stream: cfg.DeadLetter.Stream, Topic: cfg.DeadLetter.Topic, Producer: &producer{c: client, user: iggyUser(c.e.opt.Config.Iggy)}}
	}
	if cfg.Kind == config.KindSink {
		return c.runSink(ctx, cfg, lib, cfgJSON, client, chain, retry, dlq, observer)
	}
	return c.runSource(ctx, cfg, lib, cfgJSON, client, chain, retry, dlq, observer)
}

// dial connects a client for this connector, retrying while starting (the status stays starting,
// with the reason as last error).
func (c *Connector) dial(ctx context.Context, retry backoff.Policy) (*iggy.Client, error) {
	for attempt := 1; ; attempt++ {
		cl, err := c.e.dialIggy(ctx, c.log)
		if err == nil {
			c.mu.Lock()
			c.clients = append(c.clients, cl)
			c.mu.Unlock()
			return cl, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c.State.Note(fmt.Errorf("connect to Iggy at %s: %w", c.e.opt.Config.Iggy.Address, err))
		if c.e.retryDial(ctx, attempt, err, c.log) != nil {
			return nil, ctx.Err()
		}
	}
}

// openWithRetry calls open until it succeeds, fails permanently or ctx ends.
func openWithRetry[T any](ctx context.Context, c *Connector, open func() (T, error)) (T, error) {
	var zero T
	for attempt := 1; ; attempt++ {
		v, err := open()
		if err == nil {
			return v, nil
		}
		if !pipeline.IsRetryable(err) || ctx.Err() != nil {
			return zero, fmt.Errorf("open plugin: %w", err)
		}
		c.State.Note(fmt.Errorf("open plugin: %w", err))
		c.Counters.AddError(pipeline.StageOpen)
		c.log.Warn("plugin could not open yet; retrying", "attempt", attempt, "err", err)
		if backoff.Default.Sleep(ctx, attempt) != nil {
			return zero, nil
		}
	}
}

func (c *Connector) runSink(ctx context.Context, cfg *config.ConnectorConfig, lib *plugin.Library, cfgJSON []byte,
	client *iggy.Client, chain transform.Chain, retry backoff.Policy, dlq *pipeline.DeadLetter, observer pipeline.Observer) error {
	var streams []pipeline.SinkStream
	var groups []*iggy.GroupConsumer
	defer func() {
		for _, g := range groups {
			cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = g.Close(cctx)
			cancel()
		}
	}()
	for i, s := range cfg.SinkStreams {
		proc, err := newSinkProcessor(s, chain)
		if err != nil {
			return fmt.Errorf("streams[%d]: %w", i, err)
		}
		group := s.ConsumerGroup
		if group == "" {
			group = "iggy-connect-sink-" + cfg.Key
		}
		for _, topic := range s.Topics {
			if err := c.waitForTopic(ctx, client, s.Stream, topic); err != nil {
				return fmt.Errorf("streams[%d]: %w", i, err)
			}
			g := iggy.NewGroupConsumer(client, s.Stream, topic, group, iggy.GroupConsumerOptions{Logger: c.log,
				// Re-read the assignment every second (the client default is 5s) so that the partitions of a
				// member that died are taken over quickly.
				SyncInterval: time.Second})
			groups = append(groups, g)
			streams = append(streams, pipeline.SinkStream{Stream: s.Stream, Topic: topic, Consumer: &groupConsumer{g: g, user: iggyUser(c.e.opt.Config.Iggy), stream: s.Stream, topic: topic},
				Processor: proc, BatchLength: int(s.BatchLength), PollInterval: time.Duration(s.PollInterval),
				LingerTime: time.Duration(s.LingerTime)})
		}
	}
	inst, err := openWithRetry(ctx, c, func() (*plugin.SinkInstance, error) { return lib.OpenSink(ctx, cfg.Key, cfgJSON) })
	if err != nil || inst == nil {
		return err
	}
	defer closeInstance(inst.Close, c.log)
	defer c.trackRestarts(inst.Restarts)()
	sink, err := pipeline.NewSink(pipeline.SinkOptions{Key: cfg.Key, Plugin: inst, Streams: streams,
		OnError: pipeline.OnError(cfg.OnError), DeadLetter: dlq, Retry: retry, State: c.State, Counters: c.Counters,
		Observer: observer, Logger: c.e.log, Verbose: cfg.Verbose})
	if err != nil {
		return err
	}
	c.log.Info("sink running", "plugin", lib.Info().Name, "version", lib.Info().Version, "streams", len(streams))
	return sink.Run(ctx)
}

// runSource runs the source while this runtime holds its lease (sourceLease): it waits as standby
// while another runtime holds it, and stops the pipeline (closing the plugin, nothing uncommitted
// committed) and waits again when the lease moves away.
func (c *Connector) runSource(ctx context.Context, cfg *config.ConnectorConfig, lib *plugin.Library, cfgJSON []byte,
	client *iggy.Client, chain transform.Chain, retry backoff.Policy, dlq *pipeline.DeadLetter, observer pipeline.Observer) error {
	if len(cfg.SourceStreams) == 0 {
		return fmt.Errorf("source %q has no [[streams]]", cfg.Key)
	}
	first := cfg.SourceStreams[0]
	if err := c.setUpTopic(ctx, client, first.Stream, first.Topic, first.AutoCreate, first.Partitions); err != nil {
		return fmt.Errorf("streams[0]: %w", err)
	}
	lease := newSourceLease(client, cfg.Key, first.Stream, first.Topic, c.log)
	defer lease.release()
	for {
		if err := lease.acquire(ctx, cfg.Key, func(err error) { c.State.Fail(pipeline.StatusError, err) }); err != nil {
			return nil // stopping
		}
		c.State.Set(pipeline.StatusStarting, true)
		runCtx, cancel := context.WithCancelCause(ctx)
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			lease.watch(runCtx, cfg.Key, func(err error) { cancel(fmt.Errorf("%w: %w", errLeaseLost, err)) })
		}()
		err := c.runSourceOnce(runCtx, cfg, lib, cfgJSON, client, chain, retry, dlq, observer)
		lost := context.Cause(runCtx)
		cancel(nil)
		<-watched
		if ctx.Err() != nil || !errors.Is(lost, errLeaseLost) {
			return err
		}
		c.log.Warn("source stopped: another runtime holds its lease now", "err", lost)
		c.State.Fail(pipeline.StatusError, lost)
	}
}

// runSourceOnce opens the plugin with the stored state and runs the source pipeline until ctx ends
// or it fails.
func (c *Connector) runSourceOnce(ctx context.Context, cfg *config.ConnectorConfig, lib *plugin.Library, cfgJSON []byte,
	client *iggy.Client, chain transform.Chain, retry backoff.Policy, dlq *pipeline.DeadLetter, observer pipeline.Observer) error {
	proc, err := newSourceProcessor(cfg.SourceStreams, chain)
	if err != nil {
		return err
	}
	var streams []pipeline.SourceStream
	for i, s := range cfg.SourceStreams {
		if err := c.setUpTopic(ctx, client, s.Stream, s.Topic, s.AutoCreate, s.Partitions); err != nil {
			return fmt.Errorf("streams[%d]: %w", i, err)
		}
		// Each stream has its own producer: partitioning differs per stream, and a producer reuses
		// its send buffer.
		streams = append(streams, pipeline.SourceStream{Stream: s.Stream, Topic: s.Topic,
			BatchLength: int(s.BatchLength), LingerTime: time.Duration(s.LingerTime),
			Producer: &producer{c: client, user: iggyUser(c.e.opt.Config.Iggy), partitionID: s.PartitionID}})
	}
	prod := &producer{c: client, user: iggyUser(c.e.opt.Config.Iggy)}
	st, err := c.e.states.Load(cfg.Key)
	if errors.Is(err, state.ErrCorrupt) {
		st, err = c.corruptState(cfg, err)
	}
	if err != nil {
		return err
	}
	open := func(st []byte) (*plugin.SourceInstance, error) {
		return openWithRetry(ctx, c, func() (*plugin.SourceInstance, error) { return lib.OpenSource(ctx, cfg.Key, cfgJSON, st) })
	}
	inst, err := open(st)
	if ce := (*plugin.CallError)(nil); errors.As(err, &ce) && ce.Record.Code == abi.CodeCorruptState && len(st) > 0 {
		if _, err := c.corruptState(cfg, c.e.states.Corrupt(cfg.Key, len(st), "the plugin cannot decode it: "+ce.Record.Message)); err != nil {
			return err
		}
		inst, err = open(nil)
	}
	if err != nil || inst == nil {
		return err
	}
	inst.SetStateFunc(func() ([]byte, error) { return c.e.states.Load(cfg.Key) })
	defer closeInstance(inst.Close, c.log)
	defer c.trackRestarts(inst.Restarts)()
	src, err := pipeline.NewSource(pipeline.SourceOptions{Key: cfg.Key, Plugin: inst, Streams: streams, Producer: prod,
		Processor: proc, StateStore: c.e.states, OnError: pipeline.OnError(cfg.OnError), DeadLetter: dlq, Retry: retry,
		PollInterval: time.Duration(cfg.PollInterval), MaxInFlight: int(cfg.MaxInFlight), State: c.State, Counters: c.Counters, Observer: observer,
		Logger: c.e.log, Verbose: cfg.Verbose})
	if err != nil {
		return err
	}
	c.log.Info("source running", "plugin", lib.Info().Name, "version", lib.Info().Version, "streams", len(streams))
	return src.Run(ctx)
}

// corruptState applies the connector's on_corrupt_state to a state file that exists but cannot be
// used (err is a *state.CorruptError, which names the file): "stop" returns an error saying so and
// what to do, leaving the file where it is; "reset" renames the file aside, logs both names and
// returns no state, so the source starts from its beginning — never without a trace.
func (c *Connector) corruptState(cfg *config.ConnectorConfig, err error) ([]byte, error) {
	if cfg.OnCorruptState != config.OnCorruptStateReset {
		return nil, fmt.Errorf("%w; the source is stopped rather than started from its beginning: repair or remove the file, "+
			"or set on_corrupt_state = \"reset\" to set it aside and start without state", err)
	}
	aside, serr := c.e.states.SetAside(cfg.Key)
	if serr != nil {
		return nil, fmt.Errorf("%w; on_corrupt_state = \"reset\", but the file cannot be set aside: %v", err, serr)
	}
	c.log.Warn("corrupt source state set aside; the source starts without state (on_corrupt_state = \"reset\")",
		"err", err, "set_aside_as", aside)
	return nil, nil
}

// setUpTopic runs ensureTopic for a source (or dead-letter) stream, retrying with backoff while the
// error is retryable — the connection, or a permission an operator can grant — with the status
// starting and the reason as last error. It returns ctx's error when ctx ends first.
func (c *Connector) setUpTopic(ctx context.Context, client *iggy.Client, stream, topic string, create bool, partitions uint32) error {
	wait := backoff.Policy{Initial: 200 * time.Millisecond, Max: 5 * time.Second, Multiplier: 2, Jitter: 0.2}
	for attempt := 1; ; attempt++ {
		err := ensureTopic(ctx, client, iggyUser(c.e.opt.Config.Iggy), stream, topic, create, partitions)
		if err == nil || !pipeline.IsRetryable(err) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.State.Note(err)
		c.log.Warn("cannot set up the Iggy topic yet; retrying", "stream", stream, "topic", topic, "attempt", attempt, "err", err)
		if wait.Sleep(ctx, attempt) != nil {
			return ctx.Err()
		}
	}
}

// waitForTopic waits until stream/topic exists: a sink may start before the source or the operator
// that creates its topic. The connector stays in status starting, with the reason as last error.
func (c *Connector) waitForTopic(ctx context.Context, client *iggy.Client, stream, topic string) error {
	wait := backoff.Policy{Initial: 200 * time.Millisecond, Max: 5 * time.Second, Multiplier: 2, Jitter: 0.2}
	for attempt := 1; ; attempt++ {
		err := ensureTopic(ctx, client, iggyUser(c.e.opt.Config.Iggy), stream, topic, false, 0)
		if err == nil || ctx.Err() != nil {
			return err
		}
		// Normal for a moment at start-up (a source of the same runtime may be about to create it):
		// info at first, a warning when it lasts.
		if attempt == 1 || attempt%10 == 0 {
			level := slog.LevelInfo
			if attempt > 1 {
				level = slog.LevelWarn
			}
			c.log.Log(ctx, level, "waiting for the topic to exist", "stream", stream, "topic", topic, "attempt", attempt, "err", err)
		}
		c.State.Note(err)
		if wait.Sleep(ctx, attempt) != nil {
			return nil
		}
	}
}

func closeInstance(close func(context.Context) error, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := close(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Warn("closing the plugin instance failed", "err", err)
	}
}
