package icebergsink

import (
	"errors"
	"strings"
	"testing"

	"github.com/iggy-go/connectors/sdk"
)

func TestConfigValidate(t *testing.T) {
	base := `"catalog_type":"rest","uri":"http://127.0.0.1:8181","tables":["ns.t"]`
	tests := []struct {
		name, json, field string
	}{
		{"minimal rest", `{` + base + `}`, ""},
		{"sql sqlite path", `{"catalog_type":"sql","uri":"/tmp/c.db","tables":["a.b.c"],"store_class":"fs"}`, ""},
		{"dynamic without tables", `{"catalog_type":"sql","uri":"/tmp/c.db","dynamic_routing":true,"dynamic_route_field":"t"}`, ""},
		{"missing catalog_type", `{"uri":"http://x:1","tables":["a.b"]}`, "catalog_type"},
		{"bad catalog_type", `{"catalog_type":"glue","uri":"http://x:1","tables":["a.b"]}`, "catalog_type"},
		{"rest uri not http", `{"catalog_type":"rest","uri":"localhost:8181","tables":["a.b"]}`, "uri"},
		{"no tables", `{"catalog_type":"rest","uri":"http://x:1"}`, "tables"},
		{"table without namespace", `{"catalog_type":"rest","uri":"http://x:1","tables":["a.b","t"]}`, "tables[1]"},
		{"empty segment", `{"catalog_type":"rest","uri":"http://x:1","tables":["a..b"]}`, "tables[0]"},
		{"dynamic without field", `{"catalog_type":"rest","uri":"http://x:1","dynamic_routing":true}`, "dynamic_route_field"},
		{"gcs refused", `{` + base + `,"store_class":"gcs"}`, "store_class"},
		{"unknown store", `{` + base + `,"store_class":"ftp"}`, "store_class"},
		{"key without secret", `{` + base + `,"store_access_key_id":"k"}`, "store_access_key_id"},
		{"bad store_url", `{` + base + `,"store_url":"minio:9000"}`, "store_url"},
		{"bad unknown_fields", `{` + base + `,"unknown_fields":"drop"}`, "unknown_fields"},
		{"bad commit_interval", `{` + base + `,"commit_interval":"soon"}`, "commit_interval"},
		{"empty writer_id", `{` + base + `,"writer_id":" "}`, "writer_id"},
		{"unknown key", `{` + base + `,"tabels":["a.b"]}`, "tabels"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sdk.DecodeConfig[Config]([]byte(tc.json))
			if tc.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var fe *sdk.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("error %v, want one naming %q", err, tc.field)
			}
		})
	}
}

func TestSecretsRedacted(t *testing.T) {
	cfg, err := sdk.DecodeConfig[Config]([]byte(`{"catalog_type":"sql","uri":"postgres://u:pw@h/db","tables":["a.b"],
		"store_access_key_id":"AKIAXXX","store_secret_access_key":"topsecret"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{cfg.URI.String(), cfg.StoreAccessKeyID.String(), cfg.StoreSecretAccessKey.String()} {
		if strings.Contains(s, "pw") || strings.Contains(s, "AKIA") || strings.Contains(s, "topsecret") {
			t.Fatalf("secret rendered: %s", s)
		}
	}
	if p := cfg.storeProps(); p["s3.secret-access-key"] != "topsecret" || p["s3.access-key-id"] != "AKIAXXX" {
		t.Fatalf("store props %v", p)
	}
}

func TestSQLTarget(t *testing.T) {
	tests := []struct{ uri, driver, dsnPrefix string }{
		{"postgres://u@h:5432/db", "pgx", "postgres://u@h:5432/db"},
		{"postgresql://u@h/db", "pgx", "postgresql://u@h/db"},
		{"/var/lib/cat.db", "sqlite3", "file:/var/lib/cat.db?"},
		{"sqlite:///var/lib/cat.db", "sqlite3", "file:/var/lib/cat.db?"},
		{"sqlite:cat.db", "sqlite3", "file:cat.db?"},
		{"file:cat.db?mode=rwc", "sqlite3", "file:cat.db?mode=rwc&"},
	}
	for _, tc := range tests {
		d, dsn, _ := sqlTarget(tc.uri)
		if d != tc.driver || !strings.HasPrefix(dsn, tc.dsnPrefix) {
			t.Errorf("%s: driver %s dsn %s, want %s %s...", tc.uri, d, dsn, tc.driver, tc.dsnPrefix)
		}
	}
}
