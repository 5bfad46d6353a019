//go:build cgo && iggy_connector_abi10

package export

import "github.com/iggy-go/connectors/abi"

// Built with -tags iggy_connector_abi10 the library is an ABI 1.0 plugin: it reports 1.0 and does not
// export iggy_sink_consume_ref, so the runtime hands it CBOR SinkBatches. This exists to test that
// the runtime keeps serving plugins built before ABI 1.1 (test/plugintest).
const abiVersion = abi.Version10
