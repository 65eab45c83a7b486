package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/accord-chat/accord/internal/config"
)

const mainHelp = `Accord: a self-hosted, Discord-compatible chat server.

Usage:
  accord [serve] [flags]              run Accord in one process on the embedded defaults
  accord edge [flags]                 run one edge node of a region
  accord bot create --name NAME       create a bot application and print its token
  accord certs --dir DIR NAME...      write a region's development CA and node certificates
  accord region members|add|remove    show or change a running region's membership
  accord migrate [flags]              apply the Cassandra schema migrations ahead of a rollout
  accord turn [flags]                 run a TURN server for voice on a machine of its own
  accord version                      print the version
  accord help [COMMAND]               this text, or a command's

Run "accord COMMAND --help" for the flags of a command.
`

// helps is each command's help: what it does, then its flags.
var helps = map[string]func() string{
	"serve": func() string {
		return "Usage: accord [serve] [flags]\n\nRuns REST, the gateway and the web client on one port, with the data under --data.\n" +
			"Settings also come from a YAML file (--config) and ACCORD_* variables; flags win.\n\nFlags:\n" + config.FormatFlags(configDocs())
	},
	"edge": func() string {
		return "Usage: accord edge --region NAME --node-id N --raft-addr HOST:PORT [--join HOST:PORT,...] --tls-ca CA --tls-cert CERT --tls-key KEY [flags]\n\n" +
			"Runs one edge node of a region: the same server as serve, in the region's Raft groups, on Cassandra.\n\nFlags:\n" +
			config.FormatFlags(configDocs())
	},
	"bot": func() string {
		return "Usage: accord bot create --name NAME [--via HOST:PORT] [flags]\n\n" +
			"Creates a bot application owned by the operator and prints its token. It goes through the\n" +
			"running node when there is one (its internal port, found in --data, or --via), and opens\n" +
			"the store itself when none runs.\n\nFlags:\n" +
			config.FormatFlags([]config.FlagDoc{
				{Name: "name", Arg: "NAME", Usage: "the bot's name (required)"},
				{Name: "via", Arg: "HOST:PORT", Usage: "a running node's internal address (default: found in --data)"},
			}) +
			config.FormatFlags(configDocs(), "data", "config", "store", "cassandra-hosts", "cassandra-dc", "cassandra-keyspace",
				"tls-ca", "tls-cert", "tls-key")
	},
	"certs": func() string {
		return "Usage: accord certs --dir DIR NAME...\n\n" +
			"Writes a region's development CA (once) and a certificate for each node NAME: DIR/ca.pem,\n" +
			"DIR/ca-key.pem, DIR/NAME.pem and DIR/NAME-key.pem. Keep ca-key.pem away from the nodes.\n\nFlags:\n" +
			config.FormatFlags(config.FlagDocs(certsFlags(new(string))))
	},
	"region": func() string {
		return "Usage: accord region members|add|remove --via HOST:PORT --tls-ca CA --tls-cert CERT --tls-key KEY [flags]\n\n" +
			"Commands:\n" + fmt.Sprintf("%-38s %s\n%-38s %s\n%-38s %s\n",
			"  members", "list each shard's members and leader",
			"  add --id ID --addr HOST:PORT", "make a node a member of every shard",
			"  remove --id ID", "take a node out of every shard") + "\nFlags:\n" +
			config.FormatFlags(config.FlagDocs(regionFlags("").fs))
	},
	"migrate": func() string {
		return "Usage: accord migrate --store cassandra --cassandra-hosts HOSTS --cassandra-dc DC [flags]\n\n" +
			"Applies the store's schema migrations. Nodes migrate at start too; running this first keeps\n" +
			"schema changes out of a rollout's start path. The embedded store needs none.\n\nFlags:\n" +
			config.FormatFlags(configDocs(), "config", "store", "cassandra-hosts", "cassandra-dc", "cassandra-keyspace", "cassandra-replication", "log-level")
	},
	"turn": func() string {
		return "Usage: accord turn --secret-file FILE --relay-ip IP [flags]\n\n" +
			"Runs a TURN server alone. Voice clients get short-lived credentials from the edge nodes,\n" +
			"made with the same secret; relays reach public addresses and --allow-peers only.\n\nFlags:\n" +
			config.FormatFlags(config.FlagDocs(turnFlags().fs))
	},
	"version": func() string { return "Usage: accord version\n\nPrints the version.\n" },
}

// configDocs are the flags every server command takes.
func configDocs() []config.FlagDoc {
	_, err := config.Load([]string{"--help"}, func(string) string { return "" })
	var he *config.HelpError
	if errors.As(err, &he) {
		return he.Flags
	}
	return nil
}

// wantsHelp reports whether args ask for help anywhere.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// printHelp writes a command's help ("" for the main one) to w; false for
// a command there is none of.
func printHelp(w io.Writer, command string) bool {
	if command == "" {
		fmt.Fprint(w, mainHelp)
		return true
	}
	h, ok := helps[command]
	if ok {
		fmt.Fprint(w, h())
	}
	return ok
}

// helpCommand answers "accord help [COMMAND]".
func helpCommand(args []string) error {
	command := ""
	if len(args) > 0 {
		command = args[0]
	}
	if !printHelp(os.Stdout, command) {
		return fmt.Errorf("no command %q (accord help lists them)", command)
	}
	return nil
}

// quietFlags is a FlagSet that reports --help to its caller instead of
// printing Go's own usage.
func quietFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}
