// Command random is the random source plugin, built with
//
//	go build -buildmode=c-shared -o libiggy_connector_random_source.so .
package main

import (
	"github.com/iggy-go/connectors/connectors/sources/random/random"
	"github.com/iggy-go/connectors/sdk/export"
)

func init() { export.Register(random.Plugin) }

func main() {}
