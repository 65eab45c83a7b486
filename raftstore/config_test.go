package raftstore

import (
	"testing"

	"github.com/hashicorp/raft"
)

func TestConfigValidate(t *testing.T) {
	fsm := func(int) raft.FSM { return &listFSM{} }
	ok := Config{NodeID: "n1", FSM: fsm}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"defaults", func(*Config) {}, true},
		{"no id", func(c *Config) { c.NodeID = "" }, false},
		{"no fsm", func(c *Config) { c.FSM = nil }, false},
		{"bootstrap and join", func(c *Config) { c.Bootstrap, c.Join = true, []string{"x:1"} }, false},
		{"negative shards", func(c *Config) { c.Shards = -1 }, false},
		{"lease above heartbeat", func(c *Config) { c.LeaderLeaseTimeout = c.HeartbeatTimeout + 1 }, false},
	} {
		cfg, err := ok.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		tc.edit(&cfg)
		if err := cfg.validate(); (err == nil) != tc.ok {
			t.Errorf("%s: validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	cfg, _ := ok.withDefaults()
	if cfg.Shards != 16 || cfg.MaxVoters != 5 {
		t.Errorf("defaults: %d shards, %d voters", cfg.Shards, cfg.MaxVoters)
	}
	if _, err := New(Config{NodeID: "n1", FSM: fsm, BindAddr: "127.0.0.1:0", DataDir: t.TempDir()}); err == nil {
		t.Error("New without TLS or Insecure succeeded")
	}
	if _, err := New(Config{NodeID: "n1", FSM: fsm, BindAddr: ":0", DataDir: t.TempDir(), Insecure: true}); err == nil {
		t.Error("New on an unspecified address without AdvertiseAddr succeeded")
	}
}
