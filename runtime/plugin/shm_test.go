//go:build linux && (amd64 || arm64)

package plugin

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

// patternBatch builds n messages whose payloads the discard sink's verify mode checks byte for byte.
func patternBatch(first uint64, n, size int) *abi.SinkBatch {
	b := &abi.SinkBatch{Stream: "s", Topic: "t", PartitionID: 1, Schema: abi.SchemaRaw, Messages: make([]abi.Message, n)}
	for i := range b.Messages {
		off := first + uint64(i)
		p := make([]byte, size)
		binary.LittleEndian.PutUint64(p, off)
		for j := 8; j < size; j++ {
			p[j] = byte(off + uint64(j))
		}
		b.Messages[i] = abi.Message{Offset: off, Payload: p, Headers: []abi.Header{abi.StringHeader("h", "v")}}
	}
	return b
}

// TestProcessSinkBatchPaths: under the process transport a sink's batch crosses in the shared
// region, inline when it outgrows the region, and again in the region after the child was killed
// and restarted; every payload arrives intact (the discard sink verifies them).
func TestProcessSinkBatchPaths(t *testing.T) {
	defer func(n int) { shmSize = n }(shmSize)
	shmSize = 64 << 10
	path, exe := pluginbuild.GoPlugin(t, "test/plugins/discard", "iggy_connector_discard_sink"), pluginbuild.Runtime(t)
	lib, err := Open(path, Options{Transport: TransportProcess, Executable: exe, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if !lib.SinkBatchesByRef() {
		t.Fatal("the discard sink does not take batches by reference")
	}
	ctx := context.Background()
	s, err := lib.OpenSink(ctx, "k", []byte(`{"verify":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	pb := s.be.(*procBackend)
	if pb.shm == nil || pb.child.flags&helloFlagShm == 0 {
		t.Fatal("no shared batch region")
	}
	consume := func(what string, b *abi.SinkBatch) {
		t.Helper()
		res, err := s.Consume(ctx, b)
		if err != nil || len(res.Failures) != 0 {
			t.Fatalf("%s: %v %+v", what, err, res.Failures)
		}
	}
	consume("in the region", patternBatch(0, 20, 1000))
	consume("inline (larger than the region)", patternBatch(100, 200, 1000))
	consume("empty", patternBatch(0, 0, 0))
	pb.child.kill()
	<-pb.child.done
	consume("after the restart", patternBatch(300, 20, 1000)) // the next call restarts the child
	if s.Restarts() == 0 {
		t.Fatal("the child was not restarted")
	}
	bad := patternBatch(9, 2, 64)
	bad.Messages[1].Payload[30] ^= 1
	res, err := s.Consume(ctx, bad)
	if err != nil || len(res.Failures) != 1 || res.Failures[0].Index != 1 {
		t.Fatalf("a corrupted payload was not reported: %v %+v", err, res.Failures)
	}
}
