package esconn

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/iggy-go/connectors/sdk"
)

func TestObjectValue(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      bool
	}{
		{``, ``, false},
		{`null`, ``, false},
		{`""`, ``, false},
		{`{"a":{"b":1}}`, `{"a":{"b":1}}`, false},
		{`"{\"a\": 1}"`, `{"a":1}`, false},
		{`"[1]"`, ``, true},
		{`[1]`, ``, true},
		{`"{"`, ``, true},
	} {
		got, err := ObjectValue(json.RawMessage(tc.in))
		if (err != nil) != tc.err || string(got) != tc.want {
			t.Errorf("ObjectValue(%s) = %s, %v", tc.in, got, err)
		}
	}
}

func TestURLsAndErrors(t *testing.T) {
	if a := Addresses(" http://a:9200/ ,https://b:9200,,"); len(a) != 2 || a[0] != "http://a:9200" || a[1] != "https://b:9200" {
		t.Errorf("Addresses: %q", a)
	}
	for _, bad := range []string{"", " , ", "a:9200", "http://a,b"} {
		if ValidateURL(bad) == nil {
			t.Errorf("ValidateURL(%q) accepted", bad)
		}
	}
	if ValidateFlavor("OpenSearch") != nil || ValidateFlavor("solr") == nil {
		t.Error("ValidateFlavor")
	}
	body := []byte(`{"error":{"type":"mapper_parsing_exception","reason":"failed","caused_by":{"type":"x","reason":"y"}},"status":400}`)
	if got := Reason(body); got != "mapper_parsing_exception: failed (caused by x: y)" {
		t.Errorf("Reason: %s", got)
	}
	for status, retry := range map[int]bool{400: false, 404: false, 409: false, 429: true, 500: true, 503: true} {
		if sdk.IsRetryable(StatusError("x", status, body), !retry) != retry {
			t.Errorf("status %d: retryable should be %v", status, retry)
		}
	}
	if sdk.IsRetryable(Transport(errors.New("the client noticed that the server is not Elasticsearch")), true) {
		t.Error("product check refusal is retryable")
	}
	if !sdk.IsRetryable(Transport(errors.New("connection refused")), false) {
		t.Error("connection refused is permanent")
	}
}

func TestCAFileErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	notPEM := dir + "/ca.pem"
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{dir + "/missing.pem", notPEM} {
		_, err := New(context.Background(), Options{URL: "https://127.0.0.1:1", CAFile: f, Flavor: "elasticsearch"}, slog.New(slog.DiscardHandler))
		var fe *sdk.FieldError
		if !errors.As(err, &fe) || fe.Field != "ca_file" {
			t.Errorf("ca_file %s: %v, want an error naming ca_file", f, err)
		}
	}
}

// TestUnreachableIsRetryable: a node that does not listen is a transient failure, with flavor auto
// (the probe) and with a fixed flavor (the first request).
func TestUnreachableIsRetryable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, flavor := range []string{"auto", "opensearch"} {
		_, err := New(context.Background(), Options{URL: "http://" + addr, Flavor: flavor, Timeout: 2 * time.Second}, slog.New(slog.DiscardHandler))
		if err == nil || !sdk.IsRetryable(err, false) {
			t.Errorf("flavor %s: %v, want a retryable error", flavor, err)
		}
	}
}
