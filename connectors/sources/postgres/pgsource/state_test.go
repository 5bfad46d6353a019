package pgsource

import (
	"errors"
	"testing"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/sdk"
)

// TestCorruptStateIsReported: persisted state that neither this source's nor the original's format
// can decode is refused with the SDK's corrupt_state code (the runtime then names the file and
// applies on_corrupt_state), never read as "no state".
func TestCorruptStateIsReported(t *testing.T) {
	for _, state := range [][]byte{{0xc1}, []byte("not msgpack")} {
		_, err := newSource(&Config{}, state, nil)
		var ae *abi.Error
		if !errors.As(err, &ae) || ae.Code != abi.CodeCorruptState || sdk.IsRetryable(err, true) {
			t.Errorf("state %x: %v; want a permanent corrupt_state error", state, err)
		}
	}
}
