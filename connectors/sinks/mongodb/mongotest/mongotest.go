// Package mongotest is the kit of the MongoDB sink's integration tests (build tag integration): the
// server they run against (IGGY_TEST_MONGODB_URI, FerretDB started by scripts/ferretdb.sh), a
// database of each test's own, private FerretDB servers that a test may stop and start, and the
// independent reader (pymongo, through reader.py). Helpers fail the test (tb.Fatal) instead of
// returning errors; call them from the test's goroutine.
package mongotest

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/test/harness"
	"github.com/iggy-go/connectors/test/pluginbuild"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

const howTo = `run scripts/ferretdb.sh start && eval "$(scripts/ferretdb.sh env)"`

// URI returns IGGY_TEST_MONGODB_URI, or fails tb saying how to get a server.
func URI(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("IGGY_TEST_MONGODB_URI")
	if u == "" {
		tb.Fatal("IGGY_TEST_MONGODB_URI is not set: these tests need a MongoDB wire-protocol server; " + howTo)
	}
	return u
}

// Connect returns a Go driver client for uri, disconnected when the test ends.
func Connect(tb testing.TB, uri string) *mongo.Client {
	tb.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(15 * time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

// DB is a database of the test's own on a server, dropped when the test ends.
type DB struct {
	URI    string
	Name   string // prefix + 8 random hex digits
	Suffix string // the 8 hex digits, unique per DB: for stream names
	DB     *mongo.Database
}

// NewDB creates (lazily, as MongoDB does) a database whose name starts with prefix on uri.
func NewDB(tb testing.TB, uri, prefix string) *DB {
	tb.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	name := prefix + suffix
	c := Connect(tb, uri)
	d := &DB{URI: uri, Name: name, Suffix: suffix, DB: c.Database(name)}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = d.DB.Drop(ctx)
	})
	return d
}

// Count counts the documents of a collection matching filter (nil: all) with the Go driver.
func (d *DB) Count(tb testing.TB, coll string, filter any) int64 {
	tb.Helper()
	if filter == nil {
		filter = bson.D{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := d.DB.Collection(coll).CountDocuments(ctx, filter)
	if err != nil {
		tb.Fatalf("count %s.%s: %v", d.Name, coll, err)
	}
	return n
}

//go:embed reader.py
var readerPy string

// Python returns the project's Python (build/venv, made by scripts/setup.sh), failing tb when it
// has no pymongo.
func Python(tb testing.TB) string {
	tb.Helper()
	py := filepath.Join(pluginbuild.RepoRoot(), "build", "venv", "bin", "python")
	if out, err := exec.Command(py, "-c", "import pymongo").CombinedOutput(); err != nil {
		tb.Fatalf("%s has no pymongo (%v: %s): run scripts/setup.sh, or build/venv/bin/pip install -r scripts/requirements.txt", py, err, out)
	}
	return py
}

// Read runs reader.py (pymongo) with the arguments after URI, database and collection and returns
// its standard output.
func Read(tb testing.TB, uri, db, coll string, args ...string) []byte {
	tb.Helper()
	cmd := exec.Command(Python(tb), append([]string{"-c", readerPy, uri, db, coll}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		tb.Fatalf("pymongo reader %v: %v\n%s", args, err, errb.String())
	}
	return out.Bytes()
}

// Stats is what `reader.py stats` reports.
type Stats struct {
	Count       int64 `json:"count"`
	DistinctIDs int64 `json:"distinct_ids"`
	Groups      map[string]struct {
		N          int64 `json:"n"`
		Min        int64 `json:"min"`
		Max        int64 `json:"max"`
		Contiguous bool  `json:"contiguous"`
	} `json:"groups"`
}

// ReadStats reads a collection's count, distinct _id count and offsets per partition with pymongo.
func ReadStats(tb testing.TB, uri, db, coll string) Stats {
	tb.Helper()
	var s Stats
	if err := json.Unmarshal(Read(tb, uri, db, coll, "stats"), &s); err != nil {
		tb.Fatal(err)
	}
	return s
}

// ReadDocs reads the documents matching filter (extended JSON; "" for all), sorted by _id, with
// pymongo, and decodes pymongo's canonical extended JSON into bson.D, so that every value has the
// BSON type pymongo read from the server.
func ReadDocs(tb testing.TB, uri, db, coll, filter string) []bson.D {
	tb.Helper()
	args := []string{"dump"}
	if filter != "" {
		args = append(args, filter)
	}
	raw := Read(tb, uri, db, coll, args...)
	var w struct {
		D []bson.D `bson:"d"`
	}
	if err := bson.UnmarshalExtJSON([]byte(`{"d":`+string(raw)+`}`), true, &w); err != nil {
		tb.Fatalf("decode pymongo's extended JSON: %v", err)
	}
	return w.D
}

// ReadCount counts the documents matching filter (extended JSON) with pymongo.
func ReadCount(tb testing.TB, uri, db, coll, filter string) int64 {
	tb.Helper()
	var c struct{ Count int64 }
	if err := json.Unmarshal(Read(tb, uri, db, coll, "count", filter), &c); err != nil {
		tb.Fatal(err)
	}
	return c.Count
}

// Server is a FerretDB process of the test's own (IGGY_TEST_FERRETDB_BIN on the PostgreSQL
// database IGGY_TEST_FERRETDB_PG_URL), which the test may stop and start again on the same port.
type Server struct {
	tb   testing.TB
	Addr string
	URI  string
	bin  string
	pg   string
	log  *harness.Log
	p    *harness.Proc
}

// StartServer starts a private FerretDB on a free 127.0.0.1 port; it is killed when the test ends.
func StartServer(tb testing.TB) *Server {
	tb.Helper()
	bin, pg := os.Getenv("IGGY_TEST_FERRETDB_BIN"), os.Getenv("IGGY_TEST_FERRETDB_PG_URL")
	if bin == "" || pg == "" {
		tb.Fatal("IGGY_TEST_FERRETDB_BIN and IGGY_TEST_FERRETDB_PG_URL are not set: " + howTo)
	}
	addr := harness.FreeAddr(tb)
	s := &Server{tb: tb, Addr: addr, URI: "mongodb://" + addr + "/", bin: bin, pg: pg, log: harness.NewLog(tb, "ferretdb "+addr)}
	s.Start()
	return s
}

// Start starts the server (again) and waits until it accepts connections.
func (s *Server) Start() {
	s.tb.Helper()
	if s.p != nil && !s.p.Exited() {
		s.tb.Fatalf("ferretdb %s is already running", s.Addr)
	}
	fmt.Fprintf(s.log, "=== ferretdb started %s\n", time.Now().Format(time.RFC3339Nano))
	s.p = harness.Start(s.tb, exec.Command(s.bin, "--listen", s.Addr, "--postgresql-url", s.pg, "--log-level", "warn"), s.log)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if s.p.Exited() || time.Now().After(deadline) {
			s.tb.Fatalf("ferretdb on %s did not start (%v); log:\n%s", s.Addr, s.p.Err(), s.log.Contents())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL: connections drop as in a crash) and waits until it has ended.
func (s *Server) Stop() {
	s.p.Kill()
	fmt.Fprintf(s.log, "=== ferretdb killed %s\n", time.Now().Format(time.RFC3339Nano))
}

// Value returns the value of key in d, failing tb when d has no such key.
func Value(tb testing.TB, d bson.D, key string) any {
	tb.Helper()
	for _, e := range d {
		if e.Key == key {
			return e.Value
		}
	}
	tb.Fatalf("no field %q in %v", key, d)
	return nil
}

// Keys returns the keys of d joined with commas.
func Keys(d bson.D) string {
	k := make([]string, len(d))
	for i, e := range d {
		k[i] = e.Key
	}
	return strings.Join(k, ",")
}
