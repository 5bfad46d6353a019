// Package esconn builds the go-elasticsearch v8 client that the Elasticsearch sink and source share,
// for Elasticsearch and for OpenSearch, and classifies its errors for the runtime.
//
// # OpenSearch
//
// go-elasticsearch v8 checks the first successful response of a server for the header
// `X-Elastic-Product: Elasticsearch` and refuses to talk to any server without it ("the client
// noticed that the server is not Elasticsearch"). OpenSearch speaks the same REST API for
// everything the connectors use (_bulk, _search, index creation, _count) but does not send that
// header. With flavor "opensearch" the client's HTTP transport adds the header to OpenSearch's
// responses that lack it, which is the only thing the product check looks at; nothing else of the
// client changes. With flavor "auto" (the default) Open asks the server once with a plain HTTP
// request (GET /): a response carrying X-Elastic-Product: Elasticsearch means Elasticsearch, a body
// whose version.distribution is "opensearch" means OpenSearch, anything else is an error that asks
// for flavor to be set.
//
// # Errors
//
// Connection failures, timeouts, 429 and 5xx are marked sdk.Retryable; any other 4xx is
// sdk.Permanent, with the server's error type and reason in the message.
package esconn

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/iggy-go/connectors/sdk"
)

// Flavors of search server.
const (
	FlavorAuto          = "auto"
	FlavorElasticsearch = "elasticsearch"
	FlavorOpenSearch    = "opensearch"
)

// Options are the connection keys shared by the sink's and the source's plugin_config.
type Options struct {
	URL                string // one URL, or several separated by commas
	Username, Password string // basic auth when both are set
	APIKey             string // base64 "id:key" API key; wins over basic auth
	CAFile             string // PEM file of CAs to trust for https (default: the system pool)
	InsecureSkipVerify bool   // do not verify the server certificate (tests only)
	Flavor             string // auto, elasticsearch, opensearch
	Timeout            time.Duration
}

// ValidateFlavor checks a flavor value.
func ValidateFlavor(f string) error {
	switch strings.ToLower(strings.TrimSpace(f)) {
	case FlavorAuto, FlavorElasticsearch, FlavorOpenSearch, "":
		return nil
	}
	return fmt.Errorf("unknown flavor %q (want auto, elasticsearch or opensearch)", f)
}

// ValidateURL checks a url value: one or more comma-separated http(s) URLs.
func ValidateURL(u string) error {
	addrs := Addresses(u)
	if len(addrs) == 0 {
		return errors.New("must not be empty")
	}
	for _, a := range addrs {
		if !strings.HasPrefix(a, "http://") && !strings.HasPrefix(a, "https://") {
			return fmt.Errorf("%q must start with http:// or https://", a)
		}
	}
	return nil
}

// Addresses splits a url value into node addresses without trailing slashes.
func Addresses(u string) []string {
	var out []string
	for _, a := range strings.Split(u, ",") {
		if a = strings.TrimRight(strings.TrimSpace(a), "/"); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Client is a connected client and the flavor it talks to.
type Client struct {
	ES     *elasticsearch.Client
	Flavor string // elasticsearch or opensearch, never auto
	http   *http.Client
	opts   Options
}

// New builds the client; with flavor auto it asks the server which it is (a network call), so a
// failure there is retryable unless the server answered something unrecognisable.
func New(ctx context.Context, o Options, log *slog.Logger) (*Client, error) {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 16
	base.ResponseHeaderTimeout = o.Timeout
	if o.CAFile != "" || o.InsecureSkipVerify {
		tc := &tls.Config{InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // opt-in key for tests
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, sdk.FieldErrorf("ca_file", "%v", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, sdk.FieldErrorf("ca_file", "%s holds no PEM certificate", o.CAFile)
			}
			tc.RootCAs = pool
		}
		base.TLSClientConfig = tc
	}
	c := &Client{http: &http.Client{Transport: base, Timeout: o.Timeout}, opts: o}
	flavor := strings.ToLower(strings.TrimSpace(o.Flavor))
	if flavor == "" || flavor == FlavorAuto {
		f, err := c.probe(ctx)
		if err != nil {
			return nil, err
		}
		flavor = f
		log.Info("search server flavor detected", "flavor", flavor, "url", Addresses(o.URL)[0])
	}
	c.Flavor = flavor
	var rt http.RoundTripper = base
	if flavor == FlavorOpenSearch {
		rt = productHeader{base}
	}
	es, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses: Addresses(o.URL), Username: o.Username, Password: o.Password, APIKey: o.APIKey,
		Transport: rt, MaxRetries: 2, RetryOnStatus: []int{502, 503, 504},
		RetryBackoff: func(attempt int) time.Duration { return time.Duration(attempt) * 200 * time.Millisecond },
	})
	if err != nil {
		return nil, sdk.FieldErrorf("url", "%v", err)
	}
	c.ES = es
	// A first request that answers 2xx runs the client's product check before anything is written
	// (and proves the node answers): GET /_cluster/health exists on both flavors.
	if _, err := c.Do(ctx, http.MethodGet, "/_cluster/health", nil, nil, false); err != nil {
		return nil, fmt.Errorf("check %s: %w", Addresses(o.URL)[0], err)
	}
	return c, nil
}

// productHeader supplies the X-Elastic-Product header that go-elasticsearch's product check wants
// on responses of an OpenSearch server (see the package documentation).
type productHeader struct{ next http.RoundTripper }

func (p productHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := p.next.RoundTrip(r)
	if err == nil && res.Header.Get("X-Elastic-Product") == "" {
		res.Header.Set("X-Elastic-Product", "Elasticsearch")
	}
	return res, err
}

// authorize sets the credentials of o on a plain request.
func (c *Client) authorize(r *http.Request) {
	switch {
	case c.opts.APIKey != "":
		r.Header.Set("Authorization", "ApiKey "+c.opts.APIKey)
	case c.opts.Username != "" || c.opts.Password != "":
		r.SetBasicAuth(c.opts.Username, c.opts.Password)
	}
}

// probe asks the first node what it is with a plain GET /.
func (c *Client) probe(ctx context.Context) (string, error) {
	addr := Addresses(c.opts.URL)[0]
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr+"/", nil)
	if err != nil {
		return "", sdk.FieldErrorf("url", "%v", err)
	}
	c.authorize(req)
	res, err := c.http.Do(req)
	if err != nil {
		return "", sdk.Retryable(fmt.Errorf("probe %s: %w", addr, err))
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	if res.Header.Get("X-Elastic-Product") == "Elasticsearch" {
		return FlavorElasticsearch, nil
	}
	var info struct {
		Version struct {
			Distribution string `json:"distribution"`
		} `json:"version"`
	}
	if res.StatusCode == http.StatusOK && json.Unmarshal(body, &info) == nil && info.Version.Distribution == "opensearch" {
		return FlavorOpenSearch, nil
	}
	if res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden {
		return "", sdk.Permanent(fmt.Errorf("probe %s: HTTP %d: check username/password or api_key (or set flavor to skip the probe)", addr, res.StatusCode))
	}
	if res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500 {
		return "", sdk.Retryable(fmt.Errorf("probe %s: HTTP %d", addr, res.StatusCode))
	}
	return "", sdk.FieldErrorf("flavor", "the server at %s is neither Elasticsearch nor OpenSearch as far as GET / tells (HTTP %d); set flavor = \"elasticsearch\" or \"opensearch\"", addr, res.StatusCode)
}

// Do sends a request with a JSON body (nil for none; []byte is sent as is) through the client and
// decodes a 2xx JSON answer into out (when not nil). It returns the status; err is classified
// (see the package documentation); a 404 is returned as status 404 with a nil error when allow404.
func (c *Client) Do(ctx context.Context, method, path string, body any, out any, allow404 bool) (int, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return 0, sdk.Permanent(err)
		}
		rd = bytes.NewReader(buf)
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return 0, sdk.Permanent(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.ES.Perform(req)
	if err != nil {
		return 0, Transport(fmt.Errorf("%s %s: %w", method, path, err))
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound && allow404 {
		_, _ = io.Copy(io.Discard, res.Body)
		return res.StatusCode, nil
	}
	if res.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
		return res.StatusCode, StatusError(fmt.Sprintf("%s %s", method, path), res.StatusCode, b)
	}
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			return res.StatusCode, sdk.Retryable(fmt.Errorf("%s %s: decode response: %w", method, path, err))
		}
	} else {
		_, _ = io.Copy(io.Discard, res.Body)
	}
	return res.StatusCode, nil
}

// Transport classifies an error of the HTTP round trip: a product-check refusal is permanent (the
// flavor is wrong), anything else (refused connection, timeout, reset) retryable.
func Transport(err error) error {
	if strings.Contains(err.Error(), "not Elasticsearch") {
		return sdk.Permanent(fmt.Errorf("%w (set flavor = \"opensearch\" for an OpenSearch server)", err))
	}
	return sdk.Retryable(err)
}

// Retryable reports whether an HTTP status is worth retrying: 429 and 5xx.
func Retryable(status int) bool { return status == http.StatusTooManyRequests || status >= 500 }

// StatusError builds the classified error of an HTTP error answer, with the server's error type
// and reason when the body has them.
func StatusError(what string, status int, body []byte) error {
	err := fmt.Errorf("%s: HTTP %d: %s", what, status, Reason(body))
	if Retryable(status) {
		return sdk.Retryable(err)
	}
	return sdk.Permanent(err)
}

// Reason extracts "type: reason" from an error body ({"error":{"type","reason"}} or a string
// error), or returns the body cut to 300 bytes.
func Reason(body []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Error) > 0 {
		return ItemError(e.Error)
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// ItemError renders an "error" value of a response or of a bulk item.
func ItemError(raw json.RawMessage) string {
	var obj struct {
		Type     string `json:"type"`
		Reason   string `json:"reason"`
		CausedBy *struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"caused_by"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.Type != "" {
		s := obj.Type + ": " + obj.Reason
		if obj.CausedBy != nil && obj.CausedBy.Reason != "" {
			s += " (caused by " + obj.CausedBy.Type + ": " + obj.CausedBy.Reason + ")"
		}
		return s
	}
	return strings.Trim(string(raw), `"`)
}

// Close releases idle connections.
func (c *Client) Close() {
	if c != nil && c.http != nil {
		c.http.CloseIdleConnections()
	}
}

// ObjectValue accepts a config value that must be a JSON object, given either as an object (a TOML
// table) or as a string holding one, and returns its compact JSON (nil when absent or empty).
func ObjectValue(raw json.RawMessage) ([]byte, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return nil, nil
	}
	if strings.HasPrefix(s, `"`) {
		var inner string
		if err := json.Unmarshal(raw, &inner); err != nil {
			return nil, err
		}
		if s = strings.TrimSpace(inner); s == "" {
			return nil, nil
		}
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(s), &obj); err != nil {
		return nil, fmt.Errorf("must be a JSON object: %v", err)
	}
	return json.Marshal(obj)
}
