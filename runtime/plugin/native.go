package plugin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/iggy-go/connectors/abi"
)

// op is a lifecycle call, numbered as in the process transport's frames.
type op uint8

const (
	opInfo op = iota + 1
	opValidate
	opDrainLogs
	opSinkOpen
	opSinkConsume
	opSinkClose
	opSourceOpen
	opSourcePoll
	opSourceCommit
	opSourceClose
	// opSinkConsumeShm is opSinkConsume whose CBOR batch is in the shared batch region (process
	// transport only: arg is its length; the child turns it into opSinkConsume).
	opSinkConsumeShm
	// opSinkConsumeImage is opSinkConsume with the batch as an image (abi.AppendSinkBatchImage) for
	// a child whose plugin takes batches by reference: inline in in1, or in the shared batch region
	// (in1 empty, arg its length).
	opSinkConsumeImage
)

var opNames = map[op]string{
	opInfo: "plugin_info", opValidate: "validate_config", opDrainLogs: "drain_logs",
	opSinkOpen: "sink_open", opSinkConsume: "sink_consume", opSinkClose: "sink_close",
	opSourceOpen: "source_open", opSourcePoll: "source_poll", opSourceCommit: "source_commit", opSourceClose: "source_close",
	opSinkConsumeShm: "sink_consume", opSinkConsumeImage: "sink_consume",
}

func (o op) String() string {
	if n, ok := opNames[o]; ok {
		return n
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// native is one dlopen'ed library: its symbols and the raw calls. One per resolved path per process;
// it is never closed (unloading a Go c-shared library is not supported).
type native struct {
	path    string
	handle  uintptr
	version uint32
	info    abi.PluginInfo

	abiVersion, pluginInfo, free, drainLogs, validate uintptr
	sinkOpen, sinkConsume, sinkClose                  uintptr
	sinkConsumeRef                                    uintptr // ABI 1.1 sinks; 0 for a 1.0 plugin
	sourceOpen, sourcePoll, sourceCommit, sourceClose uintptr

	logs *logRouter
}

var (
	nativesMu sync.Mutex
	natives   = map[string]*native{}
)

// loadNative dlopens path (absolute, resolved) once per process, checks the ABI and resolves every
// symbol the plugin's kind needs. Errors are *LoadError.
func loadNative(path string) (*native, error) {
	nativesMu.Lock()
	defer nativesMu.Unlock()
	key := path
	if real, err := filepath.EvalSymlinks(path); err == nil {
		key = real // the dynamic loader shares one handle between links to the same file
	}
	if n, ok := natives[key]; ok {
		return n, nil
	}
	n, err := dlopen(path)
	if err != nil {
		return nil, err
	}
	natives[key] = n
	return n, nil
}

func isELF(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return false, nil
	}
	return bytes.Equal(magic[:], []byte("\x7fELF")), nil
}

func dlopen(path string) (*native, error) {
	fail := func(reason error, format string, args ...any) error {
		return &LoadError{Library: path, Reason: reason, Detail: fmt.Sprintf(format, args...)}
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fail(ErrNotFound, "%v", err)
	}
	if st.IsDir() {
		return nil, fail(ErrNotSharedLibrary, "is a directory")
	}
	if runtime.GOOS == "linux" {
		if ok, err := isELF(path); err != nil {
			return nil, fail(ErrNotFound, "%v", err)
		} else if !ok {
			return nil, fail(ErrNotSharedLibrary, "not a shared library (the file has no ELF header; is %q really a plugin built with -buildmode=c-shared or -shared?)", filepath.Base(path))
		}
	}
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fail(ErrNotSharedLibrary, "not a loadable shared library: %v", err)
	}
	n := &native{path: path, handle: h}
	sym := func(name string, required bool, kind string) (uintptr, error) {
		p, err := purego.Dlsym(h, name)
		if err != nil || p == 0 {
			if !required {
				return 0, nil
			}
			return 0, fail(ErrMissingSymbol, "missing symbol %s (required of %s by ABI %s)", name, kind, abi.VersionString(abi.Version))
		}
		return p, nil
	}
	if n.abiVersion, err = sym(abi.SymABIVersion, true, "every plugin"); err != nil {
		return nil, err
	}
	r, _, _ := purego.SyscallN(n.abiVersion)
	n.version = uint32(r)
	if n.version>>16 != abi.VersionMajor {
		return nil, fail(ErrABIMismatch, "plugin ABI version %s is not supported by this runtime (ABI %s): major versions differ, rebuild the plugin against ABI %d.x",
			abi.VersionString(n.version), abi.VersionString(abi.Version), abi.VersionMajor)
	}
	for _, s := range []symRef{{abi.SymInfo, &n.pluginInfo}, {abi.SymFree, &n.free}, {abi.SymDrainLogs, &n.drainLogs}} {
		if *s.dst, err = sym(s.name, true, "every plugin"); err != nil {
			return nil, err
		}
	}
	n.validate, _ = sym(abi.SymValidateConfig, false, "")
	status, out, slot := n.callRaw(opInfo, 0, 0, nil, nil, nil)
	if status != abi.StatusOK {
		msg := errorRecord(status, out).Message
		n.release(slot)
		return nil, fail(ErrBadInfo, "%s returned %s: %s", abi.SymInfo, status, msg)
	}
	err = abi.Unmarshal(out, &n.info) // copies every string: nothing aliases the plugin's buffer
	n.release(slot)
	if err != nil {
		return nil, fail(ErrBadInfo, "%s returned an undecodable record: %v", abi.SymInfo, err)
	}
	if n.info.ABIVersion != n.version {
		return nil, fail(ErrBadInfo, "%s reports ABI %s but %s returned %s", abi.SymInfo, abi.VersionString(n.info.ABIVersion),
			abi.SymABIVersion, abi.VersionString(n.version))
	}
	var syms []symRef
	switch n.info.Kind {
	case abi.KindSink:
		syms = []symRef{{abi.SymSinkOpen, &n.sinkOpen}, {abi.SymSinkConsume, &n.sinkConsume}, {abi.SymSinkClose, &n.sinkClose}}
	case abi.KindSource:
		syms = []symRef{{abi.SymSourceOpen, &n.sourceOpen}, {abi.SymSourcePoll, &n.sourcePoll},
			{abi.SymSourceCommit, &n.sourceCommit}, {abi.SymSourceClose, &n.sourceClose}}
	default:
		return nil, fail(ErrBadInfo, "unknown plugin kind %q (want sink or source)", n.info.Kind)
	}
	for _, s := range syms {
		if *s.dst, err = sym(s.name, true, "a "+string(n.info.Kind)); err != nil {
			return nil, err
		}
	}
	if n.info.Kind == abi.KindSink && abi.SinkBatchesByRef(n.version) {
		// Optional in 1.1: without it the sink gets CBOR batches, as a 1.0 plugin does.
		n.sinkConsumeRef, _ = sym(abi.SymSinkConsumeRef, false, "")
	}
	n.logs = newLogRouter(n)
	return n, nil
}

type symRef struct {
	name string
	dst  *uintptr
}

// outSlot receives a plugin's output buffer. C writes a C pointer into p: allowed, as it is not Go
// memory. Each call uses its own slot, so concurrent calls of different instances never share one.
type outSlot struct {
	p unsafe.Pointer
	n uintptr
}

// call makes one raw ABI call and returns its status and a Go copy of its output (nil when none); the
// plugin's buffer is released with iggy_plugin_free before call returns. Calls for one instance must
// be serialised by the caller.
func (n *native) call(o op, instance uint32, arg uint64, in1, in2 []byte) (abi.Status, []byte) {
	st, out, s := n.callRaw(o, instance, arg, in1, in2, nil)
	if len(out) > 0 {
		out = bytes.Clone(out)
	}
	n.release(s)
	return st, out
}

// callRaw makes one raw ABI call and returns its status and a view of the plugin's output buffer
// (nil when none), valid until release(slot), which the caller must call exactly once after it has
// decoded (or copied) what it needs; nothing decoded may alias out afterwards. in1/in2 are the call's
// input buffers (config and state, or the CBOR batch); ref is the batch of opSinkConsume for a 1.1
// plugin (then in1 is unused and iggy_sink_consume_ref is called). Go memory is passed to C directly:
// the collector does not move heap objects, the plugin does not retain them (ABI §3, §6), and
// KeepAlive keeps them reachable until the call has returned. The SinkBatchRef holds Go pointers
// (payloads, the message descriptors) because it is Go memory itself, so the collector keeps
// everything it references alive with it.
func (n *native) callRaw(o op, instance uint32, arg uint64, in1, in2 []byte, ref *abi.SinkBatchRef) (abi.Status, []byte, *outSlot) {
	s := new(outSlot)
	var r uintptr
	id := uintptr(instance)
	switch o {
	case opInfo:
		r, _, _ = purego.SyscallN(n.pluginInfo, uintptr(unsafe.Pointer(&s.p)), uintptr(unsafe.Pointer(&s.n)))
	case opDrainLogs:
		r, _, _ = purego.SyscallN(n.drainLogs, uintptr(unsafe.Pointer(&s.p)), uintptr(unsafe.Pointer(&s.n)))
	case opValidate:
		if n.validate == 0 {
			return abi.StatusOK, nil, s
		}
		r, _, _ = purego.SyscallN(n.validate, uintptr(unsafe.Pointer(unsafe.SliceData(in1))), uintptr(len(in1)),
			uintptr(unsafe.Pointer(&s.p)), uintptr(unsafe.Pointer(&s.n)))
	case opSinkOpen:
		r, _, _ = purego.SyscallN(n.sinkOpen, id, uintptr(unsafe.Pointer(unsafe.SliceData(in1))), uintptr(len(in1)),
			uintptr(unsafe.Pointer(&s.p)), uintptr(unsafe.Pointer(&s.n)))
	case opSinkConsume:
		if ref != nil {
			r, _, _ = purego.SyscallN(n.sinkConsumeRef, id, uintptr(unsafe.Pointer(ref)),
				uintptr(unsafe.Pointer(&s.p)), uintptr(unsafe.Pointer(&s.n)))
			runtime.KeepAlive(ref)
			break
		}
		r, _, _ = purego.SyscallN(n.sinkConsume, id, uintptr(unsafe.Pointer(unsafe.SliceData(in1))), uintptr(len(in1)),
			uintptr(unsafe.Pointer(&s.p)), uintptr(unsafe.Pointer(&s.n)))
	case opSinkClose:
		r, _, _ = purego.SyscallN(n.sinkClose, id, uintptr(unsafe.Pointer(&s.p)), uintptr(unsafe.Pointer(&s.n)))
	case opSourceOpen:
		r, _, _ = purego.SyscallN(n.sourceOpen, id, uintptr(unsafe.Pointer(unsafe.SliceData(in1))), uintptr(len(in1)),
			uintptr(unsafe.Pointer(unsafe.SliceData(in2))), uintptr(len(in2)),
			uintptr(unsafe.Pointer(&s.p)), uintptr(unsafe.Pointer(&s.n)))
	case opSourcePoll:
		r, _, _ = purego.SyscallN(n.sourcePoll, id, uintptr(unsafe.Pointer(&s.p)), uintptr(unsafe.Pointer(&s.n)))
	case opSourceCommit:
		r, _, _ = purego.SyscallN(n.sourceCommit, id, uintptr(arg), uintptr(unsafe.Pointer(&s.p)), uintptr(unsafe.Pointer(&s.n)))
	case opSourceClose:
		r, _, _ = purego.SyscallN(n.sourceClose, id, uintptr(unsafe.Pointer(&s.p)), uintptr(unsafe.Pointer(&s.n)))
	default:
		return abi.StatusPermanent, mustMarshal(&abi.Error{Code: CodeTransport, Message: "unknown operation " + o.String()}), s
	}
	runtime.KeepAlive(in1)
	runtime.KeepAlive(in2)
	var out []byte
	if s.p != nil && s.n > 0 {
		out = unsafe.Slice((*byte)(s.p), s.n)
	}
	return abi.Status(int32(uint32(r))), out, s
}

// release frees the output buffer of a callRaw (once; nil and empty slots are fine).
func (n *native) release(s *outSlot) {
	if s != nil && s.p != nil {
		purego.SyscallN(n.free, uintptr(s.p), s.n)
		s.p, s.n = nil, 0
	}
}

// errorRecord decodes the Error record of a non-OK call, or synthesises one.
func errorRecord(st abi.Status, out []byte) abi.Error {
	var e abi.Error
	if len(out) > 0 {
		if err := abi.Unmarshal(out, &e); err != nil {
			return abi.Error{Code: CodeTransport, Message: fmt.Sprintf("the plugin returned status %s with an undecodable error record: %v", st, err)}
		}
	}
	if e.Code == "" {
		e.Code = map[abi.Status]string{abi.StatusUnknownInstance: abi.CodeUnknownInstance, abi.StatusBadInput: abi.CodeBadInput}[st]
		if e.Code == "" {
			e.Code = "unspecified"
		}
		if e.Message == "" {
			e.Message = "the plugin returned status " + st.String() + " without an error record"
		}
	}
	if st == abi.StatusRetryable {
		e.Retryable = true
	}
	return e
}

func mustMarshal(v any) []byte {
	b, err := abi.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

var errClosed = errors.New("instance is closed")
