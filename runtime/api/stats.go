package api

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/runtime/pipeline"
)

// runtimeStats is the original's ConnectorRuntimeStats (spec §9.2).
type runtimeStats struct {
	Version         string           `json:"connectors_runtime_version"`
	VersionSemver   *uint32          `json:"connectors_runtime_version_semver,omitempty"`
	ProcessID       int              `json:"process_id"`
	CPUUsage        float32          `json:"cpu_usage"`       // % of one core since the previous /stats (or since start)
	TotalCPUUsage   float32          `json:"total_cpu_usage"` // % of all cores of the host, same interval
	MemoryUsage     uint64           `json:"memory_usage"`    // resident bytes
	TotalMemory     uint64           `json:"total_memory"`    // bytes; the cgroup limit when lower
	AvailableMemory uint64           `json:"available_memory"`
	RunTime         int64            `json:"run_time"`   // µs
	StartTime       int64            `json:"start_time"` // µs since the epoch
	SourcesTotal    int              `json:"sources_total"`
	SourcesRunning  int              `json:"sources_running"`
	SinksTotal      int              `json:"sinks_total"`
	SinksRunning    int              `json:"sinks_running"`
	Connectors      []connectorStats `json:"connectors"`
	Instance        string           `json:"instance,omitempty"` // extension: config key instance
}

// connectorStats is the original's ConnectorStats; fields that do not apply to the kind are left
// out.
type connectorStats struct {
	Key               string  `json:"key"`
	Name              string  `json:"name"`
	ConnectorType     string  `json:"connector_type"`
	Version           string  `json:"version"` // the plugin's version; "unknown" when not loaded
	VersionSemver     *uint32 `json:"version_semver,omitempty"`
	Status            string  `json:"status"`
	Enabled           bool    `json:"enabled"`
	MessagesProduced  *uint64 `json:"messages_produced,omitempty"`
	MessagesSent      *uint64 `json:"messages_sent,omitempty"`
	MessagesConsumed  *uint64 `json:"messages_consumed,omitempty"`
	MessagesProcessed *uint64 `json:"messages_processed,omitempty"`
	MessagesFiltered  uint64  `json:"messages_filtered"`
	Errors            uint64  `json:"errors"`
}

// semver renders "major.minor.patch[-pre][+build]" as major·10⁶ + minor·10³ + patch (the
// original's numeric version); nil when the string is not such a version or a part exceeds 999.
func semver(v string) *uint32 {
	v = strings.TrimPrefix(v, "v")
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return nil
	}
	var n uint32
	for _, p := range parts {
		x, err := strconv.ParseUint(p, 10, 32)
		if err != nil || x > 999 {
			return nil
		}
		n = n*1000 + uint32(x)
	}
	return &n
}

func u64(v uint64) *uint64 { return &v }

// getStats: GET /stats.
func (s *Server) getStats(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	p := s.cpu.sample(now, s.opt.StartTime)
	st := runtimeStats{
		Version: s.opt.Version, VersionSemver: semver(s.opt.Version), ProcessID: os.Getpid(),
		CPUUsage: p.cpu, TotalCPUUsage: p.totalCPU, MemoryUsage: p.rss, TotalMemory: p.totalMem,
		AvailableMemory: p.availMem, RunTime: now.Sub(s.opt.StartTime).Microseconds(),
		StartTime: s.opt.StartTime.UnixMicro(), Connectors: []connectorStats{}, Instance: s.opt.Instance,
	}
	for _, c := range s.opt.Engine.Connectors() {
		cfg := c.Config()
		status, _ := c.State.Get()
		running := status == pipeline.StatusRunning
		cs := connectorStats{Key: c.Key, Name: cfg.Name, ConnectorType: string(c.Kind), Version: "unknown",
			Status: string(status), Enabled: cfg.Enabled, MessagesFiltered: c.Counters.Filtered.Load(),
			Errors: c.Counters.Errors.Load()}
		if lib := c.Library(); lib != nil {
			cs.Version = lib.Info().Version
			cs.VersionSemver = semver(cs.Version)
		}
		if c.Kind == config.KindSource {
			st.SourcesTotal++
			if running {
				st.SourcesRunning++
			}
			cs.MessagesProduced, cs.MessagesSent = u64(c.Counters.Produced.Load()), u64(c.Counters.Sent.Load())
		} else {
			st.SinksTotal++
			if running {
				st.SinksRunning++
			}
			cs.MessagesConsumed, cs.MessagesProcessed = u64(c.Counters.Consumed.Load()), u64(c.Counters.Processed.Load())
		}
		st.Connectors = append(st.Connectors, cs)
	}
	writeJSON(w, http.StatusOK, st)
}
