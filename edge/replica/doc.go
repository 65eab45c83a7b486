// Package replica makes a engine.Engine a replica of a region's Raft
// shards: it is the engine's engine.Replicator (proposals go to the shard's
// raft.Raft, in order, without blocking the caller) and each shard's
// raft.FSM (committed entries go to Engine.ApplyCommitted, snapshots to
// Engine.SnapshotShard and RestoreShard). It also tells the engine when
// this node gains a shard's leadership, so that the new leader writes what
// the old one may not have persisted.
package replica
