package export

import "runtime"

// A Go runtime collects periodically (every two minutes, whatever its heap) only after its first
// collection, and its first comes when the heap reaches the 4 MB minimum goal. A plugin library
// carries its own Go runtime inside the host process; one that allocates little per call (a few KB
// a second) took a quarter of an hour to reach that first collection, its heap and the host's RSS
// growing steadily meanwhile (the memory soak, `make soak`). One collection while the library
// loads, when its heap is a few hundred KB and the collection takes well under a millisecond, arms
// the periodic one from the start.
func init() { runtime.GC() }
