// Command mongodb is the MongoDB sink plugin, built with
//
//	go build -buildmode=c-shared -o libiggy_connector_mongodb_sink.so .
//
// The logic lives in package mongosink.
package main

import (
	"github.com/iggy-go/connectors/connectors/sinks/mongodb/mongosink"
	"github.com/iggy-go/connectors/sdk/export"
)

func init() { export.Register(mongosink.Plugin) }

func main() {}
