// Package sdktest drives a connector plugin the way the runtime does, without building a shared
// library: every call goes through the same shim as the exported C functions (JSON config, CBOR
// records encoded and decoded, instance ids, panic recovery, batch ids and cumulative commits, log
// buffering), only without cgo. Connector packages use it in unit tests; CheckSink and CheckSource are
// small conformance suites every connector should pass.
package sdktest

import (
	"fmt"
	"testing"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/sdk"
	"github.com/iggy-go/connectors/sdk/internal/shim"
)

// StatusError is a call that did not return OK: the status and the plugin's Error record.
type StatusError struct {
	Op     string
	Status abi.Status
	Record abi.Error
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Op, e.Status, e.Record.Error())
}

// Harness serves one plugin. Not safe for concurrent use of one instance (as in the ABI).
type Harness struct {
	s    *shim.Shim
	logs *sdk.LogBuffer
	next uint32
}

// New returns a harness for p whose log buffer accepts every level.
func New(p *sdk.Plugin) *Harness {
	logs := sdk.NewLogBuffer(sdk.DefaultLogCapacity, p.PluginInfo().Name)
	logs.SetLevel(sdk.LevelTrace)
	return &Harness{s: shim.New(p, logs), logs: logs}
}

func result(op string, st abi.Status, out []byte) error {
	if st == abi.StatusOK {
		return nil
	}
	e := &StatusError{Op: op, Status: st}
	if err := abi.Unmarshal(out, &e.Record); err != nil {
		e.Record = abi.Error{Code: "undecodable", Message: err.Error()}
	}
	return e
}

// Info is the decoded PluginInfo record.
func (h *Harness) Info() (abi.PluginInfo, error) {
	st, out := h.s.Info()
	var info abi.PluginInfo
	if err := result("plugin_info", st, out); err != nil {
		return info, err
	}
	return info, abi.Unmarshal(out, &info)
}

// Validate runs iggy_plugin_validate_config on a JSON config.
func (h *Harness) Validate(cfgJSON string) error {
	st, out := h.s.ValidateConfig([]byte(cfgJSON))
	return result("validate_config", st, out)
}

// Logs drains the records logged so far.
func (h *Harness) Logs() []abi.LogRecord { return h.logs.Drain() }

// Sink is an open sink instance.
type Sink struct {
	h  *Harness
	ID uint32
}

// OpenSink opens a sink instance with a JSON config.
func (h *Harness) OpenSink(cfgJSON string) (*Sink, error) {
	h.next++
	st, out := h.s.SinkOpen(h.next, []byte(cfgJSON))
	if err := result("sink_open", st, out); err != nil {
		return nil, err
	}
	return &Sink{h: h, ID: h.next}, nil
}

// Consume encodes b as the runtime does and returns the decoded SinkResult.
func (s *Sink) Consume(b *abi.SinkBatch) (abi.SinkResult, error) {
	st, out := s.h.s.SinkConsume(s.ID, abi.AppendSinkBatch(nil, b))
	var r abi.SinkResult
	if err := result("sink_consume", st, out); err != nil {
		return r, err
	}
	if len(out) > 0 {
		if err := abi.Unmarshal(out, &r); err != nil {
			return r, err
		}
	}
	return r, nil
}

// Close closes the instance.
func (s *Sink) Close() error { st, out := s.h.s.SinkClose(s.ID); return result("sink_close", st, out) }

// Source is an open source instance.
type Source struct {
	h  *Harness
	ID uint32
}

// OpenSource opens a source instance with a JSON config and state (nil = none).
func (h *Harness) OpenSource(cfgJSON string, state []byte) (*Source, error) {
	h.next++
	st, out := h.s.SourceOpen(h.next, []byte(cfgJSON), state)
	if err := result("source_open", st, out); err != nil {
		return nil, err
	}
	return &Source{h: h, ID: h.next}, nil
}

// Poll returns the decoded PollResult.
func (s *Source) Poll() (*abi.PollResult, error) {
	st, out := s.h.s.SourcePoll(s.ID)
	if err := result("source_poll", st, out); err != nil {
		return nil, err
	}
	return abi.DecodePollResult(out)
}

// Commit commits every batch up to batchID.
func (s *Source) Commit(batchID uint64) error {
	st, out := s.h.s.SourceCommit(s.ID, batchID)
	return result("source_commit", st, out)
}

// Close closes the instance.
func (s *Source) Close() error {
	st, out := s.h.s.SourceClose(s.ID)
	return result("source_close", st, out)
}

// CheckSink is a conformance suite for a sink plugin: its info is complete, validCfg opens, an empty
// batch is accepted, it closes, and each config in badCfgs (config JSON -> the field its error must
// name) is refused by validation and by open with an invalid_config error naming that field.
func CheckSink(t *testing.T, p *sdk.Plugin, validCfg string, badCfgs map[string]string) {
	t.Helper()
	h := New(p)
	checkInfo(t, h, abi.KindSink)
	checkBadConfigs(t, h, badCfgs, func(cfg string) error { _, err := h.OpenSink(cfg); return err })
	s, err := h.OpenSink(validCfg)
	if err != nil {
		t.Fatalf("open with %s: %v", validCfg, err)
	}
	if r, err := s.Consume(&abi.SinkBatch{Stream: "s", Topic: "t", Schema: abi.SchemaJSON, Messages: []abi.Message{}}); err != nil || len(r.Failures) != 0 {
		t.Fatalf("empty batch: %+v, %v", r, err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := s.Consume(&abi.SinkBatch{}); err == nil || err.(*StatusError).Status != abi.StatusUnknownInstance {
		t.Fatalf("consume after close: %v", err)
	}
}

// CheckSource is CheckSink for sources: additionally one Poll must succeed and its batch be
// committable.
func CheckSource(t *testing.T, p *sdk.Plugin, validCfg string, badCfgs map[string]string) {
	t.Helper()
	h := New(p)
	checkInfo(t, h, abi.KindSource)
	checkBadConfigs(t, h, badCfgs, func(cfg string) error { _, err := h.OpenSource(cfg, nil); return err })
	s, err := h.OpenSource(validCfg, nil)
	if err != nil {
		t.Fatalf("open with %s: %v", validCfg, err)
	}
	r, err := s.Poll()
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	if r.BatchID == 0 || r.Schema == "" {
		t.Fatalf("poll result %+v: batch ids start at 1 and a schema is required", r)
	}
	if err := s.Commit(r.BatchID); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

func checkInfo(t *testing.T, h *Harness, kind abi.Kind) {
	t.Helper()
	info, err := h.Info()
	if err != nil {
		t.Fatal(err)
	}
	if info.Kind != kind || info.Name == "" || info.Version == "" || info.ABIVersion != abi.Version {
		t.Fatalf("plugin info %+v: want kind %s, a name, a version and ABI %s", info, kind, abi.VersionString(abi.Version))
	}
	for _, f := range info.ConfigFields {
		if f.Name == "" || f.Type == "" {
			t.Fatalf("config field %+v lacks a name or a type", f)
		}
	}
}

func checkBadConfigs(t *testing.T, h *Harness, bad map[string]string, open func(string) error) {
	t.Helper()
	for cfg, field := range bad {
		for what, err := range map[string]error{"validate": h.Validate(cfg), "open": open(cfg)} {
			se, ok := err.(*StatusError)
			if !ok || se.Status != abi.StatusPermanent || se.Record.Code != abi.CodeInvalidConfig || se.Record.Field != field {
				t.Errorf("%s with %s: %v; want a permanent invalid_config error naming %q", what, cfg, err, field)
			}
		}
	}
}
