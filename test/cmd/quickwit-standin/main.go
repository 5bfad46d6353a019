// Command quickwit-standin runs the project's Quickwit STAND-IN (package test/quickwitstandin): a
// contract server implementing the part of Quickwit's REST API the Quickwit sink uses (index
// create/describe, NDJSON ingest with commit modes and per-document parse failures, a minimal
// search). It is not Quickwit; use it to try the sink without a Quickwit node.
//
//	quickwit-standin [--addr 127.0.0.1:7280] [--log-level info]
//
// SIGINT/SIGTERM stop it. Everything is in memory.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/iggy-go/connectors/test/quickwitstandin"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7280", "listen address")
	level := flag.String("log-level", "info", "debug, info, warn or error")
	flag.Parse()
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintln(os.Stderr, "quickwit-standin: --log-level:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	url, stop, err := quickwitstandin.New(log).Listen(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickwit-standin:", err)
		os.Exit(1)
	}
	fmt.Printf("%s listening on %s\n", quickwitstandin.Name, url)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	stop()
}
