package random

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"regexp"
	"testing"
	"time"

	"github.com/iggy-go/connectors/abi"
	"github.com/iggy-go/connectors/sdk"
	"github.com/iggy-go/connectors/sdk/sdktest"
)

func newSource(t testing.TB, cfgJSON string, state []byte) *Source {
	t.Helper()
	src, err := Plugin.BuildSource([]byte(cfgJSON), state, sdk.Env{Instance: 1, Logger: sdk.NewLogBuffer(10, "random").Logger(1)})
	if err != nil {
		t.Fatal(err)
	}
	return src.(*Source)
}

func TestConfigValidation(t *testing.T) {
	cases := []struct{ json, field string }{
		{`{"messages_range":[5,2]}`, "messages_range"},
		{`{"messages_range":[5]}`, "messages_range"},
		{`{"payload_size":-1}`, "payload_size"},
		{`{"interval":"soon"}`, "interval"},
		{`{"generator":"fast"}`, "generator"},
		{`{"max_count":"ten"}`, "max_count"},
	}
	for _, c := range cases {
		err := Plugin.ValidateConfig([]byte(c.json))
		fe, ok := err.(*sdk.FieldError)
		if !ok || fe.Field != c.field {
			t.Errorf("%s: err = %v, want a FieldError for %q", c.json, err, c.field)
		}
	}
	if err := Plugin.ValidateConfig([]byte(`{}`)); err != nil {
		t.Fatal(err)
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
var alnumRe = regexp.MustCompile(`^[A-Za-z0-9]*$`)

func TestPollRecordsAndInterval(t *testing.T) {
	s := newSource(t, `{"interval":"1s","messages_range":[3,3],"payload_size":12}`, nil)
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	b, err := s.Poll(context.Background())
	if err != nil || len(b.Messages) != 3 {
		t.Fatalf("first poll: %d messages, %v", len(b.Messages), err)
	}
	for _, m := range b.Messages {
		var r struct{ ID, Title, Name, Text string }
		if err := json.Unmarshal(m.Payload, &r); err != nil {
			t.Fatal(err)
		}
		if !uuidV4.MatchString(r.ID) || r.Title != "Hello" || r.Name != "World" || len(r.Text) != 12 || !alnumRe.MatchString(r.Text) {
			t.Fatalf("bad record %s", m.Payload)
		}
	}
	var st State
	if err := sdk.DecodeState(b.State, &st); err != nil || st.MessagesProduced != 3 {
		t.Fatalf("state %x = %+v, %v", b.State, st, err)
	}
	now = now.Add(400 * time.Millisecond)
	b2, _ := s.Poll(context.Background())
	if len(b2.Messages) != 0 || b2.WaitHint != 600*time.Millisecond || b2.State != nil {
		t.Fatalf("early poll = %+v", b2)
	}
	if s.Committed() != 0 {
		t.Fatal("committed before OnCommit")
	}
	if err := b.OnCommit(context.Background()); err != nil || s.Committed() != 3 {
		t.Fatalf("commit: %v, committed %d", err, s.Committed())
	}
}

func TestMaxCountAcrossRestarts(t *testing.T) {
	state, _ := sdk.EncodeState(State{MessagesProduced: 8})
	s := newSource(t, `{"interval":"0","max_count":10,"messages_range":[4,4]}`, state)
	b, _ := s.Poll(context.Background())
	if len(b.Messages) != 2 {
		t.Fatalf("got %d messages, want the 2 left of max_count", len(b.Messages))
	}
	b, _ = s.Poll(context.Background())
	if len(b.Messages) != 0 || b.State != nil {
		t.Fatalf("after max_count: %+v", b)
	}
}

func TestEqualRangeAndZeroCost(t *testing.T) {
	s := newSource(t, `{"interval":"0","messages_range":[0,0]}`, nil)
	if b, err := s.Poll(context.Background()); err != nil || len(b.Messages) != 0 {
		t.Fatalf("[0,0]: %+v %v", b, err)
	}
	z := newSource(t, `{"interval":"0","messages_range":[5,5],"payload_size":7,"generator":"zero_cost"}`, nil)
	b, _ := z.Poll(context.Background())
	want := `{"id":"00000000-0000-0000-0000-000000000000","title":"Hello","name":"World","text":"ABCDEFG"}`
	if len(b.Messages) != 5 || string(b.Messages[4].Payload) != want {
		t.Fatalf("zero_cost: %d messages, %s", len(b.Messages), b.Messages[0].Payload)
	}
}

func TestConformance(t *testing.T) {
	sdktest.CheckSource(t, Plugin, `{"interval":"0","messages_range":[2,2]}`, map[string]string{
		`{"messages_range":[3,1]}`: "messages_range", `{"payload_size":-5}`: "payload_size", `{"intervall":"1s"}`: "intervall"})
}

// TestCorruptState: state that is not the random source's MessagePack is refused as corrupt state
// (code corrupt_state, permanent), never as a config error and never read as "no state".
func TestCorruptState(t *testing.T) {
	for _, state := range [][]byte{{0xc1}, []byte("this is not msgpack at all, just text"), {0x92, 0xa1}} {
		_, err := Plugin.BuildSource([]byte(`{}`), state, sdk.Env{Instance: 1, Logger: sdk.NewLogBuffer(10, "random").Logger(1)})
		var ae *abi.Error
		if !errors.As(err, &ae) || ae.Code != abi.CodeCorruptState || sdk.IsRetryable(err, true) {
			t.Errorf("state %x: %v; want a permanent corrupt_state error", state, err)
		}
	}
}

// TestTextIsUniform: the characters of the random text are the 62 alphanumerics with equal
// frequency (chi-square over 1M characters, fixed seed), and records are whole and independent.
func TestTextIsUniform(t *testing.T) {
	s := newSource(t, `{"interval":"0","messages_range":[1000,1000],"payload_size":1000}`, nil)
	s.rng = rand.NewPCG(1, 2)
	b, err := s.Poll(context.Background())
	if err != nil || len(b.Messages) != 1000 {
		t.Fatal(len(b.Messages), err)
	}
	counts := map[byte]int{}
	ids := map[string]bool{}
	for _, m := range b.Messages {
		var r struct{ ID, Title, Name, Text string }
		if err := json.Unmarshal(m.Payload, &r); err != nil {
			t.Fatalf("%v: %s", err, m.Payload)
		}
		if !uuidV4.MatchString(r.ID) || ids[r.ID] || len(r.Text) != 1000 || !alnumRe.MatchString(r.Text) {
			t.Fatalf("bad record %s", m.Payload)
		}
		ids[r.ID] = true
		for i := range len(r.Text) {
			counts[r.Text[i]]++
		}
	}
	if len(counts) != 62 {
		t.Fatalf("%d distinct characters, want 62", len(counts))
	}
	want := 1e6 / 62.0
	chi2 := 0.0
	for _, n := range counts {
		chi2 += (float64(n) - want) * (float64(n) - want) / want
	}
	if chi2 > 125 { // 61 degrees of freedom: p < 1e-6
		t.Fatalf("chi-square %.1f: characters are not uniform: %v", chi2, counts)
	}
}
