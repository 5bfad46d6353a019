package iggy_test

import "github.com/iggy-go/connectors/runtime/iggy/wire"

func iggyXXH32(s string) uint32 { return wire.XXH32([]byte(s), 0) }
