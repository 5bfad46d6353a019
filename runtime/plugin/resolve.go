package plugin

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// LibraryExt is the shared-library extension of this OS.
func LibraryExt() string {
	switch runtime.GOOS {
	case "darwin", "ios":
		return ".dylib"
	case "windows":
		return ".dll"
	}
	return ".so"
}

// DefaultSearchDirs are searched, after Options.SearchDirs, for a relative library path that does not
// exist as given: the runtime executable's directory, the working directory and the system library
// directories (as the original runtime does).
func DefaultSearchDirs() []string {
	var dirs []string
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, wd)
	}
	return append(dirs, "/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib", "/usr/local/lib64")
}

// Resolve turns a configured plugin path into an absolute file path: the OS extension is appended
// when the path has none of .so/.dylib/.dll; a path that exists is used as is; a relative path that
// does not is looked up by file name in extraDirs and then DefaultSearchDirs. The error is a
// *LoadError (ErrNotFound) listing every path searched.
func Resolve(path string, extraDirs []string) (string, error) {
	p := path
	switch strings.ToLower(filepath.Ext(p)) {
	case ".so", ".dylib", ".dll":
	default:
		p += LibraryExt()
	}
	if st, err := os.Stat(p); err == nil && !st.IsDir() {
		return filepath.Abs(p)
	}
	if filepath.IsAbs(p) {
		return "", &LoadError{Library: path, Reason: ErrNotFound, Detail: fmt.Sprintf("not found at %q", p)}
	}
	name := filepath.Base(p)
	var searched []string
	for _, d := range append(append([]string(nil), extraDirs...), DefaultSearchDirs()...) {
		c := filepath.Join(d, name)
		searched = append(searched, c)
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return filepath.Abs(c)
		}
	}
	return "", &LoadError{Library: path, Reason: ErrNotFound,
		Detail: fmt.Sprintf("not found; searched %q and %s", p, strings.Join(searched, ", "))}
}
