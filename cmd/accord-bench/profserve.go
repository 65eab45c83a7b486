package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/accord-chat/accord/edge/node"
	"github.com/accord-chat/accord/internal/config"
)

// runServePprof runs an Accord node in this process, exactly as
// cmd/accord serves it (same config loading, same node), plus
// net/http/pprof on --pprof. The accord binary has no profiling endpoint;
// this is how the gateway's heap (memory per connection) and CPU profiles
// with Go symbols are taken. Benchmarks themselves use the real binary.
//
//	accord-bench serve-pprof --pprof 127.0.0.1:6060 -- --listen 127.0.0.1:8080 --data DIR --rate-limits off
func runServePprof(args []string) error {
	fs := flag.NewFlagSet("serve-pprof", flag.ContinueOnError)
	addr := fs.String("pprof", "127.0.0.1:6060", "address for net/http/pprof")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(fs.Args(), os.Getenv)
	if err != nil {
		return err
	}
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := node.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	servePprof(*addr)
	fmt.Fprintf(os.Stderr, "accord node on %s (pid %d)\n", n.Addr(), os.Getpid())
	return n.Run(ctx)
}
