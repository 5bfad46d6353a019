package wire

import (
	"bytes"
	"encoding/hex"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// specVector is one golden frame of the protocol spec, section 6.
type specVector struct {
	Dir, Title string
	Frame      []byte // 256-byte header followed by the body
}

var repRe = regexp.MustCompile(`^([0-9a-f]{2})×(\d+)$`)

// parseHex decodes a token of the spec notation: hex bytes, "00×N", "C" (the client id),
// or a "+"-joined concatenation of those.
func parseHex(t *testing.T, tok string) []byte {
	t.Helper()
	var out []byte
	for _, part := range strings.Split(tok, "+") {
		switch {
		case part == "C":
			for i := 0; i < 16; i++ {
				out = append(out, byte(i))
			}
		case repRe.MatchString(part):
			m := repRe.FindStringSubmatch(part)
			b, _ := hex.DecodeString(m[1])
			n, _ := strconv.Atoi(m[2])
			out = append(out, bytes.Repeat(b, n)...)
		default:
			b, err := hex.DecodeString(part)
			if err != nil {
				t.Fatalf("bad hex token %q: %v", part, err)
			}
			out = append(out, b...)
		}
	}
	return out
}

// loadVectors parses testdata/spec_vectors.txt.
func loadVectors(t *testing.T) map[string]specVector {
	t.Helper()
	raw, err := os.ReadFile("testdata/spec_vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	vs := map[string]specVector{}
	var cur *specVector
	var sendFrames []byte
	flush := func() {
		if cur != nil {
			vs[cur.Title] = *cur
		}
	}
	for ln, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		if strings.HasPrefix(line, "=== ") {
			flush()
			dir, title, _ := strings.Cut(strings.TrimPrefix(line, "=== "), ": ")
			cur = &specVector{Dir: dir, Title: title}
			continue
		}
		code, _, _ := strings.Cut(line, ";")
		fields := strings.Fields(code)
		if len(fields) > 0 && fields[0] == "hdr" {
			hdr := make([]byte, HeaderSize)
			for i := 1; i+1 < len(fields); i += 2 {
				off, err := strconv.Atoi(strings.TrimPrefix(fields[i], "@"))
				if err != nil {
					t.Fatalf("line %d: bad offset %q", ln+1, fields[i])
				}
				_, val, _ := strings.Cut(fields[i+1], "=")
				copy(hdr[off:], parseHex(t, val))
			}
			cur.Frame = hdr
			continue
		}
		if strings.Contains(code, "<124 bytes>") {
			cur.Frame = append(cur.Frame, sendFrames...)
			continue
		}
		for _, f := range fields {
			cur.Frame = append(cur.Frame, parseHex(t, f)...)
		}
		if strings.HasPrefix(cur.Title, "SendMessages to partition 0") && cur.Dir == "request" {
			// The 124 frame bytes follow the 4+20+4 metadata block and the 256-byte batch header.
			if body := cur.Frame[HeaderSize:]; len(body) > 4+20+4+BatchHeaderSize {
				sendFrames = append([]byte(nil), body[4+20+4+BatchHeaderSize:]...)
			}
		}
	}
	flush()
	if len(vs) != 16 {
		t.Fatalf("parsed %d vectors, want 16", len(vs))
	}
	for _, v := range vs {
		if got := FrameSize(v.Frame); int(got) != len(v.Frame) {
			t.Fatalf("vector %q: size field %d but %d bytes", v.Title, got, len(v.Frame))
		}
	}
	return vs
}

// find returns the vector whose title starts with prefix.
func find(t *testing.T, vs map[string]specVector, prefix string) specVector {
	t.Helper()
	for title, v := range vs {
		if strings.HasPrefix(title, prefix) {
			return v
		}
	}
	t.Fatalf("no vector %q", prefix)
	return specVector{}
}
