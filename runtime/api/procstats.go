package api

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Process and host figures for /stats, read from /proc and the cgroup v2 files (Linux). On other
// systems, or when a file cannot be read, the figure is 0.

// clockTicks is USER_HZ, the unit of /proc CPU times: 100 on every Linux architecture Go supports
// (sysconf(_SC_CLK_TCK) needs cgo, which the runtime does not use).
const clockTicks = 100

type procSample struct {
	cpu, totalCPU           float32
	rss, totalMem, availMem uint64
}

// cpuSampler turns cumulative CPU times into usage over the interval since the previous /stats
// call (the first call: since the runtime started, resp. since boot), like sysinfo's refreshes.
type cpuSampler struct {
	mu                  sync.Mutex
	at                  time.Time
	procTicks           uint64
	hostBusy, hostTotal uint64
}

func (c *cpuSampler) sample(now, start time.Time) procSample {
	var p procSample
	procTicks, okProc := readProcTicks("/proc/self/stat")
	busy, total, okHost := readHostTicks("/proc/stat")
	c.mu.Lock()
	prevAt, prevTicks, prevBusy, prevTotal := c.at, c.procTicks, c.hostBusy, c.hostTotal
	if prevAt.IsZero() {
		prevAt = start
	}
	c.at, c.procTicks, c.hostBusy, c.hostTotal = now, procTicks, busy, total
	c.mu.Unlock()
	if wall := now.Sub(prevAt).Seconds(); okProc && wall > 0 && procTicks >= prevTicks {
		p.cpu = float32(float64(procTicks-prevTicks) / clockTicks / wall * 100)
	}
	if okHost && total > prevTotal && busy >= prevBusy {
		p.totalCPU = float32(float64(busy-prevBusy) / float64(total-prevTotal) * 100)
	}
	p.rss = readRSS("/proc/self/statm")
	p.totalMem, p.availMem = readMemInfo("/proc/meminfo")
	if limit, used, ok := cgroupMemory(); ok && (p.totalMem == 0 || limit < p.totalMem) {
		p.totalMem = limit
		avail := uint64(0)
		if used < limit {
			avail = limit - used
		}
		if p.availMem == 0 || avail < p.availMem {
			p.availMem = avail
		}
	}
	return p
}

// readProcTicks returns utime + stime of /proc/<pid>/stat.
func readProcTicks(path string) (uint64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may contain spaces and parentheses: fields are counted after the
	// last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	return ut + st, err1 == nil && err2 == nil
}

// readHostTicks returns the busy and total jiffies of the "cpu" line of /proc/stat (idle and
// iowait are not busy; guest time is already part of user).
func readHostTicks(path string) (busy, total uint64, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || fields[0] != "cpu" {
			continue
		}
		for i, v := range fields[1:] {
			if i >= 8 { // guest, guest_nice are included in user, nice
				break
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, 0, false
			}
			total += n
			if i != 3 && i != 4 { // idle, iowait
				busy += n
			}
		}
		return busy, total, true
	}
	return 0, 0, false
}

// readRSS returns the resident set size in bytes from /proc/<pid>/statm.
func readRSS(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}

// readMemInfo returns MemTotal and MemAvailable in bytes.
func readMemInfo(path string) (total, avail uint64) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "MemTotal":
			total = n * 1024
		case "MemAvailable":
			avail = n * 1024
		}
	}
	return total, avail
}

// cgroupMemory returns the memory limit and usage of this process's cgroup v2 (ok false when
// there is no limit or no cgroup v2).
func cgroupMemory() (limit, used uint64, ok bool) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, 0, false
	}
	var rel string
	for _, line := range strings.Split(string(b), "\n") {
		if p, found := strings.CutPrefix(line, "0::"); found {
			rel = p
			break
		}
	}
	if rel == "" {
		return 0, 0, false
	}
	dir := filepath.Join("/sys/fs/cgroup", filepath.Clean("/"+rel))
	max, err := os.ReadFile(filepath.Join(dir, "memory.max"))
	if err != nil {
		return 0, 0, false
	}
	limit, err = strconv.ParseUint(strings.TrimSpace(string(max)), 10, 64)
	if err != nil { // "max": no limit
		return 0, 0, false
	}
	cur, err := os.ReadFile(filepath.Join(dir, "memory.current"))
	if err == nil {
		used, _ = strconv.ParseUint(strings.TrimSpace(string(cur)), 10, 64)
	}
	return limit, used, true
}
