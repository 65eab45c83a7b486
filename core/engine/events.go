package engine

import "time"

// Event payloads that are not a model value. Each is a small typed struct
// whose JSON field names are Discord's, so that the gateway can send most
// of them as they are (it adds what Discord's payload has beyond them:
// user objects, members). They travel in log entries (entry.go), so a
// change to one is a change of the entry format.

// GuildDeleted is GUILD_DELETE: the guild is gone (Unavailable false), or
// gone for the recipients (they left or were removed; Unavailable nil).
type GuildDeleted struct {
	ID          ID    `json:"id"`
	Unavailable *bool `json:"unavailable,omitempty"`
}

// MemberRemoved is GUILD_MEMBER_REMOVE.
type MemberRemoved struct {
	GuildID ID `json:"guild_id"`
	UserID  ID `json:"user_id"`
}

// MessageDeleted is MESSAGE_DELETE. GuildID is 0 in a DM.
type MessageDeleted struct {
	ID        ID `json:"id"`
	ChannelID ID `json:"channel_id"`
	GuildID   ID `json:"guild_id,omitempty"`
}

// MessagesDeleted is MESSAGE_DELETE_BULK.
type MessagesDeleted struct {
	IDs       []ID `json:"ids"`
	ChannelID ID   `json:"channel_id"`
	GuildID   ID   `json:"guild_id,omitempty"`
}

// PinsUpdated is CHANNEL_PINS_UPDATE.
type PinsUpdated struct {
	GuildID          ID         `json:"guild_id,omitempty"`
	ChannelID        ID         `json:"channel_id"`
	LastPinTimestamp *time.Time `json:"last_pin_timestamp"`
}

// Typing is TYPING_START; Timestamp is in Unix seconds, as on Discord.
type Typing struct {
	ChannelID ID    `json:"channel_id"`
	GuildID   ID    `json:"guild_id,omitempty"`
	UserID    ID    `json:"user_id"`
	Timestamp int64 `json:"timestamp"`
}

// TokenRevoked (event TOKEN_REVOKED) says a token no longer
// authenticates: every node forgets it and closes the gateway sessions
// opened with it. With Before set (a password change) it revokes every
// token of the user created before that instant instead of one digest.
// It never reaches a client as such.
type TokenRevoked struct {
	UserID ID        `json:"user_id"`
	Digest []byte    `json:"digest,omitempty"`
	Before time.Time `json:"before,omitzero"`
}

// RoleDeleted is GUILD_ROLE_DELETE.
type RoleDeleted struct {
	GuildID ID `json:"guild_id"`
	RoleID  ID `json:"role_id"`
}
