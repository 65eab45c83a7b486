// Package store defines the storage interface that every backend of
// Accord's core implements: the embedded Pebble store (pebblestore) for one
// machine and Cassandra for production.
//
// Writes arrive as a Batch of Ops. A Batch is plain data: the guild state
// machine produces it, the same batch is applied to the in-memory state and
// to the store, and a Raft log can carry it unchanged. Commit must be atomic
// for the ops of one batch and durable when it returns nil.
//
// Reads are point lookups and range scans shaped for the REST API's
// queries. The conformance suite in storetest is the contract: a backend is
// correct when it passes it.
package store
