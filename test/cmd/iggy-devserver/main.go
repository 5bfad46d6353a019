// Command iggy-devserver runs the project's Apache Iggy 0.9 compatible development server
// (package test/iggyserver): the binary TCP protocol 0.11 with root user iggy/iggy. It is a
// development and test stand-in, not an Iggy replacement. Permissions are enforced as Apache
// Iggy enforces them: root and every --user hold every global permission; users created with
// CreateUser (e.g. the official CLI's `iggy user create`) get the permissions given.
//
//	iggy-devserver [--addr 127.0.0.1:8090] [--data-dir DIR] [--tls-cert F --tls-key F]
//	               [--user NAME:PASSWORD]... [--heartbeat-interval 30s] [--log-level info] [--trace]
//
// SIGINT/SIGTERM stop it cleanly; with --data-dir everything acknowledged survives even kill -9.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/iggy-go/connectors/test/iggyserver"
)

type userFlags map[string]string

func (u userFlags) String() string { return "" }
func (u userFlags) Set(v string) error {
	name, pass, ok := strings.Cut(v, ":")
	if !ok || name == "" || pass == "" {
		return fmt.Errorf("want NAME:PASSWORD, got %q", v)
	}
	u[name] = pass
	return nil
}

func main() {
	cfg := iggyserver.Config{Users: userFlags{}}
	flag.StringVar(&cfg.Addr, "addr", "127.0.0.1:8090", "TCP listen address")
	flag.StringVar(&cfg.DataDir, "data-dir", "", "directory for messages, offsets and metadata (empty: in memory only)")
	flag.BoolVar(&cfg.Fsync, "fsync", false, "fsync every write (survives power loss, slower)")
	flag.StringVar(&cfg.RootUsername, "root-username", "iggy", "root user name")
	flag.StringVar(&cfg.RootPassword, "root-password", "iggy", "root user password")
	flag.Var(userFlags(cfg.Users), "user", "extra user NAME:PASSWORD with every global permission (repeatable)")
	flag.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", 30*time.Second, "consumer-group members silent for 1.2x this are evicted")
	flag.BoolVar(&cfg.TraceFrames, "trace", false, "log every request and reply header (debug level)")
	cert := flag.String("tls-cert", "", "PEM certificate: serve TLS")
	key := flag.String("tls-key", "", "PEM private key for --tls-cert")
	level := flag.String("log-level", "info", "debug, info, warn or error")
	flag.Parse()

	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		fmt.Fprintf(os.Stderr, "iggy-devserver: --log-level: %v\n", err)
		os.Exit(2)
	}
	if cfg.TraceFrames {
		lv = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	cfg.Logger = log
	if *cert != "" || *key != "" {
		pair, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			log.Error("iggy-devserver: loading TLS key pair", "cert", *cert, "key", *key, "err", err)
			os.Exit(2)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	srv, err := iggyserver.New(cfg)
	if err != nil {
		log.Error("iggy-devserver: start failed", "err", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sig
		log.Info("iggy-devserver: stopping", "signal", s.String())
		srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil {
		log.Error("iggy-devserver: serve failed", "err", err)
		srv.Close()
		os.Exit(1)
	}
}
