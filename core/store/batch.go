package store

import (
	"errors"
	"fmt"

	"github.com/accord-chat/accord/core/model"
)

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

// ErrInvalidOp is wrapped by Validate's errors.
var ErrInvalidOp = errors.New("invalid op")

// Validate reports whether the op has the payload and IDs its kind needs
// (see the kinds above). Backends reject a batch with an invalid op; the
// state machine checks the ops of a log entry with it before applying any.
func (op *Op) Validate() error {
	bad := func(what string) error { return fmt.Errorf("%w: %s: %s", ErrInvalidOp, op.Kind, what) }
	switch op.Kind {
	case OpPutUser:
		if op.User == nil || op.User.ID == 0 {
			return bad("missing user or user ID")
		}
	case OpPutCredentials:
		if op.Credentials == nil || op.Credentials.Login == "" {
			return bad("missing credentials or login")
		}
	case OpPutToken:
		if op.Token == nil || len(op.Token.Hash) == 0 {
			return bad("missing token or hash")
		}
	case OpDeleteToken:
		if len(op.Hash) == 0 {
			return bad("missing hash")
		}
	case OpPutApplication:
		if op.Application == nil || op.Application.ID == 0 {
			return bad("missing application or ID")
		}
	case OpPutGuild:
		if op.Guild == nil || op.Guild.ID == 0 {
			return bad("missing guild or ID")
		}
	case OpDeleteGuild:
		if op.GuildID == 0 {
			return bad("missing guild ID")
		}
	case OpPutChannel:
		if op.Channel == nil || op.Channel.ID == 0 {
			return bad("missing channel or ID")
		}
	case OpDeleteChannel:
		if op.ChannelID == 0 && op.ID == 0 { // either field names it
			return bad("missing channel ID")
		}
	case OpPutRole:
		if op.Role == nil || op.Role.ID == 0 || op.GuildID == 0 {
			return bad("missing role, role ID or guild ID")
		}
	case OpDeleteRole:
		if op.GuildID == 0 || op.ID == 0 {
			return bad("missing guild ID or role ID")
		}
	case OpPutMember:
		if op.Member == nil || op.Member.GuildID == 0 || op.Member.UserID == 0 {
			return bad("missing member, guild ID or user ID")
		}
	case OpDeleteMember, OpDeleteBan:
		if op.GuildID == 0 || op.UserID == 0 {
			return bad("missing guild ID or user ID")
		}
	case OpPutBan:
		if op.Ban == nil || op.Ban.GuildID == 0 || op.Ban.UserID == 0 {
			return bad("missing ban, guild ID or user ID")
		}
	case OpPutInvite:
		if op.Invite == nil || op.Invite.Code == "" || op.Invite.GuildID == 0 {
			return bad("missing invite, code or guild ID")
		}
	case OpDeleteInvite:
		if op.Code == "" {
			return bad("missing code")
		}
	case OpPutMessage:
		if op.Message == nil || op.Message.ID == 0 || op.Message.ChannelID == 0 {
			return bad("missing message, channel ID or ID")
		}
	case OpDeleteMessage, OpDeleteReactions:
		if op.ChannelID == 0 || op.ID == 0 {
			return bad("missing channel ID or message ID")
		}
	case OpPutReaction, OpDeleteReaction:
		if op.ChannelID == 0 || op.ID == 0 || op.Emoji == "" || op.UserID == 0 {
			return bad("missing channel ID, message ID, emoji or user ID")
		}
	default:
		return fmt.Errorf("%w: unknown kind %d", ErrInvalidOp, op.Kind)
	}
	return nil
}
