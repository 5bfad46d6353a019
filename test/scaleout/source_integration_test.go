//go:build integration

package scaleout

import (
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/test/harness"
)

const seqSource = `
type = "source"
key = "seq"
enabled = true
version = 0
name = "seq"
path = "libiggy_connector_seq_source"

[[streams]]
stream = "scaleout_src"
topic = "out"
schema = "raw"
batch_length = 1000
auto_create = true
partitions = 3

[plugin_config]
batch_size = 10
delay_ms = 5
`

// seqNumbers returns k of every seq message on the topic (the first 8 payload bytes).
func seqNumbers(t *testing.T, addr string) []uint64 {
	c := harness.Dial(t, addr)
	var ks []uint64
	for _, m := range harness.ReadTopic(t, c, "scaleout_src", "out") {
		if len(m.Payload) >= 8 {
			ks = append(ks, binary.LittleEndian.Uint64(m.Payload))
		}
	}
	return ks
}

// TestSecondRuntimeDoesNotReadTheSource: two runtimes run the same source connector (sharing one
// state directory, as a shared volume would). Only the first reads the source; the second reports
// the connector in status error, saying another runtime holds its lease, and produces nothing: the
// sequence on the topic has no duplicate. When the first is killed with kill -9 the second takes
// over from the shared state: nothing is lost, and it repeats at most the batch the first had sent
// but not yet recorded (the default max_in_flight = 2 batches of 10).
func TestSecondRuntimeDoesNotReadTheSource(t *testing.T) {
	dev := harness.StartDevserver(t, harness.DevserverOptions{})
	state := t.TempDir()
	a := startReplica(t, "src-a", dev.Addr, state, map[string]string{"seq.toml": seqSource})
	harness.WaitFor(t, 60*time.Second, "src-a producing", func() bool {
		a.alive()
		return strings.Contains(a.get("/sources/seq"), `"status":"running"`) && len(seqNumbers(t, dev.Addr)) > 50
	})
	b := startReplica(t, "src-b", dev.Addr, state, map[string]string{"seq.toml": seqSource})
	var info struct {
		Status    string `json:"status"`
		LastError *struct {
			Message string `json:"message"`
		} `json:"last_error"`
	}
	harness.WaitFor(t, 30*time.Second, "src-b to report that another runtime holds the source", func() bool {
		b.alive()
		info.LastError = nil
		return json.Unmarshal([]byte(b.get("/sources/seq")), &info) == nil && info.Status == "error" && info.LastError != nil &&
			strings.Contains(info.LastError.Message, "already running in another runtime")
	})
	t.Logf("src-b: status %s: %s", info.Status, info.LastError.Message)
	time.Sleep(1500 * time.Millisecond) // both run; only one may read

	ks := seqNumbers(t, dev.Addr)
	seen := map[uint64]int{}
	for _, k := range ks {
		seen[k]++
		if seen[k] == 2 {
			t.Errorf("message %d is on the topic twice while src-b was standing by", k)
		}
	}
	if n := len(b.log.Lines("source running")); n != 0 {
		t.Errorf("src-b started the source %d time(s) while src-a held it", n)
	}
	if !strings.Contains(a.get("/sources/seq"), `"status":"running"`) {
		t.Errorf("src-a's source is not running: %s", a.get("/sources/seq"))
	}

	// The holder dies: the standby takes over from the shared state.
	before := len(ks)
	a.p.Kill()
	harness.WaitFor(t, takeoverLimit, "src-b to take over the source", func() bool {
		b.alive()
		return len(b.log.Lines("source lease acquired")) > 0 && strings.Contains(b.get("/sources/seq"), `"status":"running"`)
	})
	harness.WaitFor(t, 30*time.Second, "src-b producing", func() bool { return len(seqNumbers(t, dev.Addr)) > before+100 })
	if !b.p.Stop(30 * time.Second) {
		t.Fatal("src-b did not stop on SIGTERM")
	}
	ks = seqNumbers(t, dev.Addr)
	seen = map[uint64]int{}
	var maxK uint64
	dups := 0
	for _, k := range ks {
		seen[k]++
		if seen[k] > 1 {
			dups++
		}
		maxK = max(maxK, k)
	}
	for k := uint64(0); k <= maxK; k++ {
		if seen[k] == 0 {
			t.Errorf("message %d is missing after the takeover", k)
			break
		}
	}
	if dups > 20 {
		t.Errorf("%d messages repeated after the takeover, more than max_in_flight (2) batches of 10", dups)
	}
	t.Logf("%d messages (0..%d), %d repeated after the takeover", len(ks), maxK, dups)
}
