package bench

import (
	"fmt"
	"strings"
)

// MessageSize is the size of every benchmark message payload (1 KB).
const MessageSize = 1024

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// zeroCostPrefix and zeroCostSuffix frame the text of the random source's zero_cost record:
// {"id":"<nil uuid>","title":"Hello","name":"World","text":"<payload_size alphanumerics>"}.
const (
	zeroCostPrefix = `{"id":"00000000-0000-0000-0000-000000000000","title":"Hello","name":"World","text":"`
	zeroCostSuffix = `"}`
)

// ZeroCostTextSize is the random source's payload_size that makes its zero_cost records size bytes.
func ZeroCostTextSize(size int) int { return size - len(zeroCostPrefix) - len(zeroCostSuffix) }

// ZeroCostRecord is exactly what the random source (connectors/sources/random) produces with
// generator = "zero_cost" and payload_size = textSize: the B1 baseline sends the same bytes. The
// harness checks this against a message the runtime produced (see checkSamePayload).
func ZeroCostRecord(textSize int) []byte {
	t := make([]byte, textSize)
	for i := range t {
		t[i] = alnum[i%len(alnum)]
	}
	return []byte(zeroCostPrefix + string(t) + zeroCostSuffix)
}

// JSONRecord is the ~size-byte JSON object of the sink scenarios (B2, B3, B5): flat scalars, a
// nested object, an array, debug_* keys that filter_fields drops, password and ssn that
// delete_fields removes and a status that update_fields rewrites — the shape of runtime/transform's
// benchmark payload. seq varies the first field; the object is padded with a note to size bytes.
func JSONRecord(seq uint64, size int) []byte {
	var sb strings.Builder
	fmt.Fprintf(&sb, `{"id":"8d0f3c5e-6a1b-4d8e-9f2a-%012d","seq":%d,"ts":"2026-01-02T03:04:05.678Z",`, seq%1e12, seq)
	sb.WriteString(`"customer":{"id":42,"name":"Ada Lovelace","email":"ada@example.com","tier":"gold","tags":["a","b","c"]},`)
	sb.WriteString(`"items":[{"sku":"X-1","qty":2,"price":19.99},{"sku":"Y-22","qty":1,"price":5.5},{"sku":"Z-333","qty":10,"price":0.25}],`)
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&sb, `"attr_%02d":"value number %02d with some text",`, i, i)
	}
	sb.WriteString(`"debug_trace":"0123456789abcdef0123456789abcdef","debug_host":"worker-17.internal",`)
	sb.WriteString(`"password":"hunter2","ssn":"000-00-0000","status":"pending","amount":1234.5678,"currency":"EUR",`)
	sb.WriteString(`"ok":true,"nothing":null,"note":"`)
	pad := size - sb.Len() - len(`"}`)
	for i := 0; i < pad; i++ {
		sb.WriteByte(alnum[i%len(alnum)])
	}
	sb.WriteString(`"}`)
	return []byte(sb.String())
}
