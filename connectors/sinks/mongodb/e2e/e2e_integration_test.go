//go:build integration

package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iggy-go/connectors/connectors/sinks/mongodb/mongotest"
	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/harness"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

// TestMain doubles as the plugin host of the process transport.
func TestMain(m *testing.M) { harness.Main(m) }

// runtimeBin builds (once per test process) iggy-connectors, iggy-devserver and the MongoDB sink
// plugin in the installation layout, and returns the runtime binary.
func runtimeBin(t *testing.T) string {
	t.Helper()
	pluginbuild.GoPlugin(t, "connectors/sinks/mongodb", "iggy_connector_mongodb_sink")
	return pluginbuild.Runtime(t)
}

// runtimeProc is one iggy-connectors installation (harness.Installation) a test starts, kills
// and restarts.
type runtimeProc struct {
	*harness.Installation
	t *testing.T
}

// newRuntime creates an installation with the one connector file file.
func newRuntime(t *testing.T, iggyAddr, file, body string) *runtimeProc {
	t.Helper()
	return &runtimeProc{Installation: harness.NewInstallation(t, "runtime", runtimeBin(t), iggyAddr, map[string]string{file: body}), t: t}
}

// committed is the offset the sink's consumer group stored on partition 0 of stream/events.
func committed(t *testing.T, c *iggy.Client, stream string) int64 {
	return harness.GroupOffset(t, c, stream, "events", "iggy-connect-sink-mongo", 0)
}

// waitCommitted waits until the sink committed offset at (and more holds, when given), failing
// the test if the runtime exits meanwhile.
func (r *runtimeProc) waitCommitted(c *iggy.Client, stream string, at int64, timeout time.Duration, more func() bool) {
	r.t.Helper()
	harness.WaitFor(r.t, timeout, fmt.Sprintf("the sink's committed offset at %d", at), func() bool {
		r.Alive()
		return committed(r.t, c, stream) >= at && (more == nil || more())
	})
}

// sinkFile is a connector file for the MongoDB sink reading stream/topic (schema json).
func sinkFile(key, stream, topic, uri, db, extraTop, extraPlugin string) string {
	return fmt.Sprintf(`
type = "sink"
key = %[1]q
enabled = true
version = 0
name = "mongodb e2e %[1]s"
path = "libiggy_connector_mongodb_sink"
%[6]s
[[streams]]
stream = %[2]q
topics = [%[3]q]
schema = "json"
batch_length = 200
poll_interval = "5ms"

[plugin_config]
connection_uri = %[4]q
database = %[5]q
collection = "events"
payload_format = "json"
batch_size = 100
verbose_logging = true
%[7]s
`, key, stream, topic, uri, db, extraTop, extraPlugin)
}

func event(n int) iggy.Message {
	return iggy.Message{ID: iggy.IDFromUint64(uint64(n) + 1),
		Payload: fmt.Appendf(nil, `{"n":%d,"kind":"order","amount":%d.25,"tags":["x","y"],"customer":{"id":%d}}`, n, n%1000, n%77)}
}

// produce sends messages first..first+count-1 to stream/topic in requests of per.
func produce(t *testing.T, c *iggy.Client, stream, topic string, first, count, per int) {
	t.Helper()
	for lo := first; lo < first+count; lo += per {
		msgs := make([]iggy.Message, 0, per)
		for n := lo; n < min(lo+per, first+count); n++ {
			msgs = append(msgs, event(n))
		}
		harness.Send(t, c, stream, topic, msgs)
	}
}

// checkExactlyOnce reads the collection with pymongo: count = distinct _id = total, offsets 0..total-1.
func checkExactlyOnce(t *testing.T, uri, db string, total int) mongotest.Stats {
	t.Helper()
	st := mongotest.ReadStats(t, uri, db, "events")
	var g struct {
		n, min, max int64
		ok          bool
	}
	for _, v := range st.Groups {
		g.n, g.min, g.max, g.ok = v.N, v.Min, v.Max, v.Contiguous
	}
	if st.Count != int64(total) || st.DistinctIDs != int64(total) || len(st.Groups) != 1 || g.n != int64(total) || g.min != 0 || g.max != int64(total-1) || !g.ok {
		t.Fatalf("pymongo: %+v, want %d documents, %d distinct _id, offsets 0..%d once each", st, total, total, total-1)
	}
	return st
}

// fixture is what every test starts with: a database of its own on the MongoDB server at uri,
// an iggy-devserver (in memory) with a client, and a stream with topic "events" (one partition).
type fixture struct {
	db     *mongotest.DB
	addr   string // Iggy
	client *iggy.Client
	stream string
}

func newFixture(t *testing.T, uri, prefix string) fixture {
	t.Helper()
	db := mongotest.NewDB(t, uri, "e2e_"+prefix+"_")
	srv := harness.StartDevserver(t, harness.DevserverOptions{Bin: pluginbuild.Devserver(t)})
	f := fixture{db: db, addr: srv.Addr, client: harness.Dial(t, srv.Addr), stream: "mongo_" + prefix + "_" + db.Suffix}
	harness.EnsureTopic(t, f.client, f.stream, "events", 1)
	return f
}

// TestKill9ExactlyOnce kills the runtime with SIGKILL three times while the sink writes 20 000
// messages and restarts it each time: every message ends up in the collection exactly once (count
// = distinct _id = messages produced, contiguous offsets), checked with pymongo.
func TestKill9ExactlyOnce(t *testing.T) {
	uri := mongotest.URI(t)
	f := newFixture(t, uri, "kill")
	db, client, stream := f.db, f.client, f.stream
	const total = 20_000
	produce(t, client, stream, "events", 0, total, 1000)

	rt := newRuntime(t, f.addr, "mongo.toml", sinkFile("mongo", stream, "events", uri, db.Name, "", ""))
	rt.Start()
	kills := 0
	for _, at := range []int64{3000, 8000, 13000} {
		rt.waitCommitted(client, stream, at, 120*time.Second, nil)
		rt.Proc().Kill()
		kills++
		t.Logf("kill -9 #%d at committed offset %d", kills, committed(t, client, stream))
		rt.Start()
	}
	rt.waitCommitted(client, stream, total-1, 180*time.Second, nil)
	time.Sleep(300 * time.Millisecond)
	if !rt.Proc().Stop(30 * time.Second) {
		t.Fatal("the runtime did not stop on SIGTERM")
	}
	checkExactlyOnce(t, uri, db.Name, total)
	replays := 0
	for _, l := range rt.Log().Lines(`msg="mongodb sink wrote batch"`) {
		if !strings.Contains(l, "already_present=0") {
			replays++
		}
	}
	t.Logf("%d messages, %d kills, %d batches written partly or wholly twice (already present), collection exact", total, kills, replays)
}

// TestServerStoppedTenSeconds stops a private FerretDB for 10 s while messages keep arriving: the
// sink (in a plugin-host child process: transport = "process") retries inside the plugin, then
// through the runtime's [retry], resumes when the server is back, and the collection ends with
// every message once.
func TestServerStoppedTenSeconds(t *testing.T) {
	mdb := mongotest.StartServer(t)
	f := newFixture(t, mdb.URI, "outage")
	db, client, stream := f.db, f.client, f.stream
	uri := mdb.URI + "?serverSelectionTimeoutMS=1000&connectTimeoutMS=1000"
	rt := newRuntime(t, f.addr, "mongo.toml", sinkFile("mongo", stream, "events", uri, db.Name,
		"transport = \"process\"\n[retry]\ninitial_backoff = \"200ms\"\nmax_backoff = \"2s\"\n", "max_retries = 3\nretry_delay = \"200ms\""))
	rt.Start()

	const total, per = 12_000, 100
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a request every 25 ms: about 30 s of traffic
		defer wg.Done()
		for lo := 0; lo < total; lo += per {
			msgs := make([]iggy.Message, per)
			for i := range msgs {
				msgs[i] = event(lo + i)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := client.SendMessages(ctx, iggy.NamedID(stream), iggy.NamedID("events"), iggy.Balanced(), msgs)
			cancel()
			if err != nil {
				t.Error(err)
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
	}()
	rt.waitCommitted(client, stream, 1500, 60*time.Second, nil)
	before := committed(t, client, stream)
	mdb.Stop()
	stopped := time.Now()
	time.Sleep(10 * time.Second)
	during := committed(t, client, stream)
	mdb.Start()
	t.Logf("FerretDB down for %v: committed offset %d when it stopped, %d when it came back", time.Since(stopped).Round(time.Millisecond), before, during)
	wg.Wait()
	rt.waitCommitted(client, stream, total-1, 180*time.Second, nil)
	time.Sleep(300 * time.Millisecond)
	rt.Proc().Stop(30 * time.Second)
	checkExactlyOnce(t, mdb.URI, db.Name, total)
	pluginRetries, runtimeRetries := rt.Count("mongodb sink: transient error, retrying"), rt.Count("retrying")
	if pluginRetries == 0 {
		t.Fatal("the sink logged no retry although the server was down for 10 s")
	}
	if during > before+2*200 { // at most the batches in flight when it stopped
		t.Errorf("the committed offset moved from %d to %d while the server was down", before, during)
	}
	t.Logf("%d messages once each; retries logged: %d by the sink, %d lines mentioning retrying", total, pluginRetries, runtimeRetries)
}

// TestDeadLetter sends messages the server rejects (nested arrays, a dotted key, a NUL in a
// string) and messages the sink rejects (invalid JSON with schema raw) among valid ones with
// on_error = "dead_letter": exactly the bad ones land on the dead-letter topic, unchanged and with
// error headers, and every other message is in the collection.
func TestDeadLetter(t *testing.T) {
	uri := mongotest.URI(t)
	f := newFixture(t, uri, "dlq")
	db, client, stream := f.db, f.client, f.stream
	harness.EnsureTopic(t, client, stream, "dlq", 1)
	const total = 400
	bad := map[int]string{}
	msgs := make([]iggy.Message, total)
	for i := range msgs {
		msgs[i] = event(i)
		switch {
		case i%50 == 7:
			msgs[i].Payload, bad[i] = fmt.Appendf(nil, `{"n":%d,"grid":[[1],[2]]}`, i), "nested array"
		case i%50 == 19:
			msgs[i].Payload, bad[i] = fmt.Appendf(nil, `{"n":%d,"a.b":true}`, i), "dotted key"
		case i == 123:
			msgs[i].Payload, bad[i] = fmt.Appendf(nil, `{"n":%d,"s":"\u0000"}`, i), "NUL"
		case i == 321:
			msgs[i].Payload, bad[i] = fmt.Appendf(nil, `{"n":%d,`, i), "invalid JSON"
		}
	}
	for lo := 0; lo < total; lo += 90 {
		harness.Send(t, client, stream, "events", msgs[lo:min(lo+90, total)])
	}
	file := strings.Replace(sinkFile("mongo", stream, "events", uri, db.Name,
		fmt.Sprintf("on_error = \"dead_letter\"\n[dead_letter]\nstream = %q\ntopic = \"dlq\"\n", stream), ""),
		`schema = "json"`, `schema = "raw"`, 1)
	rt := newRuntime(t, f.addr, "mongo.toml", file)
	rt.Start()
	rt.waitCommitted(client, stream, total-1, 120*time.Second, func() bool {
		return harness.TopicCount(t, client, stream, "dlq") >= uint64(len(bad))
	})
	time.Sleep(300 * time.Millisecond)
	rt.Proc().Stop(30 * time.Second)

	st := mongotest.ReadStats(t, uri, db.Name, "events")
	if want := int64(total - len(bad)); st.Count != want || st.DistinctIDs != want {
		t.Fatalf("pymongo: %+v, want %d documents", st, want)
	}
	dead := harness.ReadTopic(t, client, stream, "dlq")
	if len(dead) != len(bad) {
		t.Fatalf("%d dead letters, want %d", len(dead), len(bad))
	}
	for _, m := range dead {
		var off, stage, msg string
		for _, h := range m.Headers {
			switch string(h.Key) {
			case "iggy-connect-error-offset":
				off = string(h.Value)
			case "iggy-connect-error-stage":
				stage = string(h.Value)
			case "iggy-connect-error-message":
				msg = string(h.Value)
			}
		}
		i, err := strconv.Atoi(off)
		if err != nil || bad[i] == "" {
			t.Errorf("dead letter with offset header %q is not a bad message", off)
			continue
		}
		if string(m.Payload) != string(msgs[i].Payload) || m.ID != msgs[i].ID || stage != "plugin" || msg == "" {
			t.Errorf("dead letter of offset %d (%s): payload %q stage %q message %q", i, bad[i], m.Payload, stage, msg)
		}
		t.Logf("dead letter %d (%s): %.120s", i, bad[i], msg)
	}
}

// TestValidateNamesFileAndKey runs `iggy-connectors validate` on connector files with a missing
// collection and a bad payload_format: each problem names its file and key.
func TestValidateNamesFileAndKey(t *testing.T) {
	so := pluginbuild.GoPlugin(t, "connectors/sinks/mongodb", "iggy_connector_mongodb_sink")
	base := strings.Replace(sinkFile("m1", "s", "t", "mongodb://user:pw@127.0.0.1:27017/", "iggy", "", ""),
		`path = "libiggy_connector_mongodb_sink"`, fmt.Sprintf("path = %q", so), 1)
	text, err := harness.Validate(t, runtimeBin(t), map[string]string{
		"no_collection.toml":  strings.Replace(base, `collection = "events"`, "", 1),
		"bad_format.toml":     strings.Replace(strings.Replace(base, `payload_format = "json"`, `payload_format = "xml"`, 1), `key = "m1"`, `key = "m2"`, 1),
		"unacknowledged.toml": strings.Replace(strings.Replace(base, "27017/", "27017/?w=0", 1), `key = "m1"`, `key = "m3"`, 1),
	})
	if err == nil {
		t.Fatalf("validate exited 0:\n%s", text)
	}
	for file, key := range map[string]string{"no_collection.toml": "plugin_config.collection", "bad_format.toml": "plugin_config.payload_format",
		"unacknowledged.toml": "plugin_config.connection_uri"} {
		if !harness.ProblemLine(text, file, key) {
			t.Errorf("no problem line names %s and %s:\n%s", file, key, text)
		}
	}
	if strings.Contains(text, "user:pw") {
		t.Errorf("validate printed the connection string's password:\n%s", text)
	}
	t.Logf("validate:\n%s", text)
}
