package iggyserver

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy/wire"
)

// Snapshot types of GetSnapshotFile (11), with the entry names of the official server
// ("<type>.txt" in a ZIP archive).
var snapshotTypes = map[byte]string{1: "filesystem_overview", 2: "process_list", 3: "resource_usage", 4: "test",
	5: "server_logs", 6: "server_config"}

const snapshotAll = 100

// snapshot answers GetSnapshotFile: body `[compression u8][types_count u8][type u8]...`, reply the
// raw ZIP archive. Compression 1 (stored) and 2 (deflated) are supported; the official server's
// 3..6 (bzip2, zstd, lzma, xz) are status 5 here (no writer in Go's standard library). The entries
// describe this development server (its data directory, process, Go runtime, configuration with
// secrets left out), not the host as the official server's shell commands do. Server.mu held.
func (c *conn) snapshot(body, out []byte) ([]byte, error) {
	r := wire.NewReader(body)
	compression := r.U8("compression")
	types := r.Bytes(int(r.U8("types count")), "snapshot types")
	if err := r.Err(); err != nil {
		return nil, badBody(err)
	}
	var method uint16
	switch compression {
	case 1:
		method = zip.Store
	case 2:
		method = zip.Deflate
	case 3, 4, 5, 6:
		return nil, statusErr(wire.ErrCodeFeatureUnavailable, "snapshot compression %d is not available on the development server (use 1 stored or 2 deflated)", compression)
	default:
		return nil, statusErr(wire.ErrCodeInvalidCommand, "unknown snapshot compression %d", compression)
	}
	var names []byte
	for _, t := range types {
		switch {
		case t == snapshotAll && len(types) == 1:
			names = append(names, 1, 2, 3, 4, 5, 6)
		case snapshotTypes[t] != "":
			names = append(names, t)
		default:
			return nil, statusErr(wire.ErrCodeInvalidCommand, "snapshot type %d (allowed 1..6, or 100 alone)", t)
		}
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, t := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: snapshotTypes[t] + ".txt", Method: method, Modified: time.Now()})
		if err == nil {
			_, err = w.Write(c.snapshotSection(t))
		}
		if err != nil {
			return nil, statusErr(wire.ErrCodeSnapshotFailed, "snapshot: %v", err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, statusErr(wire.ErrCodeSnapshotFailed, "snapshot: %v", err)
	}
	return append(out, buf.Bytes()...), nil
}

func (c *conn) snapshotSection(t byte) []byte {
	s := c.s
	var b strings.Builder
	switch snapshotTypes[t] {
	case "filesystem_overview":
		if s.cfg.DataDir == "" {
			b.WriteString("iggy-devserver keeps everything in memory (no --data-dir)\n")
			break
		}
		filepath.WalkDir(s.cfg.DataDir, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if info, err := d.Info(); err == nil {
					fmt.Fprintf(&b, "%12d %s\n", info.Size(), path)
				}
			}
			return nil
		})
	case "process_list":
		fmt.Fprintf(&b, "pid %d: %s\n", os.Getpid(), strings.Join(os.Args, " "))
	case "resource_usage":
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(&b, "goroutines %d\nheap_alloc %d\nsys %d\nnum_gc %d\nconnections %d\nuptime %v\n",
			runtime.NumGoroutine(), ms.HeapAlloc, ms.Sys, ms.NumGC, len(s.conns), time.Since(s.started).Round(time.Millisecond))
	case "test":
		b.WriteString("test\n")
	case "server_logs":
		b.WriteString("iggy-devserver writes its log to stderr; there are no log files to include\n")
	case "server_config":
		fmt.Fprintf(&b, "addr = %q\ndata_dir = %q\nfsync = %v\ntls = %v\nroot_username = %q\nheartbeat_interval = %q\nversion = %q\n",
			s.cfg.Addr, s.cfg.DataDir, s.cfg.Fsync, s.cfg.TLS != nil, s.cfg.RootUsername, s.cfg.HeartbeatInterval, Version)
	}
	return []byte(b.String())
}
