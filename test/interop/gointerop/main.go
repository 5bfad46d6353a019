// Command gointerop runs the interop scenario of test/interop with the project's Go client
// (runtime/iggy) against a running iggy-devserver. It mirrors interop.py so that either side can
// produce what the other consumes.
//
//	gointerop ADDR scenario STREAM
//	gointerop ADDR produce STREAM TOPIC COUNT ORIGIN
//	gointerop ADDR consume STREAM TOPIC COUNT ORIGIN
//	gointerop DIR gencert -          (writes ca.pem, server.pem, server-key.pem for localhost)
//	gointerop ADDR mktoken NAME      (creates a personal access token and prints it)
//
// IGGY_TOKEN (token or file:PATH) switches the login to a personal access token; IGGY_TLS_CA
// (a CA file) switches to TLS with server name localhost.
//
// Message i (1-based): id i, payload "payload-%06d", user headers seq=String(i), n=Uint32(i),
// origin=String(ORIGIN). It exits non-zero on the first mismatch, naming it.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/iggyserver/devcert"
)

const batch = 100

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "gointerop: FAIL: "+format+"\n", a...)
	os.Exit(1)
}

func logf(format string, a ...any) { fmt.Printf("gointerop: "+format+"\n", a...) }

func message(i int, origin string) iggy.Message {
	return iggy.Message{ID: iggy.IDFromUint64(uint64(i)), Payload: []byte(fmt.Sprintf("payload-%06d", i)), Headers: []iggy.Header{
		iggy.StringHeader("seq", strconv.Itoa(i)),
		{KeyKind: iggy.KindString, Key: []byte("n"), ValueKind: iggy.KindUint32, Value: binary.LittleEndian.AppendUint32(nil, uint32(i))},
		iggy.StringHeader("origin", origin),
	}}
}

func check(m iggy.Message, i int, origin string, offset uint64) {
	if m.ID != iggy.IDFromUint64(uint64(i)) {
		fail("message %d: id %x", i, m.ID)
	}
	if string(m.Payload) != fmt.Sprintf("payload-%06d", i) {
		fail("message %d: payload %q", i, m.Payload)
	}
	if m.Offset != offset {
		fail("message %d: offset %d, want %d", i, m.Offset, offset)
	}
	want := map[string]string{
		"2:seq":    "2:" + strconv.Itoa(i),
		"2:n":      fmt.Sprintf("11:%x", binary.LittleEndian.AppendUint32(nil, uint32(i))),
		"2:origin": "2:" + origin,
	}
	got := map[string]string{}
	for _, h := range m.Headers {
		v := fmt.Sprintf("%d:%s", h.ValueKind, h.Value)
		if h.ValueKind != iggy.KindString {
			v = fmt.Sprintf("%d:%x", h.ValueKind, h.Value)
		}
		got[fmt.Sprintf("%d:%s", h.KeyKind, h.Key)] = v
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		fail("message %d: headers %v, want %v", i, got, want)
	}
	if m.Timestamp == 0 || m.OriginTimestamp == 0 || m.Checksum == 0 {
		fail("message %d: timestamp %d origin %d checksum %d", i, m.Timestamp, m.OriginTimestamp, m.Checksum)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// dial logs in with iggy/iggy (IGGY_USERNAME/IGGY_PASSWORD override), or with the token in IGGY_TOKEN (literal or file:PATH); with
// IGGY_TLS_CA set it uses TLS, verifying the server as "localhost" with that CA file.
func dial(ctx context.Context, addr string) *iggy.Client {
	cfg := iggy.Config{Address: addr, Username: envOr("IGGY_USERNAME", "iggy"), Password: envOr("IGGY_PASSWORD", "iggy"),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if tok := os.Getenv("IGGY_TOKEN"); tok != "" {
		cfg.Username, cfg.Password, cfg.Token = "", "", tok
	}
	if ca := os.Getenv("IGGY_TLS_CA"); ca != "" {
		cfg.TLS = iggy.TLSConfig{Enabled: true, CAFile: ca, ServerName: "localhost"}
	}
	c, err := iggy.Dial(ctx, cfg)
	if err != nil {
		fail("dial %s: %v", addr, err)
	}
	return c
}

func produce(ctx context.Context, c *iggy.Client, stream, topic string, count int, origin string) {
	if _, err := c.EnsureTopic(ctx, stream, topic, 1); err != nil {
		fail("ensure topic: %v", err)
	}
	for start := 1; start <= count; start += batch {
		var msgs []iggy.Message
		for i := start; i < start+batch && i <= count; i++ {
			msgs = append(msgs, message(i, origin))
		}
		conf, err := c.SendMessages(ctx, iggy.NamedID(stream), iggy.NamedID(topic), iggy.PartitionID(0), msgs)
		if err != nil {
			fail("send: %v", err)
		}
		if len(conf) != 1 || conf[0].PartitionID != 0 {
			fail("send confirmation %+v", conf)
		}
	}
}

func consume(ctx context.Context, c *iggy.Client, stream, topic string, count int, origin string) int {
	got := 0
	for got < count {
		res, err := c.PollMessages(ctx, iggy.NamedID(stream), iggy.NamedID(topic), iggy.SingleConsumer(1), iggy.Part(0),
			iggy.StrategyOffset(uint64(got)), uint32(min(3*batch, count-got)), false)
		if err != nil {
			fail("poll at %d: %v", got, err)
		}
		if len(res.Messages) == 0 {
			fail("poll at offset %d returned nothing (%d expected)", got, count)
		}
		for _, m := range res.Messages {
			got++
			check(m, got, origin, uint64(got-1))
		}
	}
	return got
}

func groupFlow(ctx context.Context, addr, stream, topic string) {
	c := dial(ctx, addr)
	g := iggy.NewGroupConsumer(c, stream, topic, "go-workers", iggy.GroupConsumerOptions{})
	next := 0
	for next < 20 {
		b, err := g.Poll(ctx, 10)
		if err != nil {
			fail("group poll: %v", err)
		}
		for _, m := range b.Messages {
			check(m, next+1, "go", uint64(next))
			next++
		}
		if n := len(b.Messages); n > 0 {
			if err := g.Commit(ctx, b.PartitionID, b.Messages[n-1].Offset); err != nil {
				fail("commit: %v", err)
			}
		}
	}
	off, err := c.GetConsumerOffset(ctx, iggy.GroupConsumerOf(iggy.NamedID("go-workers")), iggy.NamedID(stream), iggy.NamedID(topic), iggy.Part(0))
	if err != nil || off.StoredOffset != 19 {
		fail("stored group offset %+v %v", off, err)
	}
	logf("group: consumed 20 with Next, committed offset 19")
	c.Close()
	c2 := dial(ctx, addr)
	defer c2.Close()
	g2 := iggy.NewGroupConsumer(c2, stream, topic, "go-workers", iggy.GroupConsumerOptions{})
	b, err := g2.Poll(ctx, 10)
	if err != nil || len(b.Messages) == 0 {
		fail("poll after reconnect: %+v %v", b, err)
	}
	if b.Messages[0].Offset != 20 {
		fail("resumed at offset %d, want 20", b.Messages[0].Offset)
	}
	check(b.Messages[0], 21, "go", 20)
	logf("group: resumed at offset 20 after reconnect")
}

func scenario(ctx context.Context, addr, stream string) {
	c := dial(ctx, addr)
	defer c.Close()
	if err := c.Ping(ctx); err != nil {
		fail("ping: %v", err)
	}
	produce(ctx, c, stream, "orders", 1000, "go")
	logf("sent 1000 messages in batches of %d", batch)
	logf("polled %d messages by offset: ids, payloads and headers match", consume(ctx, c, stream, "orders", 1000, "go"))
	for _, tc := range []struct {
		s    iggy.PollingStrategy
		want int
	}{{iggy.StrategyFirst(), 1}, {iggy.StrategyLast(), 1000}} {
		res, err := c.PollMessages(ctx, iggy.NamedID(stream), iggy.NamedID("orders"), iggy.SingleConsumer(2), iggy.Part(0), tc.s, 1, false)
		if err != nil || len(res.Messages) != 1 {
			fail("strategy %d: %v %v", tc.s.Kind, res, err)
		}
		check(res.Messages[0], tc.want, "go", uint64(tc.want-1))
	}
	if _, err := c.CreateStream(ctx, stream); !errors.Is(err, iggy.ErrAlreadyExists) {
		fail("duplicate stream: %v", err)
	}
	if _, err := c.GetStream(ctx, iggy.NamedID("no-such-stream")); !errors.Is(err, iggy.ErrNotFound) {
		fail("missing stream: %v", err)
	}
	td, err := c.GetTopic(ctx, iggy.NamedID(stream), iggy.NamedID("orders"))
	if err != nil || td.MessagesCount != 1000 || len(td.Partitions) != 1 || td.Partitions[0].CurrentOffset != 999 {
		fail("topic %+v %v", td, err)
	}
	groupFlow(ctx, addr, stream, "orders")
	logf("scenario passed")
}

func main() {
	if len(os.Args) < 4 {
		fail("usage: gointerop ADDR scenario STREAM | ADDR produce|consume STREAM TOPIC COUNT ORIGIN")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addr, cmd := os.Args[1], os.Args[2]
	switch cmd {
	case "gencert": // gointerop DIR gencert -: a CA and a localhost/127.0.0.1 server certificate
		pair, err := devcert.New([]string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
		if err != nil {
			fail("gencert: %v", err)
		}
		if _, err := pair.Write(addr); err != nil {
			fail("gencert: %v", err)
		}
		logf("wrote ca.pem, server.pem, server-key.pem to %s", addr)
	case "mktoken": // gointerop ADDR mktoken NAME: create a personal access token, print it
		c := dial(ctx, addr)
		defer c.Close()
		tok, err := c.CreatePersonalAccessToken(ctx, os.Args[3], time.Hour)
		if err != nil {
			fail("create token: %v", err)
		}
		fmt.Println(tok)
	case "scenario":
		scenario(ctx, addr, os.Args[3])
	case "ensure": // gointerop ADDR ensure STREAM TOPIC PARTITIONS: create the stream and topic unless they exist
		c := dial(ctx, addr)
		defer c.Close()
		n, _ := strconv.Atoi(os.Args[5])
		if _, err := c.EnsureTopic(ctx, os.Args[3], os.Args[4], uint32(n)); err != nil {
			fail("ensure topic: %v", err)
		}
	case "delete-streams": // gointerop ADDR delete-streams STREAM...: delete those that exist
		c := dial(ctx, addr)
		defer c.Close()
		for _, s := range os.Args[3:] {
			if err := c.DeleteStream(ctx, iggy.NamedID(s)); err != nil && !errors.Is(err, iggy.ErrNotFound) {
				fail("delete stream %s: %v", s, err)
			}
		}
	case "group-setup": // gointerop ADDR group-setup STREAM TOPIC: 2 partitions x 100 messages
		c := dial(ctx, addr)
		defer c.Close()
		stream, topic := os.Args[3], os.Args[4]
		if _, err := c.EnsureTopic(ctx, stream, topic, 2); err != nil {
			fail("ensure topic: %v", err)
		}
		for p := uint32(0); p < 2; p++ {
			var msgs []iggy.Message
			for i := 1; i <= 100; i++ {
				msgs = append(msgs, message(int(p)*1000+i, "go"))
			}
			if _, err := c.SendMessages(ctx, iggy.NamedID(stream), iggy.NamedID(topic), iggy.PartitionID(p), msgs); err != nil {
				fail("send: %v", err)
			}
		}
		logf("group topic %s/%s: 2 partitions x 100 messages", stream, topic)
	case "group-member": // gointerop ADDR group-member STREAM TOPIC GROUP SECONDS
		c := dial(ctx, addr)
		defer c.Close()
		secs, _ := strconv.ParseFloat(os.Args[6], 64)
		g := iggy.NewGroupConsumer(c, os.Args[3], os.Args[4], os.Args[5], iggy.GroupConsumerOptions{SyncInterval: 200 * time.Millisecond})
		deadline := time.Now().Add(time.Duration(secs * float64(time.Second)))
		n := 0
		for time.Now().Before(deadline) {
			b, err := g.Poll(ctx, 5)
			if err != nil {
				fail("group poll: %v", err)
			}
			for _, m := range b.Messages {
				fmt.Printf("consumed %d %d %d\n", b.PartitionID, m.Offset, binary.BigEndian.Uint64(m.ID[8:]))
				n++
			}
			if len(b.Messages) > 0 {
				if err := g.Commit(ctx, b.PartitionID, b.Messages[len(b.Messages)-1].Offset); err != nil && !errors.Is(err, iggy.ErrPartitionNotOwned) {
					fail("commit: %v", err)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		g.Close(ctx)
		logf("group member consumed %d messages", n)
	case "group-check": // gointerop ADDR group-check STREAM TOPIC GROUP: both partitions committed to 99
		c := dial(ctx, addr)
		defer c.Close()
		for p := uint32(0); p < 2; p++ {
			off, err := c.GetConsumerOffset(ctx, iggy.GroupConsumerOf(iggy.NamedID(os.Args[5])), iggy.NamedID(os.Args[3]), iggy.NamedID(os.Args[4]), iggy.Part(p))
			if err != nil || off.StoredOffset != 99 {
				fail("group %s partition %d: stored offset %+v %v, want 99", os.Args[5], p, off, err)
			}
		}
		logf("group %s: both partitions committed to offset 99", os.Args[5])
	case "produce", "consume":
		if len(os.Args) != 7 {
			fail("%s needs STREAM TOPIC COUNT ORIGIN", cmd)
		}
		stream, topic, origin := os.Args[3], os.Args[4], os.Args[6]
		count, err := strconv.Atoi(os.Args[5])
		if err != nil {
			fail("count: %v", err)
		}
		c := dial(ctx, addr)
		defer c.Close()
		if cmd == "produce" {
			produce(ctx, c, stream, topic, count, origin)
			logf("produced %d messages to %s/%s", count, stream, topic)
		} else {
			logf("consumed and verified %d messages from %s/%s (origin %s)", consume(ctx, c, stream, topic, count, origin), stream, topic, origin)
		}
	default:
		fail("unknown command %q", cmd)
	}
}
