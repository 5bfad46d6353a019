// Package wiretest holds the golden frames of the Iggy protocol spec (section 6) for tests of the
// wire package, the client and the development server. spec_vectors.txt is the spec's notation,
// copied verbatim; Vectors parses it.
package wiretest

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

//go:embed spec_vectors.txt
var specVectors string

// Vector is one golden frame.
type Vector struct {
	Dir   string // "request" or "response"
	Title string // the spec's caption
	Frame []byte // 256-byte header followed by the body
}

// Client is the client id C of the vectors (wire bytes 00 01 .. 0f), as (low, high) u64 halves.
const (
	ClientLo = 0x0706050403020100
	ClientHi = 0x0f0e0d0c0b0a0908
	// OriginTimestamp is the producer timestamp of the vector messages (µs).
	OriginTimestamp = 1_700_000_000_000_000
)

var repRe = regexp.MustCompile(`^([0-9a-f]{2})×(\d+)$`)

func parseHex(tok string) ([]byte, error) {
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
				return nil, fmt.Errorf("bad hex token %q: %w", part, err)
			}
			out = append(out, b...)
		}
	}
	return out, nil
}

// Vectors parses every vector. It fails if a frame's size field disagrees with its length.
func Vectors() ([]Vector, error) {
	var vs []Vector
	var cur *Vector
	var sendFrames []byte
	for ln, line := range strings.Split(specVectors, "\n") {
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		if strings.HasPrefix(line, "=== ") {
			dir, title, _ := strings.Cut(strings.TrimPrefix(line, "=== "), ": ")
			vs = append(vs, Vector{Dir: dir, Title: title})
			cur = &vs[len(vs)-1]
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("line %d: data before the first vector", ln+1)
		}
		code, _, _ := strings.Cut(line, ";")
		fields := strings.Fields(code)
		if len(fields) > 0 && fields[0] == "hdr" {
			hdr := make([]byte, 256)
			for i := 1; i+1 < len(fields); i += 2 {
				off, err := strconv.Atoi(strings.TrimPrefix(fields[i], "@"))
				if err != nil {
					return nil, fmt.Errorf("line %d: bad offset %q", ln+1, fields[i])
				}
				_, val, _ := strings.Cut(fields[i+1], "=")
				b, err := parseHex(val)
				if err != nil {
					return nil, fmt.Errorf("line %d: %w", ln+1, err)
				}
				copy(hdr[off:], b)
			}
			cur.Frame = hdr
			continue
		}
		if strings.Contains(code, "<124 bytes>") {
			cur.Frame = append(cur.Frame, sendFrames...)
			continue
		}
		for _, f := range fields {
			b, err := parseHex(f)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", ln+1, err)
			}
			cur.Frame = append(cur.Frame, b...)
		}
		if cur.Dir == "request" && strings.HasPrefix(cur.Title, "SendMessages to partition 0") {
			// The 124 frame bytes follow the 4+20+4 metadata block and the 256-byte batch header.
			if body := cur.Frame[256:]; len(body) > 4+20+4+256 {
				sendFrames = append([]byte(nil), body[4+20+4+256:]...)
			}
		}
	}
	for _, v := range vs {
		if len(v.Frame) < 256 || int(binary.LittleEndian.Uint32(v.Frame[48:])) != len(v.Frame) {
			return nil, fmt.Errorf("vector %q: size field disagrees with its %d bytes", v.Title, len(v.Frame))
		}
	}
	if len(vs) != 16 {
		return nil, fmt.Errorf("parsed %d vectors, want 16", len(vs))
	}
	return vs, nil
}

// Find returns the vector of direction dir whose title starts with prefix.
func Find(vs []Vector, dir, prefix string) (Vector, bool) {
	for _, v := range vs {
		if v.Dir == dir && strings.HasPrefix(v.Title, prefix) {
			return v, true
		}
	}
	return Vector{}, false
}
