package iggy_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"os"
	"testing"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/iggy-go/connectors/runtime/iggy/wire"
	"github.com/iggy-go/connectors/test/iggyserver"
)

const (
	benchMsgs    = 1000
	benchPayload = 1024
)

func benchBatch() []iggy.Message {
	msgs := make([]iggy.Message, benchMsgs)
	payload := make([]byte, benchPayload)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	for i := range msgs {
		msgs[i] = iggy.Message{ID: iggy.IDFromUint64(uint64(i + 1)), Payload: payload, OriginTimestamp: 1}
	}
	return msgs
}

// benchTarget returns the address of the server to measure: IGGY_BENCH_ADDR (a running
// iggy-devserver) or an in-process one (the same server code), optionally with a data dir.
func benchTarget(b *testing.B, dataDir string) string {
	if a := os.Getenv("IGGY_BENCH_ADDR"); a != "" && dataDir == "" {
		return a
	}
	return startServer(b, iggyserver.Config{DataDir: dataDir}).Addr().String()
}

func reportMessages(b *testing.B) {
	b.ReportMetric(float64(b.N*benchMsgs)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkThroughput measures the Go client against iggy-devserver with batches of 1000 messages
// of 1 KB, next to the ceiling: a raw loopback TCP copy of the same bytes in the same lockstep
// pattern (request out, reply back), measured in the same run. MB/s counts payload bytes.
//
//	go test -run '^$' -bench Throughput -benchtime 300x ./runtime/iggy/
func BenchmarkThroughput(b *testing.B) {
	ctx := context.Background()
	sendFrame, _ := wire.AppendSendMessages(make([]byte, wire.HeaderSize), iggy.NamedID("bench"), iggy.NamedID("t"), iggy.PartitionID(0), benchBatch())
	frameLen := len(sendFrame)

	b.Run("raw-tcp-copy-send", func(b *testing.B) { rawCopy(b, frameLen, 16+wire.HeaderSize) })
	b.Run("raw-tcp-copy-poll", func(b *testing.B) { rawCopy(b, wire.HeaderSize+40, frameLen) })

	for _, v := range []struct{ name, dir string }{{"client-send", ""}, {"client-send-datadir", "dir"}} {
		b.Run(v.name, func(b *testing.B) {
			dir := ""
			if v.dir != "" {
				dir = b.TempDir()
			}
			c := dial(b, benchTarget(b, dir))
			if _, err := c.EnsureTopic(ctx, "bench", "t", 1); err != nil {
				b.Fatal(err)
			}
			msgs := benchBatch()
			b.SetBytes(benchMsgs * benchPayload)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.SendMessages(ctx, iggy.NamedID("bench"), iggy.NamedID("t"), iggy.PartitionID(0), msgs); err != nil {
					b.Fatal(err)
				}
			}
			reportMessages(b)
		})
	}

	b.Run("client-poll", func(b *testing.B) {
		c := dial(b, benchTarget(b, ""))
		if _, err := c.EnsureTopic(ctx, "bench-poll", "t", 1); err != nil {
			b.Fatal(err)
		}
		const stored = 50
		msgs := benchBatch()
		for i := 0; i < stored; i++ {
			if _, err := c.SendMessages(ctx, iggy.NamedID("bench-poll"), iggy.NamedID("t"), iggy.PartitionID(0), msgs); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(benchMsgs * benchPayload)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			res, err := c.PollMessages(ctx, iggy.NamedID("bench-poll"), iggy.NamedID("t"), iggy.SingleConsumer(1), iggy.Part(0),
				iggy.StrategyOffset(uint64(i%stored)*benchMsgs), benchMsgs, false)
			if err != nil || len(res.Messages) != benchMsgs {
				b.Fatalf("%v %v", len(res.Messages), err)
			}
			res.Release()
		}
		reportMessages(b)
	})
}

// rawCopy moves out bytes to a loopback peer that reads them and answers back bytes, in
// lockstep: the most a request/reply protocol over this TCP path can do.
func rawCopy(b *testing.B, out, back int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		in, reply := make([]byte, out), make([]byte, back)
		binary.LittleEndian.PutUint32(reply, uint32(back))
		for {
			if _, err := io.ReadFull(nc, in); err != nil {
				return
			}
			if _, err := nc.Write(reply); err != nil {
				return
			}
		}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	req, resp := make([]byte, out), make([]byte, back)
	for i := range req {
		req[i] = byte(i)
	}
	b.SetBytes(benchMsgs * benchPayload)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := nc.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(nc, resp); err != nil {
			b.Fatal(err)
		}
	}
	reportMessages(b)
}
