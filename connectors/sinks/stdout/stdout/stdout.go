// Package stdout is the stdout sink: it logs every batch it receives (count, schema, stream, topic,
// partition, current offset, invocation number) and, with print_payload, prints every message to the
// process's standard output so a demo shows the records (and logs each at debug level). It never
// fails.
package stdout

import (
	"bufio"
	"context"
	"encoding/hex"
	"io"
	"os"
	"sync"
	"unicode/utf8"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/sdk"
)

// Config is the sink's plugin_config.
type Config struct {
	// PrintPayload prints one line per message (and logs it at debug level).
	PrintPayload bool `json:"print_payload" default:"false" desc:"print every message payload to standard output"`
}

// Plugin declares the sink for export.Register.
var Plugin = sdk.NewSink(sdk.Info{Name: "stdout", Version: "0.1.0",
	Description: "Logs every batch and optionally prints each message payload to standard output"},
	func(cfg *Config, env sdk.Env) (sdk.Sink, error) { return New(cfg, env, os.Stdout), nil })

// Sink is the stdout sink. Consume is called by one goroutine at a time (the runtime serialises calls
// per instance); the writer is shared by the library's instances and guarded by a package mutex.
type Sink struct {
	cfg         Config
	env         sdk.Env
	out         io.Writer
	invocations uint64
}

var outMu sync.Mutex

// New returns a sink printing payloads to out.
func New(cfg *Config, env sdk.Env, out io.Writer) *Sink { return &Sink{cfg: *cfg, env: env, out: out} }

// BorrowsBatch marks the sink as an sdk.BatchBorrower: it keeps nothing of a batch after Consume.
func (s *Sink) BorrowsBatch() {}

// Open does nothing: there is nothing to connect to.
func (s *Sink) Open(context.Context) error {
	s.env.Logger.Info("stdout sink opened", "print_payload", s.cfg.PrintPayload)
	return nil
}

// Consume logs the batch and, with print_payload, prints every message (logging each at debug level:
// at info the records would appear twice in a demo). It always succeeds.
func (s *Sink) Consume(_ context.Context, b *sdk.SinkBatch) (sdk.Result, error) {
	s.invocations++
	s.env.Logger.Info("received messages", "count", len(b.Messages), "schema", string(b.Schema),
		"stream", b.Stream, "topic", b.Topic, "partition", b.PartitionID, "current_offset", b.CurrentOffset,
		"invocation", s.invocations)
	if !s.cfg.PrintPayload || len(b.Messages) == 0 {
		return sdk.Result{}, nil
	}
	outMu.Lock()
	defer outMu.Unlock()
	w := bufio.NewWriter(s.out)
	for i := range b.Messages {
		m := &b.Messages[i]
		p := FormatPayload(b.Schema, m.Payload)
		s.env.Logger.Debug("message", "offset", m.Offset, "payload", p)
		w.WriteString(b.Stream + "/" + b.Topic + " offset=")
		w.WriteString(uitoa(m.Offset))
		w.WriteString(" ")
		w.WriteString(p)
		w.WriteString("\n")
	}
	if err := w.Flush(); err != nil {
		s.env.Logger.Warn("cannot write to standard output", "error", err)
	}
	return sdk.Result{}, nil
}

// Close logs the number of batches received.
func (s *Sink) Close(context.Context) error {
	s.env.Logger.Info("stdout sink closed", "invocations", s.invocations)
	return nil
}

// FormatPayload renders a payload for a log line: text for json and text schemas (when valid UTF-8),
// hex otherwise.
func FormatPayload(schema abi.Schema, p []byte) string {
	if (schema == abi.SchemaJSON || schema == abi.SchemaText || schema == "") && utf8.Valid(p) {
		return string(p)
	}
	return "0x" + hex.EncodeToString(p)
}

func uitoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
