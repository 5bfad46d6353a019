package plugin

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/backoff"

	"github.com/iggy-go/connectors/test/pluginbuild"
)

// TestMain doubles as the plugin host: the process transport re-executes this test binary as
// `<test binary> plugin-host --library PATH`, which runs the real ServeHost.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == HostCommand {
		fs := flag.NewFlagSet(HostCommand, flag.ExitOnError)
		lib := fs.String("library", "", "")
		_ = fs.Parse(os.Args[2:])
		if err := ServeHost(*lib, os.Stdin, os.NewFile(3, "replies")); err != nil {
			fmt.Fprintln(os.Stderr, "plugin-host:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	pluginbuild.Cleanup()
	os.Exit(code)
}

func stdoutSink(t testing.TB) string {
	return pluginbuild.GoPlugin(t, "connectors/sinks/stdout", "iggy_connector_stdout_sink")
}
func faultySink(t testing.TB) string {
	return pluginbuild.GoPlugin(t, "test/plugins/faulty", "iggy_connector_faulty_sink")
}
func seqSource(t testing.TB) string {
	return pluginbuild.GoPlugin(t, "test/plugins/seq", "iggy_connector_seq_source")
}

// recorder is an slog.Handler that keeps records for assertions.
type recorder struct {
	mu    sync.Mutex
	recs  []recorded
	attrs []slog.Attr
}

type recorded struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	m := map[string]string{}
	for _, a := range r.attrs {
		m[a.Key] = a.Value.String()
	}
	rec.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	root := r.root()
	root.mu.Lock()
	root.recs = append(root.recs, recorded{rec.Level, rec.Message, m})
	root.mu.Unlock()
	return nil
}

func (r *recorder) root() *recorder { return r }
func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrRecorder{root: r, attrs: as}
}
func (r *recorder) WithGroup(string) slog.Handler { return r }

type attrRecorder struct {
	root  *recorder
	attrs []slog.Attr
}

func (a *attrRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (a *attrRecorder) Handle(ctx context.Context, rec slog.Record) error {
	rec = rec.Clone()
	rec.AddAttrs(a.attrs...)
	return a.root.Handle(ctx, rec)
}
func (a *attrRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &attrRecorder{root: a.root, attrs: append(append([]slog.Attr(nil), a.attrs...), as...)}
}
func (a *attrRecorder) WithGroup(string) slog.Handler { return a }

// find returns the records whose message is msg.
func (r *recorder) find(msg string) []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recorded
	for _, x := range r.recs {
		if x.msg == msg {
			out = append(out, x)
		}
	}
	return out
}

func cabortSink(t testing.TB) string { return pluginbuild.CVariant(t, "ABORT", "cabort") }

var fastBackoff = backoff.Policy{Initial: 20 * time.Millisecond, Max: time.Second, Multiplier: 2}
