package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.yaml")
	os.WriteFile(file, []byte("listen: 127.0.0.1:9000\ndata: /from/file\nlog_level: debug\n"), 0o644)

	hb := Default().HeartbeatInterval
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want Config
	}{
		{"defaults", nil, nil, Config{Listen: "127.0.0.1:8080", Data: "./accord-data", PublicURL: "http://127.0.0.1:8080", RateLimits: "on", LogLevel: "info", Store: "embedded", HeartbeatInterval: hb}},
		{"file", []string{"--config", file}, nil, Config{Listen: "127.0.0.1:9000", Data: "/from/file", PublicURL: "http://127.0.0.1:9000", RateLimits: "on", LogLevel: "debug", Store: "embedded", HeartbeatInterval: hb}},
		{"env over file", []string{"--config", file}, map[string]string{"ACCORD_DATA": "/from/env", "ACCORD_LISTEN": "127.0.0.1:9001"},
			Config{Listen: "127.0.0.1:9001", Data: "/from/env", PublicURL: "http://127.0.0.1:9001", RateLimits: "on", LogLevel: "debug", Store: "embedded", HeartbeatInterval: hb}},
		{"flags over env", []string{"--heartbeat-interval", "2s", "--data", "/from/flag", "--listen", "0.0.0.0:1", "--rate-limits", "off", "--public-url", "https://x.example/"},
			map[string]string{"ACCORD_DATA": "/from/env"},
			Config{Listen: "0.0.0.0:1", Data: "/from/flag", PublicURL: "https://x.example", RateLimits: "off", LogLevel: "info", Store: "embedded", HeartbeatInterval: 2 * time.Second}},
	}
	cases = append(cases, struct {
		name string
		args []string
		env  map[string]string
		want Config
	}{"region flags", []string{"--region", "eu", "--raft-addr", "127.0.0.1:7001", "--join", "127.0.0.1:7000, 127.0.0.1:7002", "--shards", "4",
		"--tls-ca", "ca.pem", "--tls-cert", "n.pem", "--tls-key", "n-key.pem", "--store", "cassandra", "--cassandra-hosts", "127.0.0.1", "--cassandra-dc", "dc1"}, nil,
		Config{Listen: "127.0.0.1:8080", Data: "./accord-data", PublicURL: "http://127.0.0.1:8080", RateLimits: "on", LogLevel: "info", Store: "cassandra", HeartbeatInterval: hb,
			Cassandra: Cassandra{Hosts: []string{"127.0.0.1"}, DC: "dc1", Replication: map[string]int{"dc1": 1}},
			Region:    Region{Name: "eu", RaftAddr: "127.0.0.1:7001", Shards: 4, Join: []string{"127.0.0.1:7000", "127.0.0.1:7002"}, TLS: TLSFiles{CA: "ca.pem", Cert: "n.pem", Key: "n-key.pem"}}}})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Load(c.args, env(c.env))
			if err != nil {
				t.Fatal(err)
			}
			c.want.Cassandra.Keyspace = "accord"
			c.want.MaxUploadMiB = 10 // Discord's default
			if c.want.Region.Name == "" {
				c.want.Region = Default().Region
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestRejects(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "u.yaml")
	os.WriteFile(unknown, []byte("lisen: x\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--config", unknown}, "lisen"},
		{[]string{"--listen", "nope"}, "listen"},
		{[]string{"--rate-limits", "maybe"}, "rate_limits"},
		{[]string{"--store", "mongo"}, "store"},
		{[]string{"--store", "cassandra"}, "cassandra.hosts"},
		{[]string{"--store", "cassandra", "--cassandra-hosts", "127.0.0.1"}, "cassandra.dc"},
		{[]string{"--cassandra-replication", "dc1"}, "dc:factor"},
		{[]string{"--node-id", "5000"}, "node_id"},
		{[]string{"--max-upload-mib", "-1"}, "max_upload_mib"},
		{[]string{"--max-upload-mib", "2048"}, "max_upload_mib"},
		{[]string{"--bogus"}, "bogus"},
		{[]string{"extra"}, "unexpected"},
		{[]string{"--raft-addr", "nope"}, "region.raft_addr"},
		{[]string{"--shards", "1000"}, "region.shards"},
		{[]string{"--tls-ca", "ca.pem"}, "region.tls"},
		{[]string{"--join", "127.0.0.1:9200"}, "needs the region's CA"},
		{[]string{"--join", "127.0.0.1:9200", "--tls-ca", "a", "--tls-cert", "b", "--tls-key", "c"}, "use cassandra with join"},
	}
	for _, c := range cases {
		_, err := Load(c.args, env(nil))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Load(%v) err = %v, want mention of %q", c.args, err, c.want)
		}
	}
}

// The example shipped for operators must stay loadable.
func TestExampleFileLoads(t *testing.T) {
	cfg, err := Load([]string{"--config", "../../deploy/accord.example.yaml"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "0.0.0.0:8080" || cfg.PublicURL != "https://chat.example.org" {
		t.Fatalf("example not applied: %+v", cfg)
	}
}

func TestCassandraSettings(t *testing.T) {
	cfg, err := Load([]string{"--store", "cassandra", "--cassandra-hosts", "127.0.0.1, 127.0.0.2", "--cassandra-dc", "dc1",
		"--cassandra-replication", "dc1:1,dc2:1"}, env(map[string]string{"ACCORD_CASSANDRA_KEYSPACE": "ks"}))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Cassandra
	if len(c.Hosts) != 2 || c.Hosts[1] != "127.0.0.2" || c.DC != "dc1" || c.Keyspace != "ks" || c.Replication["dc2"] != 1 {
		t.Fatalf("cassandra config %+v", c)
	}
	cfg, err = Load(nil, env(map[string]string{"ACCORD_STORE": "cassandra", "ACCORD_CASSANDRA_HOSTS": "h", "ACCORD_CASSANDRA_DC": "eu"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cassandra.Keyspace != "accord" || cfg.Cassandra.Replication["eu"] != 1 {
		t.Fatalf("defaults not applied: %+v", cfg.Cassandra)
	}
}

func TestCDNURL(t *testing.T) {
	cfg, err := Load([]string{"--cdn-url", "https://files.example.org"}, env(nil))
	if err != nil || cfg.CDNURL != "https://files.example.org" {
		t.Fatalf("--cdn-url: %q, %v", cfg.CDNURL, err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg.CDNURL = "files.example.org"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "cdn_url") {
		t.Fatalf("a URL without scheme validated: %v", err)
	}
}

func TestMaxUpload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "u.yaml")
	os.WriteFile(file, []byte("max_upload_mib: 50\n"), 0o644)
	cases := []struct {
		args []string
		env  map[string]string
		want int
	}{
		{nil, nil, 10},
		{[]string{"--config", file}, nil, 50},
		{[]string{"--config", file}, map[string]string{"ACCORD_MAX_UPLOAD_MIB": "25"}, 25},
		{[]string{"--max-upload-mib", "8"}, map[string]string{"ACCORD_MAX_UPLOAD_MIB": "25"}, 8},
	}
	for _, c := range cases {
		cfg, err := Load(c.args, env(c.env))
		if err != nil || cfg.MaxUploadMiB != c.want {
			t.Errorf("Load(%v, %v): max upload %d MiB (%v), want %d", c.args, c.env, cfg.MaxUploadMiB, err, c.want)
		}
	}
	if _, err := Load(nil, env(map[string]string{"ACCORD_MAX_UPLOAD_MIB": "lots"})); err == nil {
		t.Error("ACCORD_MAX_UPLOAD_MIB=lots loaded")
	}
}
