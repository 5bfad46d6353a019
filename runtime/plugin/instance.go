package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iggy-go/connectors/abi"
)

type backend interface {
	// call makes one call of the instance; a non-nil error is a *CallError of the transport. out
	// may view memory of the plugin or the transport: it is valid until release, which the caller
	// must call after every call that returned no error, once it has decoded what it needs. ref is
	// the batch of opSinkConsume by reference (ABI 1.1, in-process only; nil otherwise).
	call(ctx context.Context, o op, arg uint64, in1, in2 []byte, ref *abi.SinkBatchRef) (abi.Status, []byte, error)
	release()
	// encodeBuf is where a sink batch should be encoded (empty, with capacity): the shared batch
	// region of a process child, or nil for an ordinary buffer (an encoding that outgrew the region
	// is sent inline); image asks for abi.AppendSinkBatchImage instead of the CBOR SinkBatch.
	encodeBuf() (dst []byte, image bool)
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

// do makes a call with the lock held and turns a non-OK status into a *CallError. On OK, use (when
// not nil) gets the call's output, which is valid only while use runs: use decodes or copies what it
// keeps, and its error is do's.
func (i *inst) do(ctx context.Context, o op, arg uint64, in1, in2 []byte, ref *abi.SinkBatchRef, use func(out []byte) error) error {
	if i.closed {
		return i.transportError(o, abi.StatusPermanent, CodeTransport, "the instance is closed", errClosed)
	}
	st, out, err := i.be.call(ctx, o, arg, in1, in2, ref)
	if err != nil {
		return err
	}
	defer i.be.release()
	if st != abi.StatusOK {
		return i.callError(o, st, errorRecord(st, out))
	}
	if use != nil {
		return use(out)
	}
	return nil
}

// close makes the close call once; the instance is closed whatever it returns.
func (i *inst) close(ctx context.Context, o op) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		return nil
	}
	err := i.do(ctx, o, 0, nil, nil, nil, nil)
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
	buf   []byte                  // reused encoding buffer (guarded by mu)
	refs  abi.SinkBatchRefBuilder // reused descriptors of batches by reference (guarded by mu)
	byRef bool                    // in-process plugin speaking ABI 1.1: batches by reference
}

// Consume hands one batch to the plugin. On success the SinkResult lists the messages that were not
// written (empty: all were). An error is a *CallError: Retryable() means nothing may be assumed
// written and the same batch should be offered again after a backoff (this includes a plugin process
// that died); otherwise the failure is permanent for the whole batch (e.g. a recovered panic, code
// "panic").
//
// With an in-process plugin speaking ABI 1.1 the batch is passed by reference (iggy_connector.h
// §6): the plugin reads b's payloads where they are, during the call only, so b must not change
// until Consume returns and nothing of it is retained afterwards (the descriptors keep the last
// batch's memory reachable until the next Consume or Close). Otherwise it is encoded as a CBOR
// SinkBatch (ABI 1.0 plugins; the process transport, whose child passes it on by reference itself
// when its plugin speaks 1.1).
func (s *SinkInstance) Consume(ctx context.Context, b *abi.SinkBatch) (abi.SinkResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r abi.SinkResult
	decode := func(out []byte) error {
		if len(out) == 0 {
			return nil
		}
		// Unmarshal copies every string: nothing of r aliases the plugin's buffer.
		if err := abi.Unmarshal(out, &r); err != nil {
			return s.transportError(opSinkConsume, abi.StatusPermanent, CodeTransport, "undecodable SinkResult: "+err.Error(), err)
		}
		return nil
	}
	var err error
	if s.byRef {
		ref := s.refs.Build(b)
		err = s.do(ctx, opSinkConsume, 0, nil, nil, ref, decode)
		runtime.KeepAlive(b)
	} else {
		dst, image := s.be.encodeBuf()
		encode := abi.AppendSinkBatch
		if image {
			encode = abi.AppendSinkBatchImage
		}
		if dst != nil {
			err = s.do(ctx, opSinkConsume, 0, encode(dst, b), nil, nil, decode)
		} else {
			s.buf = encode(s.buf[:0], b)
			err = s.do(ctx, opSinkConsume, 0, s.buf, nil, nil, decode)
			if cap(s.buf) > 16<<20 {
				s.buf = nil // do not pin a huge buffer after an unusually large batch
			}
		}
	}
	if err != nil {
		return abi.SinkResult{}, err
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
func (s *SinkInstance) Close(ctx context.Context) error {
	err := s.close(ctx, opSinkClose)
	s.mu.Lock()
	s.refs.Reset()
	s.mu.Unlock()
	return err
}

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

	// Slabs hold the bytes of polled messages (see ReleasePoll); guarded by slabMu, as ReleasePoll
	// runs on the caller's sending goroutine while Poll may run on another.
	slabMu   sync.Mutex
	slabOf   map[*abi.PollResult][]byte // results handed out and not yet released
	freeSlab [][]byte                   // released slabs, reused by the next polls
}

// maxFreeSlabs bounds the released slabs an instance keeps for reuse: one per batch in flight is
// enough (max_in_flight is small), more only holds memory.
const maxFreeSlabs = 4

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

// Poll asks the plugin for the next batch. Payloads and state in the result are owned by the caller;
// the messages' bytes until the caller hands them back with ReleasePoll, if it does.
// An error is a *CallError; Retryable() means nothing was read and polling again after a backoff is
// right.
func (s *SourceInstance) Poll(ctx context.Context) (*abi.PollResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r *abi.PollResult
	slab := s.takeSlab()
	err := s.do(ctx, opSourcePoll, 0, nil, nil, nil, func(out []byte) error {
		var err error
		if r, slab, err = abi.DecodePollResultInto(out, slab); err != nil {
			return s.transportError(opSourcePoll, abi.StatusPermanent, CodeTransport, "undecodable PollResult: "+err.Error(), err)
		}
		return nil
	})
	if err != nil {
		s.putSlab(slab)
		return nil, err
	}
	if len(r.Messages) == 0 {
		s.putSlab(slab)
	} else {
		s.slabMu.Lock()
		if s.slabOf == nil {
			s.slabOf = make(map[*abi.PollResult][]byte)
		}
		s.slabOf[r] = slab
		s.slabMu.Unlock()
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

// ReleasePoll hands the memory of r's messages (payloads, keys, headers) back for reuse by later
// polls: the caller promises that nothing refers to those bytes any more (the batch was sent, or
// dropped). r.State and the other fields stay valid. Calling it is optional (an unreleased result
// is garbage-collected as usual), more than once is harmless, and it may be called from any
// goroutine.
func (s *SourceInstance) ReleasePoll(r *abi.PollResult) {
	s.slabMu.Lock()
	slab, ok := s.slabOf[r]
	delete(s.slabOf, r)
	s.slabMu.Unlock()
	if ok {
		s.putSlab(slab)
	}
}

func (s *SourceInstance) takeSlab() []byte {
	s.slabMu.Lock()
	defer s.slabMu.Unlock()
	n := len(s.freeSlab)
	if n == 0 {
		return nil
	}
	slab := s.freeSlab[n-1]
	s.freeSlab[n-1] = nil
	s.freeSlab = s.freeSlab[:n-1]
	return slab
}

func (s *SourceInstance) putSlab(slab []byte) {
	if cap(slab) == 0 {
		return
	}
	s.slabMu.Lock()
	if len(s.freeSlab) < maxFreeSlabs {
		s.freeSlab = append(s.freeSlab, slab[:0])
	}
	s.slabMu.Unlock()
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
	return s.do(ctx, opSourceCommit, pluginID, nil, nil, nil, nil)
}

// Close closes the instance; uncommitted batches are abandoned (re-read after the next open).
func (s *SourceInstance) Close(ctx context.Context) error { return s.close(ctx, opSourceClose) }
