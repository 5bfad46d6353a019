//go:build integration

package essink

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/connectors/internal/esconn/estest"
	"github.com/iggy-go/connectors/sdk"
)

func openSink(t *testing.T, srv estest.Server, cfgJSON string) *Sink {
	t.Helper()
	cfg, err := sdk.DecodeConfig[Config]([]byte(cfgJSON))
	if err != nil {
		t.Fatalf("config %s: %v", cfgJSON, err)
	}
	s := newSink(cfg, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatalf("open against %s: %v", srv, err)
	}
	if s.client.Flavor != srv.Flavor {
		t.Fatalf("flavor detected %q, server is %s", s.client.Flavor, srv.Flavor)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func consume(t *testing.T, s *Sink, b *sdk.SinkBatch) sdk.Result {
	t.Helper()
	res, err := s.Consume(context.Background(), b)
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	return res
}

const ts0 = uint64(1_765_000_000_123_456) // µs

func msg(off uint64, payload string) abi.Message {
	return abi.Message{Offset: off, Timestamp: ts0 + off*1000, ID: abi.IDFromUint64s(0, off+1), Payload: []byte(payload)}
}

// TestSinkPayloadsAndMetadata indexes JSON (nested), raw (JSON and binary) and text payloads and
// reads them back with plain HTTP: fields, nesting, _iggy_* metadata, ids from the identity.
func TestSinkPayloadsAndMetadata(t *testing.T) {
	for _, srv := range estest.Servers(t) {
		t.Run(srv.Flavor, func(t *testing.T) {
			idx := estest.Name("sink-payloads")
			srv.Cleanup(t, idx)
			s := openSink(t, srv, fmt.Sprintf(`{"url":%q,"index":%q,"batch_size":2}`, srv.URL, idx))
			jsonBatch := &sdk.SinkBatch{Stream: "st", Topic: "tp", PartitionID: 3, Schema: abi.SchemaJSON, Messages: []abi.Message{
				msg(0, `{"user":{"name":"ann","tags":["a","b"],"geo":{"lat":1.5}},"n":1}`),
				msg(1, "{\n  \"pretty\": true,\n  \"n\": 2\n}"),
				msg(2, `["p","q"]`),
			}}
			jsonBatch.Messages[0].Headers = []abi.Header{abi.StringHeader("origin", "test")}
			if res := consume(t, s, jsonBatch); len(res.Failures) > 0 {
				t.Fatalf("json failures: %v", res.Failures[0].Err)
			}
			rawBatch := &sdk.SinkBatch{Stream: "st", Topic: "tp", PartitionID: 3, Schema: abi.SchemaRaw, Messages: []abi.Message{
				msg(3, `{"raw_json":true}`), msg(4, "\x00\x01\xffbinary"),
			}}
			textBatch := &sdk.SinkBatch{Stream: "st", Topic: "tp", PartitionID: 3, Schema: abi.SchemaText, Messages: []abi.Message{
				msg(5, "hello ✓ \"quoted\"\nline two"),
			}}
			for _, b := range []*sdk.SinkBatch{rawBatch, textBatch} {
				if res := consume(t, s, b); len(res.Failures) > 0 {
					t.Fatalf("%s failures: %v", b.Schema, res.Failures[0].Err)
				}
			}
			docs := srv.All(t, idx, "")
			if len(docs) != 6 {
				t.Fatalf("got %d documents, want 6: %+v", len(docs), docs)
			}
			for i, d := range docs {
				if want := fmt.Sprintf("st-tp-3-%d", i); d.ID != want {
					t.Errorf("doc %d: _id %q, want %q", i, d.ID, want)
				}
				if d.Source["_iggy_offset"] != float64(i) || d.Source["_iggy_stream"] != "st" || d.Source["_iggy_topic"] != "tp" ||
					d.Source["_iggy_partition"] != float64(3) || d.Source["_iggy_timestamp"] != float64((ts0+uint64(i)*1000)/1000) {
					t.Errorf("doc %d: metadata %v", i, d.Source)
				}
			}
			user, _ := docs[0].Source["user"].(map[string]any)
			geo, _ := user["geo"].(map[string]any)
			if user["name"] != "ann" || fmt.Sprint(user["tags"]) != "[a b]" || geo["lat"] != 1.5 {
				t.Errorf("nested JSON not kept: %v", docs[0].Source)
			}
			if h, _ := docs[0].Source["_iggy_headers"].(map[string]any); h["origin"] != "test" {
				t.Errorf("headers: %v", docs[0].Source["_iggy_headers"])
			}
			if docs[1].Source["pretty"] != true || fmt.Sprint(docs[2].Source["data"]) != "[p q]" {
				t.Errorf("pretty/array: %v / %v", docs[1].Source, docs[2].Source)
			}
			if docs[3].Source["raw_json"] != true || docs[4].Source["data"] != "AAH/YmluYXJ5" || docs[4].Source["data_type"] != "raw" {
				t.Errorf("raw: %v / %v", docs[3].Source, docs[4].Source)
			}
			if docs[5].Source["text"] != "hello ✓ \"quoted\"\nline two" || docs[5].Source["data_type"] != "text" {
				t.Errorf("text: %v", docs[5].Source)
			}
			// searchable by a nested field
			var out struct {
				Hits struct {
					Hits []estest.Doc `json:"hits"`
				} `json:"hits"`
			}
			srv.Must(t, "POST", "/"+idx+"/_search", `{"query":{"term":{"user.name.keyword":"ann"}}}`, &out)
			if len(out.Hits.Hits) != 1 || out.Hits.Hits[0].ID != "st-tp-3-0" {
				t.Errorf("term query on user.name: %+v", out.Hits.Hits)
			}
		})
	}
}

// TestSinkReplayOverwrites offers the same batch twice (what the runtime does after a crash): the
// documents are overwritten, not duplicated. With document_id = none they are duplicated, as in
// the original.
func TestSinkReplayOverwrites(t *testing.T) {
	for _, srv := range estest.Servers(t) {
		t.Run(srv.Flavor, func(t *testing.T) {
			for _, mode := range []struct {
				id   string
				want int
			}{{"identity", 250}, {"message_id", 250}, {"none", 500}} {
				idx := estest.Name("sink-replay-" + strings.ReplaceAll(mode.id, "_", ""))
				srv.Cleanup(t, idx)
				s := openSink(t, srv, fmt.Sprintf(`{"url":%q,"index":%q,"batch_size":100,"document_id":%q,"max_concurrent_requests":2}`, srv.URL, idx, mode.id))
				b := &sdk.SinkBatch{Stream: "s", Topic: "t", PartitionID: 1, Schema: abi.SchemaJSON}
				for i := 0; i < 250; i++ {
					b.Messages = append(b.Messages, msg(uint64(i), fmt.Sprintf(`{"i":%d}`, i)))
				}
				for r := 0; r < 2; r++ {
					if res := consume(t, s, b); len(res.Failures) > 0 {
						t.Fatalf("%s: failures %v", mode.id, res.Failures[0].Err)
					}
				}
				if n := srv.Count(t, idx); n != mode.want {
					t.Errorf("document_id=%s: %d documents after a replay of 250, want %d", mode.id, n, mode.want)
				}
			}
		})
	}
}

// TestSinkStrictMappingFailsOneMessage: a strict mapping rejects one message of a batch (unknown
// field and wrong type); only those messages are reported, permanently, and the rest is written.
func TestSinkStrictMappingFailsOneMessage(t *testing.T) {
	mapping := `{"mappings":{"dynamic":"strict","properties":{"n":{"type":"integer"},"_iggy_offset":{"type":"long"},` +
		`"_iggy_stream":{"type":"keyword"},"_iggy_topic":{"type":"keyword"},"_iggy_partition":{"type":"integer"},"_iggy_timestamp":{"type":"date","format":"epoch_millis"}}}}`
	for _, srv := range estest.Servers(t) {
		t.Run(srv.Flavor, func(t *testing.T) {
			idx := estest.Name("sink-strict")
			srv.Cleanup(t, idx)
			s := openSink(t, srv, fmt.Sprintf(`{"url":%q,"index":%q,"index_mapping":%q}`, srv.URL, idx, mapping))
			b := &sdk.SinkBatch{Stream: "s", Topic: "t", Schema: abi.SchemaJSON}
			for i := 0; i < 20; i++ {
				p := fmt.Sprintf(`{"n":%d}`, i)
				switch i {
				case 7:
					p = `{"n":7,"unknown":"x"}`
				case 13:
					p = `{"n":"not a number"}`
				case 15:
					p = `{"n":15,"broken":`
				}
				b.Messages = append(b.Messages, msg(uint64(i), p))
			}
			res := consume(t, s, b)
			got := map[int]bool{}
			for _, f := range res.Failures {
				got[f.Index] = true
				if sdk.IsRetryable(f.Err, false) {
					t.Errorf("message %d: failure marked retryable: %v", f.Index, f.Err)
				}
				t.Logf("message %d: %v", f.Index, f.Err)
			}
			if len(got) != 3 || !got[7] || !got[13] || !got[15] {
				t.Fatalf("failures %v, want exactly 7, 13 and 15", got)
			}
			if n := srv.Count(t, idx); n != 17 {
				t.Errorf("%d documents, want 17", n)
			}
		})
	}
}

// TestSinkIndexTemplate routes by topic and message date, creating each index with the mapping.
func TestSinkIndexTemplate(t *testing.T) {
	for _, srv := range estest.Servers(t) {
		t.Run(srv.Flavor, func(t *testing.T) {
			prefix := estest.Name("sink-tpl")
			s := openSink(t, srv, fmt.Sprintf(`{"url":%q,"index":%q,"index_mapping":{"settings":{"number_of_replicas":0}}}`, srv.URL, prefix+"-{topic}-{yyyy.MM.dd}"))
			day := uint64(time.Date(2026, 3, 4, 23, 0, 0, 0, time.UTC).UnixMicro())
			b := &sdk.SinkBatch{Stream: "s", Topic: "Orders", Schema: abi.SchemaJSON, Messages: []abi.Message{
				{Offset: 0, Timestamp: day, Payload: []byte(`{"a":1}`)},
				{Offset: 1, Timestamp: day + uint64(2*time.Hour/time.Microsecond), Payload: []byte(`{"a":2}`)},
			}}
			if res := consume(t, s, b); len(res.Failures) > 0 {
				t.Fatal(res.Failures[0].Err)
			}
			for _, idx := range []string{prefix + "-orders-2026.03.04", prefix + "-orders-2026.03.05"} {
				srv.Cleanup(t, idx)
				if n := srv.Count(t, idx); n != 1 {
					t.Errorf("%s: %d documents, want 1", idx, n)
				}
				var settings map[string]struct {
					Settings struct {
						Index struct {
							Replicas string `json:"number_of_replicas"`
						} `json:"index"`
					} `json:"settings"`
				}
				srv.Must(t, "GET", "/"+idx+"/_settings", nil, &settings)
				if settings[idx].Settings.Index.Replicas != "0" {
					t.Errorf("%s: created without index_mapping: %+v", idx, settings)
				}
			}
		})
	}
}

// TestSinkFlavorMismatch: forcing flavor = elasticsearch against OpenSearch fails with the product
// check's error, permanently and naming the fix.
func TestSinkFlavorMismatch(t *testing.T) {
	for _, srv := range estest.Servers(t) {
		if srv.Flavor != "opensearch" {
			continue
		}
		cfg, err := sdk.DecodeConfig[Config]([]byte(fmt.Sprintf(`{"url":%q,"index":"x-mismatch","flavor":"elasticsearch"}`, srv.URL)))
		if err != nil {
			t.Fatal(err)
		}
		err = newSink(cfg, nil).Open(context.Background())
		if err == nil || sdk.IsRetryable(err, true) || !strings.Contains(err.Error(), "opensearch") {
			t.Fatalf("open with the wrong flavor: %v (retryable %v)", err, sdk.IsRetryable(err, true))
		}
		t.Log(err)
	}
}

var _ = json.Valid
