// Package model holds Accord's stored entities: users, guilds, channels,
// roles, members, overwrites, invites, bans and messages.
//
// The structs are shaped like Discord's API objects (same field names in
// the JSON tags) so that most of them can be written to clients as they
// are, but they are the storage form: values that need the viewer or other
// entities to render (a message's author object, a reaction's "me") are
// produced by the REST and gateway layers, never stored here.
//
// This package must stay free of I/O and of any dependency besides
// snowflake: every backend and every layer imports it.
package model
