package raftstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"
)

// Config describes one node of a region. The zero value of every optional
// field means its default; see withDefaults.
type Config struct {
	// NodeID is the node's raft.ServerID in every shard. It must stay the
	// same across restarts; New refuses a DataDir written under another ID.
	NodeID string
	// BindAddr is host:port of the node's one internal listener, which
	// carries Raft, admin and forwarded streams.
	BindAddr string
	// AdvertiseAddr is the address peers dial; it defaults to the bound
	// address with port 0 resolved. It is the Raft ServerAddress, so it
	// must stay the same across restarts too.
	AdvertiseAddr string
	// DataDir holds DataDir/log (every shard's log and stable store) and,
	// per shard, DataDir/shard-NN/snapshots.
	DataDir string
	// Shards is the fixed number of Raft groups (default 16). Changing it
	// for an existing region remaps every key (see ShardOf).
	Shards int
	// TLS is used both to listen and to dial; LoadTLS builds one.
	TLS *tls.Config
	// Insecure allows plain TCP when TLS is nil; for tests only.
	Insecure bool
	// Bootstrap makes this node the sole voter of every shard that has no
	// state yet: set it on the first node of a new region. It is a no-op on
	// restart.
	Bootstrap bool
	// Join lists members to ask, in turn, to add this node to every shard
	// when it has no state yet. Start retries until one succeeds.
	Join []string
	// MaxVoters caps the voters per shard (default 5); nodes added beyond
	// it join as non-voters.
	MaxVoters int
	// Machine is the node's replicated state (see StateMachine): the Node
	// feeds it committed entries, snapshots, restores and leadership
	// changes, and serves Propose and Forward for it.
	Machine StateMachine
	// FSM is the lower-level alternative to Machine, for this package's
	// own tests: a raw raft.FSM per shard (see the package doc for the
	// contract). Exactly one of Machine and FSM is set.
	FSM func(shard int) raft.FSM
	// Logger receives this package's and raft's (Warn and above) logs.
	Logger *slog.Logger

	// Raft timing. The defaults (500ms/500ms/250ms/5ms) suit a LAN or
	// loopback; raise them across data centres.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	// Snapshots: raft's defaults (8192 entries, checked every 120s, 10240
	// entries kept after a snapshot so slow followers can catch up from
	// the log rather than a snapshot).
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
}

func (c Config) withDefaults() (Config, error) {
	if c.Shards == 0 {
		c.Shards = 16
	}
	if c.MaxVoters == 0 {
		c.MaxVoters = 5
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = 500 * time.Millisecond
	}
	if c.ElectionTimeout == 0 {
		c.ElectionTimeout = 500 * time.Millisecond
	}
	if c.LeaderLeaseTimeout == 0 {
		c.LeaderLeaseTimeout = 250 * time.Millisecond
	}
	if c.CommitTimeout == 0 {
		c.CommitTimeout = 5 * time.Millisecond
	}
	def := raft.DefaultConfig()
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = def.SnapshotThreshold
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = def.SnapshotInterval
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = def.TrailingLogs
	}
	return c, c.validate()
}

func (c Config) validate() error {
	var errs []error
	if c.NodeID == "" {
		errs = append(errs, errors.New("NodeID is required"))
	}
	if c.Shards < 1 || c.Shards > 1024 {
		errs = append(errs, fmt.Errorf("Shards %d: want 1..1024", c.Shards))
	}
	if c.MaxVoters < 1 {
		errs = append(errs, fmt.Errorf("MaxVoters %d: want at least 1", c.MaxVoters))
	}
	if (c.FSM == nil) == (c.Machine == nil) {
		errs = append(errs, errors.New("exactly one of Machine and FSM is required"))
	}
	if c.Bootstrap && len(c.Join) > 0 {
		errs = append(errs, errors.New("Bootstrap and Join are exclusive: only the region's first node bootstraps"))
	}
	if c.LeaderLeaseTimeout > c.HeartbeatTimeout || c.ElectionTimeout < c.HeartbeatTimeout {
		errs = append(errs, errors.New("want LeaderLeaseTimeout <= HeartbeatTimeout <= ElectionTimeout"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("raftstore config: %w", err)
	}
	return nil
}

// raftConfig is the per-shard raft.Config.
func (c Config) raftConfig(shard int) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(c.NodeID)
	rc.HeartbeatTimeout = c.HeartbeatTimeout
	rc.ElectionTimeout = c.ElectionTimeout
	rc.LeaderLeaseTimeout = c.LeaderLeaseTimeout
	rc.CommitTimeout = c.CommitTimeout
	rc.SnapshotThreshold = c.SnapshotThreshold
	rc.SnapshotInterval = c.SnapshotInterval
	rc.TrailingLogs = c.TrailingLogs
	// A removed node stays a silent follower until the operator stops it,
	// rather than leaving a shut-down raft.Raft behind in Node.Raft.
	rc.ShutdownOnRemove = false
	// Group commit: with the default unbuffered apply channel the leader
	// takes one proposal per wake-up, so each log fsync carried one or two
	// entries (2,200 creates/s on one node). Buffered, a batch of up to
	// MaxAppendEntries proposals shares one fsync. The cost is Apply's
	// enqueue timeout, which callers here do not use.
	rc.BatchApplyCh = true
	rc.MaxAppendEntries = 256
	rc.Logger = newHCLogger(c.Logger.With("shard", shard))
	return rc
}
