package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/accord-chat/accord/raftstore"
)

// certs writes a region's development CA (once) and node certificates:
//
//	accord certs --dir DIR node-1 node-2 node-3
//
// Files: DIR/ca.pem, DIR/ca-key.pem, DIR/NAME.pem, DIR/NAME-key.pem. Every
// node certificate carries the name the nodes verify each other by, so
// they may run anywhere; keep ca-key.pem away from the nodes.
func certs(args []string) error {
	dir := new(string)
	fs := certsFlags(dir)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() == 0 {
		return fmt.Errorf("usage: accord certs --dir DIR NODE-NAME...")
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(*dir, "ca.pem")); os.IsNotExist(err) {
		if err := raftstore.GenerateCA(*dir); err != nil {
			return err
		}
	}
	for _, name := range fs.Args() {
		if err := raftstore.GenerateNodeCert(*dir, name); err != nil {
			return err
		}
		fmt.Println(filepath.Join(*dir, name+".pem"))
	}
	return nil
}

func certsFlags(dir *string) *flag.FlagSet {
	fs := quietFlags("accord certs")
	fs.StringVar(dir, "dir", "", "directory of the PEM files (required)")
	return fs
}

type regionFlagSet struct {
	fs                           *flag.FlagSet
	via, id, addr, ca, cert, key *string
	timeout                      *time.Duration
}

func regionFlags(op string) regionFlagSet {
	fs := quietFlags("accord region " + op)
	return regionFlagSet{fs: fs,
		via:     fs.String("via", "", "internal address of any member (required)"),
		id:      fs.String("id", "", "the node's Raft ID, node-N (add, remove)"),
		addr:    fs.String("addr", "", "the node's internal address (add)"),
		ca:      fs.String("tls-ca", "", "the region CA's certificate (required)"),
		cert:    fs.String("tls-cert", "", "the certificate to present (required)"),
		key:     fs.String("tls-key", "", "its key (required)"),
		timeout: fs.Duration("timeout", time.Minute, "give up after this long"),
	}
}

// region administers a running region's membership through any member:
//
//	accord region members --via ADDR --tls-ca CA --tls-cert CERT --tls-key KEY
//	accord region add     --via ADDR --id node-4 --addr HOST:PORT ...
//	accord region remove  --via ADDR --id node-2 ...
func region(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: accord region members|add|remove --via ADDR [--id ID] [--addr ADDR] --tls-ca CA --tls-cert CERT --tls-key KEY")
	}
	op := args[0]
	f := regionFlags(op)
	if err := f.fs.Parse(args[1:]); err != nil {
		return err
	}
	via, id, addr, ca, cert, key, timeout := f.via, f.id, f.addr, f.ca, f.cert, f.key, f.timeout
	if *via == "" || *ca == "" || *cert == "" || *key == "" {
		return fmt.Errorf("accord region %s: --via, --tls-ca, --tls-cert and --tls-key are required", op)
	}
	conf, err := raftstore.LoadTLS(*ca, *cert, *key)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	switch op {
	case "members":
		return printMembers(ctx, conf, *via)
	case "add":
		if *id == "" || *addr == "" {
			return fmt.Errorf("accord region add: --id and --addr are required")
		}
		if err := raftstore.AdminAddNode(ctx, conf, *via, *id, *addr); err != nil {
			return err
		}
		fmt.Printf("%s (%s) is a member of every shard\n", *id, *addr)
		return nil
	case "remove":
		if *id == "" {
			return fmt.Errorf("accord region remove: --id is required")
		}
		if err := raftstore.AdminRemoveNode(ctx, conf, *via, *id); err != nil {
			return err
		}
		fmt.Printf("%s is no longer a member of any shard\n", *id)
		return nil
	}
	return fmt.Errorf("accord region: unknown command %q (members, add, remove)", op)
}

func printMembers(ctx context.Context, conf *tls.Config, via string) error {
	shards, err := raftstore.AdminMembers(ctx, conf, via)
	if err != nil {
		return err
	}
	for _, s := range shards {
		var parts []string
		for _, m := range s.Members {
			p := m.ID + "@" + m.Addr
			if !m.Voter {
				p += " (non-voter)"
			}
			if m.Leader {
				p += " (leader)"
			}
			parts = append(parts, p)
		}
		line := fmt.Sprintf("shard %2d: %s", s.Shard, strings.Join(parts, ", "))
		if s.Error != "" {
			line += "  error: " + s.Error
		}
		fmt.Println(line)
	}
	return nil
}
