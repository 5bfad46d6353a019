package sdk

import (
	"bytes"

	"github.com/vmihailenco/msgpack/v5"
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
// Empty state leaves v unchanged and returns nil.
func DecodeState(state []byte, v any) error {
	if len(state) == 0 {
		return nil
	}
	return msgpack.Unmarshal(state, v)
}
