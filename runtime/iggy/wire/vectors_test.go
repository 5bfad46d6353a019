package wire

import (
	"testing"

	"github.com/iggy-go/connectors/runtime/iggy/wire/wiretest"
)

type specVector = wiretest.Vector

func loadVectors(t *testing.T) []specVector {
	t.Helper()
	vs, err := wiretest.Vectors()
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// find returns the vector whose title starts with prefix (requests are searched first).
func find(t *testing.T, vs []specVector, prefix string) specVector {
	t.Helper()
	if v, ok := wiretest.Find(vs, "request", prefix); ok {
		return v
	}
	if v, ok := wiretest.Find(vs, "response", prefix); ok {
		return v
	}
	t.Fatalf("no vector %q", prefix)
	return specVector{}
}
