package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Config is the runtime's main configuration (`config.toml`), with the original runtime's sections,
// keys and defaults (see configs/config.toml, which is compiled in as the defaults, and
// docs/configuration.md). Load builds it from defaults ← file ← environment.
type Config struct {
	HTTP       HTTPConfig       `toml:"http"`
	Iggy       IggyConfig       `toml:"iggy"`
	Connectors ConnectorsConfig `toml:"connectors"`
	State      StateConfig      `toml:"state"`
	Telemetry  TelemetryConfig  `toml:"telemetry"`
	Logging    LoggingConfig    `toml:"logging"`
	// Instance names this runtime among the replicas that share the work (extension): a label in
	// logs, metrics and the API. Empty: the host name (a Kubernetes pod's name). See InstanceName.
	Instance string `toml:"instance"`
}

// InstanceName is the runtime's instance identity: Instance, else the host name, else "unknown".
func (c *Config) InstanceName() string {
	if c.Instance != "" {
		return c.Instance
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "unknown"
}

// HTTPConfig is the management API ([http]).
type HTTPConfig struct {
	Enabled bool          `toml:"enabled"`
	Address string        `toml:"address"`
	APIKey  string        `toml:"api_key" secret:"true"` // non-empty: every route but /, /health and /ready needs header api-key
	CORS    CORSConfig    `toml:"cors"`
	Metrics MetricsConfig `toml:"metrics"`
	TLS     HTTPTLSConfig `toml:"tls"`
}

// CORSConfig is [http.cors]. An origin list starting with "*" allows any origin; an empty list
// none. Empty header strings are ignored.
type CORSConfig struct {
	Enabled             bool     `toml:"enabled"`
	AllowedMethods      []string `toml:"allowed_methods"`
	AllowedOrigins      []string `toml:"allowed_origins"`
	AllowedHeaders      []string `toml:"allowed_headers"`
	ExposedHeaders      []string `toml:"exposed_headers"`
	AllowCredentials    bool     `toml:"allow_credentials"`
	AllowPrivateNetwork bool     `toml:"allow_private_network"`
}

// MetricsConfig is [http.metrics]: when enabled, Prometheus metrics are served at Endpoint.
type MetricsConfig struct {
	Enabled  bool   `toml:"enabled"`
	Endpoint string `toml:"endpoint"`
}

// HTTPTLSConfig is [http.tls]: HTTPS with PEM files.
type HTTPTLSConfig struct {
	Enabled  bool   `toml:"enabled"`
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
}

// IggyConfig is how the runtime connects to the Iggy server ([iggy]). Token wins over
// username/password; "file:<path>" reads the token from a file (see ResolveToken).
type IggyConfig struct {
	Address  string        `toml:"address"`
	Username string        `toml:"username"`
	Password string        `toml:"password" secret:"true"`
	Token    string        `toml:"token" secret:"true"`
	TLS      IggyTLSConfig `toml:"tls"`
}

// IggyTLSConfig is [iggy.tls]; Enabled requires CAFile. Domain is optional.
type IggyTLSConfig struct {
	Enabled bool   `toml:"enabled"`
	CAFile  string `toml:"ca_file"`
	Domain  string `toml:"domain"`
}

// StateConfig is [state]: Path is the directory of source state files.
type StateConfig struct {
	Path string `toml:"path"`
}

// ConnectorsConfig is [connectors]: where connector configs come from. It is the original's tagged
// union flattened: ConfigType "local" uses ConfigDir; "http" uses the other keys.
type ConnectorsConfig struct {
	ConfigType string `toml:"config_type" oneof:"local|http" fold:"true"`
	// Local provider.
	ConfigDir string `toml:"config_dir"`
	// HTTP provider.
	BaseURL        string            `toml:"base_url"`
	Timeout        Duration          `toml:"timeout"`
	RequestHeaders map[string]string `toml:"request_headers" env:"-" secret:"true"`
	URLTemplates   map[string]string `toml:"url_templates" env:"-"`
	Response       ResponseConfig    `toml:"response"`
	Retry          HTTPRetryConfig   `toml:"retry"`
}

// Provider types of ConnectorsConfig.ConfigType.
const (
	ConfigTypeLocal = "local"
	ConfigTypeHTTP  = "http"
)

// ResponseConfig says where an HTTP provider response holds its data and its error (dot paths of
// object keys or array indices, e.g. "data.config" or "items.0"); empty = the whole body / none.
type ResponseConfig struct {
	DataPath  string `toml:"data_path"`
	ErrorPath string `toml:"error_path"`
}

// HTTPRetryConfig is [connectors.retry]: retries of transient HTTP provider failures (network
// errors, 5xx, 408, 429) with exponential backoff and jitter.
type HTTPRetryConfig struct {
	Enabled           bool     `toml:"enabled"`
	MaxAttempts       uint32   `toml:"max_attempts"`
	InitialBackoff    Duration `toml:"initial_backoff"`
	MaxBackoff        Duration `toml:"max_backoff"`
	BackoffMultiplier float64  `toml:"backoff_multiplier"`
}

// TelemetryConfig is [telemetry] (OpenTelemetry logs and traces).
type TelemetryConfig struct {
	Enabled     bool                  `toml:"enabled"`
	ServiceName string                `toml:"service_name"`
	Logs        TelemetryExportConfig `toml:"logs"`
	Traces      TelemetryExportConfig `toml:"traces"`
}

// TelemetryExportConfig is [telemetry.logs] and [telemetry.traces].
type TelemetryExportConfig struct {
	Transport string `toml:"transport" oneof:"grpc|http" fold:"true"`
	Endpoint  string `toml:"endpoint"`
}

// LoggingConfig is [logging]. Level is an extension of this runtime: when it is set neither in the
// file nor by IGGY_CONNECTORS_LOGGING_LEVEL, a plain level in RUST_LOG ("debug") is used, else
// "info".
type LoggingConfig struct {
	Format string `toml:"format" oneof:"text|json" fold:"true"`
	Level  string `toml:"level" oneof:"trace|debug|info|warn|error|off" fold:"true"`
}

// HTTP methods accepted in http.cors.allowed_methods.
var corsMethods = []string{"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "CONNECT", "PATCH", "TRACE"}

// Validate checks what the decoder cannot: cross-key rules and values that the original rejects at
// startup (missing credentials, TLS without a CA file, unknown CORS methods, an HTTP provider
// without base_url ...). file is used in the problems.
func (c *Config) Validate(file string) Problems {
	var ps Problems
	if c.HTTP.Enabled {
		if _, _, err := net.SplitHostPort(c.HTTP.Address); err != nil {
			ps.Add(file, "http.address", "invalid address %q: %v", c.HTTP.Address, err)
		}
	}
	for i, m := range c.HTTP.CORS.AllowedMethods {
		if !containsFold(corsMethods, m) {
			ps.Add(file, indexPath("http.cors.allowed_methods", i), "unknown HTTP method %q (use %s)", m, strings.Join(corsMethods, ", "))
		}
	}
	if c.HTTP.Metrics.Enabled && !strings.HasPrefix(c.HTTP.Metrics.Endpoint, "/") {
		ps.Add(file, "http.metrics.endpoint", "must start with \"/\", got %q", c.HTTP.Metrics.Endpoint)
	}
	if c.HTTP.TLS.Enabled {
		if c.HTTP.TLS.CertFile == "" {
			ps.Add(file, "http.tls.cert_file", "required when http.tls.enabled is true")
		}
		if c.HTTP.TLS.KeyFile == "" {
			ps.Add(file, "http.tls.key_file", "required when http.tls.enabled is true")
		}
	}
	if c.Iggy.Address == "" {
		ps.Add(file, "iggy.address", "must not be empty")
	}
	if c.Iggy.Token == "" && (c.Iggy.Username == "" || c.Iggy.Password == "") {
		ps.Add(file, "iggy", "Missing Iggy credentials: set iggy.token, or iggy.username and iggy.password")
	}
	if c.Iggy.TLS.Enabled && c.Iggy.TLS.CAFile == "" {
		ps.Add(file, "iggy.tls.ca_file", "required when iggy.tls.enabled is true")
	}
	if c.State.Path == "" {
		ps.Add(file, "state.path", "must not be empty")
	}
	switch c.Connectors.ConfigType {
	case ConfigTypeHTTP:
		if c.Connectors.BaseURL == "" {
			ps.Add(file, "connectors.base_url", "required when connectors.config_type is \"http\"")
		} else if u, err := url.Parse(c.Connectors.BaseURL); err != nil || u.Scheme == "" || u.Host == "" {
			ps.Add(file, "connectors.base_url", "invalid URL %q: need scheme and host, e.g. \"http://host:8080\"", c.Connectors.BaseURL)
		}
		for name := range c.Connectors.URLTemplates {
			if !isURLTemplateName(name) {
				ps.Add(file, "connectors.url_templates."+name, "unknown template name%s", suggestion(name, URLTemplateNames()))
			}
		}
		r := c.Connectors.Retry
		if r.Enabled && r.BackoffMultiplier < 1 {
			ps.Add(file, "connectors.retry.backoff_multiplier", "must be at least 1, got %v", r.BackoffMultiplier)
		}
		if r.Enabled && r.MaxBackoff.D() < r.InitialBackoff.D() {
			ps.Add(file, "connectors.retry.max_backoff", "%s is less than initial_backoff %s", r.MaxBackoff, r.InitialBackoff)
		}
	case ConfigTypeLocal:
		if c.Connectors.BaseURL != "" {
			ps.Warn(file, "connectors.base_url", "ignored: connectors.config_type is \"local\"")
		}
	}
	return ps
}

func containsFold(list []string, v string) bool {
	for _, x := range list {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// ResolveToken returns the personal access token to log in with: Token itself, or, for
// "file:<path>", the trimmed content of that file ("~/" is expanded). An empty result with a nil
// error means username/password are used. A missing or empty token file is an error.
func (c IggyConfig) ResolveToken() (string, error) {
	t := c.Token
	if !strings.HasPrefix(t, "file:") {
		return t, nil
	}
	p := strings.TrimPrefix(t, "file:")
	if strings.HasPrefix(p, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("iggy.token: cannot expand %q: %w", p, err)
		}
		p = filepath.Join(home, p[2:])
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("iggy.token: reading token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("iggy.token: token file %s is empty", p)
	}
	return tok, nil
}

// ConnectionString renders the Iggy connection string the original builds:
// iggy://{token}@{address} or iggy://{user}:{password}@{address}, plus
// ?tls=true&tls_ca_file=...[&tls_domain=...]. token is the resolved token (ResolveToken).
func (c IggyConfig) ConnectionString(token string) string {
	var b strings.Builder
	b.WriteString("iggy://")
	if token != "" {
		b.WriteString(url.PathEscape(token))
	} else {
		b.WriteString(url.PathEscape(c.Username))
		b.WriteString(":")
		b.WriteString(url.PathEscape(c.Password))
	}
	b.WriteString("@")
	b.WriteString(c.Address)
	if c.TLS.Enabled {
		b.WriteString("?tls=true&tls_ca_file=")
		b.WriteString(url.QueryEscape(c.TLS.CAFile))
		if c.TLS.Domain != "" {
			b.WriteString("&tls_domain=")
			b.WriteString(url.QueryEscape(c.TLS.Domain))
		}
	}
	return b.String()
}

func suggestion(s string, candidates []string) string {
	if m := suggest(s, candidates); m != "" {
		return fmt.Sprintf(" (did you mean %q?)", m)
	}
	return ""
}
