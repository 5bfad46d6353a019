package api

import (
	"net/http"

	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/runtime/engine"
	"github.com/iggy-go/connectors/runtime/plugin"
)

// lastError is a connector's last error: message and when it happened (µs since the epoch).
type lastError struct {
	Message   string `json:"message"`
	Timestamp int64  `json:"timestamp"`
}

// connectorInfo is the original's SinkInfo / SourceInfo.
type connectorInfo struct {
	ID                 uint32     `json:"id"`
	Key                string     `json:"key"`
	Name               string     `json:"name"`
	Path               string     `json:"path"`
	Enabled            bool       `json:"enabled"`
	Status             string     `json:"status"`
	LastError          *lastError `json:"last_error,omitempty"`
	PluginConfigFormat string     `json:"plugin_config_format,omitempty"`
}

// connectorDetails is SinkInfo / SourceInfo plus the config's streams.
type connectorDetails struct {
	connectorInfo
	Streams any `json:"streams"`
}

// transformInfo is one entry of GET …/transforms: the type and its table (with "enabled").
type transformInfo struct {
	Type   string         `json:"type"`
	Config map[string]any `json:"config"`
}

func info(c *engine.Connector) connectorInfo {
	cfg := c.Config()
	st, le := c.State.Get()
	out := connectorInfo{ID: c.PluginID(), Key: c.Key, Name: cfg.Name, Path: resolvedPath(c, cfg),
		Enabled: cfg.Enabled, Status: string(st), PluginConfigFormat: cfg.PluginConfigFormat}
	if le != nil {
		out.LastError = &lastError{Message: le.Message, Timestamp: le.Time.UnixMicro()}
	}
	return out
}

// resolvedPath is the library the connector loaded, else where its path resolves to now, else the
// path as configured (a library that cannot be found).
func resolvedPath(c *engine.Connector, cfg *config.ConnectorConfig) string {
	if lib := c.Library(); lib != nil {
		return lib.Path()
	}
	if p, err := plugin.Resolve(cfg.Path, nil); err == nil {
		return p
	}
	return cfg.Path
}

func streams(cfg *config.ConnectorConfig) any {
	if cfg.Kind == config.KindSource {
		if cfg.SourceStreams == nil {
			return []config.SourceStream{}
		}
		return cfg.SourceStreams
	}
	if cfg.SinkStreams == nil {
		return []config.SinkStream{}
	}
	return cfg.SinkStreams
}

// connector returns the connector named by the {key} path value, or answers 404.
func (s *Server) connector(w http.ResponseWriter, r *http.Request, kind config.Kind) *engine.Connector {
	key := r.PathValue("key")
	c := s.opt.Engine.Connector(kind, key)
	if c == nil {
		notFound(w, kind, key)
	}
	return c
}

// list: GET /sinks, GET /sources — every connector of the kind, by key.
func (s *Server) list(w http.ResponseWriter, _ *http.Request, kind config.Kind) {
	out := []connectorInfo{}
	for _, c := range s.opt.Engine.Connectors() {
		if c.Kind == kind {
			out = append(out, info(c))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// details: GET /{kind}s/{key}.
func (s *Server) details(w http.ResponseWriter, r *http.Request, kind config.Kind) {
	c := s.connector(w, r, kind)
	if c == nil {
		return
	}
	writeJSON(w, http.StatusOK, connectorDetails{connectorInfo: info(c), Streams: streams(c.Config())})
}

// transforms: GET /{kind}s/{key}/transforms — the running config's transforms in application
// order (disabled ones included, with "enabled": false), [] when none.
func (s *Server) transforms(w http.ResponseWriter, r *http.Request, kind config.Kind) {
	c := s.connector(w, r, kind)
	if c == nil {
		return
	}
	out := []transformInfo{}
	for _, t := range c.Config().Transforms {
		out = append(out, transformInfo{Type: t.Type, Config: t.Table()})
	}
	writeJSON(w, http.StatusOK, out)
}

// restart: POST /{kind}s/{key}/restart — stop the connector and start it with its active config
// version (204). A connector the runtime does not run yet but the provider has (e.g. created
// through the API) is started. Concurrent restarts of one connector collapse into one.
func (s *Server) restart(w http.ResponseWriter, r *http.Request, kind config.Kind) {
	key := r.PathValue("key")
	if err := s.opt.Engine.Restart(r.Context(), kind, key); err != nil {
		s.log.Warn("restart failed", "connector_type", kind, "connector", key, "err", err)
		writeProviderError(w, kind, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// readyBody is GET /ready's answer.
type readyBody struct {
	Status   string   `json:"status"`              // "ready" or "not_ready"
	NotReady []string `json:"not_ready,omitempty"` // what is not ready (see getReady for who sees what)
}

// getReady: 200 when the engine is ready (Iggy connected, every enabled connector running, no
// connector config rejected), else 503. /ready needs no api-key (probes seldom can send one), so
// what the body says depends on the caller:
//   - a caller that presented the configured api-key gets every reason with its error text;
//   - without http.api_key, anyone gets the reasons without error text (which connector, which
//     status; never text from Iggy, a plugin or a config file);
//   - with http.api_key set, a caller without the key gets the status only.
func (s *Server) getReady(w http.ResponseWriter, r *http.Request) {
	ok, reasons := s.opt.Engine.Ready()
	if ok {
		writeJSON(w, http.StatusOK, readyBody{Status: "ready"})
		return
	}
	body := readyBody{Status: "not_ready"}
	switch {
	case s.opt.HTTP.APIKey != "" && s.authorized(r):
		for _, rs := range reasons {
			body.NotReady = append(body.NotReady, rs.String())
		}
	case s.opt.HTTP.APIKey == "":
		for _, rs := range reasons {
			body.NotReady = append(body.NotReady, rs.What)
		}
	}
	writeJSON(w, http.StatusServiceUnavailable, body)
}
