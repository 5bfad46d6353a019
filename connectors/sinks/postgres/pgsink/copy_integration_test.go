//go:build integration

package pgsink

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/iggy-go/connectors/sdk"
)

// TestSinkIDsRoundTrip writes every id of u128Cases through the sink, on the fast path (COPY
// straight into the table) and on the staging path (a replay with new rows mixed in), and reads
// them back with the real psql client as PostgreSQL's own decimal rendering of the NUMERIC (with the
// timestamps as µs since the Unix epoch, the checksum and the text payload).
func TestSinkIDsRoundTrip(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		t.Skip("psql not installed")
	}
	db := newTestDB(t)
	s := openSink(t, sinkConfig(t, db.URL, map[string]any{"target_table": db.Table("ids"), "auto_create_table": true,
		"payload_format": "text"}))
	var want []string
	batch := batchOf(0)
	for _, c := range u128Cases {
		id, ok := idOf(t, c)
		if !ok {
			continue // 2^128 does not fit an Iggy id
		}
		off := uint64(len(batch.Messages))
		batch.Messages = append(batch.Messages, batchOf(off, []byte("id "+c)).Messages[0])
		m := &batch.Messages[off]
		m.ID = id
		if off == 0 { // timestamps before PostgreSQL's epoch (2000-01-01) are negative on the wire
			m.Timestamp, m.OriginTimestamp = 0, 5
		}
		want = append(want, fmt.Sprintf("%d|%s|%d|%d|%d|id %s", off, c, m.Timestamp, m.OriginTimestamp, int64(m.Checksum), c))
	}
	half := *batch
	half.Messages = batch.Messages[:len(batch.Messages)/2]
	// first half on the fast path, then all of it: a replay, redone through the staging table
	for i, in := range []*sdk.SinkBatch{&half, batch} {
		res, err := s.Consume(context.Background(), in)
		if err != nil || len(res.Failures) != 0 {
			t.Fatalf("consume %d: %v %+v", i, err, res.Failures)
		}
	}
	if st := s.Stats(); st.DirectRounds != 1 || st.Conflicts != 1 || st.StagedRounds != 1 {
		t.Fatalf("want one direct round, then a conflict redone through staging; got %+v", st)
	}
	out, err := exec.Command("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db.URL, "-c",
		fmt.Sprintf(`SELECT iggy_offset, id::text, (extract(epoch FROM iggy_timestamp) * 1000000)::bigint,
			(extract(epoch FROM iggy_origin_timestamp) * 1000000)::bigint, iggy_checksum, payload FROM %s ORDER BY iggy_offset`, db.Q("ids"))).CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if got := strings.Split(strings.TrimSpace(string(out)), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("psql read back\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
