package engine

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/core/store"
)

// MaxChannels is Discord's per-guild channel limit.
const MaxChannels = 500

// dmPerms is what each recipient of a DM may do in it.
const dmPerms = perm.ViewChannel | perm.SendMessages | perm.ReadMessageHistory | perm.AddReactions |
	perm.EmbedLinks | perm.AttachFiles | perm.PinMessages | perm.SendTTSMessages | perm.UseExternalEmojis

// Chan is a channel seen by one user: the channel, its guild state (nil
// for DMs, and nil in views returned after the guild's lock is released)
// and the user's permissions in it.
type Chan struct {
	State   *State // nil for a DM
	Channel *model.Channel
	Perms   uint64
}

// Has reports whether the user holds every bit.
func (c *Chan) Has(bits uint64) bool { return c.Perms&bits == bits }

func (c *Chan) require(bits uint64) error {
	if !c.Has(bits) {
		return apierr.ErrMissingPermissions
	}
	return nil
}

// detached copies the view without the guild state, for use after the
// guild's lock is released.
func (c *Chan) detached() *Chan {
	return &Chan{Channel: c.Channel, Perms: c.Perms}
}

// GuildID is the channel's guild, 0 for DMs.
func (c *Chan) GuildID() ID { return c.Channel.GuildID }

// locate finds the sequencer entry of a channel.
func (e *Engine) locate(channelID ID) (*entry, bool) {
	if gid := e.ChannelGuild(channelID); gid != 0 {
		en := e.entry(gid)
		return en, en != nil
	}
	e.gmu.RLock()
	en := e.dms[channelID]
	e.gmu.RUnlock()
	return en, en != nil
}

// chanFor builds the caller's view of a channel; en.mu must be held.
func chanFor(en *entry, actor, channelID ID) (*Chan, error) {
	if en.dm != nil {
		for _, r := range en.dm.Recipients {
			if r == actor {
				return &Chan{Channel: en.dm, Perms: dmPerms}, nil
			}
		}
		return nil, apierr.ErrMissingAccess
	}
	if en.state == nil {
		return nil, apierr.ErrUnknownChannel
	}
	ch := en.state.Channels[channelID]
	if ch == nil {
		return nil, apierr.ErrUnknownChannel
	}
	p := en.state.ChannelPerms(actor, ch)
	if p&perm.ViewChannel == 0 {
		return nil, apierr.ErrMissingAccess
	}
	return &Chan{State: en.state, Channel: ch, Perms: p}, nil
}

// ViewChannel runs fn with the caller's view of a channel, for reads.
func (e *Engine) ViewChannel(actor, channelID ID, fn func(c *Chan) error) error {
	en, ok := e.locate(channelID)
	if !ok {
		return apierr.ErrUnknownChannel
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	c, err := chanFor(en, actor, channelID)
	if err != nil {
		return err
	}
	return fn(c)
}

// withChannel is the write path for a channel: fn plans against the
// caller's view under the channel's sequencer lock.
func (e *Engine) withChannel(ctx context.Context, actor, channelID ID, fn func(c *Chan) (*plan, error)) error {
	en, ok := e.locate(channelID)
	if !ok {
		return apierr.ErrUnknownChannel
	}
	return e.sequence(ctx, en, func() (*plan, error) {
		c, err := chanFor(en, actor, channelID)
		if err != nil {
			return nil, err
		}
		return fn(c)
	})
}

// withChannelReads is withChannel for a plan that reads the store: it
// reads through rd, never under the sequencer's lock (reads.go).
func (e *Engine) withChannelReads(ctx context.Context, actor, channelID ID, fn func(c *Chan, rd *reads) (*plan, error)) error {
	en, ok := e.locate(channelID)
	if !ok {
		return apierr.ErrUnknownChannel
	}
	rd := e.newReads()
	return e.sequenceReplicated(ctx, en, rd, func() (*plan, error) {
		c, err := chanFor(en, actor, channelID)
		if err != nil {
			return nil, err
		}
		return fn(c, rd)
	})
}

// ChannelParams describes a new guild channel.
type ChannelParams struct {
	Name                 string
	Type                 int
	Topic                *string
	Position             *int
	ParentID             ID
	NSFW                 bool
	Bitrate              *int
	UserLimit            *int
	RateLimitPerUser     *int
	PermissionOverwrites []model.Overwrite
}

// ChannelPatch is a change to a channel; nil fields stay.
type ChannelPatch struct {
	Name                 *string
	Topic                **string
	Position             *int
	ParentID             *ID
	NSFW                 *bool
	Bitrate              *int
	UserLimit            *int
	RateLimitPerUser     *int
	PermissionOverwrites *[]model.Overwrite
}

// normalizeName applies Discord's text-channel naming: lower case, spaces
// become dashes.
func normalizeName(typ int, name string) string {
	name = strings.TrimSpace(name)
	if typ == model.ChannelGuildText {
		name = strings.ToLower(strings.Join(strings.Fields(name), "-"))
	}
	return name
}

// owPath names an overwrite's field in the errors tree: an entry of a
// channel body's permission_overwrites list or, for the single overwrite
// of PUT /channels/{id}/permissions/{overwrite_id}, the route's
// overwrite_id and the body's own fields.
func owPath(single bool, i int, field string) string {
	if single {
		if field == "id" {
			return "overwrite_id"
		}
		return field
	}
	return "permission_overwrites." + itoa(i) + "." + field
}

// checkOverwrites validates overwrites and the actor's right to set them:
// MANAGE_ROLES, and only bits the actor holds itself (unless admin or
// owner), as Discord enforces. single is for the one overwrite of a PUT.
func checkOverwrites(f *apierr.FormErrors, s *State, actor ID, actorPerms uint64, ows []model.Overwrite, single bool) error {
	for i, ow := range ows {
		switch ow.Type {
		case model.OverwriteRole:
			if s.Roles[ow.ID] == nil {
				f.Addf(owPath(single, i, "id"), "UNKNOWN_ROLE", "Unknown role %s.", ow.ID)
			}
		case model.OverwriteMember:
			if s.Members[ow.ID] == nil {
				f.Addf(owPath(single, i, "id"), "UNKNOWN_MEMBER", "Unknown member %s.", ow.ID)
			}
		default:
			f.Add(owPath(single, i, "type"), "BASE_TYPE_CHOICES", "Value must be one of (0, 1).")
		}
	}
	if len(ows) == 0 || actor == s.Guild.OwnerID || actorPerms&perm.Administrator != 0 {
		return nil
	}
	if actorPerms&perm.ManageRoles == 0 {
		return apierr.ErrMissingPermissions
	}
	for _, ow := range ows {
		if (ow.Allow|ow.Deny)&^actorPerms != 0 {
			return apierr.ErrMissingPermissions
		}
	}
	return nil
}

func validChannelFields(f *apierr.FormErrors, typ int, name *string, topic **string, bitrate, userLimit, rl *int) {
	if name != nil {
		if n := utf8.RuneCountInString(strings.TrimSpace(*name)); n < 1 || n > 100 {
			f.Add("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
		}
	}
	if topic != nil && *topic != nil && utf8.RuneCountInString(**topic) > 1024 {
		f.Add("topic", "BASE_TYPE_MAX_LENGTH", "Must be 1024 or fewer in length.")
	}
	if bitrate != nil && (*bitrate < 8000 || *bitrate > 384000) {
		f.Add("bitrate", "BASE_TYPE_BAD_INT", "Must be between 8000 and 384000.")
	}
	if userLimit != nil && (*userLimit < 0 || *userLimit > 99) {
		f.Add("user_limit", "BASE_TYPE_BAD_INT", "Must be between 0 and 99.")
	}
	if rl != nil && (*rl < 0 || *rl > 21600) {
		f.Add("rate_limit_per_user", "BASE_TYPE_BAD_INT", "Must be between 0 and 21600.")
	}
}

// CreateChannel adds a channel to a guild (MANAGE_CHANNELS).
func (e *Engine) CreateChannel(ctx context.Context, actor, guildID ID, cp ChannelParams) (*model.Channel, error) {
	var out *model.Channel
	err := e.withGuild(ctx, guildID, func(s *State) (*plan, error) {
		if err := s.requireGuild(actor, perm.ManageChannels); err != nil {
			return nil, err
		}
		var f apierr.FormErrors
		switch cp.Type {
		case model.ChannelGuildText, model.ChannelGuildVoice, model.ChannelGuildCategory:
		default:
			f.Add("type", "BASE_TYPE_CHOICES", "Value must be one of (0, 2, 4).")
		}
		validChannelFields(&f, cp.Type, &cp.Name, &cp.Topic, cp.Bitrate, cp.UserLimit, cp.RateLimitPerUser)
		if cp.ParentID != 0 {
			if par := s.Channels[cp.ParentID]; par == nil || par.Type != model.ChannelGuildCategory || cp.Type == model.ChannelGuildCategory {
				f.Add("parent_id", "CHANNEL_PARENT_INVALID", "Parent must be a category of this guild.")
			}
		}
		if err := checkOverwrites(&f, s, actor, s.BasePerms(actor), cp.PermissionOverwrites, false); err != nil {
			return nil, err
		}
		if err := f.Err(); err != nil {
			return nil, err
		}
		if len(s.Channels) >= MaxChannels {
			return nil, apierr.ErrMaxChannels
		}
		c := &model.Channel{ID: e.NewID(), Type: cp.Type, GuildID: guildID, Name: normalizeName(cp.Type, cp.Name),
			Topic: cp.Topic, NSFW: cp.NSFW, ParentID: cp.ParentID, PermissionOverwrites: cp.PermissionOverwrites}
		if c.PermissionOverwrites == nil {
			c.PermissionOverwrites = []model.Overwrite{}
		}
		if cp.Position != nil {
			c.Position = *cp.Position
		} else {
			for _, o := range s.Channels {
				if o.Position >= c.Position {
					c.Position = o.Position + 1
				}
			}
		}
		if cp.Type == model.ChannelGuildVoice {
			c.Bitrate = 64000
			setIf(&c.Bitrate, cp.Bitrate)
			setIf(&c.UserLimit, cp.UserLimit)
		}
		setIf(&c.RateLimitPerUser, cp.RateLimitPerUser)
		out = c
		p := &plan{}
		p.op(store.Op{Kind: store.OpPutChannel, GuildID: guildID, Channel: c})
		p.emit(Event{Type: "CHANNEL_CREATE", GuildID: guildID, ChannelID: c.ID, Data: c})
		return p, nil
	})
	return out, err
}

// ModifyChannel changes a guild channel (MANAGE_CHANNELS in it).
func (e *Engine) ModifyChannel(ctx context.Context, actor, channelID ID, patch ChannelPatch) (*model.Channel, error) {
	var out *model.Channel
	err := e.withChannel(ctx, actor, channelID, func(c *Chan) (*plan, error) {
		if c.State == nil {
			return nil, apierr.ErrDMChannel
		}
		if err := c.require(perm.ManageChannels); err != nil {
			return nil, err
		}
		s := c.State
		nc := *c.Channel
		var f apierr.FormErrors
		validChannelFields(&f, nc.Type, patch.Name, patch.Topic, patch.Bitrate, patch.UserLimit, patch.RateLimitPerUser)
		if patch.Name != nil {
			nc.Name = normalizeName(nc.Type, *patch.Name)
		}
		setIf(&nc.Topic, patch.Topic)
		setIf(&nc.Position, patch.Position)
		setIf(&nc.NSFW, patch.NSFW)
		setIf(&nc.Bitrate, patch.Bitrate)
		setIf(&nc.UserLimit, patch.UserLimit)
		setIf(&nc.RateLimitPerUser, patch.RateLimitPerUser)
		if patch.ParentID != nil {
			if pid := *patch.ParentID; pid != 0 {
				if par := s.Channels[pid]; par == nil || par.Type != model.ChannelGuildCategory || nc.Type == model.ChannelGuildCategory {
					f.Add("parent_id", "CHANNEL_PARENT_INVALID", "Parent must be a category of this guild.")
				}
			}
			nc.ParentID = *patch.ParentID
		}
		if patch.PermissionOverwrites != nil {
			if err := checkOverwrites(&f, s, actor, c.Perms, *patch.PermissionOverwrites, false); err != nil {
				return nil, err
			}
			nc.PermissionOverwrites = append([]model.Overwrite{}, (*patch.PermissionOverwrites)...)
		}
		if err := f.Err(); err != nil {
			return nil, err
		}
		out = &nc
		p := &plan{}
		p.op(store.Op{Kind: store.OpPutChannel, GuildID: nc.GuildID, Channel: &nc})
		p.emit(Event{Type: "CHANNEL_UPDATE", GuildID: nc.GuildID, ChannelID: nc.ID, Data: &nc})
		return p, nil
	})
	return out, err
}

// DeleteChannel removes a guild channel (MANAGE_CHANNELS). Children of a
// deleted category lose their parent, as on Discord.
func (e *Engine) DeleteChannel(ctx context.Context, actor, channelID ID) (*model.Channel, error) {
	var out *model.Channel
	err := e.withChannel(ctx, actor, channelID, func(c *Chan) (*plan, error) {
		if c.State == nil {
			out = c.Channel // closing a DM changes nothing stored
			return nil, nil
		}
		if err := c.require(perm.ManageChannels); err != nil {
			return nil, err
		}
		s := c.State
		if s.Guild.SystemChannelID == channelID || s.Guild.AFKChannelID == channelID {
			g := *s.Guild
			if g.SystemChannelID == channelID {
				g.SystemChannelID = 0
			}
			if g.AFKChannelID == channelID {
				g.AFKChannelID = 0
			}
			out = c.Channel
			p := &plan{}
			p.op(store.Op{Kind: store.OpPutGuild, GuildID: g.ID, Guild: &g})
			return deleteChannelPlan(p, s, c.Channel), nil
		}
		out = c.Channel
		return deleteChannelPlan(&plan{}, s, c.Channel), nil
	})
	return out, err
}

func deleteChannelPlan(p *plan, s *State, ch *model.Channel) *plan {
	if ch.Type == model.ChannelGuildCategory {
		for _, child := range s.SortedChannels() {
			if child.ParentID == ch.ID {
				nc := *child
				nc.ParentID = 0
				p.op(store.Op{Kind: store.OpPutChannel, GuildID: nc.GuildID, Channel: &nc})
				p.emit(Event{Type: "CHANNEL_UPDATE", GuildID: nc.GuildID, ChannelID: nc.ID, Data: &nc})
			}
		}
	}
	for _, inv := range s.Invites {
		if inv.ChannelID == ch.ID {
			p.op(store.Op{Kind: store.OpDeleteInvite, GuildID: ch.GuildID, Code: inv.Code})
		}
	}
	p.op(store.Op{Kind: store.OpDeleteChannel, GuildID: ch.GuildID, ID: ch.ID})
	p.emit(Event{Type: "CHANNEL_DELETE", GuildID: ch.GuildID, ChannelID: ch.ID, Data: ch})
	return p
}

// Position moves one channel or role.
type Position struct {
	ID       ID
	Position *int
	ParentID *ID // channels only; nil = unchanged
	// LockPermissions copies the new parent's overwrites onto a channel
	// that moves into a category.
	LockPermissions bool
}

// ChannelPositions reorders channels: MANAGE_CHANNELS in the guild, and,
// as PATCH /channels/{id} asks, VIEW_CHANNEL and MANAGE_CHANNELS in every
// channel moved and in the category it moves into (MANAGE_ROLES there
// too to lock its overwrites), so that nobody moves what they cannot see.
func (e *Engine) ChannelPositions(ctx context.Context, actor, guildID ID, moves []Position) error {
	return e.withGuild(ctx, guildID, func(s *State) (*plan, error) {
		if err := s.requireGuild(actor, perm.ManageChannels); err != nil {
			return nil, err
		}
		manage := func(c *model.Channel, extra uint64) error {
			have := s.ChannelPerms(actor, c)
			if have&perm.ViewChannel == 0 {
				return apierr.ErrMissingAccess
			}
			if have&(perm.ManageChannels|extra) != perm.ManageChannels|extra {
				return apierr.ErrMissingPermissions
			}
			return nil
		}
		var f apierr.FormErrors
		p := &plan{}
		for i, mv := range moves {
			c := s.Channels[mv.ID]
			if c == nil {
				f.Add(itoa(i)+".id", "CHANNEL_INVALID", "Unknown channel.")
				continue
			}
			if err := manage(c, 0); err != nil {
				return nil, err
			}
			nc := *c
			setIf(&nc.Position, mv.Position)
			if mv.ParentID != nil {
				if pid := *mv.ParentID; pid != 0 {
					par := s.Channels[pid]
					if par == nil || par.Type != model.ChannelGuildCategory || nc.Type == model.ChannelGuildCategory {
						f.Add(itoa(i)+".parent_id", "CHANNEL_PARENT_INVALID", "Parent must be a category of this guild.")
					} else {
						var extra uint64
						if mv.LockPermissions {
							extra = perm.ManageRoles
						}
						if err := manage(par, extra); err != nil {
							return nil, err
						}
						if mv.LockPermissions {
							nc.PermissionOverwrites = slices.Clone(par.PermissionOverwrites)
						}
					}
				}
				nc.ParentID = *mv.ParentID
			}
			p.op(store.Op{Kind: store.OpPutChannel, GuildID: guildID, Channel: &nc})
			p.emit(Event{Type: "CHANNEL_UPDATE", GuildID: guildID, ChannelID: nc.ID, Data: &nc})
		}
		if err := f.Err(); err != nil {
			return nil, err
		}
		return p, nil
	})
}

// EditOverwrite sets a channel permission overwrite (MANAGE_ROLES in the
// channel).
func (e *Engine) EditOverwrite(ctx context.Context, actor, channelID ID, ow model.Overwrite) error {
	return e.withChannel(ctx, actor, channelID, func(c *Chan) (*plan, error) {
		if c.State == nil {
			return nil, apierr.ErrDMChannel
		}
		var f apierr.FormErrors
		if err := checkOverwrites(&f, c.State, actor, c.Perms, []model.Overwrite{ow}, true); err != nil {
			return nil, err
		}
		if c.Perms&perm.ManageRoles == 0 && actor != c.State.Guild.OwnerID {
			return nil, apierr.ErrMissingPermissions
		}
		if err := f.Err(); err != nil {
			return nil, err
		}
		nc := *c.Channel
		nc.PermissionOverwrites = make([]model.Overwrite, 0, len(c.Channel.PermissionOverwrites)+1)
		replaced := false
		for _, o := range c.Channel.PermissionOverwrites {
			if o.ID == ow.ID {
				o, replaced = ow, true
			}
			nc.PermissionOverwrites = append(nc.PermissionOverwrites, o)
		}
		if !replaced {
			nc.PermissionOverwrites = append(nc.PermissionOverwrites, ow)
		}
		p := &plan{}
		p.op(store.Op{Kind: store.OpPutChannel, GuildID: nc.GuildID, Channel: &nc})
		p.emit(Event{Type: "CHANNEL_UPDATE", GuildID: nc.GuildID, ChannelID: nc.ID, Data: &nc})
		return p, nil
	})
}

// DeleteOverwrite removes a channel permission overwrite.
func (e *Engine) DeleteOverwrite(ctx context.Context, actor, channelID, overwriteID ID) error {
	return e.withChannel(ctx, actor, channelID, func(c *Chan) (*plan, error) {
		if c.State == nil {
			return nil, apierr.ErrDMChannel
		}
		if c.Perms&perm.ManageRoles == 0 && actor != c.State.Guild.OwnerID {
			return nil, apierr.ErrMissingPermissions
		}
		nc := *c.Channel
		nc.PermissionOverwrites = make([]model.Overwrite, 0, len(c.Channel.PermissionOverwrites))
		for _, o := range c.Channel.PermissionOverwrites {
			if o.ID != overwriteID {
				nc.PermissionOverwrites = append(nc.PermissionOverwrites, o)
			}
		}
		if len(nc.PermissionOverwrites) == len(c.Channel.PermissionOverwrites) {
			return nil, apierr.ErrUnknownOverwrite
		}
		p := &plan{}
		p.op(store.Op{Kind: store.OpPutChannel, GuildID: nc.GuildID, Channel: &nc})
		p.emit(Event{Type: "CHANNEL_UPDATE", GuildID: nc.GuildID, ChannelID: nc.ID, Data: &nc})
		return p, nil
	})
}

// OpenDM returns the DM channel between two users, creating it if needed.
func (e *Engine) OpenDM(ctx context.Context, actor, recipient ID) (*model.Channel, error) {
	if actor == recipient {
		return nil, apierr.ErrCannotDM
	}
	if e.User(recipient) == nil {
		return nil, apierr.InvalidForm("recipient_id", "USER_INVALID", "Unknown user.")
	}
	e.acct.wmu.Lock()
	defer e.acct.wmu.Unlock()
	e.acct.mu.RLock()
	id, ok := e.acct.dms[dmKey(actor, recipient)]
	e.acct.mu.RUnlock()
	if ok {
		return e.DMChannel(id), nil
	}
	c := &model.Channel{ID: e.NewID(), Type: model.ChannelDM, Recipients: []ID{actor, recipient}}
	p := &plan{}
	p.op(store.Op{Kind: store.OpPutChannel, Channel: c})
	if err := e.proposeGlobal(p); err != nil {
		return nil, err
	}
	return e.DMChannel(c.ID), nil
}

// DMChannel returns a DM channel's current record.
func (e *Engine) DMChannel(id ID) *model.Channel {
	e.gmu.RLock()
	en := e.dms[id]
	e.gmu.RUnlock()
	if en == nil {
		return nil
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	return en.dm
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
