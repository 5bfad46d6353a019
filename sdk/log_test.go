package sdk

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/iggy-go/connectors/abi"
)

func TestLogBufferDropsOldestAndWarns(t *testing.T) {
	b := NewLogBuffer(3, "p")
	l := b.Logger(7)
	for i := 0; i < 5; i++ {
		l.Info("m", "i", i)
	}
	recs := b.Drain()
	if len(recs) != 4 || recs[0].Level != abi.LogWarn || !strings.Contains(recs[0].Message, "2 records dropped") {
		t.Fatalf("drain = %+v", recs)
	}
	for j, r := range recs[1:] {
		if r.Message != "m" || r.Instance != 7 || r.Target != "p" || r.Attrs[0] != (abi.LogAttr{Key: "i", Value: string(rune('2' + j))}) || r.TimeUs == 0 {
			t.Fatalf("record %d = %+v", j, r)
		}
	}
	if b.Drain() != nil {
		t.Fatal("second drain not empty")
	}
}

func TestLogLevelsGroupsAndAttrs(t *testing.T) {
	b := NewLogBuffer(10, "p")
	l := b.Logger(0).With("conn", "pg").WithGroup("q")
	l.Debug("hidden")
	l.Warn("slow", "ms", 12, slog.Group("db", "table", "t"))
	t.Setenv(LogLevelEnv, "trace")
	if err := b.SetLevelFromEnv(); err != nil || b.Level() != LevelTrace {
		t.Fatal(err, b.Level())
	}
	l.Log(context.Background(), LevelTrace, "tiny")
	t.Setenv(LogLevelEnv, "loud")
	if err := b.SetLevelFromEnv(); err == nil || !strings.Contains(err.Error(), LogLevelEnv) {
		t.Fatalf("bad level accepted: %v", err)
	}
	recs := b.Drain()
	if len(recs) != 2 || recs[0].Message != "slow" || recs[0].Level != abi.LogWarn || recs[1].Level != abi.LogTrace {
		t.Fatalf("records %+v", recs)
	}
	got := map[string]string{}
	for _, a := range recs[0].Attrs {
		got[a.Key] = a.Value
	}
	if got["conn"] != "pg" || got["q.ms"] != "12" || got["q.db.table"] != "t" {
		t.Fatalf("attrs %v", got)
	}
	for _, l := range []slog.Level{LevelTrace, slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
		if SlogLevel(ABILevel(l)) != l {
			t.Errorf("level %v does not round-trip", l)
		}
	}
}
