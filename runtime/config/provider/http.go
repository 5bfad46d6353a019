package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/iggy-go/connectors/runtime/backoff"
	"github.com/iggy-go/connectors/runtime/config"
)

// HTTP asks a config service for connector configs (spec §4.5). Each operation is one request to
// connectors.base_url + a URL template ({key} and {version} substituted verbatim; overridable per
// name in connectors.url_templates), with connectors.request_headers on every request and
// connectors.timeout per attempt. Transient failures (network errors, 5xx, 408, 429) are retried
// with exponential backoff and jitter (connectors.retry). Bodies are JSON; a response may wrap
// its data (connectors.response.data_path) and report errors in a field (error_path).
//
// Environment overrides of connector keys do not apply to this provider (as in the original).
type HTTP struct {
	base      string
	templates map[string]string
	headers   map[string]string
	retry     config.HTTPRetryConfig
	response  config.ResponseConfig
	client    *http.Client
	policy    backoff.Policy
}

// HTTPError is a non-2xx answer of the config service.
type HTTPError struct {
	Method string
	URL    string
	Status int
	Body   string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("HTTP %d %s - %s (%s %s)", e.Status, http.StatusText(e.Status), e.Body, e.Method, e.URL)
}

// NewHTTP returns the HTTP provider for c (config_type = "http").
func NewHTTP(c config.ConnectorsConfig, opts Options) (*HTTP, error) {
	if c.BaseURL == "" {
		return nil, errors.New("connectors.base_url is required for config_type = \"http\"")
	}
	if _, err := url.Parse(c.BaseURL); err != nil {
		return nil, fmt.Errorf("connectors.base_url: %w", err)
	}
	for name, v := range c.RequestHeaders {
		if name == "" || strings.ContainsAny(name, " \t\r\n:") {
			return nil, fmt.Errorf("connectors.request_headers: invalid header name %q", name)
		}
		if strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("connectors.request_headers.%s: invalid header value", name)
		}
	}
	h := &HTTP{
		base:      strings.TrimRight(c.BaseURL, "/"),
		templates: map[string]string{},
		headers:   c.RequestHeaders,
		retry:     c.Retry,
		response:  c.Response,
		client:    opts.Client,
	}
	for k, v := range config.DefaultURLTemplates {
		h.templates[k] = v
	}
	for k, v := range c.URLTemplates {
		h.templates[k] = v
	}
	if h.client == nil {
		timeout := c.Timeout.D()
		if timeout == 0 {
			timeout = 10 * time.Second
		}
		h.client = &http.Client{Timeout: timeout}
	}
	// max_attempts counts retries (as the original's build_with_max_retries); backoff.Policy's
	// Retry counts calls, so one more. 0 retries = a single call.
	h.policy = backoff.Policy{Initial: c.Retry.InitialBackoff.D(), Max: c.Retry.MaxBackoff.D(),
		Multiplier: c.Retry.BackoffMultiplier, Jitter: 0.5, MaxAttempts: int(c.Retry.MaxAttempts) + 1}
	return h, nil
}

// Describe implements Provider.
func (h *HTTP) Describe() string { return fmt.Sprintf("config service %s", h.base) }

// URL renders template name with vars (exported for tests and diagnostics).
func (h *HTTP) URL(name string, vars map[string]string) string {
	t := h.templates[name]
	for k, v := range vars {
		t = strings.ReplaceAll(t, "{"+k+"}", v)
	}
	return h.base + t
}

// transient is an error worth retrying.
type transient struct{ err error }

func (t *transient) Error() string { return t.err.Error() }
func (t *transient) Unwrap() error { return t.err }

// do sends one request (with retries) and returns the body and status of a 2xx or 404 answer;
// other statuses are an *HTTPError.
func (h *HTTP) do(ctx context.Context, method, u string, body any) ([]byte, int, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, 0, fmt.Errorf("encoding request body: %w", err)
		}
	}
	var respBody []byte
	var status int
	op := func(ctx context.Context) error {
		var rd io.Reader
		if payload != nil {
			rd = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return fmt.Errorf("building request %s %s: %w", method, u, err)
		}
		for k, v := range h.headers {
			req.Header.Set(k, v)
		}
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Accept", "application/json")
		resp, err := h.client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &transient{fmt.Errorf("%s %s: %w", method, u, err)}
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err != nil {
			return &transient{fmt.Errorf("%s %s: reading response: %w", method, u, err)}
		}
		status = resp.StatusCode
		if status >= 200 && status < 300 || status == http.StatusNotFound {
			respBody = b
			return nil
		}
		herr := &HTTPError{Method: method, URL: u, Status: status, Body: strings.TrimSpace(string(b))}
		if status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests {
			return &transient{herr}
		}
		return herr
	}
	var err error
	if h.retry.Enabled {
		err = h.policy.Retry(ctx, op, func(err error) bool {
			var t *transient
			return errors.As(err, &t)
		}, nil)
	} else {
		err = op(ctx)
	}
	if err != nil {
		var t *transient
		if errors.As(err, &t) {
			err = t.err
		}
		return nil, status, err
	}
	return respBody, status, nil
}

// fetch sends a request and extracts the data of the answer; a 404 is nf (when not nil).
func (h *HTTP) fetch(ctx context.Context, method, u string, body any, nf error) (json.RawMessage, error) {
	b, status, err := h.do(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if status == http.StatusNotFound {
		if nf != nil {
			return nil, nf
		}
		return nil, &HTTPError{Method: method, URL: u, Status: status, Body: strings.TrimSpace(string(b))}
	}
	return h.extract(u, b)
}

// extract applies error_path and data_path to a response body, keeping the raw JSON of the data
// (so that key order, e.g. of transforms, survives).
func (h *HTTP) extract(u string, body []byte) (json.RawMessage, error) {
	if !json.Valid(body) {
		return nil, fmt.Errorf("%s: failed to parse JSON response: %.200q", u, body)
	}
	if h.response.ErrorPath != "" {
		if v, ok := navigate(body, h.response.ErrorPath); ok && !bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			msg := string(v)
			var s string
			if json.Unmarshal(v, &s) == nil {
				msg = s
			}
			return nil, fmt.Errorf("%s: API returned error: %s", u, msg)
		}
	}
	if h.response.DataPath == "" {
		return body, nil
	}
	v, ok := navigate(body, h.response.DataPath)
	if !ok {
		return nil, fmt.Errorf("%s: data path %q not found in response; response structure: %s", u, h.response.DataPath, summarize(body))
	}
	return v, nil
}

// navigate follows a dot path (object keys, or array indices) through raw JSON.
func navigate(doc []byte, path string) (json.RawMessage, bool) {
	cur := json.RawMessage(doc)
	for _, part := range strings.Split(path, ".") {
		t := bytes.TrimSpace(cur)
		if len(t) == 0 {
			return nil, false
		}
		switch t[0] {
		case '{':
			var m map[string]json.RawMessage
			if json.Unmarshal(t, &m) != nil {
				return nil, false
			}
			v, ok := m[part]
			if !ok {
				return nil, false
			}
			cur = v
		case '[':
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 {
				return nil, false
			}
			var a []json.RawMessage
			if json.Unmarshal(t, &a) != nil || i >= len(a) {
				return nil, false
			}
			cur = a[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// summarize describes the top of a JSON document for error messages.
func summarize(doc []byte) string {
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return "invalid JSON"
	}
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) > 5 {
			return fmt.Sprintf("{ %s ... and %d more fields }", strings.Join(keys[:5], ", "), len(keys)-5)
		}
		return "{ " + strings.Join(keys, ", ") + " }"
	case []any:
		return fmt.Sprintf("[array of %d items]", len(x))
	case string:
		return "string"
	case nil:
		return "null"
	case bool:
		return "bool"
	}
	return "number"
}

func tmplName(op string, kind config.Kind) string {
	return strings.ReplaceAll(op, "KIND", string(kind))
}

func (h *HTTP) decodeOne(kind config.Kind, key, u string, raw json.RawMessage) (*config.ConnectorConfig, error) {
	c, ps := config.DecodeConnectorJSON(kind, u, raw, true, key)
	if c == nil {
		return nil, &config.InvalidError{What: fmt.Sprintf("%s %q from %s", kind, key, u), Problems: ps}
	}
	return c, nil
}

// ActiveConfigs implements Provider: GET get_active_configs, {"sinks": {key: config}, "sources": ...}.
func (h *HTTP) ActiveConfigs(ctx context.Context) (*Snapshot, error) {
	u := h.URL("get_active_configs", nil)
	raw, err := h.fetch(ctx, http.MethodGet, u, nil, nil)
	if err != nil {
		return nil, err
	}
	var body struct {
		Sinks   map[string]json.RawMessage `json:"sinks"`
		Sources map[string]json.RawMessage `json:"sources"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, fmt.Errorf("%s: expected {\"sinks\": {...}, \"sources\": {...}}: %w", u, err)
	}
	snap := newSnapshot()
	for kind, m := range map[config.Kind]map[string]json.RawMessage{config.KindSink: body.Sinks, config.KindSource: body.Sources} {
		for key, cfgRaw := range m {
			file := fmt.Sprintf("%s (%s %s)", u, kind.Plural(), key)
			c, ps := config.DecodeConnectorJSON(kind, file, cfgRaw, true, key)
			snap.Problems = append(snap.Problems, ps...)
			if c == nil {
				continue
			}
			if c.Key != key {
				snap.Problems.Warn(file, "key", "config key %q differs from its entry %q; using %q", c.Key, key, key)
				c.Key = key
			}
			snap.put(c)
		}
	}
	snap.Problems.Sort()
	return snap, nil
}

// Configs implements Provider: GET get_{sink|source}_configs, an array of configs.
func (h *HTTP) Configs(ctx context.Context, kind config.Kind, key string) ([]*config.ConnectorConfig, error) {
	u := h.URL(tmplName("get_KIND_configs", kind), map[string]string{"key": key})
	raw, err := h.fetch(ctx, http.MethodGet, u, nil, nil)
	if err != nil {
		return nil, err
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(raw, &arr); err != nil {
		return nil, fmt.Errorf("%s: expected an array of configs: %w", u, err)
	}
	out := make([]*config.ConnectorConfig, 0, len(arr))
	for i, el := range arr {
		c, err := h.decodeOne(kind, key, fmt.Sprintf("%s [%d]", u, i), el)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Config implements Provider: GET get_{sink|source}_config; 404 = ErrNotFound.
func (h *HTTP) Config(ctx context.Context, kind config.Kind, key string, version uint64) (*config.ConnectorConfig, error) {
	u := h.URL(tmplName("get_KIND_config", kind), map[string]string{"key": key, "version": strconv.FormatUint(version, 10)})
	raw, err := h.fetch(ctx, http.MethodGet, u, nil, notFound(kind, key, &version))
	if err != nil {
		return nil, err
	}
	return h.decodeOne(kind, key, u, raw)
}

// ActiveConfig implements Provider: GET get_active_{sink|source}_config; 404 = ErrNotFound.
func (h *HTTP) ActiveConfig(ctx context.Context, kind config.Kind, key string) (*config.ConnectorConfig, error) {
	u := h.URL(tmplName("get_active_KIND_config", kind), map[string]string{"key": key})
	raw, err := h.fetch(ctx, http.MethodGet, u, nil, notFound(kind, key, nil))
	if err != nil {
		return nil, err
	}
	return h.decodeOne(kind, key, u, raw)
}

// Create implements Provider: POST create_{sink|source} with the config minus key and version
// (the original's CreateSinkConfig/CreateSourceConfig); the answer is the created config.
func (h *HTTP) Create(ctx context.Context, kind config.Kind, key string, cfg *config.ConnectorConfig) (*config.ConnectorConfig, error) {
	c := cfg.Clone()
	c.Kind, c.Key = kind, key
	b, err := c.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, err
	}
	delete(body, "key")
	delete(body, "version")
	u := h.URL(tmplName("create_KIND", kind), map[string]string{"key": key})
	raw, err := h.fetch(ctx, http.MethodPost, u, body, nil)
	if err != nil {
		return nil, err
	}
	return h.decodeOne(kind, key, u, raw)
}

// Delete implements Provider: DELETE delete_{sink|source}_config [+ ?version=N].
func (h *HTTP) Delete(ctx context.Context, kind config.Kind, key string, version *uint64) error {
	u := h.URL(tmplName("delete_KIND_config", kind), map[string]string{"key": key})
	if version != nil {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "version=" + strconv.FormatUint(*version, 10)
	}
	_, status, err := h.do(ctx, http.MethodDelete, u, nil)
	if err != nil {
		return err
	}
	if status == http.StatusNotFound {
		return notFound(kind, key, version)
	}
	return nil
}

// ActiveVersions implements Provider: GET get_active_versions,
// {"sinks": {key: {"version": N, "created_at": RFC3339}}, "sources": ...}.
func (h *HTTP) ActiveVersions(ctx context.Context) (*ActiveVersions, error) {
	u := h.URL("get_active_versions", nil)
	raw, err := h.fetch(ctx, http.MethodGet, u, nil, nil)
	if err != nil {
		return nil, err
	}
	av := &ActiveVersions{}
	if err := json.Unmarshal(raw, av); err != nil {
		return nil, fmt.Errorf("%s: expected {\"sinks\": {key: {\"version\", \"created_at\"}}, ...}: %w", u, err)
	}
	if av.Sinks == nil {
		av.Sinks = map[string]VersionInfo{}
	}
	if av.Sources == nil {
		av.Sources = map[string]VersionInfo{}
	}
	return av, nil
}

// SetActiveVersion implements Provider: PUT set_active_{sink|source} with {"version": N}.
func (h *HTTP) SetActiveVersion(ctx context.Context, kind config.Kind, key string, version uint64) error {
	u := h.URL(tmplName("set_active_KIND", kind), map[string]string{"key": key})
	_, status, err := h.do(ctx, http.MethodPut, u, map[string]uint64{"version": version})
	if err != nil {
		return err
	}
	if status == http.StatusNotFound {
		return notFound(kind, key, &version)
	}
	return nil
}
