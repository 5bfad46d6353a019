package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Mapping kinds of MapSummary, in report order. Go heap arenas are further split per Go runtime:
// every Go runtime in the process (the runtime's own and one per in-process Go plugin) reserves its
// arenas in 64 MB steps from its own base address, below the area where the kernel places shared
// libraries and other mmaps (since Go 1.26 that base is randomised), so the heaps are told apart by
// the terabyte their addresses fall in and numbered "go heap 1", "go heap 2", ... in address order
// (stable for one process; which number is the runtime's own is not known from the maps).
const (
	KindMallocMain  = "malloc [heap]"    // glibc's main arena (brk)
	KindMallocArena = "malloc arenas"    // glibc's per-thread arenas (64 MB-aligned anonymous heaps)
	KindStacks      = "thread stacks"    // pthread stacks (anonymous, below a guard page) and [stack]
	KindAnon        = "other anonymous"  // Go runtime metadata, large mmap'ed malloc chunks, ...
	KindFiles       = "file mappings"    // executables, shared libraries, other files
	KindGoHeap      = "go heap"          // prefix of "go heap N"
	glibcHeapMax    = 64 << 20           // HEAP_MAX_SIZE on 64-bit glibc: arenas are aligned to it
	goHeapLow       = uint64(1) << 32    // Go arena hints start at 0xc0<<32; the executable and brk lie below 4 GB
	goHeapHigh      = uint64(0x7e) << 40 // the kernel's top-down mmap area starts near 0x7fxx_xxxx_xxxx
	pthreadStackMin = 1 << 20            // anonymous mappings above a guard page at least this big are stacks
	pthreadGuardMax = 64 << 10           // glibc's guard: a page by default (the Go runtimes' reserves are larger)
	smapsKB         = 1024               //
)

// Mapping is one entry of /proc/<pid>/smaps.
type Mapping struct {
	Start, End uint64
	Perms      string // "rw-p"
	Path       string // "" for anonymous mappings, "[heap]", "[stack]", a file
	RSS        uint64 // bytes
	Private    uint64 // Private_Clean + Private_Dirty, bytes
}

// ParseSmaps parses the text of /proc/<pid>/smaps.
func ParseSmaps(r io.Reader) ([]Mapping, error) {
	var out []Mapping
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if k, ok := strings.CutSuffix(f[0], ":"); ok && !strings.Contains(f[0], "-") {
			if len(out) == 0 {
				return nil, fmt.Errorf("smaps: %q before the first mapping", line)
			}
			m := &out[len(out)-1]
			if len(f) < 2 {
				continue
			}
			switch k {
			case "Rss", "Private_Clean", "Private_Dirty":
				n, err := strconv.ParseUint(f[1], 10, 64)
				if err != nil {
					return nil, fmt.Errorf("smaps: %q: %w", line, err)
				}
				if k == "Rss" {
					m.RSS = n * smapsKB
				} else {
					m.Private += n * smapsKB
				}
			}
			continue
		}
		// A header: start-end perms offset dev inode [path]
		if len(f) < 5 {
			return nil, fmt.Errorf("smaps: bad mapping line %q", line)
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			return nil, fmt.Errorf("smaps: bad address range in %q", line)
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("smaps: bad address range in %q", line)
		}
		m := Mapping{Start: start, End: end, Perms: f[1]}
		if len(f) > 5 {
			m.Path = strings.Join(f[5:], " ")
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// ReadSmaps reads and parses /proc/<pid>/smaps.
func ReadSmaps(pid int) ([]Mapping, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return nil, err
	}
	return ParseSmaps(bytes.NewReader(b))
}

// Classify names the kind of every mapping (see the Kind constants), by address and layout: glibc
// arenas are anonymous heaps aligned to 64 MB (their unused reserve follows as a PROT_NONE mapping),
// pthread stacks sit right above a PROT_NONE guard page, Go heap arenas lie below the kernel's mmap
// area (see the Kind constants). The rest of the anonymous memory (the Go runtimes' own structures:
// span and page metadata, GC work buffers; malloc's large chunks) is "other anonymous". A heuristic:
// a Go structure that happens to be 64 MB-aligned counts as a malloc arena.
func Classify(maps []Mapping) []string {
	kinds := make([]string, len(maps))
	for i, m := range maps {
		switch {
		case m.Path == "[heap]":
			kinds[i] = KindMallocMain
		case m.Path == "[stack]":
			kinds[i] = KindStacks
		case m.Path != "" && !strings.HasPrefix(m.Path, "["):
			kinds[i] = KindFiles
		case m.Path != "": // [vdso], [vvar], [anon:...]
			kinds[i] = KindAnon
		case m.Start >= goHeapLow && m.Start < goHeapHigh:
			kinds[i] = goHeapKind(maps, m.Start)
		case m.Start%glibcHeapMax == 0 && m.End-m.Start <= glibcHeapMax && arenaTail(maps, i):
			kinds[i] = KindMallocArena
		case i > 0 && maps[i-1].End == m.Start && maps[i-1].Perms == "---p" && maps[i-1].Path == "" &&
			maps[i-1].End-maps[i-1].Start <= pthreadGuardMax && m.End-m.Start >= pthreadStackMin && m.Perms == "rw-p":
			kinds[i] = KindStacks
		default:
			kinds[i] = KindAnon
		}
	}
	return kinds
}

// goHeapKind numbers the terabyte of addr among the terabytes of maps that hold Go heap arenas.
func goHeapKind(maps []Mapping, addr uint64) string {
	n, last := 0, uint64(0)
	for _, m := range maps { // sorted by address
		if m.Path != "" || m.Start < goHeapLow || m.Start >= goHeapHigh {
			continue
		}
		if tb := m.Start >> 40; n == 0 || tb != last {
			n, last = n+1, tb
		}
		if m.Start>>40 == addr>>40 {
			break
		}
	}
	return fmt.Sprintf("%s %d", KindGoHeap, n)
}

// arenaTail reports whether maps[i] is followed by the PROT_NONE rest of its 64 MB reservation (or
// fills it).
func arenaTail(maps []Mapping, i int) bool {
	m := maps[i]
	if m.End-m.Start == glibcHeapMax {
		return true
	}
	if i+1 >= len(maps) {
		return false
	}
	n := maps[i+1]
	return n.Start == m.End && n.Perms == "---p" && n.Path == "" && n.End-m.Start == glibcHeapMax
}

// KindRSS is the resident memory of one mapping kind.
type KindRSS struct {
	Kind     string `json:"kind"`
	RSS      uint64 `json:"rss"`
	Mappings int    `json:"mappings"`
}

// MapSummary sums RSS per mapping kind, in report order (malloc, Go heaps, stacks, anonymous,
// files). With heaps (the process's Go runtimes, GoStatsReader), a Go heap whose terabyte holds a
// runtime's current arena is named after that runtime's executable or library ("go heap
// libiggy_connector_random_source.so") instead of numbered.
func MapSummary(maps []Mapping, heaps ...GoHeapStats) []KindRSS {
	kinds := Classify(maps)
	for i, m := range maps {
		if !strings.HasPrefix(kinds[i], KindGoHeap+" ") {
			continue
		}
		for _, h := range heaps {
			if h.Arena != 0 && h.Arena>>40 == m.Start>>40 {
				kinds[i] = KindGoHeap + " " + h.Object
			}
		}
	}
	sum := map[string]*KindRSS{}
	for i, m := range maps {
		k := sum[kinds[i]]
		if k == nil {
			k = &KindRSS{Kind: kinds[i]}
			sum[kinds[i]] = k
		}
		k.RSS += m.RSS
		k.Mappings++
	}
	out := make([]KindRSS, 0, len(sum))
	for _, k := range sum {
		out = append(out, *k)
	}
	slices.SortFunc(out, func(a, b KindRSS) int {
		if d := kindOrder(a.Kind) - kindOrder(b.Kind); d != 0 {
			return d
		}
		return strings.Compare(a.Kind, b.Kind)
	})
	return out
}

func kindOrder(k string) int {
	if n, ok := strings.CutPrefix(k, KindGoHeap+" "); ok {
		i, _ := strconv.Atoi(n) // named heaps: 0, ordered by name
		return 10 + i
	}
	return map[string]int{KindMallocMain: 0, KindMallocArena: 1, KindStacks: 200, KindAnon: 201, KindFiles: 202}[k]
}
