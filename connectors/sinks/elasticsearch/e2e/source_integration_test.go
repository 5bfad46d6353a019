//go:build integration

package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/connectors/internal/esconn/estest"
	"github.com/iggy-go/connectors/test/harness"
	"github.com/vmihailenco/msgpack/v5"
)

// sourceState mirrors essource.State (MessagePack array).
type sourceState struct {
	LastPollTimestamp     string
	TotalDocumentsFetched uint64
	PollCount             uint64
	Cursor                string
	SeenAtCursor          []string
}

func readState(t *testing.T, path string) (st sourceState, ok bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) || len(b) == 0 {
		return st, false
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := msgpack.Unmarshal(b, &st); err != nil {
		t.Fatalf("state %s: %v", path, err)
	}
	return st, true
}

// TestSourceKill9BetweenSendAndCommit: 3,000 documents (in groups of 300 sharing one timestamp)
// flow from each server into Iggy through the runtime, 100 per batch. Twice the runtime is frozen
// right after Iggy grew and killed with SIGKILL while its persisted state is behind what Iggy holds
// (a batch sent, not committed). After the restarts every document is in Iggy (distinct es_id =
// 3,000), the only duplicates are the replayed uncommitted batches with the same deterministic ids,
// and a graceful restart afterwards re-sends nothing. An empty index beside it produces nothing and
// no error.
func TestSourceKill9BetweenSendAndCommit(t *testing.T) {
	for _, srv := range estest.Servers(t) {
		t.Run(srv.Flavor, func(t *testing.T) {
			const total = 3000
			idx := estest.Name("e2e-src")
			empty := estest.Name("e2e-src-empty")
			srv.Cleanup(t, idx)
			srv.Cleanup(t, empty)
			srv.Must(t, "PUT", "/"+idx, `{"mappings":{"properties":{"ts":{"type":"date"}}}}`, nil)
			srv.Must(t, "PUT", "/"+empty, `{}`, nil)
			base := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
			var b strings.Builder
			for i := 0; i < total; i++ {
				fmt.Fprintf(&b, "{\"index\":{\"_index\":%q,\"_id\":\"d%d\"}}\n{\"i\":%d,\"ts\":%q,\"payload\":{\"text\":\"document %d\",\"list\":[%d,%d]}}\n",
					idx, i, i, base.Add(time.Duration(i/300)*time.Minute).Format(time.RFC3339), i, i, i*2)
				if (i+1)%1000 == 0 {
					srv.Bulk(t, b.String())
					b.Reset()
				}
			}
			addr := startDevserver(t)
			client := harness.Dial(t, addr)
			stream := "ese2e_src"
			harness.EnsureTopic(t, client, stream, "docs", 1)
			harness.EnsureTopic(t, client, stream, "empty", 1)
			source := func(key, topic, index string) string {
				return fmt.Sprintf(`
type = "source"
key = %q
enabled = true
version = 0
name = "es e2e source"
path = "libiggy_connector_elasticsearch_source"

[[streams]]
stream = %q
topic = %q
schema = "json"
batch_length = 100

[plugin_config]
url = %q
index = %q
timestamp_field = "ts"
batch_size = 100
polling_interval = "100ms"
`, key, stream, topic, srv.URL, index)
			}
			rt := newRuntime(t, "runtime", addr, map[string]string{"docs.toml": source("docs", "docs", idx), "empty.toml": source("empty", "empty", empty)})
			statePath := filepath.Join(rt.StateDir(), "source_docs.state")
			count := func() uint64 { return harness.TopicCount(t, client, stream, "docs") }
			kills := 0
			for kills < 2 {
				rt.Start()
				last := count()
				deadline := time.Now().Add(60 * time.Second)
				for {
					if time.Now().After(deadline) {
						t.Fatalf("no send/commit window caught in 60 s (kill %d)", kills+1)
					}
					rt.Alive()
					n := count()
					if n == last {
						time.Sleep(time.Millisecond)
						continue
					}
					last = n
					rt.Proc().Signal(syscall.SIGSTOP)
					time.Sleep(30 * time.Millisecond)
					n = count()
					st, _ := readState(t, statePath)
					// each kill further on: the first after 500 messages, the second after 1,500
					if st.TotalDocumentsFetched < n && n >= uint64(500+1000*kills) && n < total {
						rt.Kill()
						kills++
						t.Logf("kill -9 #%d: Iggy holds %d messages, persisted state says %d delivered", kills, n, st.TotalDocumentsFetched)
						break
					}
					rt.Proc().Signal(syscall.SIGCONT)
				}
			}
			rt.Start()
			harness.WaitFor(t, 60*time.Second, "every document in Iggy", func() bool {
				rt.Alive()
				ids := map[string]bool{}
				for _, m := range harness.ReadTopic(t, client, stream, "docs") {
					for _, h := range m.Headers {
						if string(h.Key) == "es_id" {
							ids[string(h.Value)] = true
						}
					}
				}
				return len(ids) == total
			})
			time.Sleep(500 * time.Millisecond)
			rt.Stop()
			msgs := harness.ReadTopic(t, client, stream, "docs")
			byID := map[string]int{}
			msgIDs := map[string][16]byte{}
			for _, m := range msgs {
				var esID string
				for _, h := range m.Headers {
					if string(h.Key) == "es_id" {
						esID = string(h.Value)
					}
				}
				byID[esID]++
				if prev, ok := msgIDs[esID]; ok && prev != [16]byte(m.ID) {
					t.Fatalf("document %s replayed under another message id", esID)
				}
				msgIDs[esID] = [16]byte(m.ID)
				if !strings.Contains(string(m.Payload), `"payload":{"text":"document `) {
					t.Fatalf("payload lost fields: %s", m.Payload)
				}
			}
			for i := 0; i < total; i++ {
				if byID[fmt.Sprintf("d%d", i)] == 0 {
					t.Fatalf("document d%d lost", i)
				}
			}
			dups := len(msgs) - total
			st, _ := readState(t, statePath)
			t.Logf("%s: %d documents, %d messages in Iggy (%d replayed after %d kills), state says %d delivered", srv.Flavor, total, len(msgs), dups, kills, st.TotalDocumentsFetched)

			// graceful restart: nothing re-sent
			rt.Start()
			time.Sleep(2 * time.Second)
			rt.Alive()
			rt.Stop()
			if n := count(); n != uint64(len(msgs)) {
				t.Fatalf("a restart re-sent %d messages", n-uint64(len(msgs)))
			}
			if n := harness.TopicCount(t, client, stream, "empty"); n != 0 {
				t.Fatalf("the empty index produced %d messages", n)
			}
			if errs := rt.Log().Lines("level=ERROR"); len(errs) > 0 {
				t.Fatalf("errors logged: %v", errs)
			}
		})
	}
}
