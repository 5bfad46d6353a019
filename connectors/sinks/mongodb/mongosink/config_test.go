package mongosink

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/sdk"
)

func decode(t *testing.T, kv map[string]any) (*Config, error) {
	t.Helper()
	base := map[string]any{"connection_uri": "mongodb://user:s3cret@127.0.0.1:27017/?authSource=admin", "database": "iggy", "collection": "messages"}
	for k, v := range kv {
		if v == nil {
			delete(base, k)
		} else {
			base[k] = v
		}
	}
	b, _ := json.Marshal(base)
	return sdk.DecodeConfig[Config](b)
}

func TestConfigDefaults(t *testing.T) {
	c, err := decode(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.BatchSize != 100 || !c.IncludeMetadata || !c.IncludeChecksum || !c.IncludeOriginTimestamp || c.PayloadFormat != "binary" ||
		c.MaxRetries != 3 || c.RetryDelay.D() != time.Second || c.AutoCreateCollection || c.VerboseLogging || c.MaxPoolSize != nil {
		t.Fatalf("defaults: %+v", c)
	}
	c, err = decode(t, map[string]any{"max_pool_size": 0, "payload_format": "TEXT", "retry_delay": "250ms"})
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxPoolSize == nil || *c.MaxPoolSize != 0 || newLayout(c).format != FormatString || c.RetryDelay.D() != 250*time.Millisecond {
		t.Fatalf("set values: %+v", c)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		kv    map[string]any
		field string
		want  string
	}{
		{map[string]any{"collection": nil}, "collection", "required"},
		{map[string]any{"database": nil}, "database", "required"},
		{map[string]any{"connection_uri": nil}, "connection_uri", "required"},
		{map[string]any{"collection": ""}, "collection", "empty"},
		{map[string]any{"collection": "a$b"}, "collection", "$"},
		{map[string]any{"collection": "system.users"}, "collection", "reserved"},
		{map[string]any{"database": "a.b"}, "database", "does not allow"},
		{map[string]any{"database": strings.Repeat("d", 64)}, "database", "64"},
		{map[string]any{"payload_format": "xml"}, "payload_format", "unknown payload_format"},
		{map[string]any{"batch_size": 0}, "batch_size", "at least 1"},
		{map[string]any{"max_retries": -1}, "max_retries", "negative"},
		{map[string]any{"max_pool_size": -1}, "max_pool_size", ""},
		{map[string]any{"connection_uri": "http://h"}, "connection_uri", "mongodb://"},
		{map[string]any{"connection_uri": "mongodb://u:s3cret@h/?w=0"}, "connection_uri", "unacknowledged"},
		{map[string]any{"connection_uri": "mongodb://u:s3cret@h/?W=0&x=%zz"}, "connection_uri", "parse"},
		{map[string]any{"colection": "x"}, "colection", "did you mean \"collection\""},
	}
	for _, c := range cases {
		_, err := decode(t, c.kv)
		var fe *sdk.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want a field error on %s containing %q", c.kv, err, c.field, c.want)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%v: the error reveals the password: %v", c.kv, err)
		}
	}
	for _, ok := range []string{"mongodb://h1:1,h2:2/db?replicaSet=rs&w=majority", "mongodb+srv://u:p@cluster.example.com/?w=1"} {
		if _, err := decode(t, map[string]any{"connection_uri": ok}); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

func TestRedact(t *testing.T) {
	uri := "mongodb://alice:pa55word@db.example:27017/?authSource=admin"
	got := redact("connection to "+uri+" failed; auth pa55word rejected", uri)
	if strings.Contains(got, "pa55word") || strings.Contains(got, uri) {
		t.Fatalf("redact left the secret: %s", got)
	}
	if got := redact("plain", "mongodb://h"); got != "plain" {
		t.Fatal(got)
	}
}
