package store

import (
	"context"
	"io"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/snowflake"
)

type ID = snowflake.ID

// Store is the whole storage interface.
type Store interface {
	AccountStore
	GuildStore
	MessageStore
	FileStore
	// Commit applies every op of the batch atomically and returns once it
	// is durable.
	Commit(ctx context.Context, b *Batch) error
	Close() error
}

// AccountStore holds what does not belong to a guild: users, credentials,
// tokens, applications and DM channels.
type AccountStore interface {
	GetUser(ctx context.Context, id ID) (*model.User, error)
	// GetCredentials looks up a login (a lower-cased username).
	GetCredentials(ctx context.Context, login string) (*model.Credentials, error)
	GetToken(ctx context.Context, hash []byte) (*model.Token, error)
	GetApplication(ctx context.Context, id ID) (*model.Application, error)
	// ForEachUser calls fn for every user, in ID order.
	ForEachUser(ctx context.Context, fn func(*model.User) error) error
	// ForEachDM calls fn for every DM channel.
	ForEachDM(ctx context.Context, fn func(*model.Channel) error) error
}

// GuildSnapshot is everything about one guild except its messages.
type GuildSnapshot struct {
	Guild    *model.Guild
	Channels []*model.Channel
	Roles    []*model.Role
	Members  []*model.Member
	Bans     []*model.Ban
	Invites  []*model.Invite
}

// GuildStore holds guild metadata. The edge keeps every guild's metadata in
// memory, so the store only needs to load it whole and to look up invites
// by code.
type GuildStore interface {
	// ForEachGuild loads every guild, in ID order.
	ForEachGuild(ctx context.Context, fn func(*GuildSnapshot) error) error
	GetInvite(ctx context.Context, code string) (*model.Invite, error)
}

// MessageQuery selects a page of a channel's history. At most one of
// Before, After and Around is set; none means the latest messages.
type MessageQuery struct {
	Before, After, Around ID
	Limit                 int // 1–100
}

// MessageStore holds messages and reactions.
type MessageStore interface {
	GetMessage(ctx context.Context, channelID, messageID ID) (*model.Message, error)
	// ListMessages returns a page of history, newest first, as Discord's
	// API does for every query kind.
	ListMessages(ctx context.Context, channelID ID, q MessageQuery) ([]*model.Message, error)
	// ListPins returns a channel's pinned messages, newest first.
	ListPins(ctx context.Context, channelID ID) ([]*model.Message, error)
	// ListReactionUsers returns up to limit user IDs that reacted with
	// emoji, in ID order, starting after the given ID.
	ListReactionUsers(ctx context.Context, channelID, messageID ID, emoji string, after ID, limit int) ([]ID, error)
	// HasReaction reports whether the user reacted with emoji.
	HasReaction(ctx context.Context, channelID, messageID ID, emoji string, userID ID) (bool, error)
	// LatestMessageID returns the newest message ID of a channel, or 0.
	LatestMessageID(ctx context.Context, channelID ID) (ID, error)
}

// FileChunk is the size of the chunks files are stored in: small enough
// for a Cassandra cell, large enough that a 10 MiB upload is 40 writes.
const FileChunk = 256 << 10

// FileStore holds the bytes of uploaded files (attachments), next to the
// messages that name them and outside the replicated log: a file is put
// before the message naming it is proposed, so an acknowledged message
// never points at a missing file, and on Cassandra every node of every
// datacenter reads the same bytes. Safe for concurrent use.
type FileStore interface {
	// PutFile stores everything r yields under (channel, file), durably
	// once it returns; it returns the size. A file is written once: a
	// second PutFile of the same key replaces it.
	PutFile(ctx context.Context, channelID, fileID ID, r io.Reader) (int64, error)
	// FileSize returns the size of a stored file, or ErrNotFound (also
	// for a file whose PutFile did not finish).
	FileSize(ctx context.Context, channelID, fileID ID) (int64, error)
	// ReadFileAt reads len(p) bytes from offset off, as io.ReaderAt does.
	ReadFileAt(ctx context.Context, channelID, fileID ID, p []byte, off int64) (int, error)
	// DeleteFile removes a file (nothing if there is none).
	DeleteFile(ctx context.Context, channelID, fileID ID) error
}

// AsyncCommitter is implemented by stores that can fix a batch's place in
// the commit order now and make it durable later (Pebble: one fsync for
// many batches). The engine's persister uses it to keep several batches in
// flight in log order; batches committed this way become durable in the
// order CommitAsync was called. A store without it gets concurrent Commit
// calls instead (Cassandra): every op then carries its write time (Op.TS),
// so the order in which they land does not matter.
type AsyncCommitter interface {
	CommitAsync(ctx context.Context, b *Batch) (wait func() error, err error)
}
