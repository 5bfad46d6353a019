//go:build integration

package icebergsink

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"github.com/iggy-go/connectors/sdk"
)

// env is one catalog + store combination the integration tests run against: SQL catalog (SQLite)
// with local files always; REST catalog with S3 when scripts/iceberg-rest.sh and the S3 server are
// up (IGGY_TEST_ICEBERG_REST_URI, IGGY_TEST_S3_ENDPOINT, ...).
type env struct {
	name string
	cfg  map[string]any // plugin_config without tables/routing
	args []string       // read_table.py catalog arguments
	cat  catalog.Catalog
	ns   string
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", "..", ".."))
}

// envs returns the combinations available; the SQL one always, the REST one when its servers run
// (in CI scripts/test.d/iceberg.sh starts them, so a missing variable there fails the REST test).
func envs(t *testing.T) []*env {
	t.Helper()
	out := []*env{sqlEnv(t)}
	if url := os.Getenv("IGGY_TEST_PG_URL"); url != "" {
		out = append(out, pgEnv(t, url))
	}
	if os.Getenv("IGGY_TEST_ICEBERG_REST_URI") != "" {
		out = append(out, restEnv(t))
	} else if os.Getenv("CI") != "" {
		t.Fatal("IGGY_TEST_ICEBERG_REST_URI is not set: scripts/test.d/iceberg.sh should have started the REST catalog")
	} else {
		t.Log("REST catalog + S3 not running (IGGY_TEST_ICEBERG_REST_URI unset): only SQL catalog + local files")
	}
	return out
}

func uniq() string { return fmt.Sprintf("t%d", time.Now().UnixNano()%1_000_000_000) }

func sqlEnv(t testing.TB) *env {
	dir := t.TempDir()
	db := filepath.Join(dir, "catalog.db")
	wh := "file://" + filepath.Join(dir, "warehouse")
	e := &env{name: "sql+file", ns: "ns_" + uniq(),
		cfg:  map[string]any{"catalog_type": "sql", "uri": db, "warehouse": wh, "store_class": "fs"},
		args: []string{"--catalog", "sql", "--uri", "sqlite:///" + db, "--warehouse", wh}}
	e.open(t)
	return e
}

// pgEnv is the SQL catalog on PostgreSQL (the test cluster of scripts/postgres.sh) with local files;
// pyiceberg reads it through SQLAlchemy with psycopg 3.
func pgEnv(t testing.TB, url string) *env {
	dir := t.TempDir()
	wh := "file://" + filepath.Join(dir, "warehouse")
	pyURL := "postgresql+psycopg://" + strings.TrimPrefix(strings.TrimPrefix(url, "postgres://"), "postgresql://")
	e := &env{name: "sql(postgres)+file", ns: "ns_" + uniq(),
		cfg:  map[string]any{"catalog_type": "sql", "uri": url, "warehouse": wh, "store_class": "fs"},
		args: []string{"--catalog", "sql", "--uri", pyURL, "--warehouse", wh}}
	e.open(t)
	return e
}

func restEnv(t testing.TB) *env {
	uri := os.Getenv("IGGY_TEST_ICEBERG_REST_URI")
	ep, key, secret := os.Getenv("IGGY_TEST_S3_ENDPOINT"), os.Getenv("IGGY_TEST_S3_ACCESS_KEY"), os.Getenv("IGGY_TEST_S3_SECRET_KEY")
	e := &env{name: "rest+s3", ns: "ns_" + uniq(),
		cfg: map[string]any{"catalog_type": "rest", "uri": uri, "warehouse": os.Getenv("IGGY_TEST_ICEBERG_WAREHOUSE"),
			"store_class": "s3", "store_url": ep, "store_access_key_id": key, "store_secret_access_key": secret, "store_region": "us-east-1"},
		args: []string{"--catalog", "rest", "--uri", uri, "--s3-endpoint", ep, "--s3-access-key", key, "--s3-secret-key", secret}}
	e.open(t)
	return e
}

// open connects the test's own catalog (used only to create namespaces and tables).
func (e *env) open(t testing.TB) {
	t.Helper()
	cfg := e.config(t, map[string]any{"tables": []string{"x.y"}})
	cat, closeDB, err := openCatalog(context.Background(), cfg)
	if err != nil {
		t.Fatalf("%s: open catalog: %v", e.name, err)
	}
	t.Cleanup(closeDB)
	e.cat = cat
	if err := cat.CreateNamespace(context.Background(), table.Identifier{e.ns}, nil); err != nil {
		t.Fatalf("%s: create namespace: %v", e.name, err)
	}
}

// config builds a validated Config from the env's keys plus extra.
func (e *env) config(t testing.TB, extra map[string]any) *Config {
	t.Helper()
	m := map[string]any{}
	for k, v := range e.cfg {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	cfg, err := sdk.DecodeConfig[Config](b)
	if err != nil {
		t.Fatalf("config %s: %v", b, err)
	}
	return cfg
}

func (e *env) createTable(t testing.TB, name string, sch *iceberg.Schema, spec *iceberg.PartitionSpec) string {
	t.Helper()
	var opts []catalog.CreateTableOpt
	if spec != nil {
		opts = append(opts, catalog.WithPartitionSpec(spec))
	}
	if _, err := e.cat.CreateTable(context.Background(), table.Identifier{e.ns, name}, sch, opts...); err != nil {
		t.Fatalf("%s: create table %s: %v", e.name, name, err)
	}
	return e.ns + "." + name
}

// openSink builds and opens a sink.
func (e *env) openSink(t testing.TB, extra map[string]any) *Sink {
	t.Helper()
	cfg := e.config(t, extra)
	s, err := New(cfg, sdk.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(context.Background()); err != nil {
		t.Fatalf("%s: open: %v", e.name, err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s.(*Sink)
}

// readResult is what read_table.py prints.
type readResult struct {
	Count      int               `json:"count"`
	Types      map[string]string `json:"types"`
	Rows       []map[string]any  `json:"rows"`
	Partitions []map[string]any  `json:"partitions"`
	Snapshots  []struct {
		ID      int64             `json:"id"`
		Summary map[string]string `json:"summary"`
	} `json:"snapshots"`
}

// read reads a table with pyiceberg (build/venv, scripts/setup.sh).
func (e *env) read(t testing.TB, table, sortBy string, countOnly bool) readResult {
	t.Helper()
	py := filepath.Join(repoRoot(), "build", "venv", "bin", "python")
	args := append([]string{filepath.Join(repoRoot(), "connectors", "sinks", "iceberg", "icebergtest", "read_table.py")}, e.args...)
	args = append(args, "--table", table)
	if sortBy != "" {
		args = append(args, "--sort", sortBy)
	}
	if countOnly {
		args = append(args, "--count-only")
	}
	cmd := exec.Command(py, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: pyiceberg read %s: %v\n%s", e.name, table, err, stderr.String())
	}
	var r readResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("pyiceberg output: %v", err)
	}
	return r
}
