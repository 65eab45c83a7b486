// Package pebblestore is the embedded storage backend of Accord's core: an
// implementation of store.Store on a single Pebble (LSM) database, for
// deployments that run on one machine.
//
// It owns one directory and everything in it. Nothing else may open that
// directory while a Store has it open, and the package never reaches
// outside it: no network, no other files, no goroutines of its own beyond
// Pebble's flushes and compactions.
//
// # Key layout
//
// Every key starts with a one-byte table prefix; IDs are big-endian uint64
// so that byte order is numeric order:
//
//	0x01 user_id                                  → User
//	0x02 login                                    → Credentials
//	0x03 token hash                               → Token
//	0x04 application_id                           → Application
//	0x05 channel_id                               → Channel (DM, group DM)
//	0x06 guild_id 0x00                            → Guild
//	0x06 guild_id 0x01 channel_id                 → Channel
//	0x06 guild_id 0x02 role_id                    → Role
//	0x06 guild_id 0x03 user_id                    → Member
//	0x06 guild_id 0x04 user_id                    → Ban
//	0x06 guild_id 0x05 code                       → Invite
//	0x07 code                                     → guild_id (invite index)
//	0x08 channel_id                               → guild_id, 0 for DMs (channel directory)
//	0x10 channel_id ^bucket(4) ^message_id        → [format, flags] JSON Message
//	0x11 channel_id message_id uvarint(len) emoji user_id → ""
//	0x12 channel_id ^message_id                   → "" (pin index)
//
// Message IDs (and their ten-day buckets, model.Bucket) are stored inverted
// so that a channel's history reads newest first with forward iteration:
// the latest page, "before" pages and LatestMessageID are one seek each.
// A guild's metadata shares one prefix, so ForEachGuild is one scan and
// DeleteGuild one range deletion. Values are the encoding/json of the model
// structs; a message value carries a two-byte header with its pinned flag
// so Commit can maintain the pin index without decoding the JSON.
//
// # Rules
//
// Commit is the only writer and writes only through Pebble batches, so
// every Batch is applied atomically; with Options.NoSync unset it returns
// only after the write-ahead log is synced. Commits must never be
// serialized behind a lock of this package: Pebble groups concurrent syncs,
// and that is what gives throughput. The caller serializes the Commits of
// one guild or DM channel (see Store.Commit).
//
// Deleting a channel or a guild drops the channels' messages, reactions and
// pins with range deletions; Pebble reclaims the space in compactions.
//
// Errors are wrapped with "pebblestore:" and what was being done; lookups
// of missing things wrap store.ErrNotFound and calls after Close return
// store.ErrClosed. Token hashes are never put in errors or logs.
package pebblestore
