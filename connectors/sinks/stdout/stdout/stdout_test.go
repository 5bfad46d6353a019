package stdout

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/sdk"
	"github.com/iggy-go/connectors/sdk/sdktest"
)

func TestConfig(t *testing.T) {
	cases := []struct {
		json      string
		want      bool
		wantField string
	}{
		{`{}`, false, ""},
		{`{"print_payload": true}`, true, ""},
		{`{"print_payload": "yes"}`, false, "print_payload"},
		{`{"print_paylod": true}`, false, "print_paylod"},
	}
	for _, c := range cases {
		cfg, err := sdk.DecodeConfig[Config]([]byte(c.json))
		if c.wantField != "" {
			fe, ok := err.(*sdk.FieldError)
			if !ok || fe.Field != c.wantField {
				t.Errorf("%s: err = %v, want a FieldError for %q", c.json, err, c.wantField)
			}
			continue
		}
		if err != nil || cfg.PrintPayload != c.want {
			t.Errorf("%s: got %+v, %v", c.json, cfg, err)
		}
	}
}

func TestConsumePrintsPayloads(t *testing.T) {
	logs := sdk.NewLogBuffer(100, "stdout")
	var out bytes.Buffer
	s := New(&Config{PrintPayload: true}, sdk.Env{Instance: 3, Logger: logs.Logger(3)}, &out)
	b := &sdk.SinkBatch{Stream: "s", Topic: "t", PartitionID: 2, CurrentOffset: 9, Schema: abi.SchemaJSON,
		Messages: []sdk.Message{{Offset: 7, Payload: []byte(`{"a":1}`)}, {Offset: 8, Payload: []byte(`{"b":2}`)}}}
	res, err := s.Consume(context.Background(), b)
	if err != nil || len(res.Failures) != 0 {
		t.Fatalf("Consume = %+v, %v", res, err)
	}
	want := "s/t offset=7 {\"a\":1}\ns/t offset=8 {\"b\":2}\n"
	if out.String() != want {
		t.Fatalf("stdout = %q, want %q", out.String(), want)
	}
	recs := logs.Drain()
	// At info only the batch is logged: the records themselves are printed, not logged twice.
	if len(recs) != 1 || recs[0].Message != "received messages" || recs[0].Instance != 3 {
		t.Fatalf("logs = %+v", recs)
	}
	attrs := map[string]string{}
	for _, a := range recs[0].Attrs {
		attrs[a.Key] = a.Value
	}
	if attrs["count"] != "2" || attrs["partition"] != "2" || attrs["current_offset"] != "9" || attrs["schema"] != "json" || attrs["invocation"] != "1" {
		t.Fatalf("batch log attrs = %v", attrs)
	}

	// At debug each message is logged too.
	logs.SetLevel(slog.LevelDebug)
	if _, err := s.Consume(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	recs = logs.Drain()
	if len(recs) != 3 || recs[1].Message != "message" || recs[1].Level != abi.LogDebug {
		t.Fatalf("debug logs = %+v", recs)
	}
}

func TestFormatPayload(t *testing.T) {
	if got := FormatPayload(abi.SchemaRaw, []byte{0, 255}); got != "0x00ff" {
		t.Fatal(got)
	}
	if got := FormatPayload(abi.SchemaText, []byte("hi")); got != "hi" {
		t.Fatal(got)
	}
}

func TestConformance(t *testing.T) {
	sdktest.CheckSink(t, Plugin, `{"print_payload": false}`, map[string]string{
		`{"print_payload": 1}`: "print_payload", `{"verbose": true}`: "verbose"})
}
