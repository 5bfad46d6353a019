// Command stdout is the stdout sink plugin, built with
//
//	go build -buildmode=c-shared -o libiggy_connector_stdout_sink.so .
package main

import (
	"github.com/iggy-go/connectors/connectors/sinks/stdout/stdout"
	"github.com/iggy-go/connectors/sdk/export"
)

func init() { export.Register(stdout.Plugin) }

func main() {}
