package mongosink

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/iggy-go/connectors/sdk"
)

// Config is the sink's plugin_config. Keys and defaults are those of the original Rust connector
// (spec §10.5), so a connector file written for it works unchanged; unknown keys are rejected by the
// SDK. Two deliberate differences: an unknown payload_format is a validation error (the original
// fell back to binary with a warning), and a connection_uri asking for unacknowledged writes (w=0)
// is refused, because the sink must know that a document landed before it reports it written.
type Config struct {
	ConnectionURI          sdk.Secret   `json:"connection_uri" required:"true" desc:"MongoDB connection string (mongodb:// or mongodb+srv://); its options (timeouts, TLS, write concern) apply"`
	Database               string       `json:"database" required:"true" desc:"database to write to"`
	Collection             string       `json:"collection" required:"true" desc:"collection to write to"`
	MaxPoolSize            *uint64      `json:"max_pool_size" desc:"maximum pooled connections (absent: the driver's default, 100; 0: no limit)"`
	AutoCreateCollection   bool         `json:"auto_create_collection" default:"false" desc:"create the collection at open when missing (MongoDB also creates it on the first insert)"`
	BatchSize              int          `json:"batch_size" default:"100" desc:"documents per insertMany (unordered)"`
	IncludeMetadata        bool         `json:"include_metadata" default:"true" desc:"write iggy_offset, iggy_timestamp, iggy_stream, iggy_topic, iggy_partition_id"`
	IncludeChecksum        bool         `json:"include_checksum" default:"true" desc:"write iggy_checksum"`
	IncludeOriginTimestamp bool         `json:"include_origin_timestamp" default:"true" desc:"write iggy_origin_timestamp"`
	PayloadFormat          string       `json:"payload_format" default:"\"binary\"" desc:"how payload is stored: binary (BSON Binary), json (embedded document or value), string or text (UTF-8 string)"`
	VerboseLogging         bool         `json:"verbose_logging" default:"false" desc:"log every batch at info instead of debug"`
	MaxRetries             int          `json:"max_retries" default:"3" desc:"attempts (in total; 0 counts as 1) for a write that fails transiently before the error goes back to the runtime"`
	RetryDelay             sdk.Duration `json:"retry_delay" default:"\"1s\"" desc:"delay before retry n is retry_delay × n"`
}

// PayloadFormat is how the payload field stores message payloads.
type PayloadFormat int

// Payload formats.
const (
	FormatBinary PayloadFormat = iota // BSON Binary (subtype 0), byte-exact
	FormatJSON                        // the JSON value as BSON: objects become embedded documents
	FormatString                      // a BSON string; the payload must be UTF-8
)

func (f PayloadFormat) String() string {
	switch f {
	case FormatJSON:
		return "json"
	case FormatString:
		return "string"
	}
	return "binary"
}

// ParsePayloadFormat maps a payload_format value (case-insensitive, as in the original) to a
// PayloadFormat; "text" is the original's alias of "string".
func ParsePayloadFormat(s string) (PayloadFormat, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "binary", "":
		return FormatBinary, nil
	case "json":
		return FormatJSON, nil
	case "string", "text":
		return FormatString, nil
	}
	return 0, fmt.Errorf("unknown payload_format %q (want binary, json, string or text)", s)
}

// Validate checks the config without touching the network.
func (c *Config) Validate() error {
	if err := checkURI(c.ConnectionURI.Reveal()); err != nil {
		return sdk.FieldErrorf("connection_uri", "%v", err)
	}
	if err := checkDatabaseName(c.Database); err != nil {
		return sdk.FieldErrorf("database", "%v", err)
	}
	if err := checkCollectionName(c.Collection); err != nil {
		return sdk.FieldErrorf("collection", "%v", err)
	}
	if c.BatchSize < 1 {
		return sdk.FieldErrorf("batch_size", "must be at least 1, got %d", c.BatchSize)
	}
	if _, err := ParsePayloadFormat(c.PayloadFormat); err != nil {
		return sdk.FieldErrorf("payload_format", "%v", err)
	}
	if c.MaxRetries < 0 {
		return sdk.FieldErrorf("max_retries", "must not be negative, got %d", c.MaxRetries)
	}
	if c.RetryDelay < 0 {
		return sdk.FieldErrorf("retry_delay", "must not be negative")
	}
	return nil
}

// checkURI checks the scheme and refuses unacknowledged writes (w=0). Errors never quote the URI,
// which may hold a password. The full parse happens at Open (the driver's parser resolves
// mongodb+srv names through DNS, which validation must not do).
func checkURI(uri string) error {
	uri = strings.TrimSpace(uri)
	if uri == "" {
		return fmt.Errorf("must not be empty")
	}
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok || (scheme != "mongodb" && scheme != "mongodb+srv") {
		return fmt.Errorf("must start with mongodb:// or mongodb+srv://")
	}
	if _, query, ok := strings.Cut(rest, "?"); ok {
		opts, err := url.ParseQuery(query)
		if err != nil {
			return fmt.Errorf("options after '?' do not parse: %v", err)
		}
		for k, vs := range opts {
			if strings.EqualFold(k, "w") {
				for _, v := range vs {
					if strings.TrimSpace(v) == "0" {
						return fmt.Errorf("w=0 asks for unacknowledged writes; the sink reports a message written only after the server acknowledged it: remove w=0")
					}
				}
			}
		}
	}
	return nil
}

// checkDatabaseName applies MongoDB's documented restrictions on database names.
func checkDatabaseName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("must not be empty")
	case len(name) >= 64:
		return fmt.Errorf("must be shorter than 64 bytes, got %d", len(name))
	case strings.ContainsAny(name, "/\\. \"$*<>:|?\x00"):
		return fmt.Errorf("%q holds a character MongoDB does not allow in database names (/\\. \"$*<>:|? or NUL)", name)
	}
	return nil
}

// checkCollectionName applies MongoDB's documented restrictions on collection names.
func checkCollectionName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("must not be empty")
	case strings.ContainsAny(name, "$\x00"):
		return fmt.Errorf("%q holds '$' or NUL, which MongoDB does not allow in collection names", name)
	case strings.HasPrefix(name, "system."):
		return fmt.Errorf("%q: the system. prefix is reserved by MongoDB", name)
	}
	return nil
}
