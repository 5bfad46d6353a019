package shim

import (
	"bytes"
	"context"
	"testing"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/sdk"
)

type nopSink struct{}

func (nopSink) Open(context.Context) error  { return nil }
func (nopSink) Close(context.Context) error { return nil }
func (nopSink) Consume(context.Context, *sdk.SinkBatch) (sdk.Result, error) {
	return sdk.Result{}, nil
}

type emptyConfig struct{}

var nopPlugin = sdk.NewSink(sdk.Info{Name: "nop", Version: "0"}, func(*emptyConfig, sdk.Env) (sdk.Sink, error) { return nopSink{}, nil })

// BenchmarkSinkConsume measures the plugin side of a 1000-message consume without cgo: copy of the
// input (as the cgo layer does), decode, Consume.
func BenchmarkSinkConsume(b *testing.B) {
	s := New(nopPlugin, sdk.NewLogBuffer(16, "nop"))
	if st, out := s.SinkOpen(1, []byte(`{}`)); st != abi.StatusOK {
		b.Fatal(string(out))
	}
	batch := &abi.SinkBatch{Stream: "s", Topic: "t", Schema: abi.SchemaRaw, Messages: make([]abi.Message, 1000)}
	for i := range batch.Messages {
		batch.Messages[i] = abi.Message{Offset: uint64(i), Payload: bytes.Repeat([]byte{'x'}, 100)}
	}
	data := abi.AppendSinkBatch(nil, batch)
	b.ReportAllocs()
	for b.Loop() {
		if st, out := s.SinkConsume(1, bytes.Clone(data)); st != abi.StatusOK {
			b.Fatal(string(out))
		}
	}
}
