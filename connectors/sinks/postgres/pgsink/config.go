package pgsink

import (
	"fmt"
	"strings"

	"github.com/iggy-go/connectors/connectors/internal/pgutil"
	"github.com/iggy-go/connectors/sdk"
)

// Config is the sink's plugin_config. Keys and defaults are those of the original Rust connector
// (spec §10.4); unknown keys are rejected by the SDK.
type Config struct {
	ConnectionString       sdk.Secret   `json:"connection_string" required:"true" desc:"PostgreSQL connection URL or DSN (libpq syntax, parsed by pgx)"`
	TargetTable            string       `json:"target_table" required:"true" desc:"table to write to; schema.table allowed, each segment quoted separately"`
	BatchSize              int          `json:"batch_size" default:"100" desc:"maximum rows per COPY + INSERT round (one transaction each)"`
	MaxConnections         int          `json:"max_connections" default:"10" desc:"maximum pooled connections"`
	AutoCreateTable        bool         `json:"auto_create_table" default:"false" desc:"create the table (and schema) at open when missing"`
	IncludeMetadata        bool         `json:"include_metadata" default:"true" desc:"write iggy_offset, iggy_timestamp, iggy_stream, iggy_topic, iggy_partition_id"`
	IncludeChecksum        bool         `json:"include_checksum" default:"true" desc:"write iggy_checksum"`
	IncludeOriginTimestamp bool         `json:"include_origin_timestamp" default:"true" desc:"write iggy_origin_timestamp"`
	PayloadFormat          string       `json:"payload_format" default:"\"bytea\"" desc:"payload column type: bytea, json or jsonb (both JSONB), text"`
	VerboseLogging         bool         `json:"verbose_logging" default:"false" desc:"log every batch at info instead of debug"`
	MaxRetries             int          `json:"max_retries" default:"3" desc:"attempts (in total; 0 counts as 1) for a write that fails transiently before the error goes back to the runtime"`
	RetryDelay             sdk.Duration `json:"retry_delay" default:"\"1s\"" desc:"delay before retry n is retry_delay × n"`
}

// PayloadFormat is how the payload column stores message payloads.
type PayloadFormat int

// Payload formats.
const (
	FormatBytea PayloadFormat = iota // payload bytes as they are
	FormatJSONB                      // payload parsed as JSON (invalid JSON fails that message)
	FormatText                       // payload as UTF-8 text (invalid UTF-8 or NUL fails that message)
)

// SQLType is the column type used for the payload when the table is created.
func (f PayloadFormat) SQLType() string {
	switch f {
	case FormatJSONB:
		return "JSONB"
	case FormatText:
		return "TEXT"
	}
	return "BYTEA"
}

// ParsePayloadFormat maps a payload_format value (case-insensitive) to a PayloadFormat.
func ParsePayloadFormat(s string) (PayloadFormat, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "bytea", "":
		return FormatBytea, nil
	case "json", "jsonb":
		return FormatJSONB, nil
	case "text":
		return FormatText, nil
	}
	return 0, fmt.Errorf("unknown payload_format %q (want bytea, json, jsonb or text)", s)
}

// Validate checks the config without touching the network.
func (c *Config) Validate() error {
	if strings.TrimSpace(c.ConnectionString.Reveal()) == "" {
		return sdk.FieldErrorf("connection_string", "must not be empty")
	}
	if _, err := pgutil.ParseQualifiedName(c.TargetTable); err != nil {
		return sdk.FieldErrorf("target_table", "%v", err)
	}
	if c.BatchSize < 1 {
		return sdk.FieldErrorf("batch_size", "must be at least 1, got %d", c.BatchSize)
	}
	if c.MaxConnections < 1 {
		return sdk.FieldErrorf("max_connections", "must be at least 1, got %d", c.MaxConnections)
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
