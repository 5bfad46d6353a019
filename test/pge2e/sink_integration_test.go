//go:build integration

package pge2e

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/harness"
)

// badKind says whether message i of the bad-row test is bad, and how: "" (valid), "syntax"
// (invalid JSON), "nul" (valid JSON that jsonb refuses: \u0000) or "utf8" (invalid UTF-8).
func badKind(i int) string {
	switch {
	case i%50 == 7:
		return "syntax"
	case i%50 == 23:
		return "nul"
	case i == 150:
		return "utf8"
	}
	return ""
}

func badPayload(i int) []byte {
	switch badKind(i) {
	case "syntax":
		return []byte(fmt.Sprintf(`{"n": %d, "broken": `, i))
	case "nul":
		return []byte(fmt.Sprintf(`{"n":%d,"s":"nul \u0000 here"}`, i))
	case "utf8":
		return []byte(fmt.Sprintf("{\"n\":%d,\"s\":\"\xff\"}", i))
	}
	return []byte(fmt.Sprintf(`{"n":%d,"v":"ok ✓","arr":[1,2,{"x":null}]}`, i))
}

// TestSinkBadRowsSkipAndDeadLetter sends 300 messages, 13 of them unstorable in a jsonb table,
// through four PostgreSQL sinks: on_error skip and dead_letter, each once with schema raw (the
// plugin finds the bad rows: its own JSON check, and PostgreSQL rejecting \u0000 and invalid UTF-8,
// isolated by bisection) and once with schema json plus a transform (the runtime's decoder finds
// invalid JSON and UTF-8; \u0000 still reaches PostgreSQL). The good rows are all written, the bad
// ones are counted (skip) or appear on the dead-letter topic as they were sent, with error headers.
func TestSinkBadRowsSkipAndDeadLetter(t *testing.T) {
	db := newTestDB(t)
	addr := startDevserver(t)
	client := dialIggy(t, addr)
	stream := harness.Stream(t, "pge2e_bad_"+db.suffix) // deleted at the end on a shared server
	const total = 300

	type variant struct {
		key, onError, schema string
		transform            bool
	}
	variants := []variant{
		{"skip_plugin", "skip", "raw", false},
		{"skip_decode", "skip", "json", true},
		{"dlq_plugin", "dead_letter", "raw", false},
		{"dlq_decode", "dead_letter", "json", true},
	}
	files := map[string]string{}
	for _, v := range variants {
		ensureTopic(t, client, stream, "in_"+v.key)
		var extra string
		if v.onError == "dead_letter" {
			ensureTopic(t, client, stream, "dlq_"+v.key)
			extra = fmt.Sprintf("\n[dead_letter]\nstream = %q\ntopic = %q\n", stream, "dlq_"+v.key)
		}
		if v.transform {
			extra += "\n[[transforms]]\ntype = \"add_fields\"\nfields = [{ key = \"pipeline\", value.static = \"pge2e\" }]\n"
		}
		files[v.key+".toml"] = fmt.Sprintf(`
type = "sink"
key = %[1]q
enabled = true
version = 0
name = "pge2e bad rows %[1]s"
path = "libiggy_connector_postgres_sink"
on_error = %[2]q
%[3]s
[[streams]]
stream = %[4]q
topics = [%[5]q]
schema = %[6]q
batch_length = 100
poll_interval = "5ms"

[plugin_config]
connection_string = %[7]q
target_table = %[8]q
auto_create_table = true
payload_format = "jsonb"
batch_size = 50
`, v.key, v.onError, extra, stream, "in_"+v.key, v.schema, db.url, db.table(v.key))
	}
	rt := newRuntime(t, "runtime", addr, files)

	var want []string // n of the good messages, as text
	bad := 0
	for i := 0; i < total; i++ {
		if badKind(i) == "" {
			want = append(want, strconv.Itoa(i))
		} else {
			bad++
		}
	}
	sort.Strings(want)
	for _, v := range variants {
		msgs := make([]iggy.Message, total)
		for i := range msgs {
			msgs[i] = iggy.Message{ID: iggy.IDFromUint64(uint64(i + 1)), Headers: []iggy.Header{iggy.StringHeader("origin", "pge2e")},
				Payload: badPayload(i)}
		}
		// several requests, so bad rows fall into different batches
		for lo := 0; lo < total; lo += 70 {
			if _, err := client.SendMessages(harness.Ctx(t), iggy.NamedID(stream), iggy.NamedID("in_"+v.key), iggy.Balanced(), msgs[lo:min(lo+70, total)]); err != nil {
				t.Fatal(err)
			}
		}
	}

	rt.Start()
	for _, v := range variants {
		waitFor(t, 60*time.Second, v.key+": every good row written", func() bool {
			if rt.Proc().Exited() {
				t.Fatalf("runtime exited: %v", rt.Proc().Err())
			}
			var n int
			err := db.conn.QueryRow(context.Background(), "SELECT count(*) FROM "+db.q(v.key)).Scan(&n)
			return err == nil && n >= total-bad
		})
	}
	waitFor(t, 30*time.Second, "every bad message handled", func() bool {
		n := 0
		for _, v := range variants {
			if v.onError == "skip" {
				n += rt.Count(`msg="message skipped (on_error = skip)"`, "connector="+v.key)
			} else {
				n += int(topicCount(t, client, stream, "dlq_"+v.key))
			}
		}
		return n >= 4*bad
	})
	time.Sleep(200 * time.Millisecond)
	rt.Stop()

	for _, v := range variants {
		got := db.psql(fmt.Sprintf(`SELECT count(*) || ' ' || count(DISTINCT payload->>'n') || ' ' || string_agg(payload->>'n', ',' ORDER BY payload->>'n')
			FROM %s`, db.q(v.key)))
		if wantStr := fmt.Sprintf("%d %d %s", len(want), len(want), strings.Join(want, ",")); got != wantStr {
			t.Errorf("%s: rows (count, distinct, n) = %.200s..., want %.200s...", v.key, got, wantStr)
		}
		if v.transform {
			if n := db.psql(fmt.Sprintf(`SELECT count(*) FROM %s WHERE payload->>'pipeline' IS DISTINCT FROM 'pge2e' OR payload->'arr' <> '[1,2,{"x":null}]'::jsonb`, db.q(v.key))); n != "0" {
				t.Errorf("%s: %s rows without the transform's field or with altered content", v.key, n)
			}
		}
		if v.onError == "skip" {
			if n := rt.Count(`msg="message skipped (on_error = skip)"`, "connector="+v.key); n != bad {
				t.Errorf("%s: %d skips logged, want %d", v.key, n, bad)
			}
			t.Logf("%s (schema %s): %d rows written, %d skipped", v.key, v.schema, len(want), bad)
			continue
		}
		dead := readTopic(t, client, stream, "dlq_"+v.key)
		if len(dead) != bad {
			t.Errorf("%s: %d messages on the dead-letter topic, want %d", v.key, len(dead), bad)
		}
		stages := map[string]int{}
		for _, m := range dead {
			off, _ := headerValue(m, "iggy-connect-error-offset")
			i, err := strconv.Atoi(off)
			if err != nil || badKind(i) == "" {
				t.Errorf("%s: dead letter with offset header %q (not a bad message)", v.key, off)
				continue
			}
			if string(m.Payload) != string(badPayload(i)) || m.ID != iggy.IDFromUint64(uint64(i+1)) {
				t.Errorf("%s: dead letter of offset %d: payload %q id %x, want the original %q", v.key, i, m.Payload, m.ID, badPayload(i))
			}
			stage, _ := headerValue(m, "iggy-connect-error-stage")
			wantStage := "plugin"
			if v.transform && badKind(i) != "nul" {
				wantStage = "decode"
			}
			for k, w := range map[string]string{"origin": "pge2e", "iggy-connect-error-connector": v.key,
				"iggy-connect-error-stream": stream, "iggy-connect-error-topic": "in_" + v.key, "iggy-connect-error-stage": wantStage} {
				if got, _ := headerValue(m, k); got != w {
					t.Errorf("%s: dead letter of offset %d: header %s = %q, want %q", v.key, i, k, got, w)
				}
			}
			if msg, _ := headerValue(m, "iggy-connect-error-message"); msg == "" {
				t.Errorf("%s: dead letter of offset %d without an error message header", v.key, i)
			}
			if _, ok := headerValue(m, "iggy-connect-error-partition"); !ok {
				t.Errorf("%s: dead letter of offset %d without a partition header", v.key, i)
			}
			stages[badKind(i)+"@"+stage]++
		}
		t.Logf("%s (schema %s): %d rows written, %d dead-lettered with headers, by kind@stage %v", v.key, v.schema, len(want), len(dead), stages)
	}
}

// TestSinkRecoversFromConnectionLoss streams 30 000 messages into a PostgreSQL sink (in a plugin
// host child process: transport = "process") while its PostgreSQL connections are terminated
// with pg_terminate_backend again and again: every message ends up in the table exactly once.
func TestSinkRecoversFromConnectionLoss(t *testing.T) {
	db := newTestDB(t)
	addr := startDevserver(t)
	client := dialIggy(t, addr)
	stream := harness.Stream(t, "pge2e_loss_"+db.suffix) // deleted at the end on a shared server
	ensureTopic(t, client, stream, "events")
	const total, per = 30000, 500
	app := "pge2e_sink_" + db.suffix
	u, err := url.Parse(db.url)
	if err != nil {
		t.Fatalf("IGGY_TEST_PG_URL: %v", err)
	}
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()

	rt := newRuntime(t, "runtime", addr, map[string]string{"events.toml": fmt.Sprintf(`
type = "sink"
key = "events_pg"
enabled = true
version = 0
name = "pge2e connection loss"
path = "libiggy_connector_postgres_sink"
transport = "process"

[[streams]]
stream = %q
topics = ["events"]
schema = "json"
batch_length = %d
poll_interval = "5ms"

[plugin_config]
connection_string = %q
target_table = %q
auto_create_table = true
payload_format = "jsonb"
batch_size = 100
max_retries = 5
retry_delay = "50ms"
`, stream, per, u.String(), db.table("events"))})
	rt.Start()
	rt.waitLog(1, 30*time.Second, `msg="sink running"`)

	// Producer: a batch every 10 ms.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for lo := 0; lo < total; lo += per {
			msgs := make([]iggy.Message, per)
			for i := range msgs {
				n := lo + i
				msgs[i] = iggy.Message{Payload: []byte(fmt.Sprintf(`{"n":%d,"pad":"%s"}`, n, strings.Repeat("x", n%64)))}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := client.SendMessages(ctx, iggy.NamedID(stream), iggy.NamedID("events"), iggy.Balanced(), msgs)
			cancel()
			if err != nil {
				t.Error(err)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	// Killer: terminate the sink's backends every 150 ms while rows are still missing.
	terminated, hits := 0, 0
	for round := 0; round < 12; round++ {
		rows := db.count(db.q("events"))
		if rows >= total {
			break
		}
		var n int
		if err := db.conn.QueryRow(context.Background(),
			`SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			terminated += n
			hits++
			t.Logf("terminated %d sink connection(s) at %d rows", n, rows)
		}
		time.Sleep(150 * time.Millisecond)
	}
	wg.Wait()
	waitFor(t, 90*time.Second, "every message in the table", func() bool {
		if rt.Proc().Exited() {
			t.Fatalf("runtime exited: %v", rt.Proc().Err())
		}
		return db.count(db.q("events")) >= total
	})
	time.Sleep(200 * time.Millisecond)
	rt.Stop()
	if hits < 2 {
		t.Fatalf("only %d termination round(s) hit the sink mid-stream: the test did not exercise connection loss", hits)
	}
	got := db.psql(fmt.Sprintf(`SELECT count(*) || ' ' || count(DISTINCT (payload->>'n')::int) || ' ' || min((payload->>'n')::int) || ' ' || max((payload->>'n')::int) FROM %s`, db.q("events")))
	if want := fmt.Sprintf("%d %d 0 %d", total, total, total-1); got != want {
		t.Fatalf("rows (count, distinct, min, max) = %s, want %s", got, want)
	}
	retries := rt.Count("transient error, retrying") + rt.Count("sink plugin failed; retrying the batch")
	t.Logf("connection loss: %d messages, %d connections terminated in %d rounds, %d retries logged, all rows present once",
		total, terminated, hits, retries)
	if retries == 0 {
		t.Fatal("no retry was logged although connections were terminated")
	}
}
