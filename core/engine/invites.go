package engine

import (
	"context"
	"crypto/rand"
	"sort"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/core/store"
)

// InviteParams are the options of a new invite.
type InviteParams struct {
	MaxAge    *int // seconds; Discord's default is 86400, 0 = never expires
	MaxUses   int
	Temporary bool
	Unique    bool
}

const codeAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func newCode() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = codeAlphabet[int(b[i])%len(codeAlphabet)]
	}
	return string(b[:])
}

// CreateInvite makes an invite to a guild channel (CREATE_INSTANT_INVITE).
// Without Unique, an existing invite with the same settings is reused, as
// on Discord.
func (e *Engine) CreateInvite(ctx context.Context, actor, channelID ID, ip InviteParams) (*model.Invite, error) {
	var f apierr.FormErrors
	maxAge := 86400
	if ip.MaxAge != nil {
		maxAge = *ip.MaxAge
	}
	if maxAge < 0 || maxAge > 604800 {
		f.Add("max_age", "BASE_TYPE_BAD_INT", "Must be between 0 and 604800.")
	}
	if ip.MaxUses < 0 || ip.MaxUses > 100 {
		f.Add("max_uses", "BASE_TYPE_BAD_INT", "Must be between 0 and 100.")
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	var out *model.Invite
	err := e.withChannel(ctx, actor, channelID, func(c *Chan) (*plan, error) {
		if c.State == nil {
			return nil, apierr.ErrDMChannel
		}
		if err := c.require(perm.CreateInstantInvite); err != nil {
			return nil, err
		}
		now := e.Now()
		if !ip.Unique {
			for _, inv := range c.State.Invites {
				if inv.ChannelID == channelID && inv.InviterID == actor && inv.MaxAge == maxAge &&
					inv.MaxUses == ip.MaxUses && inv.Temporary == ip.Temporary && inv.Uses == 0 && !inv.Expired(now) {
					out = inv
					return nil, nil
				}
			}
		}
		inv := &model.Invite{Code: newCode(), GuildID: c.GuildID(), ChannelID: channelID, InviterID: actor,
			MaxAge: maxAge, MaxUses: ip.MaxUses, Temporary: ip.Temporary, CreatedAt: now}
		out = inv
		p := &plan{}
		p.op(store.Op{Kind: store.OpPutInvite, GuildID: inv.GuildID, Invite: inv})
		p.emit(Event{Type: "INVITE_CREATE", GuildID: inv.GuildID, ChannelID: channelID, Data: inv})
		return p, nil
	})
	return out, err
}

// inviteGuild finds which guild an invite belongs to.
func (e *Engine) inviteGuild(ctx context.Context, code string) (ID, error) {
	if code == "" || len(code) > 64 {
		return 0, apierr.ErrUnknownInvite
	}
	inv, err := e.st.GetInvite(ctx, code)
	if err != nil {
		return 0, notFound(err, apierr.ErrUnknownInvite)
	}
	return inv.GuildID, nil
}

// Invite returns a live invite by code; anyone signed in may look.
func (e *Engine) Invite(ctx context.Context, code string) (*model.Invite, error) {
	gid, err := e.inviteGuild(ctx, code)
	if err != nil {
		return nil, err
	}
	var out *model.Invite
	err = e.readGuild(gid, func(s *State) error {
		inv := s.Invites[code]
		if inv == nil || inv.Expired(e.Now()) {
			return apierr.ErrUnknownInvite
		}
		out = inv
		return nil
	})
	if err == apierr.ErrUnknownGuild {
		err = apierr.ErrUnknownInvite
	}
	return out, err
}

// AcceptInvite joins the caller to the invite's guild. Joining a guild one
// is already in succeeds without using the invite.
func (e *Engine) AcceptInvite(ctx context.Context, actor ID, code string) (*model.Invite, error) {
	gid, err := e.inviteGuild(ctx, code)
	if err != nil {
		return nil, err
	}
	if u := e.User(actor); u == nil || u.Bot {
		return nil, apierr.ErrBotsForbidden
	}
	if len(e.UserGuilds(actor)) >= MaxGuildsPerUser && !e.InGuild(actor, gid) {
		return nil, apierr.ErrMaxGuilds
	}
	var out *model.Invite
	err = e.withGuild(ctx, gid, func(s *State) (*plan, error) {
		inv := s.Invites[code]
		if inv == nil || inv.Expired(e.Now()) {
			return nil, apierr.ErrUnknownInvite
		}
		out = inv
		p := &plan{}
		joined, err := e.join(p, s, actor, nil)
		if err != nil || !joined {
			return nil, err
		}
		ni := *inv
		ni.Uses++
		out = &ni
		if ni.MaxUses > 0 && ni.Uses >= ni.MaxUses {
			p.op(store.Op{Kind: store.OpDeleteInvite, GuildID: gid, Code: code})
			p.emit(Event{Type: "INVITE_DELETE", GuildID: gid, ChannelID: inv.ChannelID, Data: inv})
		} else {
			p.op(store.Op{Kind: store.OpPutInvite, GuildID: gid, Invite: &ni})
		}
		return p, nil
	})
	if err == apierr.ErrUnknownGuild {
		err = apierr.ErrUnknownInvite
	}
	return out, err
}

// DeleteInvite revokes an invite (MANAGE_CHANNELS on its channel or
// MANAGE_GUILD).
func (e *Engine) DeleteInvite(ctx context.Context, actor ID, code string) (*model.Invite, error) {
	gid, err := e.inviteGuild(ctx, code)
	if err != nil {
		return nil, err
	}
	var out *model.Invite
	err = e.withGuild(ctx, gid, func(s *State) (*plan, error) {
		inv := s.Invites[code]
		if inv == nil {
			return nil, apierr.ErrUnknownInvite
		}
		if s.Members[actor] == nil {
			return nil, apierr.ErrMissingAccess
		}
		ok := s.BasePerms(actor)&perm.ManageGuild != 0
		if ch := s.Channels[inv.ChannelID]; !ok && ch != nil {
			ok = s.ChannelPerms(actor, ch)&perm.ManageChannels != 0
		}
		if !ok {
			return nil, apierr.ErrMissingPermissions
		}
		out = inv
		p := &plan{}
		p.op(store.Op{Kind: store.OpDeleteInvite, GuildID: gid, Code: code})
		p.emit(Event{Type: "INVITE_DELETE", GuildID: gid, ChannelID: inv.ChannelID, Data: inv})
		return p, nil
	})
	return out, err
}

// ChannelInvites lists a channel's invites (MANAGE_CHANNELS).
func (e *Engine) ChannelInvites(actor, channelID ID) ([]*model.Invite, error) {
	var out []*model.Invite
	err := e.ViewChannel(actor, channelID, func(c *Chan) error {
		if c.State == nil {
			return apierr.ErrDMChannel
		}
		if err := c.require(perm.ManageChannels); err != nil {
			return err
		}
		for _, inv := range c.State.Invites {
			if inv.ChannelID == channelID {
				out = append(out, inv)
			}
		}
		return nil
	})
	sortInvites(out)
	return out, err
}

// GuildInvites lists a guild's invites (MANAGE_GUILD).
func (e *Engine) GuildInvites(actor, guildID ID) ([]*model.Invite, error) {
	var out []*model.Invite
	err := e.readGuild(guildID, func(s *State) error {
		if err := s.requireGuild(actor, perm.ManageGuild); err != nil {
			return err
		}
		for _, inv := range s.Invites {
			out = append(out, inv)
		}
		return nil
	})
	sortInvites(out)
	return out, err
}

func sortInvites(invs []*model.Invite) {
	sort.Slice(invs, func(i, j int) bool { return invs[i].CreatedAt.Before(invs[j].CreatedAt) })
}
