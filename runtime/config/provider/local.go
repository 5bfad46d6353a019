package provider

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/iggy-go/connectors/runtime/config"
)

// ActiveVersionsFile is the local provider's record of active versions inside the config
// directory: `[sinks] key = N` and `[sources] key = N`.
const ActiveVersionsFile = ".active_versions.toml"

// Local serves the connector configs of a directory (spec §4.2, §4.4). Every regular *.toml file
// directly inside it (dotfiles and Cargo.toml skipped) is one version of one connector, whatever
// its name; several files may hold the same key with different versions. The directory is read
// again on every call, so edits to the files are seen by the next call (and take effect at the
// next start or restart of the connector).
//
// IGGY_CONNECTORS_{SINK|SOURCE}_{KEY}_* environment variables override the keys of every version
// of that connector (see config.SplitConnectorEnv).
//
// Fixes of the original's behaviour, on purpose:
//   - an empty config_dir means no connectors and a warning, not a startup error;
//   - a file that is not valid TOML, or not a valid config, is a problem of that file only: it is
//     listed and the other connectors still load (the original refused to start);
//   - ActiveConfig (restart) returns the active version, not the highest;
//   - when the newest file of a connector is invalid and no version is recorded as active, the
//     connector is left out instead of silently starting an older version;
//   - Delete without a version deletes the effective active version (recorded, else highest).
//
// Writes (Create, Delete, SetActiveVersion) are serialised, and files are written atomically
// (temporary file, then rename).
type Local struct {
	dir      string
	env      map[string]string
	readOnly bool
	log      *slog.Logger
	mu       sync.Mutex
}

// NewLocal returns the local provider of dir (relative paths are relative to the working
// directory, as in the original).
func NewLocal(dir string, opts Options) *Local {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Local{dir: dir, env: opts.Env, readOnly: opts.ReadOnly, log: opts.Logger}
}

// Dir returns the config directory.
func (l *Local) Dir() string { return l.dir }

// Describe implements Provider.
func (l *Local) Describe() string { return fmt.Sprintf("local directory %q", l.dir) }

type entry struct {
	cfg   *config.ConnectorConfig
	file  string
	mtime time.Time
}

type index struct {
	configs  map[config.Kind]map[string]map[uint64]*entry
	broken   map[config.Kind]map[string][]brokenFile // files of a key that failed to decode
	active   activeVersions                          // as recorded in .active_versions.toml
	problems config.Problems
}

type brokenFile struct {
	file       string
	version    uint64
	hasVersion bool
}

type activeVersions struct {
	Sinks   map[string]uint64 `toml:"sinks"`
	Sources map[string]uint64 `toml:"sources"`
}

func (a *activeVersions) of(kind config.Kind) map[string]uint64 {
	if kind == config.KindSink {
		if a.Sinks == nil {
			a.Sinks = map[string]uint64{}
		}
		return a.Sinks
	}
	if a.Sources == nil {
		a.Sources = map[string]uint64{}
	}
	return a.Sources
}

// scan reads the directory. Problems of single files go into the index; the error is for the
// directory as a whole.
func (l *Local) scan() (*index, error) {
	ix := &index{
		configs: map[config.Kind]map[string]map[uint64]*entry{config.KindSink: {}, config.KindSource: {}},
		broken:  map[config.Kind]map[string][]brokenFile{config.KindSink: {}, config.KindSource: {}},
	}
	if l.dir == "" {
		ix.problems.Warn("", "connectors.config_dir", "not set: no connectors are loaded")
		return ix, nil
	}
	st, err := os.Stat(l.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if l.readOnly {
			ix.problems.Warn(l.dir, "", "connectors config directory does not exist: no connectors")
			return ix, nil
		}
		if err := os.MkdirAll(l.dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating connectors config directory: %w", err)
		}
		l.log.Warn("connectors config directory did not exist; created it, no connectors loaded", "dir", l.dir)
		return ix, nil
	case err != nil:
		return nil, fmt.Errorf("connectors config directory: %w", err)
	case !st.IsDir():
		return nil, fmt.Errorf("connectors config directory %s is not a directory", l.dir)
	}
	des, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("reading connectors config directory: %w", err)
	}
	var docs []*config.ConnectorDoc
	mtimes := map[string]time.Time{}
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".") || !strings.EqualFold(filepath.Ext(name), ".toml") || strings.EqualFold(name, "Cargo.toml") {
			continue
		}
		p := filepath.Join(l.dir, name)
		fi, err := os.Stat(p) // follows symlinks
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			ix.problems.Add(p, "", "cannot read: %v", err)
			continue
		}
		doc, ps := config.ParseConnectorTOML(p, data)
		ix.problems = append(ix.problems, ps...)
		if doc != nil {
			docs = append(docs, doc)
			mtimes[p] = fi.ModTime()
		} else if kind, key, ok := config.PeekIdentity(data); ok {
			ix.broken[kind][key] = append(ix.broken[kind][key], brokenFile{file: p})
		}
	}
	keys := map[config.Kind][]string{}
	seen := map[string]bool{}
	for _, d := range docs {
		id := string(d.Kind) + "/" + d.Key
		if !seen[id] {
			seen[id] = true
			keys[d.Kind] = append(keys[d.Kind], d.Key)
		}
	}
	envByKey, envPs := config.SplitConnectorEnv(l.env, keys)
	ix.problems = append(ix.problems, envPs...)
	for _, d := range docs {
		c, ps := d.Config(envByKey[d.Kind][d.Key])
		ix.problems = append(ix.problems, ps...)
		if c == nil {
			v, ok := d.Version()
			ix.broken[d.Kind][d.Key] = append(ix.broken[d.Kind][d.Key], brokenFile{file: d.File, version: v, hasVersion: ok})
			continue
		}
		byKey := ix.configs[c.Kind]
		if byKey[c.Key] == nil {
			byKey[c.Key] = map[uint64]*entry{}
		}
		if prev, dup := byKey[c.Key][c.Version]; dup {
			ix.problems.Add(d.File, "version", "%s %q version %d is already defined in %s; this file is ignored", c.Kind, c.Key, c.Version, prev.file)
			continue
		}
		byKey[c.Key][c.Version] = &entry{cfg: c, file: d.File, mtime: mtimes[d.File]}
	}
	ix.active, ix.problems = l.readActive(ix.problems)
	return ix, nil
}

func (l *Local) activePath() string { return filepath.Join(l.dir, ActiveVersionsFile) }

// readActive parses .active_versions.toml; a bad file is listed and ignored (highest versions).
func (l *Local) readActive(ps config.Problems) (activeVersions, config.Problems) {
	var av activeVersions
	p := l.activePath()
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return av, ps
	}
	if err != nil {
		ps.Add(p, "", "cannot read: %v (using the highest versions)", err)
		return av, ps
	}
	tree := map[string]any{}
	if err := toml.Unmarshal(data, &tree); err != nil {
		ps.Add(p, "", "invalid TOML: %v (using the highest versions)", strings.TrimPrefix(err.Error(), "toml: "))
		return av, ps
	}
	for k, v := range tree {
		var kind config.Kind
		switch k {
		case "sinks":
			kind = config.KindSink
		case "sources":
			kind = config.KindSource
		default:
			ps.Warn(p, k, "unknown table (expected [sinks] and [sources])")
			continue
		}
		tbl, ok := v.(map[string]any)
		if !ok {
			ps.Add(p, k, "expected a table of key = version")
			continue
		}
		m := av.of(kind)
		for key, ver := range tbl {
			n, ok := ver.(int64)
			if !ok || n < 0 {
				ps.Add(p, k+"."+key, "expected a version number, got %v", ver)
				continue
			}
			m[key] = uint64(n)
		}
	}
	return av, ps
}

func (l *Local) writeActive(av activeVersions) error {
	if av.Sinks == nil {
		av.Sinks = map[string]uint64{}
	}
	if av.Sources == nil {
		av.Sources = map[string]uint64{}
	}
	data, err := toml.Marshal(av)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", ActiveVersionsFile, err)
	}
	return writeAtomic(l.activePath(), data, false)
}

// activeOf resolves the active version of a key: the recorded one if it exists, else the
// highest. ok is false (with a problem) when the connector must be left out.
func (ix *index) activeOf(kind config.Kind, key string, activeFile string) (*entry, *config.Problem) {
	versions := ix.configs[kind][key]
	if v, recorded := ix.active.of(kind)[key]; recorded {
		if e, ok := versions[v]; ok {
			return e, nil
		}
		return nil, &config.Problem{File: activeFile, Key: kind.Plural() + "." + key,
			Message: fmt.Sprintf("active version %d of %s %q does not exist (or its file is invalid); the connector is not loaded", v, kind, key)}
	}
	var best *entry
	for _, e := range versions {
		if best == nil || e.cfg.Version > best.cfg.Version {
			best = e
		}
	}
	if best == nil {
		return nil, nil // no valid version: nothing to load (the files' problems are listed)
	}
	for _, b := range ix.broken[kind][key] {
		if !b.hasVersion || b.version >= best.cfg.Version {
			return nil, &config.Problem{File: b.file, Key: "",
				Message: fmt.Sprintf("%s %q: this file may be its newest version but is invalid; the connector is not loaded (fix the file or record an active version)", kind, key)}
		}
	}
	return best, nil
}

// ActiveConfigs implements Provider.
func (l *Local) ActiveConfigs(ctx context.Context) (*Snapshot, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ix, err := l.scan()
	if err != nil {
		return nil, err
	}
	snap := newSnapshot()
	snap.Problems = ix.problems
	for _, kind := range []config.Kind{config.KindSink, config.KindSource} {
		keys := map[string]bool{}
		for k := range ix.configs[kind] {
			keys[k] = true
		}
		for k := range ix.broken[kind] {
			keys[k] = true
		}
		for k := range ix.active.of(kind) {
			keys[k] = true
		}
		for key := range keys {
			if len(ix.configs[kind][key]) == 0 && len(ix.broken[kind][key]) == 0 {
				continue // a recorded active version of a connector without files: nothing to load
			}
			e, p := ix.activeOf(kind, key, l.activePath())
			if p != nil {
				snap.Problems = append(snap.Problems, *p)
				continue
			}
			if e != nil {
				snap.put(e.cfg)
			}
		}
	}
	snap.Problems.Sort()
	return snap, nil
}

// Configs implements Provider.
func (l *Local) Configs(ctx context.Context, kind config.Kind, key string) ([]*config.ConnectorConfig, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ix, err := l.scan()
	if err != nil {
		return nil, err
	}
	versions := ix.configs[kind][key]
	out := make([]*config.ConnectorConfig, 0, len(versions))
	for _, e := range versions {
		out = append(out, e.cfg)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Config implements Provider.
func (l *Local) Config(ctx context.Context, kind config.Kind, key string, version uint64) (*config.ConnectorConfig, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ix, err := l.scan()
	if err != nil {
		return nil, err
	}
	e, ok := ix.configs[kind][key][version]
	if !ok {
		return nil, notFound(kind, key, &version)
	}
	return e.cfg, nil
}

// ActiveConfig implements Provider.
func (l *Local) ActiveConfig(ctx context.Context, kind config.Kind, key string) (*config.ConnectorConfig, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ix, err := l.scan()
	if err != nil {
		return nil, err
	}
	e, p := ix.activeOf(kind, key, l.activePath())
	what := fmt.Sprintf("%s %q", kind, key)
	if p != nil {
		return nil, &config.InvalidError{What: what, Problems: append(ix.brokenProblems(kind, key), *p)}
	}
	if e == nil {
		if ps := ix.brokenProblems(kind, key); len(ps) > 0 {
			// Every file of the key is invalid: say which and why, not "no config".
			return nil, &config.InvalidError{What: what, Problems: ps}
		}
		return nil, notFound(kind, key, nil)
	}
	return e.cfg, nil
}

// brokenProblems returns the error problems of the files of kind/key that could not be decoded
// (parse errors, invalid values), each naming its file.
func (ix *index) brokenProblems(kind config.Kind, key string) config.Problems {
	files := map[string]bool{}
	for _, b := range ix.broken[kind][key] {
		files[b.file] = true
	}
	var out config.Problems
	for _, p := range ix.problems.Errors() {
		if files[p.File] {
			out = append(out, p)
		}
	}
	return out
}

// Create implements Provider: it writes {config_dir}/{sink|source}_{key}_{version}.toml.
func (l *Local) Create(ctx context.Context, kind config.Kind, key string, cfg *config.ConnectorConfig) (*config.ConnectorConfig, error) {
	if l.dir == "" {
		return nil, errors.New("cannot create a connector config: connectors.config_dir is not set")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating connectors config directory: %w", err)
	}
	ix, err := l.scan()
	if err != nil {
		return nil, err
	}
	next := uint64(0)
	for v := range ix.configs[kind][key] {
		if v >= next {
			next = v + 1
		}
	}
	for _, b := range ix.broken[kind][key] {
		if b.hasVersion && b.version >= next {
			next = b.version + 1
		}
	}
	c := cfg.Clone()
	c.Kind, c.Key, c.Version = kind, key, next
	if ps := c.Validate(""); ps.HasErrors() {
		return nil, &config.InvalidError{What: fmt.Sprintf("new %s %q", kind, key), Problems: ps}
	}
	data, err := c.MarshalTOML()
	if err != nil {
		return nil, err
	}
	// A new version is not active. Without a record the highest version is active, so the version
	// active now is recorded first: the next restart or reload runs what ran before, and
	// .active_versions.toml, the API's "active" and the running connector keep agreeing. (A
	// connector without a usable version gets no record: its new version is the one to start.)
	if _, recorded := ix.active.of(kind)[key]; !recorded {
		if cur, p := ix.activeOf(kind, key, l.activePath()); p == nil && cur != nil {
			ix.active.of(kind)[key] = cur.cfg.Version
			if err := l.writeActive(ix.active); err != nil {
				return nil, fmt.Errorf("recording version %d of %s %q as active before creating version %d: %w", cur.cfg.Version, kind, key, next, err)
			}
		}
	}
	name := fmt.Sprintf("%s_%s_%d.toml", kind, key, next)
	p := filepath.Join(l.dir, name)
	if err := writeAtomic(p, data, true); err != nil {
		return nil, err
	}
	// Read back what was written, with the environment applied, like every other read.
	ix, err = l.scan()
	if err != nil {
		return nil, err
	}
	e, ok := ix.configs[kind][key][next]
	if !ok {
		return nil, fmt.Errorf("created %s but cannot read it back: %v", p, ix.problems.Error())
	}
	return e.cfg, nil
}

// Delete implements Provider.
func (l *Local) Delete(ctx context.Context, kind config.Kind, key string, version *uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	ix, err := l.scan()
	if err != nil {
		return err
	}
	var e *entry
	if version == nil {
		var p *config.Problem
		e, p = ix.activeOf(kind, key, l.activePath())
		if p != nil || e == nil {
			return notFound(kind, key, nil)
		}
	} else {
		var ok bool
		if e, ok = ix.configs[kind][key][*version]; !ok {
			return notFound(kind, key, version)
		}
	}
	if err := os.Remove(e.file); err != nil {
		return fmt.Errorf("deleting %s: %w", e.file, err)
	}
	m := ix.active.of(kind)
	if rec, ok := m[key]; ok && rec == e.cfg.Version {
		delete(ix.configs[kind][key], e.cfg.Version)
		var best *uint64
		for v := range ix.configs[kind][key] {
			if best == nil || v > *best {
				best = ptr(v)
			}
		}
		if best != nil {
			m[key] = *best
		} else {
			delete(m, key)
		}
		return l.writeActive(ix.active)
	}
	return nil
}

// ActiveVersions implements Provider; CreatedAt is the modification time of the version's file.
func (l *Local) ActiveVersions(ctx context.Context) (*ActiveVersions, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ix, err := l.scan()
	if err != nil {
		return nil, err
	}
	av := &ActiveVersions{Sinks: map[string]VersionInfo{}, Sources: map[string]VersionInfo{}}
	for _, kind := range []config.Kind{config.KindSink, config.KindSource} {
		for key := range ix.configs[kind] {
			e, p := ix.activeOf(kind, key, l.activePath())
			if p != nil || e == nil {
				continue
			}
			vi := VersionInfo{Version: e.cfg.Version, CreatedAt: e.mtime.UTC()}
			if kind == config.KindSink {
				av.Sinks[key] = vi
			} else {
				av.Sources[key] = vi
			}
		}
	}
	return av, nil
}

// SetActiveVersion implements Provider.
func (l *Local) SetActiveVersion(ctx context.Context, kind config.Kind, key string, version uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	ix, err := l.scan()
	if err != nil {
		return err
	}
	if _, ok := ix.configs[kind][key][version]; !ok {
		return notFound(kind, key, &version)
	}
	ix.active.of(kind)[key] = version
	return l.writeActive(ix.active)
}

// writeAtomic writes data to path through a temporary file in the same directory. With
// exclusive, an existing path is an error (fs.ErrExist) and is left alone.
func writeAtomic(path string, data []byte, exclusive bool) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	name := tmp.Name()
	defer os.Remove(name)
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(name, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if exclusive {
		// A hard link fails when path exists, so a concurrent writer cannot be overwritten.
		if err := os.Link(name, path); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	} else if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
