package bench

import (
	"bufio"
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// GoHeapStats is the heap state of one Go runtime inside a process: the executable's own or that of
// a Go c-shared library (an in-process Go plugin carries its own runtime and heap). Sizes in bytes.
type GoHeapStats struct {
	Object       string `json:"object"`        // base name of the executable or library
	NumGC        uint32 `json:"num_gc"`        // completed collections
	HeapLive     uint64 `json:"heap_live"`     // bytes in live spans, as the GC pacer counts them
	HeapMarked   uint64 `json:"heap_marked"`   // live heap at the end of the last collection
	HeapInUse    uint64 `json:"heap_in_use"`   // in-use spans
	HeapFree     uint64 `json:"heap_free"`     // free spans not yet returned to the OS
	HeapReleased uint64 `json:"heap_released"` // free spans returned to the OS
	TotalAlloc   uint64 `json:"total_alloc"`   // allocated since the start
	Arena        uint64 `json:"arena"`         // an address in the heap arena it grows now (mheap_.curArena.base)
}

// goStatsField locates one field: a member of a runtime variable's struct type.
type goStatsField struct {
	name, variable, typ, member string
	size                        int
}

var goStatsFields = []goStatsField{
	{"numgc", "runtime.memstats", "runtime.mstats", "numgc", 4},
	{"heapLive", "runtime.gcController", "runtime.gcControllerState", "heapLive", 8},
	{"heapMarked", "runtime.gcController", "runtime.gcControllerState", "heapMarked", 8},
	{"heapInUse", "runtime.gcController", "runtime.gcControllerState", "heapInUse", 8},
	{"heapFree", "runtime.gcController", "runtime.gcControllerState", "heapFree", 8},
	{"heapReleased", "runtime.gcController", "runtime.gcControllerState", "heapReleased", 8},
	{"totalAlloc", "runtime.gcController", "runtime.gcControllerState", "totalAlloc", 8},
	{"curArena", "runtime.mheap_", "runtime.mheap", "curArena", 8}, // its first word, base
}

// goObject is a Go executable or library mapped into the process: where each field lives in it.
type goObject struct {
	path  string
	addrs []uint64 // per goStatsFields, relative to the load bias
}

// GoStatsReader reads the Go runtimes' heap statistics of a running process from its memory
// (/proc/<pid>/mem: the caller must be allowed to trace the process, as its parent is), using the
// symbol table and DWARF of every mapped executable and library that holds a Go runtime. It works
// for unstripped binaries built by the same Go release family whose runtime has those fields (Go
// 1.21 and later); an object without them is skipped. Not safe for concurrent use.
type GoStatsReader struct {
	pid     int
	objects map[string]*goObject // by path; nil entry: not a Go object (or unreadable)
}

// NewGoStatsReader prepares a reader for process pid.
func NewGoStatsReader(pid int) *GoStatsReader {
	return &GoStatsReader{pid: pid, objects: map[string]*goObject{}}
}

// Read returns the statistics of every Go runtime mapped now, the executable first, libraries in
// mapping order. The values are read while the process runs, so fields of one runtime may be a few
// microseconds apart.
func (r *GoStatsReader) Read() ([]GoHeapStats, error) {
	biases, order, err := loadBiases(r.pid)
	if err != nil {
		return nil, err
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", r.pid))
	if err != nil {
		return nil, err
	}
	defer mem.Close()
	var out []GoHeapStats
	for _, path := range order {
		o, seen := r.objects[path]
		if !seen {
			o, _ = openGoObject(path) // not Go, stripped, or an older runtime: skipped
			r.objects[path] = o
		}
		if o == nil {
			continue
		}
		s := GoHeapStats{Object: filepath.Base(path)}
		vals := make([]uint64, len(goStatsFields))
		for i, f := range goStatsFields {
			b := make([]byte, f.size)
			if _, err := mem.ReadAt(b, int64(biases[path]+o.addrs[i])); err != nil {
				return nil, fmt.Errorf("%s: read %s: %w", path, f.name, err)
			}
			if f.size == 4 {
				vals[i] = uint64(binary.LittleEndian.Uint32(b))
			} else {
				vals[i] = binary.LittleEndian.Uint64(b)
			}
		}
		s.NumGC = uint32(vals[0])
		s.HeapLive, s.HeapMarked, s.HeapInUse, s.HeapFree, s.HeapReleased, s.TotalAlloc = vals[1], vals[2], vals[3], vals[4], vals[5], vals[6]
		s.Arena = vals[7]
		out = append(out, s)
	}
	return out, nil
}

// loadBiases reads /proc/<pid>/maps: for every mapped file, the address its offset 0 is mapped at
// (openGoObject's addresses are relative to it, for position-independent libraries and fixed
// executables alike), and the files in mapping order.
func loadBiases(pid int) (map[string]uint64, []string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	bases := map[string]uint64{}
	var order []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || !strings.HasPrefix(fields[5], "/") || fields[2] != "00000000" {
			continue
		}
		if _, ok := bases[fields[5]]; ok {
			continue
		}
		lo, _, _ := strings.Cut(fields[0], "-")
		start, err := strconv.ParseUint(lo, 16, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("/proc/%d/maps: %q: %w", pid, sc.Text(), err)
		}
		bases[fields[5]] = start
		order = append(order, fields[5])
	}
	return bases, order, sc.Err()
}

// openGoObject finds the fields' addresses in an ELF file, relative to the address its offset 0 is
// mapped at.
func openGoObject(path string) (*goObject, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return nil, err
	}
	vars := map[string]uint64{}
	for _, s := range syms {
		if s.Name == "runtime.memstats" || s.Name == "runtime.gcController" || s.Name == "runtime.mheap_" {
			vars[s.Name] = s.Value
		}
	}
	if len(vars) != 3 {
		return nil, errors.New("no Go runtime symbols")
	}
	// The segment that maps file offset 0: its virtual address is what offset 0 maps to.
	var base uint64
	found := false
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Off == 0 {
			base, found = p.Vaddr, true
			break
		}
	}
	if !found {
		return nil, errors.New("no PT_LOAD segment at offset 0")
	}
	offs, err := memberOffsets(f)
	if err != nil {
		return nil, err
	}
	o := &goObject{path: path}
	for _, fd := range goStatsFields {
		off, ok := offs[fd.typ+"."+fd.member]
		if !ok {
			return nil, fmt.Errorf("no member %s.%s", fd.typ, fd.member)
		}
		o.addrs = append(o.addrs, vars[fd.variable]-base+off)
	}
	return o, nil
}

// memberOffsets reads the offsets of goStatsFields' members from the DWARF of f.
func memberOffsets(f *elf.File) (map[string]uint64, error) {
	d, err := f.DWARF()
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, fd := range goStatsFields {
		want[fd.typ] = true
	}
	out := map[string]uint64{}
	rd := d.Reader()
	for len(want) > 0 {
		e, err := rd.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			break
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		if e.Tag != dwarf.TagStructType || !want[name] || !e.Children {
			continue
		}
		delete(want, name)
		for {
			m, err := rd.Next()
			if err != nil {
				return nil, err
			}
			if m == nil || m.Tag == 0 {
				break
			}
			if m.Tag != dwarf.TagMember {
				rd.SkipChildren()
				continue
			}
			mn, _ := m.Val(dwarf.AttrName).(string)
			if loc, ok := m.Val(dwarf.AttrDataMemberLoc).(int64); ok {
				out[name+"."+mn] = uint64(loc)
			}
		}
	}
	if len(want) > 0 {
		return nil, fmt.Errorf("DWARF lacks %v", want)
	}
	return out, nil
}
