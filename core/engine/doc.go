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
// Publisher (the gateway). The shard's leader also writes the ops to the
// store, off the apply goroutine (persist.go); a command is acknowledged
// once the store has it. Proposer-evaluated commands, as in CockroachDB.
//
// The package never speaks HTTP, WebSocket or JSON to clients and never
// touches Raft: callers (edge/rest, edge/gateway) parse requests into the
// parameter structs here and render the model values it returns, and
// replication is behind the Replicator interface.
package engine
