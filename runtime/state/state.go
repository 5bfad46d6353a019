// Package state stores source connector state: one file per source, {Dir}/source_{key}.state,
// holding the opaque bytes the source plugin returned with its last committed batch (MessagePack by
// convention; the runtime adds no envelope), so a restarted source resumes where it stopped.
//
// Files are compatible with the original runtime's: same name, same content, mode 0600.
//
// The pipeline calls Save only after Iggy accepted a batch that carried state, and Load once when a
// source starts. Both may be called from many goroutines; saves of one file are serialised.
package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
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
// verbatim, as in the original: a key containing "/" names a file in a subdirectory, which must exist.
func (s *Store) Path(key string) string {
	return filepath.Join(s.dir, "source_"+key+".state")
}

// Load returns the saved state of the source with this key, or nil (and no error) when there is none:
// the file does not exist, or it is empty. It is an error, naming the path, when the file's directory
// does not exist or the file cannot be read. A leftover temporary file of an interrupted Save is
// ignored: the state file itself is only ever replaced whole.
func (s *Store) Load(key string) ([]byte, error) {
	path := s.Path(key)
	data, err := os.ReadFile(path)
	if err == nil {
		if len(data) == 0 {
			return nil, nil
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
	return nil, fmt.Errorf("load source state %s: %w", path, err)
}

// testHookBeforeRename, when set by a test, runs after the temporary file was written and synced and
// before it is renamed over the state file.
var testHookBeforeRename func(tmp string)

// Save replaces the state of the source with this key by data, atomically: it writes
// {file}.tmp (mode 0600, truncated first), syncs it to disk, renames it over the state file and syncs
// the directory, so a crash at any point leaves either the old or the new state, never a mix. Saves
// of the same key are serialised. On failure the temporary file is removed and the old state is
// untouched; the error names the path. Saving empty data makes the next Load return no state.
func (s *Store) Save(key string, data []byte) error {
	path := s.Path(key)
	lock := s.lock(path)
	lock.Lock()
	defer lock.Unlock()

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
