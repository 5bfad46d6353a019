package plugin

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// Frames of the process transport. The parent writes requests to the child's stdin; the child writes
// replies to file descriptor 3 (its stdout stays the parent's stdout, so a plugin that prints cannot
// corrupt the stream). All integers are little-endian.
//
//	request: u32 length | u8 op | u32 instance | u64 arg | u32 len1 | in1 | in2
//	reply:   u32 length | i32 status | u32 outLen | out | logs (a CBOR LogBatch, possibly empty)
//
// in1/in2 and out are exactly the bytes of the in-process call (JSON config, state, CBOR records).
// A sink's batch may instead be in the shared batch region (shm_linux.go): op sink_consume_shm
// (CBOR) or sink_consume_image (an abi.AppendSinkBatchImage image, for a plugin that takes batches
// by reference; also sent inline) with its length in arg and no in1.
// The first reply, before any request, is the hello: status helloOK with the PluginInfo record in out
// and one flags byte in logs, or helloFailed with a reason byte and the load error's text in out.

const (
	maxFrame    = 1 << 30
	helloOK     = 0
	helloFailed = -100

	helloFlagValidate = 1 // the library exports iggy_plugin_validate_config
	helloFlagSinkRef  = 2 // the library speaks ABI 1.1 and exports iggy_sink_consume_ref
	helloFlagShm      = 4 // the child mapped the shared batch region (opSinkConsumeShm works)

	// shmFDEnv names the child's file descriptor of the shared batch region (shm_linux.go).
	shmFDEnv = "IGGY_PLUGIN_HOST_SHM_FD"
)

func writeRequest(w *bufio.Writer, o op, id uint32, arg uint64, in1, in2 []byte) error {
	var h [21]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(1+4+8+4+len(in1)+len(in2)))
	h[4] = byte(o)
	binary.LittleEndian.PutUint32(h[5:], id)
	binary.LittleEndian.PutUint64(h[9:], arg)
	binary.LittleEndian.PutUint32(h[17:], uint32(len(in1)))
	w.Write(h[:])
	w.Write(in1)
	w.Write(in2)
	return w.Flush()
}

// readFrame reads one length-prefixed frame body into buf (grown as needed).
func readFrame(r *bufio.Reader, buf []byte) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return buf, err
	}
	n := binary.LittleEndian.Uint32(h[:])
	if n > maxFrame {
		return buf, fmt.Errorf("frame of %d bytes exceeds the limit of %d", n, maxFrame)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return buf, err
	}
	return buf, nil
}

func parseRequest(b []byte) (o op, id uint32, arg uint64, in1, in2 []byte, err error) {
	if len(b) < 17 {
		return 0, 0, 0, nil, nil, fmt.Errorf("short request frame (%d bytes)", len(b))
	}
	o = op(b[0])
	id = binary.LittleEndian.Uint32(b[1:])
	arg = binary.LittleEndian.Uint64(b[5:])
	n := binary.LittleEndian.Uint32(b[13:])
	rest := b[17:]
	if uint64(n) > uint64(len(rest)) {
		return 0, 0, 0, nil, nil, fmt.Errorf("bad request frame: first input of %d bytes in %d", n, len(rest))
	}
	return o, id, arg, rest[:n:n], rest[n:], nil
}

func writeReply(w *bufio.Writer, status int32, out, logs []byte) error {
	var h [12]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(4+4+len(out)+len(logs)))
	binary.LittleEndian.PutUint32(h[4:], uint32(status))
	binary.LittleEndian.PutUint32(h[8:], uint32(len(out)))
	w.Write(h[:])
	w.Write(out)
	w.Write(logs)
	return w.Flush()
}

func parseReply(b []byte) (status int32, out, logs []byte, err error) {
	if len(b) < 8 {
		return 0, nil, nil, fmt.Errorf("short reply frame (%d bytes)", len(b))
	}
	status = int32(binary.LittleEndian.Uint32(b))
	n := binary.LittleEndian.Uint32(b[4:])
	rest := b[8:]
	if uint64(n) > uint64(len(rest)) {
		return 0, nil, nil, fmt.Errorf("bad reply frame: output of %d bytes in %d", n, len(rest))
	}
	return status, rest[:n:n], rest[n:], nil
}
