// Package state stores source connector state: one file per source, {Dir}/source_{key}.state,
// holding the opaque bytes the source plugin returned with its last committed batch (MessagePack by
// convention; the runtime adds no envelope), so a restarted source resumes where it stopped.
//
// Files are compatible with the original runtime's: same name, same content, mode 0600.
//
// The pipeline calls Save only after Iggy accepted a batch that carried state, and the engine calls
// Load once when a source starts. A state file that exists but cannot be used is a *CorruptError;
// the engine then stops the source or, with on_corrupt_state = "reset", sets the file aside
// (SetAside) and starts without state — never silently. Both may be called from many goroutines; saves of one file are serialised.
package state

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Store reads and writes state files in a directory (the main config's state.path). The zero value
// is not usable; create it with New. A Store is safe for concurrent use.
type Store struct {
	dir   string
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// New returns a Store for the state files in dir. It does not touch the file system; the runtime
// creates dir at startup (mkdir -p state.path).
func New(dir string) *Store {
	return &Store{dir: dir, locks: map[string]*sync.Mutex{}}
}

// Dir is the directory of the state files.
func (s *Store) Dir() string { return s.dir }

// Path returns the state file of the source with this key: {Dir}/source_{key}.state. The key is used
// verbatim, as in the original. Connector keys match config.KeyPattern (checked where configs are
// read), so the file is directly in Dir; the Store itself does not check (a key containing "/" would
// name a file in a subdirectory, which must exist).
func (s *Store) Path(key string) string {
	return filepath.Join(s.dir, "source_"+key+".state")
}

// ErrCorrupt is matched (errors.Is) by every error saying that a source's state file exists but
// cannot be used; the value is a *CorruptError.
var ErrCorrupt = errors.New("corrupt source state")

// CorruptError is a state file that exists but cannot be used: it is empty (Save never writes an
// empty file), it cannot be read, or the plugin cannot decode it. Error() names the file.
type CorruptError struct {
	Path   string
	Size   int64  // bytes in the file; -1 when unknown
	Reason string // e.g. "the file is empty", "the plugin cannot decode it: msgpack: ..."
}

func (e *CorruptError) Error() string {
	if e.Size < 0 {
		return fmt.Sprintf("corrupt source state %s: %s", e.Path, e.Reason)
	}
	return fmt.Sprintf("corrupt source state %s (%d bytes): %s", e.Path, e.Size, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Corrupt returns the *CorruptError of key's state file with reason (for corruption found by the
// plugin, which does not know the file).
func (s *Store) Corrupt(key string, size int, reason string) *CorruptError {
	return &CorruptError{Path: s.Path(key), Size: int64(size), Reason: reason}
}

// Load returns the saved state of the source with this key, or nil (and no error) when there is
// none: the file does not exist. A file that exists but is empty or cannot be read is a
// *CorruptError (errors.Is(err, ErrCorrupt)): the state is lost or unreachable, and starting without
// it would silently move the source back to its beginning, so the caller decides (the connector's
// on_corrupt_state). A missing state directory is a plain error naming the path. A leftover
// temporary file of an interrupted Save is ignored: the state file itself is only ever replaced
// whole or overwritten in place.
//
// Load waits for a Save of the same key in this process. A save in place by another process (two
// runtimes sharing state.path during a lease hand-over, docs/scaleout.md) could be seen half-copied
// by a read that overlaps it, for nanoseconds; so the file is read until two reads agree.
func (s *Store) Load(key string) ([]byte, error) {
	path := s.Path(key)
	lock := s.lock(path)
	lock.Lock()
	defer lock.Unlock()
	data, err := readStable(path)
	if err == nil {
		if len(data) == 0 {
			return nil, &CorruptError{Path: path, Size: 0, Reason: "the file is empty (a state file is never saved empty; it was truncated, e.g. by a crash of the file system or a copy)"}
		}
		return data, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		dir := filepath.Dir(path)
		st, derr := os.Stat(dir)
		switch {
		case derr != nil:
			return nil, fmt.Errorf("load source state %s: state directory %s: %w", path, dir, derr)
		case !st.IsDir():
			return nil, fmt.Errorf("load source state %s: %s is not a directory", path, dir)
		}
		return nil, nil
	}
	return nil, &CorruptError{Path: path, Size: -1, Reason: fmt.Sprintf("cannot read it: %v", err)}
}

// readStable reads the file at path until two consecutive reads agree (at most a few times).
func readStable(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	for range 5 {
		if err != nil {
			return nil, err
		}
		again, err2 := os.ReadFile(path)
		if err2 == nil && bytes.Equal(again, data) {
			return data, nil
		}
		data, err = again, err2
	}
	return data, err
}

// SetAside renames the state file of key to {file}.corrupt-{UTC time} (with a -N suffix when that
// exists), so that the source can start without state while the bad file is kept for inspection.
// It returns the new path. Nothing to set aside (no file) is not an error: it returns "".
func (s *Store) SetAside(key string) (string, error) {
	path := s.Path(key)
	lock := s.lock(path)
	lock.Lock()
	defer lock.Unlock()
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	base := path + ".corrupt-" + time.Now().UTC().Format("20060102T150405Z")
	aside := base
	for n := 2; ; n++ {
		if _, err := os.Lstat(aside); errors.Is(err, fs.ErrNotExist) {
			break
		}
		aside = fmt.Sprintf("%s-%d", base, n)
	}
	if err := os.Rename(path, aside); err != nil {
		return "", fmt.Errorf("set aside source state %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return aside, fmt.Errorf("set aside source state %s: sync directory: %w", path, err)
	}
	return aside, nil
}

// testHookBeforeRename, when set by a test, runs after the temporary file was written and synced and
// before it is renamed over the state file.
var testHookBeforeRename func(tmp string)

// Save replaces the state of the source with this key by data, atomically, so a crash at any point
// leaves either the old or the new state, never a mix, in a file of mode 0600. Saves of the same key are serialised; the
// error names the path. Saving empty data removes the file: the next Load returns no state.
//
// Two ways, both durable when Save returns:
//   - In place, when the file exists as a regular file of mode 0600 and exactly len(data) bytes and data is at
//     most InPlaceMax bytes (a source's position is usually a few bytes of the same length batch
//     after batch): one write at offset 0 and fdatasync. A write of at most one 512-byte sector at
//     offset 0 is all-or-nothing on disk (the assumption PostgreSQL makes for pg_control), and the
//     file's size and blocks do not change, so no metadata has to reach the disk. A failed write
//     leaves the old or the new bytes; the caller saves again.
//   - Otherwise by replacement: it writes {file}.tmp (mode 0600, truncated first), syncs it, renames
//     it over the state file and syncs the directory. On failure the temporary file is removed and
//     the old state is untouched.
func (s *Store) Save(key string, data []byte) error {
	path := s.Path(key)
	lock := s.lock(path)
	lock.Lock()
	defer lock.Unlock()

	if len(data) == 0 {
		// No state: no file (an empty file would read as corrupt).
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("save source state %s: remove: %w", path, err)
		}
		if err := syncDir(filepath.Dir(path)); err != nil {
			return fmt.Errorf("save source state %s: sync directory: %w", path, err)
		}
		return nil
	}

	if done, err := overwrite(path, data); done {
		if err != nil {
			return fmt.Errorf("save source state %s: %w", path, err)
		}
		return nil
	}
	return replace(path, data)
}

// InPlaceMax is the largest state Save overwrites in place: one disk sector.
const InPlaceMax = 512

// overwrite writes data over the file at path when it may (see Save). done is false when it did
// not touch the file (no file, another size, too large): the caller replaces it instead.
func overwrite(path string, data []byte) (done bool, err error) {
	if len(data) > InPlaceMax {
		return false, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return false, nil // no file, or not writable: replace reports what is wrong
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() != int64(len(data)) || st.Mode().Perm() != 0o600 {
		return false, nil
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		return true, err
	}
	if err := datasync(f); err != nil {
		return true, err
	}
	return true, f.Close()
}

// replace writes data to {path}.tmp, syncs it, renames it over path and syncs the directory.
func replace(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := writeSynced(tmp, data); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("save source state %s: %w", path, err)
	}
	if testHookBeforeRename != nil {
		testHookBeforeRename(tmp)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("save source state %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("save source state %s: sync directory: %w", path, err)
	}
	return nil
}

func (s *Store) lock(path string) *sync.Mutex {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.locks[path]
	if !ok {
		l = &sync.Mutex{}
		s.locks[path] = l
	}
	return l
}

func writeSynced(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	// O_CREATE does not change the mode of a file left behind by an earlier, interrupted save.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
