package iggy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/iggyserver"
)

func quietLogger() *slog.Logger {
	if os.Getenv("IGGY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startServer(t testing.TB, cfg iggyserver.Config) *iggyserver.Server {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	cfg.Logger = quietLogger()
	cfg.TraceFrames = os.Getenv("IGGY_TEST_LOG") != ""
	s, err := iggyserver.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func dial(t testing.TB, addr string, mod ...func(*iggy.Config)) *iggy.Client {
	t.Helper()
	cfg := iggy.Config{Address: addr, Username: "iggy", Password: "iggy", Logger: quietLogger(),
		Reconnect: iggy.ReconnectConfig{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond}}
	for _, m := range mod {
		m(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := iggy.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// makeMessages builds n messages with ids from+1.., a payload naming the id, and typed headers.
func makeMessages(from, n int) []iggy.Message {
	msgs := make([]iggy.Message, n)
	for i := range msgs {
		id := from + i + 1
		msgs[i] = iggy.Message{ID: iggy.IDFromUint64(uint64(id)), Payload: []byte(fmt.Sprintf("payload-%06d", id)),
			Headers: []iggy.Header{iggy.StringHeader("seq", fmt.Sprint(id)),
				{KeyKind: iggy.KindString, Key: []byte("n"), ValueKind: iggy.KindUint32, Value: []byte{byte(id), byte(id >> 8), 0, 0}}}}
	}
	return msgs
}

func checkMessage(t testing.TB, m iggy.Message, id int, offset uint64) {
	t.Helper()
	if m.ID != iggy.IDFromUint64(uint64(id)) || m.Offset != offset || string(m.Payload) != fmt.Sprintf("payload-%06d", id) ||
		len(m.Headers) != 2 || string(m.Headers[0].Value) != fmt.Sprint(id) || m.Headers[1].Value[0] != byte(id) {
		t.Fatalf("message at offset %d: got id %x offset %d payload %q headers %v, want id %d", offset, m.ID, m.Offset, m.Payload, m.Headers, id)
	}
	if m.Timestamp == 0 || m.OriginTimestamp == 0 || m.Checksum == 0 {
		t.Fatalf("message %d: missing timestamps/checksum: %+v", id, m)
	}
}

func TestSendPollStrategies(t *testing.T) {
	s := startServer(t, iggyserver.Config{})
	c := dial(t, s.Addr().String())
	ctx := testCtx(t)
	td, err := c.EnsureTopic(ctx, "test", "orders", 3)
	if err != nil {
		t.Fatal(err)
	}
	if td.Name != "orders" || td.PartitionsCount != 3 || len(td.Partitions) != 3 {
		t.Fatalf("topic %+v", td)
	}
	again, err := c.EnsureTopic(ctx, "test", "orders", 5)
	if err != nil || again.ID != td.ID || again.PartitionsCount != 3 {
		t.Fatalf("EnsureTopic again: %+v %v", again, err)
	}
	stream, topic := iggy.NamedID("test"), iggy.NamedID("orders")
	// 10 batches of 100 to partition 1.
	for b := 0; b < 10; b++ {
		conf, err := c.SendMessages(ctx, stream, topic, iggy.PartitionID(1), makeMessages(b*100, 100))
		if err != nil {
			t.Fatal(err)
		}
		if len(conf) != 1 || conf[0].PartitionID != 1 || conf[0].BaseOffset != uint64(b*100) {
			t.Fatalf("confirmation %+v", conf)
		}
	}
	cons := iggy.SingleConsumer(7)
	got := 0
	for off := uint64(0); off < 1000; {
		p, err := c.PollMessages(ctx, stream, topic, cons, iggy.Part(1), iggy.StrategyOffset(off), 333, false)
		if err != nil {
			t.Fatal(err)
		}
		if p.PartitionID != 1 || p.CurrentOffset != 999 || len(p.Messages) == 0 {
			t.Fatalf("poll at %d: partition %d current %d, %d messages", off, p.PartitionID, p.CurrentOffset, len(p.Messages))
		}
		for _, m := range p.Messages {
			checkMessage(t, m, int(off)+1, off)
			off++
			got++
		}
	}
	if got != 1000 {
		t.Fatalf("polled %d", got)
	}
	cases := []struct {
		name      string
		strategy  iggy.PollingStrategy
		count     uint32
		wantFirst uint64
		wantN     int
	}{
		{"first", iggy.StrategyFirst(), 5, 0, 5},
		{"last", iggy.StrategyLast(), 5, 995, 5},
		{"last more than all", iggy.StrategyLast(), 5000, 0, 1000},
		{"offset past end", iggy.StrategyOffset(1000), 5, 0, 0},
		{"offset in a batch", iggy.StrategyOffset(150), 3, 150, 3},
		{"count zero", iggy.StrategyFirst(), 0, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := c.PollMessages(ctx, stream, topic, cons, iggy.Part(1), tc.strategy, tc.count, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Messages) != tc.wantN {
				t.Fatalf("%d messages, want %d", len(p.Messages), tc.wantN)
			}
			if tc.wantN > 0 {
				checkMessage(t, p.Messages[0], int(tc.wantFirst)+1, tc.wantFirst)
			}
		})
	}
	// Timestamp: everything was sent before now; a future timestamp returns nothing.
	p, err := c.PollMessages(ctx, stream, topic, cons, iggy.Part(1), iggy.StrategyTimestamp(uint64(time.Now().Add(time.Hour).UnixMicro())), 10, false)
	if err != nil || len(p.Messages) != 0 {
		t.Fatalf("future timestamp: %v %v", p, err)
	}
	first, _ := c.PollMessages(ctx, stream, topic, cons, iggy.Part(1), iggy.StrategyOffset(500), 1, false)
	p, err = c.PollMessages(ctx, stream, topic, cons, iggy.Part(1), iggy.StrategyTimestamp(first.Messages[0].Timestamp), 1, false)
	if err != nil || len(p.Messages) != 1 || p.Messages[0].Timestamp < first.Messages[0].Timestamp {
		t.Fatalf("timestamp poll: %+v %v", p, err)
	}
	// Next with auto-commit walks forward; stored offsets are visible.
	for want := 0; want < 30; want += 10 {
		p, err := c.PollMessages(ctx, stream, topic, cons, iggy.Part(1), iggy.StrategyNext(), 10, true)
		if err != nil || len(p.Messages) != 10 {
			t.Fatalf("next: %v %v", p, err)
		}
		checkMessage(t, p.Messages[0], want+1, uint64(want))
	}
	off, err := c.GetConsumerOffset(ctx, cons, stream, topic, iggy.Part(1))
	if err != nil || off.StoredOffset != 29 || off.CurrentOffset != 999 {
		t.Fatalf("offset %+v %v", off, err)
	}
	if err := c.StoreConsumerOffset(ctx, cons, stream, topic, iggy.Part(1), 500); err != nil {
		t.Fatal(err)
	}
	p, _ = c.PollMessages(ctx, stream, topic, cons, iggy.Part(1), iggy.StrategyNext(), 1, false)
	checkMessage(t, p.Messages[0], 502, 501)
	if err := c.StoreConsumerOffset(ctx, cons, stream, topic, iggy.Part(1), 5000); err == nil {
		t.Fatal("storing an offset beyond the end succeeded")
	}
	if _, err := c.GetConsumerOffset(ctx, iggy.NamedConsumer("nobody"), stream, topic, iggy.Part(1)); !errors.Is(err, iggy.ErrNotFound) {
		t.Fatalf("offset of unknown consumer: %v", err)
	}
	// Balanced spreads, messages key is stable.
	seen := map[uint32]int{}
	for i := 0; i < 6; i++ {
		conf, err := c.SendMessages(ctx, stream, topic, iggy.Balanced(), makeMessages(0, 1))
		if err != nil {
			t.Fatal(err)
		}
		seen[conf[0].PartitionID]++
	}
	if len(seen) != 3 || seen[0] != 2 {
		t.Fatalf("balanced distribution %v", seen)
	}
	var keyPart uint32 = 99
	for i := 0; i < 3; i++ {
		conf, err := c.SendMessages(ctx, stream, topic, iggy.MessagesKey([]byte("customer-42")), makeMessages(0, 1))
		if err != nil {
			t.Fatal(err)
		}
		if keyPart != 99 && conf[0].PartitionID != keyPart {
			t.Fatalf("messages key moved from %d to %d", keyPart, conf[0].PartitionID)
		}
		keyPart = conf[0].PartitionID
	}
	if want := iggyXXH32("customer-42") % 3; keyPart != want {
		t.Fatalf("messages key went to %d, want XXH32 mod 3 = %d", keyPart, want)
	}
}

func TestErrorsAreTyped(t *testing.T) {
	s := startServer(t, iggyserver.Config{})
	c := dial(t, s.Addr().String())
	ctx := testCtx(t)
	if _, err := c.CreateStream(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateStream(ctx, "s1")
	if !errors.Is(err, iggy.ErrAlreadyExists) {
		t.Fatalf("duplicate stream: %v", err)
	}
	if code, ok := iggy.ErrorCode(err); !ok || code != 1012 {
		t.Fatalf("code %d %v", code, ok)
	}
	if _, err := c.GetStream(ctx, iggy.NamedID("nope")); !errors.Is(err, iggy.ErrNotFound) {
		t.Fatalf("missing stream: %v", err)
	}
	if _, err := c.GetTopic(ctx, iggy.NamedID("s1"), iggy.NamedID("nope")); !errors.Is(err, iggy.ErrNotFound) {
		t.Fatalf("missing topic: %v", err)
	}
	if _, err := c.CreateTopic(ctx, iggy.NamedID("nope"), "t", 1, nil); !errors.Is(err, iggy.ErrNotFound) {
		t.Fatalf("topic in missing stream: %v", err)
	}
	if _, err := c.SendMessages(ctx, iggy.NamedID("s1"), iggy.NamedID("nope"), iggy.PartitionID(0), makeMessages(0, 1)); !errors.Is(err, iggy.ErrNotFound) {
		t.Fatalf("send to missing topic: %v", err)
	}
	if _, err := c.SendMessages(ctx, iggy.NamedID("s1"), iggy.NamedID("t"), iggy.PartitionID(0), nil); !errors.Is(err, iggy.ErrInvalidArgument) {
		t.Fatalf("empty send: %v", err)
	}
	if iggy.IsRetryable(err) {
		t.Fatal("not-found error classified retryable")
	}
	_, err = iggy.Dial(ctx, iggy.Config{Address: s.Addr().String(), Username: "iggy", Password: "wrong", Logger: quietLogger()})
	if !errors.Is(err, iggy.ErrUnauthenticated) || iggy.IsRetryable(err) {
		t.Fatalf("bad password: %v", err)
	}
	_, err = iggy.Dial(ctx, iggy.Config{Address: s.Addr().String(), Token: "bogus", Logger: quietLogger()})
	if !errors.Is(err, iggy.ErrUnauthenticated) {
		t.Fatalf("bad token: %v", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = iggy.Dial(dctx, iggy.Config{Address: "127.0.0.1:1", Username: "iggy", Password: "iggy", Logger: quietLogger()})
	if !errors.Is(err, iggy.ErrTransport) || !iggy.IsRetryable(err) {
		t.Fatalf("dial refused: %v", err)
	}
	me, err := c.GetMe(ctx)
	if err != nil || me.UserID != 0 || me.Transport != 1 {
		t.Fatalf("me %+v %v", me, err)
	}
	st, err := c.GetStats(ctx)
	if err != nil || st.StreamsCount != 1 || st.ServerVersion != "0.9.0" {
		t.Fatalf("stats %+v %v", st, err)
	}
}

func TestPersonalAccessTokenLogin(t *testing.T) {
	s := startServer(t, iggyserver.Config{})
	c := dial(t, s.Addr().String())
	ctx := testCtx(t)
	tok, err := c.CreatePersonalAccessToken(ctx, "ci", 0)
	if err != nil || tok == "" {
		t.Fatal(tok, err)
	}
	if _, err := c.CreatePersonalAccessToken(ctx, "ci", 0); !errors.Is(err, iggy.ErrAlreadyExists) {
		t.Fatalf("duplicate token: %v", err)
	}
	lit := dial(t, s.Addr().String(), func(cfg *iggy.Config) { cfg.Username, cfg.Password, cfg.Token = "", "", tok })
	if err := lit.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "token")
	os.WriteFile(path, []byte(tok+"\n"), 0o600)
	fromFile := dial(t, s.Addr().String(), func(cfg *iggy.Config) { cfg.Username, cfg.Password, cfg.Token = "", "", "file:"+path })
	if me, err := fromFile.GetMe(ctx); err != nil || me.UserID != 0 {
		t.Fatalf("%+v %v", me, err)
	}
	list, err := c.GetPersonalAccessTokens(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "ci" {
		t.Fatalf("tokens %+v %v", list, err)
	}
	if err := c.DeletePersonalAccessToken(ctx, "ci"); err != nil {
		t.Fatal(err)
	}
	_, err = iggy.Dial(ctx, iggy.Config{Address: s.Addr().String(), Token: tok, Logger: quietLogger()})
	if !errors.Is(err, iggy.ErrUnauthenticated) {
		t.Fatalf("deleted token still logs in: %v", err)
	}
}

func TestConcurrentClients(t *testing.T) {
	s := startServer(t, iggyserver.Config{})
	ctx := testCtx(t)
	admin := dial(t, s.Addr().String())
	if _, err := admin.EnsureTopic(ctx, "conc", "t", 4); err != nil {
		t.Fatal(err)
	}
	const clients, perClient = 40, 100
	shared := dial(t, s.Addr().String())
	errs := make(chan error, clients*2)
	for i := 0; i < clients; i++ {
		c := shared
		if i%2 == 0 {
			c = dial(t, s.Addr().String())
		}
		go func(i int, c *iggy.Client) {
			for j := 0; j < perClient; j += 20 {
				if _, err := c.SendMessages(ctx, iggy.NamedID("conc"), iggy.NamedID("t"), iggy.PartitionID(uint32(i%4)), makeMessages(i*perClient+j, 20)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(i, c)
	}
	for i := 0; i < clients; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for p := uint32(0); p < 4; p++ {
		res, err := admin.PollMessages(ctx, iggy.NamedID("conc"), iggy.NamedID("t"), iggy.SingleConsumer(1), iggy.Part(p), iggy.StrategyFirst(), 10000, false)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range res.Messages {
			if m.Offset != uint64(i) {
				t.Fatalf("partition %d: offset %d at index %d", p, m.Offset, i)
			}
		}
		total += len(res.Messages)
	}
	if total != clients*perClient {
		t.Fatalf("stored %d messages, want %d", total, clients*perClient)
	}
}

func TestLargePayloadAndBinaryHeaders(t *testing.T) {
	s := startServer(t, iggyserver.Config{})
	c := dial(t, s.Addr().String())
	ctx := testCtx(t)
	if _, err := c.EnsureTopic(ctx, "big", "t", 1); err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte{0xab, 0x00, 0xff}, 1<<20)
	msg := iggy.Message{ID: iggy.IDFromUint64(9), Payload: payload, Headers: []iggy.Header{
		{KeyKind: iggy.KindRaw, Key: []byte{0, 1}, ValueKind: iggy.KindBool, Value: []byte{1}},
		{KeyKind: iggy.KindInt64, Key: []byte{1, 2, 3, 4, 5, 6, 7, 8}, ValueKind: iggy.KindFloat64, Value: []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}},
	}}
	if _, err := c.SendMessages(ctx, iggy.NamedID("big"), iggy.NamedID("t"), iggy.PartitionID(0), []iggy.Message{msg}); err != nil {
		t.Fatal(err)
	}
	res, err := c.PollMessages(ctx, iggy.NamedID("big"), iggy.NamedID("t"), iggy.SingleConsumer(1), iggy.Part(0), iggy.StrategyFirst(), 1, false)
	if err != nil || len(res.Messages) != 1 || !bytes.Equal(res.Messages[0].Payload, payload) || len(res.Messages[0].Headers) != 2 ||
		res.Messages[0].Headers[1].ValueKind != iggy.KindFloat64 {
		t.Fatalf("%v %v", res, err)
	}
	bad := iggy.Message{Payload: []byte("x"), Headers: []iggy.Header{{KeyKind: 99, Key: []byte("k"), ValueKind: iggy.KindString, Value: []byte("v")}}}
	if _, err := c.SendMessages(ctx, iggy.NamedID("big"), iggy.NamedID("t"), iggy.PartitionID(0), []iggy.Message{bad}); !errors.Is(err, iggy.ErrInvalidArgument) {
		t.Fatalf("bad header kind: %v", err)
	}
}
