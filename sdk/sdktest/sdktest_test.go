package sdktest

import (
	"context"
	"testing"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/sdk"
)

type cfg struct {
	Size int `json:"size" default:"1"`
}

func (c *cfg) Validate() error {
	if c.Size < 1 {
		return sdk.FieldErrorf("size", "must be positive")
	}
	return nil
}

type src struct{ size int }

func (s *src) Open(context.Context) error  { return nil }
func (s *src) Close(context.Context) error { return nil }
func (s *src) Poll(context.Context) (sdk.Batch, error) {
	return sdk.Batch{Messages: make([]sdk.SourceMessage, s.size)}, nil
}

type sink struct{}

func (sink) Open(context.Context) error  { return nil }
func (sink) Close(context.Context) error { return nil }
func (sink) Consume(_ context.Context, b *sdk.SinkBatch) (sdk.Result, error) {
	return sdk.Result{}, nil
}

func TestConformanceSuites(t *testing.T) {
	CheckSource(t, sdk.NewSource(sdk.Info{Name: "src", Version: "1"}, func(c *cfg, _ []byte, _ sdk.Env) (sdk.Source, error) {
		return &src{size: c.Size}, nil
	}), `{"size":3}`, map[string]string{`{"size":0}`: "size", `{"sise":1}`: "sise"})
	CheckSink(t, sdk.NewSink(sdk.Info{Name: "sink", Version: "1"}, func(*cfg, sdk.Env) (sdk.Sink, error) { return sink{}, nil }),
		`{}`, map[string]string{`{"size":"big"}`: "size"})
}

func TestHarnessPollDecodes(t *testing.T) {
	h := New(sdk.NewSource(sdk.Info{Name: "src", Version: "1"}, func(c *cfg, _ []byte, _ sdk.Env) (sdk.Source, error) {
		return &src{size: c.Size}, nil
	}))
	s, err := h.OpenSource(`{"size":2}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Poll()
	if err != nil || len(r.Messages) != 2 || r.Schema != abi.SchemaJSON || r.BatchID != 1 {
		t.Fatalf("%+v %v", r, err)
	}
}
