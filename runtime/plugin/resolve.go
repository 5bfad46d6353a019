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

// SearchDirs are the directories searched, after Resolve's extraDirs, for a relative library path
// that does not exist as given, in order: the layouts of `make build` and of an installed package
// (<binary dir>/../plugins, <binary dir>/../lib/iggy-connectors), then where the original runtime
// searched (the binary's directory, the working directory and the system library directories).
// run, validate, plugin inspect and the API all resolve through Resolve and so through this list.
func SearchDirs() []string {
	var dirs []string
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		dirs = append(dirs, filepath.Join(dir, "..", "plugins"), filepath.Join(dir, "..", "lib", "iggy-connectors"), dir)
	}
	if wd, err := os.Getwd(); err == nil {
		dirs = append(dirs, wd)
	}
	return append(dirs, "/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib", "/usr/local/lib64")
}

// Resolve turns a configured plugin path into an absolute file path. It is the one resolver of the
// runtime (run, validate, plugin inspect and the API call it). Candidates are the path as given and,
// when its extension is none of .so/.dylib/.dll, the path with the OS extension appended, in that
// order: an existing file is used as given (libfoo.so.1 stays libfoo.so.1), and the extension is
// added only when the given path does not exist. A relative path none of whose candidates exists is
// looked up by the candidates' file names in extraDirs and then SearchDirs. The error is a
// *LoadError (ErrNotFound) listing every path tried.
func Resolve(path string, extraDirs []string) (string, error) {
	cands := []string{path}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".so", ".dylib", ".dll":
	default:
		cands = append(cands, path+LibraryExt())
	}
	for _, c := range cands {
		if p, ok := existingFile(c); ok {
			return p, nil
		}
	}
	detail := "not found at " + quoteAll(cands, " or ")
	if !filepath.IsAbs(path) {
		dirs := append(append([]string(nil), extraDirs...), SearchDirs()...)
		for _, d := range dirs {
			for _, c := range cands {
				if p, ok := existingFile(filepath.Join(d, filepath.Base(c))); ok {
					return p, nil
				}
			}
		}
		detail += "; searched " + strings.Join(dirs, ", ")
	}
	return "", &LoadError{Library: path, Reason: ErrNotFound, Detail: detail}
}

// existingFile returns p made absolute when it names a file (not a directory).
func existingFile(p string) (string, bool) {
	if st, err := os.Stat(p); err != nil || st.IsDir() {
		return "", false
	}
	abs, err := filepath.Abs(p)
	return abs, err == nil
}

func quoteAll(ss []string, sep string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, sep)
}
