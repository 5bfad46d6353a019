package state

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestPath(t *testing.T) {
	s := New("/var/lib/iggy")
	for key, want := range map[string]string{
		"random":     "/var/lib/iggy/source_random.state",
		"pg-cdc.v2":  "/var/lib/iggy/source_pg-cdc.v2.state",
		"team/a":     "/var/lib/iggy/source_team/a.state",
		"with space": "/var/lib/iggy/source_with space.state",
	} {
		if got := s.Path(key); got != want {
			t.Errorf("Path(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestLoadRules(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	if err := os.WriteFile(s.Path("empty"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Path("full"), []byte{0x93, 1, 2, 3}, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(s.Path("dir"), 0o700); err != nil { // a directory where the file should be
		t.Fatal(err)
	}
	cases := []struct {
		store *Store
		key   string
		want  []byte
		err   string
	}{
		{s, "missing", nil, ""},
		{s, "empty", nil, "corrupt source state " + s.Path("empty") + " (0 bytes): the file is empty"},
		{s, "full", []byte{0x93, 1, 2, 3}, ""},
		{s, "nosub/x", nil, "load source state " + filepath.Join(dir, "source_nosub/x.state") + ": state directory " + filepath.Join(dir, "source_nosub")},
		{New(filepath.Join(dir, "absent")), "k", nil, "load source state " + filepath.Join(dir, "absent", "source_k.state") + ": state directory"},
		{s, "dir", nil, "corrupt source state " + s.Path("dir") + ": cannot read it: read " + s.Path("dir") + ": is a directory"},
	}
	for _, c := range cases {
		got, err := c.store.Load(c.key)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Load(%q): got %v, want error containing %q", c.key, err, c.err)
			}
			if corrupt := strings.HasPrefix(c.err, "corrupt"); errors.Is(err, ErrCorrupt) != corrupt {
				t.Errorf("Load(%q): errors.Is(%v, ErrCorrupt) = %v, want %v", c.key, err, !corrupt, corrupt)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, c.want) || (c.want == nil && got != nil) {
			t.Errorf("Load(%q) = %v, %v; want %v", c.key, got, err, c.want)
		}
	}
	// A state directory path that is a file.
	file := filepath.Join(dir, "plainfile")
	os.WriteFile(file, []byte("x"), 0o600)
	if _, err := New(file).Load("k"); err == nil || !strings.Contains(err.Error(), "source_k.state") {
		t.Errorf("state dir is a file: %v", err)
	}
}

func TestSave(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	s := New(dir)
	for i, data := range [][]byte{[]byte("first"), []byte("second, longer"), {0x92, 0xcd, 0x01, 0x00}} {
		if err := s.Save("src", data); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load("src")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("save %d: loaded %q, %v", i, got, err)
		}
	}
	st, err := os.Stat(s.Path("src"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := os.Stat(s.Path("src") + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
	// Empty state: no file, so the next load has none (an empty file would be corrupt).
	if err := s.Save("src", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load("src"); err != nil || got != nil {
		t.Fatalf("after empty save: %q, %v", got, err)
	}
	if _, err := os.Stat(s.Path("src")); !os.IsNotExist(err) {
		t.Errorf("empty save left a file: %v", err)
	}
	if err := s.Save("src", []byte{}); err != nil {
		t.Fatalf("empty save without a file: %v", err)
	}
	// A key with a slash needs its subdirectory.
	err = s.Save("team/a", []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "save source state "+filepath.Join(dir, "source_team/a.state")) {
		t.Fatalf("missing subdirectory: %v", err)
	}
	os.Mkdir(filepath.Join(dir, "source_team"), 0o700)
	if err := s.Save("team/a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Load("team/a"); string(got) != "x" {
		t.Fatalf("subdirectory key: %q", got)
	}
}

func TestSaveFailureKeepsOldStateAndRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	// The rename fails when a non-empty directory occupies the state path.
	p := s.Path("blocked")
	os.MkdirAll(filepath.Join(p, "child"), 0o700)
	err := s.Save("blocked", []byte("new"))
	if err == nil || !strings.Contains(err.Error(), "save source state "+p) {
		t.Fatalf("want error naming %s, got %v", p, err)
	}
	if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temporary file not removed after a failed save: %v", err)
	}
}

func TestLeftoverTempFileIsIgnored(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	if err := s.Save("k", []byte("old state")); err != nil {
		t.Fatal(err)
	}
	// A half-written temporary file of an interrupted save, with a wrong mode.
	if err := os.WriteFile(s.Path("k")+".tmp", []byte("new st"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load("k"); err != nil || string(got) != "old state" {
		t.Fatalf("load with leftover temp: %q, %v", got, err)
	}
	if err := s.Save("k", []byte("new state")); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(s.Path("k"))
	if got, _ := s.Load("k"); string(got) != "new state" || st.Mode().Perm() != 0o600 {
		t.Fatalf("after save: %q mode %v", got, st.Mode().Perm())
	}
}

// TestCrashBetweenWriteAndRename kills a process with SIGKILL after it wrote and synced the
// temporary file but before the rename, then checks that the old state is what loads.
func TestCrashBetweenWriteAndRename(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	if err := s.Save("crashy", []byte("old state v1")); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "STATE_CRASH_DIR="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY ") {
				ready <- strings.TrimPrefix(sc.Text(), "READY ")
				return
			}
		}
		close(ready)
	}()
	var tmp string
	select {
	case tmp = <-ready:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("helper process did not reach the hook")
	}
	if tmp == "" {
		cmd.Wait()
		t.Fatal("helper process ended before the hook")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("helper was not killed by SIGKILL: %v", err)
	}

	// The crash left the complete new state in the temporary file, not in the state file.
	if b, err := os.ReadFile(tmp); err != nil || string(b) != "new state v2 (longer)" {
		t.Fatalf("temporary file: %q, %v", b, err)
	}
	if got, err := New(dir).Load("crashy"); err != nil || string(got) != "old state v1" {
		t.Fatalf("after crash: loaded %q, %v; want the old state", got, err)
	}
	// The next save works over the leftover.
	if err := New(dir).Save("crashy", []byte("v3")); err != nil {
		t.Fatal(err)
	}
	if got, _ := New(dir).Load("crashy"); string(got) != "v3" {
		t.Fatalf("after recovery save: %q", got)
	}
}

// TestCrashHelperProcess is the child of TestCrashBetweenWriteAndRename.
func TestCrashHelperProcess(t *testing.T) {
	dir := os.Getenv("STATE_CRASH_DIR")
	if dir == "" {
		t.Skip("helper process for TestCrashBetweenWriteAndRename")
	}
	testHookBeforeRename = func(tmp string) {
		fmt.Printf("READY %s\n", tmp)
		os.Stdout.Sync()
		time.Sleep(time.Hour) // wait to be killed (a bare select{} would end in a deadlock panic)
	}
	_ = New(dir).Save("crashy", []byte("new state v2 (longer)")) // another size: replaced, not overwritten
	t.Fatal("unreachable: the hook blocks until the process is killed")
}

func TestConcurrentSaves(t *testing.T) {
	dir := t.TempDir()
	s := New(dir)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				data := bytes.Repeat([]byte{byte('a' + g)}, 100+g*50)
				if err := s.Save("shared", data); err != nil {
					errs <- err
				}
				if err := s.Save(fmt.Sprintf("own%d", g), data); err != nil {
					errs <- err
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := s.Load("shared")
	if err != nil {
		t.Fatal(err)
	}
	// Whole, from one writer: all bytes equal and the length that writer used.
	g := int(got[0] - 'a')
	if len(got) != 100+g*50 || !bytes.Equal(got, bytes.Repeat(got[:1], len(got))) {
		t.Fatalf("torn state: %d bytes starting %q", len(got), got[:1])
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("leftover %s", e.Name())
		}
	}
}

// TestSetAside: a corrupt state file is renamed, never deleted, its bytes kept; a second one gets
// its own name; no file is not an error.
func TestSetAside(t *testing.T) {
	s := New(t.TempDir())
	if aside, err := s.SetAside("none"); err != nil || aside != "" {
		t.Fatalf("SetAside without a file = %q, %v", aside, err)
	}
	var asides []string
	for i, data := range [][]byte{{0xc1, 0xff}, {}} {
		if err := os.WriteFile(s.Path("src"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		aside, err := s.SetAside("src")
		if err != nil || !strings.HasPrefix(aside, s.Path("src")+".corrupt-") {
			t.Fatalf("SetAside %d = %q, %v", i, aside, err)
		}
		if got, err := os.ReadFile(aside); err != nil || !bytes.Equal(got, data) {
			t.Errorf("set-aside file %s holds %x, %v; want %x", aside, got, err, data)
		}
		if got, err := s.Load("src"); err != nil || got != nil {
			t.Errorf("Load after SetAside = %x, %v; want no state", got, err)
		}
		asides = append(asides, aside)
	}
	if asides[0] == asides[1] {
		t.Errorf("two set-aside files share the name %s", asides[0])
	}
}

// TestSaveInPlace: a state of the same size as the file (and at most InPlaceMax bytes) is written
// over the file itself; another size, a larger state or another mode replaces the file.
func TestSaveInPlace(t *testing.T) {
	s := New(t.TempDir())
	p := s.Path("k")
	inode := func() os.FileInfo {
		t.Helper()
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	big := bytes.Repeat([]byte{'x'}, InPlaceMax+1)
	steps := []struct {
		data    []byte
		inPlace bool
		chmod   os.FileMode
	}{
		{data: []byte{0x91, 0x05}},
		{data: []byte{0x91, 0x06}, inPlace: true},
		{data: []byte{0x91, 0xcc, 0x80}},
		{data: []byte{0x91, 0xcc, 0x81}, inPlace: true},
		{data: []byte{0x91, 0xcc, 0x82}, chmod: 0o644}, // a file of another mode is replaced (mode 0600 again)
		{data: big},
		{data: big}, // too large to be overwritten in place
		{data: bytes.Repeat([]byte{'y'}, InPlaceMax)},
		{data: bytes.Repeat([]byte{'z'}, InPlaceMax), inPlace: true},
	}
	var prev os.FileInfo
	for i, st := range steps {
		if st.chmod != 0 {
			os.Chmod(p, st.chmod)
		}
		if err := s.Save("k", st.data); err != nil {
			t.Fatal(err)
		}
		got, err := s.Load("k")
		if err != nil || !bytes.Equal(got, st.data) {
			t.Fatalf("step %d: loaded %q, %v", i, got, err)
		}
		now := inode()
		if prev != nil && os.SameFile(prev, now) != st.inPlace {
			t.Errorf("step %d: same file = %v, want %v", i, os.SameFile(prev, now), st.inPlace)
		}
		if now.Mode().Perm() != 0o600 {
			t.Errorf("step %d: mode %v", i, now.Mode().Perm())
		}
		prev = now
	}
}

// BenchmarkSave: one save of a 9-byte state (the random source's at 10^6 messages) by each way. The
// directory is under the package (the disk the runtime's state goes to), not the temporary
// directory, which may be in memory.
func BenchmarkSave(b *testing.B) {
	dir, err := os.MkdirTemp(".", "bench-state-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	data := []byte{0x91, 0xce, 0x00, 0x0f, 0x42, 0x40, 0, 0, 0}
	path := filepath.Join(dir, "source_b.state")
	b.Run("replace", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			data[8] = byte(i)
			if err := replace(path, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("in_place", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			data[8] = byte(i)
			if done, err := overwrite(path, data); !done || err != nil {
				b.Fatal(done, err)
			}
		}
	})
}

// TestLoadDuringInPlaceSaves: while one Store keeps overwriting a state in place, Loads through
// another Store (as another runtime sharing state.path would) always return one whole state.
func TestLoadDuringInPlaceSaves(t *testing.T) {
	dir := t.TempDir()
	writer, reader := New(dir), New(dir)
	states := [][]byte{bytes.Repeat([]byte{'a'}, InPlaceMax), bytes.Repeat([]byte{'b'}, InPlaceMax)}
	if err := writer.Save("k", states[0]); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if done2, err := overwrite(writer.Path("k"), states[i%2]); !done2 || err != nil {
				done <- fmt.Errorf("overwrite: %v %v", done2, err)
				return
			}
		}
	}()
	for i := 0; i < 2000; i++ {
		got, err := reader.Load("k")
		if err != nil || !bytes.Equal(got, states[0]) && !bytes.Equal(got, states[1]) {
			close(stop)
			t.Fatalf("load %d: %d bytes, %v: not one whole state", i, len(got), err)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
