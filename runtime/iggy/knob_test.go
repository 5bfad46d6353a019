package iggy

import (
	"os"
	"strconv"
)

// IGGY_TEST_VEC_MIN sets vecMinPayload in test binaries, for A/B runs of the vectored send
// (a value above every payload turns it off).
func init() {
	if v, err := strconv.Atoi(os.Getenv("IGGY_TEST_VEC_MIN")); err == nil {
		vecMinPayload = v
	}
}
