// Command accord runs Accord. With no subcommand it serves everything in
// one process on the embedded defaults.
//
//	accord [flags]                     serve (REST, gateway, web client)
//	accord edge --region R --node-id N --raft-addr ADDR [--join ADDR,...] [flags]
//	                                   serve as one edge node of a region
//	accord certs --dir DIR NAME...     write a region's development CA and node certificates
//	accord region members|add|remove --via ADDR ...
//	                                   change a running region's membership
//	accord bot create --name N [flags] create a bot application, print its token
//	accord migrate [flags]             apply the store's schema migrations (Cassandra)
//	accord turn --secret-file F --relay-ip IP [flags]
//	                                   run a TURN server alone
//	accord version
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/accord-chat/accord/core/store/cassandra"
	"github.com/accord-chat/accord/edge/node"
	"github.com/accord-chat/accord/internal/config"
)

var version = "dev"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "accord:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	command, rest := "serve", args
	if len(args) > 0 {
		switch args[0] {
		case "serve", "edge", "certs", "region", "bot", "migrate", "turn", "version":
			command, rest = args[0], args[1:]
		case "help":
			return helpCommand(args[1:])
		case "-h", "-help", "--help":
			printHelp(os.Stdout, "")
			return nil
		}
	}
	// Every command answers --help with its own text, on stdout, exit 0.
	if wantsHelp(rest) {
		printHelp(os.Stdout, command)
		return nil
	}
	switch command {
	case "edge":
		return serve(rest)
	case "certs":
		return certs(rest)
	case "region":
		return region(rest)
	case "bot":
		return bot(rest)
	case "migrate":
		return migrate(rest)
	case "turn":
		return turnCommand(rest)
	case "version":
		fmt.Println("accord", version)
		return nil
	}
	return serve(rest)
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

func serve(args []string) error {
	cfg, err := config.Load(args, os.Getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, err := node.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	return n.Run(ctx)
}

// bot creates a bot application for operators, without a user account,
// through a running node when there is one (see node.CreateBot).
func bot(args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return fmt.Errorf("usage: accord bot create --name NAME [--via INTERNAL-ADDR] [--data DIR] [config flags]")
	}
	var name, via string
	rest := []string{}
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case (a == "--name" || a == "--via") && i+1 < len(args):
			if a == "--name" {
				name = args[i+1]
			} else {
				via = args[i+1]
			}
			i++
		case strings.HasPrefix(a, "--name="):
			name = strings.TrimPrefix(a, "--name=")
		case strings.HasPrefix(a, "--via="):
			via = strings.TrimPrefix(a, "--via=")
		default:
			rest = append(rest, a)
		}
	}
	cfg, err := config.Load(rest, os.Getenv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := node.CreateBot(ctx, cfg, via, name, newLogger("warn"))
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "created bot %q, application id %s\n", b.Name, b.ID)
	fmt.Println(b.Token)
	return nil
}

// migrate applies schema migrations ahead of a rollout. Nodes also migrate
// at start; running it first keeps schema changes out of the start path.
func migrate(args []string) error {
	cfg, err := config.Load(args, os.Getenv)
	if err != nil {
		return err
	}
	if cfg.Store != "cassandra" {
		fmt.Println("the embedded store needs no migrations")
		return nil
	}
	log := newLogger(cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cassandra.Migrate(ctx, node.CassandraOptions(cfg, log)); err != nil {
		return err
	}
	fmt.Printf("keyspace %s is up to date\n", cfg.Cassandra.Keyspace)
	return nil
}
