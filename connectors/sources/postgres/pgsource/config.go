package pgsource

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/iggy-go/connectors/connectors/internal/pgutil"
	"github.com/iggy-go/connectors/sdk"
)

// Config is the source's plugin_config. Keys and defaults are those of the original Rust connector
// (spec §10.2), plus `publication` for the pgoutput CDC backend. Unknown keys are rejected by the SDK.
type Config struct {
	ConnectionString  sdk.Secret   `json:"connection_string" required:"true" desc:"PostgreSQL connection URL or DSN (libpq syntax, parsed by pgx)"`
	Mode              string       `json:"mode" required:"true" desc:"polling or cdc"`
	Tables            []string     `json:"tables" required:"true" desc:"tables to read; schema.table allowed (CDC: a bare name matches any schema)"`
	PollInterval      sdk.Duration `json:"poll_interval" default:"\"10s\"" desc:"polling: wait after an empty poll; cdc: longest wait for changes inside one poll (capped at 1s)"`
	BatchSize         int          `json:"batch_size" default:"1000" desc:"polling: rows per table per poll; cdc: changes per poll"`
	TrackingColumn    string       `json:"tracking_column" default:"\"id\"" desc:"polling: increasing column the cursor follows"`
	InitialOffset     *FlexString  `json:"initial_offset" desc:"polling: cursor value to start after when there is no state"`
	MaxConnections    int          `json:"max_connections" default:"10" desc:"maximum pooled connections"`
	CustomQuery       string       `json:"custom_query" desc:"polling: query run per table instead of the built one; $table, $offset, $limit, $now, $now_unix are substituted safely"`
	SnakeCaseColumns  bool         `json:"snake_case_columns" default:"false" desc:"rename column keys to snake_case"`
	IncludeMetadata   bool         `json:"include_metadata" default:"true" desc:"wrap rows in {table_name, operation_type, timestamp, data, old_data}; false = just the columns"`
	ReplicationSlot   string       `json:"replication_slot" default:"\"iggy_slot\"" desc:"cdc: logical replication slot (pgoutput), created when missing"`
	Publication       string       `json:"publication" default:"\"iggy_pub\"" desc:"cdc: publication of the tracked tables, created when missing"`
	CaptureOperations []string     `json:"capture_operations" default:"[\"INSERT\",\"UPDATE\",\"DELETE\"]" desc:"cdc: operations to emit"`
	CDCBackend        string       `json:"cdc_backend" default:"\"builtin\"" desc:"cdc: builtin (pgoutput); pg_replicate is not supported"`
	DeleteAfterRead   bool         `json:"delete_after_read" default:"false" desc:"polling: delete rows once Iggy accepted them (wins over processed_column)"`
	ProcessedColumn   string       `json:"processed_column" desc:"polling: boolean column set TRUE once Iggy accepted the row; only FALSE rows are read"`
	PrimaryKeyColumn  string       `json:"primary_key_column" desc:"polling: key for delete/mark and message ids (default: tracking_column)"`
	PayloadColumn     string       `json:"payload_column" desc:"polling: send this column's value as the payload instead of a record"`
	PayloadFormat     string       `json:"payload_format" default:"\"json\"" desc:"json | bytea (raw) | text | json_direct (jsonb, jsonb_direct)"`
	VerboseLogging    bool         `json:"verbose_logging" default:"false" desc:"log every batch at info instead of debug"`
	MaxRetries        int          `json:"max_retries" default:"3" desc:"attempts (in total; 0 counts as 1) for a query that fails transiently"`
	RetryDelay        sdk.Duration `json:"retry_delay" default:"\"1s\"" desc:"delay before retry n is retry_delay × n"`
}

// FlexString accepts a JSON string or number (TOML users write initial_offset = 0 or "0").
type FlexString string

// UnmarshalJSON takes a string as is and a number in its JSON text form.
func (f *FlexString) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = FlexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("must be a string or a number, got %s", b)
	}
	*f = FlexString(n.String())
	return nil
}

// PayloadFormat says what a message payload is.
type PayloadFormat int

// Payload formats.
const (
	FormatJSON       PayloadFormat = iota // a DatabaseRecord (or the payload column as JSON)
	FormatBytea                           // the payload column's bytes, schema raw
	FormatText                            // the payload column as text, schema text
	FormatJSONDirect                      // the payload column's JSON value itself, schema json
)

// ParsePayloadFormat maps the original's payload_format names (case-insensitive).
func ParsePayloadFormat(s string) (PayloadFormat, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "json", "":
		return FormatJSON, nil
	case "bytea", "raw":
		return FormatBytea, nil
	case "text":
		return FormatText, nil
	case "json_direct", "jsonb", "jsonb_direct":
		return FormatJSONDirect, nil
	}
	return 0, fmt.Errorf("unknown payload_format %q (want json, bytea, raw, text, json_direct, jsonb or jsonb_direct)", s)
}

// Schema is the Iggy schema of the batches: raw for bytea, text for text, json otherwise.
func (f PayloadFormat) Schema() sdk.Schema {
	switch f {
	case FormatBytea:
		return "raw"
	case FormatText:
		return "text"
	}
	return "json"
}

// Operation is a captured change kind.
type Operation string

// Operations.
const (
	OpInsert Operation = "INSERT"
	OpUpdate Operation = "UPDATE"
	OpDelete Operation = "DELETE"
	OpSelect Operation = "SELECT" // polling
)

func (c *Config) polling() bool { return strings.EqualFold(c.Mode, "polling") }

// pkColumn is primary_key_column, or tracking_column when unset.
func (c *Config) pkColumn() string {
	if c.PrimaryKeyColumn != "" {
		return c.PrimaryKeyColumn
	}
	return c.TrackingColumn
}

// Validate checks the config without touching the network.
func (c *Config) Validate() error {
	if strings.TrimSpace(c.ConnectionString.Reveal()) == "" {
		return sdk.FieldErrorf("connection_string", "must not be empty")
	}
	switch strings.ToLower(c.Mode) {
	case "polling", "cdc":
	default:
		return sdk.FieldErrorf("mode", "must be polling or cdc, got %q", c.Mode)
	}
	if len(c.Tables) == 0 {
		return sdk.FieldErrorf("tables", "must list at least one table")
	}
	for i, t := range c.Tables {
		if _, err := pgutil.ParseQualifiedName(t); err != nil {
			return sdk.FieldErrorf(fmt.Sprintf("tables[%d]", i), "%v", err)
		}
	}
	if c.BatchSize < 1 {
		return sdk.FieldErrorf("batch_size", "must be at least 1, got %d", c.BatchSize)
	}
	if c.MaxConnections < 1 {
		return sdk.FieldErrorf("max_connections", "must be at least 1, got %d", c.MaxConnections)
	}
	if c.PollInterval < 0 {
		return sdk.FieldErrorf("poll_interval", "must not be negative")
	}
	if strings.TrimSpace(c.TrackingColumn) == "" {
		return sdk.FieldErrorf("tracking_column", "must not be empty")
	}
	if _, err := ParsePayloadFormat(c.PayloadFormat); err != nil {
		return sdk.FieldErrorf("payload_format", "%v", err)
	}
	for i, op := range c.CaptureOperations {
		switch Operation(strings.ToUpper(strings.TrimSpace(op))) {
		case OpInsert, OpUpdate, OpDelete:
		default:
			return sdk.FieldErrorf(fmt.Sprintf("capture_operations[%d]", i), "unknown operation %q (want INSERT, UPDATE or DELETE)", op)
		}
	}
	switch strings.ToLower(c.CDCBackend) {
	case "builtin", "":
	case "pg_replicate":
		return sdk.FieldErrorf("cdc_backend", "pg_replicate is not supported (the original needs a build feature and does not implement it); use builtin")
	default:
		return sdk.FieldErrorf("cdc_backend", "unknown backend %q (want builtin)", c.CDCBackend)
	}
	if !c.polling() {
		if !validSlotName(c.ReplicationSlot) {
			return sdk.FieldErrorf("replication_slot", "%q is not a valid slot name (lower-case letters, digits and _, at most 63)", c.ReplicationSlot)
		}
		if strings.TrimSpace(c.Publication) == "" {
			return sdk.FieldErrorf("publication", "must not be empty in cdc mode")
		}
	}
	if c.MaxRetries < 0 {
		return sdk.FieldErrorf("max_retries", "must not be negative, got %d", c.MaxRetries)
	}
	if c.RetryDelay < 0 {
		return sdk.FieldErrorf("retry_delay", "must not be negative")
	}
	return nil
}

// validSlotName follows PostgreSQL's rule for replication slot names.
func validSlotName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// captures reports whether op is in capture_operations.
func (c *Config) captures(op Operation) bool {
	for _, o := range c.CaptureOperations {
		if Operation(strings.ToUpper(strings.TrimSpace(o))) == op {
			return true
		}
	}
	return false
}
