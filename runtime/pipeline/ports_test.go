package pipeline

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestHeaderValue(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		wantLen int
		cut     bool
	}{
		{"short", "offset 3 rejected", 17, false},
		{"exactly 255", strings.Repeat("a", 255), 255, false},
		{"256 ascii", strings.Repeat("a", 256), 255, true},
		{"multibyte at the cut", strings.Repeat("a", 251) + "ééé", 254, true}, // é is 2 bytes: cut before it
		{"long multibyte", strings.Repeat("日本", 200), 255, true},
	}
	for _, c := range cases {
		got := headerValue(c.in)
		if len(got) > maxHeaderValue || !utf8.ValidString(got) {
			t.Errorf("%s: %d bytes, valid UTF-8 %v", c.name, len(got), utf8.ValidString(got))
		}
		if c.cut != strings.HasSuffix(got, "...") || (!c.cut && got != c.in) {
			t.Errorf("%s: got %q", c.name, got)
		}
		if c.name != "long multibyte" && len(got) != c.wantLen {
			t.Errorf("%s: %d bytes, want %d", c.name, len(got), c.wantLen)
		}
		if c.cut && !strings.HasPrefix(c.in, strings.TrimSuffix(got, "...")) {
			t.Errorf("%s: %q is not a prefix of the input", c.name, got)
		}
	}
}
