package icebergsink

import "testing"

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
