package icebergsink

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/iggy-go/connectors/sdk"
)

// Config is the sink's plugin_config. The first eleven keys are the original connector's (spec §10.8,
// same names and meaning); the rest are extensions. Unknown keys are rejected by the SDK.
type Config struct {
	Tables               []string   `json:"tables" desc:"tables written in static mode, each \"namespace.table\" (nested namespaces: \"a.b.table\"); required unless dynamic_routing"`
	CatalogType          string     `json:"catalog_type" required:"true" desc:"rest (an Iceberg REST catalog at uri) or sql (iceberg-go's SQL catalog: uri is a SQLite file or a postgres:// URL)"`
	Warehouse            string     `json:"warehouse" desc:"warehouse passed to the catalog (REST: the warehouse name or location; sql: the default location of new tables)"`
	URI                  sdk.Secret `json:"uri" required:"true" desc:"REST catalog URL, or the SQL catalog's database: a SQLite path (sqlite:PATH or file:PATH also accepted) or a postgres:// URL"`
	DynamicRouting       bool       `json:"dynamic_routing" default:"false" desc:"route each message to the table named by the string field dynamic_route_field (\"namespace.table\")"`
	DynamicRouteField    string     `json:"dynamic_route_field" desc:"top-level JSON field holding the table name when dynamic_routing is on"`
	StoreURL             string     `json:"store_url" desc:"S3 endpoint URL (store_class s3; empty = AWS)"`
	StoreAccessKeyID     sdk.Secret `json:"store_access_key_id" desc:"S3 access key id (with store_secret_access_key; neither = the default AWS credential chain)"`
	StoreSecretAccessKey sdk.Secret `json:"store_secret_access_key" desc:"S3 secret access key"`
	StoreRegion          string     `json:"store_region" desc:"S3 region"`
	StoreClass           string     `json:"store_class" default:"\"s3\"" desc:"where data files go: s3 (S3-compatible) or fs (the local filesystem, file:// table locations)"`

	CommitInterval sdk.Duration `json:"commit_interval" default:"\"0\"" desc:"extension: minimum time between two commits to a table; a batch arriving sooner waits (at most this long) inside the call, so the runtime's linger_time grows the next batch; 0 = one commit per batch"`
	UnknownFields  string       `json:"unknown_fields" default:"\"ignore\"" desc:"extension: a JSON field that is not a table column is ignored, or (reject) fails that message"`
	WriterID       string       `json:"writer_id" default:"\"iggy-connectors\"" desc:"extension: name under which commits record their Iggy offsets in the snapshot summary; connectors writing the same topic into the same table need different ids"`
	CommitRetries  int          `json:"commit_retries" default:"4" desc:"extension: attempts of a commit that conflicts with another writer, each on freshly loaded table metadata"`
}

// Store classes the sink can write to.
const (
	storeS3 = "s3"
	storeFS = "fs"
)

// Validate checks the config without touching the network.
func (c *Config) Validate() error {
	c.CatalogType = strings.ToLower(strings.TrimSpace(c.CatalogType))
	switch c.CatalogType {
	case "rest", "sql":
	default:
		return sdk.FieldErrorf("catalog_type", "unsupported catalog type %q (want rest or sql)", c.CatalogType)
	}
	if strings.TrimSpace(c.URI.Reveal()) == "" {
		return sdk.FieldErrorf("uri", "must not be empty")
	}
	if c.CatalogType == "rest" {
		u, err := url.Parse(c.URI.Reveal())
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return sdk.FieldErrorf("uri", "REST catalog uri must be an http(s) URL")
		}
	}
	if c.DynamicRouting {
		if strings.TrimSpace(c.DynamicRouteField) == "" {
			return sdk.FieldErrorf("dynamic_route_field", "is required when dynamic_routing is true")
		}
	} else if len(c.Tables) == 0 {
		return sdk.FieldErrorf("tables", "at least one table is required unless dynamic_routing is true")
	}
	for i, t := range c.Tables {
		if _, err := parseTableName(t); err != nil {
			return sdk.FieldErrorf(fmt.Sprintf("tables[%d]", i), "%v", err)
		}
	}
	c.StoreClass = strings.ToLower(strings.TrimSpace(c.StoreClass))
	switch c.StoreClass {
	case storeS3:
	case storeFS, "file", "local":
		c.StoreClass = storeFS
	case "gcs", "azdls", "oss":
		return sdk.FieldErrorf("store_class", "%q is not supported (want s3 or fs)", c.StoreClass)
	default:
		return sdk.FieldErrorf("store_class", "unknown store class %q (want s3 or fs)", c.StoreClass)
	}
	if (c.StoreAccessKeyID == "") != (c.StoreSecretAccessKey == "") {
		return sdk.FieldErrorf("store_access_key_id", "store_access_key_id and store_secret_access_key must be given together (or neither, for the default credential chain)")
	}
	if c.StoreURL != "" {
		u, err := url.Parse(c.StoreURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return sdk.FieldErrorf("store_url", "must be an http(s) URL, got %q", c.StoreURL)
		}
	}
	c.UnknownFields = strings.ToLower(strings.TrimSpace(c.UnknownFields))
	if c.UnknownFields != "ignore" && c.UnknownFields != "reject" {
		return sdk.FieldErrorf("unknown_fields", "want ignore or reject, got %q", c.UnknownFields)
	}
	if c.CommitInterval < 0 {
		return sdk.FieldErrorf("commit_interval", "must not be negative")
	}
	if strings.TrimSpace(c.WriterID) == "" {
		return sdk.FieldErrorf("writer_id", "must not be empty")
	}
	if c.CommitRetries < 1 {
		c.CommitRetries = 1
	}
	return nil
}

// parseTableName splits "ns.table" (or "ns1.ns2.table") into its segments: at least two, none empty.
func parseTableName(s string) ([]string, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("table name %q must be namespace.table", s)
	}
	for _, p := range parts {
		if strings.TrimSpace(p) == "" {
			return nil, fmt.Errorf("table name %q has an empty segment", s)
		}
	}
	return parts, nil
}
