// Command iggy-connectors is the connectors runtime: it loads connector plugins and moves data
// between Apache Iggy streams and external systems. See `iggy-connectors help`.
package main

import (
	"os"

	"github.com/iggy-go/connectors/runtime/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
