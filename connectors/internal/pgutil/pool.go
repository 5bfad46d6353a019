package pgutil

import (
	"math"
	"time"

	"github.com/iggy-go/connectors/sdk"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PoolConfig parses the connectors' connection_string (a URL or libpq DSN, as pgx reads it) into
// a pool configuration of at most maxConns connections, each dialled with a 10 s timeout unless
// the string sets connect_timeout. An unparsable string is an sdk.FieldError naming
// connection_string (pgx masks a password in the message).
func PoolConfig(connString string, maxConns int) (*pgxpool.Config, error) {
	pcfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, sdk.FieldErrorf("connection_string", "cannot parse: %v", err)
	}
	pcfg.MaxConns = int32(min(maxConns, math.MaxInt32))
	if pcfg.ConnConfig.ConnectTimeout == 0 {
		pcfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	return pcfg, nil
}
