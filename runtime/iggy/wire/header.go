package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/zeebo/xxh3"
)

// HeaderSize is the size of every frame header; MaxFrameSize bounds header plus body
// (message_bus.max_message_size of the real server).
const (
	HeaderSize   = 256
	MaxFrameSize = 64 << 20
)

// Header field offsets shared by every frame.
const (
	offSize    = 48
	offCommand = 60
)

// U128 is an unsigned 128-bit integer as used for client ids and checksums (wire: Lo first).
type U128 struct{ Lo, Hi uint64 }

// IsZero reports whether u is 0.
func (u U128) IsZero() bool { return u.Lo == 0 && u.Hi == 0 }

func (u U128) String() string { return fmt.Sprintf("%016x%016x", u.Hi, u.Lo) }

func putU128(b []byte, u U128) {
	binary.LittleEndian.PutUint64(b, u.Lo)
	binary.LittleEndian.PutUint64(b[8:], u.Hi)
}

func getU128(b []byte) U128 {
	return U128{Lo: binary.LittleEndian.Uint64(b), Hi: binary.LittleEndian.Uint64(b[8:])}
}

// BodyChecksum is the request_checksum the Rust SDK stamps: XXH3-64 of the body in the low half.
func BodyChecksum(body []byte) U128 { return U128{Lo: xxh3.Hash(body)} }

// RequestHeader is the 256-byte header of a client request (spec 1.3).
type RequestHeader struct {
	Size            uint32 // 256 + body length
	Client          U128
	RequestChecksum U128
	Timestamp       uint64
	Request         uint64
	Operation       uint8
	Session         uint64
	UserID          uint32
	Code            uint32 // only on the wire when Operation == OpNonReplicated
}

// Put writes h into b[:256] (which it fully overwrites).
func (h *RequestHeader) Put(b []byte) {
	b = b[:HeaderSize]
	clear(b)
	binary.LittleEndian.PutUint32(b[offSize:], h.Size)
	b[offCommand] = CommandRequest
	putU128(b[128:], h.Client)
	putU128(b[144:], h.RequestChecksum)
	binary.LittleEndian.PutUint64(b[160:], h.Timestamp)
	binary.LittleEndian.PutUint64(b[168:], h.Request)
	b[176] = h.Operation
	binary.LittleEndian.PutUint64(b[184:], h.Session)
	binary.LittleEndian.PutUint32(b[192:], h.UserID)
	if h.Operation == OpNonReplicated {
		binary.LittleEndian.PutUint32(b[196:], h.Code)
	}
}

// DecodeRequestHeader reads a request header. It checks only the length; the caller validates
// command, operation and numbering.
func DecodeRequestHeader(b []byte) (RequestHeader, error) {
	if len(b) < HeaderSize {
		return RequestHeader{}, &DecodeError{Field: "request header", Reason: fmt.Sprintf("need %d bytes, have %d", HeaderSize, len(b))}
	}
	h := RequestHeader{
		Size:            binary.LittleEndian.Uint32(b[offSize:]),
		Client:          getU128(b[128:]),
		RequestChecksum: getU128(b[144:]),
		Timestamp:       binary.LittleEndian.Uint64(b[160:]),
		Request:         binary.LittleEndian.Uint64(b[168:]),
		Operation:       b[176],
		Session:         binary.LittleEndian.Uint64(b[184:]),
		UserID:          binary.LittleEndian.Uint32(b[192:]),
	}
	if h.Operation == OpNonReplicated {
		h.Code = binary.LittleEndian.Uint32(b[196:])
	}
	return h, nil
}

// ReplyHeader is the 256-byte header of a server reply (spec 1.6).
type ReplyHeader struct {
	Size            uint32
	RequestChecksum U128 // echoed
	Client          U128 // echoed
	OpNumber        uint64
	Commit          uint64
	Timestamp       uint64 // echoed
	Request         uint64 // echoed
	Operation       uint8  // echoed
	Status          uint32
}

// Put writes h into b[:256].
func (h *ReplyHeader) Put(b []byte) {
	b = b[:HeaderSize]
	clear(b)
	binary.LittleEndian.PutUint32(b[offSize:], h.Size)
	b[offCommand] = CommandReply
	putU128(b[128:], h.RequestChecksum)
	putU128(b[160:], h.Client)
	binary.LittleEndian.PutUint64(b[176:], h.OpNumber)
	binary.LittleEndian.PutUint64(b[184:], h.Commit)
	binary.LittleEndian.PutUint64(b[192:], h.Timestamp)
	binary.LittleEndian.PutUint64(b[200:], h.Request)
	b[208] = h.Operation
	binary.LittleEndian.PutUint32(b[216:], h.Status)
}

// DecodeReplyHeader reads a reply header (command must be CommandReply).
func DecodeReplyHeader(b []byte) (ReplyHeader, error) {
	if len(b) < HeaderSize {
		return ReplyHeader{}, &DecodeError{Field: "reply header", Reason: fmt.Sprintf("need %d bytes, have %d", HeaderSize, len(b))}
	}
	return ReplyHeader{
		Size:            binary.LittleEndian.Uint32(b[offSize:]),
		RequestChecksum: getU128(b[128:]),
		Client:          getU128(b[160:]),
		OpNumber:        binary.LittleEndian.Uint64(b[176:]),
		Commit:          binary.LittleEndian.Uint64(b[184:]),
		Timestamp:       binary.LittleEndian.Uint64(b[192:]),
		Request:         binary.LittleEndian.Uint64(b[200:]),
		Operation:       b[208],
		Status:          binary.LittleEndian.Uint32(b[216:]),
	}, nil
}

// Eviction is the session-terminal frame (spec 1.8).
type Eviction struct {
	Client            U128
	ServerProtocol    uint32 // non-zero only for EvictIncompatibleProtocol
	ServerProtocolMin uint32
	Reason            uint8
}

// Put writes the eviction header into b[:256].
func (e *Eviction) Put(b []byte) {
	b = b[:HeaderSize]
	clear(b)
	binary.LittleEndian.PutUint32(b[offSize:], HeaderSize)
	b[offCommand] = CommandEviction
	putU128(b[128:], e.Client)
	binary.LittleEndian.PutUint32(b[144:], e.ServerProtocol)
	binary.LittleEndian.PutUint32(b[148:], e.ServerProtocolMin)
	b[255] = e.Reason
}

// DecodeEviction reads an eviction header.
func DecodeEviction(b []byte) (Eviction, error) {
	if len(b) < HeaderSize {
		return Eviction{}, &DecodeError{Field: "eviction header", Reason: fmt.Sprintf("need %d bytes, have %d", HeaderSize, len(b))}
	}
	return Eviction{
		Client:            getU128(b[128:]),
		ServerProtocol:    binary.LittleEndian.Uint32(b[144:]),
		ServerProtocolMin: binary.LittleEndian.Uint32(b[148:]),
		Reason:            b[255],
	}, nil
}

// FrameCommand returns the command byte of a frame header.
func FrameCommand(hdr []byte) uint8 { return hdr[offCommand] }

// FrameSize returns the size field of a frame header.
func FrameSize(hdr []byte) uint32 { return binary.LittleEndian.Uint32(hdr[offSize:]) }

// ErrFrameSize is returned by ReadFrame for a size field outside 256..MaxFrameSize.
var ErrFrameSize = errors.New("iggy wire: frame size out of range")

// ReadFrame reads one frame: 256 header bytes, then size-256 body bytes. buf is reused when large
// enough; the returned frame (header followed by body) aliases it. maxSize bounds the frame (0 =
// MaxFrameSize). A size outside [256, maxSize] returns an error wrapping ErrFrameSize: the
// stream can no longer be trusted and the connection must be closed.
func ReadFrame(r io.Reader, buf []byte, maxSize int) ([]byte, error) {
	if maxSize <= 0 {
		maxSize = MaxFrameSize
	}
	if cap(buf) < HeaderSize {
		buf = make([]byte, HeaderSize, 4096)
	}
	buf = buf[:HeaderSize]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	size := FrameSize(buf)
	if size < HeaderSize || int64(size) > int64(maxSize) {
		return nil, fmt.Errorf("%w: %d (allowed %d..%d)", ErrFrameSize, size, HeaderSize, maxSize)
	}
	if cap(buf) < int(size) {
		nb := make([]byte, size)
		copy(nb, buf)
		buf = nb
	}
	buf = buf[:size]
	if _, err := io.ReadFull(r, buf[HeaderSize:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// FinishRequest fills the header of a request frame whose body is already at frame[256:]: size,
// command, client, request number, session, operation (from code), the code for non-replicated
// operations, and request_checksum (XXH3-64 of the body) for the operations the Rust SDK stamps.
func FinishRequest(frame []byte, code uint32, client U128, request, session uint64) {
	FinishRequestSized(frame, len(frame), code, client, request, session)
}

// FinishRequestSized is FinishRequest for a request sent in segments (a vectored write): frame
// starts with the header, size is the length of the whole request. Operations with a stamped
// request_checksum need the whole body in frame (size == len(frame)); for them it panics otherwise.
func FinishRequestSized(frame []byte, size int, code uint32, client U128, request, session uint64) {
	op := OperationFor(code)
	h := RequestHeader{Size: uint32(size), Client: client, Request: request, Operation: op, Session: session, Code: code}
	if StampsChecksum(op) {
		if size != len(frame) {
			panic("iggy wire: a request with a stamped request_checksum must be contiguous")
		}
		h.RequestChecksum = BodyChecksum(frame[HeaderSize:])
	}
	h.Put(frame)
}

// FinishReply fills the header of a reply frame whose body is already at frame[256:]; h.Size is
// set from the frame length.
func FinishReply(frame []byte, h ReplyHeader) {
	h.Size = uint32(len(frame))
	h.Put(frame)
}

// SetFrameSize overwrites the size field of a frame header (for replies written in segments).
func SetFrameSize(hdr []byte, size uint32) { binary.LittleEndian.PutUint32(hdr[offSize:], size) }
