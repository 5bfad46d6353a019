package essink

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// indexTemplate is a parsed index name: literal text and {placeholders}. Placeholders: {stream},
// {topic}, {partition}, and a date of the message's Iggy timestamp (UTC) written with the tokens
// yyyy, yy, MM, dd, HH and any separators, e.g. {yyyy.MM.dd} or {yyyy-MM}. The result is lowercased
// (Elasticsearch and OpenSearch refuse capitals in index names).
type indexTemplate struct {
	parts  []indexPart
	static string // the name when there is no placeholder
	dated  bool   // some part depends on the message time
}

type indexPart struct {
	lit  string
	kind string // "" literal, "stream", "topic", "partition", "date"
	date string // Go layout for kind "date"
}

func parseIndexTemplate(s string) (*indexTemplate, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("must not be empty")
	}
	t := &indexTemplate{}
	rest := s
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			t.parts = append(t.parts, indexPart{lit: rest})
			break
		}
		if open > 0 {
			t.parts = append(t.parts, indexPart{lit: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("%q: unclosed '{'", s)
		}
		name := rest[open+1 : open+end]
		rest = rest[open+end+1:]
		switch name {
		case "stream", "topic", "partition":
			t.parts = append(t.parts, indexPart{kind: name})
		default:
			layout, err := dateLayout(name)
			if err != nil {
				return nil, fmt.Errorf("%q: placeholder {%s}: %v", s, name, err)
			}
			t.parts = append(t.parts, indexPart{kind: "date", date: layout})
			t.dated = true
		}
	}
	if len(t.parts) == 1 && t.parts[0].kind == "" {
		t.static = strings.ToLower(t.parts[0].lit)
		if strings.ContainsAny(t.static, ` "*\<|,>/?#:`) {
			return nil, fmt.Errorf("%q holds a character index names may not have", s)
		}
	}
	return t, nil
}

// dateLayout converts yyyy/yy/MM/dd/HH tokens to a Go time layout.
func dateLayout(p string) (string, error) {
	var b strings.Builder
	tokens := []struct{ tok, layout string }{{"yyyy", "2006"}, {"yy", "06"}, {"MM", "01"}, {"dd", "02"}, {"HH", "15"}}
	found := false
	for i := 0; i < len(p); {
		matched := false
		for _, tk := range tokens {
			if strings.HasPrefix(p[i:], tk.tok) {
				b.WriteString(tk.layout)
				i += len(tk.tok)
				matched, found = true, true
				break
			}
		}
		if matched {
			continue
		}
		c := p[i]
		if c == '.' || c == '-' || c == '_' || c == '+' {
			b.WriteByte(c)
			i++
			continue
		}
		return "", fmt.Errorf("unknown placeholder (want stream, topic, partition or a date such as yyyy.MM.dd)")
	}
	if !found {
		return "", fmt.Errorf("unknown placeholder (want stream, topic, partition or a date such as yyyy.MM.dd)")
	}
	return b.String(), nil
}

// name renders the index for a message of stream/topic/partition with Iggy timestamp tsMicros.
func (t *indexTemplate) name(stream, topic string, partition uint32, tsMicros uint64) string {
	if t.static != "" {
		return t.static
	}
	var b strings.Builder
	for _, p := range t.parts {
		switch p.kind {
		case "":
			b.WriteString(p.lit)
		case "stream":
			b.WriteString(stream)
		case "topic":
			b.WriteString(topic)
		case "partition":
			b.WriteString(strconv.FormatUint(uint64(partition), 10))
		case "date":
			b.WriteString(time.UnixMicro(int64(tsMicros)).UTC().Format(p.date))
		}
	}
	return strings.ToLower(b.String())
}
