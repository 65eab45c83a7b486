// Package cassandra is the production storage backend of Accord's core: an
// implementation of store.Store on Apache Cassandra (5.0) through gocql,
// for deployments across several datacenters.
//
// # Consistency and datacenters
//
// Every read and write is LOCAL_QUORUM by default (Options.Consistency):
// a datacenter answers on its own, and keeps answering when another is
// down or cut off; the other catches up through hints and repair. Queries
// go to the local datacenter's nodes (DCAwareRoundRobinPolicy) and, among
// those, to a replica of the partition (TokenAwareHostPolicy). Only local
// nodes are ever coordinators (a filter on the picks): with none up, requests
// fail rather than move to another datacenter, where LOCAL_QUORUM would
// count that datacenter's replicas. Moving clients between datacenters is
// the deployment's decision.
//
// Statements are package constants; gocql prepares each once per node and
// reuses it.
//
// # Tables
//
// Keyspace tables (migrations/0001_init.cql):
//
//	users, credentials, tokens, applications, dm_channels   one row per key, JSON value
//	guilds                                                  (guild_id) JSON
//	guild_channels, guild_roles, guild_members,
//	guild_bans, guild_invites                               ((guild_id), child) JSON
//	invites                                                 (code) guild_id, JSON
//	messages        ((channel_id, bucket), message_id DESC) a column per field, extra JSON
//	channel_buckets ((channel_id), bucket DESC)             buckets that have had messages
//	pins            ((channel_id), message_id DESC)
//	reactions       ((channel_id, message_id), emoji, user_id)
//	schema_migrations (version)                             applied migrations
//
// A message partition is a channel's ten-day bucket (model.Bucket), so no
// partition grows without bound. channel_buckets lists the buckets that
// have held a message, so paging through history reads only those, newest
// first, rather than probing every ten-day window back to the channel's
// creation; a bucket emptied by deletes stays listed and costs one empty
// read. Its rows are written with the message that opens the bucket and
// remembered per process, so a message write is a single statement.
//
// IDs are stored with their top bit flipped (int64(id ^ 1<<63)) so that
// CQL's signed bigint order is the IDs' unsigned order, which the
// clustering columns need for snowflakes past 2084.
//
// # No tombstones on the write path
//
// A put writes every column of its row, none of them null (a null is a
// tombstone): message fields that may be absent or are lists go into one
// JSON column, written empty when there is nothing. A column list built
// per row would avoid nulls too, but a put replaces a message, and an
// INSERT leaves the columns it does not name as they were. Unpinning does
// not delete the pin row (see ListPins), and creating a message deletes
// nothing. Deletes are tombstones, of course: one partition tombstone per
// deleted message's reactions, six for a deleted guild.
//
// # Commits
//
// See Store.Commit: per-op timestamps order the ops of a batch and
// successive batches; single-partition batches are UNLOGGED (atomic and
// isolated in Cassandra), multi-partition ones LOGGED (atomic).
//
// # Schema
//
// Open applies the embedded migrations (see Migrate), creating the
// keyspace first when it is missing and Options.Replication is set.
//
// Errors are wrapped with "cassandra:" and what was being done; lookups of
// missing things wrap store.ErrNotFound and calls after Close return
// store.ErrClosed. Token hashes are never put in errors or logs.
package cassandra
