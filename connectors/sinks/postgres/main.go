// Command postgres is the PostgreSQL sink plugin, built with
//
//	go build -buildmode=c-shared -o libiggy_connector_postgres_sink.so .
//
// The logic lives in package pgsink.
package main

import (
	"github.com/iggy-go/connectors/connectors/sinks/postgres/pgsink"
	"github.com/iggy-go/connectors/sdk/export"
)

func init() { export.Register(pgsink.Plugin) }

func main() {}
