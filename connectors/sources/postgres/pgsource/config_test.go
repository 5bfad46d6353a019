package pgsource

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/sdk"
)

func TestConfigDefaults(t *testing.T) {
	cfg, err := sdk.DecodeConfig[Config]([]byte(`{"connection_string":"postgres://h/db","mode":"polling","tables":["t"]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{ConnectionString: "postgres://h/db", Mode: "polling", Tables: []string{"t"},
		PollInterval: sdk.Duration(10 * time.Second), BatchSize: 1000, TrackingColumn: "id", MaxConnections: 10,
		IncludeMetadata: true, ReplicationSlot: "iggy_slot", Publication: "iggy_pub",
		CaptureOperations: []string{"INSERT", "UPDATE", "DELETE"}, CDCBackend: "builtin", PayloadFormat: "json",
		MaxRetries: 3, RetryDelay: sdk.Duration(time.Second)}
	if !reflect.DeepEqual(*cfg, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", *cfg, want)
	}
	if cfg.pkColumn() != "id" {
		t.Fatal(cfg.pkColumn())
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	base := `"connection_string":"postgres://u:pw@h/db","tables":["t"]`
	cases := []struct{ json, field, msg string }{
		{`{` + base + `}`, "mode", "required"},
		{`{` + base + `,"mode":"stream"}`, "mode", "polling or cdc"},
		{`{"connection_string":"x","mode":"cdc"}`, "tables", "required"},
		{`{"connection_string":"x","mode":"cdc","tables":[]}`, "tables", "at least one"},
		{`{"connection_string":"x","mode":"cdc","tables":["a.b.c"]}`, "tables[0]", "segments"},
		{`{` + base + `,"mode":"polling","payload_format":"xml"}`, "payload_format", "xml"},
		{`{` + base + `,"mode":"cdc","capture_operations":["INSERT","TRUNCATE"]}`, "capture_operations[1]", "TRUNCATE"},
		{`{` + base + `,"mode":"cdc","cdc_backend":"pg_replicate"}`, "cdc_backend", "not supported"},
		{`{` + base + `,"mode":"cdc","replication_slot":"Bad-Slot"}`, "replication_slot", "valid slot name"},
		{`{` + base + `,"mode":"polling","batch_size":0}`, "batch_size", "at least 1"},
		{`{` + base + `,"mode":"polling","poll_interval":"soon"}`, "poll_interval", "invalid duration"},
		{`{` + base + `,"mode":"polling","initial_offset":[1]}`, "initial_offset", "string or a number"},
		{`{` + base + `,"mode":"polling","tracking_column":""}`, "tracking_column", "empty"},
		{`{` + base + `,"mode":"polling","delete_after_reed":true}`, "delete_after_reed", `did you mean "delete_after_read"`},
	}
	for _, c := range cases {
		_, err := sdk.DecodeConfig[Config]([]byte(c.json))
		var fe *sdk.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(fe.Message, c.msg) {
			t.Errorf("%s: got %v, want field %q with %q", c.json, err, c.field, c.msg)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("%s: error leaks the connection string", c.json)
		}
	}
}

func TestInitialOffsetStringOrNumber(t *testing.T) {
	for in, want := range map[string]string{`5`: "5", `"5"`: "5", `"2024-01-01T00:00:00Z"`: "2024-01-01T00:00:00Z", `1.5`: "1.5"} {
		cfg, err := sdk.DecodeConfig[Config]([]byte(`{"connection_string":"x","mode":"polling","tables":["t"],"initial_offset":` + in + `}`))
		if err != nil || cfg.InitialOffset == nil || string(*cfg.InitialOffset) != want {
			t.Errorf("%s: %v %v", in, cfg, err)
		}
	}
}

func TestPayloadFormats(t *testing.T) {
	for in, want := range map[string]PayloadFormat{"json": FormatJSON, "bytea": FormatBytea, "RAW": FormatBytea, "text": FormatText,
		"json_direct": FormatJSONDirect, "jsonb": FormatJSONDirect, "jsonb_direct": FormatJSONDirect} {
		got, err := ParsePayloadFormat(in)
		if err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	if FormatBytea.Schema() != "raw" || FormatText.Schema() != "text" || FormatJSONDirect.Schema() != "json" || FormatJSON.Schema() != "json" {
		t.Error("schemas")
	}
}
