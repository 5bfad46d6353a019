package pgutil

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iggy-go/connectors/sdk"
)

func TestPoolConfig(t *testing.T) {
	cases := []struct {
		conn     string
		max      int
		wantMax  int32
		wantWait time.Duration
	}{
		{"postgres://u:p@db.example:5433/app", 10, 10, 10 * time.Second},
		{"postgres://u@db/app?connect_timeout=3", 2, 2, 3 * time.Second},
		{"host=db user=u dbname=app", 1 << 40, 1<<31 - 1, 10 * time.Second},
	}
	for _, c := range cases {
		pcfg, err := PoolConfig(c.conn, c.max)
		if err != nil {
			t.Errorf("%s: %v", c.conn, err)
			continue
		}
		if pcfg.MaxConns != c.wantMax || pcfg.ConnConfig.ConnectTimeout != c.wantWait {
			t.Errorf("%s: max %d timeout %v, want %d %v", c.conn, pcfg.MaxConns, pcfg.ConnConfig.ConnectTimeout, c.wantMax, c.wantWait)
		}
	}
	_, err := PoolConfig("postgres://u:secret@db:notaport/app", 1)
	var fe *sdk.FieldError
	if !errors.As(err, &fe) || fe.Field != "connection_string" || strings.Contains(err.Error(), "secret") {
		t.Fatalf("bad string: %v, want a FieldError naming connection_string without the password", err)
	}
}
