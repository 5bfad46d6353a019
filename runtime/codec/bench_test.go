package codec

import (
	"fmt"
	"strings"
	"testing"
)

func benchDoc() []byte {
	var sb strings.Builder
	sb.WriteString(`{"id":"8d0f3c5e-6a1b-4d8e-9f2a-1b3c4d5e6f70","seq":1234567890123,"ts":"2026-01-02T03:04:05.678Z",`)
	sb.WriteString(`"customer":{"id":42,"name":"Ada Lovelace","email":"ada@example.com","tier":"gold","tags":["a","b","c"]},`)
	sb.WriteString(`"items":[{"sku":"X-1","qty":2,"price":19.99},{"sku":"Y-22","qty":1,"price":5.5},{"sku":"Z-333","qty":10,"price":0.25}],`)
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&sb, `"attr_%02d":"value number %02d with some text",`, i, i)
	}
	sb.WriteString(`"debug_trace":"0123456789abcdef0123456789abcdef","debug_host":"worker-17.internal",`)
	sb.WriteString(`"password":"hunter2","ssn":"000-00-0000","status":"pending","amount":1234.5678,"currency":"EUR",`)
	sb.WriteString(`"note":"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.","ok":true,"nothing":null}`)
	return []byte(sb.String())
}

func BenchmarkValidateJSON(b *testing.B) {
	in := benchDoc()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := validateJSON(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIndexObject(b *testing.B) {
	in := benchDoc()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		releaseObject(indexObject(in))
	}
}

func BenchmarkSerializeObject(b *testing.B) {
	in := benchDoc()
	o := indexObject(in)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		o.appendJSON(make([]byte, 0, o.size()))
	}
}

func BenchmarkValidateAndIndex(b *testing.B) {
	in := benchDoc()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		_, o, err := scanJSON(in, true)
		if err != nil {
			b.Fatal(err)
		}
		releaseObject(o)
	}
}

func BenchmarkEditAndSerialize(b *testing.B) {
	in := benchDoc()
	_, o, _ := scanJSON(in, true)
	fields := append([]field(nil), o.fields...)
	ka, kb, kc := NewKey("source"), NewKey("password"), NewKey("status")
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		o.fields = append(o.fields[:0], fields...)
		o.ext = nil
		o.Set(ka, []byte(`"iggy"`))
		o.Set(kc, []byte(`"done"`))
		o.Delete(kb)
		o.appendJSON(make([]byte, 0, o.size()))
	}
}
