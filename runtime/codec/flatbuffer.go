package codec

import (
	"errors"
	"fmt"
)

// fbDecoder converts FlatBuffers of the schema's root table to JSON:
//   - tables become objects with their fields in declaration (id) order; scalar fields are always
//     present (their default when absent from the buffer, like flatc --defaults-json) except optional
//     scalars (= null defaults), which appear only when set; absent strings, vectors, tables and unions
//     are omitted; deprecated fields never appear;
//   - structs become objects with every field; fixed-size arrays become arrays;
//   - enums become the declared name (a number when the value has no name); booleans true/false;
//     integers exactly (64-bit values included); floats in their shortest round-trip form (NaN and
//     infinities as null);
//   - vectors become arrays ([ubyte] included, as numbers);
//   - a union field u becomes "u_type": "<Member>" and "u": {...}.
//
// Every offset is checked against the buffer; a malformed buffer is an error, never a panic.
type fbDecoder struct {
	base
	s *fbSchema
}

func (*fbDecoder) Kind() Kind { return KindJSON }

func (d *fbDecoder) Decode(b []byte) (Payload, error) {
	js, err := d.s.decode(b)
	if err != nil {
		return Payload{}, d.err("decode", fbPos(err), fmt.Errorf("not a valid %s buffer: %w", d.s.root.name, err))
	}
	return jsonPayload(js, true), nil
}

func fbPos(err error) int {
	var fe *fbErr
	if errors.As(err, &fe) {
		return fe.pos
	}
	return -1
}

// fbEncoder builds FlatBuffers of the schema's root table from JSON objects (the inverse of
// fbDecoder: enum names or numbers, "u_type"/"u" for unions, every struct field required, unknown
// keys and out-of-range numbers are errors naming the JSON path, null means absent). The buffer
// carries the schema's file_identifier when it declares one.
type fbEncoder struct {
	base
	s *fbSchema
}

func (e *fbEncoder) Encode(p *Payload) ([]byte, error) {
	switch p.kind {
	case KindFlatBuffer, KindRaw:
		if _, err := e.s.decode(p.data); err != nil {
			return nil, e.err("encode", fbPos(err), fmt.Errorf("%s payload is not a valid %s buffer: %w", p.kind, e.s.root.name, err))
		}
		return p.data, nil
	case KindJSON, KindText:
		js := p.Bytes()
		if p.kind == KindText {
			if _, err := validateJSON(js); err != nil {
				return nil, e.errf("encode", errPos(err), "text payload is not JSON: %w", err)
			}
		}
		out, err := e.s.encode(js)
		if err != nil {
			return nil, e.errf("encode", -1, "JSON to %s: %w", e.s.root.name, err)
		}
		return out, nil
	}
	return nil, e.errf("encode", -1, "a %s payload cannot be encoded as %s", p.kind, e.s.root.name)
}
