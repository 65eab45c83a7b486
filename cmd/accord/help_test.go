package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestHelp: every command answers --help (and -h, and "accord help
// COMMAND") with its own text on stdout and exit status 0, listing its
// flags spelled as the README spells them and nothing it does not take.
func TestHelp(t *testing.T) {
	bin := accordBinary(t)
	var serveFlags []string
	for _, d := range configDocs() {
		serveFlags = append(serveFlags, "--"+d.Name+" ")
	}
	if len(serveFlags) < 20 {
		t.Fatalf("the server takes %d flags?", len(serveFlags))
	}
	cases := []struct {
		args      []string
		want, not []string
	}{
		{[]string{"--help"}, []string{"accord bot create", "accord edge", "accord certs", "accord region", "accord migrate", "accord version"}, nil},
		{[]string{"-h"}, []string{"accord bot create"}, nil},
		{[]string{"help"}, []string{"accord bot create"}, nil},
		{[]string{"serve", "--help"}, serveFlags, []string{"--name", "--via"}},
		{[]string{"--listen", "127.0.0.1:1", "--help"}, serveFlags, nil},
		{[]string{"edge", "-h"}, append([]string{"--region NAME", "--join"}, serveFlags...), nil},
		{[]string{"help", "serve"}, serveFlags, nil},
		{[]string{"bot", "create", "--help"}, []string{"--name NAME", "--via HOST:PORT", "--data DIR", "--config FILE", "--store ", "--cassandra-hosts "},
			[]string{"--listen", "--raft-addr", "--rate-limits", "--heartbeat-interval", "--join", "--public-url"}},
		{[]string{"help", "bot"}, []string{"--name NAME"}, []string{"--listen"}},
		{[]string{"certs", "--help"}, []string{"--dir DIR"}, []string{"--listen"}},
		{[]string{"region", "--help"}, []string{"members", "add --id ID --addr HOST:PORT", "remove --id ID", "--via HOST:PORT", "--tls-ca PEM", "--timeout"}, []string{"--listen"}},
		{[]string{"region", "add", "-h"}, []string{"--addr HOST:PORT"}, nil},
		{[]string{"migrate", "--help"}, []string{"--cassandra-hosts", "--cassandra-dc", "--cassandra-replication"}, []string{"--listen", "--name"}},
		{[]string{"turn", "--help"}, []string{"--secret-file VALUE", "--relay-ip VALUE", "--allow-peers", "--max-bitrate N"}, []string{"--listen"}},
		{[]string{"version", "--help"}, []string{"accord version"}, nil},
	}
	for _, c := range cases {
		cmd := exec.Command(bin, c.args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Errorf("accord %s: %v (stderr %q), want exit status 0", strings.Join(c.args, " "), err, stderr.String())
			continue
		}
		out := stdout.String()
		if stderr.Len() != 0 || strings.Contains(out, "help requested") || !strings.HasPrefix(out, "Usage") && !strings.HasPrefix(out, "Accord") {
			t.Errorf("accord %s: stdout %q, stderr %q", strings.Join(c.args, " "), out, stderr.String())
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("accord %s: help lacks %q:\n%s", strings.Join(c.args, " "), w, out)
			}
		}
		for _, n := range c.not {
			if strings.Contains(out, n) {
				t.Errorf("accord %s: help lists %q, which it does not take:\n%s", strings.Join(c.args, " "), n, out)
			}
		}
		if strings.Contains(out, "\n  -") && strings.Contains(strings.ReplaceAll(out, "--", ""), "\n  -") {
			t.Errorf("accord %s: a flag spelled with one dash:\n%s", strings.Join(c.args, " "), out)
		}
	}
	// A bad flag is still an error, naming where the flags are listed.
	out, err := exec.Command(bin, "serve", "--bogus").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--help") {
		t.Errorf("accord serve --bogus: %v %q", err, out)
	}
	if out, err := exec.Command(bin, "help", "nosuch").CombinedOutput(); err == nil {
		t.Errorf("accord help nosuch succeeded: %q", out)
	}
}
