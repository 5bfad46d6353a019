package essource

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/iggy-go/connectors/sdk"
)

func TestSearchBodyCursor(t *testing.T) {
	cfg, err := sdk.DecodeConfig[Config]([]byte(`{"url":"http://h:9200","index":"logs-*","query":{"term":{"a":"b"}},"batch_size":7}`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TimestampField != "@timestamp" {
		t.Fatalf("default timestamp_field %q", cfg.TimestampField)
	}
	st, _ := sdk.EncodeState(State{Cursor: "1700000000000", SeenAtCursor: []string{"i1/a", "i2/b", "i1/c"}})
	s := newSource(cfg, st, nil)
	s.fieldType = "date"
	body, err := s.searchBody()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`{"term":{"a":"b"}}`,
		`"range":{"@timestamp":{"format":"epoch_millis","gte":1700000000000}}`,
		`{"term":{"_index":"i1"}},{"ids":{"values":["a","c"]}}`,
		`{"term":{"_index":"i2"}},{"ids":{"values":["b"]}}`,
		`"size":7`,
		`"sort":[{"@timestamp":{"order":"asc","unmapped_type":"date"}}]`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %s:\n%s", want, body)
		}
	}
	s.fieldType = "date_nanos"
	s.next.Cursor = "1700000000000000001"
	body, _ = s.searchBody()
	if !strings.Contains(string(body), `"gte":"2023-11-14T22:13:20.000000001Z"`) {
		t.Errorf("date_nanos cursor: %s", body)
	}
	var v map[string]any
	if json.Unmarshal(body, &v) != nil {
		t.Fatal("invalid JSON")
	}
}

func TestStateNotUnderstoodStartsOver(t *testing.T) {
	cfg, _ := sdk.DecodeConfig[Config]([]byte(`{"url":"http://h:9200","index":"x"}`))
	s := newSource(cfg, []byte{0xc1, 0x00}, nil)
	if s.next.Cursor != "" {
		t.Fatal("cursor from garbage state")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ json, field string }{
		{`{"url":"h","index":"x"}`, "url"},
		{`{"url":"http://h","index":" "}`, "index"},
		{`{"url":"http://h","index":"x","batch_size":20000}`, "batch_size"},
		{`{"url":"http://h","index":"x","query":"not json"}`, "query"},
		{`{"url":"http://h","index":"x","flavor":"x"}`, "flavor"},
	} {
		_, err := sdk.DecodeConfig[Config]([]byte(tc.json))
		fe, ok := err.(*sdk.FieldError)
		if !ok || fe.Field != tc.field {
			t.Errorf("%s: %v, want an error naming %s", tc.json, err, tc.field)
		}
	}
	if _, err := sdk.DecodeConfig[Config]([]byte(`{"url":"http://h","index":"x","scroll_timeout":"5m","state":{"enabled":true,"storage_type":"file"}}`)); err != nil {
		t.Errorf("original keys refused: %v", err)
	}
}
