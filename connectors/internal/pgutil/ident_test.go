package pgutil

import (
	"reflect"
	"testing"
)

func TestParseQualifiedName(t *testing.T) {
	ok := []struct {
		in     string
		parts  []string
		quoted string
	}{
		{"messages", []string{"messages"}, `"messages"`},
		{"app.messages", []string{"app", "messages"}, `"app"."messages"`},
		{"App.Msgs", []string{"App", "Msgs"}, `"App"."Msgs"`},
		{`"my.schema"."t"`, []string{"my.schema", "t"}, `"my.schema"."t"`},
		{`"we""ird"`, []string{`we"ird`}, `"we""ird"`},
		{`s."x y"`, []string{"s", "x y"}, `"s"."x y"`},
	}
	for _, c := range ok {
		got, err := ParseQualifiedName(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.parts) || QuoteQualified(got) != c.quoted {
			t.Errorf("%q: got %q / %s, want %q / %s", c.in, got, QuoteQualified(got), c.parts, c.quoted)
		}
	}
	for _, bad := range []string{"", " ", ".t", "s.", "a.b.c", `"open`, `"a"b`, `""`, "a\x00b", `ta"ble`} {
		if got, err := ParseQualifiedName(bad); err == nil {
			t.Errorf("%q: want an error, got %q", bad, got)
		}
	}
}

func TestQuoteLiteral(t *testing.T) {
	if got := QuoteLiteral(`it's \ fine`); got != `'it''s \ fine'` {
		t.Fatal(got)
	}
}
