//go:build integration

package plugintest

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/connectors/internal/pgutil/pgtest"
	"github.com/iggy-go/connectors/runtime/plugin"
	"github.com/iggy-go/connectors/test/pluginbuild"
)

func TestSinkThroughPluginBoundary(t *testing.T) {
	url := pgtest.URL(t)
	so := pluginbuild.GoPlugin(t, "connectors/sinks/postgres", "iggy_connector_postgres_sink")
	ctx := context.Background()
	for _, tr := range []plugin.Transport{plugin.TransportInProcess, plugin.TransportProcess} {
		t.Run(string(tr), func(t *testing.T) {
			lib, err := plugin.Open(so, plugin.Options{Transport: tr, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			info := lib.Info()
			if info.Kind != abi.KindSink || info.Name != "postgres" {
				t.Fatalf("info %+v", info)
			}
			secret := false
			for _, f := range info.ConfigFields {
				if f.Name == "connection_string" && f.Secret && f.Required {
					secret = true
				}
			}
			if !secret {
				t.Fatal("connection_string must be declared required and secret")
			}
			err = lib.ValidateConfig([]byte(`{"connection_string":"postgres://h/db","target_table":"t","payload_format":"xml"}`))
			var ce *plugin.CallError
			if !errors.As(err, &ce) || ce.Field() != "payload_format" {
				t.Fatalf("validation error must name payload_format, got %v", err)
			}

			db := pgtest.NewDB(t, "plugin_sink_")
			cfg, _ := json.Marshal(map[string]any{"connection_string": url, "target_table": db.Table("messages"),
				"auto_create_table": true, "payload_format": "jsonb"})
			sink, err := lib.OpenSink(ctx, "pg", cfg)
			if err != nil {
				t.Fatal(err)
			}
			batch := &abi.SinkBatch{Stream: "s", Topic: "t", PartitionID: 1, Schema: abi.SchemaJSON}
			for i, p := range []string{`{"a":1}`, `not json`, `{"a":3}`} {
				batch.Messages = append(batch.Messages, abi.Message{ID: abi.IDFromUint64s(0, uint64(i+1)), Offset: uint64(i),
					Timestamp: 1_700_000_000_000_000, Payload: []byte(p)})
			}
			for round := 0; round < 2; round++ { // the second round is a replay
				res, err := sink.Consume(ctx, batch)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Failures) != 1 || res.Failures[0].Index != 1 || !strings.Contains(res.Failures[0].Error.Message, "not valid JSON") {
					t.Fatalf("round %d failures: %+v", round, res.Failures)
				}
			}
			var n int
			var sum int
			if err := db.Pool.QueryRow(ctx, "SELECT count(*), sum((payload->>'a')::int) FROM "+db.Q("messages")).Scan(&n, &sum); err != nil {
				t.Fatal(err)
			}
			if n != 2 || sum != 4 {
				t.Fatalf("rows %d sum %d, want 2 rows (replay inserted nothing) summing to 4", n, sum)
			}
			if err := sink.Close(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
