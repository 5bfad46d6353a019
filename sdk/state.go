package sdk

import (
	"bytes"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/iggy-go/connectors/abi"
)

// EncodeState serialises v as MessagePack with structs encoded as arrays (field order), the
// convention of the original runtime's state files (rmp-serde's default).
func EncodeState(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseArrayEncodedStructs(true)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodeState reads state written by EncodeState (or by the original runtime) into v.
// Empty state leaves v unchanged and returns nil. State that cannot be decoded is an *abi.Error
// with code "corrupt_state" (keep it in the chain when wrapping, with %w): the runtime then names
// the state file and applies the connector's on_corrupt_state instead of reporting a config error.
func DecodeState(state []byte, v any) error {
	if len(state) == 0 {
		return nil
	}
	if err := msgpack.Unmarshal(state, v); err != nil {
		return &abi.Error{Code: abi.CodeCorruptState, Message: "cannot be decoded: " + err.Error()}
	}
	return nil
}
