// Command iceberg is the Apache Iceberg sink plugin, built with
//
//	go build -buildmode=c-shared -o libiggy_connector_iceberg_sink.so .
//
// The logic lives in package icebergsink.
package main

import (
	"github.com/iggy-go/connectors/connectors/sinks/iceberg/icebergsink"
	"github.com/iggy-go/connectors/sdk/export"
)

func init() { export.Register(icebergsink.Plugin) }

func main() {}
