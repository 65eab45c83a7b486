// Package raftstore replicates a region's state with hashicorp/raft. A
// region is a set of nodes; its keys (guild IDs) are spread by ShardOf
// over a fixed number of Raft groups, the shards, and every node runs a
// member of every shard. Each shard elects its own leader, so leadership,
// and with it the write load, spreads over the nodes.
//
// A Node owns one internal port, on mutual TLS with certificates from the
// region's CA (see LoadTLS). Every stream on it starts with a kind byte:
// KindRaft streams carry a shard's Raft RPCs, KindAdmin streams the
// membership protocol (AddNode, RemoveNode, Members, and the Admin*
// functions for a CLI), and other kinds are the application's, through
// Node.Listen and Node.Dial (for example requests forwarded to a leader).
//
// The logs and Raft's stable state of every shard live in one Pebble
// database, DataDir/log (see logDB: the shards share its group-committed
// write-ahead log); each shard's snapshots are in DataDir/shard-NN. Nodes keep their NodeID and
// advertised address across restarts; a restarted node catches up from
// its own log and its peers.
//
// The package owns replication, membership and the transport. It never
// interprets commands: they are the FSM's. An FSM given through
// Config.FSM must follow raft.FSM's contract: Apply is deterministic, a
// function of the state and the entry only (no clock, no randomness, no
// I/O whose result it depends on), because every node applies every
// entry and all must agree; Apply and Snapshot run on one goroutine, and
// FSMSnapshot.Persist runs concurrently with later Applies, so Snapshot
// captures state cheaply and Persist writes it; Restore replaces all
// state. An FSM may also implement raft.BatchingFSM and
// raft.ConfigurationStore. The package prefixes each snapshot with a
// small header (the log index it covers, which WaitApplied needs), so
// snapshots are only readable through it: raft.Raft.Restore with a
// snapshot from elsewhere is not supported.
//
// Writes go to a shard's leader (Apply); reads of another node's FSM see
// a write once WaitApplied returns for its index. InmemNetwork runs whole
// regions in one process for tests.
package raftstore
