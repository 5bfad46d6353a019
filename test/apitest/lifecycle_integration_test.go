//go:build integration

package apitest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/test/harness"
)

// TestConfigVersioning: create a new sink config version through the API, activate it, restart
// the sink: the new version runs (new plugin id, new name and batch length, "active" moved), the
// other connector is not restarted, and the restarted sink keeps consuming.
func TestConfigVersioning(t *testing.T) {
	srv := startDevserver(t, freeAddr(t))
	c := srv.Client(t)
	ensureTopic(t, c, "ver", "in")
	rt := startRuntime(t, runtimeOpts{iggyAddr: srv.Addr, files: map[string]string{
		"random.toml": sourceTOML("random", "Random", "ver", "gen", `interval = "20ms"`),
		"stdout.toml": sinkTOML("stdout", "Stdout v0", "ver", "in", ""),
	}})
	rt.waitRunning("source/random", "sink/stdout")
	sinkID, sourceID := rt.connector("sink", "stdout")["id"], rt.connector("source", "random")["id"]

	body := fmt.Sprintf(`{"enabled":true,"name":"Stdout v1","path":%q,
		"streams":[{"stream":%q,"topics":["in"],"schema":"json","batch_length":7,"consumer_group":"stdout-group"}],
		"plugin_config":{"print_payload":false},"plugin_config_format":"yaml"}`, plugin("iggy_connector_stdout_sink"), harness.Stream(t, "ver"))
	rep := rt.Call("POST", "/sinks/stdout/configs", body)
	var created map[string]any
	rep.JSON(t, &created)
	if rep.Status != 200 || created["version"] != 1.0 || created["active"] != false || created["key"] != "stdout" {
		t.Fatalf("create: %d %s", rep.Status, rep.Body)
	}
	if _, err := os.Stat(filepath.Join(rt.CfgDir, "sink_stdout_1.toml")); err != nil {
		t.Errorf("the new version was not written to the config directory: %v", err)
	}
	list := rt.GetList("/sinks/stdout/configs")
	if len(list) != 2 || list[0]["version"] != 0.0 || list[0]["active"] != true || list[1]["version"] != 1.0 || list[1]["active"] != false {
		t.Fatalf("configs after create: %v", list)
	}
	if rep := rt.Call("PUT", "/sinks/stdout/configs/active", `{"version":1}`); rep.Status != 204 {
		t.Fatalf("activate: %d %s", rep.Status, rep.Body)
	}
	// Activation alone changes nothing that runs.
	if a := rt.Get("/sinks/stdout/configs/active"); a["version"] != 0.0 || a["name"] != "Stdout v0" {
		t.Errorf("running config changed before the restart: %v", a)
	}
	if got := rt.connector("sink", "stdout")["id"]; got != sinkID {
		t.Errorf("the sink was restarted by the activation: id %v -> %v", sinkID, got)
	}
	if rep := rt.Call("POST", "/sinks/stdout/restart", ""); rep.Status != 204 {
		t.Fatalf("restart: %d %s", rep.Status, rep.Body)
	}
	rt.waitRunning("sink/stdout")
	d := rt.connector("sink", "stdout")
	if d["id"].(float64) <= sinkID.(float64) || d["name"] != "Stdout v1" || d["plugin_config_format"] != "yaml" ||
		d["streams"].([]any)[0].(map[string]any)["batch_length"] != 7.0 {
		t.Errorf("after restart: %v (id before %v)", d, sinkID)
	}
	if a := rt.Get("/sinks/stdout/configs/active"); a["version"] != 1.0 || a["active"] != true {
		t.Errorf("configs/active after restart: %v", a)
	}
	if v1 := rt.Get("/sinks/stdout/configs/1"); v1["active"] != true {
		t.Errorf("configs/1 after restart: %v", v1)
	}
	if v0 := rt.Get("/sinks/stdout/configs/0"); v0["active"] != false {
		t.Errorf("configs/0 after restart: %v", v0)
	}
	if got := rt.connector("source", "random")["id"]; got != sourceID {
		t.Errorf("restarting the sink restarted the source: id %v -> %v", sourceID, got)
	}
	if recs := rt.Log.Records("restarting connector"); len(recs) != 1 || recs[0]["connector"] != "stdout" || recs[0]["version"] != 1.0 {
		t.Errorf("restart log records: %v", recs)
	}
	// The restarted sink consumes (batch_length 7 now: 20 messages take at least 3 calls).
	key := `iggy_connector_messages_consumed_total{connector_key="stdout",connector_type="sink"}`
	before := rt.Metrics()[key]
	payloads := make([][]byte, 20)
	for i := range payloads {
		payloads[i] = []byte(fmt.Sprintf(`{"n":%d}`, i))
	}
	push(t, c, "ver", "in", payloads)
	waitFor(t, 20*time.Second, "the restarted sink to consume 20 messages", func() bool { return rt.Metrics()[key] == before+20 })

	// Deleting the active version makes the highest remaining one active in the provider.
	if rep := rt.Call("DELETE", "/sinks/stdout/configs", ""); rep.Status != 204 {
		t.Fatalf("delete active: %d %s", rep.Status, rep.Body)
	}
	if list := rt.GetList("/sinks/stdout/configs"); len(list) != 1 || list[0]["version"] != 0.0 {
		t.Errorf("configs after deleting the active version: %v", list)
	}
	if rep := rt.Call("POST", "/sinks/stdout/restart", ""); rep.Status != 204 {
		t.Fatalf("restart: %d %s", rep.Status, rep.Body)
	}
	if d := rt.connector("sink", "stdout"); d["name"] != "Stdout v0" {
		t.Errorf("after deleting v1 and restarting: %v", d)
	}
	// Parallel restarts all succeed and leave the sink running.
	errs := make(chan string, 5)
	for i := 0; i < 5; i++ {
		go func() {
			r := rt.Call("POST", "/sinks/stdout/restart", "")
			errs <- fmt.Sprint(r.Status)
		}()
	}
	for i := 0; i < 5; i++ {
		if s := <-errs; s != "204" {
			t.Errorf("parallel restart: %s", s)
		}
	}
	rt.waitRunning("sink/stdout")
}

// TestReadyFollowsIggy: /ready is 503 while Iggy is unreachable and names it, 200 once Iggy and
// every enabled connector are up, 503 again when the Iggy server is killed, and 200 after it comes
// back.
func TestReadyFollowsIggy(t *testing.T) {
	harness.NeedsOwnServer(t)
	addr := freeAddr(t)
	rt := startRuntime(t, runtimeOpts{iggyAddr: addr, files: map[string]string{
		"random.toml": sourceTOML("random", "Random", "rdy", "gen", `interval = "50ms"`),
		"stdout.toml": sinkTOML("stdout", "Stdout", "rdy", "gen", ""),
	}})
	ready := func() (int, []string) {
		rep := rt.Call("GET", "/ready", "")
		var body struct {
			Status   string   `json:"status"`
			NotReady []string `json:"not_ready"`
		}
		rep.JSON(t, &body)
		if (rep.Status == 200) != (body.Status == "ready") {
			t.Fatalf("/ready: status %d with body %s", rep.Status, rep.Body)
		}
		return rep.Status, body.NotReady
	}
	status, reasons := ready()
	if status != 503 || len(reasons) != 3 || reasons[0] != "iggy: not connected to "+addr ||
		!strings.HasPrefix(reasons[1], "source random: starting") || !strings.HasPrefix(reasons[2], "sink stdout: starting") {
		t.Fatalf("/ready without Iggy: %d %q", status, reasons)
	}
	if rep := rt.Call("GET", "/ready", "", "api-key", ""); rep.Status != 503 || string(rep.Body) != `{"status":"not_ready"}` {
		t.Errorf("/ready without the key: %d %s, want the status only", rep.Status, rep.Body)
	}
	if m := rt.Metrics(); m["iggy_connectors_iggy_connected"] != 0 {
		t.Errorf("iggy_connected = %v while Iggy is down", m["iggy_connectors_iggy_connected"])
	}

	srv := startDevserver(t, addr)
	waitFor(t, 40*time.Second, "/ready to become 200", func() bool { s, _ := ready(); return s == 200 })
	m := rt.Metrics()
	if m["iggy_connectors_iggy_connected"] != 1 || m["iggy_connectors_sinks_running"] != 1 || m["iggy_connectors_sources_running"] != 1 {
		t.Errorf("metrics when ready: connected %v sinks_running %v sources_running %v",
			m["iggy_connectors_iggy_connected"], m["iggy_connectors_sinks_running"], m["iggy_connectors_sources_running"])
	}
	reconnects := m["iggy_connectors_iggy_reconnects_total"]

	srv.Kill()
	killed := time.Now()
	waitFor(t, 30*time.Second, "/ready to become 503 after the Iggy server was killed", func() bool { s, _ := ready(); return s == 503 })
	t.Logf("/ready turned 503 %v after kill -9 of the Iggy server", time.Since(killed).Round(time.Millisecond))
	if _, reasons := ready(); len(reasons) == 0 || reasons[0] != "iggy: not connected to "+addr {
		t.Errorf("reasons after the kill: %q", reasons)
	}

	srv.Start()
	waitFor(t, 60*time.Second, "/ready to become 200 after the Iggy server came back", func() bool { s, _ := ready(); return s == 200 })
	if got := rt.Metrics()["iggy_connectors_iggy_reconnects_total"]; got <= reconnects {
		t.Errorf("iggy_reconnects_total %v after the server came back, was %v", got, reconnects)
	}
}

// TestSIGHUP: after one connector file changes, SIGHUP restarts that connector only; a new file
// starts a connector, a removed file stops one; the untouched connectors keep their plugin ids and
// keep running.
func TestSIGHUP(t *testing.T) {
	srv := startDevserver(t, freeAddr(t))
	c := srv.Client(t)
	ensureTopic(t, c, "hup", "in")
	rt := startRuntime(t, runtimeOpts{iggyAddr: srv.Addr, files: map[string]string{
		"random.toml": sourceTOML("random", "Random", "hup", "gen", `interval = "20ms"`),
		"a.toml":      sinkTOML("a", "Sink A", "hup", "in", ""),
		"b.toml":      sinkTOML("b", "Sink B", "hup", "in", ""),
		"gone.toml":   sinkTOML("gone", "Sink to remove", "hup", "in", ""),
	}})
	rt.waitRunning("source/random", "sink/a", "sink/b", "sink/gone")
	ids := map[string]any{}
	for _, id := range []string{"source/random", "sink/a", "sink/b"} {
		kind, key, _ := strings.Cut(id, "/")
		ids[id] = rt.connector(kind, key)["id"]
	}

	writeFile(t, filepath.Join(rt.CfgDir, "b.toml"), sinkTOML("b", "Sink B, changed", "hup", "in", `verbose = true`))
	writeFile(t, filepath.Join(rt.CfgDir, "new.toml"), sinkTOML("new", "New sink", "hup", "in", ""))
	if err := os.Remove(filepath.Join(rt.CfgDir, "gone.toml")); err != nil {
		t.Fatal(err)
	}
	rt.Signal(syscall.SIGHUP)
	waitFor(t, 20*time.Second, "the reload", func() bool { return len(rt.Log.Records("connector configs reloaded")) == 1 })
	rec := rt.Log.Records("connector configs reloaded")[0]
	if got := fmt.Sprint(rec["changed"]); got != "[sink/b sink/new sink/gone]" {
		t.Errorf("reload changed %s, want [sink/b sink/new sink/gone]", got)
	}
	rt.waitRunning("sink/b", "sink/new")
	if b := rt.connector("sink", "b"); b["id"] == ids["sink/b"] || b["name"] != "Sink B, changed" {
		t.Errorf("sink b after SIGHUP: %v (id before %v)", b, ids["sink/b"])
	}
	for _, id := range []string{"source/random", "sink/a"} {
		kind, key, _ := strings.Cut(id, "/")
		if d := rt.connector(kind, key); d["id"] != ids[id] || d["status"] != "running" {
			t.Errorf("%s was touched by the reload: %v (id before %v)", id, d, ids[id])
		}
	}
	if rep := rt.Call("GET", "/sinks/gone", ""); rep.Status != 404 {
		t.Errorf("removed sink still listed: %d %s", rep.Status, rep.Body)
	}
	restarted := map[string]int{}
	for _, r := range rt.Log.Records("restarting connector") {
		restarted[r["connector"].(string)]++
	}
	if len(restarted) != 1 || restarted["b"] != 1 {
		t.Errorf("restart log records by connector: %v, want only b once", restarted)
	}
	// The untouched source kept producing across the reload.
	key := `iggy_connector_messages_sent_total{connector_key="random",connector_type="source"}`
	before := rt.Metrics()[key]
	waitFor(t, 10*time.Second, "the source to keep producing", func() bool { return rt.Metrics()[key] > before })
	// A second SIGHUP without changes restarts nothing.
	rt.Signal(syscall.SIGHUP)
	waitFor(t, 20*time.Second, "the second reload", func() bool { return len(rt.Log.Records("connector configs reloaded")) == 2 })
	if rec := rt.Log.Records("connector configs reloaded")[1]; rec["changed"] != nil {
		t.Errorf("a reload without changes changed %v", rec["changed"])
	}
}

// selfSigned writes a fresh self-signed certificate for 127.0.0.1 and returns the file paths and a
// pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "iggy-connectors test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLS: with http.tls the API is served over HTTPS only, with the configured certificate.
func TestTLS(t *testing.T) {
	srv := startDevserver(t, freeAddr(t))
	certFile, keyFile, pool := selfSigned(t)
	rt := startRuntime(t, runtimeOpts{iggyAddr: srv.Addr, tls: &tls.Config{RootCAs: pool}, env: []string{
		"IGGY_CONNECTORS_HTTP_TLS_ENABLED=true",
		"IGGY_CONNECTORS_HTTP_TLS_CERT_FILE=" + certFile,
		"IGGY_CONNECTORS_HTTP_TLS_KEY_FILE=" + keyFile,
	}})
	if !strings.HasPrefix(rt.Base, "https://") {
		t.Fatalf("base %s", rt.Base)
	}
	if rep := rt.Call("GET", "/health", ""); rep.Status != 200 || string(rep.Body) != `{"status":"healthy"}` {
		t.Errorf("GET /health over TLS: %d %s", rep.Status, rep.Body)
	}
	if rep := rt.Call("GET", "/sinks", ""); rep.Status != 200 || string(rep.Body) != "[]" {
		t.Errorf("GET /sinks over TLS: %d %s", rep.Status, rep.Body)
	}
	if rep := rt.Call("GET", "/sinks", "", "api-key", ""); rep.Status != 401 {
		t.Errorf("GET /sinks over TLS without the key: %d", rep.Status)
	}
	// Plain HTTP is not served.
	plain := "http://" + strings.TrimPrefix(rt.Base, "https://") + "/health"
	if resp, err := http.Get(plain); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP answered 200")
		}
	}
	// A client that does not trust the certificate is refused.
	if _, err := http.Get(rt.Base + "/health"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted client: %v, want a certificate error", err)
	}
}

// TestTLSBadCertificate: a missing certificate file stops the start with a message naming it.
func TestTLSBadCertificate(t *testing.T) {
	dir := t.TempDir()
	cmd := runtimeCmd(t, dir, "IGGY_CONNECTORS_HTTP_TLS_ENABLED=true",
		"IGGY_CONNECTORS_HTTP_TLS_CERT_FILE="+filepath.Join(dir, "nope.pem"),
		"IGGY_CONNECTORS_HTTP_TLS_KEY_FILE="+filepath.Join(dir, "nope.key"))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "nope.pem") || !strings.Contains(string(out), "http.tls") {
		t.Errorf("runtime with a missing certificate: err %v, output:\n%s", err, out)
	}
}

// TestSIGHUPInvalidFile: a connector file broken by an edit does not stop its running connector
// on SIGHUP (it keeps running with the config it has, and the problem is logged); a restart through
// the API is refused and leaves it running; once the file is fixed, SIGHUP applies it.
func TestSIGHUPInvalidFile(t *testing.T) {
	srv := startDevserver(t, freeAddr(t))
	c := srv.Client(t)
	ensureTopic(t, c, "inv", "in")
	rt := startRuntime(t, runtimeOpts{iggyAddr: srv.Addr, files: map[string]string{
		"a.toml": sinkTOML("a", "Sink A", "inv", "in", ""),
	}})
	rt.waitRunning("sink/a")
	id := rt.connector("sink", "a")["id"]

	writeFile(t, filepath.Join(rt.CfgDir, "a.toml"), strings.Replace(sinkTOML("a", "Sink A", "inv", "in", ""), `schema = "json"`, `schema = "jsn"`, 1))
	rt.Signal(syscall.SIGHUP)
	waitFor(t, 20*time.Second, "the reload", func() bool { return len(rt.Log.Records("connector configs reloaded")) == 1 })
	if d := rt.connector("sink", "a"); d["id"] != id || d["status"] != "running" {
		t.Errorf("sink a after a SIGHUP with a broken file: %v (id before %v)", d, id)
	}
	found := false
	for _, r := range rt.Log.Records("connector config problem") {
		found = found || strings.Contains(fmt.Sprint(r["problem"]), "a.toml")
	}
	if !found {
		t.Errorf("the broken file was not reported in the log")
	}
	// The restart is refused with 400 naming the file and the problem (issue 18, item 4), and the
	// sink keeps running.
	rep := rt.Call("POST", "/sinks/a/restart", "")
	var e map[string]string
	rep.JSON(t, &e)
	if rep.Status != 400 || e["code"] != "invalid_configuration" || !strings.Contains(e["reason"], filepath.Join(rt.CfgDir, "a.toml")) ||
		!strings.Contains(e["reason"], `streams[0].schema: invalid value "jsn"`) {
		t.Errorf("restart with a broken file: %d %s", rep.Status, rep.Body)
	}
	if d := rt.connector("sink", "a"); d["id"] != id || d["status"] != "running" {
		t.Errorf("sink a after a refused restart: %v", d)
	}

	writeFile(t, filepath.Join(rt.CfgDir, "a.toml"), sinkTOML("a", "Sink A fixed", "inv", "in", ""))
	rt.Signal(syscall.SIGHUP)
	waitFor(t, 20*time.Second, "the second reload", func() bool { return len(rt.Log.Records("connector configs reloaded")) == 2 })
	rt.waitRunning("sink/a")
	if d := rt.connector("sink", "a"); d["id"] == id || d["name"] != "Sink A fixed" {
		t.Errorf("sink a after the fix: %v", d)
	}
}

// pluginHosts returns the pids of the runtime's plugin-host children.
func pluginHosts(t *testing.T, pid int) []int {
	t.Helper()
	var out []int
	for _, child := range harness.ChildPids(t, pid) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", child))
		if strings.Contains(string(cmdline), "plugin-host") {
			out = append(out, child)
		}
	}
	return out
}

// TestPluginRestartsMetric: a sink under the process transport whose plugin process is killed
// gets a new one; iggy_connector_plugin_restarts_total counts it and nothing pushed is lost.
func TestPluginRestartsMetric(t *testing.T) {
	srv := startDevserver(t, freeAddr(t))
	c := srv.Client(t)
	ensureTopic(t, c, "proc", "in")
	rt := startRuntime(t, runtimeOpts{iggyAddr: srv.Addr, files: map[string]string{
		"p.toml": sinkTOML("p", "Process sink", "proc", "in", `transport = "process"`),
	}})
	rt.waitRunning("sink/p")
	const restarts = `iggy_connector_plugin_restarts_total{connector_key="p",connector_type="sink"}`
	const processed = `iggy_connector_messages_processed_total{connector_key="p",connector_type="sink"}`
	if m := rt.Metrics(); m[restarts] != 0 {
		t.Fatalf("restarts before the kill: %v", m[restarts])
	}
	hosts := pluginHosts(t, rt.Pid())
	if len(hosts) != 1 {
		t.Fatalf("plugin-host children: %v, want one", hosts)
	}
	if err := syscall.Kill(hosts[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	payloads := make([][]byte, 25)
	for i := range payloads {
		payloads[i] = []byte(fmt.Sprintf(`{"n":%d}`, i))
	}
	push(t, c, "proc", "in", payloads)
	waitFor(t, 30*time.Second, "the sink to write every message through a new plugin process", func() bool {
		m := rt.Metrics()
		return m[processed] == 25 && m[restarts] == 1
	})
	if hosts2 := pluginHosts(t, rt.Pid()); len(hosts2) != 1 || hosts2[0] == hosts[0] {
		t.Errorf("plugin-host children after the kill: %v (before %v)", hosts2, hosts)
	}
	// A connector restart keeps the count (it is per connector, over its instances).
	if rep := rt.Call("POST", "/sinks/p/restart", ""); rep.Status != 204 {
		t.Fatalf("restart: %d %s", rep.Status, rep.Body)
	}
	rt.waitRunning("sink/p")
	if m := rt.Metrics(); m[restarts] != 1 {
		t.Errorf("restarts after a connector restart: %v, want 1", m[restarts])
	}
}

// TestWrongIggyPassword: a wrong Iggy password is a permanent error, not a transient one: the
// runtime says `login failed: invalid credentials for user "..."` once, /ready names it, and logins
// are retried slowly (an operator may fix the password) instead of several times a second.
func TestWrongIggyPassword(t *testing.T) {
	srv := startDevserver(t, freeAddr(t))
	user := harness.ClientConfig(srv.Addr).Username
	rt := startRuntime(t, runtimeOpts{iggyAddr: srv.Addr, files: map[string]string{
		"stdout.toml": sinkTOML("stdout", "Stdout", "pw", "in", ""),
	}, env: []string{"IGGY_CONNECTORS_IGGY_PASSWORD=wrong-password", "IGGY_CONNECTORS_LOGGING_LEVEL=debug"}})
	want := fmt.Sprintf("login failed: invalid credentials for user %q", user)
	var reasons []string
	waitFor(t, 20*time.Second, "/ready to name the refused login", func() bool {
		rep := rt.Call("GET", "/ready", "")
		var body struct {
			NotReady []string `json:"not_ready"`
		}
		rep.JSON(t, &body)
		reasons = body.NotReady
		return rep.Status == 503 && len(reasons) > 0 && reasons[0] == want
	})
	time.Sleep(3 * time.Second) // long enough for a fast retry loop to show itself
	var refusals []map[string]any
	for _, r := range rt.Log.Records("cannot log in to Iggy; retrying slowly until the credentials are fixed") {
		if r["level"] == "ERROR" && strings.Contains(fmt.Sprint(r["err"]), want) {
			refusals = append(refusals, r)
		}
	}
	if len(refusals) != 1 {
		t.Fatalf("the refused login was logged %d times at error level, want once:\n%s", len(refusals), rt.Log.Contents())
	}
	// Two clients log in (the engine's own and the sink's); each waits at least 8 s (10 s with
	// jitter) between attempts.
	last := map[string]time.Time{}
	for _, r := range rt.Log.Records("Iggy login refused") {
		who := fmt.Sprint(r["client"], r["connector"])
		at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(r["time"]))
		if err != nil {
			t.Fatalf("record %v: %v", r, err)
		}
		if prev, ok := last[who]; ok && at.Sub(prev) < 8*time.Second {
			t.Fatalf("%s retried a refused login after %v, want a slow retry (≥ 8 s)", who, at.Sub(prev))
		}
		last[who] = at
	}
	if len(last) != 2 {
		t.Fatalf("login attempts by %d clients, want 2 (the engine's and the sink's)", len(last))
	}
	if n := len(rt.Log.Records("cannot connect to Iggy; retrying")); n > 0 {
		t.Fatalf("the refused login was retried as a transient failure %d times", n)
	}
	if st := rt.connector("sink", "stdout"); st["status"] == "running" {
		t.Fatalf("the sink runs without a login: %v", st)
	}
}
