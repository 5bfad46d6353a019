package sdk

// BatchBorrower is an optional interface of a Sink: the fastest path through the plugin boundary.
//
// By default the SDK hands Consume a batch in freshly allocated memory, so a sink may keep the
// batch, its Messages or any byte slice in it (payloads, header keys and values) for as long as it
// likes. A sink that implements BatchBorrower promises instead that it keeps none of these after
// Consume returns (it copies what it needs, e.g. by converting payloads to strings or writing them
// out before returning); the SDK then decodes every batch into memory that it reuses for the next
// one, which removes all per-batch allocations inside the plugin. With ABI 1.1 (sink batches by
// reference) its payloads and header bytes are the runtime's own memory, read in place and valid only
// until Consume returns: nothing is copied at all. A sink that buffers messages across
// Consume calls must not implement it: its buffered payloads would be overwritten by the next batch.
type BatchBorrower interface {
	Sink
	// BorrowsBatch is a marker; it is never called.
	BorrowsBatch()
}
