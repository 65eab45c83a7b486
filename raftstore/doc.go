// Package raftstore will replicate guild state across a region's edge
// nodes with hashicorp/raft. Today each guild is sequenced by one node's
// guild.Engine; the engine's batches of store ops are shaped to become the
// Raft log entries (see edge/guild's package doc).
package raftstore
