package essink

import (
	"encoding/json"
	"strings"

	"github.com/iggy-go/connectors/connectors/internal/esconn"
	"github.com/iggy-go/connectors/sdk"
)

// Config is the sink's plugin_config: the original's keys (spec §10.6) with their defaults, plus
// extensions (flavor, api_key, ca_file, tls_insecure_skip_verify, document_id, refresh,
// max_concurrent_requests). Unknown keys are rejected by the SDK.
type Config struct {
	URL                    string          `json:"url" required:"true" desc:"Elasticsearch/OpenSearch URL (several separated by commas)"`
	Index                  string          `json:"index" required:"true" desc:"index name; may hold {stream}, {topic}, {partition} and a date of the message time such as {yyyy.MM.dd}"`
	Username               string          `json:"username" desc:"basic auth user (used when username and password are set)"`
	Password               sdk.Secret      `json:"password" desc:"basic auth password"`
	BatchSize              int             `json:"batch_size" default:"100" desc:"documents per _bulk request"`
	TimeoutSeconds         int             `json:"timeout_seconds" default:"30" desc:"timeout of one request, in seconds"`
	CreateIndexIfNotExists bool            `json:"create_index_if_not_exists" default:"true" desc:"create a missing index (with index_mapping) before writing to it"`
	IndexMapping           json.RawMessage `json:"index_mapping" desc:"JSON body for index creation (mappings/settings), as a TOML table or a JSON string"`
	Flavor                 string          `json:"flavor" default:"\"auto\"" desc:"extension: auto, elasticsearch or opensearch"`
	APIKey                 sdk.Secret      `json:"api_key" desc:"extension: API key (base64 id:key), wins over username/password"`
	CAFile                 string          `json:"ca_file" desc:"extension: PEM file of CAs to trust for https"`
	TLSInsecureSkipVerify  bool            `json:"tls_insecure_skip_verify" default:"false" desc:"extension: do not verify the server certificate"`
	DocumentID             string          `json:"document_id" default:"\"identity\"" desc:"extension: identity ({stream}-{topic}-{partition}-{offset}), message_id or none (server ids: a replay duplicates)"`
	Refresh                string          `json:"refresh" default:"\"false\"" desc:"extension: refresh policy of _bulk: false, true or wait_for"`
	MaxConcurrentRequests  int             `json:"max_concurrent_requests" default:"1" desc:"extension: _bulk requests of one batch in flight at once"`
	mapping                []byte
	idMode                 idMode
	index                  *indexTemplate
}

type idMode int

const (
	idIdentity idMode = iota
	idMessageID
	idNone
)

// Validate checks the config without touching the network.
func (c *Config) Validate() error {
	if err := esconn.ValidateURL(c.URL); err != nil {
		return sdk.FieldErrorf("url", "%v", err)
	}
	t, err := parseIndexTemplate(c.Index)
	if err != nil {
		return sdk.FieldErrorf("index", "%v", err)
	}
	c.index = t
	if c.BatchSize < 1 {
		return sdk.FieldErrorf("batch_size", "must be at least 1, got %d", c.BatchSize)
	}
	if c.TimeoutSeconds < 1 {
		return sdk.FieldErrorf("timeout_seconds", "must be at least 1, got %d", c.TimeoutSeconds)
	}
	if err := esconn.ValidateFlavor(c.Flavor); err != nil {
		return sdk.FieldErrorf("flavor", "%v", err)
	}
	switch strings.ToLower(c.DocumentID) {
	case "identity", "":
		c.idMode = idIdentity
	case "message_id":
		c.idMode = idMessageID
	case "none":
		c.idMode = idNone
	default:
		return sdk.FieldErrorf("document_id", "unknown value %q (want identity, message_id or none)", c.DocumentID)
	}
	switch c.Refresh {
	case "false", "true", "wait_for":
	default:
		return sdk.FieldErrorf("refresh", "unknown value %q (want false, true or wait_for)", c.Refresh)
	}
	if c.MaxConcurrentRequests < 1 {
		return sdk.FieldErrorf("max_concurrent_requests", "must be at least 1, got %d", c.MaxConcurrentRequests)
	}
	m, err := esconn.ObjectValue(c.IndexMapping)
	if err != nil {
		return sdk.FieldErrorf("index_mapping", "%v", err)
	}
	c.mapping = m
	return nil
}

// connOptions maps the connection keys to esconn.Options.
func (c *Config) connOptions() esconn.Options {
	return esconn.Options{URL: c.URL, Username: c.Username, Password: c.Password.Reveal(), APIKey: c.APIKey.Reveal(),
		CAFile: c.CAFile, InsecureSkipVerify: c.TLSInsecureSkipVerify, Flavor: c.Flavor}
}
