package harness

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// tailLines is how much of a log a failed test shows.
const tailLines = 150

// Log is the combined output of one or more child processes (a process restarted by the test
// appends to the same Log), kept in a file of the test's temporary directory. When the test fails,
// the Log's last lines go to the test log; with Verbose the output is also streamed to stderr. A
// Log is an io.Writer; its methods are safe for concurrent use.
type Log struct {
	name, path string
	mu         sync.Mutex
	f          *os.File
}

// NewLog creates an empty Log named name (the name heads the lines shown or streamed).
func NewLog(tb testing.TB, name string) *Log {
	tb.Helper()
	file := strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == '#' {
			return '_'
		}
		return r
	}, name)
	path := filepath.Join(tb.TempDir(), file+".log")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	l := &Log{name: name, path: path, f: f}
	tb.Cleanup(func() {
		l.mu.Lock()
		l.f.Close()
		l.mu.Unlock()
		if tb.Failed() && !Verbose() {
			tb.Logf("--- %s log (last %d lines) ---\n%s", name, tailLines, tail(l.Contents(), tailLines))
		}
	})
	return l
}

// Write appends p (and streams it with Verbose).
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if Verbose() {
		for _, line := range strings.SplitAfter(string(p), "\n") {
			if line != "" {
				fmt.Fprintf(os.Stderr, "[%s] %s", l.name, line)
			}
		}
	}
	return l.f.Write(p)
}

// output is what a child process writes to: the file itself (no copying goroutine, so a process's
// exit is not held up by children that inherited its output), or the Log when it streams.
func (l *Log) output() io.Writer {
	if Verbose() {
		return l
	}
	return l.f
}

// Path is the log file.
func (l *Log) Path() string { return l.path }

// Contents returns everything logged so far.
func (l *Log) Contents() string {
	b, _ := os.ReadFile(l.path)
	return string(b)
}

// Lines returns the lines that contain every one of parts.
func (l *Log) Lines(parts ...string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(l.Contents()))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
lines:
	for sc.Scan() {
		for _, p := range parts {
			if !strings.Contains(sc.Text(), p) {
				continue lines
			}
		}
		out = append(out, sc.Text())
	}
	return out
}

// Records returns the JSON log records (logging.format = "json") whose msg is msg.
func (l *Log) Records(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range l.Lines(`"msg":`) {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
