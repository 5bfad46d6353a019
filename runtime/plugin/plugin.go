// Package plugin loads connector plugins (abi/iggy_connector.h) and calls them.
//
// Open resolves a library path, loads it and checks it: the file exists, it is a shared library, its
// ABI major version is the runtime's, every symbol its kind needs is exported and its PluginInfo is
// valid. Each failure is a *LoadError naming the library and the cause. A library is dlopen'ed once
// per process however many times it is opened; its instances get ids from one process-wide counter
// starting at 1.
//
// Two transports run the same library and the same ABI:
//   - TransportInProcess (default): the library is dlopen'ed into the runtime with purego (the
//     runtime stays CGO_ENABLED=0) and each call is a C call. Fast, but a plugin that crashes
//     (abort, os.Exit, a panic in its own goroutine) takes the runtime down.
//   - TransportProcess: each instance runs in its own child process, the runtime binary itself in
//     the hidden mode `plugin-host --library PATH` (ServeHost), which loads the library and exchanges
//     the same bytes over pipes (a sink's batches through a shared memory region instead, on Linux). A child that dies fails the call in flight with a retryable
//     *CallError saying so; the next call restarts it (exponential backoff), reopens the instance with
//     its original config (sources: with the latest committed state) and proceeds. A context that
//     ends during a call kills the child (the only way to interrupt a plugin call); it is restarted
//     on the next call.
//
// ABI versions: a library of the runtime's major version is accepted whatever its minor. A sink that
// speaks 1.1 and exports iggy_sink_consume_ref gets its batches by reference (abi.SinkBatchRef
// descriptors pointing into the runtime's memory, in process; in a plugin-host child, into the shared
// region); every other sink gets CBOR SinkBatches (ABI 1.0). Plugin outputs are decoded straight from
// the plugin's buffer before it is freed (nothing decoded aliases it afterwards).
//
// Calls of one instance are serialised by the instance (an ABI rule); different instances may be
// called concurrently. Plugin log records are drained after every call and every DrainInterval and
// logged with Options.Logger under the attribute connector=<key>.
package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/runtime/backoff"
)

// Transport selects how a library's instances run.
type Transport string

// Transports.
const (
	TransportInProcess Transport = "in_process"
	TransportProcess   Transport = "process"
)

// ParseTransport accepts "", "in_process" and "process".
func ParseTransport(s string) (Transport, error) {
	switch Transport(s) {
	case "", TransportInProcess:
		return TransportInProcess, nil
	case TransportProcess:
		return TransportProcess, nil
	}
	return "", fmt.Errorf("unknown plugin transport %q (want %q or %q)", s, TransportInProcess, TransportProcess)
}

// Options configure Open.
type Options struct {
	// Transport is TransportInProcess (default) or TransportProcess.
	Transport Transport
	// Logger receives the runtime's messages about the library and the plugin's own log records
	// (with attribute connector=<key>). Default slog.Default().
	Logger *slog.Logger
	// SearchDirs are searched, before the package's SearchDirs, for a relative library path that does
	// not exist as given (tests; the runtime leaves it empty).
	SearchDirs []string
	// Executable is the binary run as plugin host by TransportProcess (default: this executable). It
	// is started as `<Executable> plugin-host --library <path>`.
	Executable string
	// Stdout receives what plugins in child processes print on their standard output (default
	// os.Stdout, like in-process plugins).
	Stdout io.Writer
	// RestartBackoff is the delay schedule between restarts of a dead plugin process (default
	// backoff.Default: 100 ms doubling to 30 s, with jitter). The delay grows with consecutive
	// failures and resets after a successful call.
	RestartBackoff backoff.Policy
}

// Library is a loaded plugin library. Its methods are safe for concurrent use.
type Library struct {
	path      string
	opts      Options
	info      abi.PluginInfo
	validate  bool    // exports iggy_plugin_validate_config
	sinkRef   bool    // a sink speaking ABI 1.1 that exports iggy_sink_consume_ref
	n         *native // in-process only
	log       *slog.Logger
	restarts  atomic.Uint64
	instances atomic.Int64
}

var nextInstance atomic.Uint32

// Open resolves path with Resolve(path, Options.SearchDirs) (the path as given if it exists, else with
// the OS extension; relative paths are searched in Options.SearchDirs and SearchDirs), loads the library with the chosen transport and
// checks it. Errors are *LoadError.
func Open(path string, opts Options) (*Library, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	t, err := ParseTransport(string(opts.Transport))
	if err != nil {
		return nil, &LoadError{Library: path, Reason: ErrHost, Detail: err.Error()}
	}
	opts.Transport = t
	if opts.RestartBackoff.Initial == 0 {
		opts.RestartBackoff = backoff.Default
	}
	resolved, err := Resolve(path, opts.SearchDirs)
	if err != nil {
		return nil, err
	}
	l := &Library{path: resolved, opts: opts, log: opts.Logger.With("plugin", resolved)}
	switch t {
	case TransportInProcess:
		n, err := loadNative(resolved)
		if err != nil {
			return nil, err
		}
		n.logs.setLibrary(l.log)
		l.n, l.info, l.validate, l.sinkRef = n, n.info, n.validate != 0, n.sinkConsumeRef != 0
	case TransportProcess:
		err := probe(context.Background(), resolved, &l.opts, l.log, func(c *child) error {
			l.info, l.validate, l.sinkRef = c.info, c.flags&helloFlagValidate != 0, c.flags&helloFlagSinkRef != 0
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return l, nil
}

// SinkBatchesByRef reports whether the library is a sink that takes batches by reference (it speaks
// ABI 1.1 or later and exports iggy_sink_consume_ref); otherwise its batches cross as CBOR (ABI 1.0).
// With the process transport the batches cross the pipe as CBOR either way and the plugin-host
// child passes them on by reference.
func (l *Library) SinkBatchesByRef() bool { return l.sinkRef }

// Info is the library's PluginInfo (kind, name, version, config fields).
func (l *Library) Info() abi.PluginInfo { return l.info }

// Path is the resolved absolute path of the library.
func (l *Library) Path() string { return l.path }

// Transport is the transport the library was opened with.
func (l *Library) Transport() Transport { return l.opts.Transport }

// Restarts counts plugin-process restarts of all the library's instances (TransportProcess).
func (l *Library) Restarts() uint64 { return l.restarts.Load() }

// ValidateConfig checks a JSON plugin config without opening anything. With a library that exports
// iggy_plugin_validate_config the plugin decides; otherwise the config must be a JSON object whose
// keys are among PluginInfo.config_fields (when the plugin lists any) and must contain the required
// ones. The error is a *CallError whose Field names the offending key.
func (l *Library) ValidateConfig(cfgJSON []byte) error {
	var st abi.Status
	var out []byte
	switch {
	case !l.validate:
		return l.validateByFields(cfgJSON)
	case l.n != nil:
		st, out = l.n.call(opValidate, 0, 0, cfgJSON, nil)
		l.n.logs.drain()
	default:
		err := probe(context.Background(), l.path, &l.opts, l.log, func(c *child) error {
			var logs []byte
			var err error
			st, out, logs, err = c.roundTrip(context.Background(), opValidate, 0, 0, cfgJSON, nil)
			emitLogBatch(logs, func(uint32) *slog.Logger { return l.log }, l.log)
			return err
		})
		if err != nil {
			return &CallError{Library: l.path, Op: opValidate.String(), Status: abi.StatusRetryable,
				Record: abi.Error{Code: CodeProcessDied, Message: err.Error(), Retryable: true}, Err: err}
		}
	}
	if st != abi.StatusOK {
		return &CallError{Library: l.path, Op: opValidate.String(), Status: st, Record: errorRecord(st, out)}
	}
	return nil
}

func (l *Library) validateByFields(cfgJSON []byte) error {
	fail := func(field, msg string) error {
		return &CallError{Library: l.path, Op: opValidate.String(), Status: abi.StatusPermanent,
			Record: abi.Error{Code: abi.CodeInvalidConfig, Message: msg, Field: field}}
	}
	var m map[string]json.RawMessage
	if s := strings.TrimSpace(string(cfgJSON)); s != "" && s != "null" {
		if err := json.Unmarshal(cfgJSON, &m); err != nil {
			return fail("", "plugin_config must be a JSON object: "+err.Error())
		}
	}
	if len(l.info.ConfigFields) == 0 {
		return nil
	}
	known := map[string]bool{}
	for _, f := range l.info.ConfigFields {
		known[f.Name] = true
		if _, ok := m[f.Name]; f.Required && !ok {
			return fail(f.Name, "is required")
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !known[k] {
			return fail(k, "unknown key")
		}
	}
	return nil
}

// OpenSink opens a sink instance of the library for the connector key with its JSON plugin config.
// A failure to open is a *CallError (Retryable when the plugin says so, e.g. its external system is
// unreachable; the caller retries with backoff). ctx bounds only the runtime-side wait.
func (l *Library) OpenSink(ctx context.Context, key string, cfgJSON []byte) (*SinkInstance, error) {
	if l.info.Kind != abi.KindSink {
		return nil, &CallError{Library: l.path, Op: opSinkOpen.String(), Connector: key, Status: abi.StatusPermanent,
			Record: abi.Error{Code: abi.CodeInvalidConfig, Message: fmt.Sprintf("plugin %q is a %s, not a sink", l.info.Name, l.info.Kind)}}
	}
	cfg := append([]byte(nil), cfgJSON...)
	i, err := l.openInstance(ctx, key, opSinkOpen, func() (op, []byte, []byte, error) { return opSinkOpen, cfg, nil, nil })
	if err != nil {
		return nil, err
	}
	// Batches by reference need pointers into this process: only the in-process transport passes
	// them; a process child converts the CBOR it receives for a 1.1 plugin itself (host.go).
	return &SinkInstance{inst: i, byRef: l.opts.Transport == TransportInProcess && l.sinkRef}, nil
}

// OpenSource opens a source instance with its JSON plugin config and last persisted state (nil =
// none). Errors as OpenSink.
func (l *Library) OpenSource(ctx context.Context, key string, cfgJSON, state []byte) (*SourceInstance, error) {
	if l.info.Kind != abi.KindSource {
		return nil, &CallError{Library: l.path, Op: opSourceOpen.String(), Connector: key, Status: abi.StatusPermanent,
			Record: abi.Error{Code: abi.CodeInvalidConfig, Message: fmt.Sprintf("plugin %q is a %s, not a source", l.info.Name, l.info.Kind)}}
	}
	cfg := append([]byte(nil), cfgJSON...)
	s := &SourceInstance{lastState: append([]byte(nil), state...)}
	i, err := l.openInstance(ctx, key, opSourceOpen, func() (op, []byte, []byte, error) {
		st, err := s.currentState()
		return opSourceOpen, cfg, st, err
	})
	if err != nil {
		return nil, err
	}
	s.inst = i
	return s, nil
}

func (l *Library) openInstance(ctx context.Context, key string, o op, args func() (op, []byte, []byte, error)) (*inst, error) {
	id := nextInstance.Add(1)
	i := &inst{lib: l, key: key, id: id, log: l.opts.Logger.With("connector", key), stop: make(chan struct{})}
	_, in1, in2, err := args()
	if err != nil {
		return nil, err
	}
	switch l.opts.Transport {
	case TransportInProcess:
		l.n.logs.add(id, i.log)
		i.be = &inprocBackend{n: l.n, inst: i}
		i.mu.Lock()
		err = i.do(ctx, o, 0, in1, in2, nil, nil)
		i.mu.Unlock()
		if err != nil {
			l.n.logs.remove(id)
			return nil, err
		}
	case TransportProcess:
		pb := &procBackend{lib: l, inst: i, reopen: args}
		if l.info.Kind == abi.KindSink {
			pb.shm = newShm() // nil where there is none: batches then cross the pipe
		}
		i.be = pb
		c, err := startChild(ctx, l.path, &l.opts, i.log, pb.shm)
		if err != nil {
			pb.shm.close()
			return nil, err
		}
		pb.child = c
		i.mu.Lock()
		err = i.do(ctx, o, 0, in1, in2, nil, nil)
		i.mu.Unlock()
		if err != nil {
			pb.shutdown()
			return nil, err
		}
		go i.drainLoop()
	}
	l.instances.Add(1)
	return i, nil
}

// inprocBackend calls the dlopen'ed library directly.
type inprocBackend struct {
	n    *native
	inst *inst
	slot *outSlot // output of the last call until release (guarded by the instance lock)
}

func (b *inprocBackend) call(ctx context.Context, o op, arg uint64, in1, in2 []byte, ref *abi.SinkBatchRef) (abi.Status, []byte, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, b.inst.transportError(o, abi.StatusRetryable, CodeTransport, "cancelled before the call", err)
	}
	st, out, slot := b.n.callRaw(o, b.inst.id, arg, in1, in2, ref)
	b.slot = slot
	b.n.logs.drain()
	return st, out, nil
}

// release frees the plugin's output buffer of the last call (the caller has decoded it).
func (b *inprocBackend) release() {
	b.n.release(b.slot)
	b.slot = nil
}

func (b *inprocBackend) encodeBuf() ([]byte, bool) { return nil, false }
func (b *inprocBackend) generation() uint64        { return 0 }
func (b *inprocBackend) drainIdle()                {}
func (b *inprocBackend) shutdown()                 { b.n.logs.remove(b.inst.id) }
