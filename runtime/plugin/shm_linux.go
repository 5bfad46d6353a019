//go:build linux && (amd64 || arm64)

package plugin

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

// shmSize is the size of a sink instance's shared batch region: the largest CBOR SinkBatch that
// crosses to a process-transport child without the pipe (larger ones go through the pipe). The
// memfd is sparse: only the pages batches actually touched use memory.
var shmSize = 256 << 20 // a variable for tests

// shmRegion is a shared-memory area (a memfd mapped by the parent and by its plugin-host child)
// into which the parent encodes a sink's batches, so that a batch crosses to the child without being
// copied through the pipe twice: the request frame only says how many bytes of the region the batch
// has. One call runs at a time per child, so the region holds exactly one batch; the child reads it
// during the call only (as any input: ABI §3).
type shmRegion struct {
	f   *os.File
	mem []byte
}

func memfdCreate(name string) (int, error) {
	nr := uintptr(319) // amd64
	if runtime.GOARCH == "arm64" {
		nr = 279
	}
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return -1, err
	}
	const mfdCloexec = 1
	fd, _, errno := syscall.Syscall(nr, uintptr(unsafe.Pointer(p)), mfdCloexec, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// newShm creates and maps a region (nil when the system cannot: the pipe carries batches then).
func newShm() *shmRegion {
	fd, err := memfdCreate("iggy-connectors-batch")
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), "iggy-connectors-batch")
	if err := f.Truncate(int64(shmSize)); err != nil {
		f.Close()
		return nil
	}
	mem, err := syscall.Mmap(fd, 0, shmSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil
	}
	return &shmRegion{f: f, mem: mem}
}

// openShm maps the region the parent passed as file descriptor fd (the child side).
func openShm(fd uintptr) (*shmRegion, error) {
	f := os.NewFile(fd, "iggy-connectors-batch")
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("shared batch region: %w", err)
	}
	mem, err := syscall.Mmap(int(fd), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("shared batch region: %w", err)
	}
	return &shmRegion{f: f, mem: mem}, nil
}

func (r *shmRegion) close() {
	if r == nil {
		return
	}
	_ = syscall.Munmap(r.mem)
	r.mem = nil
	_ = r.f.Close()
}
