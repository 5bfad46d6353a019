package iggy

import (
	"sync"
	"sync/atomic"
)

// Poll replies are read into buffers recycled across polls: a poll result's messages alias its
// reply buffer, so the buffer can only be reused once the caller says it is done with them
// (Polled.Release, Batch.Release). Results never released are collected by the GC as before;
// releasing saves allocating (and zeroing) a fresh buffer of the reply's size for every poll.

// replyMem is a poll reply buffer and the message slice decoded from it.
type replyMem struct {
	buf  []byte
	msgs []Message
}

// maxPooledReply bounds the buffers kept for reuse (larger ones are left to the GC).
const maxPooledReply = 16 << 20

var replyPool sync.Pool // of *replyMem

func getReplyMem() *replyMem {
	if m, ok := replyPool.Get().(*replyMem); ok {
		return m
	}
	return &replyMem{}
}

func putReplyMem(m *replyMem) {
	if cap(m.buf) > maxPooledReply {
		return
	}
	// m.msgs keeps its old entries (overwritten by the next decode): at most one poll's header
	// slab stays reachable through a pooled entry.
	m.msgs = m.msgs[:0]
	replyPool.Put(m)
}

// lease is the claim of one poll result on its reply memory. Released once (further calls do
// nothing); results copied by value share their lease, so a copy's Release releases them all.
type lease struct{ mem atomic.Pointer[replyMem] }

func newLease(m *replyMem) *lease {
	l := &lease{}
	l.mem.Store(m)
	return l
}

func (l *lease) release() {
	if l == nil {
		return
	}
	if m := l.mem.Swap(nil); m != nil {
		putReplyMem(m)
	}
}
