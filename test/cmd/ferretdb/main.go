// Command ferretdb runs FerretDB v1 (github.com/FerretDB/FerretDB/ferretdb, the embeddable package)
// on its PostgreSQL backend: a MongoDB wire-protocol server for the MongoDB sink's tests, because
// no registry reachable here serves a real mongod and `go install` of FerretDB's own command builds
// a binary that panics at start (its version file is generated at release time).
//
// It is its own Go module, outside go.work (build it with GOWORK=off), so FerretDB's dependency
// tree stays out of the project's modules. scripts/ferretdb.sh builds and starts it:
//
//	ferretdb --listen 127.0.0.1:27018 --postgresql-url postgres://postgres@127.0.0.1:54329/ferretdb
//
// It serves until SIGINT or SIGTERM, then closes its listener and backend and exits 0. It reports
// MongoDB 7.0 to clients; FerretDB v1 has no transactions, change streams, Decimal128 or
// $jsonSchema validators.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27017", "TCP address to listen on (host:port)")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL URL of the backend database (required)")
	level := flag.String("log-level", "warn", "log level: debug, info, warn or error")
	flag.Parse()
	if *pgURL == "" {
		fmt.Fprintln(os.Stderr, "ferretdb: --postgresql-url is required")
		os.Exit(2)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: --log-level: %v\n", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Logger:        log,
		Handler:       "postgresql",
		PostgreSQLURL: *pgURL,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// Run blocks until the listener is up and then until ctx ends; the URI needs the listener.
		log.Warn("ferretdb listening", "uri", f.MongoDBURI())
	}()
	if err := f.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		os.Exit(1)
	}
}
