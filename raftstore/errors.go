package raftstore

import (
	"errors"

	"github.com/hashicorp/raft"
)

var (
	// ErrClosed is returned by calls on a Node after Close.
	ErrClosed = errors.New("raftstore: node closed")
	// ErrLeadershipLost answers a proposal whose leader lost its
	// leadership before the entry committed: it may still commit.
	ErrLeadershipLost = raft.ErrLeadershipLost
	// ErrNoShard is returned for a shard number outside [0, Shards).
	ErrNoShard = errors.New("raftstore: no such shard")
)

// Leadership errors are core/shard's (NotLeaderError, ErrNotLeader), so
// that the state machine and its callers name the same type.
