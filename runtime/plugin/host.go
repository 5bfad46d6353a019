package plugin

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/iggy-go/connectors/abi"
)

// HostCommand is the hidden CLI command the process transport runs: `<exe> plugin-host --library PATH`.
const HostCommand = "plugin-host"

// ServeHost is the child side of the process transport (`iggy-connectors plugin-host --library PATH`):
// it loads the library in this process, writes the hello frame to replies, then serves request frames
// read from requests until EOF (the parent closed the pipe: clean exit, nil error). Each request is one
// raw ABI call; its reply carries the call's status and output bytes and the library's log records
// drained right after the call. A crash of the plugin ends this process, which the parent detects.
func ServeHost(library string, requests io.Reader, replies io.Writer) error {
	bw := bufio.NewWriterSize(replies, 64<<10)
	n, err := loadNative(library)
	if err != nil {
		var le *LoadError
		detail := err.Error()
		if errors.As(err, &le) {
			detail = le.Detail
		}
		_ = writeReply(bw, helloFailed, append([]byte{reasonIndex(err)}, detail...), nil)
		return err
	}
	var flags byte
	if n.validate != 0 {
		flags |= helloFlagValidate
	}
	if n.sinkConsumeRef != 0 {
		flags |= helloFlagSinkRef
	}
	// The shared batch region, when the parent passed one (process.go).
	var shm *shmRegion
	if v := os.Getenv(shmFDEnv); v != "" {
		os.Unsetenv(shmFDEnv) // not for the plugin's own children
		if fd, err := strconv.Atoi(v); err == nil {
			if shm, err = openShm(uintptr(fd)); err == nil {
				flags |= helloFlagShm
				defer shm.close()
			}
		}
	}
	if err := writeReply(bw, helloOK, mustMarshal(&n.info), []byte{flags}); err != nil {
		return err
	}
	br := bufio.NewReaderSize(requests, 64<<10)
	var buf []byte
	// A plugin speaking ABI 1.1 gets sink batches by reference: the CBOR batch of the request is
	// decoded in place (payloads alias buf, which stays untouched until the next request) and
	// described to the plugin by a SinkBatchRef.
	var dec abi.SinkBatchDecoder
	var refs abi.SinkBatchRefBuilder
	for {
		buf, err = readFrame(br, buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read request: %w", err)
		}
		o, id, arg, in1, in2, err := parseRequest(buf)
		if err != nil {
			return err
		}
		if o == opSinkConsumeShm {
			if shm == nil || arg > uint64(len(shm.mem)) {
				return fmt.Errorf("bad request: a batch of %d bytes in a shared region this host does not have", arg)
			}
			o, in1, arg = opSinkConsume, shm.mem[:arg:arg], 0
		}
		var ref *abi.SinkBatchRef
		if o == opSinkConsumeImage {
			img := in1
			if len(in1) == 0 && arg > 0 {
				if shm == nil || arg > uint64(len(shm.mem)) {
					return fmt.Errorf("bad request: a batch image of %d bytes in a shared region this host does not have", arg)
				}
				img = shm.mem[:arg:arg]
			}
			var err error
			if ref, err = refs.ImageRef(img); err != nil || n.sinkConsumeRef == 0 {
				if err == nil {
					err = errors.New("the library takes no batches by reference")
				}
				msg := mustMarshal(&abi.Error{Code: abi.CodeBadInput, Message: "bad batch image in the plugin host: " + err.Error()})
				if err := writeReply(bw, int32(abi.StatusBadInput), msg, nil); err != nil {
					return fmt.Errorf("write reply: %w", err)
				}
				continue
			}
			o, in1, arg = opSinkConsume, nil, 0
		} else if o == opSinkConsume && n.sinkConsumeRef != 0 {
			b, err := dec.Decode(in1)
			if err != nil {
				msg := mustMarshal(&abi.Error{Code: abi.CodeBadInput, Message: "undecodable SinkBatch in the plugin host: " + err.Error()})
				if err := writeReply(bw, int32(abi.StatusBadInput), msg, nil); err != nil {
					return fmt.Errorf("write reply: %w", err)
				}
				continue
			}
			ref = refs.Build(b)
		}
		// The outputs are written from the plugin's buffers, then freed: no copies.
		st, out, slot := n.callRaw(o, id, arg, in1, in2, ref)
		var logs []byte
		var lslot *outSlot
		if o == opDrainLogs {
			logs, out = out, nil
		} else if lst, l, ls := n.callRaw(opDrainLogs, 0, 0, nil, nil, nil); lst == abi.StatusOK {
			logs, lslot = l, ls
		} else {
			n.release(ls)
		}
		err = writeReply(bw, int32(st), out, logs)
		n.release(slot)
		n.release(lslot)
		if err != nil {
			return fmt.Errorf("write reply: %w", err)
		}
	}
}
