package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"gopkg.in/yaml.v3"

	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/runtime/config/provider"
)

// maxBody bounds request bodies (a connector config).
const maxBody = 4 << 20

// configJSON renders a config in the API's shape plus "active".
func configJSON(cfg *config.ConnectorConfig, active bool) (json.RawMessage, error) {
	b, err := cfg.MarshalJSON()
	if err != nil {
		return nil, err
	}
	b = bytes.TrimRight(b, " \n")
	if len(b) < 2 || b[len(b)-1] != '}' {
		return nil, fmt.Errorf("config of %s did not render as a JSON object", cfg.ID())
	}
	out := make([]byte, 0, len(b)+16)
	out = append(out, b[:len(b)-1]...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"active":`...)
	out = strconv.AppendBool(out, active)
	return append(out, '}'), nil
}

func writeConfig(w http.ResponseWriter, cfg *config.ConnectorConfig, active bool) {
	b, err := configJSON(cfg, active)
	if err != nil {
		writeError(w, http.StatusInternalServerError, codeJSON, err.Error())
		return
	}
	writeRawJSON(w, http.StatusOK, b)
}

// runningVersion returns the version the runtime runs for the connector, if it knows it.
func (s *Server) runningVersion(kind config.Kind, key string) (uint64, bool) {
	c := s.opt.Engine.Connector(kind, key)
	if c == nil {
		return 0, false
	}
	return c.Config().Version, true
}

// listConfigs: GET /{kind}s/{key}/configs — every version the provider has, by version, each with
// "active": whether it is the version the runtime runs. 404 {kind}_not_found when neither the
// runtime nor the provider knows the key.
func (s *Server) listConfigs(w http.ResponseWriter, r *http.Request, kind config.Kind) {
	key := r.PathValue("key")
	cfgs, err := s.opt.Engine.Provider().Configs(r.Context(), kind, key)
	if err != nil {
		writeProviderError(w, kind, err)
		return
	}
	running, known := s.runningVersion(kind, key)
	if !known && len(cfgs) == 0 {
		notFound(w, kind, key)
		return
	}
	out := make([]json.RawMessage, 0, len(cfgs))
	for _, cfg := range cfgs {
		b, err := configJSON(cfg, known && cfg.Version == running)
		if err != nil {
			writeError(w, http.StatusInternalServerError, codeJSON, err.Error())
			return
		}
		out = append(out, b)
	}
	writeJSON(w, http.StatusOK, out)
}

// readJSONBody reads a JSON request body, answering 415 when it is not declared as JSON and 400
// when it cannot be read.
func readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		writeError(w, http.StatusUnsupportedMediaType, codeUnsupportedMed,
			fmt.Sprintf("expected Content-Type application/json, got %q", r.Header.Get("Content-Type")))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "reading the request body: "+err.Error())
		return nil, false
	}
	return body, true
}

// createConfig: POST /{kind}s/{key}/configs — body = a connector config without key and version
// (the original's CreateSinkConfig / CreateSourceConfig). The provider stores it as the next
// version, not active; the answer is the stored config with "active": false.
func (s *Server) createConfig(w http.ResponseWriter, r *http.Request, kind config.Kind) {
	key := r.PathValue("key")
	body, ok := readJSONBody(w, r)
	if !ok {
		return
	}
	cfg, problems := config.DecodeConnectorJSON(kind, "request body", body, false, key)
	if problems.HasErrors() || cfg == nil {
		writeError(w, http.StatusBadRequest, codeInvalidConfig, problems.Errors().Error())
		return
	}
	for _, p := range problems.Warnings() {
		s.log.Warn("connector config created through the API has a problem", "connector_type", kind, "connector", key, "problem", p.Error())
	}
	created, err := s.opt.Engine.Provider().Create(r.Context(), kind, key, cfg)
	if err != nil {
		writeProviderError(w, kind, err)
		return
	}
	s.log.Info("connector config created", "connector_type", kind, "connector", key, "version", created.Version)
	writeConfig(w, created, false)
}

// deleteConfig: DELETE /{kind}s/{key}/configs[?version=N] — removes one version (default: the
// active one); 204.
func (s *Server) deleteConfig(w http.ResponseWriter, r *http.Request, kind config.Kind) {
	key := r.PathValue("key")
	var version *uint64
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			http.Error(w, fmt.Sprintf("Failed to deserialize query string: version: invalid digit in %q", v), http.StatusBadRequest)
			return
		}
		version = &n
	}
	if err := s.opt.Engine.Provider().Delete(r.Context(), kind, key, version); err != nil {
		if errors.Is(err, provider.ErrNotFound) {
			writeError(w, http.StatusNotFound, configNotFoundCode(kind), err.Error())
			return
		}
		writeProviderError(w, kind, err)
		return
	}
	s.log.Info("connector config deleted", "connector_type", kind, "connector", key, "version", r.URL.Query().Get("version"))
	w.WriteHeader(http.StatusNoContent)
}

// getConfig: GET /{kind}s/{key}/configs/{version}.
func (s *Server) getConfig(w http.ResponseWriter, r *http.Request, kind config.Kind) {
	key := r.PathValue("key")
	version, err := strconv.ParseUint(r.PathValue("version"), 10, 64)
	if err != nil {
		http.Error(w, fmt.Sprintf("Invalid URL: Cannot parse %q to a `u64`", r.PathValue("version")), http.StatusBadRequest)
		return
	}
	cfg, err := s.opt.Engine.Provider().Config(r.Context(), kind, key, version)
	if err != nil {
		writeProviderError(w, kind, err)
		return
	}
	running, known := s.runningVersion(kind, key)
	writeConfig(w, cfg, known && running == cfg.Version)
}

// activeConfig: GET /{kind}s/{key}/configs/active — the config the runtime runs (in memory, which
// may differ from the provider's active version until a restart), "active": true.
func (s *Server) activeConfig(w http.ResponseWriter, r *http.Request, kind config.Kind) {
	c := s.connector(w, r, kind)
	if c == nil {
		return
	}
	writeConfig(w, c.Config(), true)
}

// setActive: PUT /{kind}s/{key}/configs/active with {"version": N} — records N as the active
// version (it must exist); the running connector is not restarted. 204.
func (s *Server) setActive(w http.ResponseWriter, r *http.Request, kind config.Kind) {
	key := r.PathValue("key")
	body, ok := readJSONBody(w, r)
	if !ok {
		return
	}
	var req struct {
		Version *uint64 `json:"version"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil || req.Version == nil {
		reason := `expected {"version": <non-negative integer>}`
		if err != nil {
			reason += ": " + err.Error()
		}
		writeError(w, http.StatusBadRequest, codeBadRequest, reason)
		return
	}
	if err := s.opt.Engine.Provider().SetActiveVersion(r.Context(), kind, key, *req.Version); err != nil {
		writeProviderError(w, kind, err)
		return
	}
	s.log.Info("active connector config version set", "connector_type", kind, "connector", key, "version", *req.Version)
	w.WriteHeader(http.StatusNoContent)
}

// Plugin config formats and their content types.
var formatContentTypes = map[string]string{
	"json": "application/json",
	"yaml": "application/yaml",
	"toml": "application/toml",
	"text": "text/plain",
}

// renderPluginConfig renders plugin_config in format (json, yaml, toml or text; text is the JSON
// text, as in the original).
func renderPluginConfig(pc map[string]any, format string) ([]byte, error) {
	switch format {
	case "json", "text":
		return json.Marshal(pc)
	case "yaml":
		return yaml.Marshal(pc)
	case "toml":
		return toml.Marshal(pc)
	}
	return nil, fmt.Errorf("unknown format %q", format)
}

// pluginConfig: GET /{kind}s/{key}/configs/plugin[?format=json|yaml|toml|text] — the running
// config's plugin_config rendered in format (default: the connector's plugin_config_format, else
// toml), with the format's content type; 404 with an empty body when plugin_config is absent or
// empty.
func (s *Server) pluginConfig(w http.ResponseWriter, r *http.Request, kind config.Kind) {
	c := s.connector(w, r, kind)
	if c == nil {
		return
	}
	cfg := c.Config()
	format := strings.ToLower(r.URL.Query().Get("format"))
	if format == "" {
		format = strings.ToLower(cfg.PluginConfigFormat)
	}
	if format == "" {
		format = "toml"
	}
	ct, ok := formatContentTypes[format]
	if !ok {
		http.Error(w, fmt.Sprintf("Failed to deserialize query string: format: unknown variant %q, expected one of json, yaml, toml, text", format), http.StatusBadRequest)
		return
	}
	if len(cfg.PluginConfig) == 0 {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	out, err := renderPluginConfig(cfg.PluginConfig, format)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeError, fmt.Sprintf("cannot convert the plugin config of %s to %s: %v", cfg.ID(), format, err))
		return
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}
