package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
)

// External-server mode. With IGGY_TEST_SERVER_ADDRESS=host:port set, the end-to-end suites run
// against that Iggy server (for instance the Apache Iggy version a user runs) instead of starting
// iggy-devserver: StartDevserver returns a handle on it, Dial and the runtime use its credentials
// and TLS settings, and tests that must restart or kill the server skip (NeedsOwnServer).
//
//	IGGY_TEST_SERVER_ADDRESS   host:port of the server's binary TCP listener
//	IGGY_TEST_SERVER_USERNAME  default iggy
//	IGGY_TEST_SERVER_PASSWORD  default iggy
//	IGGY_TEST_SERVER_TLS       true: TLS to the server
//	IGGY_TEST_SERVER_TLS_CA_FILE  CA certificate (PEM) to verify it with
//	IGGY_TEST_SERVER_TLS_DOMAIN   server name to verify (default: the host of the address)
//
// Tests share the server, so each test's streams carry a suffix unique to the test and the run
// (Stream) and are deleted when the test ends.

// ExternalServer is the server named by the IGGY_TEST_SERVER_* variables.
type ExternalServer struct {
	Addr, Username, Password string
	TLS                      bool
	TLSCAFile, TLSDomain     string
}

var (
	externalOnce sync.Once
	external     *ExternalServer
)

// External returns the external server configured by IGGY_TEST_SERVER_ADDRESS, or nil when the
// suites start their own iggy-devserver.
func External() *ExternalServer {
	externalOnce.Do(func() {
		addr := os.Getenv("IGGY_TEST_SERVER_ADDRESS")
		if addr == "" {
			return
		}
		tlsOn, _ := strconv.ParseBool(os.Getenv("IGGY_TEST_SERVER_TLS"))
		external = &ExternalServer{Addr: addr, Username: envOr("IGGY_TEST_SERVER_USERNAME", "iggy"),
			Password: envOr("IGGY_TEST_SERVER_PASSWORD", "iggy"), TLS: tlsOn,
			TLSCAFile: os.Getenv("IGGY_TEST_SERVER_TLS_CA_FILE"), TLSDomain: os.Getenv("IGGY_TEST_SERVER_TLS_DOMAIN")}
	})
	return external
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// NeedsOwnServer skips tb against an external server: the test restarts, kills or reconfigures
// the Iggy server, which it may only do to an iggy-devserver it started.
func NeedsOwnServer(tb testing.TB) {
	tb.Helper()
	if e := External(); e != nil {
		tb.Skipf("skipped against the external Iggy server %s (IGGY_TEST_SERVER_ADDRESS): this test restarts, kills or reconfigures the server", e.Addr)
	}
}

// IggyEnv returns the IGGY_CONNECTORS_IGGY_* settings that point a runtime at addr with the
// credentials of the server: the external server's (username, password, TLS) in external mode,
// iggy/iggy otherwise.
func IggyEnv(addr string) []string {
	env := []string{"IGGY_CONNECTORS_IGGY_ADDRESS=" + addr}
	if e := External(); e != nil && addr == e.Addr {
		env = append(env, "IGGY_CONNECTORS_IGGY_USERNAME="+e.Username, "IGGY_CONNECTORS_IGGY_PASSWORD="+e.Password)
		if e.TLS {
			env = append(env, "IGGY_CONNECTORS_IGGY_TLS_ENABLED=true", "IGGY_CONNECTORS_IGGY_TLS_CA_FILE="+e.TLSCAFile,
				"IGGY_CONNECTORS_IGGY_TLS_DOMAIN="+e.TLSDomain)
		}
	}
	return env
}

var discardLogger = slog.New(slog.DiscardHandler)

// ClientConfig is the Go client config for the server at addr (the external server's credentials
// and TLS when addr is the external server, iggy/iggy otherwise), with its logs discarded.
func ClientConfig(addr string) iggy.Config {
	cfg := iggy.Config{Address: addr, Username: "iggy", Password: "iggy", Logger: discardLogger}
	if e := External(); e != nil && addr == e.Addr {
		cfg.Username, cfg.Password = e.Username, e.Password
		if e.TLS {
			cfg.TLS = iggy.TLSConfig{Enabled: true, CAFile: e.TLSCAFile, ServerName: e.TLSDomain}
		}
	}
	return cfg
}

// runID tells this test process's streams from those of other runs on a shared server.
var runID = func() string {
	var b [3]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}()

// Stream returns the name test tb uses for its stream base: base itself against an
// iggy-devserver the test owns; against an external server base plus a suffix unique to the
// test (a subtest has its own) and this run, and the stream is deleted from the server when the
// test ends. Subtests that use their parent's streams take the names from the parent.
func Stream(tb testing.TB, base string) string {
	e := External()
	if e == nil {
		return base
	}
	h := fnv.New32a()
	h.Write([]byte(tb.Name()))
	suffix := fmt.Sprintf("-%s%08x", runID, h.Sum32())
	if strings.HasSuffix(base, suffix) {
		return base // already this test's name
	}
	name := base + suffix
	streamsMu.Lock()
	defer streamsMu.Unlock()
	if !streams[name] {
		streams[name] = true
		tb.Cleanup(func() {
			if err := deleteStream(e.Addr, name); err != nil {
				tb.Errorf("external Iggy server %s: removing the test's stream: %v", e.Addr, err)
			}
			streamsMu.Lock()
			delete(streams, name)
			streamsMu.Unlock()
		})
	}
	return name
}

var (
	streamsMu sync.Mutex
	streams   = map[string]bool{} // names handed out whose deletion is registered
)

func deleteStream(addr, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := iggy.Dial(ctx, ClientConfig(addr))
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.DeleteStream(ctx, iggy.NamedID(name)); err != nil && !errors.Is(err, iggy.ErrNotFound) {
		return fmt.Errorf("delete stream %s: %w", name, err)
	}
	return nil
}

var streamLine = regexp.MustCompile(`(\bstream\s*=\s*")([^"]+)(")`)

// RenameStreams rewrites every `stream = "NAME"` in a connector TOML text to Stream(tb, NAME)
// (a no-op against an iggy-devserver the test owns).
func RenameStreams(tb testing.TB, toml string) string {
	if External() == nil {
		return toml
	}
	return streamLine.ReplaceAllStringFunc(toml, func(m string) string {
		p := streamLine.FindStringSubmatch(m)
		return p[1] + Stream(tb, p[2]) + p[3]
	})
}
