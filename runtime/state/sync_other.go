//go:build !linux

package state

import "os"

// datasync flushes f to disk (fdatasync is Linux only).
func datasync(f *os.File) error { return f.Sync() }
