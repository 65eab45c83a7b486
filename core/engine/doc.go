// Package engine is Accord's domain: guilds, channels, roles, members,
// messages, accounts, DMs, presence, voice state and session records, the
// commands that change them and the state machine that applies them.
//
// Every change is evaluated by the sequencer of the guild it touches (or
// of the accounts, for users and DMs), on the leader of that key's shard:
// the request is checked against the current State (permissions, through
// core/perm; existence; limits) and turned into a plan, a store.Batch of
// plain-data ops and the events they cause. The plan is the deterministic
// command: encoded as a versioned log entry (entry.go) it is replicated
// through the Replicator (raftstore in production), and every replica
// applies it in log order in ApplyCommitted, op by op, to the in-memory
// State, indexes and hot rings, and publishes its events to the
// Publisher (the gateway), off the apply goroutine for messages
// (fanout.go). The shard's leader also writes the ops to the store, off
// the apply goroutine too (persist.go); a command is acknowledged once
// the store has it and its events were published here.
// Proposer-evaluated commands, as in CockroachDB.
//
// # Goroutines
//
// Like raft.FSM's, the contract is about who calls what:
//
//   - Commands (CreateMessage, AddReaction, …) run on their callers'
//     goroutines, many at once. Each evaluates its plan under its
//     sequencer's lock (entry.mu), proposes, drops the lock, and waits for
//     the entry to be applied here, written to the store and published. A
//     plan never reads the store under the lock: it asks a reads
//     (reads.go), and the reads are made with the lock dropped.
//   - ApplyCommitted runs on raftstore's apply goroutine, one per shard,
//     in log order. It takes sequencer locks only to change state, never
//     waits for the store (the leader's persister writes it, persist.go),
//     and hands message and reaction events to the shard's fan-out
//     goroutine on a bounded queue (fanout.go), waiting only when the
//     queue is full or before an entry that changes what the publisher
//     filters with (a barrier). Other events it publishes itself.
//   - Publisher.Publish is called by one goroutine of a shard at a time
//     (the fan-out goroutine, or the apply goroutine once the queue is
//     empty), in log order, and sees the state as its entry left it. It
//     must not block on the network nor read the store (the gateway
//     queues frames per connection and renders from the event), and it
//     must not wait for a command.
//   - Each shard's persister runs two goroutines of its own, and each
//     store write one more, and its fan-out one; Close stops them.
//   - LeadershipChanged runs on raftstore's watcher goroutine.
//
// # Lock order
//
// acct.wmu (account writes) before a sequencer's entry.mu, before the
// node-wide indexes (gmu, chmu, the accounts', presence and session
// tables, the hot rings); a shard's shardPersist.mu before its
// persister's mu. Nobody holds entry.mu or shardPersist.mu while waiting
// for a proposal, the store or a persister.
//
// The package never speaks HTTP, WebSocket or JSON to clients and never
// touches Raft: callers (edge/rest, edge/gateway) parse requests into the
// parameter structs here and render the model values it returns, and
// replication is behind the Replicator interface.
package engine
