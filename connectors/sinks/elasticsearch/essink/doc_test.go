package essink

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/sdk"
)

func TestAppendDocument(t *testing.T) {
	mt := meta{stream: "s", topic: "t", partition: 2}
	m := func(p string) *abi.Message {
		return &abi.Message{Offset: 7, Timestamp: 1_700_000_000_123_456, Payload: []byte(p)}
	}
	const md = `"_iggy_offset":7,"_iggy_stream":"s","_iggy_topic":"t","_iggy_partition":2,"_iggy_timestamp":1700000000123`
	for _, tc := range []struct {
		name   string
		schema abi.Schema
		in     string
		want   string
		err    bool
	}{
		{"object", abi.SchemaJSON, `{"a":1}`, `{"a":1,` + md + `}`, false},
		{"empty object", abi.SchemaJSON, ` {} `, `{` + md + `}`, false},
		{"multi-line", abi.SchemaJSON, "{\n \"a\": [1,\n 2]\n}", `{"a":[1,2],` + md + `}`, false},
		{"array", abi.SchemaJSON, `[1,2]`, `{"data":[1,2],` + md + `}`, false},
		{"own _iggy_ field", abi.SchemaJSON, `{"_iggy_offset":99,"x":true}`, "", false},
		{"invalid json", abi.SchemaJSON, `{"a":`, "", true},
		{"raw json", abi.SchemaRaw, `{"r":1}`, `{"r":1,` + md + `}`, false},
		{"raw binary", abi.SchemaRaw, "\x00\xff", `{"data":"AP8=","data_type":"raw",` + md + `}`, false},
		{"text", abi.SchemaText, "a\"b\nc", `{"text":"a\"b\nc","data_type":"text",` + md + `}`, false},
		{"bad utf8 text", abi.SchemaText, "\xff", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := appendDocument(nil, tc.schema, mt, m(tc.in))
			if (err != nil) != tc.err {
				t.Fatalf("err = %v", err)
			}
			if tc.err {
				return
			}
			var v map[string]any
			if err := json.Unmarshal(got, &v); err != nil || strings.ContainsAny(string(got), "\n\r") {
				t.Fatalf("not one JSON object line: %s (%v)", got, err)
			}
			if tc.want != "" && string(got) != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			if v["_iggy_offset"] != float64(7) {
				t.Fatalf("metadata missing or not winning: %s", got)
			}
		})
	}
}

func TestIndexTemplateAndIDs(t *testing.T) {
	ts := uint64(time.Date(2026, 12, 7, 23, 5, 0, 0, time.UTC).UnixMicro())
	for _, tc := range []struct{ tpl, want string }{
		{"Logs", "logs"},
		{"logs-{yyyy.MM.dd}", "logs-2026.12.07"},
		{"{stream}-{topic}-{partition}-{yy-MM-dd_HH}", "st-tp-3-26-12-07_23"},
	} {
		tp, err := parseIndexTemplate(tc.tpl)
		if err != nil {
			t.Fatal(err)
		}
		if got := tp.name("St", "tp", 3, ts); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.tpl, got, tc.want)
		}
	}
	for _, bad := range []string{"", "a{", "x-{foo}", "a b"} {
		if _, err := parseIndexTemplate(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	m := &abi.Message{Offset: 5, ID: abi.IDFromUint64s(1, 2)}
	mt := meta{stream: "s", topic: "t", partition: 1}
	if got := documentID(idIdentity, mt, m); got != "s-t-1-5" {
		t.Error(got)
	}
	if got := documentID(idMessageID, mt, m); got != "18446744073709551618" {
		t.Error(got)
	}
	if got := documentID(idMessageID, mt, &abi.Message{Offset: 5}); got != "s-t-1-5" {
		t.Error(got)
	}
	if got := documentID(idIdentity, meta{stream: strings.Repeat("x", 600)}, m); len(got) != 64 {
		t.Error(got)
	}
	if string(appendAction(nil, "i\"x", "")) != `{"index":{"_index":"i\"x"}}`+"\n" {
		t.Error(string(appendAction(nil, "i\"x", "")))
	}
}

func TestConfigValidate(t *testing.T) {
	ok := `"url":"http://localhost:9200","index":"x"`
	for _, tc := range []struct{ json, field string }{
		{`{` + ok + `}`, ""},
		{`{` + ok + `,"index_mapping":"{\"mappings\":{}}"}`, ""},
		{`{` + ok + `,"index_mapping":{"mappings":{}}}`, ""},
		{`{"url":"localhost:9200","index":"x"}`, "url"},
		{`{` + ok + `,"batch_size":0}`, "batch_size"},
		{`{` + ok + `,"flavor":"solr"}`, "flavor"},
		{`{` + ok + `,"document_id":"uuid"}`, "document_id"},
		{`{` + ok + `,"refresh":"yes"}`, "refresh"},
		{`{` + ok + `,"index_mapping":"[1]"}`, "index_mapping"},
		{`{` + ok + `,"timeout_seconds":0}`, "timeout_seconds"},
		{`{` + ok + `,"index":"a{b}"}`, "index"},
	} {
		_, err := sdk.DecodeConfig[Config]([]byte(tc.json))
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.json, err)
			}
			continue
		}
		fe, isField := err.(*sdk.FieldError)
		if !isField || fe.Field != tc.field {
			t.Errorf("%s: error %v, want one naming %s", tc.json, err, tc.field)
		}
	}
}
