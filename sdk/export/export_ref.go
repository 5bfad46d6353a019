//go:build cgo && !iggy_connector_abi10

package export

/*
#include <stdint.h>
#include <stdlib.h>
*/
import "C"

import (
	"unsafe"

	"github.com/iggy-go/connectors/abi"
)

// abiVersion is the ABI the library speaks: 1.1, sink batches by reference as well as CBOR.
const abiVersion = abi.Version

// iggy_sink_consume_ref is ABI 1.1's consume (iggy_connector.h §6): batch is an IggySinkBatchRef of
// the runtime, valid during the call only. An sdk.BatchBorrower reads payloads where they are; other
// sinks get copies.
//
//export iggy_sink_consume_ref
func iggy_sink_consume_ref(id C.uint32_t, batch unsafe.Pointer, out **C.uint8_t, outLen *C.size_t) (rc C.int32_t) {
	defer guard(&rc, out, outLen)
	if served == nil {
		return finish(abi.StatusPermanent, notRegistered, out, outLen)
	}
	st, b := served.SinkConsumeRef(uint32(id), (*abi.SinkBatchRef)(batch))
	return finish(st, b, out, outLen)
}
