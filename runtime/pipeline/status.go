package pipeline

import (
	"sync"
	"sync/atomic"
	"time"
)

// Status of a connector instance, as shown by the HTTP API (same words as the original runtime).
type Status string

// Statuses. A connector goes starting → running → stopping → stopped; error means it stopped (or
// cannot start) because of LastError; starting may also carry a LastError while the runtime retries
// opening the plugin.
const (
	StatusStarting Status = "starting"
	StatusRunning  Status = "running"
	StatusStopping Status = "stopping"
	StatusStopped  Status = "stopped"
	StatusError    Status = "error"
)

// LastError is the most recent error of a connector.
type LastError struct {
	Message string    `json:"message"`
	Time    time.Time `json:"-"`
}

// State is a connector's status plus its last error. Safe for concurrent use.
type State struct {
	mu       sync.Mutex
	status   Status
	lastErr  *LastError
	onChange func(from, to Status)
}

// NewState starts in StatusStarting. onChange (may be nil) is called on every transition, outside
// no lock the caller holds, with the lock of State held (keep it quick).
func NewState(onChange func(from, to Status)) *State {
	return &State{status: StatusStarting, onChange: onChange}
}

// Get returns the status and a copy of the last error (nil when none).
func (s *State) Get() (Status, *LastError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastErr == nil {
		return s.status, nil
	}
	e := *s.lastErr
	return s.status, &e
}

// Status returns the current status.
func (s *State) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Set moves to status; clearErr drops the last error (used when a connector recovers or stops
// cleanly).
func (s *State) Set(status Status, clearErr bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setLocked(status)
	if clearErr {
		s.lastErr = nil
	}
}

// Fail records err and moves to status (StatusError for a fatal problem, or the current status for
// a problem that is being retried).
func (s *State) Fail(status Status, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr = &LastError{Message: err.Error(), Time: time.Now()}
	s.setLocked(status)
}

// Note records err as the last error without changing the status (a retried, transient problem).
func (s *State) Note(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr = &LastError{Message: err.Error(), Time: time.Now()}
}

func (s *State) setLocked(to Status) {
	from := s.status
	s.status = to
	if from != to && s.onChange != nil {
		s.onChange(from, to)
	}
}

// Counters are a connector's message and error counts. Fields are updated atomically by the
// pipeline and read by the API and the metrics exporter.
type Counters struct {
	// Source side.
	Produced atomic.Uint64 // messages received from the source plugin
	Sent     atomic.Uint64 // messages accepted by Iggy
	// Sink side.
	Consumed  atomic.Uint64 // messages polled from Iggy
	Processed atomic.Uint64 // messages the sink plugin reported written
	// Both.
	Filtered     atomic.Uint64 // messages dropped by a transform on purpose
	Skipped      atomic.Uint64 // messages dropped by on_error = "skip"
	DeadLettered atomic.Uint64 // messages produced to the dead-letter topic
	Errors       atomic.Uint64 // every error counted by ErrorsByStage
	Retries      atomic.Uint64 // retried calls (plugin, Iggy, state)
	InFlight     atomic.Int64  // batches taken but not yet committed

	stageMu       sync.Mutex
	errorsByStage map[string]uint64
}

// Error stages used in Counters.AddError and metrics labels.
const (
	StageOpen      = "open"
	StagePoll      = "poll"       // source plugin poll / sink Iggy poll
	StageDecode    = "decode"     // payload decoding
	StageTransform = "transform"  // transforms
	StageEncode    = "encode"     // payload encoding
	StagePlugin    = "plugin"     // sink consume / source commit
	StageSend      = "iggy_send"  // producing to Iggy
	StageCommit    = "commit"     // storing the consumer offset
	StageState     = "state_save" // persisting source state
	StageDLQ       = "dead_letter"
)

// AddError counts one error at stage.
func (c *Counters) AddError(stage string) {
	c.Errors.Add(1)
	c.stageMu.Lock()
	if c.errorsByStage == nil {
		c.errorsByStage = map[string]uint64{}
	}
	c.errorsByStage[stage]++
	c.stageMu.Unlock()
}

// ErrorsByStage returns a copy of the per-stage error counts.
func (c *Counters) ErrorsByStage() map[string]uint64 {
	c.stageMu.Lock()
	defer c.stageMu.Unlock()
	out := make(map[string]uint64, len(c.errorsByStage))
	for k, v := range c.errorsByStage {
		out[k] = v
	}
	return out
}
