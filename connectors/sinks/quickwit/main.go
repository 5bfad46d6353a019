// Command quickwit is the Quickwit sink plugin, built with
//
//	go build -buildmode=c-shared -o libiggy_connector_quickwit_sink.so .
//
// The logic lives in package qwsink.
package main

import (
	"github.com/iggy-go/connectors/connectors/sinks/quickwit/qwsink"
	"github.com/iggy-go/connectors/sdk/export"
)

func init() { export.Register(qwsink.Plugin) }

func main() {}
