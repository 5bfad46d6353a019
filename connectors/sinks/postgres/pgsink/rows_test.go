package pgsink

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/iggy-go/connectors/sdk"
)

func TestColumns(t *testing.T) {
	cases := []struct {
		cfg  Config
		want []string
	}{
		{Config{IncludeMetadata: true, IncludeChecksum: true, IncludeOriginTimestamp: true},
			[]string{"id", "iggy_offset", "iggy_timestamp", "iggy_stream", "iggy_topic", "iggy_partition_id", "iggy_checksum", "iggy_origin_timestamp", "payload"}},
		{Config{}, []string{"id", "payload"}},
		{Config{IncludeChecksum: true}, []string{"id", "iggy_checksum", "payload"}},
	}
	for _, c := range cases {
		if got := newColumns(&c.cfg).names; !reflect.DeepEqual(got, c.want) {
			t.Errorf("%+v: got %v want %v", c.cfg, got, c.want)
		}
	}
}

func TestConvert(t *testing.T) {
	id := sdk.ID{15: 7, 0: 1}
	msg := func(p string) *sdk.Message {
		return &sdk.Message{ID: id, Offset: 42, Checksum: math.MaxUint64, Timestamp: 1_700_000_000_123_456, OriginTimestamp: 5, Payload: []byte(p)}
	}
	all := columns{metadata: true, checksum: true, origin: true}
	for _, c := range []struct {
		name    string
		format  PayloadFormat
		msg     *sdk.Message
		payload []byte
		err     string
	}{
		{"bytea exact", FormatBytea, msg("\x00\xff\x01"), []byte("\x00\xff\x01"), ""},
		{"bytea nil is empty", FormatBytea, &sdk.Message{}, []byte{}, ""},
		{"json ok", FormatJSONB, msg(`{"a":[1,2]}`), []byte(`{"a":[1,2]}`), ""},
		{"json invalid", FormatJSONB, msg(`{"a":`), nil, "not valid JSON"},
		{"json empty", FormatJSONB, msg(``), nil, "not valid JSON"},
		{"text ok", FormatText, msg("héllo"), []byte("héllo"), ""},
		{"text bad utf8", FormatText, msg("\xff\xfe"), nil, "UTF-8"},
		{"text NUL", FormatText, msg("a\x00b"), nil, "NUL"},
		{"offset too big", FormatBytea, &sdk.Message{Offset: math.MaxUint64}, nil, "BIGINT"},
		{"timestamp too big", FormatBytea, &sdk.Message{Timestamp: math.MaxUint64}, nil, "timestamp"},
	} {
		cols := all
		cols.format = c.format
		r, err := cols.convert(3, c.msg)
		if err == nil && c.format == FormatJSONB {
			err = invalidJSON(&r) // the check the sink runs when PostgreSQL rejects a round
		}
		if c.err != "" {
			if err == nil || !errors.Is(err, ErrInvalidPayload) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: want error containing %q, got %v", c.name, c.err, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(r.payload, c.payload) || r.index != 3 {
			t.Errorf("%s: payload %#v index %d", c.name, r.payload, r.index)
		}
	}
	r, err := all.convert(0, msg("x"))
	if err != nil {
		t.Fatal(err)
	}
	if r.id != id {
		t.Errorf("id: got %x want %x", r.id, id)
	}
	if r.checksum != -1 {
		t.Errorf("checksum u64 max must keep its bits as BIGINT -1, got %d", r.checksum)
	}
	if r.ts != 1_700_000_000_123_456 || r.origin != 5 || r.iggyOff != 42 {
		t.Errorf("timestamp %v offset %d", r.ts, r.iggyOff)
	}
}
