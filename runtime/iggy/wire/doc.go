// Package wire is the Apache Iggy 0.9 binary protocol (VSR framing, protocol 0.11) as plain
// encoders and decoders: the 256-byte request, reply and eviction headers, every request and reply
// body the project uses, the message batch record with its XXH3 checksums, and XXH32 for
// messages-key partitioning and string consumer ids.
//
// Both the client (package runtime/iggy) and the development server (test/iggyserver) import it,
// so a layout is written once. Nothing here does I/O except ReadFrame, and nothing keeps state.
//
// Conventions: all integers are little-endian on the wire. Append* functions append to dst and
// return the extended slice (pass a reused buffer to avoid allocation). Decode* functions never
// panic on any input; they return a *DecodeError naming the field and the byte offset. Unless a
// doc comment says otherwise, decoded byte slices (payloads, header keys and values) alias the
// input buffer: copy them if the buffer is reused.
package wire
