//go:build integration

package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/connectors/internal/esconn/estest"
	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/harness"
)

func sinkTOML(key, stream, topic, url, index, extra, pluginExtra string) string {
	return fmt.Sprintf(`
type = "sink"
key = %[1]q
enabled = true
version = 0
name = "es e2e sink %[1]s"
path = "libiggy_connector_elasticsearch_sink"
%[6]s
[[streams]]
stream = %[2]q
topics = [%[3]q]
schema = "json"
batch_length = 1000
poll_interval = "5ms"
consumer_group = %[1]q

[plugin_config]
url = %[4]q
index = %[5]q
batch_size = 500
%[7]s`, key, stream, topic, url, index, extra, pluginExtra)
}

// sendN produces messages lo..hi-1 of payload(i) in requests of 1000.
func sendN(t *testing.T, c *iggy.Client, stream, topic string, lo, hi int, payload func(i int) string) {
	t.Helper()
	for a := lo; a < hi; a += 1000 {
		var msgs []iggy.Message
		for i := a; i < min(a+1000, hi); i++ {
			msgs = append(msgs, iggy.Message{ID: iggy.IDFromUint64(uint64(i + 1)), Payload: []byte(payload(i))})
		}
		harness.Send(t, c, stream, topic, msgs)
	}
}

func docPayload(i int) string {
	return fmt.Sprintf(`{"n":%d,"name":"customer %d \"q\" ✓","amount":%d.25,"tags":["a","b%d"],"nested":{"deep":{"k":%d,"ok":%t}}}`, i, i, i, i%7, i*3, i%2 == 0)
}

// TestSinkKill9Replay100k: 100,000 messages to Elasticsearch and to OpenSearch through one
// runtime; the runtime is killed with SIGKILL twice mid-stream and restarted. Every message is then
// a document exactly once: count = distinct n = messages sent (plain HTTP _count and a composite
// aggregation), because replayed messages overwrite their documents (ids from the message identity).
func TestSinkKill9Replay100k(t *testing.T) {
	servers := estest.Servers(t)
	addr := startDevserver(t)
	client := harness.Dial(t, addr)
	const total = 100000
	stream := "ese2e_kill"
	files := map[string]string{}
	indexes := map[string]string{}
	for _, srv := range servers {
		idx := estest.Name("e2e-kill-" + srv.Flavor)
		srv.Cleanup(t, idx)
		indexes[srv.Flavor] = idx
		harness.EnsureTopic(t, client, stream, srv.Flavor, 1)
		sendN(t, client, stream, srv.Flavor, 0, total, docPayload)
		files[srv.Flavor+".toml"] = sinkTOML("sink_"+srv.Flavor, stream, srv.Flavor, srv.URL, idx, "", `index_mapping = '{"settings":{"number_of_replicas":0,"refresh_interval":"1s"}}'`)
	}
	rt := newRuntime(t, "runtime", addr, files)
	rt.Start()
	for k, target := range []int{20000, 55000} {
		harness.WaitFor(t, 120*time.Second, fmt.Sprintf("%d documents on %s", target, servers[0].Flavor), func() bool {
			rt.Alive()
			return servers[0].Count(t, indexes[servers[0].Flavor]) >= target
		})
		counts := map[string]int{}
		for _, srv := range servers {
			counts[srv.Flavor] = srv.Count(t, indexes[srv.Flavor])
		}
		rt.Kill()
		t.Logf("kill -9 #%d at %v documents", k+1, counts)
		if counts[servers[0].Flavor] >= total {
			t.Fatalf("the sink finished before kill %d: too fast to be caught", k+1)
		}
		rt.Start()
	}
	for _, srv := range servers {
		harness.WaitFor(t, 180*time.Second, srv.Flavor+": every message indexed", func() bool {
			rt.Alive()
			return srv.Count(t, indexes[srv.Flavor]) >= total
		})
	}
	time.Sleep(time.Second)
	rt.Stop()
	for _, srv := range servers {
		idx := indexes[srv.Flavor]
		n, distinct := srv.Count(t, idx), srv.DistinctIDs(t, idx, "n")
		if n != total || distinct != total {
			t.Fatalf("%s: count %d, distinct n %d, want both %d", srv.Flavor, n, distinct, total)
		}
		t.Logf("%s: %d messages sent, %d documents, %d distinct, 2 kills", srv.Flavor, total, n, distinct)
	}
}

// TestSinkOutageAndStrictMappingDeadLetter: a sink writing into an index with a strict mapping
// (on_error = dead_letter) while the node is stopped (SIGSTOP) for 10 seconds mid-stream. Requests
// time out, the runtime retries with backoff, and after the node continues every valid message is
// indexed; the messages that violate the mapping, and only they, are on the dead-letter topic.
func TestSinkOutageAndStrictMappingDeadLetter(t *testing.T) {
	mapping := `{"mappings":{"dynamic":"strict","properties":{"n":{"type":"integer"},"name":{"type":"keyword"},"_iggy_offset":{"type":"long"},` +
		`"_iggy_stream":{"type":"keyword"},"_iggy_topic":{"type":"keyword"},"_iggy_partition":{"type":"integer"},"_iggy_timestamp":{"type":"date","format":"epoch_millis"}}}}`
	const total = 6000
	bad := func(i int) bool { return i%1000 == 333 }
	payload := func(i int) string {
		if bad(i) {
			return fmt.Sprintf(`{"n":%d,"name":"x","not_in_mapping":true}`, i)
		}
		return fmt.Sprintf(`{"n":%d,"name":"doc %d"}`, i, i)
	}
	for _, srv := range estest.Servers(t) {
		t.Run(srv.Flavor, func(t *testing.T) {
			if srv.PIDFile == "" {
				t.Fatalf("no pid file of the %s node (IGGY_TEST_..._PIDFILE): scripts/elasticsearch.sh env prints it", srv.Flavor)
			}
			b, err := os.ReadFile(srv.PIDFile)
			if err != nil {
				t.Fatal(err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			addr := startDevserver(t)
			client := harness.Dial(t, addr)
			stream := "ese2e_outage"
			harness.EnsureTopic(t, client, stream, "in", 1)
			harness.EnsureTopic(t, client, stream, "dlq", 1)
			idx := estest.Name("e2e-outage")
			srv.Cleanup(t, idx)
			rt := newRuntime(t, "runtime", addr, map[string]string{"s.toml": sinkTOML("outage", stream, "in", srv.URL, idx,
				"on_error = \"dead_letter\"\n[dead_letter]\nstream = \""+stream+"\"\ntopic = \"dlq\"\n[retry]\nmax_backoff = \"2s\"\n",
				fmt.Sprintf("timeout_seconds = 2\nindex_mapping = %q\n", mapping))})
			sendN(t, client, stream, "in", 0, total/2, payload)
			rt.Start()
			harness.WaitFor(t, 60*time.Second, "the first documents", func() bool { rt.Alive(); return srv.Count(t, idx) >= 1000 })
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			stopped := time.Now()
			func() {
				defer func() { _ = syscall.Kill(pid, syscall.SIGCONT) }()
				sendN(t, client, stream, "in", total/2, total, payload)
				time.Sleep(10*time.Second - time.Since(stopped))
			}()
			t.Logf("%s node stopped for %v", srv.Flavor, time.Since(stopped).Round(time.Millisecond))
			nBad := 0
			for i := 0; i < total; i++ {
				if bad(i) {
					nBad++
				}
			}
			harness.WaitFor(t, 120*time.Second, "every valid message indexed", func() bool { rt.Alive(); return srv.Count(t, idx) >= total-nBad })
			harness.WaitFor(t, 30*time.Second, "the dead letters", func() bool { return harness.TopicCount(t, client, stream, "dlq") >= uint64(nBad) })
			time.Sleep(500 * time.Millisecond)
			rt.Stop()
			if n, d := srv.Count(t, idx), srv.DistinctIDs(t, idx, "n"); n != total-nBad || d != total-nBad {
				t.Fatalf("count %d, distinct %d, want %d", n, d, total-nBad)
			}
			dlq := harness.ReadTopic(t, client, stream, "dlq")
			if len(dlq) != nBad {
				t.Fatalf("%d dead letters, want %d", len(dlq), nBad)
			}
			for _, m := range dlq {
				if !strings.Contains(string(m.Payload), "not_in_mapping") {
					t.Errorf("dead letter of a valid message: %s", m.Payload)
				}
			}
			// the outage was felt: messages were retried, not lost (and not dead-lettered: only the bad ones are there)
			retries := len(rt.Log().Lines("sink plugin asked to retry messages")) + len(rt.Log().Lines("sink plugin failed; retrying"))
			if retries == 0 {
				t.Fatalf("no retry logged while the node was stopped: the outage did not hit a write")
			}
			t.Logf("%s: %d indexed, %d dead letters, %d retries logged during the outage", srv.Flavor, total-nBad, len(dlq), retries)
		})
	}
}

// TestValidateNamesFileAndKey: `iggy-connectors validate` loads the sink plugin and reports a
// missing url and an unknown flavor, each on a line naming its file and key (no server needed).
func TestValidateNamesFileAndKey(t *testing.T) {
	bin := getBinaries(t).runtime
	base := sinkTOML("v1", "s", "t", "http://127.0.0.1:1", "idx", "", "")
	out, err := harness.Validate(t, bin, map[string]string{
		"no_url.toml":     strings.Replace(base, `url = "http://127.0.0.1:1"`, "", 1),
		"bad_flavor.toml": sinkTOML("v2", "s", "t", "http://127.0.0.1:1", "idx", "", `flavor = "solr"`),
	})
	if err == nil {
		t.Fatalf("validate exited 0:\n%s", out)
	}
	for file, key := range map[string]string{"no_url.toml": "plugin_config.url", "bad_flavor.toml": "plugin_config.flavor"} {
		if !harness.ProblemLine(out, file, key) {
			t.Errorf("no problem line names %s and %s:\n%s", file, key, out)
		}
	}
}
