package mongosink

import (
	"slices"
	"strings"
	"testing"

	"github.com/iggy-go/connectors/sdk"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// TestResolve reads bulk write exceptions the way writeChunk does: duplicates count as written,
// transient codes stay pending, other codes become permanent failures of the message they name,
// and a write-concern error leaves every document not rejected pending.
func TestResolve(t *testing.T) {
	spans := []span{{index: 10}, {index: 11}, {index: 12}, {index: 13}, {index: 14}}
	werr := func(i, code int) mongo.BulkWriteError {
		return mongo.BulkWriteError{WriteError: mongo.WriteError{Index: i, Code: code, Message: "refused"}}
	}
	cases := []struct {
		name     string
		pending  []int
		bwe      mongo.BulkWriteException
		next     []int
		failed   []int // message indexes
		inserted int64
		present  int64
	}{
		{"duplicates and a rejection", []int{0, 1, 2, 3, 4},
			mongo.BulkWriteException{WriteErrors: []mongo.BulkWriteError{werr(1, 11000), werr(3, 2)}}, nil, []int{13}, 3, 1},
		{"transient write error", []int{0, 1, 2, 3, 4},
			mongo.BulkWriteException{WriteErrors: []mongo.BulkWriteError{werr(0, 91), werr(2, 121)}}, []int{0}, []int{12}, 3, 0},
		{"positions map through pending", []int{1, 3},
			mongo.BulkWriteException{WriteErrors: []mongo.BulkWriteError{werr(1, 10334)}}, nil, []int{13}, 1, 0},
		{"write concern error", []int{0, 1, 2},
			mongo.BulkWriteException{WriteConcernError: &mongo.WriteConcernError{Code: 64}, WriteErrors: []mongo.BulkWriteError{werr(1, 2)}},
			[]int{0, 2}, []int{11}, 0, 0},
		{"an index that was not sent: nothing trusted", []int{0, 1},
			mongo.BulkWriteException{WriteErrors: []mongo.BulkWriteError{werr(0, 11000), werr(5, 2)}}, []int{0, 1}, nil, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSink(&Config{}, nil)
			var res sdk.Result
			next := s.resolve(c.pending, spans, &c.bwe, &res)
			if !slices.Equal(next, c.next) {
				t.Errorf("pending %v, want %v", next, c.next)
			}
			var failed []int
			for _, f := range res.Failures {
				failed = append(failed, f.Index)
				if sdk.IsRetryable(f.Err, true) || !strings.Contains(f.Err.Error(), "rejected by the server (code") {
					t.Errorf("failure %d: %v", f.Index, f.Err)
				}
			}
			if !slices.Equal(failed, c.failed) {
				t.Errorf("failed %v, want %v", failed, c.failed)
			}
			if st := s.Stats(); st.Inserted != c.inserted || st.Present != c.present || st.Rejected != int64(len(c.failed)) {
				t.Errorf("stats %+v, want %d inserted, %d present, %d rejected", st, c.inserted, c.present, len(c.failed))
			}
		})
	}
}
