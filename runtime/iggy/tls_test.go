package iggy_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/test/iggyserver"
	"github.com/iggy-go/connectors/test/iggyserver/devcert"
)

func TestTLS(t *testing.T) {
	pair, err := devcert.New([]string{"iggy.test"}, []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	files, err := pair.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tcfg, err := pair.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, iggyserver.Config{TLS: tcfg})
	ctx := testCtx(t)
	for _, name := range []string{"", "iggy.test"} { // the IP SAN, then an explicit server name
		c := dial(t, s.Addr().String(), func(cfg *iggy.Config) { cfg.TLS = iggy.TLSConfig{Enabled: true, CAFile: files.CA, ServerName: name} })
		if _, err := c.EnsureTopic(ctx, "tls", "t", 1); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SendMessages(ctx, iggy.NamedID("tls"), iggy.NamedID("t"), iggy.PartitionID(0), makeMessages(0, 10)); err != nil {
			t.Fatal(err)
		}
	}
	// Without the CA, and with a wrong server name, the handshake is refused at once (not retried).
	for _, tc := range []iggy.TLSConfig{{Enabled: true}, {Enabled: true, CAFile: files.CA, ServerName: "other.test"}} {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := iggy.Dial(dctx, iggy.Config{Address: s.Addr().String(), Username: "iggy", Password: "iggy", TLS: tc, Logger: quietLogger()})
		cancel()
		if err == nil || iggy.IsRetryable(err) || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("TLS %+v: %v", tc, err)
		}
	}
	// A plain client against the TLS port fails with a transport error.
	dctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err = iggy.Dial(dctx, iggy.Config{Address: s.Addr().String(), Username: "iggy", Password: "iggy", Logger: quietLogger(), RequestTimeout: 200 * time.Millisecond})
	if !errors.Is(err, iggy.ErrTransport) {
		t.Fatalf("plain client on TLS port: %v", err)
	}
}
