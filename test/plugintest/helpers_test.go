// Package plugintest holds the end-to-end tests of the plugin boundary: real plugins in Go, C and Rust
// loaded into this process (in_process) or run by the real iggy-connectors binary (process), with
// exact content checks, a concurrent soak test, failure isolation tests and the round-trip benchmarks.
package plugintest

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/runtime/plugin"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pluginbuild.Cleanup()
	os.Exit(code)
}

func goStdout(tb testing.TB) string {
	return pluginbuild.GoPlugin(tb, "connectors/sinks/stdout", "iggy_connector_stdout_sink")
}
func goRandom(tb testing.TB) string {
	return pluginbuild.GoPlugin(tb, "connectors/sources/random", "iggy_connector_random_source")
}
func goDiscard(tb testing.TB) string {
	return pluginbuild.GoPlugin(tb, "test/plugins/discard", "iggy_connector_discard_sink")
}
func goSeq(tb testing.TB) string {
	return pluginbuild.GoPlugin(tb, "test/plugins/seq", "iggy_connector_seq_source")
}
func goFaulty(tb testing.TB) string {
	return pluginbuild.GoPlugin(tb, "test/plugins/faulty", "iggy_connector_faulty_sink")
}
func cFileSink(tb testing.TB) string { return pluginbuild.Prebuilt(tb, "iggy_connector_c_file_sink") }
func rustCounter(tb testing.TB) string {
	return pluginbuild.PrebuiltRust(tb, "iggy_connector_counter_source")
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func open(tb testing.TB, path string, opts plugin.Options) *plugin.Library {
	tb.Helper()
	if opts.Logger == nil {
		opts.Logger = discard()
	}
	lib, err := plugin.Open(path, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return lib
}

// patternBatch builds n messages from offset first whose payloads follow the discard sink's
// verification pattern (8-byte little-endian offset, then byte(offset+i)).
func patternBatch(first uint64, n, size int) *abi.SinkBatch {
	b := &abi.SinkBatch{Stream: "soak", Topic: "t", PartitionID: 1, CurrentOffset: first + uint64(n) - 1, Schema: abi.SchemaRaw,
		Messages: make([]abi.Message, n)}
	for i := range b.Messages {
		off := first + uint64(i)
		p := make([]byte, max(size, 8))
		binary.LittleEndian.PutUint64(p, off)
		for j := 8; j < len(p); j++ {
			p[j] = byte(off + uint64(j))
		}
		b.Messages[i] = abi.Message{ID: abi.IDFromUint64s(1, off), Offset: off, Checksum: off * 31, Timestamp: 1_700_000_000_000_000 + off,
			OriginTimestamp: 1_700_000_000_000_000, Payload: p,
			Headers: []abi.Header{abi.StringHeader("n", strconv.FormatUint(off, 10))}}
	}
	return b
}

// fileLines renders what the C file sink writes for a batch.
func fileLines(b *abi.SinkBatch) string {
	var s string
	for _, m := range b.Messages {
		s += fmt.Sprintf("%d\t%s\n", m.Offset, hex.EncodeToString(m.Payload))
	}
	return s
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// zeroCostRecord is what the random source's zero_cost generator produces for payload_size n.
func zeroCostRecord(n int) string {
	t := make([]byte, n)
	for i := range t {
		t[i] = alnum[i%len(alnum)]
	}
	return `{"id":"00000000-0000-0000-0000-000000000000","title":"Hello","name":"World","text":"` + string(t) + `"}`
}

// checkSeq verifies that a seq-source batch continues at *next.
func checkSeq(r *abi.PollResult, next *uint64) error {
	if r.Schema != abi.SchemaRaw || len(r.State) == 0 {
		return fmt.Errorf("seq batch %d: schema %q, %d state bytes", r.BatchID, r.Schema, len(r.State))
	}
	for _, m := range r.Messages {
		k := *next
		if m.ID == nil || *m.ID != abi.IDFromUint64s(0, k) || len(m.Payload) < 8 || binary.LittleEndian.Uint64(m.Payload) != k ||
			string(m.Key) != "k"+strconv.FormatUint(k, 10) {
			return fmt.Errorf("seq message %d: id %v key %q payload %x", k, m.ID, m.Key, m.Payload)
		}
		for j := 8; j < len(m.Payload); j++ {
			if m.Payload[j] != byte(k+uint64(j)) {
				return fmt.Errorf("seq message %d: payload byte %d is %#x", k, j, m.Payload[j])
			}
		}
		*next++
	}
	return nil
}

// logCounter counts log records by connector and message.
type logCounter struct {
	mu     sync.Mutex
	counts map[string]int
	attrs  []slog.Attr
	root   *logCounter
}

func newLogCounter() *logCounter { c := &logCounter{counts: map[string]int{}}; c.root = c; return c }

func (c *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCounter) Handle(_ context.Context, r slog.Record) error {
	conn := ""
	for _, a := range c.attrs {
		if a.Key == "connector" {
			conn = a.Value.String()
		}
	}
	c.root.mu.Lock()
	c.root.counts[conn+"|"+r.Message]++
	c.root.mu.Unlock()
	return nil
}
func (c *logCounter) WithAttrs(as []slog.Attr) slog.Handler {
	return &logCounter{attrs: append(append([]slog.Attr(nil), c.attrs...), as...), root: c.root}
}
func (c *logCounter) WithGroup(string) slog.Handler { return c }
func (c *logCounter) count(connector, msg string) int {
	c.root.mu.Lock()
	defer c.root.mu.Unlock()
	return c.root.counts[connector+"|"+msg]
}
