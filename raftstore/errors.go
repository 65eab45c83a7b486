package raftstore

import (
	"errors"
	"fmt"
)

var (
	// ErrNotLeader is wrapped by NotLeaderError, so callers can test with
	// errors.Is and recover the leader with errors.As.
	ErrNotLeader = errors.New("raftstore: not the shard's leader")
	// ErrClosed is returned by calls on a Node after Close.
	ErrClosed = errors.New("raftstore: node closed")
	// ErrNoShard is returned for a shard number outside [0, Shards).
	ErrNoShard = errors.New("raftstore: no such shard")
)

// NotLeaderError says which node to retry on. Nothing was appended to the
// log, so retrying elsewhere cannot apply the command twice. Leader is
// empty while the shard has no known leader.
type NotLeaderError struct {
	Shard  int
	Leader string
}

func (e *NotLeaderError) Error() string {
	if e.Leader == "" {
		return fmt.Sprintf("raftstore: shard %d: not the leader, no leader known", e.Shard)
	}
	return fmt.Sprintf("raftstore: shard %d: not the leader, leader is %s", e.Shard, e.Leader)
}

func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }
