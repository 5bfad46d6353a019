//go:build !(linux && (amd64 || arm64))

package plugin

import (
	"errors"
	"os"
)

// shmRegion: shared batch regions exist on Linux (amd64, arm64) only; elsewhere batches cross the
// process transport's pipe.
type shmRegion struct {
	f   *os.File
	mem []byte
}

func newShm() *shmRegion { return nil }

func openShm(uintptr) (*shmRegion, error) {
	return nil, errors.New("no shared batch regions on this platform")
}

func (r *shmRegion) close() {}
