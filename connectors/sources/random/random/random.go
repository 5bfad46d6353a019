// Package random is the random source: every interval it produces a batch of JSON records
// {"id": <uuid v4>, "title": "Hello", "name": "World", "text": <payload_size random alphanumerics>}.
// Its state, {messages_produced} as MessagePack, is persisted by the runtime with each batch and
// applied to the source's committed count when the runtime commits the batch; max_count caps the
// total across restarts.
//
// The random text costs about 1.3 ns per character (6 random bits per candidate character, see
// randomText): with the SDK's encoding, 1.5-1.8 CPU-s per million 1 KB records, where the original
// Rust source's generation (a 32-bit draw per character, a String per field, simd_json, postcard)
// takes about 5 (BenchmarkGenerate).
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
	rng       *rand.PCG
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
	s := &Source{cfg: *cfg, env: env, rng: rand.NewPCG(rand.Uint64(), rand.Uint64()),
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
	n := lo + int(s.rng.Uint64()%uint64(hi-lo+1)) // bias below 2^-43 for ranges up to 10^6
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
		msgs = s.records(n)
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

// records returns n random records. Their payloads share one allocation (a new one per batch: the
// batch is the caller's once Poll returns).
func (s *Source) records(n int) []sdk.SourceMessage {
	size := recordSize(s.cfg.PayloadSize)
	// textSlack bytes past the last record: randomText writes up to that far past the text's end.
	buf := make([]byte, n*size+textSlack)
	msgs := make([]sdk.SourceMessage, n)
	for i := range msgs {
		rec := buf[i*size : (i+1)*size : len(buf)]
		id := abi.IDFromUint64s(s.rng.Uint64(), s.rng.Uint64())
		id[6] = id[6]&0x0f | 0x40 // version 4
		id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
		text := rec[len(recordPrefix)+36+len(recordMiddle):]
		s.randomText(text[:s.cfg.PayloadSize:cap(text)])
		putRecordFrame(rec, id, s.cfg.PayloadSize) // after the text: overwrites what it wrote past its end
		msgs[i].Payload = rec
	}
	return msgs
}

// textSlack is how far past len(dst) randomText may write (within cap(dst)).
const textSlack = 10

// alnum64 maps 6 random bits to a character; values 62 and 63 are rejected by randomText.
const alnum64 = alnum + "??"

// randomText fills dst with uniformly random alphanumerics: 6 bits of randomness per candidate, 10
// candidates per 64-bit draw, rejecting the 2 of 64 values that are not one of the 62 characters
// (the original rejects the same way, with one 32-bit draw per candidate). When none of the 10 is
// rejected (73% of draws) they are written at once; otherwise each is written and the position moves
// only when it is accepted. Either way it may write up to textSlack bytes past len(dst), which
// cap(dst) must allow.
func (s *Source) randomText(dst []byte) {
	n := len(dst)
	dst = dst[:cap(dst)]
	_ = dst[n-1+textSlack]
	pos := 0
	for pos < n {
		r := s.rng.Uint64()
		if rejected(r) == 0 {
			d := dst[pos : pos+10 : pos+10]
			d[0] = alnum64[r&63]
			d[1] = alnum64[r>>6&63]
			d[2] = alnum64[r>>12&63]
			d[3] = alnum64[r>>18&63]
			d[4] = alnum64[r>>24&63]
			d[5] = alnum64[r>>30&63]
			d[6] = alnum64[r>>36&63]
			d[7] = alnum64[r>>42&63]
			d[8] = alnum64[r>>48&63]
			d[9] = alnum64[r>>54&63]
			pos += 10
			continue
		}
		for range 10 {
			v := r & 63
			r >>= 6
			dst[pos] = alnum64[v]
			if v < 62 {
				pos++
			}
		}
	}
}

// rejected has a bit set for each of the ten 6-bit fields of r (bits 0-59) whose value is 62 or 63,
// that is whose upper five bits are all set.
func rejected(r uint64) uint64 {
	m := r >> 1
	return m & (m >> 1) & (m >> 2) & (m >> 3) & (m >> 4) & 0x041041041041041
}

func fixedText(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[i%len(alnum)]
	}
	return string(b)
}

const (
	recordPrefix = `{"id":"`
	recordMiddle = `","title":"Hello","name":"World","text":"`
	recordSuffix = `"}`
)

// recordSize is the length of a record whose text has textLen bytes.
func recordSize(textLen int) int {
	return len(recordPrefix) + 36 + len(recordMiddle) + textLen + len(recordSuffix)
}

// putRecordFrame writes everything of a record but its text into rec, which is recordSize(textLen)
// long.
func putRecordFrame(rec []byte, id abi.ID, textLen int) {
	n := copy(rec, recordPrefix)
	hex.Encode(rec[n:n+8], id[0:4])
	rec[n+8] = '-'
	hex.Encode(rec[n+9:n+13], id[4:6])
	rec[n+13] = '-'
	hex.Encode(rec[n+14:n+18], id[6:8])
	rec[n+18] = '-'
	hex.Encode(rec[n+19:n+23], id[8:10])
	rec[n+23] = '-'
	hex.Encode(rec[n+24:n+36], id[10:16])
	n += 36
	n += copy(rec[n:], recordMiddle)
	copy(rec[n+textLen:], recordSuffix)
}

// Record renders one record. text is alphanumeric, so no JSON escaping is needed.
func Record(id abi.ID, text string) []byte {
	b := make([]byte, recordSize(len(text)))
	putRecordFrame(b, id, len(text))
	copy(b[len(recordPrefix)+36+len(recordMiddle):], text)
	return b
}
