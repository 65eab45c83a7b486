// Command accord-bench is Accord's load tool. It drives a running server
// over the REST API, or fills a fresh data directory directly through the
// embedded store.
//
// Usage:
//
//	accord-bench rest    --url http://127.0.0.1:8080 --clients 64 --duration 20s --channels 64 [--verify 1000]
//	accord-bench seed    --data DIR --messages 1000000 --channels 1000
//	accord-bench history --url http://127.0.0.1:8080 --token T --channels-file F --clients 16 --duration 15s
//
// rest registers one user per client (joined to a fresh guild through an
// invite), then every client posts messages in a loop over its own
// keep-alive connection for --duration, and prints creates/s, latency
// percentiles and errors by status. With --verify N it reads back N of the
// acknowledged messages (-1: all) and reports any that are missing.
//
// seed writes, with the server stopped, a user, a guild with --channels
// text channels and --messages messages spread over them across --span of
// timestamps (many ten-day buckets) into DIR/store, the directory
// `accord --data DIR` uses. It prints the user's token and writes it and
// the channel IDs (one per line) to files in DIR.
//
// history reads the latest page (--limit, default 50) of random channels
// from --clients concurrent clients and prints reads/s and latency
// percentiles.
//
// Against a loopback URL every client dials from its own 127.0.0.x source
// address, so tens of thousands of connections do not exhaust one
// address's ephemeral ports. --pprof ADDR serves the load generator's own
// profiles (net/http/pprof) while it runs; the server has none.
//
// The server and the load generator share the machine's CPUs when run on
// one host; the numbers include that contention.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	_ "net/http/pprof" // profiles of the load generator, with --pprof
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "rest":
		err = runREST(os.Args[2:])
	case "seed":
		err = runSeed(os.Args[2:])
	case "history":
		err = runHistory(os.Args[2:])
	case "help", "-h", "--help":
		usage()
		return
	default:
		usage()
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "accord-bench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  accord-bench rest    --url URL [--clients 64] [--duration 20s] [--channels 64] [--verify 1000]
  accord-bench seed    --data DIR [--messages 1000000] [--channels 1000] [--span 2160h]
  accord-bench history --url URL --token T --channels-file F [--clients 16] [--duration 15s]
run "accord-bench SUBCOMMAND -h" for every flag
`)
}

// servePprof serves net/http/pprof on addr in the background when addr is
// set.
func servePprof(addr string) {
	if addr == "" {
		return
	}
	go func() {
		if err := http.ListenAndServe(addr, nil); err != nil {
			fmt.Fprintln(os.Stderr, "accord-bench: pprof:", err)
		}
	}()
	fmt.Fprintf(os.Stderr, "pprof on http://%s/debug/pprof/\n", addr)
}
