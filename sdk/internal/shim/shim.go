// Package shim turns the plugin ABI's calls (abi/iggy_connector.h) into calls of an sdk.Plugin's
// connectors. It is the pure-Go half of the export package: the cgo layer in sdk/export converts C
// arguments to byte slices, calls one method here and copies the returned bytes into a malloc'ed
// buffer. Keeping the logic here lets it be tested (and driven by sdktest) without cgo.
//
// Every method recovers panics (a panic becomes StatusPermanent with an Error of code "panic"
// carrying the panic value and a short stack), never returns a Go pointer to C, and returns the
// status plus the CBOR output record (nil when there is none).
package shim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/sdk"
)

// Shim serves one plugin's instances. Methods may be called concurrently; calls for one instance
// are serialised here as well (the runtime already serialises them; this is a second line of defence).
type Shim struct {
	plugin *sdk.Plugin
	logs   *sdk.LogBuffer
	ctx    context.Context // cancelled only when the library unloads (never, for c-shared libraries)

	mu        sync.Mutex
	instances map[uint32]*instance

	abiVersion uint32 // reported in PluginInfo; abi.Version unless SetABIVersion changed it
}

// SetABIVersion sets the ABI version the library reports (the export package's build for ABI 1.0
// compatibility tests sets abi.Version10). Call it before any call is served.
func (s *Shim) SetABIVersion(v uint32) { s.abiVersion = v }

type instance struct {
	mu     sync.Mutex
	closed bool
	sink   sdk.Sink
	source sdk.Source
	// sink batches of a BatchBorrower: decoded into reused memory
	borrow bool
	inbuf  []byte
	dec    abi.SinkBatchDecoder
	// source batches
	nextBatch uint64
	pending   []pendingCommit
	outbuf    []byte // reused PollResult encoding (SourcePollInto)
}

type pendingCommit struct {
	id       uint64
	onCommit func(ctx context.Context) error
}

// New returns a Shim for p whose connectors log into logs.
func New(p *sdk.Plugin, logs *sdk.LogBuffer) *Shim {
	return &Shim{plugin: p, logs: logs, ctx: context.Background(), instances: map[uint32]*instance{}}
}

// Plugin returns the served plugin.
func (s *Shim) Plugin() *sdk.Plugin { return s.plugin }

// Logs returns the library's log buffer.
func (s *Shim) Logs() *sdk.LogBuffer { return s.logs }

// Info returns the PluginInfo record.
func (s *Shim) Info() (st abi.Status, out []byte) {
	defer s.recoverInto("info", &st, &out)
	info := s.plugin.PluginInfo()
	if s.abiVersion != 0 {
		info.ABIVersion = s.abiVersion
	}
	return encode(&info)
}

// ValidateConfig checks a JSON plugin config without building anything.
func (s *Shim) ValidateConfig(cfg []byte) (st abi.Status, out []byte) {
	defer s.recoverInto("validate_config", &st, &out)
	if err := s.plugin.ValidateConfig(cfg); err != nil {
		return errorOut(err, "invalid_config", false)
	}
	return abi.StatusOK, nil
}

// DrainLogs returns the buffered log records as a LogBatch (nil when there are none).
func (s *Shim) DrainLogs() (st abi.Status, out []byte) {
	defer s.recoverInto("drain_logs", &st, &out)
	recs := s.logs.Drain()
	if len(recs) == 0 {
		return abi.StatusOK, nil
	}
	return encode(&recs)
}

// reserve registers id for an opening instance and returns it locked; the caller unlocks it.
func (s *Shim) reserve(id uint32) (*instance, abi.Status, []byte) {
	if id == 0 {
		st, out := errorRecord(abi.StatusPermanent, abi.Error{Code: abi.CodeBadInput, Message: "instance id 0 is reserved"})
		return nil, st, out
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.instances[id]; ok {
		st, out := errorRecord(abi.StatusPermanent, abi.Error{Code: abi.CodeAlreadyOpen, Message: fmt.Sprintf("instance %d is already open", id)})
		return nil, st, out
	}
	in := &instance{}
	in.mu.Lock()
	s.instances[id] = in
	return in, abi.StatusOK, nil
}

func (s *Shim) drop(id uint32) {
	s.mu.Lock()
	delete(s.instances, id)
	s.mu.Unlock()
}

// lookup returns the open instance id, locked, or the unknown-instance answer.
func (s *Shim) lookup(id uint32) (*instance, abi.Status, []byte) {
	s.mu.Lock()
	in, ok := s.instances[id]
	s.mu.Unlock()
	if ok {
		in.mu.Lock()
		if !in.closed && (in.sink != nil || in.source != nil) {
			return in, abi.StatusOK, nil
		}
		in.mu.Unlock()
	}
	st, out := errorRecord(abi.StatusUnknownInstance, abi.Error{Code: abi.CodeUnknownInstance, Message: fmt.Sprintf("instance %d is not open", id)})
	return nil, st, out
}

func (s *Shim) env(id uint32) sdk.Env {
	return sdk.Env{Instance: id, Logger: slog.New(s.logs.Handler(id))}
}

// SinkOpen builds and opens sink instance id from its JSON config.
func (s *Shim) SinkOpen(id uint32, cfg []byte) (st abi.Status, out []byte) {
	defer s.recoverInto("sink_open", &st, &out)
	in, st, out := s.reserve(id)
	if in == nil {
		return st, out
	}
	defer in.mu.Unlock()
	ok := false
	defer func() {
		if !ok {
			s.drop(id)
		}
	}()
	sink, err := s.plugin.BuildSink(cfg, s.env(id))
	if err != nil {
		return errorOut(err, abi.CodeInvalidConfig, false)
	}
	if err := sink.Open(s.ctx); err != nil {
		return errorOut(err, "open_failed", true)
	}
	_, in.borrow = sink.(sdk.BatchBorrower)
	in.sink, ok = sink, true
	return abi.StatusOK, nil
}

// SinkConsume decodes a SinkBatch, hands it to the sink and encodes its SinkResult. batch is
// borrowed: it is read during the call only (copied into fresh memory, or into the instance's reused
// buffer when the sink is an sdk.BatchBorrower).
func (s *Shim) SinkConsume(id uint32, batch []byte) (st abi.Status, out []byte) {
	defer s.recoverInto("sink_consume", &st, &out)
	in, st, out := s.sinkInstance(id)
	if in == nil {
		return st, out
	}
	defer in.mu.Unlock()
	var b *abi.SinkBatch
	var err error
	if in.borrow {
		in.inbuf = append(in.inbuf[:0], batch...)
		b, err = in.dec.Decode(in.inbuf)
	} else {
		b, err = abi.DecodeSinkBatch(bytes.Clone(batch))
	}
	if err != nil {
		return errorRecord(abi.StatusBadInput, abi.Error{Code: abi.CodeBadInput, Message: err.Error()})
	}
	return s.consume(in, b)
}

// SinkConsumeRef is SinkConsume for a batch by reference (ABI 1.1, iggy_sink_consume_ref): ref and
// everything it points to are the runtime's memory, valid during the call only. An sdk.BatchBorrower
// gets payloads and header bytes that alias that memory (nothing is copied: exactly the borrow
// contract); any other sink gets a batch in fresh memory it may keep.
func (s *Shim) SinkConsumeRef(id uint32, ref *abi.SinkBatchRef) (st abi.Status, out []byte) {
	defer s.recoverInto("sink_consume_ref", &st, &out)
	in, st, out := s.sinkInstance(id)
	if in == nil {
		return st, out
	}
	defer in.mu.Unlock()
	b, err := in.dec.DecodeRef(ref, in.borrow)
	if err != nil {
		return errorRecord(abi.StatusBadInput, abi.Error{Code: abi.CodeBadInput, Message: err.Error()})
	}
	return s.consume(in, b)
}

// sinkInstance looks up sink instance id and returns it locked (nil with the call's answer when it
// is unknown or not a sink).
func (s *Shim) sinkInstance(id uint32) (*instance, abi.Status, []byte) {
	in, st, out := s.lookup(id)
	if in == nil {
		return nil, st, out
	}
	if in.sink == nil {
		in.mu.Unlock()
		st, out := errorRecord(abi.StatusPermanent, abi.Error{Code: abi.CodeBadInput, Message: fmt.Sprintf("instance %d is a source, not a sink", id)})
		return nil, st, out
	}
	return in, abi.StatusOK, nil
}

// consume hands a decoded batch to the sink and encodes its SinkResult.
func (s *Shim) consume(in *instance, b *abi.SinkBatch) (abi.Status, []byte) {
	res, err := in.sink.Consume(s.ctx, b)
	if err != nil {
		return errorOut(err, abi.CodeWriteFailed, true)
	}
	if len(res.Failures) == 0 {
		return abi.StatusOK, nil
	}
	r := abi.SinkResult{Failures: make([]abi.MessageFailure, 0, len(res.Failures))}
	for _, f := range res.Failures {
		if f.Index < 0 || f.Index >= len(b.Messages) {
			return errorRecord(abi.StatusPermanent, abi.Error{Code: abi.CodeInternal,
				Message: fmt.Sprintf("Consume reported a failure for index %d of a batch of %d messages", f.Index, len(b.Messages))})
		}
		e := toError(f.Err, abi.CodeWriteFailed, false)
		r.Failures = append(r.Failures, abi.MessageFailure{Index: uint32(f.Index), Error: e})
	}
	return encode(&r)
}

// SinkClose closes sink instance id; the id is unknown afterwards whatever Close returns.
func (s *Shim) SinkClose(id uint32) (st abi.Status, out []byte) {
	defer s.recoverInto("sink_close", &st, &out)
	in, st, out := s.lookup(id)
	if in == nil {
		return st, out
	}
	defer in.mu.Unlock()
	in.closed = true
	s.drop(id)
	if in.sink == nil {
		return abi.StatusOK, nil
	}
	if err := in.sink.Close(s.ctx); err != nil {
		return errorOut(err, "close_failed", false)
	}
	return abi.StatusOK, nil
}

// SourceOpen builds and opens source instance id from its JSON config and last persisted state.
func (s *Shim) SourceOpen(id uint32, cfg, state []byte) (st abi.Status, out []byte) {
	defer s.recoverInto("source_open", &st, &out)
	in, st, out := s.reserve(id)
	if in == nil {
		return st, out
	}
	defer in.mu.Unlock()
	ok := false
	defer func() {
		if !ok {
			s.drop(id)
		}
	}()
	if len(state) == 0 {
		state = nil
	}
	src, err := s.plugin.BuildSource(cfg, state, s.env(id))
	if err != nil {
		return errorOut(err, abi.CodeInvalidConfig, false)
	}
	if err := src.Open(s.ctx); err != nil {
		return errorOut(err, "open_failed", true)
	}
	in.source, ok = src, true
	return abi.StatusOK, nil
}

// SourcePoll polls the source and encodes the batch as a PollResult with the next batch id. The
// batch's OnCommit is queued until SourceCommit names its id (or a later one).
func (s *Shim) SourcePoll(id uint32) (st abi.Status, out []byte) {
	st = s.SourcePollInto(id, func(b []byte) { out = bytes.Clone(b) })
	return st, out
}

// SourcePollInto is SourcePoll handing its output to emit instead of returning it: emit is called
// once, with the instance still locked, and must copy the bytes (they are reused by the next poll).
func (s *Shim) SourcePollInto(id uint32, emit func(out []byte)) abi.Status {
	st, out, in := s.sourcePoll(id)
	if in != nil {
		defer in.mu.Unlock()
	}
	emit(out)
	return st
}

func (s *Shim) sourcePoll(id uint32) (st abi.Status, out []byte, locked *instance) {
	defer s.recoverInto("source_poll", &st, &out)
	in, st, out := s.lookup(id)
	if in == nil {
		return st, out, nil
	}
	locked = in
	if in.source == nil {
		st, out = errorRecord(abi.StatusPermanent, abi.Error{Code: abi.CodeBadInput, Message: fmt.Sprintf("instance %d is a sink, not a source", id)})
		return st, out, in
	}
	b, err := in.source.Poll(s.ctx)
	if err != nil {
		st, out = errorOut(err, "read_failed", true)
		return st, out, in
	}
	in.nextBatch++
	schema := b.Schema
	if schema == "" {
		schema = abi.SchemaJSON
	}
	r := abi.PollResult{BatchID: in.nextBatch, Schema: schema, Messages: b.Messages, State: b.State}
	if len(b.Messages) == 0 && b.WaitHint > 0 {
		r.WaitHintMs = uint64((b.WaitHint + time.Millisecond - 1) / time.Millisecond)
	}
	if b.OnCommit != nil {
		in.pending = append(in.pending, pendingCommit{id: r.BatchID, onCommit: b.OnCommit})
	}
	in.outbuf = abi.AppendPollResult(in.outbuf[:0], &r)
	if cap(in.outbuf) > 16<<20 {
		defer func() { in.outbuf = nil }() // do not pin a huge buffer after an unusually large batch
	}
	return abi.StatusOK, in.outbuf, in
}

// SourceCommit runs, in batch order, the OnCommit of every queued batch whose id is <= batchID. Each
// runs at most once; errors of several are joined. A panic in one stops the rest (they stay queued).
func (s *Shim) SourceCommit(id uint32, batchID uint64) (st abi.Status, out []byte) {
	defer s.recoverInto("source_commit", &st, &out)
	in, st, out := s.lookup(id)
	if in == nil {
		return st, out
	}
	defer in.mu.Unlock()
	var errs []error
	for len(in.pending) > 0 && in.pending[0].id <= batchID {
		p := in.pending[0]
		in.pending = in.pending[1:]
		if err := p.onCommit(s.ctx); err != nil {
			errs = append(errs, fmt.Errorf("batch %d: %w", p.id, err))
		}
	}
	if len(errs) > 0 {
		return errorOut(errors.Join(errs...), "commit_failed", false)
	}
	return abi.StatusOK, nil
}

// SourceClose closes source instance id; uncommitted batches are abandoned.
func (s *Shim) SourceClose(id uint32) (st abi.Status, out []byte) {
	defer s.recoverInto("source_close", &st, &out)
	in, st, out := s.lookup(id)
	if in == nil {
		return st, out
	}
	defer in.mu.Unlock()
	in.closed = true
	in.pending = nil
	s.drop(id)
	if in.source == nil {
		return abi.StatusOK, nil
	}
	if err := in.source.Close(s.ctx); err != nil {
		return errorOut(err, "close_failed", false)
	}
	return abi.StatusOK, nil
}

// recoverInto turns a panic of op into StatusPermanent with a "panic" Error record.
func (s *Shim) recoverInto(op string, st *abi.Status, out *[]byte) {
	r := recover()
	if r == nil {
		return
	}
	msg := fmt.Sprintf("panic in %s: %v\n%s", op, r, ShortStack(debug.Stack(), 8))
	*st, *out = errorRecord(abi.StatusPermanent, abi.Error{Code: abi.CodePanic, Message: msg})
	if s != nil && s.logs != nil {
		s.logs.Append(abi.LogRecord{Level: abi.LogError, Message: "recovered " + strings.SplitN(msg, "\n", 2)[0],
			TimeUs: uint64(time.Now().UnixMicro())})
	}
}

// ShortStack keeps the frames of stack (as from debug.Stack) that follow the panic call, at most
// frames of them, as "function (file:line)" lines.
func ShortStack(stack []byte, frames int) string {
	lines := strings.Split(strings.TrimSpace(string(stack)), "\n")
	start := 1
	for i, l := range lines {
		if strings.HasPrefix(l, "panic(") {
			start = i + 2
			break
		}
	}
	var b strings.Builder
	for i := start; i+1 < len(lines) && frames > 0; i += 2 {
		fn := strings.TrimSpace(lines[i])
		if j := strings.LastIndex(fn, "("); j > 0 {
			fn = fn[:j]
		}
		loc := strings.TrimSpace(lines[i+1])
		if j := strings.LastIndex(loc, " +0x"); j > 0 {
			loc = loc[:j]
		}
		fmt.Fprintf(&b, "  %s (%s)\n", fn, loc)
		frames--
	}
	return strings.TrimRight(b.String(), "\n")
}

// toError classifies err: an *abi.Error keeps its code; a *sdk.FieldError becomes invalid_config with
// the field; otherwise code is def. Retryable follows sdk.IsRetryable(err, defRetry).
func toError(err error, def string, defRetry bool) abi.Error {
	if err == nil {
		err = errors.New("unknown error (nil)")
	}
	e := abi.Error{Code: def, Message: err.Error(), Retryable: sdk.IsRetryable(err, defRetry)}
	var fe *sdk.FieldError
	var ae *abi.Error
	switch {
	case errors.Is(err, sdk.ErrMalformedConfig):
		e.Code, e.Retryable = abi.CodeBadInput, false
	case errors.As(err, &fe):
		e.Code, e.Field, e.Retryable = abi.CodeInvalidConfig, fe.Field, false
	case errors.As(err, &ae):
		e.Code, e.Field = ae.Code, ae.Field
		if e.Code == "" {
			e.Code = def
		}
	}
	return e
}

func errorOut(err error, def string, defRetry bool) (abi.Status, []byte) {
	e := toError(err, def, defRetry)
	st := abi.StatusPermanent
	switch {
	case e.Retryable:
		st = abi.StatusRetryable
	case e.Code == abi.CodeBadInput:
		st = abi.StatusBadInput
	}
	return errorRecord(st, e)
}

func errorRecord(st abi.Status, e abi.Error) (abi.Status, []byte) {
	b, err := abi.Marshal(&e)
	if err != nil {
		return st, nil
	}
	return st, b
}

func encode(v any) (abi.Status, []byte) {
	b, err := abi.Marshal(v)
	if err != nil {
		return errorRecord(abi.StatusPermanent, abi.Error{Code: abi.CodeInternal, Message: "encode result: " + err.Error()})
	}
	return abi.StatusOK, b
}
