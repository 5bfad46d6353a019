package icebergsink

import (
	"context"
	"testing"
	"time"

	"github.com/iggy-go/connectors/sdk"
)

func TestWatermarks(t *testing.T) {
	k1 := partKey{Stream: "s", Topic: "t", Partition: 1}
	k2 := partKey{Stream: "s", Topic: "t", Partition: 2}
	w := watermarks{}.with(k1, 10)
	if !w.covers(k1, 10) || !w.covers(k1, 3) || w.covers(k1, 11) || w.covers(k2, 0) {
		t.Fatalf("covers wrong: %v", w)
	}
	w2 := w.with(k1, 5).with(k2, 7)
	if w2[k1] != 10 || w2[k2] != 7 || len(w) != 1 {
		t.Fatalf("with must keep the max and not modify the receiver: %v %v", w, w2)
	}
	if got, want := w2.encode(), `[{"stream":"s","topic":"t","partition":1,"offset":10},{"stream":"s","topic":"t","partition":2,"offset":7}]`; got != want {
		t.Fatalf("encode %s, want %s", got, want)
	}
}

func TestWaitInterval(t *testing.T) {
	var slept []time.Duration
	s := &Sink{cfg: &Config{CommitInterval: sdk.Duration(10 * time.Second)},
		sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	ts := &tableState{}
	if err := s.waitInterval(context.Background(), ts); err != nil || len(slept) != 0 {
		t.Fatalf("first commit must not wait: %v %v", slept, err)
	}
	ts.lastCommit = time.Now().Add(-4 * time.Second)
	if err := s.waitInterval(context.Background(), ts); err != nil || len(slept) != 1 || slept[0] < 5*time.Second || slept[0] > 6*time.Second {
		t.Fatalf("want a wait of about 6s, got %v %v", slept, err)
	}
	ts.lastCommit = time.Now().Add(-11 * time.Second)
	if err := s.waitInterval(context.Background(), ts); err != nil || len(slept) != 1 {
		t.Fatalf("interval passed: no wait expected, got %v", slept)
	}
	s.cfg.CommitInterval = 0
	ts.lastCommit = time.Now()
	if err := s.waitInterval(context.Background(), ts); err != nil || len(slept) != 1 {
		t.Fatalf("commit_interval 0 must not wait, got %v", slept)
	}
}
