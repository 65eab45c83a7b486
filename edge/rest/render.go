package rest

import (
	"context"
	"encoding/json"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/edge/discord"
)

// renderer turns stored messages into Discord message objects for one
// viewer, looking up each author and mentioned user once per batch.
type renderer struct {
	s       *Server
	ctx     context.Context
	viewer  ID
	guildID ID
	users   map[ID]*model.User
	members map[ID]*model.Member
}

func (s *Server) newRenderer(ctx context.Context, viewer, guildID ID, msgs ...*model.Message) *renderer {
	rd := &renderer{s: s, ctx: ctx, viewer: viewer, guildID: guildID}
	var ids []ID
	for _, m := range msgs {
		if m == nil {
			continue
		}
		ids = append(ids, m.AuthorID)
		ids = append(ids, m.Mentions...)
	}
	rd.users = make(map[ID]*model.User, len(ids))
	for _, u := range s.eng.Users(ids) {
		rd.users[u.ID] = u
	}
	if guildID != 0 {
		rd.members = s.eng.Members(guildID, ids)
	}
	return rd
}

// deletedUser stands in for an author whose account is gone.
var deletedUser = &model.User{Username: "Deleted User", Discriminator: "0"}

func (rd *renderer) user(id ID) *model.User {
	if u := rd.users[id]; u != nil {
		return u
	}
	if u := rd.s.eng.User(id); u != nil {
		rd.users[id] = u
		return u
	}
	du := *deletedUser
	du.ID = id
	return &du
}

// message renders m; ref is the message it replies to, if loaded.
func (rd *renderer) message(m *model.Message, ref *model.Message) *discord.Message {
	out := &discord.Message{
		ID: m.ID, Type: m.Type, ChannelID: m.ChannelID, GuildID: m.GuildID, Author: rd.user(m.AuthorID),
		Content: m.Content, Timestamp: discord.Timestamp(m.Timestamp), EditedTimestamp: discord.TimePtr(m.EditedTimestamp),
		TTS: m.TTS, MentionEveryone: m.MentionEveryone, MentionRoles: m.MentionRoles, Attachments: m.Attachments,
		Embeds: m.Embeds, Nonce: m.Nonce, Pinned: m.Pinned, Flags: m.Flags, Components: []json.RawMessage{},
		MessageReference: m.MessageReference, Mentions: make([]discord.MentionedUser, 0, len(m.Mentions)),
	}
	if out.MentionRoles == nil {
		out.MentionRoles = []ID{}
	}
	if out.Attachments == nil {
		out.Attachments = []model.Attachment{}
	} else {
		out.Attachments = rd.s.signAttachments(out.Attachments)
	}
	if out.Embeds == nil {
		out.Embeds = []json.RawMessage{}
	}
	if rd.guildID != 0 {
		if mem := rd.members[m.AuthorID]; mem != nil {
			out.Member = discord.NewMember(mem, nil)
		}
	}
	for _, id := range m.Mentions {
		mu := discord.MentionedUser{User: rd.user(id)}
		if mem := rd.members[id]; mem != nil && rd.guildID != 0 {
			mu.Member = discord.NewMember(mem, nil)
		}
		out.Mentions = append(out.Mentions, mu)
	}
	for _, r := range m.Reactions {
		// No viewer (a gateway event, rendered once for everyone): "me"
		// is false, and nothing is read on the apply goroutine.
		me := false
		if rd.viewer != 0 {
			me, _ = rd.s.eng.Store().HasReaction(rd.ctx, m.ChannelID, m.ID, r.Emoji, rd.viewer)
		}
		out.Reactions = append(out.Reactions, discord.Reaction{
			Count: r.Count, CountDetails: discord.ReactionCountDetails{Normal: r.Count}, Me: me,
			Emoji: discord.EmojiFromKey(r.Emoji), BurstColors: []string{},
		})
	}
	if ref != nil {
		out.ReferencedMessage = rd.message(ref, nil)
	} else if m.Type == model.MessageReply {
		out.ReferencedMessage = discord.NullMessage
	}
	return out
}

// messages renders a page, loading the messages that replies point at.
func (rd *renderer) messages(msgs []*model.Message) []*discord.Message {
	out := make([]*discord.Message, 0, len(msgs))
	for _, m := range msgs {
		var ref *model.Message
		if mr := m.MessageReference; mr != nil && m.Type == model.MessageReply {
			ref, _ = rd.s.eng.Store().GetMessage(rd.ctx, m.ChannelID, mr.MessageID)
		}
		out = append(out, rd.message(m, ref))
	}
	return out
}

// RenderMessageEvent renders a MESSAGE_CREATE/UPDATE payload for the
// gateway, which shares the REST shapes. The gateway calls it as entries
// apply, so it reads nothing from the store: the event carries the
// replied-to message (nil: it was deleted, and renders as null).
func (s *Server) RenderMessageEvent(ctx context.Context, viewer ID, ev *engine.MessageEvent) *discord.Message {
	ref := ev.Referenced
	rd := s.newRenderer(ctx, viewer, ev.Message.GuildID, ev.Message, ref)
	return rd.message(ev.Message, ref)
}

// member renders a guild member with its user.
func (s *Server) member(m *model.Member) *discord.Member {
	u := s.eng.User(m.UserID)
	if u == nil {
		du := *deletedUser
		du.ID = m.UserID
		u = &du
	}
	return discord.NewMember(m, u)
}

// dmChannel renders a DM for one viewer: recipients exclude the viewer, as
// on Discord.
func (s *Server) dmChannel(c *model.Channel, viewer ID) *discord.Channel {
	var others []ID
	for _, r := range c.Recipients {
		if r != viewer {
			others = append(others, r)
		}
	}
	return discord.NewChannel(c, s.eng.Users(others))
}

// invite renders an invite, with metadata when withMeta.
func (s *Server) invite(inv *model.Invite, withMeta bool) *discord.Invite {
	out := &discord.Invite{Code: inv.Code, Inviter: s.eng.User(inv.InviterID)}
	_ = s.eng.View(inv.GuildID, func(st *engine.State) error {
		g := st.Guild
		out.Guild = &discord.InviteGuild{ID: g.ID, Name: g.Name, Icon: g.Icon, Description: g.Description,
			Features: []string{}, VerificationLevel: g.VerificationLevel}
		if c := st.Channels[inv.ChannelID]; c != nil {
			out.Channel = &discord.InviteChannel{ID: c.ID, Name: c.Name, Type: c.Type}
		}
		return nil
	})
	if inv.MaxAge > 0 {
		exp := discord.Timestamp(inv.CreatedAt.Add(secondsDur(inv.MaxAge)))
		out.ExpiresAt = &exp
	}
	if withMeta {
		uses, maxUses, maxAge, temp, at := inv.Uses, inv.MaxUses, inv.MaxAge, inv.Temporary, discord.Timestamp(inv.CreatedAt)
		out.Uses, out.MaxUses, out.MaxAge, out.Temporary, out.CreatedAt = &uses, &maxUses, &maxAge, &temp, &at
	}
	return out
}

// inviteList renders invites with their metadata, for those who manage
// them.
func (s *Server) inviteList(invs []*model.Invite) []*discord.Invite {
	out := make([]*discord.Invite, 0, len(invs))
	for _, inv := range invs {
		out = append(out, s.invite(inv, true))
	}
	return out
}

// signAttachments copies attachments with freshly signed URLs: whoever is
// handed the message may fetch its files for a day (signed.go).
func (s *Server) signAttachments(atts []model.Attachment) []model.Attachment {
	out := make([]model.Attachment, len(atts))
	for i, a := range atts {
		a.URL = s.urls.sign(a.URL)
		a.ProxyURL = s.urls.sign(a.ProxyURL)
		out[i] = a
	}
	return out
}
