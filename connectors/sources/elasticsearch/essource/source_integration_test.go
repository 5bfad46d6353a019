//go:build integration

package essource

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/connectors/internal/esconn/estest"
	"github.com/iggy-go/connectors/sdk"
)

func newTestSource(t *testing.T, cfgJSON string, state []byte) *Source {
	t.Helper()
	cfg, err := sdk.DecodeConfig[Config]([]byte(cfgJSON))
	if err != nil {
		t.Fatalf("config %s: %v", cfgJSON, err)
	}
	s := newSource(cfg, state, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func poll(t *testing.T, s *Source) sdk.Batch {
	t.Helper()
	b, err := s.Poll(context.Background())
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	return b
}

// fill indexes n documents: the first same of them share one timestamp, the others one each.
func fill(t *testing.T, srv estest.Server, idx string, n, same int) {
	t.Helper()
	srv.Must(t, "PUT", "/"+idx, `{"mappings":{"properties":{"ts":{"type":"date"},"kind":{"type":"keyword"}}}}`, nil)
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var b strings.Builder
	for i := 0; i < n; i++ {
		ts := base
		if i >= same {
			ts = base.Add(time.Duration(i) * time.Second)
		}
		kind := "even"
		if i%2 == 1 {
			kind = "odd"
		}
		fmt.Fprintf(&b, "{\"index\":{\"_index\":%q,\"_id\":\"doc-%d\"}}\n{\"i\":%d,\"ts\":%q,\"kind\":%q,\"nested\":{\"k\":[%d]}}\n", idx, i, i, ts.Format(time.RFC3339Nano), kind, i)
		if (i+1)%500 == 0 || i == n-1 {
			srv.Bulk(t, b.String())
			b.Reset()
		}
	}
}

// drain polls until an empty batch and returns the i fields of the documents, committing each batch.
func drain(t *testing.T, s *Source) (is []int, last []byte) {
	t.Helper()
	for k := 0; k < 1000; k++ {
		b := poll(t, s)
		if len(b.Messages) == 0 {
			return is, last
		}
		for _, m := range b.Messages {
			var d struct{ I int }
			if err := json.Unmarshal(m.Payload, &d); err != nil {
				t.Fatal(err)
			}
			is = append(is, d.I)
		}
		last = b.State
		if b.OnCommit != nil {
			_ = b.OnCommit(context.Background())
		}
	}
	t.Fatal("source never ran dry")
	return nil, nil
}

func checkOnce(t *testing.T, is []int, n int) {
	t.Helper()
	seen := map[int]int{}
	for _, i := range is {
		seen[i]++
	}
	for i := 0; i < n; i++ {
		if seen[i] != 1 {
			t.Errorf("document %d delivered %d times", i, seen[i])
		}
	}
	if len(is) != n {
		t.Errorf("%d documents delivered, want %d", len(is), n)
	}
}

// TestSourceEqualTimestampsAndRestart: 500 documents sharing one timestamp plus 120 later ones,
// read 100 at a time, all arrive exactly once; a new instance built with the state of the last
// committed batch resumes without re-sending; one built with an earlier state re-sends exactly the
// batches after it (a crash between Iggy's send and the commit loses nothing).
func TestSourceEqualTimestampsAndRestart(t *testing.T) {
	for _, srv := range estest.Servers(t) {
		t.Run(srv.Flavor, func(t *testing.T) {
			idx := estest.Name("src-equal")
			srv.Cleanup(t, idx)
			fill(t, srv, idx, 620, 500)
			cfg := fmt.Sprintf(`{"url":%q,"index":%q,"timestamp_field":"ts","batch_size":100,"polling_interval":"50ms"}`, srv.URL, idx)
			s := newTestSource(t, cfg, nil)
			first := poll(t, s)
			if len(first.Messages) != 100 {
				t.Fatalf("first poll: %d messages", len(first.Messages))
			}
			var d map[string]any
			_ = json.Unmarshal(first.Messages[0].Payload, &d)
			if d["ts"] == nil || d["nested"] == nil || d["kind"] == nil {
				t.Errorf("payload lost fields: %s", first.Messages[0].Payload)
			}
			second := poll(t, s)
			rest, last := drain(t, s)
			var all []int
			for _, b := range []sdk.Batch{first, second} {
				for _, m := range b.Messages {
					var x struct{ I int }
					_ = json.Unmarshal(m.Payload, &x)
					all = append(all, x.I)
				}
			}
			all = append(all, rest...)
			checkOnce(t, all, 620)

			// deterministic ids
			again := newTestSource(t, cfg, nil)
			b := poll(t, again)
			ids := map[[16]byte]bool{}
			for _, m := range first.Messages {
				ids[*m.ID] = true
			}
			for _, m := range b.Messages {
				if !ids[*m.ID] {
					t.Fatalf("ids differ between two reads of the same documents")
				}
			}

			// restart from the last committed state: nothing more
			resumed := newTestSource(t, cfg, last)
			if b := poll(t, resumed); len(b.Messages) != 0 {
				t.Errorf("restart re-sent %d documents", len(b.Messages))
			}
			// new documents after the restart arrive
			srv.Bulk(t, fmt.Sprintf("{\"index\":{\"_index\":%q,\"_id\":\"late\"}}\n{\"i\":9999,\"ts\":\"2026-06-01T00:00:00Z\"}\n", idx))
			if b := poll(t, resumed); len(b.Messages) != 1 {
				t.Errorf("new document after restart: %d messages", len(b.Messages))
			}

			// crash after batch 2 was sent but before its commit: the runtime restarts with batch 1's state
			crashed := newTestSource(t, cfg, first.State)
			redo, _ := drain(t, crashed)
			if len(redo) != 521 {
				t.Errorf("after a crash before batch 2's commit: %d documents re-read, want 521 (batches 2.. and the late one)", len(redo))
			}
		})
	}
}

// TestSourceEmptyIndexAndQuery: an empty index yields empty batches and no error; query filters.
func TestSourceEmptyIndexAndQuery(t *testing.T) {
	for _, srv := range estest.Servers(t) {
		t.Run(srv.Flavor, func(t *testing.T) {
			empty := estest.Name("src-empty")
			srv.Cleanup(t, empty)
			srv.Must(t, "PUT", "/"+empty, "{}", nil)
			s := newTestSource(t, fmt.Sprintf(`{"url":%q,"index":%q,"polling_interval":"2s"}`, srv.URL, empty), nil)
			for k := 0; k < 3; k++ {
				b := poll(t, s)
				if len(b.Messages) != 0 || b.State != nil || b.WaitHint != 2*time.Second {
					t.Fatalf("empty index: %d messages, state %v, wait %v", len(b.Messages), b.State, b.WaitHint)
				}
			}
			idx := estest.Name("src-query")
			srv.Cleanup(t, idx)
			fill(t, srv, idx, 50, 0)
			q := newTestSource(t, fmt.Sprintf(`{"url":%q,"index":%q,"timestamp_field":"ts","query":{"term":{"kind":"odd"}},"batch_size":7}`, srv.URL, idx), nil)
			got, _ := drain(t, q)
			if len(got) != 25 {
				t.Fatalf("query kind=odd: %d documents, want 25", len(got))
			}
			for k, i := range got {
				if i%2 != 1 || (k > 0 && got[k-1] > i) {
					t.Fatalf("query kind=odd or order: %v", got)
				}
			}
			// a pattern and a list: the empty index (no ts mapping) beside the filled one
			p := newTestSource(t, fmt.Sprintf(`{"url":%q,"index":%q,"timestamp_field":"ts","batch_size":20}`, srv.URL, idx+"*,"+empty), nil)
			if all, _ := drain(t, p); len(all) != 50 {
				t.Fatalf("pattern %s*,%s: %d documents, want 50", idx, empty, len(all))
			}
		})
	}
}
