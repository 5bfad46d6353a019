// Package reflection is the Go code that flatc generates for FlatBuffers' reflection schema
// (reflection.fbs), the schema of binary schema files (.bfbs). Package codec reads .bfbs files with
// it to convert FlatBuffers to and from JSON.
//
// Generated, not written by hand: the files other than doc.go come from
//
//	flatc --go -o runtime/codec "$(go env GOMODCACHE)/github.com/google/flatbuffers@v25.12.19+incompatible/reflection/reflection.fbs"
//
// run from the repository root with flatc 2.0.8 (Debian package flatbuffers-compiler), followed by
// gofmt -w runtime/codec/reflection. Regenerate the same way when the flatbuffers module is
// upgraded; do not edit the generated files.
package reflection
