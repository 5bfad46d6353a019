// Command seq is a test-only source plugin that produces a deterministic sequence: message k (k = 0,
// 1, 2, ... across batches and restarts) has id (0, k), key "k<k>" and a payload of payload_size bytes
// starting with k as 8 little-endian bytes followed by byte(k+i) filler. Its state is the next k
// (MessagePack); OnCommit checks that commits arrive in order. gc_every forces a garbage collection
// every N polls.
//
// Options for the end-to-end tests (test/e2e), all off by default: limit stops producing after
// message limit-1 (empty polls with a wait hint afterwards); delay_ms sleeps inside every poll that
// produces; format = "json" makes payload k the JSON object
// {"k":k,"name":"msg-k","secret":"s-k"} (schema json) and format = "text" the text "msg k"
// (schema text) instead of the raw pattern; headers adds a string header "k" = "<k>" and a u64
// header "n" = k to every message; exit_after_polls calls os.Exit(3) in poll N+1 of an instance
// (to kill a process-transport child mid-stream); fail_commit_every makes the commit of every Nth
// batch of an instance return an error (after recording it as committed); with format = "json",
// bad_every = N makes every message whose k % N == N-1 invalid JSON (`{"k":k,` cut short).
//
//	go build -buildmode=c-shared -o libiggy_connector_seq_source.so .
package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/sdk"
	"github.com/iggy-go/connectors/sdk/export"
)

// Config of the seq source.
type Config struct {
	BatchSize   int `json:"batch_size" default:"10" desc:"messages per batch"`
	PayloadSize int `json:"payload_size" default:"16" desc:"payload bytes (at least 8)"`
	GCEvery     int `json:"gc_every" default:"0" desc:"run runtime.GC every N polls (0 = never)"`

	Limit           uint64 `json:"limit" default:"0" desc:"stop after this many messages in total (0 = never)"`
	DelayMs         int    `json:"delay_ms" default:"0" desc:"sleep inside every producing poll"`
	Format          string `json:"format" default:"\"raw\"" desc:"raw, json or text payloads"`
	Headers         bool   `json:"headers" default:"false" desc:"add headers k (string) and n (u64)"`
	ExitAfterPolls  int    `json:"exit_after_polls" default:"0" desc:"os.Exit(3) in poll N+1 (0 = never)"`
	FailCommitEvery int    `json:"fail_commit_every" default:"0" desc:"the commit of every Nth batch fails (0 = never)"`
	BadEvery        int    `json:"bad_every" default:"0" desc:"json: every Nth message is invalid JSON (0 = never)"`
}

// Validate names the bad field.
func (c *Config) Validate() error {
	if c.BatchSize < 0 {
		return sdk.FieldErrorf("batch_size", "must not be negative")
	}
	if c.PayloadSize < 8 {
		return sdk.FieldErrorf("payload_size", "must be at least 8, got %d", c.PayloadSize)
	}
	switch c.Format {
	case "raw", "json", "text":
	default:
		return sdk.FieldErrorf("format", "must be raw, json or text; got %q", c.Format)
	}
	if c.DelayMs < 0 || c.ExitAfterPolls < 0 || c.FailCommitEvery < 0 || c.BadEvery < 0 {
		return sdk.FieldErrorf("delay_ms", "delay_ms, exit_after_polls, fail_commit_every and bad_every must not be negative")
	}
	return nil
}

type state struct{ Next uint64 }

type source struct {
	cfg       Config
	next      uint64
	committed uint64
	polls     int
	commits   int
}

func (s *source) Open(context.Context) error  { return nil }
func (s *source) Close(context.Context) error { return nil }

func (s *source) Poll(context.Context) (sdk.Batch, error) {
	s.polls++
	if s.cfg.ExitAfterPolls > 0 && s.polls > s.cfg.ExitAfterPolls {
		os.Exit(3)
	}
	if s.cfg.GCEvery > 0 && s.polls%s.cfg.GCEvery == 0 {
		runtime.GC()
	}
	n := uint64(s.cfg.BatchSize)
	if s.cfg.Limit > 0 {
		if s.next >= s.cfg.Limit {
			return sdk.Batch{WaitHint: 50 * time.Millisecond}, nil
		}
		n = min(n, s.cfg.Limit-s.next)
	}
	if s.cfg.DelayMs > 0 {
		time.Sleep(time.Duration(s.cfg.DelayMs) * time.Millisecond)
	}
	schema := abi.SchemaRaw
	switch s.cfg.Format {
	case "json":
		schema = abi.SchemaJSON
	case "text":
		schema = abi.SchemaText
	}
	msgs := make([]sdk.SourceMessage, n)
	for i := range msgs {
		k := s.next + uint64(i)
		id := abi.IDFromUint64s(0, k)
		var p []byte
		switch s.cfg.Format {
		case "json":
			p = fmt.Appendf(nil, `{"k":%d,"name":"msg-%d","secret":"s-%d"}`, k, k, k)
			if s.cfg.BadEvery > 0 && k%uint64(s.cfg.BadEvery) == uint64(s.cfg.BadEvery-1) {
				p = fmt.Appendf(nil, `{"k":%d,`, k)
			}
		case "text":
			p = fmt.Appendf(nil, "msg %d", k)
		default:
			p = make([]byte, s.cfg.PayloadSize)
			binary.LittleEndian.PutUint64(p, k)
			for j := 8; j < len(p); j++ {
				p[j] = byte(k + uint64(j))
			}
		}
		msgs[i] = sdk.SourceMessage{ID: &id, Payload: p, Key: []byte("k" + strconv.FormatUint(k, 10))}
		if s.cfg.Headers {
			v := binary.LittleEndian.AppendUint64(nil, k)
			msgs[i].Headers = []sdk.Header{abi.StringHeader("k", strconv.FormatUint(k, 10)),
				{KeyKind: abi.HeaderString, Key: []byte("n"), ValueKind: abi.HeaderUint64, Value: v}}
		}
	}
	start := s.next
	s.next += uint64(len(msgs))
	end := s.next
	st, err := sdk.EncodeState(state{Next: end})
	if err != nil {
		return sdk.Batch{}, err
	}
	return sdk.Batch{Schema: schema, Messages: msgs, State: st, OnCommit: func(context.Context) error {
		if start != s.committed {
			return fmt.Errorf("commit out of order: batch starts at %d, committed up to %d", start, s.committed)
		}
		s.committed = end
		s.commits++
		if s.cfg.FailCommitEvery > 0 && s.commits%s.cfg.FailCommitEvery == 0 {
			return fmt.Errorf("seq source: commit %d fails on request (fail_commit_every = %d)", s.commits, s.cfg.FailCommitEvery)
		}
		return nil
	}}, nil
}

func init() {
	export.Register(sdk.NewSource(sdk.Info{Name: "seq", Version: "0.1.0", Description: "Test source producing a deterministic sequence"},
		func(cfg *Config, st []byte, _ sdk.Env) (sdk.Source, error) {
			var v state
			if err := sdk.DecodeState(st, &v); err != nil {
				return nil, sdk.Permanent(err)
			}
			return &source{cfg: *cfg, next: v.Next, committed: v.Next}, nil
		}))
}

func main() {}
