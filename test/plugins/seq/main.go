// Command seq is a test-only source plugin that produces a deterministic sequence: message k (k = 0,
// 1, 2, ... across batches and restarts) has id (0, k), key "k<k>" and a payload of payload_size bytes
// starting with k as 8 little-endian bytes followed by byte(k+i) filler. Its state is the next k
// (MessagePack); OnCommit checks that commits arrive in order. gc_every forces a garbage collection
// every N polls.
//
//	go build -buildmode=c-shared -o libiggy_connector_seq_source.so .
package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"strconv"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/sdk"
	"github.com/iggy-go/connectors/sdk/export"
)

// Config of the seq source.
type Config struct {
	BatchSize   int `json:"batch_size" default:"10" desc:"messages per batch"`
	PayloadSize int `json:"payload_size" default:"16" desc:"payload bytes (at least 8)"`
	GCEvery     int `json:"gc_every" default:"0" desc:"run runtime.GC every N polls (0 = never)"`
}

// Validate names the bad field.
func (c *Config) Validate() error {
	if c.BatchSize < 0 {
		return sdk.FieldErrorf("batch_size", "must not be negative")
	}
	if c.PayloadSize < 8 {
		return sdk.FieldErrorf("payload_size", "must be at least 8, got %d", c.PayloadSize)
	}
	return nil
}

type state struct{ Next uint64 }

type source struct {
	cfg       Config
	next      uint64
	committed uint64
	polls     int
}

func (s *source) Open(context.Context) error  { return nil }
func (s *source) Close(context.Context) error { return nil }

func (s *source) Poll(context.Context) (sdk.Batch, error) {
	s.polls++
	if s.cfg.GCEvery > 0 && s.polls%s.cfg.GCEvery == 0 {
		runtime.GC()
	}
	msgs := make([]sdk.SourceMessage, s.cfg.BatchSize)
	for i := range msgs {
		k := s.next + uint64(i)
		id := abi.IDFromUint64s(0, k)
		p := make([]byte, s.cfg.PayloadSize)
		binary.LittleEndian.PutUint64(p, k)
		for j := 8; j < len(p); j++ {
			p[j] = byte(k + uint64(j))
		}
		msgs[i] = sdk.SourceMessage{ID: &id, Payload: p, Key: []byte("k" + strconv.FormatUint(k, 10))}
	}
	start := s.next
	s.next += uint64(len(msgs))
	end := s.next
	st, err := sdk.EncodeState(state{Next: end})
	if err != nil {
		return sdk.Batch{}, err
	}
	return sdk.Batch{Schema: abi.SchemaRaw, Messages: msgs, State: st, OnCommit: func(context.Context) error {
		if start != s.committed {
			return fmt.Errorf("commit out of order: batch starts at %d, committed up to %d", start, s.committed)
		}
		s.committed = end
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
