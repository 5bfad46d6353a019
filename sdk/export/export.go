// Package export turns a Go connector into a c-shared plugin: importing it exports every symbol of
// the plugin ABI (abi/iggy_connector.h), and Register names the plugin those symbols serve.
//
//	package main
//
//	import (
//		"github.com/iggy-go/connectors/sdk/export"
//		"example.com/myconnector"
//	)
//
//	func init() { export.Register(myconnector.Plugin) }
//
//	func main() {}
//
// Build with: CGO_ENABLED=1 go build -buildmode=c-shared -o libiggy_connector_<name>_<sink|source>.so .
//
// Contract of the exported functions (the runtime is the only caller):
//   - Calls for one instance are serialised by the runtime; calls for different instances run
//     concurrently on arbitrary OS threads. The shim keeps per-instance state in a map keyed by the
//     instance id; no Go pointer ever reaches C. Inputs are copied into Go memory before use, so a
//     connector may keep any slice it is given, unless the sink implements sdk.BatchBorrower (then
//     batches are decoded into memory reused by the next batch). Outputs are malloc'ed and released
//     by iggy_plugin_free.
//   - Every exported function recovers panics: a panic becomes IGGY_STATUS_PERMANENT with an Error of
//     code "panic" carrying the panic value and a short stack, and the library keeps serving its other
//     instances. A panic in a connector's own goroutine cannot be recovered and ends the process: use
//     the runtime's `process` transport for connectors you do not trust.
//   - Error mapping: a *sdk.FieldError becomes PERMANENT "invalid_config" with its field; errors of
//     Open, Consume and Poll are RETRYABLE unless marked sdk.Permanent (see sdk.IsRetryable); per
//     message Failures are permanent unless marked sdk.Retryable; an error that is (or wraps) an
//     *abi.Error keeps its code.
//   - Source batches get increasing batch ids (1, 2, ...) per instance; iggy_source_commit(id) runs the
//     OnCommit of every batch up to and including id, in order, each at most once.
//   - Logs: connectors log with sdk.Env.Logger (or the default slog logger, which Register points at
//     the library's buffer); records wait in a bounded buffer until iggy_plugin_drain_logs. The level
//     is read from IGGY_PLUGIN_LOG_LEVEL when the library loads (default info).
package export

/*
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
*/
import "C"

import (
	"bytes"
	"fmt"
	"log/slog"
	"unsafe"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/sdk"
	"github.com/iggy-go/connectors/sdk/internal/shim"
)

var served *shim.Shim

// Register makes p the plugin this library serves. Call it exactly once, from an init function of the
// plugin's main package; registering a second plugin panics while the library loads (one plugin per
// library). It also points slog's default logger at the library's log buffer (instance 0).
func Register(p *sdk.Plugin) {
	if p == nil {
		panic("export.Register: nil plugin")
	}
	if served != nil {
		info := served.Plugin().PluginInfo()
		panic(fmt.Sprintf("export.Register: plugin %q is already registered in this library; a library serves exactly one plugin (registering %q)",
			info.Name, p.PluginInfo().Name))
	}
	logs := sdk.NewLogBuffer(sdk.DefaultLogCapacity, p.PluginInfo().Name)
	if err := logs.SetLevelFromValue(cGetenv(sdk.LogLevelEnv)); err != nil {
		logs.Logger(0).Warn("ignoring bad log level", "error", err)
	}
	served = shim.New(p, logs)
	served.SetABIVersion(abiVersion)
	slog.SetDefault(logs.Logger(0))
}

// cGetenv reads the C environment, where the runtime puts IGGY_PLUGIN_LOG_LEVEL (after the process
// started, so os.Getenv in this library's Go runtime would not see it).
func cGetenv(name string) string {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	if v := C.getenv(cs); v != nil {
		return C.GoString(v)
	}
	return ""
}

var notRegistered = func() []byte {
	b, _ := abi.Marshal(&abi.Error{Code: abi.CodeInternal, Message: "no plugin registered: the plugin's main package must call export.Register in an init function"})
	return b
}()

// in copies a borrowed C buffer into Go memory.
func in(p *C.uint8_t, n C.size_t) []byte {
	if p == nil || n == 0 {
		return nil
	}
	return bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
}

// borrowed views a C buffer without copying; valid only during the call.
func borrowed(p *C.uint8_t, n C.size_t) []byte {
	if p == nil || n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

// put hands b to the caller as a malloc'ed buffer (NULL / 0 for an empty b).
func put(out **C.uint8_t, outLen *C.size_t, b []byte) {
	if out == nil || outLen == nil {
		return
	}
	*out, *outLen = nil, 0
	if len(b) == 0 {
		return
	}
	p := C.malloc(C.size_t(len(b)))
	if p == nil {
		return
	}
	C.memcpy(p, unsafe.Pointer(&b[0]), C.size_t(len(b)))
	*out, *outLen = (*C.uint8_t)(p), C.size_t(len(b))
}

// finish writes a call's result; it also recovers a panic of the cgo layer itself.
func finish(st abi.Status, b []byte, out **C.uint8_t, outLen *C.size_t) C.int32_t {
	put(out, outLen, b)
	return C.int32_t(st)
}

func guard(rc *C.int32_t, out **C.uint8_t, outLen *C.size_t) {
	if r := recover(); r != nil {
		b, _ := abi.Marshal(&abi.Error{Code: abi.CodePanic, Message: fmt.Sprintf("panic at the plugin boundary: %v", r)})
		func() {
			defer func() { _ = recover() }()
			put(out, outLen, b)
		}()
		*rc = C.int32_t(abi.StatusPermanent)
	}
}

//export iggy_plugin_abi_version
func iggy_plugin_abi_version() C.uint32_t { return C.uint32_t(abiVersion) }

//export iggy_plugin_info
func iggy_plugin_info(out **C.uint8_t, outLen *C.size_t) (rc C.int32_t) {
	defer guard(&rc, out, outLen)
	if served == nil {
		return finish(abi.StatusPermanent, notRegistered, out, outLen)
	}
	st, b := served.Info()
	return finish(st, b, out, outLen)
}

//export iggy_plugin_free
func iggy_plugin_free(p *C.uint8_t, _ C.size_t) {
	if p != nil {
		C.free(unsafe.Pointer(p))
	}
}

//export iggy_plugin_drain_logs
func iggy_plugin_drain_logs(out **C.uint8_t, outLen *C.size_t) (rc C.int32_t) {
	defer guard(&rc, out, outLen)
	if served == nil {
		return finish(abi.StatusOK, nil, out, outLen)
	}
	st, b := served.DrainLogs()
	return finish(st, b, out, outLen)
}

//export iggy_plugin_validate_config
func iggy_plugin_validate_config(cfg *C.uint8_t, cfgLen C.size_t, out **C.uint8_t, outLen *C.size_t) (rc C.int32_t) {
	defer guard(&rc, out, outLen)
	if served == nil {
		return finish(abi.StatusPermanent, notRegistered, out, outLen)
	}
	st, b := served.ValidateConfig(in(cfg, cfgLen))
	return finish(st, b, out, outLen)
}

//export iggy_sink_open
func iggy_sink_open(id C.uint32_t, cfg *C.uint8_t, cfgLen C.size_t, out **C.uint8_t, outLen *C.size_t) (rc C.int32_t) {
	defer guard(&rc, out, outLen)
	if served == nil {
		return finish(abi.StatusPermanent, notRegistered, out, outLen)
	}
	st, b := served.SinkOpen(uint32(id), in(cfg, cfgLen))
	return finish(st, b, out, outLen)
}

//export iggy_sink_consume
func iggy_sink_consume(id C.uint32_t, batch *C.uint8_t, batchLen C.size_t, out **C.uint8_t, outLen *C.size_t) (rc C.int32_t) {
	defer guard(&rc, out, outLen)
	if served == nil {
		return finish(abi.StatusPermanent, notRegistered, out, outLen)
	}
	st, b := served.SinkConsume(uint32(id), borrowed(batch, batchLen))
	return finish(st, b, out, outLen)
}

//export iggy_sink_close
func iggy_sink_close(id C.uint32_t, out **C.uint8_t, outLen *C.size_t) (rc C.int32_t) {
	defer guard(&rc, out, outLen)
	if served == nil {
		return finish(abi.StatusPermanent, notRegistered, out, outLen)
	}
	st, b := served.SinkClose(uint32(id))
	return finish(st, b, out, outLen)
}

//export iggy_source_open
func iggy_source_open(id C.uint32_t, cfg *C.uint8_t, cfgLen C.size_t, state *C.uint8_t, stateLen C.size_t, out **C.uint8_t, outLen *C.size_t) (rc C.int32_t) {
	defer guard(&rc, out, outLen)
	if served == nil {
		return finish(abi.StatusPermanent, notRegistered, out, outLen)
	}
	st, b := served.SourceOpen(uint32(id), in(cfg, cfgLen), in(state, stateLen))
	return finish(st, b, out, outLen)
}

//export iggy_source_poll
func iggy_source_poll(id C.uint32_t, out **C.uint8_t, outLen *C.size_t) (rc C.int32_t) {
	defer guard(&rc, out, outLen)
	if served == nil {
		return finish(abi.StatusPermanent, notRegistered, out, outLen)
	}
	st := served.SourcePollInto(uint32(id), func(b []byte) { put(out, outLen, b) })
	return C.int32_t(st)
}

//export iggy_source_commit
func iggy_source_commit(id C.uint32_t, batchID C.uint64_t, out **C.uint8_t, outLen *C.size_t) (rc C.int32_t) {
	defer guard(&rc, out, outLen)
	if served == nil {
		return finish(abi.StatusPermanent, notRegistered, out, outLen)
	}
	st, b := served.SourceCommit(uint32(id), uint64(batchID))
	return finish(st, b, out, outLen)
}

//export iggy_source_close
func iggy_source_close(id C.uint32_t, out **C.uint8_t, outLen *C.size_t) (rc C.int32_t) {
	defer guard(&rc, out, outLen)
	if served == nil {
		return finish(abi.StatusPermanent, notRegistered, out, outLen)
	}
	st, b := served.SourceClose(uint32(id))
	return finish(st, b, out, outLen)
}
