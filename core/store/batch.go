package store

import "github.com/accord-chat/accord/core/model"

// OpKind says what an Op does.
type OpKind uint8

const (
	OpPutUser OpKind = iota + 1
	OpPutCredentials
	OpPutToken
	OpDeleteToken // Token.Hash
	OpPutApplication

	OpPutGuild
	OpDeleteGuild // GuildID; removes the guild with its channels, roles, members, bans and invites
	OpPutChannel  // guild channels and DMs
	OpDeleteChannel
	OpPutRole
	OpDeleteRole // GuildID, ID
	OpPutMember
	OpDeleteMember // GuildID, UserID
	OpPutBan
	OpDeleteBan // GuildID, UserID
	OpPutInvite
	OpDeleteInvite // Code

	OpPutMessage    // create or replace
	OpDeleteMessage // ChannelID, ID; also drops its reactions
	OpPutReaction   // ChannelID, ID (message), Emoji, UserID
	OpDeleteReaction
	OpDeleteReactions // ChannelID, ID, Emoji ("" = every emoji)
)

var opNames = [...]string{
	OpPutUser: "PutUser", OpPutCredentials: "PutCredentials", OpPutToken: "PutToken",
	OpDeleteToken: "DeleteToken", OpPutApplication: "PutApplication",
	OpPutGuild: "PutGuild", OpDeleteGuild: "DeleteGuild", OpPutChannel: "PutChannel",
	OpDeleteChannel: "DeleteChannel", OpPutRole: "PutRole", OpDeleteRole: "DeleteRole",
	OpPutMember: "PutMember", OpDeleteMember: "DeleteMember", OpPutBan: "PutBan",
	OpDeleteBan: "DeleteBan", OpPutInvite: "PutInvite", OpDeleteInvite: "DeleteInvite",
	OpPutMessage: "PutMessage", OpDeleteMessage: "DeleteMessage", OpPutReaction: "PutReaction",
	OpDeleteReaction: "DeleteReaction", OpDeleteReactions: "DeleteReactions",
}

func (k OpKind) String() string {
	if int(k) < len(opNames) && opNames[k] != "" {
		return opNames[k]
	}
	return "OpKind(?)"
}

// Op is one write. Kind says which fields matter; the rest stay zero. It is
// plain data so it can be encoded into a replicated log.
type Op struct {
	Kind OpKind `json:"k"`

	GuildID   ID     `json:"g,omitempty"`
	ChannelID ID     `json:"c,omitempty"`
	ID        ID     `json:"i,omitempty"`
	UserID    ID     `json:"u,omitempty"`
	Emoji     string `json:"e,omitempty"`
	Code      string `json:"code,omitempty"`
	Hash      []byte `json:"h,omitempty"`
	// New marks an OpPutMessage that creates a message: no earlier version
	// exists, so a backend need not read one (to maintain its pin index,
	// say). The sequencer sets it only for IDs it has just generated.
	New bool `json:"new,omitempty"`
	// TS, when set, is the op's write time in microseconds, chosen by the
	// shard leader that ordered it, so that every node that writes the op
	// (a new leader writes again what the old one may have written) gives
	// it the same time. Backends that resolve conflicts by write time
	// (Cassandra) use it instead of their own clock.
	TS int64 `json:"ts,omitempty"`

	User        *model.User        `json:"user,omitempty"`
	Credentials *model.Credentials `json:"cred,omitempty"`
	Token       *model.Token       `json:"token,omitempty"`
	Application *model.Application `json:"app,omitempty"`
	Guild       *model.Guild       `json:"guild,omitempty"`
	Channel     *model.Channel     `json:"channel,omitempty"`
	Role        *model.Role        `json:"role,omitempty"`
	Member      *model.Member      `json:"member,omitempty"`
	Ban         *model.Ban         `json:"ban,omitempty"`
	Invite      *model.Invite      `json:"invite,omitempty"`
	Message     *model.Message     `json:"message,omitempty"`
}

// Batch is an ordered list of ops committed together.
type Batch struct {
	Ops []Op `json:"ops"`
}

// Add appends ops.
func (b *Batch) Add(ops ...Op) { b.Ops = append(b.Ops, ops...) }

// Len is the number of ops.
func (b *Batch) Len() int { return len(b.Ops) }
