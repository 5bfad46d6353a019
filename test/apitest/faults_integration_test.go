//go:build integration

package apitest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/test/harness"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

// TestCreatedVersionIsNotRun (issue 18, item 2): versions created through the API are not active,
// so a restart, 40 concurrent restarts and a SIGHUP all keep running version 0, and the API's
// "active", .active_versions.toml and what runs agree; only activation plus a restart runs the new
// version.
func TestCreatedVersionIsNotRun(t *testing.T) {
	srv := startDevserver(t, freeAddr(t))
	c := srv.Client(t)
	cv := harness.Stream(t, "cv") // unique per test on an external server
	if _, err := c.EnsureTopic(ctxT(t), cv, "in", 1); err != nil {
		t.Fatal(err)
	}
	rt := startRuntime(t, runtimeOpts{iggyAddr: srv.Addr, files: map[string]string{
		"random.toml": sourceTOML("random", "Random", cv, "gen", `interval = "20ms"`),
		"stdout.toml": sinkTOML("stdout", "Stdout v0", cv, "in", ""),
	}})
	rt.waitRunning("source/random", "sink/stdout")

	source := `{"enabled":true,"name":"Random v1","path":%q,"streams":[{"stream":%q,"topic":"gen","schema":"json","auto_create":true}],"plugin_config":{"interval":"1s"}}`
	sink := `{"enabled":true,"name":"Stdout v1","path":%q,"streams":[{"stream":%q,"topics":["in"],"schema":"json","consumer_group":"stdout-group"}]}`
	for _, cr := range []struct{ kind, key, body string }{
		{"source", "random", fmt.Sprintf(source, plugin("iggy_connector_random_source"), cv)},
		{"sink", "stdout", fmt.Sprintf(sink, plugin("iggy_connector_stdout_sink"), cv)},
	} {
		rep := rt.Call("POST", "/"+cr.kind+"s/"+cr.key+"/configs", cr.body)
		var created map[string]any
		rep.JSON(t, &created)
		if rep.Status != 200 || created["version"] != 1.0 || created["active"] != false {
			t.Fatalf("create %s %s: %d %s", cr.kind, cr.key, rep.Status, rep.Body)
		}
	}
	agree := func(when string) {
		t.Helper()
		active, err := os.ReadFile(filepath.Join(rt.CfgDir, ".active_versions.toml"))
		if err != nil {
			t.Errorf("%s: %v", when, err)
		}
		for _, id := range []string{"source/random", "sink/stdout"} {
			kind, key, _ := strings.Cut(id, "/")
			if d := rt.connector(kind, key); strings.HasSuffix(fmt.Sprint(d["name"]), " v1") {
				t.Errorf("%s: %s runs %q", when, id, d["name"])
			}
			if a := rt.Get("/" + kind + "s/" + key + "/configs/active"); a["version"] != 0.0 {
				t.Errorf("%s: %s configs/active is version %v", when, id, a["version"])
			}
			list := rt.GetList("/" + kind + "s/" + key + "/configs")
			if len(list) != 2 || list[0]["active"] != true || list[1]["active"] != false {
				t.Errorf("%s: %s configs %v", when, id, list)
			}
			if !strings.Contains(string(active), key+" = 0") {
				t.Errorf("%s: .active_versions.toml %q does not record %s = 0", when, active, key)
			}
		}
	}
	agree("after create")
	if rep := rt.Call("POST", "/sources/random/restart", ""); rep.Status != 204 {
		t.Fatalf("restart: %d %s", rep.Status, rep.Body)
	}
	rt.waitRunning("source/random")
	agree("after a restart of the source")

	var wg sync.WaitGroup
	statuses := make(chan int, 40)
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- rt.Call("POST", "/sinks/stdout/restart", "").Status
		}()
	}
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != 204 {
			t.Errorf("concurrent restart: %d", st)
		}
	}
	rt.waitRunning("sink/stdout")
	agree("after 40 concurrent restarts of the sink")

	rt.Signal(syscall.SIGHUP)
	waitFor(t, 20*time.Second, "the reload", func() bool { return len(rt.Log.Records("connector configs reloaded")) == 1 })
	if rec := rt.Log.Records("connector configs reloaded")[0]; rec["changed"] != nil {
		t.Errorf("SIGHUP changed %v", rec["changed"])
	}
	agree("after SIGHUP")

	// The sink still consumes, with one instance: 30 messages are counted exactly once.
	key := `iggy_connector_messages_consumed_total{connector_key="stdout",connector_type="sink"}`
	before := rt.Metrics()[key]
	payloads := make([][]byte, 30)
	for i := range payloads {
		payloads[i] = []byte(fmt.Sprintf(`{"n":%d}`, i))
	}
	push(t, c, cv, "in", payloads)
	waitFor(t, 20*time.Second, "the sink to consume 30 messages", func() bool { return rt.Metrics()[key] >= before+30 })
	time.Sleep(300 * time.Millisecond)
	if got := rt.Metrics()[key]; got != before+30 {
		t.Errorf("consumed %v messages, want %v", got-before, 30)
	}

	// Activation plus a restart runs the new version.
	if rep := rt.Call("PUT", "/sinks/stdout/configs/active", `{"version":1}`); rep.Status != 204 {
		t.Fatalf("activate: %d %s", rep.Status, rep.Body)
	}
	if rep := rt.Call("POST", "/sinks/stdout/restart", ""); rep.Status != 204 {
		t.Fatalf("restart: %d %s", rep.Status, rep.Body)
	}
	if d := rt.connector("sink", "stdout"); d["name"] != "Stdout v1" {
		t.Errorf("after activation and restart: %v", d["name"])
	}

	// Keys that do not match the key pattern are 400 invalid_key (issue 18, item 5): a 300-character
	// key (500 "file name too long" before) and one with a newline and `"]` (written into a file name
	// before).
	entries, _ := os.ReadDir(rt.CfgDir)
	for _, key := range []string{strings.Repeat("k", 300), "x%0A%22%5D"} {
		for _, call := range [][2]string{{"POST", "/sinks/" + key + "/configs"}, {"POST", "/sinks/" + key + "/restart"}, {"GET", "/sinks/" + key}} {
			rep := rt.Call(call[0], call[1], fmt.Sprintf(sink, plugin("iggy_connector_stdout_sink")))
			var e map[string]string
			rep.JSON(t, &e)
			if rep.Status != 400 || e["code"] != "invalid_key" {
				t.Errorf("%s %.60s: %d %s", call[0], call[1], rep.Status, rep.Body)
			}
		}
	}
	if after, _ := os.ReadDir(rt.CfgDir); len(after) != len(entries) {
		t.Errorf("files were written for invalid keys: %d entries, was %d", len(after), len(entries))
	}
}

// TestReadyWhenConfigsRejected (issue 18, item 9): with Iggy up, a runtime whose every connector
// file was rejected is not ready (503), and an anonymous /ready body carries no error text; once
// the file is fixed and reloaded, /ready is 200.
func TestReadyWhenConfigsRejected(t *testing.T) {
	srv := startDevserver(t, freeAddr(t))
	rj := harness.Stream(t, "rj") // unique per test on an external server
	broken := strings.Replace(sinkTOML("stdout", "Stdout", rj, "in", ""), `schema = "json"`, `schema = "jsn"`, 1)
	rt := startRuntime(t, runtimeOpts{iggyAddr: srv.Addr, files: map[string]string{"stdout.toml": broken}})
	file := filepath.Join(rt.CfgDir, "stdout.toml")
	// Wait for the Iggy connection: from then on only the rejected file keeps the runtime unready.
	waitFor(t, 20*time.Second, "Iggy to be connected", func() bool { return rt.Metrics()["iggy_connectors_iggy_connected"] == 1 })
	rep := rt.Call("GET", "/ready", "")
	if rep.Status != 503 || !strings.Contains(string(rep.Body), "connector config rejected: "+file) || !strings.Contains(string(rep.Body), "jsn") {
		t.Errorf("/ready with the key and a rejected file: %d %s", rep.Status, rep.Body)
	}
	if anon := rt.Call("GET", "/ready", "", "api-key", ""); anon.Status != 503 || string(anon.Body) != `{"status":"not_ready"}` {
		t.Errorf("anonymous /ready: %d %s, want 503 with the status only", anon.Status, anon.Body)
	}
	if _, err := srv.Client(t).EnsureTopic(ctxT(t), rj, "in", 1); err != nil {
		t.Fatal(err)
	}
	writeFile(t, file, sinkTOML("stdout", "Stdout", rj, "in", ""))
	rt.Signal(syscall.SIGHUP)
	waitFor(t, 20*time.Second, "the reload", func() bool { return len(rt.Log.Records("connector configs reloaded")) == 1 })
	rt.waitRunning("sink/stdout")
	waitFor(t, 20*time.Second, "/ready to become 200", func() bool { return rt.Call("GET", "/ready", "").Status == 200 })
}

// TestCorruptSourceState (issue 18, item 8): a random source whose state file is garbage or empty
// stops with an error that names the file and calls it corrupt state, and the file is left as it
// was; with on_corrupt_state = "reset" the bad file is set aside (renamed, same bytes) and the
// source starts without state, saving fresh state.
func TestCorruptSourceState(t *testing.T) {
	lib := pluginbuild.GoPlugin(t, "connectors/sources/random", "iggy_connector_random_source") // this tree's source
	srv := startDevserver(t, freeAddr(t))
	stateDir := t.TempDir()
	garbage := make([]byte, 64)
	for i := range garbage {
		garbage[i] = byte(0xc1 + 7*i) // 0xc1 is never valid MessagePack
	}
	files := map[string]string{}
	for _, src := range []struct {
		key, extra string
		state      []byte
	}{
		{"rnd_garbage", "", garbage},
		{"rnd_empty", "", nil},
		{"rnd_reset", `on_corrupt_state = "reset"`, garbage},
	} {
		writeFile(t, filepath.Join(stateDir, "source_"+src.key+".state"), string(src.state))
		body := strings.Replace(sourceTOML(src.key, src.key, "corrupt", src.key, `interval = "20ms"`), plugin("iggy_connector_random_source"), lib, 1)
		files[src.key+".toml"] = strings.Replace(body, "version = 0\n", "version = 0\n"+src.extra+"\n", 1)
	}
	rt := startRuntime(t, runtimeOpts{iggyAddr: srv.Addr, files: files, env: []string{"IGGY_CONNECTORS_STATE_PATH=" + stateDir}})

	for _, c := range []struct{ key, why string }{
		{"rnd_garbage", "(64 bytes): the plugin cannot decode it: "},
		{"rnd_empty", "(0 bytes): the file is empty"},
	} {
		file := filepath.Join(stateDir, "source_"+c.key+".state")
		var d map[string]any
		waitFor(t, 20*time.Second, c.key+" to fail", func() bool { d = rt.connector("source", c.key); return d["status"] == "error" })
		msg := fmt.Sprint(d["last_error"].(map[string]any)["message"])
		if !strings.Contains(msg, "corrupt source state "+file+" "+c.why) || strings.Contains(msg, "invalid_config") ||
			!strings.Contains(msg, `on_corrupt_state = "reset"`) {
			t.Errorf("%s: last_error %q; want corrupt source state naming %s", c.key, msg, file)
		}
		if c.key == "rnd_garbage" && !strings.Contains(msg, "corrupt_state") {
			t.Errorf("%s: last_error %q does not carry the plugin's corrupt_state code", c.key, msg)
		}
		if got, err := os.ReadFile(file); err != nil || (c.key == "rnd_garbage") != (string(got) == string(garbage)) || (c.key == "rnd_empty" && len(got) != 0) {
			t.Errorf("%s: the state file was changed: %x, %v", c.key, got, err)
		}
		if aside, _ := filepath.Glob(file + ".corrupt-*"); len(aside) != 0 {
			t.Errorf("%s: state set aside although on_corrupt_state is stop: %v", c.key, aside)
		}
	}

	rt.waitRunning("source/rnd_reset")
	file := filepath.Join(stateDir, "source_rnd_reset.state")
	aside, _ := filepath.Glob(file + ".corrupt-*")
	if len(aside) != 1 {
		t.Fatalf("rnd_reset: set-aside files %v, want one", aside)
	}
	if got, err := os.ReadFile(aside[0]); err != nil || string(got) != string(garbage) {
		t.Errorf("rnd_reset: %s holds %x, %v; want the corrupt bytes", aside[0], got, err)
	}
	warned := false
	for _, r := range rt.Log.Records("corrupt source state set aside; the source starts without state (on_corrupt_state = \"reset\")") {
		warned = warned || r["set_aside_as"] == aside[0] && strings.Contains(fmt.Sprint(r["err"]), file)
	}
	if !warned {
		t.Errorf("rnd_reset: no warning naming %s and %s", file, aside[0])
	}
	waitFor(t, 20*time.Second, "rnd_reset to save fresh state", func() bool {
		b, err := os.ReadFile(file)
		return err == nil && len(b) > 0 && b[0] != garbage[0]
	})
}
