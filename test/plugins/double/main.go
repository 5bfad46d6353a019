// Command double is a test-only plugin that registers two plugins, which the SDK refuses: the
// library panics while it loads, with a message naming both. Only the process transport can load it
// without dying (the test checks the message reaches the caller).
//
//	go build -buildmode=c-shared -o libiggy_connector_double_sink.so .
package main

import (
	"context"

	"github.com/iggy-go/connectors/sdk"
	"github.com/iggy-go/connectors/sdk/export"
)

type config struct{}

type sink struct{}

func (sink) Open(context.Context) error  { return nil }
func (sink) Close(context.Context) error { return nil }
func (sink) Consume(context.Context, *sdk.SinkBatch) (sdk.Result, error) {
	return sdk.Result{}, nil
}

func newSink(*config, sdk.Env) (sdk.Sink, error) { return sink{}, nil }

func init() {
	export.Register(sdk.NewSink(sdk.Info{Name: "first", Version: "0.1.0"}, newSink))
	export.Register(sdk.NewSink(sdk.Info{Name: "second", Version: "0.1.0"}, newSink))
}

func main() {}
