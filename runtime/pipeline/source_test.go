package pipeline

import (
	"testing"

	"github.com/iggy-go/connectors/abi"
)

// A plugin's ids are kept; messages without one (or with 0) get distinct random UUID v4s.
func TestMessageIDs(t *testing.T) {
	own := abi.IDFromUint64s(7, 9)
	zero := abi.ID{}
	for _, tc := range []struct {
		name string
		msgs []abi.SourceMessage
	}{
		{"none", nil},
		{"all the plugin's", []abi.SourceMessage{{ID: &own}}},
		{"mixed", []abi.SourceMessage{{}, {ID: &own}, {ID: &zero}, {}, {}}},
		{"all missing", make([]abi.SourceMessage, 1000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g idGen
			g.assign(make([]abi.SourceMessage, 3)) // a reused generator gives distinct ids too
			ids := g.assign(tc.msgs)
			if len(ids) != len(tc.msgs) {
				t.Fatalf("%d ids for %d messages", len(ids), len(tc.msgs))
			}
			seen := map[abi.ID]bool{}
			for i, m := range tc.msgs {
				id := ids[i]
				if m.ID != nil && !m.ID.IsZero() {
					if id != *m.ID {
						t.Fatalf("message %d: the plugin's id %x became %x", i, *m.ID, id)
					}
					continue
				}
				if id[6]>>4 != 4 || id[8]>>6 != 2 {
					t.Fatalf("message %d: %x is not a UUID v4", i, id)
				}
				if seen[id] {
					t.Fatalf("message %d: id %x given twice", i, id)
				}
				seen[id] = true
			}
		})
	}
}
