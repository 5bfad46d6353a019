package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/iggy-go/connectors/abi"
)

// LevelTrace is the slog level forwarded as the ABI's trace level (below slog.LevelDebug).
const LevelTrace = slog.LevelDebug - 4

// LogLevelEnv names the environment variable read when a library loads to set the lowest level that
// is forwarded to the runtime: trace, debug, info (default), warn or error. Records below it are
// dropped inside the plugin, before they cost anything at the boundary.
const LogLevelEnv = "IGGY_PLUGIN_LOG_LEVEL"

// DefaultLogCapacity is the number of records a library buffers between two drains by the runtime.
const DefaultLogCapacity = 4096

// LogBuffer is a bounded, library-wide buffer of log records waiting for the runtime.
//
// Plugins never call into the host (abi/iggy_connector.h), so log records written by a connector wait
// here until the runtime drains them (iggy_plugin_drain_logs), which it does after every lifecycle
// call and about once a second. When the buffer is full the oldest record is dropped; the next drain
// then starts with a warning record saying how many were lost. All methods are safe for concurrent
// use, from any goroutine, including the connector's own background goroutines.
type LogBuffer struct {
	mu      sync.Mutex
	recs    []abi.LogRecord // ring storage, len == capacity once full
	head    int             // index of the oldest record
	n       int             // records held
	dropped uint64          // records dropped since the last drain
	level   slog.LevelVar
	target  string
}

// NewLogBuffer returns a buffer holding at most capacity records (DefaultLogCapacity when < 1)
// whose records carry target (usually the plugin name). Its level starts at slog.LevelInfo.
func NewLogBuffer(capacity int, target string) *LogBuffer {
	if capacity < 1 {
		capacity = DefaultLogCapacity
	}
	b := &LogBuffer{recs: make([]abi.LogRecord, capacity), target: target}
	b.level.Set(slog.LevelInfo)
	return b
}

// SetLevel sets the lowest level that is buffered.
func (b *LogBuffer) SetLevel(l slog.Level) { b.level.Set(l) }

// Level returns the lowest level that is buffered.
func (b *LogBuffer) Level() slog.Level { return b.level.Level() }

// SetLevelFromEnv sets the level from IGGY_PLUGIN_LOG_LEVEL when it is set and valid; it returns an
// error naming the variable and the bad value otherwise (the level is then left unchanged).
func (b *LogBuffer) SetLevelFromEnv() error {
	v, _ := os.LookupEnv(LogLevelEnv)
	return b.SetLevelFromValue(v)
}

// SetLevelFromValue sets the level from a value of IGGY_PLUGIN_LOG_LEVEL ("" leaves it unchanged).
// The export shim reads the variable with the C library's getenv: the Go runtime of a c-shared
// library sees only the environment the process started with, not what the host set later.
func (b *LogBuffer) SetLevelFromValue(v string) error {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	l, err := ParseLogLevel(v)
	if err != nil {
		return fmt.Errorf("%s: %w", LogLevelEnv, err)
	}
	b.SetLevel(l)
	return nil
}

// ParseLogLevel reads trace, debug, info, warn (warning) or error, case-insensitively.
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "trace":
		return LevelTrace, nil
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q (want trace, debug, info, warn or error)", s)
}

// Append buffers one record, dropping the oldest when the buffer is full.
func (b *LogBuffer) Append(r abi.LogRecord) {
	b.mu.Lock()
	c := len(b.recs)
	if b.n == c {
		b.recs[b.head] = r
		b.head = (b.head + 1) % c
		b.dropped++
	} else {
		b.recs[(b.head+b.n)%c] = r
		b.n++
	}
	b.mu.Unlock()
}

// Drain removes and returns every buffered record, oldest first (nil when there are none). When
// records were dropped since the previous drain, the result starts with a warning record saying how
// many.
func (b *LogBuffer) Drain() []abi.LogRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n == 0 && b.dropped == 0 {
		return nil
	}
	out := make([]abi.LogRecord, 0, b.n+1)
	if b.dropped > 0 {
		out = append(out, abi.LogRecord{Level: abi.LogWarn, Target: b.target, TimeUs: uint64(time.Now().UnixMicro()),
			Message: fmt.Sprintf("plugin log buffer full: %d records dropped (the runtime drains it after every call and every second)", b.dropped)})
		b.dropped = 0
	}
	c := len(b.recs)
	for i := 0; i < b.n; i++ {
		j := (b.head + i) % c
		out = append(out, b.recs[j])
		b.recs[j] = abi.LogRecord{}
	}
	b.head, b.n = 0, 0
	return out
}

// Handler returns an slog.Handler that buffers records of the given instance (0 = the library as a
// whole). Attributes are rendered as text; groups prefix their keys with "group.".
func (b *LogBuffer) Handler(instance uint32) slog.Handler {
	return &logHandler{buf: b, instance: instance}
}

// Logger is slog.New(b.Handler(instance)).
func (b *LogBuffer) Logger(instance uint32) *slog.Logger { return slog.New(b.Handler(instance)) }

type logHandler struct {
	buf      *LogBuffer
	instance uint32
	attrs    []abi.LogAttr // pre-rendered WithAttrs
	prefix   string        // group prefix, "a.b."
}

func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.buf.level.Level() }

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	rec := abi.LogRecord{Level: ABILevel(r.Level), Instance: h.instance, Message: r.Message, Target: h.buf.target}
	if !r.Time.IsZero() {
		rec.TimeUs = uint64(r.Time.UnixMicro())
	}
	if len(h.attrs) > 0 || r.NumAttrs() > 0 {
		rec.Attrs = make([]abi.LogAttr, 0, len(h.attrs)+r.NumAttrs())
		rec.Attrs = append(rec.Attrs, h.attrs...)
		r.Attrs(func(a slog.Attr) bool {
			rec.Attrs = appendAttr(rec.Attrs, h.prefix, a)
			return true
		})
	}
	h.buf.Append(rec)
	return nil
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append([]abi.LogAttr(nil), h.attrs...)
	for _, a := range as {
		n.attrs = appendAttr(n.attrs, h.prefix, a)
	}
	return &n
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.prefix = h.prefix + name + "."
	return &n
}

func appendAttr(dst []abi.LogAttr, prefix string, a slog.Attr) []abi.LogAttr {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return dst
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range a.Value.Group() {
			dst = appendAttr(dst, p, g)
		}
		return dst
	}
	return append(dst, abi.LogAttr{Key: prefix + a.Key, Value: a.Value.String()})
}

// ABILevel maps an slog level to the ABI's log level.
func ABILevel(l slog.Level) abi.LogLevel {
	switch {
	case l < slog.LevelDebug:
		return abi.LogTrace
	case l < slog.LevelInfo:
		return abi.LogDebug
	case l < slog.LevelWarn:
		return abi.LogInfo
	case l < slog.LevelError:
		return abi.LogWarn
	}
	return abi.LogError
}

// SlogLevel maps an ABI log level to slog (trace becomes LevelTrace; unknown levels become error).
func SlogLevel(l abi.LogLevel) slog.Level {
	switch l {
	case abi.LogTrace:
		return LevelTrace
	case abi.LogDebug:
		return slog.LevelDebug
	case abi.LogInfo:
		return slog.LevelInfo
	case abi.LogWarn:
		return slog.LevelWarn
	}
	return slog.LevelError
}
