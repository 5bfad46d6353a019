package essource

import (
	"encoding/json"
	"strings"

	"github.com/iggy-go/connectors/connectors/internal/esconn"
	"github.com/iggy-go/connectors/sdk"
)

// Config is the source's plugin_config: the original's keys (spec §10.3) with their defaults, plus
// extensions (flavor, api_key, ca_file, tls_insecure_skip_verify, timeout_seconds). Unknown keys are
// rejected by the SDK.
type Config struct {
	URL                   string          `json:"url" required:"true" desc:"Elasticsearch/OpenSearch URL (several separated by commas)"`
	Index                 string          `json:"index" required:"true" desc:"index name or pattern (logs-*, a,b)"`
	Username              string          `json:"username" desc:"basic auth user (used when username and password are set)"`
	Password              sdk.Secret      `json:"password" desc:"basic auth password"`
	Query                 json.RawMessage `json:"query" desc:"query DSL object (TOML table or JSON string); default match_all"`
	PollingInterval       sdk.Duration    `json:"polling_interval" default:"\"10s\"" desc:"wait after a poll that found nothing new"`
	BatchSize             int             `json:"batch_size" default:"100" desc:"documents per poll"`
	TimestampField        string          `json:"timestamp_field" desc:"field the cursor follows (date, date_nanos, number or keyword); default @timestamp"`
	ScrollTimeout         string          `json:"scroll_timeout" desc:"accepted for compatibility; unused (the source does not scroll)"`
	State                 json.RawMessage `json:"state" desc:"accepted for compatibility; the runtime's state file holds the cursor"`
	Flavor                string          `json:"flavor" default:"\"auto\"" desc:"extension: auto, elasticsearch or opensearch"`
	APIKey                sdk.Secret      `json:"api_key" desc:"extension: API key (base64 id:key), wins over username/password"`
	CAFile                string          `json:"ca_file" desc:"extension: PEM file of CAs to trust for https"`
	TLSInsecureSkipVerify bool            `json:"tls_insecure_skip_verify" default:"false" desc:"extension: do not verify the server certificate"`
	TimeoutSeconds        int             `json:"timeout_seconds" default:"30" desc:"extension: timeout of one request, in seconds"`
	query                 []byte
}

// Validate checks the config without touching the network.
func (c *Config) Validate() error {
	if err := esconn.ValidateURL(c.URL); err != nil {
		return sdk.FieldErrorf("url", "%v", err)
	}
	if strings.TrimSpace(c.Index) == "" {
		return sdk.FieldErrorf("index", "must not be empty")
	}
	if c.BatchSize < 1 || c.BatchSize > 10000 {
		return sdk.FieldErrorf("batch_size", "must be between 1 and 10000 (the servers' default max_result_window), got %d", c.BatchSize)
	}
	if c.PollingInterval < 0 {
		return sdk.FieldErrorf("polling_interval", "must not be negative")
	}
	if c.TimeoutSeconds < 1 {
		return sdk.FieldErrorf("timeout_seconds", "must be at least 1, got %d", c.TimeoutSeconds)
	}
	if err := esconn.ValidateFlavor(c.Flavor); err != nil {
		return sdk.FieldErrorf("flavor", "%v", err)
	}
	q, err := esconn.ObjectValue(c.Query)
	if err != nil {
		return sdk.FieldErrorf("query", "%v", err)
	}
	if q == nil {
		q = []byte(`{"match_all":{}}`)
	}
	c.query = q
	if c.TimestampField == "" {
		c.TimestampField = "@timestamp"
	}
	return nil
}

func (c *Config) connOptions() esconn.Options {
	return esconn.Options{URL: c.URL, Username: c.Username, Password: c.Password.Reveal(), APIKey: c.APIKey.Reveal(),
		CAFile: c.CAFile, InsecureSkipVerify: c.TLSInsecureSkipVerify, Flavor: c.Flavor}
}
