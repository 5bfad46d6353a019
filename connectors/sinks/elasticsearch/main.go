// Command elasticsearch is the Elasticsearch (and OpenSearch) sink plugin, built with
//
//	go build -buildmode=c-shared -o libiggy_connector_elasticsearch_sink.so .
//
// The logic lives in package essink.
package main

import (
	"github.com/iggy-go/connectors/connectors/sinks/elasticsearch/essink"
	"github.com/iggy-go/connectors/sdk/export"
)

func init() { export.Register(essink.Plugin) }

func main() {}
