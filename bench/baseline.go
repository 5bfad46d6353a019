package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"syscall"
	"time"

	"github.com/iggy-go/connectors/runtime/iggy"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The baselines: what a plain Go program does with the same client, batch size and messages. Each
// runs as its own process (the harness binary in a hidden mode) so that it is pinned, sampled and
// compared exactly like the runtime process. Each works in the stream the harness names in its
// environment (baselineStream) and logs in with the credentials there (iggy/iggy without them).

func dialBaseline(ctx context.Context, addr string) (*iggy.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return iggy.Dial(dctx, iggy.Config{Address: addr, Username: envOr(baselineUserEnv, "iggy"), Password: envOr(baselinePassEnv, "iggy"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// RunProducer is the B1 baseline: it sends batches of batch copies of payload to bench/<topic>
// (balanced partitioning, ids left to the server) until ctx ends or max messages are sent (0 = no
// limit). This is the ceiling of the source path: the same client with nothing around it.
func RunProducer(ctx context.Context, addr, topic string, batch int, payload []byte, max uint64) error {
	c, err := dialBaseline(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	msgs := make([]iggy.Message, batch)
	for i := range msgs {
		msgs[i].Payload = payload
	}
	s, t := iggy.NamedID(baselineStream()), iggy.NamedID(topic)
	for sent := uint64(0); max == 0 || sent < max; sent += uint64(batch) {
		if _, err := c.SendMessages(ctx, s, t, iggy.Balanced(), msgs); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

// RunConsumer is the B2 baseline: a consumer-group member (iggy.GroupConsumer) that polls up to
// batch messages and commits the last offset of each non-empty poll (then releases the batch's
// reply memory for reuse, like the runtime's sink), until ctx ends. It sleeps 5ms after an empty
// poll, like the runtime's default poll_interval.
func RunConsumer(ctx context.Context, addr, topic, group string, batch int) error {
	c, err := dialBaseline(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	g := iggy.NewGroupConsumer(c, baselineStream(), topic, group, iggy.GroupConsumerOptions{})
	defer g.Close(context.WithoutCancel(ctx))
	for ctx.Err() == nil {
		b, err := g.Poll(ctx, batch)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(b.Messages) == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
			continue
		}
		err = g.Commit(ctx, b.PartitionID, b.Messages[len(b.Messages)-1].Offset)
		b.Release() // done with the batch: its reply memory is reused, as the runtime's sink does
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

// PGColumns are the columns the PostgreSQL sink writes with its default config (payload_format
// bytea, metadata, checksum and origin timestamp included), in its order.
var PGColumns = []string{"id", "iggy_offset", "iggy_timestamp", "iggy_stream", "iggy_topic", "iggy_partition_id",
	"iggy_checksum", "iggy_origin_timestamp", "payload"}

// CopyResult is what RunCopy prints (JSON on standard output).
type CopyResult struct {
	Rows    uint64 `json:"rows"`
	WallNs  int64  `json:"wall_ns"`
	CPUNs   int64  `json:"cpu_ns"`
	PeakRSS uint64 `json:"peak_rss"`
}

// RunCopy is the B3 baseline: it reads rows messages of bench/<topic> (not timed), then converts
// them to the sink's rows (the same values, through pgx's own encoders as a user would write it: the
// u128 id as a big.Int NUMERIC, where the sink encodes binary COPY itself) and writes them with
// plain pgx CopyFrom in rounds of batch rows into schema.table (which has the sink's shape), the conversion of each round timed
// with it (as pgsink's BenchmarkSinkVsCopyFrom does). The first tenth of the rounds is a warm-up;
// the rest is timed (wall and this process's CPU) and reported.
func RunCopy(ctx context.Context, addr, topic, pgURL, schema, table string, rows, batch int, out io.Writer) error {
	c, err := dialBaseline(ctx, addr)
	if err != nil {
		return err
	}
	msgs, partition, err := readAll(ctx, c, topic, rows)
	c.Close()
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	warm := max(1, len(msgs)/batch/10) * batch
	var t0 time.Time
	var cpu0 time.Duration
	round := make([][]any, 0, batch)
	for off := 0; off < len(msgs); off += batch {
		if off == warm {
			t0, cpu0 = time.Now(), selfCPU()
		}
		round = round[:0]
		for _, m := range msgs[off:min(off+batch, len(msgs))] {
			round = append(round, []any{pgtype.Numeric{Int: new(big.Int).SetBytes(m.ID[:]), Valid: true}, int64(m.Offset),
				time.UnixMicro(int64(m.Timestamp)).UTC(), baselineStream(), topic, int32(partition), int64(m.Checksum),
				time.UnixMicro(int64(m.OriginTimestamp)).UTC(), m.Payload})
		}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{schema, table}, PGColumns, pgx.CopyFromRows(round)); err != nil {
			return fmt.Errorf("CopyFrom into %s.%s: %w", schema, table, err)
		}
	}
	if t0.IsZero() {
		return fmt.Errorf("%d rows are too few for a warm-up of %d and a measured part", len(msgs), warm)
	}
	res := CopyResult{Rows: uint64(len(msgs) - warm), WallNs: time.Since(t0).Nanoseconds(), CPUNs: (selfCPU() - cpu0).Nanoseconds()}
	if ps, err := ReadProc(os.Getpid()); err == nil {
		res.PeakRSS = ps.HWM
	}
	return json.NewEncoder(out).Encode(res)
}

// readAll polls the first n messages of bench/<topic> (one partition) from offset 0.
func readAll(ctx context.Context, c *iggy.Client, topic string, n int) ([]iggy.Message, uint32, error) {
	td, err := c.GetTopic(ctx, iggy.NamedID(baselineStream()), iggy.NamedID(topic))
	if err != nil {
		return nil, 0, err
	}
	if len(td.Partitions) != 1 {
		return nil, 0, fmt.Errorf("topic %s has %d partitions, want 1", topic, len(td.Partitions))
	}
	part := td.Partitions[0].ID
	out := make([]iggy.Message, 0, n)
	for len(out) < n {
		res, err := c.PollMessages(ctx, iggy.NamedID(baselineStream()), iggy.NamedID(topic), iggy.SingleConsumer(1), iggy.Part(part),
			iggy.StrategyOffset(uint64(len(out))), uint32(min(1000, n-len(out))), false)
		if err != nil {
			return nil, 0, err
		}
		if len(res.Messages) == 0 {
			return nil, 0, fmt.Errorf("topic %s holds %d messages, want %d", topic, len(out), n)
		}
		out = append(out, res.Messages...) // each result owns its buffer
	}
	return out, part, nil
}

// selfCPU is this process's user + system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
