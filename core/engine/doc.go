// Package guild owns Accord's hot state and its write path.
//
// Every change is evaluated by the sequencer of the guild it touches (the
// Engine holds one lock per guild, later one Raft leader per shard): the
// request is checked against the guild's current State — permissions,
// existence, limits — and turned into a store.Batch of plain-data ops. That
// batch is the deterministic command: it is committed to the store and then
// applied, op by op, to the in-memory State by State.Apply, which is a pure
// function of the state and the op. A replicated log can carry the same
// batch to other nodes, whose States then stay identical (proposer-evaluated
// commands, as in CockroachDB).
//
// The package never speaks HTTP or JSON to clients: callers (REST, gateway)
// parse requests into the parameter structs here and render the model
// values it returns.
package engine
