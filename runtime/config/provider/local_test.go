package provider

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/iggy-go/connectors/runtime/config"
)

func sinkFile(key string, version int, extra string) string {
	return fmt.Sprintf("type = \"sink\"\nkey = %q\nenabled = true\nversion = %d\nname = \"%s v%d\"\npath = \"lib%s\"\n%s\n[[streams]]\nstream = \"s\"\ntopics = [\"t\"]\nschema = \"json\"\n",
		key, version, key, version, key, extra)
}

func sourceFile(key string, version int) string {
	return fmt.Sprintf("type = \"source\"\nkey = %q\nenabled = true\nversion = %d\nname = \"%s v%d\"\npath = \"lib%s\"\n[[streams]]\nstream = \"s\"\ntopic = \"t\"\nschema = \"json\"\n",
		key, version, key, version, key)
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func versions(cs []*config.ConnectorConfig) []uint64 {
	out := []uint64{}
	for _, c := range cs {
		out = append(out, c.Version)
	}
	return out
}

func hasProblem(ps config.Problems, file, key, msg string) bool {
	for _, p := range ps {
		if (file == "" || p.File == file) && p.Key == key && strings.Contains(p.Message, msg) {
			return true
		}
	}
	return false
}

// A directory as the original lays it out: several versions of a key, an active record, and
// files the provider must skip.
func fixture(t *testing.T) string {
	dir := t.TempDir()
	write(t, dir, "pg.toml", sinkFile("pg", 0, ""))
	write(t, dir, "pg-newer.TOML", sinkFile("pg", 1, ""))
	write(t, dir, "whatever_name.toml", sinkFile("pg", 2, ""))
	write(t, dir, "random.toml", sourceFile("random", 0))
	write(t, dir, ActiveVersionsFile, "[sinks]\npg = 1\n")
	write(t, dir, ".hidden.toml", "not toml at all [")
	write(t, dir, "Cargo.toml", "[package]\nname = \"x\"\n")
	write(t, dir, "notes.txt", "ignored")
	write(t, dir, "nested/deeper.toml", sinkFile("nested", 0, ""))
	return dir
}

func TestLocalReadsVersionsAndActive(t *testing.T) {
	ctx := context.Background()
	dir := fixture(t)
	p := NewLocal(dir, Options{})
	snap, err := p.ActiveConfigs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Problems) != 0 {
		t.Errorf("problems: %v", snap.Problems)
	}
	if len(snap.Sinks) != 1 || snap.Sinks["pg"].Version != 1 || len(snap.Sources) != 1 || snap.Sources["random"].Version != 0 {
		t.Fatalf("snapshot sinks %v sources %v", snap.Sinks, snap.Sources)
	}
	if all := snap.All(); len(all) != 2 || all[0].Kind != config.KindSource || all[1].Key != "pg" {
		t.Errorf("All() order %v", all)
	}
	// Restart loads the ACTIVE version (the original loaded the highest).
	c, err := p.ActiveConfig(ctx, config.KindSink, "pg")
	if err != nil || c.Version != 1 || c.Name != "pg v1" {
		t.Errorf("active config %v, %v", c, err)
	}
	cs, err := p.Configs(ctx, config.KindSink, "pg")
	if err != nil || fmt.Sprint(versions(cs)) != "[0 1 2]" {
		t.Errorf("versions %v, %v", versions(cs), err)
	}
	if cs, _ := p.Configs(ctx, config.KindSink, "nested"); len(cs) != 0 {
		t.Error("subdirectories must not be read")
	}
	if cs, _ := p.Configs(ctx, config.KindSource, "pg"); len(cs) != 0 {
		t.Error("sinks and sources are separate namespaces")
	}
	c, err = p.Config(ctx, config.KindSink, "pg", 2)
	if err != nil || c.Name != "pg v2" || c.File != filepath.Join(dir, "whatever_name.toml") {
		t.Errorf("config v2 %v, %v", c, err)
	}
	_, err = p.Config(ctx, config.KindSink, "pg", 7)
	var nf *NotFoundError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &nf) || *nf.Version != 7 || nf.Key != "pg" {
		t.Errorf("missing version: %v", err)
	}
	if _, err := p.ActiveConfig(ctx, config.KindSource, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing key: %v", err)
	}
	av, err := p.ActiveVersions(ctx)
	if err != nil || av.Sinks["pg"].Version != 1 || av.Sources["random"].Version != 0 || av.Sinks["pg"].CreatedAt.IsZero() {
		t.Errorf("active versions %+v, %v", av, err)
	}
	// Without an active record the highest version is active.
	os.Remove(filepath.Join(dir, ActiveVersionsFile))
	if c, _ := p.ActiveConfig(ctx, config.KindSink, "pg"); c == nil || c.Version != 2 {
		t.Errorf("highest expected, got %v", c)
	}
}

func TestLocalCreate(t *testing.T) {
	ctx := context.Background()
	dir := fixture(t)
	p := NewLocal(dir, Options{})
	body, ps := config.DecodeConnectorJSON(config.KindSink, "body", []byte(`{"enabled":false,"name":"created","path":"libpg",
		"transforms":{"delete_fields":{"fields":["x"]},"add_fields":{"fields":[]}},
		"streams":[{"stream":"s2","topics":["a","b"],"schema":"raw"}],"plugin_config":{"target_table":"t"}}`), false, "pg")
	if body == nil {
		t.Fatal(ps)
	}
	c, err := p.Create(ctx, config.KindSink, "pg", body)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "sink_pg_3.toml")
	if c.Version != 3 || c.Key != "pg" || c.File != file || c.Name != "created" || c.Transforms[0].Type != "delete_fields" {
		t.Errorf("created %v", c)
	}
	data, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(data), "type = 'sink'") || !strings.Contains(string(data), "version = 3") {
		t.Errorf("file %s: %v", data, err)
	}
	// Not activated.
	if a, _ := p.ActiveConfig(ctx, config.KindSink, "pg"); a.Version != 1 {
		t.Errorf("active moved to %d", a.Version)
	}
	// First version of a new key is 0.
	c, err = p.Create(ctx, config.KindSource, "fresh", config.NewConnectorConfig(config.KindSource))
	if err == nil {
		t.Errorf("an empty config (no name, path, streams) must be refused, got %v", c)
	}
	src := config.NewConnectorConfig(config.KindSource)
	src.Name, src.Path, src.Enabled = "fresh", "libfresh", true
	src.SourceStreams = []config.SourceStream{{Stream: "a", Topic: "b", Schema: "json", BatchLength: 10, LingerTime: 0, Partitions: 1}}
	c, err = p.Create(ctx, config.KindSource, "fresh", src)
	if err != nil || c.Version != 0 || c.File != filepath.Join(dir, "source_fresh_0.toml") {
		t.Fatalf("created %v, %v", c, err)
	}
	// Concurrent creates get distinct versions.
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.Create(ctx, config.KindSource, "fresh", src)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	cs, _ := p.Configs(ctx, config.KindSource, "fresh")
	if fmt.Sprint(versions(cs)) != "[0 1 2 3 4 5 6]" {
		t.Errorf("versions %v", versions(cs))
	}
	if _, err := NewLocal("", Options{}).Create(ctx, config.KindSink, "x", body); err == nil || !strings.Contains(err.Error(), "config_dir") {
		t.Errorf("create without dir: %v", err)
	}
}

func readActive(t *testing.T, dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, ActiveVersionsFile))
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

func TestLocalDeleteAndSetActive(t *testing.T) {
	ctx := context.Background()
	dir := fixture(t)
	p := NewLocal(dir, Options{})

	if err := p.SetActiveVersion(ctx, config.KindSink, "pg", 5); !errors.Is(err, ErrNotFound) {
		t.Errorf("set missing version: %v", err)
	}
	if err := p.SetActiveVersion(ctx, config.KindSource, "random", 0); err != nil {
		t.Fatal(err)
	}
	if got := readActive(t, dir); got != "[sinks] pg = 1 [sources] random = 0" {
		t.Errorf("active file %q", got)
	}
	// Deleting a version that is not active leaves the record alone.
	if err := p.Delete(ctx, config.KindSink, "pg", ptr(uint64(0))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pg.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file not deleted: %v", err)
	}
	// Deleting the active version (no version given) moves the record to the highest remaining.
	if err := p.Delete(ctx, config.KindSink, "pg", nil); err != nil {
		t.Fatal(err)
	}
	if got := readActive(t, dir); got != "[sinks] pg = 2 [sources] random = 0" {
		t.Errorf("active file %q", got)
	}
	if c, _ := p.ActiveConfig(ctx, config.KindSink, "pg"); c == nil || c.Version != 2 {
		t.Errorf("active now %v", c)
	}
	// Deleting the last version removes the record.
	if err := p.Delete(ctx, config.KindSink, "pg", ptr(uint64(2))); err != nil {
		t.Fatal(err)
	}
	if got := readActive(t, dir); got != "[sinks] [sources] random = 0" {
		t.Errorf("active file %q", got)
	}
	if err := p.Delete(ctx, config.KindSink, "pg", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete with nothing left: %v", err)
	}
	if err := p.Delete(ctx, config.KindSource, "random", ptr(uint64(9))); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete missing version: %v", err)
	}
	snap, _ := p.ActiveConfigs(ctx)
	if len(snap.Sinks) != 0 || len(snap.Sources) != 1 {
		t.Errorf("snapshot %v %v", snap.Sinks, snap.Sources)
	}
}

// A bad file is a problem of that file only; everything else still loads (the original refused
// to start).
func TestLocalBadFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write(t, dir, "good.toml", sinkFile("good", 0, ""))
	broken := write(t, dir, "broken.toml", "type = \"sink\"\nkey = [\n")
	noname := write(t, dir, "noname.toml", strings.Replace(sinkFile("noname", 0, ""), "name = \"noname v0\"\n", "", 1))
	write(t, dir, "dup_a.toml", sinkFile("dup", 0, ""))
	dupB := write(t, dir, "dup_b.toml", sinkFile("dup", 0, ""))
	// Newest version of "newest" is invalid and nothing is active: do not start the older one.
	write(t, dir, "newest0.toml", sinkFile("newest", 0, ""))
	newest1 := write(t, dir, "newest1.toml", sinkFile("newest", 1, "verbose = 3"))
	// Same when the newest file is not even TOML.
	write(t, dir, "broken_v0.toml", sinkFile("broken", 0, ""))
	broken1 := write(t, dir, "broken_v1.toml", "type = \"sink\"\nkey = \"broken\"\nversion = 1\nname = \n")
	// An invalid OLD version does not hide the newer valid one.
	write(t, dir, "older0.toml", sinkFile("older", 0, "verbose = \"x\""))
	write(t, dir, "older1.toml", sinkFile("older", 1, ""))
	// Active record pointing at a version that does not exist.
	write(t, dir, "gone.toml", sourceFile("gone", 0))
	write(t, dir, ActiveVersionsFile, "[sources]\ngone = 4\n")
	// An unknown key is an error like any other: the connector is not loaded.
	typo := write(t, dir, "typo.toml", sinkFile("typo", 0, "verbos = true"))

	snap, err := NewLocal(dir, Options{}).ActiveConfigs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range snap.Sinks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if fmt.Sprint(keys) != "[dup good older]" || len(snap.Sources) != 0 || snap.Sinks["older"].Version != 1 {
		t.Errorf("sinks %v sources %v", keys, snap.Sources)
	}
	active := filepath.Join(dir, ActiveVersionsFile)
	for _, want := range []struct{ file, key, msg string }{
		{broken, "", "invalid TOML at line 2"},
		{noname, "name", "missing required key"},
		{dupB, "version", "sink \"dup\" version 0 is already defined in " + filepath.Join(dir, "dup_a.toml")},
		{newest1, "verbose", "expected a boolean"},
		{broken1, "", "invalid TOML at line 4"},
		{broken1, "", `sink "broken": this file may be its newest version but is invalid`},
		{newest1, "", "may be its newest version but is invalid; the connector is not loaded"},
		{active, "sources.gone", "active version 4 of source \"gone\" does not exist"},
		{typo, "verbos", `unknown key (did you mean "verbose"?)`},
	} {
		if !hasProblem(snap.Problems, want.file, want.key, want.msg) {
			t.Errorf("no problem %s: %s: %s in\n%v", want.file, want.key, want.msg, snap.Problems)
		}
	}
	// A malformed active-versions file is listed; the highest versions are used.
	write(t, dir, ActiveVersionsFile, "[sinks\n")
	snap, _ = NewLocal(dir, Options{}).ActiveConfigs(ctx)
	if !hasProblem(snap.Problems, active, "", "invalid TOML") || snap.Sinks["good"] == nil {
		t.Errorf("problems %v", snap.Problems)
	}
}

func TestLocalDirectory(t *testing.T) {
	ctx := context.Background()
	// Empty config_dir: no connectors and a warning (the original refused to start).
	snap, err := NewLocal("", Options{}).ActiveConfigs(ctx)
	if err != nil || len(snap.All()) != 0 || !hasProblem(snap.Problems, "", "connectors.config_dir", "not set") ||
		snap.Problems[0].Severity != config.SeverityWarning {
		t.Errorf("empty dir: %v %v", snap, err)
	}
	missing := filepath.Join(t.TempDir(), "a", "b")
	snap, err = NewLocal(missing, Options{ReadOnly: true}).ActiveConfigs(ctx)
	if err != nil || !hasProblem(snap.Problems, missing, "", "does not exist") {
		t.Errorf("read-only missing dir: %v %v", snap, err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Error("read-only provider created the directory")
	}
	if _, err := NewLocal(missing, Options{}).ActiveConfigs(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(missing); err != nil || !st.IsDir() {
		t.Errorf("directory not created: %v", err)
	}
	file := write(t, t.TempDir(), "f", "x")
	if _, err := NewLocal(file, Options{}).ActiveConfigs(ctx); err == nil {
		t.Error("a file as config_dir must fail")
	}
}

func TestLocalEnvOverrides(t *testing.T) {
	ctx := context.Background()
	dir := fixture(t)
	p := NewLocal(dir, Options{Env: map[string]string{
		"IGGY_CONNECTORS_SINK_PG_ENABLED":                     "false",
		"IGGY_CONNECTORS_SINK_PG_PLUGIN_CONFIG_TABLES":        "[users, orders]",
		"IGGY_CONNECTORS_SOURCE_RANDOM_STREAMS_0_STREAM":      "env_stream",
		"IGGY_CONNECTORS_SOURCE_RANDOM_STREAMS_0_TOPIC":       "env_topic",
		"IGGY_CONNECTORS_SOURCE_RANDOM_STREAMS_0_SCHEMA":      "text",
		"IGGY_CONNECTORS_SINK_UNKNOWN_ENABLED":                "true",
		"IGGY_CONNECTORS_SOURCE_RANDOM_STREAMS_0_LINGER_TIME": "2ms",
	}})
	cs, err := p.Configs(ctx, config.KindSink, "pg")
	if err != nil || len(cs) != 3 {
		t.Fatal(cs, err)
	}
	for _, c := range cs { // applied to every version
		if c.Enabled || fmt.Sprint(c.PluginConfig["tables"]) != "[users orders]" {
			t.Errorf("v%d: enabled %v plugin_config %v", c.Version, c.Enabled, c.PluginConfig)
		}
	}
	snap, _ := p.ActiveConfigs(ctx)
	s := snap.Sources["random"].SourceStreams
	if len(s) != 1 || s[0].Stream != "env_stream" || s[0].Schema != "text" || s[0].LingerTime.D().Milliseconds() != 2 {
		t.Errorf("streams %+v", s)
	}
	if !hasProblem(snap.Problems, config.EnvFile, "IGGY_CONNECTORS_SINK_UNKNOWN_ENABLED", "no sink has a key matching") {
		t.Errorf("problems %v", snap.Problems)
	}
	// A misspelt variable of an existing connector is an error of that connector, as a misspelt key
	// in its file is: it is not loaded.
	p = NewLocal(dir, Options{Env: map[string]string{"IGGY_CONNECTORS_SINK_PG_NAMEE": "x"}})
	snap, _ = p.ActiveConfigs(ctx)
	if snap.Sinks["pg"] != nil || !hasProblem(snap.Problems, config.EnvFile, "IGGY_CONNECTORS_SINK_PG_NAMEE", `did you mean "IGGY_CONNECTORS_SINK_PG_NAME"`) {
		t.Errorf("misspelt variable: pg loaded %v, problems %v", snap.Sinks["pg"] != nil, snap.Problems)
	}
}

// The local provider reads the whole directory on every call; this measures a directory of 100
// connector files (versions of 50 keys).
func BenchmarkLocalActiveConfigs100Files(b *testing.B) {
	dir := b.TempDir()
	for i := 0; i < 100; i++ {
		p := filepath.Join(dir, fmt.Sprintf("c%03d.toml", i))
		if err := os.WriteFile(p, []byte(sinkFile(fmt.Sprintf("k%02d", i/2), i%2, "")), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	p := NewLocal(dir, Options{})
	b.ReportAllocs()
	for b.Loop() {
		snap, err := p.ActiveConfigs(context.Background())
		if err != nil || len(snap.Sinks) != 50 {
			b.Fatal(err, len(snap.Sinks))
		}
	}
}

// TestLocalCreateKeepsActiveVersion (issue 18, item 2): Create never changes which version is
// active. Without a record the highest version is active, so Create records the version active
// until then; a key without usable versions gets no record (its new version is the one to start).
func TestLocalCreateKeepsActiveVersion(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write(t, dir, "a.toml", sinkFile("a", 0, ""))
	write(t, dir, "b.toml", sinkFile("b", 0, ""))
	l := NewLocal(dir, Options{})
	if err := l.SetActiveVersion(ctx, config.KindSink, "b", 0); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"a", "b", "new"} {
		for range 2 {
			cfg, err := l.Config(ctx, config.KindSink, "a", 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.Create(ctx, config.KindSink, key, cfg); err != nil {
				t.Fatalf("create %s: %v", key, err)
			}
		}
	}
	want := map[string]uint64{"a": 0, "b": 0, "new": 0} // new: version 0 had no record, so creating 1 recorded it
	for key, v := range want {
		c, err := l.ActiveConfig(ctx, config.KindSink, key)
		if err != nil || c.Version != v {
			t.Errorf("active version of %s after two creates: %v, %v; want %d", key, c, err, v)
		}
	}
	if got := readActive(t, dir); !strings.Contains(got, "a = 0") || !strings.Contains(got, "b = 0") || !strings.Contains(got, "new = 0") {
		t.Errorf(".active_versions.toml = %q", got)
	}
	snap, err := l.ActiveConfigs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Sinks["a"].Version != 0 || snap.Sinks["b"].Version != 0 {
		t.Errorf("ActiveConfigs: a %d, b %d; want 0 and 0", snap.Sinks["a"].Version, snap.Sinks["b"].Version)
	}
}

// TestLocalActiveConfigOfInvalidFile (issue 18, item 4): when every file of a key is invalid,
// ActiveConfig is an *config.InvalidError naming the file and the problem, not "not found".
func TestLocalActiveConfigOfInvalidFile(t *testing.T) {
	dir := t.TempDir()
	file := write(t, dir, "a.toml", strings.Replace(sinkFile("a", 0, ""), `schema = "json"`, `schema = "jsn"`, 1))
	_, err := NewLocal(dir, Options{}).ActiveConfig(context.Background(), config.KindSink, "a")
	var inv *config.InvalidError
	if !errors.As(err, &inv) || errors.Is(err, ErrNotFound) || !hasProblem(inv.Problems, file, "streams[0].schema", `invalid value "jsn"`) {
		t.Errorf("ActiveConfig = %v; want an InvalidError naming %s", err, file)
	}
	if _, err := NewLocal(dir, Options{}).ActiveConfig(context.Background(), config.KindSink, "other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown key: %v, want not found", err)
	}
}
