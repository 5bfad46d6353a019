package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/iggy-go/connectors/runtime/backoff"
	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/runtime/pipeline"
	"github.com/iggy-go/connectors/runtime/plugin"
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

// restart stops the connector and starts it with the config load returns.
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
	c.log.Info("restarting connector", "version", cfg.Version)
	c.stop()
	c.e.startConnector(cfg)
	return nil
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
		if err := ensureTopic(ctx, client, cfg.DeadLetter.Stream, cfg.DeadLetter.Topic, false, 0); err != nil {
			return fmt.Errorf("dead_letter: %w", err)
		}
		dlq = &pipeline.DeadLetter{Stream: cfg.DeadLetter.Stream, Topic: cfg.DeadLetter.Topic, Producer: &producer{c: client}}
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
			streams = append(streams, pipeline.SinkStream{Stream: s.Stream, Topic: topic, Consumer: &groupConsumer{g: g},
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

func (c *Connector) runSource(ctx context.Context, cfg *config.ConnectorConfig, lib *plugin.Library, cfgJSON []byte,
	client *iggy.Client, chain transform.Chain, retry backoff.Policy, dlq *pipeline.DeadLetter, observer pipeline.Observer) error {
	proc, err := newSourceProcessor(cfg.SourceStreams, chain)
	if err != nil {
		return err
	}
	var streams []pipeline.SourceStream
	for i, s := range cfg.SourceStreams {
		if err := ensureTopic(ctx, client, s.Stream, s.Topic, s.AutoCreate, s.Partitions); err != nil {
			return fmt.Errorf("streams[%d]: %w", i, err)
		}
		// Each stream has its own producer: partitioning differs per stream, and a producer reuses
		// its send buffer.
		streams = append(streams, pipeline.SourceStream{Stream: s.Stream, Topic: s.Topic,
			BatchLength: int(s.BatchLength), LingerTime: time.Duration(s.LingerTime),
			Producer: &producer{c: client, partitionID: s.PartitionID}})
	}
	prod := &producer{c: client}
	st, err := c.e.states.Load(cfg.Key)
	if err != nil {
		return fmt.Errorf("load source state: %w", err)
	}
	inst, err := openWithRetry(ctx, c, func() (*plugin.SourceInstance, error) { return lib.OpenSource(ctx, cfg.Key, cfgJSON, st) })
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

// waitForTopic waits until stream/topic exists: a sink may start before the source or the operator
// that creates its topic. The connector stays in status starting, with the reason as last error.
func (c *Connector) waitForTopic(ctx context.Context, client *iggy.Client, stream, topic string) error {
	wait := backoff.Policy{Initial: 200 * time.Millisecond, Max: 5 * time.Second, Multiplier: 2, Jitter: 0.2}
	for attempt := 1; ; attempt++ {
		err := ensureTopic(ctx, client, stream, topic, false, 0)
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
