// Command postgres is the PostgreSQL source plugin, built with
//
//	go build -buildmode=c-shared -o libiggy_connector_postgres_source.so .
//
// The logic lives in package pgsource.
package main

import (
	"github.com/iggy-go/connectors/connectors/sources/postgres/pgsource"
	"github.com/iggy-go/connectors/sdk/export"
)

func init() { export.Register(pgsource.Plugin) }

func main() {}
