// Package random is the random source: every interval it produces a batch of JSON records
// {"id": <uuid v4>, "title": "Hello", "name": "World", "text": <payload_size random alphanumerics>}.
// Its state, {messages_produced} as MessagePack, is persisted by the runtime with each batch and
// applied to the source's committed count when the runtime commits the batch; max_count caps the
// total across restarts.
//
// generator = "zero_cost" produces pre-built identical records (no per-message randomness, interval
// may be 0) so that benchmarks measure the runtime, not the generator.
package random

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/sdk"
)

// Config is the source's plugin_config (spec/connectors.md §10.1, plus generator).
type Config struct {
	Interval      sdk.Duration `json:"interval" default:"\"1s\"" desc:"time between batches"`
	MaxCount      *uint64      `json:"max_count" desc:"total number of messages to produce (across restarts); absent = unlimited"`
	MessagesRange []int        `json:"messages_range" default:"[10,50]" desc:"[min, max] messages per batch, both inclusive"`
	PayloadSize   int          `json:"payload_size" default:"100" desc:"length of the random text field"`
	Generator     string       `json:"generator" default:"\"random\"" desc:"random, or zero_cost for benchmarks (identical pre-built records)"`
}

// Validate checks the config; errors name the field.
func (c *Config) Validate() error {
	if c.Interval < 0 {
		return sdk.FieldErrorf("interval", "must not be negative")
	}
	if len(c.MessagesRange) != 2 {
		return sdk.FieldErrorf("messages_range", "must be [min, max], got %d values", len(c.MessagesRange))
	}
	if c.MessagesRange[0] < 0 || c.MessagesRange[1] < c.MessagesRange[0] {
		return sdk.FieldErrorf("messages_range", "must be [min, max] with 0 <= min <= max, got %v", c.MessagesRange)
	}
	if c.MessagesRange[1] > 1_000_000 {
		return sdk.FieldErrorf("messages_range", "max must be at most 1000000, got %d", c.MessagesRange[1])
	}
	if c.PayloadSize < 0 || c.PayloadSize > 16<<20 {
		return sdk.FieldErrorf("payload_size", "must be between 0 and 16777216, got %d", c.PayloadSize)
	}
	switch c.Generator {
	case "random", "zero_cost":
	default:
		return sdk.FieldErrorf("generator", "must be \"random\" or \"zero_cost\", got %q", c.Generator)
	}
	return nil
}

// State is what the source persists: encoded with sdk.EncodeState (a MessagePack array).
type State struct {
	MessagesProduced uint64 `msgpack:"messages_produced"`
}

// Plugin declares the source for export.Register.
var Plugin = sdk.NewSource(sdk.Info{Name: "random", Version: "0.1.0",
	Description: "Generates random JSON records (demo and benchmark source)"}, New)

// Source is the random source. Calls are serialised by the runtime.
type Source struct {
	cfg       Config
	env       sdk.Env
	rng       *rand.Rand
	produced  uint64 // including batches not yet committed
	committed uint64 // as of the last commit
	last      time.Time
	fixed     []byte // zero_cost payload
	reuse     []sdk.SourceMessage
	now       func() time.Time
}

// New builds a source from its config and last persisted state.
func New(cfg *Config, state []byte, env sdk.Env) (sdk.Source, error) {
	var st State
	if err := sdk.DecodeState(state, &st); err != nil {
		// err is sdk's corrupt_state error: the runtime names the file and applies on_corrupt_state.
		return nil, sdk.Permanent(fmt.Errorf("random source state: %w", err))
	}
	s := &Source{cfg: *cfg, env: env, rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		produced: st.MessagesProduced, committed: st.MessagesProduced, now: time.Now}
	if cfg.Generator == "zero_cost" {
		s.fixed = Record(abi.ID{}, fixedText(cfg.PayloadSize))
	}
	return s, nil
}

// Open logs the starting point.
func (s *Source) Open(context.Context) error {
	s.env.Logger.Info("random source opened", "messages_produced", s.produced, "interval", s.cfg.Interval.String(),
		"generator", s.cfg.Generator)
	return nil
}

// Poll returns an empty batch (with WaitHint = the rest of the interval) until the interval has
// elapsed since the previous batch, then a batch of records whose count is drawn uniformly from
// messages_range and capped by max_count.
func (s *Source) Poll(context.Context) (sdk.Batch, error) {
	now := s.now()
	if !s.last.IsZero() {
		if wait := s.cfg.Interval.D() - now.Sub(s.last); wait > 0 {
			return sdk.Batch{Schema: abi.SchemaJSON, WaitHint: wait}, nil
		}
	}
	s.last = now
	lo, hi := s.cfg.MessagesRange[0], s.cfg.MessagesRange[1]
	n := lo + s.rng.IntN(hi-lo+1)
	if s.cfg.MaxCount != nil {
		if s.produced >= *s.cfg.MaxCount {
			return sdk.Batch{Schema: abi.SchemaJSON, WaitHint: max(s.cfg.Interval.D(), time.Second)}, nil
		}
		n = int(min(uint64(n), *s.cfg.MaxCount-s.produced))
	}
	var msgs []sdk.SourceMessage
	if s.fixed != nil {
		// zero_cost: the SDK encodes a batch before Poll returns, so one slice of identical messages
		// serves every poll.
		if cap(s.reuse) < n {
			s.reuse = make([]sdk.SourceMessage, n)
			for i := range s.reuse {
				s.reuse[i].Payload = s.fixed
			}
		}
		msgs = s.reuse[:n]
	} else {
		msgs = make([]sdk.SourceMessage, n)
		for i := range msgs {
			msgs[i].Payload = Record(s.uuid(), s.text(s.cfg.PayloadSize))
		}
	}
	s.produced += uint64(n)
	total := s.produced
	state, err := sdk.EncodeState(State{MessagesProduced: total})
	if err != nil {
		return sdk.Batch{}, sdk.Permanent(err)
	}
	return sdk.Batch{Schema: abi.SchemaJSON, Messages: msgs, State: state,
		OnCommit: func(context.Context) error {
			s.committed = total
			s.env.Logger.Debug("batch committed", "messages_produced", total)
			return nil
		}}, nil
}

// Close logs the totals.
func (s *Source) Close(context.Context) error {
	s.env.Logger.Info("random source closed", "messages_produced", s.produced, "committed", s.committed)
	return nil
}

// Committed is the number of messages produced by committed batches (for tests).
func (s *Source) Committed() uint64 { return s.committed }

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func (s *Source) text(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[s.rng.IntN(len(alnum))]
	}
	return string(b)
}

func fixedText(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[i%len(alnum)]
	}
	return string(b)
}

func (s *Source) uuid() abi.ID {
	id := abi.IDFromUint64s(s.rng.Uint64(), s.rng.Uint64())
	id[6] = id[6]&0x0f | 0x40 // version 4
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	return id
}

// Record renders one record. text is alphanumeric, so no JSON escaping is needed.
func Record(id abi.ID, text string) []byte {
	var u [36]byte
	hex.Encode(u[0:8], id[0:4])
	u[8] = '-'
	hex.Encode(u[9:13], id[4:6])
	u[13] = '-'
	hex.Encode(u[14:18], id[6:8])
	u[18] = '-'
	hex.Encode(u[19:23], id[8:10])
	u[23] = '-'
	hex.Encode(u[24:36], id[10:16])
	b := make([]byte, 0, 80+len(text))
	b = append(b, `{"id":"`...)
	b = append(b, u[:]...)
	b = append(b, `","title":"Hello","name":"World","text":"`...)
	b = append(b, text...)
	return append(b, `"}`...)
}
