package pgsink

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/sdk"
)

func TestConfigDefaults(t *testing.T) {
	cfg, err := sdk.DecodeConfig[Config]([]byte(`{"connection_string":"postgres://u:pw@h/db","target_table":"t"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{ConnectionString: "postgres://u:pw@h/db", TargetTable: "t", BatchSize: 100, MaxConnections: 10,
		IncludeMetadata: true, IncludeChecksum: true, IncludeOriginTimestamp: true, PayloadFormat: "bytea",
		MaxRetries: 3, RetryDelay: sdk.Duration(time.Second)}
	if *cfg != want {
		t.Fatalf("defaults:\n got %+v\nwant %+v", *cfg, want)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	base := `"connection_string":"postgres://h/db","target_table":"t"`
	cases := []struct {
		json, field, msg string
	}{
		{`{"target_table":"t"}`, "connection_string", "required"},
		{`{"connection_string":"postgres://h/db"}`, "target_table", "required"},
		{`{"connection_string":"  ","target_table":"t"}`, "connection_string", "empty"},
		{`{` + base + `,"payload_format":"xml"}`, "payload_format", "xml"},
		{`{` + base + `,"batch_size":0}`, "batch_size", "at least 1"},
		{`{` + base + `,"max_connections":0}`, "max_connections", "at least 1"},
		{`{` + base + `,"max_retries":-1}`, "max_retries", "negative"},
		{`{` + base + `,"retry_delay":"soon"}`, "retry_delay", "invalid duration"},
		{`{"connection_string":"postgres://h/db","target_table":"a.b.c"}`, "target_table", "3 segments"},
		{`{"connection_string":"postgres://h/db","target_table":"a..b"}`, "target_table", "empty segment"},
		{`{` + base + `,"paylod_format":"json"}`, "paylod_format", `did you mean "payload_format"`},
	}
	for _, c := range cases {
		_, err := sdk.DecodeConfig[Config]([]byte(c.json))
		var fe *sdk.FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: want a FieldError, got %v", c.json, err)
			continue
		}
		if fe.Field != c.field || !strings.Contains(fe.Message, c.msg) {
			t.Errorf("%s: got field %q message %q, want field %q containing %q", c.json, fe.Field, fe.Message, c.field, c.msg)
		}
		if strings.Contains(err.Error(), "pw@") {
			t.Errorf("%s: error leaks the connection string: %v", c.json, err)
		}
	}
}

func TestPayloadFormats(t *testing.T) {
	for in, want := range map[string]PayloadFormat{"bytea": FormatBytea, "JSON": FormatJSONB, "jsonb": FormatJSONB, "text": FormatText} {
		got, err := ParsePayloadFormat(in)
		if err != nil || got != want {
			t.Errorf("%q: got %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParsePayloadFormat("raw"); err == nil {
		t.Error("raw must be rejected (the original accepts only bytea, json, jsonb, text)")
	}
}
