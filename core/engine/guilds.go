package engine

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/core/store"
)

// MaxGuildsPerUser is Discord's limit for non-bot users.
const MaxGuildsPerUser = 100

// View runs fn with the guild's state under its lock, for reads. fn must
// not keep references to maps of the state after it returns; the model
// values themselves are never mutated in place and may be kept.
func (e *Engine) View(guildID ID, fn func(s *State) error) error {
	return e.readGuild(guildID, fn)
}

// ViewAsMember is View for a caller that must be a member.
func (e *Engine) ViewAsMember(guildID, userID ID, fn func(s *State) error) error {
	return e.readGuild(guildID, func(s *State) error {
		if s.Members[userID] == nil {
			return apierr.ErrUnknownGuild
		}
		return fn(s)
	})
}

func validGuildName(f *apierr.FormErrors, name string) {
	if n := utf8.RuneCountInString(strings.TrimSpace(name)); n < 2 || n > 100 {
		f.Add("name", "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 100 in length.")
	}
}

// CreateGuild makes a guild owned by the caller with an @everyone role, a
// "general" text channel and a "General" voice channel.
func (e *Engine) CreateGuild(ctx context.Context, ownerID ID, name string, icon *string) (ID, error) {
	var f apierr.FormErrors
	validGuildName(&f, name)
	if err := f.Err(); err != nil {
		return 0, err
	}
	owner := e.User(ownerID)
	if owner == nil {
		return 0, apierr.ErrUnknownUser
	}
	if !owner.Bot && len(e.UserGuilds(ownerID)) >= MaxGuildsPerUser {
		return 0, apierr.ErrMaxGuilds
	}
	now := e.Now()
	gid, err := e.newGuildID()
	if err != nil {
		return 0, err
	}
	text := &model.Channel{ID: e.NewID(), Type: model.ChannelGuildText, GuildID: gid, Name: "general", Position: 0, PermissionOverwrites: []model.Overwrite{}}
	voice := &model.Channel{ID: e.NewID(), Type: model.ChannelGuildVoice, GuildID: gid, Name: "General", Position: 0, Bitrate: 64000, PermissionOverwrites: []model.Overwrite{}}
	g := &model.Guild{ID: gid, Name: strings.TrimSpace(name), Icon: icon, OwnerID: ownerID, AFKTimeout: 300,
		SystemChannelID: text.ID, PreferredLocale: "en-US", DefaultMessageNotifications: 1}
	everyone := &model.Role{ID: gid, Name: "@everyone", Permissions: perm.DefaultEveryone}
	member := &model.Member{GuildID: gid, UserID: ownerID, Roles: []ID{}, JoinedAt: now}

	p := &plan{}
	p.op(store.Op{Kind: store.OpPutGuild, Guild: g})
	p.op(store.Op{Kind: store.OpPutRole, GuildID: gid, Role: everyone})
	p.op(store.Op{Kind: store.OpPutChannel, GuildID: gid, Channel: text})
	p.op(store.Op{Kind: store.OpPutChannel, GuildID: gid, Channel: voice})
	p.op(store.Op{Kind: store.OpPutMember, GuildID: gid, Member: member})
	p.emit(Event{Type: "GUILD_CREATE", GuildID: gid, UserIDs: []ID{ownerID}})

	en := &entry{key: gid, state: e.own(newState())}
	en.state.Guild = g
	// Register the entry before committing under its lock so that nobody
	// can write to the guild before its creation is ordered.
	en.mu.Lock()
	e.gmu.Lock()
	e.guilds[gid] = en
	e.gmu.Unlock()
	en.mu.Unlock()
	err = e.sequence(ctx, en, func() (*plan, error) { return p, nil })
	if err != nil {
		e.gmu.Lock()
		delete(e.guilds, gid)
		e.gmu.Unlock()
		return 0, err
	}
	return gid, nil
}

// GuildPatch is a change to a guild; nil fields stay.
type GuildPatch struct {
	Name                        *string
	Icon                        **string
	Description                 **string
	OwnerID                     *ID
	AFKChannelID                *ID
	AFKTimeout                  *int
	SystemChannelID             *ID
	VerificationLevel           *int
	DefaultMessageNotifications *int
	ExplicitContentFilter       *int
	PreferredLocale             *string
}

// ModifyGuild changes guild settings (MANAGE_GUILD; ownership transfer is
// owner-only).
func (e *Engine) ModifyGuild(ctx context.Context, actor, guildID ID, patch GuildPatch) (*model.Guild, error) {
	var out *model.Guild
	err := e.withGuild(ctx, guildID, func(s *State) (*plan, error) {
		if err := s.requireGuild(actor, perm.ManageGuild); err != nil {
			return nil, err
		}
		g := *s.Guild
		var f apierr.FormErrors
		if patch.Name != nil {
			validGuildName(&f, *patch.Name)
			g.Name = strings.TrimSpace(*patch.Name)
		}
		setIf(&g.Icon, patch.Icon)
		if patch.Description != nil {
			if d := *patch.Description; d != nil && utf8.RuneCountInString(*d) > 120 {
				f.Add("description", "BASE_TYPE_MAX_LENGTH", "Must be 120 or fewer in length.")
			}
			g.Description = *patch.Description
		}
		if patch.OwnerID != nil {
			if actor != s.Guild.OwnerID {
				return nil, apierr.ErrMissingPermissions
			}
			if s.Members[*patch.OwnerID] == nil {
				f.Add("owner_id", "GUILD_OWNER_INVALID", "Owner must be a member of the guild.")
			}
			g.OwnerID = *patch.OwnerID
		}
		checkChan := func(path string, id *ID, typ int) {
			if id == nil {
				return
			}
			if *id != 0 {
				if c := s.Channels[*id]; c == nil || c.Type != typ {
					f.Add(path, "CHANNEL_INVALID", "Unknown channel or wrong channel type.")
				}
			}
		}
		checkChan("afk_channel_id", patch.AFKChannelID, model.ChannelGuildVoice)
		checkChan("system_channel_id", patch.SystemChannelID, model.ChannelGuildText)
		setIf(&g.AFKChannelID, patch.AFKChannelID)
		setIf(&g.SystemChannelID, patch.SystemChannelID)
		if v := patch.AFKTimeout; v != nil {
			switch *v {
			case 60, 300, 900, 1800, 3600:
				g.AFKTimeout = *v
			default:
				f.Add("afk_timeout", "BASE_TYPE_CHOICES", "Value must be one of (60, 300, 900, 1800, 3600).")
			}
		}
		enum := func(path string, v *int, max int, dst *int) {
			if v == nil {
				return
			}
			if *v < 0 || *v > max {
				f.Addf(path, "BASE_TYPE_CHOICES", "Value must be between 0 and %d.", max)
				return
			}
			*dst = *v
		}
		enum("verification_level", patch.VerificationLevel, 4, &g.VerificationLevel)
		enum("default_message_notifications", patch.DefaultMessageNotifications, 1, &g.DefaultMessageNotifications)
		enum("explicit_content_filter", patch.ExplicitContentFilter, 2, &g.ExplicitContentFilter)
		setIf(&g.PreferredLocale, patch.PreferredLocale)
		if err := f.Err(); err != nil {
			return nil, err
		}
		out = &g
		p := &plan{}
		p.op(store.Op{Kind: store.OpPutGuild, GuildID: guildID, Guild: &g})
		p.emit(Event{Type: "GUILD_UPDATE", GuildID: guildID, Data: &g})
		return p, nil
	})
	return out, err
}

// DeleteGuild removes a guild. Only the owner may.
func (e *Engine) DeleteGuild(ctx context.Context, actor, guildID ID) error {
	return e.withGuild(ctx, guildID, func(s *State) (*plan, error) {
		if s.Members[actor] == nil {
			return nil, apierr.ErrUnknownGuild
		}
		if actor != s.Guild.OwnerID {
			return nil, apierr.ErrMissingPermissions
		}
		p := &plan{}
		p.op(store.Op{Kind: store.OpDeleteGuild, GuildID: guildID})
		p.emit(Event{Type: "GUILD_DELETE", GuildID: guildID, UserIDs: s.SortedMemberIDs(), Data: &GuildDeleted{ID: guildID, Unavailable: new(false)}})
		return p, nil
	})
}

// Members returns the members of a guild among userIDs (missing ones are
// left out). The values are immutable snapshots and may be kept.
func (e *Engine) Members(guildID ID, userIDs []ID) map[ID]*model.Member {
	out := make(map[ID]*model.Member, len(userIDs))
	_ = e.readGuild(guildID, func(s *State) error {
		for _, id := range userIDs {
			if m := s.Members[id]; m != nil {
				out[id] = m
			}
		}
		return nil
	})
	return out
}

// newGuildID picks a new guild's ID. In a region it picks one whose shard
// this node leads, so the creation is sequenced here rather than sent to
// another node that would pick another ID (and maybe another shard). A
// node that leads no shard sends the request to a node that does.
func (e *Engine) newGuildID() (ID, error) {
	var gid ID
	for range 256 {
		gid = e.NewID()
		if ok, _ := e.leads(e.shardOf(gid)); ok {
			return gid, nil
		}
	}
	shard := e.shardOf(gid)
	return 0, e.notLeader(shard)
}
