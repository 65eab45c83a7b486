// Command accord-bench is Accord's load tool. It drives a running server
// over the REST API, or fills a fresh data directory directly through the
// embedded store.
//
// Usage:
//
//	accord-bench rest    --url http://127.0.0.1:8080 --clients 64 --duration 20s --channels 64 [--verify 1000]
//	accord-bench seed    --data DIR --messages 1000000 --channels 1000
//	accord-bench history --url http://127.0.0.1:8080 --token T --channels-file F --clients 16 --duration 15s
//	accord-bench seed-guild --data DIR --members 15000 --out tokens.txt
//	accord-bench gateway --url http://127.0.0.1:8080 --tokens tokens.txt --conns 15000 --procs 4 --rate 5/s --duration 30s --server-pid PID
//	accord-bench centrifugo-config --out centrifugo.json --listen 127.0.0.1:8001 --api-key K
//	accord-bench centrifugo --url http://127.0.0.1:8001 --api-key K --conns 15000 --procs 4 --rate 5/s --server-pid PID
//	accord-bench fanout-table --accord-mem F[,F…] --centrifugo-mem F --accord-lat F --centrifugo-lat F
//	accord-bench serve-pprof --pprof 127.0.0.1:6060 -- ACCORD-FLAGS
//	accord-bench voice   --url http://127.0.0.1:8080 --tokens tokens.txt --channels 10 --size 10 --speakers 2 --server-pid PID
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
// seed-guild writes, with the server stopped, one guild with --members
// members (each a user with a token) and one text channel, and writes the
// tokens to a file, the owner's first.
//
// gateway and centrifugo measure WebSocket fan-out. They start --procs
// copies of this binary as workers (hidden subcommand gateway-worker; one
// process may hold at most 20,000 open files here), which open --conns
// connections between them at --ramp per second and per process, from
// source addresses rotating over --src. Accord clients identify with
// GUILDS|GUILD_MESSAGES|MESSAGE_CONTENT and heartbeat as told by HELLO;
// Centrifugo clients connect anonymously, subscribe to one channel and
// answer pings. With every connection idle for --idle, the server's
// memory (VmRSS of --server-pid, and heap and stacks from /metrics) is
// compared with a baseline taken before connecting: memory per idle
// connection. Then --rate messages a second for --duration carry their
// send time (unix nanos); each worker records receive − send for every
// delivery, and the coordinator reports p50/p90/p99/max, deliveries/s,
// missing deliveries (per acknowledged message, the connections it did
// not reach), duplicates and the CPU split between server, load generator
// and the rest of the machine. Accord's messages are posted over REST by
// the first token's user; Centrifugo's through its HTTP API
// (centrifugo-config writes a matching configuration). --json FILE keeps
// the results; fanout-table prints the comparison of several such files
// (median and range). deploy/bench/gateway-vs-centrifugo.sh runs it all.
//
// tcp-floor measures the same fan-out with no server at all: raw write(2)
// to loopback sockets read by a separate epoll process (floor.go). What
// it reports is the least any gateway can reach on the machine.
//
// voice measures the SFU with bots' UDP voice (voice.go): channels of
// --size members with --speakers talking, the server's CPU per
// down-track, loss, and send-to-receive latency through the node.
//
// serve-pprof runs an Accord node in this process with net/http/pprof, for
// heap and CPU profiles of the gateway (the accord binary has none).
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
	case "seed-guild":
		err = runSeedGuild(os.Args[2:])
	case "gateway":
		err = runGateway(os.Args[2:])
	case "centrifugo":
		err = runCentrifugo(os.Args[2:])
	case "centrifugo-config":
		err = runCentrifugoConfig(os.Args[2:])
	case "fanout-table":
		err = runFanoutTable(os.Args[2:])
	case "serve-pprof":
		err = runServePprof(os.Args[2:])
	case "tcp-floor":
		err = runTCPFloor(os.Args[2:])
	case "voice":
		err = runVoice(os.Args[2:])
	case "tcp-floor-reader": // started by tcp-floor
		err = runTCPFloorReader(os.Args[2:])
	case "gateway-worker": // started by gateway and centrifugo, not by hand
		err = runGatewayWorker(os.Args[2:])
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
  accord-bench seed-guild --data DIR [--members 15000] [--out tokens.txt]
  accord-bench gateway --url URL --tokens F --server-pid PID [--conns 10000] [--procs 4] [--rate 5/s] [--duration 30s]
  accord-bench centrifugo-config --out F [--listen 127.0.0.1:8001] [--api-key K]
  accord-bench centrifugo --url URL --api-key K --server-pid PID [--conns 10000] [--procs 4] [--rate 5/s] [--frame-bytes N]
  accord-bench fanout-table --accord-mem F --centrifugo-mem F --accord-lat F --centrifugo-lat F
  accord-bench serve-pprof --pprof ADDR -- ACCORD-FLAGS   (an accord node in-process, with pprof)
  accord-bench tcp-floor [--conns 10000] [--rate 5/s] [--duration 30s] [--size 932]   (raw TCP fan-out, no server)
  accord-bench voice --url URL --tokens F --channels 10 --size 10 --speakers 2 --server-pid PID   (SFU forwarding, bots' UDP voice)
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
