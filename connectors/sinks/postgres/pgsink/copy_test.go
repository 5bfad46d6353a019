package pgsink

import (
	"encoding/binary"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/iggy-go/connectors/abi"
	"github.com/jackc/pgx/v5/pgtype"
)

// u128Cases are the ids the NUMERIC encoder is checked with: the edges of base 10000, of uint64
// and of u128, and values with zero base-10000 groups in the middle and at the end.
var u128Cases = []string{
	"0", "1", "9999", "10000", "10001", "99999999", "100000000",
	"18446744073709551615",                    // 2^64-1
	"18446744073709551616",                    // 2^64
	"340282366920938463463374607431768211455", // 2^128-1
	"340282366920938463463374607431768211456", // 2^128: does not fit, skipped below
	"10000000000000000",                       // 10^16: one chunk boundary
	"100000000000000000000000000000000000000", // 10^38: one digit then nine zero groups
	"1000000000000000000000000000000000001",   // zero groups in the middle
	"123400000000567800000000",                // zero groups in the middle and at the end
	"99990000999900009999000099990000",        // alternating
	"1329227995784915872903807060280344583",   // 2^120 + 7
}

func idOf(tb testing.TB, dec string) (abi.ID, bool) {
	v, ok := new(big.Int).SetString(dec, 10)
	if !ok {
		tb.Fatalf("bad case %q", dec)
	}
	if v.BitLen() > 128 {
		return abi.ID{}, false
	}
	var id abi.ID
	v.FillBytes(id[:])
	return id, true
}

// numericValue decodes a binary NUMERIC (integers only) with math/big and checks that it is in
// PostgreSQL's canonical form (what numeric_send produces): positive, dscale 0, every digit below
// 10000, no leading or trailing zero digit, zero as ndigits = weight = 0.
func numericValue(t *testing.T, b []byte, canonical bool) *big.Int {
	t.Helper()
	nd, weight := int(binary.BigEndian.Uint16(b)), int(int16(binary.BigEndian.Uint16(b[2:])))
	if sign, dscale := binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:]); sign != 0 || dscale != 0 || len(b) != 8+2*nd {
		t.Fatalf("bad numeric % x", b)
	}
	v := new(big.Int)
	for i := range nd {
		d := binary.BigEndian.Uint16(b[8+2*i:])
		if d >= 10000 || canonical && d == 0 && (i == 0 || i == nd-1) {
			t.Fatalf("digit %d of % x: %d", i, b, d)
		}
		v.Mul(v, big.NewInt(10000)).Add(v, big.NewInt(int64(d)))
	}
	if canonical && nd == 0 && weight != 0 {
		t.Fatalf("zero with weight %d", weight)
	}
	if nd > 0 { // the last digit sits at 10000^(weight-nd+1)
		v.Mul(v, new(big.Int).Exp(big.NewInt(10000), big.NewInt(int64(weight-nd+1)), nil))
	}
	return v
}

// TestNumericU128 checks the binary NUMERIC of every case, and of random ids of every bit length,
// against the value (math/big) and against pgx's own big.Int based encoder, which writes the same
// value without stripping trailing zero digits (and zero with weight -1); PostgreSQL accepts both.
func TestNumericU128(t *testing.T) {
	m := pgtype.NewMap()
	check := func(id abi.ID) {
		t.Helper()
		v := new(big.Int).SetBytes(id[:])
		want, err := m.Encode(pgtype.NumericOID, pgtype.BinaryFormatCode, pgtype.Numeric{Int: v, Valid: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := appendNumericU128([]byte{0xAA}, (*[16]byte)(&id))
		if got[0] != 0xAA || int(binary.BigEndian.Uint32(got[1:5])) != len(got)-5 {
			t.Fatalf("%s: bad prefix or length in % x", v, got)
		}
		if g := numericValue(t, got[5:], true); g.Cmp(v) != 0 {
			t.Errorf("%s: encoded as %s (% x)", v, g, got[5:])
		}
		if p := numericValue(t, want, false); p.Cmp(v) != 0 {
			t.Errorf("%s: pgx encodes %s (% x)", v, p, want)
		}
	}
	for _, c := range u128Cases {
		if id, ok := idOf(t, c); ok {
			check(id)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for bitsLen := 0; bitsLen <= 128; bitsLen++ {
		for range 50 { // random ids below 2^bitsLen
			hi, lo := r.Uint64(), r.Uint64()
			if bitsLen <= 64 {
				hi, lo = 0, lo>>(64-bitsLen)
			} else {
				hi >>= 128 - bitsLen
			}
			check(abi.IDFromUint64s(hi, lo))
		}
	}
}

func BenchmarkAppendNumericU128(b *testing.B) {
	id := abi.IDFromUint64s(0xFEDCBA9876543210, 0x0123456789ABCDEF)
	buf := make([]byte, 0, 64)
	for b.Loop() {
		buf = appendNumericU128(buf[:0], (*[16]byte)(&id))
	}
}
