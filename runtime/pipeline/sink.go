package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/runtime/backoff"
)

// SinkStream is one stream/topic a sink reads, with its consumer and payload processor.
type SinkStream struct {
	Stream, Topic string
	Consumer      Consumer
	Processor     SinkProcessor // nil: PassthroughSink(SchemaJSON)
	BatchLength   int           // max messages per poll and per plugin call (default 1000)
	PollInterval  time.Duration // wait after an empty poll (default 5ms)
	// LingerTime > 0 keeps polling for up to this long after a poll returned fewer than BatchLength
	// messages, to hand the plugin fuller batches (messages of one partition only: a poll that
	// returns another partition ends the wait).
	LingerTime time.Duration
}

// SinkOptions configure a Sink.
type SinkOptions struct {
	Key        string // connector key, for logs and dead-letter headers
	Plugin     SinkPlugin
	Streams    []SinkStream
	OnError    OnError     // default stop
	DeadLetter *DeadLetter // required for OnErrorDeadLetter
	Retry      backoff.Policy
	// CommitTimeout bounds each offset store (default 5s); it runs detached from the stop, so the
	// store of a batch written when the stop begins completes.
	CommitTimeout time.Duration
	State         *State
	Counters      *Counters
	Observer      Observer
	Logger        *slog.Logger
	Verbose       bool // per-batch logs at info instead of debug
}

// Sink moves messages from Iggy to a sink plugin. Create with NewSink, then call Run.
type Sink struct {
	opt SinkOptions
	log *slog.Logger
}

// NewSink checks the options and fills defaults.
func NewSink(opt SinkOptions) (*Sink, error) {
	if opt.Plugin == nil {
		return nil, errors.New("pipeline: sink without plugin")
	}
	if len(opt.Streams) == 0 {
		return nil, fmt.Errorf("sink %q: no streams configured", opt.Key)
	}
	if opt.OnError == "" {
		opt.OnError = OnErrorStop
	}
	if opt.OnError == OnErrorDeadLetter && (opt.DeadLetter == nil || opt.DeadLetter.Producer == nil) {
		return nil, fmt.Errorf("sink %q: on_error = dead_letter needs a dead_letter stream and topic", opt.Key)
	}
	if opt.Retry.Initial == 0 {
		opt.Retry = backoff.Default
	}
	if opt.CommitTimeout == 0 {
		opt.CommitTimeout = 5 * time.Second
	}
	if opt.State == nil {
		opt.State = NewState(nil)
	}
	if opt.Counters == nil {
		opt.Counters = &Counters{}
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	for i := range opt.Streams {
		s := &opt.Streams[i]
		if s.Processor == nil {
			s.Processor = PassthroughSink(abi.SchemaJSON)
		}
		if s.BatchLength <= 0 {
			s.BatchLength = 1000
		}
		if s.PollInterval <= 0 {
			s.PollInterval = 5 * time.Millisecond
		}
		if s.LingerTime < 0 {
			s.LingerTime = 0
		}
	}
	return &Sink{opt: opt, log: opt.Logger.With("connector", opt.Key, "connector_type", "sink")}, nil
}

// State returns the sink's status holder.
func (s *Sink) State() *State { return s.opt.State }

// Counters returns the sink's counters.
func (s *Sink) Counters() *Counters { return s.opt.Counters }

// Run reads every stream until ctx is cancelled (returns nil) or a message fails under on_error =
// stop (returns that error; the other streams stop too). The status is running while it runs; the
// caller sets stopped/error afterwards. Messages not yet written when ctx is cancelled are not
// committed.
func (s *Sink) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.opt.State.Set(StatusRunning, true) // problems noted while starting are over
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for i := range s.opt.Streams {
		wg.Add(1)
		go func(st *SinkStream) {
			defer wg.Done()
			if err := s.runStream(ctx, st); err != nil {
				once.Do(func() { firstErr = err; cancel() })
			}
		}(&s.opt.Streams[i])
	}
	wg.Wait()
	return firstErr
}

// runStream delivers the batches of one stream in poll order. The next batch is read from Iggy
// while the current one is processed, handed to the plugin and committed (one batch ahead at most):
// Iggy's reply time overlaps with the plugin's work. A batch read ahead is delivered before anything
// after it and is never committed before it is delivered; on stop or on a fatal error it is dropped
// uncommitted (delivered again later, like any uncommitted message).
func (s *Sink) runStream(ctx context.Context, st *SinkStream) error {
	log := s.log.With("stream", st.Stream, "topic", st.Topic)
	pctx, cancel := context.WithCancel(ctx)
	batches := make(chan ConsumedBatch) // unbuffered: the poller holds at most one batch
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		s.pollStream(pctx, st, log, batches)
	}()
	// The consumer is not used after runStream returns: the poller's in-flight poll is waited for.
	defer func() { cancel(); <-polled }()
	for {
		var batch ConsumedBatch
		select {
		case <-ctx.Done():
			return nil // stopping: a batch read ahead stays uncommitted and is delivered again later
		case batch = <-batches:
		}
		if ctx.Err() != nil {
			batch.release()
			return nil
		}
		if s.revoked(ctx, st, batch.PartitionID) {
			// Polled before a rebalance gave the partition to another member: that member reads it
			// from the group's stored offset. Writing it here too would only duplicate it.
			log.Info("partition revoked by a rebalance; dropping a batch read ahead, uncommitted",
				"partition", batch.PartitionID, "messages", len(batch.Messages), "first_offset", batch.Messages[0].Offset)
			batch.release()
			continue
		}
		err := s.deliver(ctx, st, batch, log)
		// deliver returns once nothing refers to the batch any more: every plugin call, the commit
		// and any dead-lettering are done. Its reply memory can be reused.
		batch.release()
		if err != nil {
			return err
		}
	}
}

// revoked reports whether st's consumer knows that partition is no longer assigned to this member
// (consumers that do not know their assignment never report a revocation).
func (s *Sink) revoked(ctx context.Context, st *SinkStream, partition uint32) bool {
	o, ok := st.Consumer.(PartitionOwner)
	return ok && !o.Owns(ctx, partition)
}

// pollStream reads st and hands non-empty batches to runStream until ctx ends, retrying failed
// polls with backoff and lingering when LingerTime is set.
func (s *Sink) pollStream(ctx context.Context, st *SinkStream, log *slog.Logger, out chan<- ConsumedBatch) {
	pollFailures := 0
	for ctx.Err() == nil {
		// A poll is short; cutting one off on shutdown would only make the Iggy client drop and
		// re-establish its connection. Let it finish (bounded), then abandon what it returned.
		pctx, cancel := finishing(ctx, time.Second)
		batch, err := st.Consumer.Poll(pctx, st.BatchLength)
		cancel()
		if ctx.Err() != nil {
			batch.release()
			return // stopping: the batch stays uncommitted and is delivered again later
		}
		if err != nil {
			batch.release()
			pollFailures++
			s.opt.Counters.AddError(StagePoll)
			s.opt.State.Note(fmt.Errorf("poll %s/%s: %w", st.Stream, st.Topic, err))
			log.Warn("polling Iggy failed; retrying", "attempt", pollFailures, "err", err)
			if s.opt.Retry.Sleep(ctx, pollFailures) != nil {
				return
			}
			continue
		}
		pollFailures = 0
		if len(batch.Messages) == 0 {
			batch.release()
			if sleepCtx(ctx, st.PollInterval) != nil {
				return
			}
			continue
		}
		for {
			var next ConsumedBatch
			if st.LingerTime > 0 {
				// Lingering polls more than once while the previous batch may still be delivered:
				// hand over copies (a consumer's batch is valid only until its next poll but one).
				if len(batch.Messages) < st.BatchLength {
					batch, next = s.linger(ctx, st, batch)
					if ctx.Err() != nil {
						batch.release()
						next.release()
						return
					}
				} else {
					batch.Messages = slices.Clone(batch.Messages)
				}
				next.Messages = slices.Clone(next.Messages)
			}
			select {
			case out <- batch:
			case <-ctx.Done():
				batch.release()
				next.release()
				return
			}
			if len(next.Messages) == 0 {
				next.release()
				break
			}
			batch = next // another partition's messages, polled while lingering
		}
	}
}

// linger polls st for up to LingerTime to add messages of batch's partition to batch, until it
// holds BatchLength messages. It returns the grown batch and, when a poll returned messages of
// another partition, those (to be delivered next). A poll error ends the wait (the next regular
// poll reports it).
func (s *Sink) linger(ctx context.Context, st *SinkStream, batch ConsumedBatch) (ConsumedBatch, ConsumedBatch) {
	// The consumer may reuse its message slice: keep a copy.
	batch.Messages = append(make([]abi.Message, 0, st.BatchLength), batch.Messages...)
	deadline := time.Now().Add(st.LingerTime)
	for len(batch.Messages) < st.BatchLength {
		wait := time.Until(deadline)
		if wait <= 0 {
			break
		}
		if sleepCtx(ctx, min(wait, st.PollInterval)) != nil {
			break
		}
		more, err := st.Consumer.Poll(ctx, st.BatchLength-len(batch.Messages))
		if err != nil || ctx.Err() != nil {
			more.release()
			break
		}
		if len(more.Messages) == 0 {
			more.release()
			continue
		}
		if more.PartitionID != batch.PartitionID {
			return batch, more
		}
		batch.Messages = append(batch.Messages, more.Messages...)
		batch.CurrentOffset = more.CurrentOffset
		batch.Release = joinReleases(batch.Release, more.Release) // the grown batch holds both polls' memory
	}
	return batch, ConsumedBatch{}
}

// joinReleases returns a Release that runs a and b (either may be nil).
func joinReleases(a, b func()) func() {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return func() { a(); b() }
}

// batchProgress tracks which messages of a consumed batch are resolved (written, filtered, skipped or
// dead-lettered) and commits the resolved prefix.
type batchProgress struct {
	batch     ConsumedBatch
	resolved  []bool
	committed int // messages [0, committed) are committed
}

func (p *batchProgress) prefix() int {
	n := p.committed
	for n < len(p.resolved) && p.resolved[n] {
		n++
	}
	return n
}

// deliver processes one consumed batch to the end: every message is resolved, or the sink stops
// (on_error = stop, returned as error), or ctx is cancelled (returns nil after committing the
// resolved prefix).
func (s *Sink) deliver(ctx context.Context, st *SinkStream, batch ConsumedBatch, log *slog.Logger) error {
	start := time.Now()
	n := len(batch.Messages)
	s.opt.Counters.Consumed.Add(uint64(n))
	s.opt.Counters.InFlight.Add(1)
	defer s.opt.Counters.InFlight.Add(-1)
	prog := &batchProgress{batch: batch, resolved: make([]bool, n)}
	meta := Meta{Stream: st.Stream, Topic: st.Topic}

	// Keep the original payloads for dead-lettering: Process rewrites payloads in place.
	var originals [][]byte
	if s.opt.OnError == OnErrorDeadLetter {
		originals = make([][]byte, n)
		for i := range batch.Messages {
			originals[i] = batch.Messages[i].Payload
		}
	}

	// Decode and transform. A permanent failure under on_error = stop ends the batch there: the
	// messages before it are still delivered and committed.
	pending := make([]int, 0, n)
	var stopErr error
prepare:
	for i := range batch.Messages {
		keep, err := st.Processor.Process(meta, &batch.Messages[i])
		switch {
		case err != nil:
			stage, cause := stageOf(err)
			s.opt.Counters.AddError(stage)
			ferr := s.messageError(st, batch.PartitionID, batch.Messages[i].Offset, stage, cause)
			if stopErr = s.resolveFailure(ctx, st, prog, i, originals, stage, ferr, log); stopErr != nil {
				break prepare
			}
		case !keep:
			s.opt.Counters.Filtered.Add(1)
			prog.resolved[i] = true
		default:
			pending = append(pending, i)
		}
	}
	if s.opt.Observer != nil {
		s.opt.Observer.ObserveStage("prepare", time.Since(start))
	}
	if err := s.write(ctx, st, prog, pending, originals, log); err != nil {
		return err
	}
	s.commit(ctx, st, prog, log)
	if stopErr == nil && prog.committed < n && ctx.Err() == nil {
		// Only possible if the commit itself failed; the uncommitted tail is re-read after a restart or
		// rebalance (at-least-once).
		log.Warn("batch not fully committed", "partition", batch.PartitionID, "committed", prog.committed, "messages", n)
	}
	if s.opt.Observer != nil {
		s.opt.Observer.ObserveStage("total", time.Since(start))
	}
	level := slog.LevelDebug
	if s.opt.Verbose {
		level = slog.LevelInfo
	}
	log.Log(ctx, level, "batch delivered", "partition", batch.PartitionID,
		"first_offset", batch.Messages[0].Offset, "last_offset", batch.Messages[n-1].Offset,
		"current_offset", batch.CurrentOffset, "messages", n, "committed", prog.committed,
		"took", time.Since(start))
	return stopErr
}

// write hands the pending messages to the plugin until each is written or resolved by on_error.
// Retryable failures (of the whole call or of single messages) are retried with backoff; when the
// retry policy has a MaxAttempts and that many calls failed, they count as permanent.
func (s *Sink) write(ctx context.Context, st *SinkStream, prog *batchProgress, pending []int, originals [][]byte, log *slog.Logger) error {
	batch := prog.batch
	for attempt := 1; len(pending) > 0; attempt++ {
		msgs := batch.Messages // pending is ascending and unique, so all of them means these
		if len(pending) != len(batch.Messages) {
			msgs = make([]abi.Message, len(pending))
			for j, idx := range pending {
				msgs[j] = batch.Messages[idx]
			}
		}
		in := &abi.SinkBatch{Stream: st.Stream, Topic: st.Topic, PartitionID: batch.PartitionID,
			CurrentOffset: batch.CurrentOffset, Schema: st.Processor.Schema(), Messages: msgs}
		callStart := time.Now()
		res, err := s.opt.Plugin.Consume(ctx, in)
		if s.opt.Observer != nil {
			s.opt.Observer.ObserveStage("ffi", time.Since(callStart))
		}
		if err != nil {
			s.opt.Counters.AddError(StagePlugin)
			if IsRetryable(err) {
				if ctx.Err() == nil && s.revoked(ctx, st, batch.PartitionID) {
					log.Info("partition revoked by a rebalance while retrying; abandoning the batch uncommitted",
						"partition", batch.PartitionID, "messages", len(pending))
					return nil
				}
				if !s.opt.Retry.Exhausted(attempt) {
					s.opt.Counters.Retries.Add(1)
					s.opt.State.Note(fmt.Errorf("sink plugin: %w", err))
					log.Warn("sink plugin failed; retrying the batch", "attempt", attempt, "messages", len(pending), "err", err)
					if ctx.Err() != nil || s.opt.Retry.Sleep(ctx, attempt) != nil {
						return nil // shutting down: the unwritten messages stay uncommitted
					}
					continue
				}
				err = gaveUp(attempt, err)
			}
			// Permanent for the whole batch: on_error applies to every pending message.
			for _, idx := range pending {
				ferr := s.messageError(st, batch.PartitionID, batch.Messages[idx].Offset, StagePlugin, err)
				if stop := s.resolveFailure(ctx, st, prog, idx, originals, StagePlugin, ferr, log); stop != nil {
					s.commit(ctx, st, prog, log)
					return stop
				}
			}
			return nil
		}
		if len(res.Failures) == 0 { // the common case: every pending message was written
			for _, idx := range pending {
				prog.resolved[idx] = true
			}
			s.opt.Counters.Processed.Add(uint64(len(pending)))
			return nil
		}
		failed := make(map[int]abi.Error, len(res.Failures))
		for _, f := range res.Failures {
			if int(f.Index) >= len(pending) {
				log.Warn("sink plugin reported a failure for a message index outside the batch; ignored",
					"index", f.Index, "messages", len(pending))
				continue
			}
			failed[int(f.Index)] = f.Error
		}
		var retry []int
		written := 0
		var stopErr error
		exhausted := s.opt.Retry.Exhausted(attempt)
		for j, idx := range pending {
			fe, bad := failed[j]
			switch {
			case !bad:
				prog.resolved[idx] = true
				written++
			case fe.Retryable && !exhausted:
				retry = append(retry, idx)
			case stopErr == nil:
				s.opt.Counters.AddError(StagePlugin)
				var cause error = &fe
				if fe.Retryable {
					cause = gaveUp(attempt, cause)
				}
				ferr := s.messageError(st, batch.PartitionID, batch.Messages[idx].Offset, StagePlugin, cause)
				stopErr = s.resolveFailure(ctx, st, prog, idx, originals, StagePlugin, ferr, log)
			}
		}
		s.opt.Counters.Processed.Add(uint64(written))
		if stopErr != nil {
			s.commit(ctx, st, prog, log)
			return stopErr
		}
		if len(retry) > 0 {
			s.opt.Counters.Retries.Add(1)
			s.opt.Counters.AddError(StagePlugin)
			s.commit(ctx, st, prog, log) // keep the written prefix even while retrying the rest
			s.opt.State.Note(fmt.Errorf("sink plugin: %d message(s) to retry, first: %s", len(retry), failed[indexOf(pending, retry[0])].Message))
			log.Warn("sink plugin asked to retry messages", "attempt", attempt, "messages", len(retry))
			if ctx.Err() != nil || s.opt.Retry.Sleep(ctx, attempt) != nil {
				return nil
			}
		}
		pending = retry
	}
	return nil
}

// gaveUp turns a retryable error into a permanent one once retry.max_attempts calls failed.
func gaveUp(attempts int, err error) error {
	return fmt.Errorf("gave up after %d attempts (retry.max_attempts): %w", attempts, err)
}

func indexOf(xs []int, v int) int {
	for i, x := range xs {
		if x == v {
			return i
		}
	}
	return -1
}

// resolveFailure applies on_error to message i. It returns a non-nil error only for on_error = stop
// (or when dead-lettering is impossible), in which case message i stays unresolved.
func (s *Sink) resolveFailure(ctx context.Context, st *SinkStream, prog *batchProgress, i int, originals [][]byte,
	stage string, err error, log *slog.Logger) error {
	msg := &prog.batch.Messages[i]
	switch s.opt.OnError {
	case OnErrorSkip:
		s.opt.Counters.Skipped.Add(1)
		log.Warn("message skipped (on_error = skip)", "partition", prog.batch.PartitionID, "offset", msg.Offset, "err", err)
		prog.resolved[i] = true
		return nil
	case OnErrorDeadLetter:
		payload := msg.Payload
		if originals != nil {
			payload = originals[i]
		}
		out := OutMessage{ID: msg.ID, Payload: payload, OriginTimestamp: msg.OriginTimestamp,
			Headers: append(append([]abi.Header(nil), msg.Headers...),
				abi.StringHeader(HeaderErrorConnector, s.opt.Key),
				abi.StringHeader(HeaderErrorStage, stage),
				abi.StringHeader(HeaderErrorMessage, headerValue(err.Error())),
				abi.StringHeader(HeaderErrorStream, st.Stream),
				abi.StringHeader(HeaderErrorTopic, st.Topic),
				abi.StringHeader(HeaderErrorPartition, strconv.FormatUint(uint64(prog.batch.PartitionID), 10)),
				abi.StringHeader(HeaderErrorOffset, strconv.FormatUint(msg.Offset, 10)))}
		if dlqErr := sendWithRetry(ctx, s.opt.Retry, s.opt.DeadLetter.Producer, s.opt.DeadLetter.Stream,
			s.opt.DeadLetter.Topic, []OutMessage{out}, s.opt.Counters, s.opt.State, log); dlqErr != nil {
			if ctx.Err() != nil {
				return nil // shutting down; the message stays unresolved and uncommitted
			}
			return fmt.Errorf("%w; dead-lettering it to %s/%s failed too: %v", err, s.opt.DeadLetter.Stream, s.opt.DeadLetter.Topic, dlqErr)
		}
		s.opt.Counters.DeadLettered.Add(1)
		log.Warn("message dead-lettered", "partition", prog.batch.PartitionID, "offset", msg.Offset,
			"dead_letter", s.opt.DeadLetter.Stream+"/"+s.opt.DeadLetter.Topic, "err", err)
		prog.resolved[i] = true
		return nil
	default:
		return fmt.Errorf("%w (on_error = stop: the sink stops; the message and everything after it stay uncommitted)", err)
	}
}

// stageOf returns the stage a processor error happened in (decode when it does not say) and the
// error without the stage prefix, for messages that name the stage themselves.
func stageOf(err error) (string, error) {
	var se *StageError
	if errors.As(err, &se) {
		return se.Stage, se.Err
	}
	return StageDecode, err
}

func (s *Sink) messageError(st *SinkStream, partition uint32, offset uint64, stage string, err error) error {
	return fmt.Errorf("message %s/%s partition %d offset %d failed at %s: %w", st.Stream, st.Topic, partition, offset, stage, err)
}

// commit stores the offset of the resolved prefix if it grew. Each attempt runs on its own
// context bounded by CommitTimeout, detached from ctx: a store in flight when the stop begins
// finishes (cut off halfway, it would leave messages already written to be delivered again), and
// after the stop began the store is still tried once. Retryable errors are retried with backoff
// while ctx lasts.
func (s *Sink) commit(ctx context.Context, st *SinkStream, prog *batchProgress, log *slog.Logger) {
	upto := prog.prefix()
	if upto <= prog.committed {
		return
	}
	offset := prog.batch.Messages[upto-1].Offset
	start := time.Now()
	var err error
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opt.CommitTimeout)
		err = st.Consumer.Commit(cctx, prog.batch.PartitionID, offset)
		cancel()
		if err == nil || !IsRetryable(err) || ctx.Err() != nil || s.opt.Retry.Exhausted(attempt) {
			break
		}
		s.opt.Counters.Retries.Add(1)
		s.opt.Counters.AddError(StageCommit)
		log.Warn("storing the consumer offset failed; retrying", "partition", prog.batch.PartitionID, "offset", offset,
			"attempt", attempt, "wait", s.opt.Retry.Delay(attempt), "err", err)
		if s.opt.Retry.Sleep(ctx, attempt) != nil {
			break
		}
	}
	if s.opt.Observer != nil {
		s.opt.Observer.ObserveStage("commit", time.Since(start))
	}
	if errors.Is(err, ErrPartitionRevoked) {
		// Nothing stored: the new owner writes these messages again (at most this batch per revoked
		// partition; later batches of the partition are dropped before delivery, see runStream).
		log.Info("partition revoked by a rebalance; offset not stored, the new owner delivers these messages again",
			"partition", prog.batch.PartitionID, "offset", offset)
		prog.committed = len(prog.resolved) // nothing more to commit for this batch here
		return
	}
	if err != nil {
		s.opt.Counters.AddError(StageCommit)
		s.opt.State.Note(fmt.Errorf("store offset %d of %s/%s partition %d: %w", offset, st.Stream, st.Topic, prog.batch.PartitionID, err))
		log.Warn("could not store the consumer offset; these messages will be delivered again",
			"partition", prog.batch.PartitionID, "offset", offset, "err", err)
		return
	}
	prog.committed = upto
}

// sendWithRetry produces msgs, retrying retryable errors with backoff until success, a permanent
// error, or ctx cancellation (or, for a finishing context, the start of the stop).
func sendWithRetry(ctx context.Context, policy backoff.Policy, p Producer, stream, topic string, msgs []OutMessage,
	counters *Counters, state *State, log *slog.Logger) error {
	return policy.Retry(ctx, func(c context.Context) error {
		return p.Send(c, stream, topic, msgs)
	}, func(err error) bool { return IsRetryable(err) && !stopping(ctx) }, func(attempt int, err error, wait time.Duration) {
		counters.Retries.Add(1)
		counters.AddError(StageSend)
		state.Note(fmt.Errorf("send to %s/%s: %w", stream, topic, err))
		log.Warn("sending to Iggy failed; retrying", "stream", stream, "topic", topic, "messages", len(msgs),
			"attempt", attempt, "wait", wait, "err", err)
	})
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
