// Package provider serves connector configs to the runtime and to the HTTP API: the local provider
// reads a directory of TOML files (with versions and .active_versions.toml), the HTTP provider asks
// a config service. Both implement Provider; New picks one from the main config's [connectors].
//
// Connector configs never take effect by themselves: creating a version or changing the active
// version only changes what the next start or restart of that connector loads.
package provider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/iggy-go/connectors/runtime/config"
)

// Provider is the source of connector configs. Implementations are safe for concurrent use.
//
// Errors: ErrNotFound (match with errors.Is; the value is a *NotFoundError) when a connector or
// version does not exist; *config.InvalidError when a config is invalid (its Problems name file and
// key); *HTTPError when the HTTP provider's service answered with a non-2xx status; other errors
// are I/O or network failures. Context cancellation aborts HTTP requests and retries.
type Provider interface {
	// ActiveConfigs returns the active version of every connector, the set the runtime starts.
	// A config that cannot be used (bad file, bad environment override, active version missing)
	// is left out and listed in Snapshot.Problems; the error is for failures of the provider as a
	// whole (unreadable directory, unreachable service).
	ActiveConfigs(ctx context.Context) (*Snapshot, error)
	// Configs returns every version of a connector, by increasing version; none = empty, no error.
	Configs(ctx context.Context, kind config.Kind, key string) ([]*config.ConnectorConfig, error)
	// Config returns one version.
	Config(ctx context.Context, kind config.Kind, key string, version uint64) (*config.ConnectorConfig, error)
	// ActiveConfig returns the active version: the one named in the active-versions record, else
	// the highest. Restarting a connector loads this (the original loaded the highest).
	ActiveConfig(ctx context.Context, kind config.Kind, key string) (*config.ConnectorConfig, error)
	// Create stores cfg as a new version of the connector (highest existing + 1, or 0) and returns
	// the stored config. It does not activate it. cfg's Kind, Key and Version are ignored.
	Create(ctx context.Context, kind config.Kind, key string, cfg *config.ConnectorConfig) (*config.ConnectorConfig, error)
	// Delete removes one version; nil = the active one. When the deleted version was the recorded
	// active version, the highest remaining version becomes active (none left: the record goes).
	Delete(ctx context.Context, kind config.Kind, key string, version *uint64) error
	// ActiveVersions returns the active version of every connector and when it was created.
	ActiveVersions(ctx context.Context) (*ActiveVersions, error)
	// SetActiveVersion records version as the connector's active version; it must exist.
	SetActiveVersion(ctx context.Context, kind config.Kind, key string, version uint64) error
	// Describe says where configs come from, for logs: `local directory "cfg/connectors"`.
	Describe() string
}

// Snapshot is the active config of every connector.
type Snapshot struct {
	Sinks    map[string]*config.ConnectorConfig
	Sources  map[string]*config.ConnectorConfig
	Problems config.Problems
}

// All returns the configs in start order: sources first, then sinks, each sorted by key.
func (s *Snapshot) All() []*config.ConnectorConfig {
	var out []*config.ConnectorConfig
	for _, m := range []map[string]*config.ConnectorConfig{s.Sources, s.Sinks} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, m[k])
		}
	}
	return out
}

func newSnapshot() *Snapshot {
	return &Snapshot{Sinks: map[string]*config.ConnectorConfig{}, Sources: map[string]*config.ConnectorConfig{}}
}

func (s *Snapshot) put(c *config.ConnectorConfig) {
	if c.Kind == config.KindSink {
		s.Sinks[c.Key] = c
	} else {
		s.Sources[c.Key] = c
	}
}

// VersionInfo is a connector's active version and when that version was created.
type VersionInfo struct {
	Version   uint64    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
}

// ActiveVersions is the active version of every connector (JSON: {"sinks": {key: info}, "sources": ...}).
type ActiveVersions struct {
	Sinks   map[string]VersionInfo `json:"sinks"`
	Sources map[string]VersionInfo `json:"sources"`
}

// ErrNotFound is matched (errors.Is) by every "no such connector/version" error.
var ErrNotFound = errors.New("connector config not found")

// NotFoundError names what was not found. Version nil = no particular version (e.g. no active
// one).
type NotFoundError struct {
	Kind    config.Kind
	Key     string
	Version *uint64
}

func (e *NotFoundError) Error() string {
	if e.Version != nil {
		return fmt.Sprintf("%s %q has no config version %d", e.Kind, e.Key, *e.Version)
	}
	return fmt.Sprintf("%s %q has no config", e.Kind, e.Key)
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

func notFound(kind config.Kind, key string, version *uint64) error {
	return &NotFoundError{Kind: kind, Key: key, Version: version}
}

func ptr[T any](v T) *T { return &v }

// Options for New.
type Options struct {
	// Env is the environment for per-connector overrides (local provider only); usually
	// config.Loaded.Env. nil = no overrides.
	Env map[string]string
	// Logger receives warnings; nil = slog.Default().
	Logger *slog.Logger
	// ReadOnly keeps the local provider from creating a missing config directory (validate).
	ReadOnly bool
	// Client is the HTTP client of the HTTP provider; nil = a new one with connectors.timeout.
	Client *http.Client
}

// New returns the provider [connectors] describes. It does no I/O.
func New(c config.ConnectorsConfig, opts Options) (Provider, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	switch c.ConfigType {
	case config.ConfigTypeLocal, "":
		return NewLocal(c.ConfigDir, opts), nil
	case config.ConfigTypeHTTP:
		return NewHTTP(c, opts)
	}
	return nil, fmt.Errorf("connectors.config_type: unknown provider %q (use \"local\" or \"http\")", c.ConfigType)
}
