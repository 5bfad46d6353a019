package qwsink

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/iggy-go/connectors/sdk"
	"gopkg.in/yaml.v3"
)

// Config is the sink's plugin_config: the original's `url` and `index` (spec §10.7) plus
// `batch_size`, `commit` and `timeout`. Unknown keys are rejected by the SDK.
type Config struct {
	URL       string       `json:"url" required:"true" desc:"base URL of the Quickwit REST API, e.g. http://localhost:7280"`
	Index     string       `json:"index" required:"true" desc:"the full Quickwit index config as YAML; index_id is read from it and the index is created from it when missing"`
	BatchSize int          `json:"batch_size" default:"1000" desc:"maximum documents per ingest request (requests are also kept under 8 MiB)"`
	Commit    string       `json:"commit" default:"\"auto\"" desc:"ingest commit mode: auto (return when queued, as the original), wait_for (return after the next scheduled commit) or force (commit now, then return)"`
	Timeout   sdk.Duration `json:"timeout" default:"\"2m\"" desc:"bound of one HTTP request; with commit = wait_for it must exceed the index's commit_timeout_secs"`

	indexID string // parsed from Index by Validate
}

// Commit modes of the ingest API.
var commitModes = []string{"auto", "wait_for", "force"}

// indexIDPattern is Quickwit's rule for index identifiers.
var indexIDPattern = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9\-_.]{2,254}$`)

// IndexID parses the index config YAML and returns its index_id.
func IndexID(indexYAML string) (string, error) {
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(indexYAML), &doc); err != nil {
		return "", fmt.Errorf("not valid YAML: %v", err)
	}
	if doc == nil {
		return "", fmt.Errorf("empty index config (a YAML mapping with version, index_id and doc_mapping is needed)")
	}
	raw, ok := doc["index_id"]
	if !ok {
		return "", fmt.Errorf("the index config has no index_id")
	}
	id, ok := raw.(string)
	if !ok {
		return "", fmt.Errorf("index_id must be a string, got %v", raw)
	}
	if !indexIDPattern.MatchString(id) {
		return "", fmt.Errorf("index_id %q is not a valid Quickwit index id (^[a-zA-Z][a-zA-Z0-9-_.]{2,254}$)", id)
	}
	return id, nil
}

// Validate checks the config without touching the network; every error names its key.
func (c *Config) Validate() error {
	u, err := url.Parse(strings.TrimSpace(c.URL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return sdk.FieldErrorf("url", "must be an http:// or https:// URL with a host, got %q", c.URL)
	}
	id, err := IndexID(c.Index)
	if err != nil {
		return sdk.FieldErrorf("index", "%v", err)
	}
	c.indexID = id
	if c.BatchSize < 1 {
		return sdk.FieldErrorf("batch_size", "must be at least 1, got %d", c.BatchSize)
	}
	ok := false
	for _, m := range commitModes {
		ok = ok || c.Commit == m
	}
	if !ok {
		return sdk.FieldErrorf("commit", "must be one of auto, wait_for, force; got %q", c.Commit)
	}
	if c.Timeout <= 0 {
		return sdk.FieldErrorf("timeout", "must be greater than zero")
	}
	return nil
}

// baseURL is URL without a trailing slash.
func (c *Config) baseURL() string { return strings.TrimRight(strings.TrimSpace(c.URL), "/") }
