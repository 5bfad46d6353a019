package plugintest

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/runtime/plugin"
)

// TestFourLanguages loads, in this one process, the Go stdout sink, the Go random source, the C file
// sink and the Rust counter source, and moves batches through each with exact content checks.
func TestFourLanguages(t *testing.T) {
	ctx := context.Background()
	logs := newLogCounter()
	opts := plugin.Options{Logger: slog.New(logs)}
	stdoutLib := open(t, goStdout(t), opts)
	randomLib := open(t, goRandom(t), opts)
	cLib := open(t, cFileSink(t), opts)
	rustLib := open(t, rustCounter(t), opts)

	// Go stdout sink: every batch is accepted and logged under the connector key.
	sink, err := stdoutLib.OpenSink(ctx, "go-stdout", []byte(`{"print_payload": false}`))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		res, err := sink.Consume(ctx, patternBatch(uint64(i*10), 10, 32))
		if err != nil || len(res.Failures) != 0 {
			t.Fatalf("stdout consume %d: %+v, %v", i, res, err)
		}
	}
	if err := sink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := logs.count("go-stdout", "received messages"); n != 3 {
		t.Fatalf("stdout sink logged %d batches, want 3", n)
	}

	// Go random source (zero_cost generator): exact payloads, then commit.
	src, err := randomLib.OpenSource(ctx, "go-random", []byte(`{"interval":"0","messages_range":[7,7],"payload_size":20,"generator":"zero_cost"}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := zeroCostRecord(20)
	for i := 1; i <= 3; i++ {
		r, err := src.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.BatchID != uint64(i) || r.Schema != abi.SchemaJSON || len(r.Messages) != 7 || len(r.State) == 0 {
			t.Fatalf("random poll %d: batch %d schema %q %d messages", i, r.BatchID, r.Schema, len(r.Messages))
		}
		for _, m := range r.Messages {
			if string(m.Payload) != want {
				t.Fatalf("random payload %s, want %s", m.Payload, want)
			}
		}
		if err := src.Commit(ctx, r.BatchID); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// C file sink: the file holds exactly one line per message.
	path := filepath.Join(t.TempDir(), "out.txt")
	cfg, _ := json.Marshal(map[string]string{"path": path})
	csink, err := cLib.OpenSink(ctx, "c-file", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wantFile string
	for i := 0; i < 3; i++ {
		b := patternBatch(uint64(100+i*5), 5, 9+i)
		res, err := csink.Consume(ctx, b)
		if err != nil || len(res.Failures) != 0 {
			t.Fatalf("C consume %d: %+v, %v", i, res, err)
		}
		wantFile += fileLines(b)
	}
	if err := csink.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != wantFile {
		t.Fatalf("C sink file:\n%s\nwant:\n%s (%v)", got, wantFile, err)
	}

	// Rust counter source: numbered messages continue across polls; commit; resume from state.
	checkRustCounter(t, ctx, rustLib)
}
