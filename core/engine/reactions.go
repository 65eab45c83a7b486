package engine

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/core/store"
)

// MaxReactionEmoji is the number of distinct emoji a message can carry.
const MaxReactionEmoji = 20

// ReactionEvent is the payload of MESSAGE_REACTION_ADD/REMOVE.
type ReactionEvent struct {
	UserID, ChannelID, MessageID, GuildID, AuthorID ID
	Emoji                                           string
}

// ValidEmoji accepts a unicode emoji: short, no ASCII letters, digits,
// spaces or controls. Accord has no custom emoji yet, so "name:id" forms
// are unknown, as an emoji from a guild one is not in would be on Discord.
func ValidEmoji(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > 16 || !utf8.ValidString(s) {
		return false
	}
	nonASCII := false
	for _, r := range s {
		switch {
		case r < 0x80:
			// Keycap emoji start with an ASCII digit, # or *.
			if !(r >= '0' && r <= '9' || r == '#' || r == '*') {
				return false
			}
		case unicode.IsControl(r) || unicode.IsSpace(r):
			return false
		default:
			nonASCII = true
		}
	}
	return nonASCII
}

func bumpReaction(m *model.Message, emoji string, delta int) {
	out := make([]model.ReactionCount, 0, len(m.Reactions)+1)
	found := false
	for _, r := range m.Reactions {
		if r.Emoji == emoji {
			found = true
			r.Count += delta
		}
		if r.Count > 0 {
			out = append(out, r)
		}
	}
	if !found && delta > 0 {
		out = append(out, model.ReactionCount{Emoji: emoji, Count: delta})
	}
	m.Reactions = out
}

// AddReaction reacts to a message as the caller. Adding the first reaction
// of an emoji needs ADD_REACTIONS; joining an existing one only
// READ_MESSAGE_HISTORY, as on Discord.
func (e *Engine) AddReaction(ctx context.Context, actor, channelID, messageID ID, emoji string) error {
	if !ValidEmoji(emoji) {
		return apierr.ErrUnknownEmoji
	}
	return e.withChannelReads(ctx, actor, channelID, func(c *Chan, rd *reads) (*plan, error) {
		if err := c.require(perm.ReadMessageHistory); err != nil {
			return nil, err
		}
		if c.State != nil && c.State.timedOut(actor) {
			// Joining a reaction needs only READ_MESSAGE_HISTORY, which a
			// timeout leaves; Discord lets a timed-out member not react.
			return nil, apierr.ErrMissingPermissions
		}
		m, err := rd.message(channelID, messageID)
		if err != nil {
			return nil, err
		}
		has, err := rd.hasReaction(channelID, messageID, emoji, actor)
		if err != nil || has {
			return nil, err
		}
		exists := false
		for _, r := range m.Reactions {
			exists = exists || r.Emoji == emoji
		}
		if !exists {
			if err := c.require(perm.AddReactions); err != nil {
				return nil, err
			}
			if len(m.Reactions) >= MaxReactionEmoji {
				return nil, apierr.ErrMaxReactions
			}
		}
		nm := *m
		bumpReaction(&nm, emoji, 1)
		p := &plan{}
		p.op(store.Op{Kind: store.OpPutReaction, GuildID: m.GuildID, ChannelID: channelID, ID: messageID, Emoji: emoji, UserID: actor})
		p.op(store.Op{Kind: store.OpPutMessage, GuildID: m.GuildID, ChannelID: channelID, ID: messageID, Message: &nm})
		p.emit(Event{Type: "MESSAGE_REACTION_ADD", GuildID: m.GuildID, ChannelID: channelID, UserIDs: c.Channel.Recipients,
			Data: &ReactionEvent{UserID: actor, ChannelID: channelID, MessageID: messageID, GuildID: m.GuildID, AuthorID: m.AuthorID, Emoji: emoji}})
		return p, nil
	})
}

// RemoveReaction removes one user's reaction; removing someone else's
// needs MANAGE_MESSAGES.
func (e *Engine) RemoveReaction(ctx context.Context, actor, channelID, messageID ID, emoji string, userID ID) error {
	if !ValidEmoji(emoji) {
		return apierr.ErrUnknownEmoji
	}
	return e.withChannelReads(ctx, actor, channelID, func(c *Chan, rd *reads) (*plan, error) {
		if userID != actor && (c.State == nil || !c.Has(perm.ManageMessages)) {
			return nil, apierr.ErrMissingPermissions
		}
		m, err := rd.message(channelID, messageID)
		if err != nil {
			return nil, err
		}
		has, err := rd.hasReaction(channelID, messageID, emoji, userID)
		if err != nil || !has {
			return nil, err
		}
		nm := *m
		bumpReaction(&nm, emoji, -1)
		p := &plan{}
		p.op(store.Op{Kind: store.OpDeleteReaction, GuildID: m.GuildID, ChannelID: channelID, ID: messageID, Emoji: emoji, UserID: userID})
		p.op(store.Op{Kind: store.OpPutMessage, GuildID: m.GuildID, ChannelID: channelID, ID: messageID, Message: &nm})
		p.emit(Event{Type: "MESSAGE_REACTION_REMOVE", GuildID: m.GuildID, ChannelID: channelID, UserIDs: c.Channel.Recipients,
			Data: &ReactionEvent{UserID: userID, ChannelID: channelID, MessageID: messageID, GuildID: m.GuildID, AuthorID: m.AuthorID, Emoji: emoji}})
		return p, nil
	})
}

// ClearReactions removes every reaction, or every reaction of one emoji
// when emoji is not empty (MANAGE_MESSAGES).
func (e *Engine) ClearReactions(ctx context.Context, actor, channelID, messageID ID, emoji string) error {
	if emoji != "" && !ValidEmoji(emoji) {
		return apierr.ErrUnknownEmoji
	}
	return e.withChannelReads(ctx, actor, channelID, func(c *Chan, rd *reads) (*plan, error) {
		if c.State == nil {
			return nil, apierr.ErrDMChannel
		}
		if err := c.require(perm.ManageMessages); err != nil {
			return nil, err
		}
		m, err := rd.message(channelID, messageID)
		if err != nil {
			return nil, err
		}
		nm := *m
		typ := "MESSAGE_REACTION_REMOVE_ALL"
		if emoji == "" {
			nm.Reactions = nil
		} else {
			typ = "MESSAGE_REACTION_REMOVE_EMOJI"
			nm.Reactions = nil
			for _, r := range m.Reactions {
				if r.Emoji != emoji {
					nm.Reactions = append(nm.Reactions, r)
				}
			}
		}
		p := &plan{}
		p.op(store.Op{Kind: store.OpDeleteReactions, GuildID: m.GuildID, ChannelID: channelID, ID: messageID, Emoji: emoji})
		p.op(store.Op{Kind: store.OpPutMessage, GuildID: m.GuildID, ChannelID: channelID, ID: messageID, Message: &nm})
		p.emit(Event{Type: typ, GuildID: m.GuildID, ChannelID: channelID,
			Data: &ReactionEvent{ChannelID: channelID, MessageID: messageID, GuildID: m.GuildID, Emoji: emoji}})
		return p, nil
	})
}

// ReactionUsers lists who reacted with an emoji.
func (e *Engine) ReactionUsers(ctx context.Context, actor, channelID, messageID ID, emoji string, after ID, limit int) ([]*model.User, error) {
	if !ValidEmoji(emoji) {
		return nil, apierr.ErrUnknownEmoji
	}
	if _, _, err := e.Message(ctx, actor, channelID, messageID); err != nil {
		return nil, err
	}
	ids, err := e.st.ListReactionUsers(ctx, channelID, messageID, emoji, after, limit)
	if err != nil {
		return nil, err
	}
	return e.Users(ids), nil
}

// EmojiName splits "name:id" custom emoji forms; unicode emoji come back
// as they are.
func EmojiName(s string) string {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		return s[:i]
	}
	return s
}
