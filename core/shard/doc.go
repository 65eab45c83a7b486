// Package shard is the small contract between core's state machine and
// the replication that drives it (raftstore): how keys map to shards, the
// committed entry the state machine is handed, and the error that says a
// command must run on another node, the shard's leader.
//
// It holds types and a hash only, so that both sides can import it
// without core knowing anything of Raft or raftstore anything of the
// domain.
package shard
