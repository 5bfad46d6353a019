package plugin

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/sdk"
)

// LevelTrace is the slog level plugin trace records are logged at (the SDK's, so both sides of the
// boundary agree).
const LevelTrace = sdk.LevelTrace

// emitLog logs one plugin record with l (which carries the connector key), at the record's level and
// time, with its target and attributes.
func emitLog(l *slog.Logger, r abi.LogRecord) {
	lvl := sdk.SlogLevel(r.Level)
	ctx := context.Background()
	if !l.Enabled(ctx, lvl) {
		return
	}
	t := time.Now()
	if r.TimeUs != 0 {
		t = time.UnixMicro(int64(r.TimeUs))
	}
	rec := slog.NewRecord(t, lvl, r.Message, 0)
	if r.Target != "" {
		rec.AddAttrs(slog.String("target", r.Target))
	}
	for _, a := range r.Attrs {
		rec.AddAttrs(slog.String(a.Key, a.Value))
	}
	_ = l.Handler().Handle(ctx, rec)
}

// emitLogBatch decodes a LogBatch and logs each record with route(instance).
func emitLogBatch(data []byte, route func(instance uint32) *slog.Logger, fallback *slog.Logger) {
	if len(data) == 0 {
		return
	}
	var recs []abi.LogRecord
	if err := abi.Unmarshal(data, &recs); err != nil {
		fallback.Warn("undecodable plugin log batch", "error", err, "bytes", len(data))
		return
	}
	for _, r := range recs {
		emitLog(route(r.Instance), r)
	}
}

// DrainInterval is how often libraries' log buffers are drained when no call does it.
var DrainInterval = time.Second

// logRouter drains an in-process library's log buffer and routes each record to the logger of its
// instance (records of instance 0 or of unknown instances go to the library's logger).
type logRouter struct {
	n        *native
	draining sync.Mutex
	mu       sync.Mutex
	routes   map[uint32]*slog.Logger
	lib      *slog.Logger
	once     sync.Once
}

func newLogRouter(n *native) *logRouter { return &logRouter{n: n, routes: map[uint32]*slog.Logger{}} }

func (r *logRouter) setLibrary(l *slog.Logger) {
	r.mu.Lock()
	if r.lib == nil {
		r.lib = l
	}
	r.mu.Unlock()
	r.once.Do(func() { go r.loop() })
}

func (r *logRouter) add(id uint32, l *slog.Logger) {
	r.mu.Lock()
	r.routes[id] = l
	r.mu.Unlock()
}

func (r *logRouter) remove(id uint32) {
	r.mu.Lock()
	delete(r.routes, id)
	r.mu.Unlock()
}

func (r *logRouter) route(id uint32) *slog.Logger {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l, ok := r.routes[id]; ok {
		return l
	}
	if r.lib != nil {
		return r.lib
	}
	return slog.Default()
}

// drain moves the library's buffered records into slog. Concurrent drains are skipped: the one
// running takes the records.
func (r *logRouter) drain() {
	if !r.draining.TryLock() {
		return
	}
	defer r.draining.Unlock()
	st, out, slot := r.n.callRaw(opDrainLogs, 0, 0, nil, nil, nil)
	defer r.n.release(slot) // emitLogBatch copies what it logs
	if st != abi.StatusOK {
		r.route(0).Warn("plugin log drain failed", "status", st.String(), "error", errorRecord(st, out).Message)
		return
	}
	emitLogBatch(out, r.route, r.route(0))
}

func (r *logRouter) loop() {
	t := time.NewTicker(DrainInterval)
	defer t.Stop()
	for range t.C {
		r.drain()
	}
}
