// Package storetest is the conformance suite of store.Store: a backend is
// correct when Run passes against it. It uses nothing but the store
// interface, so every backend (the embedded Pebble store, Cassandra) runs
// the same tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) })
//	}
//
// Run calls open once per group of tests (about a dozen times), not once
// per case. The first store open returns must be empty; later ones may be
// new stores or stores over the data of the earlier groups (a Cassandra
// keyspace shared by the whole suite, since creating one costs seconds of
// schema agreement): groups and the tests in them use disjoint IDs and
// check scans only for the rows they wrote. Run closes every store it
// opens; open may register cleanups of its own (removing a directory or a
// keyspace), which then run after the store is closed.
//
// # The contract beyond the interface's doc comments
//
// Ops: each op kind uses the fields listed next to it in store/batch.go.
// Payload-carrying kinds take the IDs from the payload (Message.ChannelID,
// Member.GuildID, Invite.Code, ...); PutRole, whose Role has no guild, takes
// Op.GuildID. DeleteChannel carries ChannelID, plus GuildID for a guild
// channel. Ops of a batch apply in order, so a later op sees what an
// earlier one did. A batch with an op of unknown kind or without the
// payload or IDs its kind needs fails as a whole and writes nothing.
// Deleting something that does not exist is not an error, so a replayed
// log applies cleanly. Commit with a cancelled context fails and writes
// nothing.
//
// Lookups of missing things return an error that wraps store.ErrNotFound;
// every call after Close returns an error that wraps store.ErrClosed.
//
// ListMessages: a Limit of 0 or less means 50 and more than 100 means 100.
// Pages are always newest first. Before returns the newest messages with
// smaller IDs. After returns the oldest messages with larger IDs, i.e. the
// ones immediately after it. Around with limit N returns up to N/2
// messages newer than the ID (the ones closest to it) followed by up to
// N-N/2 messages with IDs ≤ the ID, so the ID itself comes first among
// those when it exists: with N = 50, 25 newer, the message, 24 older. A
// side that runs short is not filled up from the other side. Each side
// must also work when the ID is not a message at all.
//
// ListReactionUsers: a limit of 0 or less means 25, more than 100 means
// 100; users come in ascending ID order, strictly after the given ID.
//
// ForEachUser and ForEachGuild go in ascending ID order; the order of the
// slices inside a GuildSnapshot and of ForEachDM is not specified, and an
// empty slice (a member's roles, a channel's overwrites) may come back as
// nil. Other values must come back as they were put, field for field. An
// error returned by a callback stops the iteration and is returned
// (possibly wrapped).
//
// DeleteChannel and DeleteGuild may or may not drop the messages of the
// deleted channels; the suite does not look.
package storetest
