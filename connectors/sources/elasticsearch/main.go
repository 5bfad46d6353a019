// Command elasticsearch is the Elasticsearch (and OpenSearch) source plugin, built with
//
//	go build -buildmode=c-shared -o libiggy_connector_elasticsearch_source.so .
//
// The logic lives in package essource.
package main

import (
	"github.com/iggy-go/connectors/connectors/sources/elasticsearch/essource"
	"github.com/iggy-go/connectors/sdk/export"
)

func init() { export.Register(essource.Plugin) }

func main() {}
