package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iggy-go/connectors/abi"
)

type backend interface {
	// call makes one call of the instance; a non-nil error is a *CallError of the transport.
	call(ctx context.Context, o op, arg uint64, in1, in2 []byte) (abi.Status, []byte, error)
	// generation changes whenever the plugin side of the instance was re-created (process restart).
	generation() uint64
	drainIdle()
	shutdown()
}

// inst is what sink and source instances share: identity, the call lock and the backend.
type inst struct {
	lib *Library
	key string
	id  uint32
	log *slog.Logger

	mu       sync.Mutex // serialises calls (ABI rule)
	be       backend
	closed   bool
	stop     chan struct{}
	restarts atomic.Uint64
}

// Restarts counts restarts of this instance's plugin process (TransportProcess; always 0 in
// process). Library.Restarts sums all instances of the library.
func (i *inst) Restarts() uint64 { return i.restarts.Load() }

// ID is the instance id inside the library.
func (i *inst) ID() uint32 { return i.id }

// Key is the connector key the instance was opened for.
func (i *inst) Key() string { return i.key }

// Library is the instance's library.
func (i *inst) Library() *Library { return i.lib }

func (i *inst) route(id uint32) *slog.Logger {
	if id == i.id {
		return i.log
	}
	return i.lib.log
}

func (i *inst) callError(o op, st abi.Status, rec abi.Error) *CallError {
	return &CallError{Library: i.lib.path, Op: o.String(), Connector: i.key, Instance: i.id, Status: st, Record: rec}
}

func (i *inst) transportError(o op, st abi.Status, code, msg string, err error) *CallError {
	e := i.callError(o, st, abi.Error{Code: code, Message: msg, Retryable: st == abi.StatusRetryable})
	e.Err = err
	return e
}

// do makes a call with the lock held and turns a non-OK status into a *CallError.
func (i *inst) do(ctx context.Context, o op, arg uint64, in1, in2 []byte) ([]byte, error) {
	if i.closed {
		return nil, i.transportError(o, abi.StatusPermanent, CodeTransport, "the instance is closed", errClosed)
	}
	st, out, err := i.be.call(ctx, o, arg, in1, in2)
	if err != nil {
		return nil, err
	}
	if st != abi.StatusOK {
		return nil, i.callError(o, st, errorRecord(st, out))
	}
	return out, nil
}

// close makes the close call once; the instance is closed whatever it returns.
func (i *inst) close(ctx context.Context, o op) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		return nil
	}
	_, err := i.do(ctx, o, 0, nil, nil)
	i.closed = true
	close(i.stop)
	i.be.shutdown()
	i.lib.instances.Add(-1)
	return err
}

// drainLoop drains a process instance's logs every DrainInterval while it is idle.
func (i *inst) drainLoop() {
	t := time.NewTicker(DrainInterval)
	defer t.Stop()
	for {
		select {
		case <-i.stop:
			return
		case <-t.C:
			if i.mu.TryLock() {
				if !i.closed {
					i.be.drainIdle()
				}
				i.mu.Unlock()
			}
		}
	}
}

// SinkInstance is an open sink instance. Its methods serialise themselves.
type SinkInstance struct {
	*inst
	buf []byte // reused encoding buffer (guarded by mu)
}

// Consume hands one batch to the plugin. On success the SinkResult lists the messages that were not
// written (empty: all were). An error is a *CallError: Retryable() means nothing may be assumed
// written and the same batch should be offered again after a backoff (this includes a plugin process
// that died); otherwise the failure is permanent for the whole batch (e.g. a recovered panic, code
// "panic").
func (s *SinkInstance) Consume(ctx context.Context, b *abi.SinkBatch) (abi.SinkResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = abi.AppendSinkBatch(s.buf[:0], b)
	out, err := s.do(ctx, opSinkConsume, 0, s.buf, nil)
	if cap(s.buf) > 16<<20 {
		s.buf = nil // do not pin a huge buffer after an unusually large batch
	}
	if err != nil || len(out) == 0 {
		return abi.SinkResult{}, err
	}
	var r abi.SinkResult
	if err := abi.Unmarshal(out, &r); err != nil {
		return abi.SinkResult{}, s.transportError(opSinkConsume, abi.StatusPermanent, CodeTransport, "undecodable SinkResult: "+err.Error(), err)
	}
	for _, f := range r.Failures {
		if int(f.Index) >= len(b.Messages) {
			return abi.SinkResult{}, s.transportError(opSinkConsume, abi.StatusPermanent, CodeTransport,
				fmt.Sprintf("the plugin reported a failure for message index %d of a batch of %d", f.Index, len(b.Messages)), nil)
		}
	}
	return r, nil
}

// Close flushes and closes the instance (once; later calls return nil). The instance is closed
// whatever the plugin answers; an error is informational.
func (s *SinkInstance) Close(ctx context.Context) error { return s.close(ctx, opSinkClose) }

// SourceInstance is an open source instance. Its methods serialise themselves.
//
// Batch ids: Poll returns results whose BatchID is the instance's own id for the batch (1, 2, ...),
// stable across plugin-process restarts; Commit takes those ids and forwards the matching plugin
// batch id. Commit is cumulative, as in the ABI.
type SourceInstance struct {
	*inst
	next      uint64     // last id handed out
	pending   []batchRef // polled, not yet committed (bounded)
	lastState []byte     // state of the newest committed batch (or the opening state)
	stateFunc func() ([]byte, error)
	smu       sync.Mutex // guards lastState and stateFunc for currentState
}

type batchRef struct {
	id, pluginID, gen uint64
	state             []byte
	hasState          bool
}

const maxPending = 1 << 16

// SetStateFunc overrides where the state for reopening the instance after a plugin-process restart
// comes from (default: the state of the newest batch passed to Commit, or the opening state). Use it
// when the runtime's state store is the better authority.
func (s *SourceInstance) SetStateFunc(f func() ([]byte, error)) {
	s.smu.Lock()
	s.stateFunc = f
	s.smu.Unlock()
}

func (s *SourceInstance) currentState() ([]byte, error) {
	s.smu.Lock()
	defer s.smu.Unlock()
	if s.stateFunc != nil {
		return s.stateFunc()
	}
	return s.lastState, nil
}

// Poll asks the plugin for the next batch. Payloads and state in the result are owned by the caller.
// An error is a *CallError; Retryable() means nothing was read and polling again after a backoff is
// right.
func (s *SourceInstance) Poll(ctx context.Context) (*abi.PollResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := s.do(ctx, opSourcePoll, 0, nil, nil)
	if err != nil {
		return nil, err
	}
	r, err := abi.DecodePollResult(out) // aliases out, which is ours
	if err != nil {
		return nil, s.transportError(opSourcePoll, abi.StatusPermanent, CodeTransport, "undecodable PollResult: "+err.Error(), err)
	}
	s.next++
	ref := batchRef{id: s.next, pluginID: r.BatchID, gen: s.be.generation(), state: r.State, hasState: len(r.State) > 0}
	if len(s.pending) >= maxPending {
		s.pending = s.pending[1:]
	}
	s.pending = append(s.pending, ref)
	r.BatchID = s.next
	return r, nil
}

// Commit tells the plugin that the batch with this id (from Poll) and every earlier one are durably
// in Iggy and their state is persisted. Batches polled from a plugin process that has since been
// restarted are not forwarded (that process is gone; the new one resumed from the persisted state).
func (s *SourceInstance) Commit(ctx context.Context, batchID uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	gen := s.be.generation()
	var fwd *batchRef
	n := 0
	for n < len(s.pending) && s.pending[n].id <= batchID {
		p := &s.pending[n]
		if p.hasState {
			s.smu.Lock()
			s.lastState = p.state
			s.smu.Unlock()
		}
		if p.gen == gen {
			fwd = p
		}
		n++
	}
	var pluginID uint64
	if fwd != nil {
		pluginID = fwd.pluginID
	}
	s.pending = s.pending[n:]
	if fwd == nil {
		return nil
	}
	_, err := s.do(ctx, opSourceCommit, pluginID, nil, nil)
	return err
}

// Close closes the instance; uncommitted batches are abandoned (re-read after the next open).
func (s *SourceInstance) Close(ctx context.Context) error { return s.close(ctx, opSourceClose) }
