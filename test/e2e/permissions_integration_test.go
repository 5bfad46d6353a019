//go:build integration

package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/harness"
)

// TestSendPermission runs a source connector as an Iggy user that may read the stream but not send
// to it. The server enforces permissions (as Apache Iggy does): the connector's sends are refused,
// the runtime reports an error naming the missing permission and the user, retries with backoff
// and writes nothing; once the permission is granted (on the stream only), the same runtime
// delivers every message exactly once, and stops cleanly.
func TestSendPermission(t *testing.T) {
	e := newEnv(t)
	// stream is the base name the env's helpers map (harness.Stream: unique per test on an external
	// server); the user name carries the same suffix, so runs on a shared server do not collide.
	const stream, topic, password = "perm-e2e", "orders", "s3cret-pw"
	const total = 200
	iggyStream := e.stream(stream)
	user := "perm-e2e-source" + strings.TrimPrefix(iggyStream, stream)
	e.createTopic(stream, topic, 1)
	t.Cleanup(func() { _ = e.iggy.DeleteStream(ctxT(t), iggy.NamedID(iggyStream)) })
	sd, err := e.iggy.GetStream(ctxT(t), iggy.NamedID(iggyStream))
	if err != nil {
		t.Fatal(err)
	}
	readOnly := &iggy.Permissions{Global: iggy.GlobalPermissions{ReadStreams: true}}
	harness.CreateUser(t, e.iggy, user, password, readOnly)

	src := strings.Replace(fmt.Sprintf(seqSourceTOML, "src", "", topic, 50, total, 0), `stream = "c"`, `stream = "`+stream+`"`, 1)
	e.writeConnector("src", src)
	rt := e.startRuntime("IGGY_CONNECTORS_IGGY_USERNAME="+user, "IGGY_CONNECTORS_IGGY_PASSWORD="+password)

	want := fmt.Sprintf(`Iggy user \"%s\" lacks the send_messages permission on stream \"%s\" topic \"%s\"`, user, iggyStream, topic)
	waitFor(t, 30*time.Second, "the runtime to report the missing send permission", func() bool {
		return len(rt.Log.Lines(want)) >= 2 // refused, and refused again after a backoff
	})
	if n := e.countAll(stream, topic); n != 0 {
		t.Fatalf("%d messages in the topic although the user may not send", n)
	}
	if lines := rt.Log.Lines("code 41"); len(lines) == 0 {
		t.Fatalf("the permission error does not carry the server's Unauthorized (41): %s", rt.Log.Lines(want)[0])
	}

	granted := &iggy.Permissions{Global: readOnly.Global, Streams: []iggy.StreamPermissions{{StreamID: sd.ID, SendMessages: true}}}
	harness.SetPermissions(t, e.iggy, user, granted)
	waitFor(t, 30*time.Second, fmt.Sprintf("%d messages after the grant", total), func() bool { return e.countAll(stream, topic) >= total })
	if code, took := rt.SignalWait(syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d after %v", code, took)
	}
	rt.noErrors()
	ks := e.seqKs(stream, topic)
	if len(ks) != total {
		t.Fatalf("%d messages, want exactly %d", len(ks), total)
	}
	for i, k := range ks {
		if k != uint64(i) {
			t.Fatalf("message %d has k = %d: refused batches were lost or reordered", i, k)
		}
	}
	t.Logf("refused with %q (%d times), then after the grant %d messages in order", want, len(rt.Log.Lines(want)), total)
}
