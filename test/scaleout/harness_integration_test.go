//go:build integration

// Package scaleout tests several iggy-connectors runtimes sharing the work (issue 16, docs/scaleout.md):
// sinks with the same connector config form one consumer group per stream/topic and take over the
// partitions of a runtime killed with kill -9; a source runs in one runtime only (its lease). Every
// test starts the real runtime binary with real plugins against a real iggy-devserver process; the
// PostgreSQL test writes to the cluster of IGGY_TEST_PG_URL (scripts/postgres.sh).
//
//	go test -tags integration -count=1 ./test/scaleout/
package scaleout

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/harness"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

func TestMain(m *testing.M) { harness.Main(m) }

// runtimeBin builds the runtime and the plugins the tests use (once per test binary), laid out like
// an installation: the runtime finds the plugins in <bin>/../plugins.
func runtimeBin(t testing.TB) string {
	t.Helper()
	pluginbuild.GoPlugin(t, "connectors/sinks/postgres", "iggy_connector_postgres_sink")
	pluginbuild.GoPlugin(t, "connectors/sinks/stdout", "iggy_connector_stdout_sink")
	pluginbuild.GoPlugin(t, "test/plugins/seq", "iggy_connector_seq_source")
	return pluginbuild.Runtime(t)
}

// replica is one iggy-connectors process with its own config directory, named by its instance.
type replica struct {
	t        *testing.T
	instance string
	dir      string
	stateDir string
	api      string // host:port of the HTTP API
	log      *harness.Log
	p        *harness.Proc
}

// startReplica writes the connector files (name → TOML) and starts `iggy-connectors run` with
// IGGY_CONNECTORS_INSTANCE=instance. stateDir "" gives the replica a state directory of its own.
func startReplica(t *testing.T, instance, iggyAddr, stateDir string, files map[string]string) *replica {
	t.Helper()
	bin := runtimeBin(t)
	dir := t.TempDir()
	if stateDir == "" {
		stateDir = filepath.Join(dir, "state")
	}
	r := &replica{t: t, instance: instance, dir: dir, stateDir: stateDir, api: harness.FreeAddr(t), log: harness.NewLog(t, instance)}
	cdir := filepath.Join(dir, "connectors")
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(cdir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := harness.RuntimeCmd(bin, dir,
		"IGGY_CONNECTORS_INSTANCE="+instance,
		"IGGY_CONNECTORS_IGGY_ADDRESS="+iggyAddr,
		"IGGY_CONNECTORS_CONNECTORS_CONFIG_DIR="+cdir,
		"IGGY_CONNECTORS_STATE_PATH="+stateDir,
		"IGGY_CONNECTORS_HTTP_ADDRESS="+r.api,
		"IGGY_CONNECTORS_ENV_PATH="+filepath.Join(dir, "none.env"),
		"IGGY_DISPLAY_CONFIG=false",
		"IGGY_CONNECTORS_LOGGING_LEVEL=info",
	)
	r.p = harness.Start(t, cmd, r.log)
	return r
}

// get returns the body of GET path on the replica's API ("" when it does not answer).
func (r *replica) get(path string) string {
	resp, err := http.Get("http://" + r.api + path)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func (r *replica) alive() {
	r.t.Helper()
	if r.p.Exited() {
		r.t.Fatalf("%s exited: %v\n%s", r.instance, r.p.Err(), r.log.Contents())
	}
}

// groupMembers returns the partitions of each member of group on stream/topic (nil when the group
// does not exist yet).
func groupMembers(t *testing.T, c *iggy.Client, stream, topic, group string) [][]uint32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := c.GetConsumerGroup(ctx, iggy.NamedID(stream), iggy.NamedID(topic), iggy.NamedID(group))
	if err != nil {
		return nil
	}
	var out [][]uint32
	for _, m := range d.Members {
		out = append(out, m.Partitions)
	}
	return out
}

// assigned counts the partitions held by the members.
func assigned(members [][]uint32) int {
	n := 0
	for _, m := range members {
		n += len(m)
	}
	return n
}

// sendPaced produces total messages to the partitions of stream/topic (message i to partition
// i % partitions, payload(i)) in requests of chunk messages per partition, sleeping pause between
// rounds, so that the consumers read while it writes. It returns when everything was sent.
func sendPaced(t *testing.T, c *iggy.Client, stream, topic string, partitions, total, chunk int, pause time.Duration, payload func(i int) []byte) {
	t.Helper()
	per := make([][]iggy.Message, partitions)
	flush := func(p int) {
		if len(per[p]) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.SendMessages(ctx, iggy.NamedID(stream), iggy.NamedID(topic), iggy.PartitionID(uint32(p)), per[p]); err != nil {
			t.Errorf("send to partition %d: %v", p, err)
		}
		per[p] = per[p][:0]
	}
	for i := 0; i < total; i++ {
		p := i % partitions
		per[p] = append(per[p], iggy.Message{ID: iggy.IDFromUint64(uint64(i + 1)), Payload: payload(i)})
		if len(per[p]) == chunk {
			flush(p)
			if p == partitions-1 {
				time.Sleep(pause)
			}
		}
	}
	for p := range per {
		flush(p)
	}
}

func jsonPayload(i int) []byte { return []byte(fmt.Sprintf(`{"n":%d,"p":%d}`, i, i%6)) }

// sendRange produces messages from..to-1 (message i to partition i % partitions) in one request per
// partition.
func sendRange(t *testing.T, c *iggy.Client, stream string, from, to int) {
	t.Helper()
	per := make([][]iggy.Message, partitions)
	for i := from; i < to; i++ {
		per[i%partitions] = append(per[i%partitions], iggy.Message{ID: iggy.IDFromUint64(uint64(i + 1)), Payload: jsonPayload(i)})
	}
	for p, msgs := range per {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := c.SendMessages(ctx, iggy.NamedID(stream), iggy.NamedID("in"), iggy.PartitionID(uint32(p)), msgs); err != nil {
			t.Errorf("send to partition %d: %v", p, err)
		}
		cancel()
	}
}
