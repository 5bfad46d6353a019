package icebergsink

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/apache/iceberg-go/table"
)

// partKey names one Iggy partition.
type partKey struct {
	Stream    string `json:"stream"`
	Topic     string `json:"topic"`
	Partition uint32 `json:"partition"`
}

// offsetEntry is one element of the snapshot summary property.
type offsetEntry struct {
	partKey
	Offset uint64 `json:"offset"`
}

// watermarks is, per Iggy partition, the highest offset known to be in a table.
type watermarks map[partKey]uint64

// summaryKey is the snapshot summary property under which commits of writer record their offsets:
// a JSON array of {stream, topic, partition, offset}, every partition the writer ever committed to
// the table (so any one snapshot of the writer is enough to resume).
func summaryKey(writer string) string { return "iggy." + writer + ".offsets" }

// readWatermarks collects the writer's offsets from every snapshot of the table's metadata, taking
// the highest offset per partition (the newest snapshot has the highest unless offsets were reset).
// A malformed property is an error: silently ignoring it could write a batch twice.
func readWatermarks(md table.Metadata, writer string) (watermarks, error) {
	key := summaryKey(writer)
	w := watermarks{}
	for _, snap := range md.Snapshots() {
		if snap.Summary == nil {
			continue
		}
		raw, ok := snap.Summary.Properties[key]
		if !ok {
			continue
		}
		var entries []offsetEntry
		if err := json.Unmarshal([]byte(raw), &entries); err != nil {
			return nil, fmt.Errorf("snapshot %d: summary property %s: %w", snap.SnapshotID, key, err)
		}
		for _, e := range entries {
			if cur, ok := w[e.partKey]; !ok || e.Offset > cur {
				w[e.partKey] = e.Offset
			}
		}
	}
	return w, nil
}

// covers reports whether offset of partition k is at or below the watermark.
func (w watermarks) covers(k partKey, offset uint64) bool {
	cur, ok := w[k]
	return ok && offset <= cur
}

// with returns a copy of w where k is raised to offset.
func (w watermarks) with(k partKey, offset uint64) watermarks {
	out := make(watermarks, len(w)+1)
	for kk, v := range w {
		out[kk] = v
	}
	if cur, ok := out[k]; !ok || offset > cur {
		out[k] = offset
	}
	return out
}

// encode renders w as the summary property value, sorted for stable output.
func (w watermarks) encode() string {
	entries := make([]offsetEntry, 0, len(w))
	for k, v := range w {
		entries = append(entries, offsetEntry{partKey: k, Offset: v})
	}
	sort.Slice(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if a.Stream != b.Stream {
			return a.Stream < b.Stream
		}
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		return a.Partition < b.Partition
	})
	b, _ := json.Marshal(entries)
	return string(b)
}
