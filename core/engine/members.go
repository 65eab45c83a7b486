package engine

import (
	"context"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/core/store"
)

// join adds a member to the plan, refusing banned users. It returns false
// when the user already is a member.
func (e *Engine) join(p *plan, s *State, userID ID, roles []ID) (bool, error) {
	if s.Members[userID] != nil {
		return false, nil
	}
	if s.Bans[userID] != nil {
		return false, apierr.ErrBanned
	}
	u := e.User(userID)
	if u == nil {
		return false, apierr.ErrUnknownUser
	}
	if roles == nil {
		roles = []ID{}
	}
	m := &model.Member{GuildID: s.Guild.ID, UserID: userID, Roles: roles, JoinedAt: e.Now()}
	p.op(store.Op{Kind: store.OpPutMember, GuildID: s.Guild.ID, Member: m})
	p.emit(Event{Type: "GUILD_MEMBER_ADD", GuildID: s.Guild.ID, Data: m})
	p.emit(Event{Type: "GUILD_CREATE", GuildID: s.Guild.ID, UserIDs: []ID{userID}})
	return true, nil
}

// AddBot adds a bot to a guild on behalf of an actor with MANAGE_GUILD
// (Discord's OAuth2 bot authorization). When perms is non-zero the bot gets
// a managed role carrying them, as on Discord. Authorizing a bot already
// in the guild again sets its managed role's permissions to perms (making
// the role if the bot has none), as Discord does.
func (e *Engine) AddBot(ctx context.Context, actor, guildID, botID ID, perms uint64) error {
	bot := e.User(botID)
	if bot == nil || !bot.Bot {
		return apierr.ErrUnknownApplication
	}
	return e.withGuild(ctx, guildID, func(s *State) (*plan, error) {
		if err := s.requireGuild(actor, perm.ManageGuild); err != nil {
			return nil, err
		}
		if err := s.grantable(actor, perms); err != nil {
			return nil, err
		}
		p := &plan{}
		if m := s.Members[botID]; m != nil {
			e.reauthorizeBot(p, s, m, bot, perms&perm.All)
			return p, nil
		}
		var roles []ID
		if perms != 0 {
			roles = []ID{e.botRole(p, s, bot, perms&perm.All).ID}
		}
		if _, err := e.join(p, s, botID, roles); err != nil {
			return nil, err
		}
		return p, nil
	})
}

// reauthorizeBot gives a bot already in the guild the permissions of a
// new authorization, on its managed role.
func (e *Engine) reauthorizeBot(p *plan, s *State, m *model.Member, bot *model.User, perms uint64) {
	for _, rid := range m.Roles {
		r := s.Roles[rid]
		// Roles made before role tags existed are the bot's managed ones.
		if r == nil || !r.Managed || r.Tags != nil && r.Tags.BotID != bot.ID {
			continue
		}
		if r.Permissions == perms && r.Tags != nil {
			return
		}
		nr := *r
		nr.Permissions, nr.Tags = perms, &model.RoleTags{BotID: bot.ID}
		p.op(store.Op{Kind: store.OpPutRole, GuildID: s.Guild.ID, Role: &nr})
		p.emit(Event{Type: "GUILD_ROLE_UPDATE", GuildID: s.Guild.ID, Data: &nr})
		return
	}
	if perms == 0 {
		return
	}
	r := e.botRole(p, s, bot, perms)
	nm := *m
	nm.Roles = append(slices.Clone(m.Roles), r.ID)
	p.op(store.Op{Kind: store.OpPutMember, GuildID: s.Guild.ID, Member: &nm})
	p.emit(Event{Type: "GUILD_MEMBER_UPDATE", GuildID: s.Guild.ID, Data: &nm})
}

// botRole plans a bot's managed role, placed just above @everyone as
// Discord places it.
func (e *Engine) botRole(p *plan, s *State, bot *model.User, perms uint64) *model.Role {
	r := &model.Role{ID: e.NewID(), Name: bot.Username, Permissions: perms, Managed: true, Position: 1,
		Tags: &model.RoleTags{BotID: bot.ID}}
	for _, o := range s.SortedRoles() {
		if o.ID != s.Guild.ID && o.Position >= 1 {
			no := *o
			no.Position++
			p.op(store.Op{Kind: store.OpPutRole, GuildID: s.Guild.ID, Role: &no})
		}
	}
	p.op(store.Op{Kind: store.OpPutRole, GuildID: s.Guild.ID, Role: r})
	p.emit(Event{Type: "GUILD_ROLE_CREATE", GuildID: s.Guild.ID, Data: r})
	return r
}

// MemberPatch is a change to a member; nil fields stay.
type MemberPatch struct {
	Nick  **string
	Roles *[]ID
	Mute  *bool
	Deaf  *bool
	// CommunicationDisabledUntil times the member out until then (at
	// most MaxTimeout ahead); a pointer to nil lifts the timeout.
	CommunicationDisabledUntil **time.Time
}

// MaxTimeout is how far ahead a timeout may end, as on Discord.
const MaxTimeout = 28 * 24 * time.Hour

// ModifyMember changes another member (MANAGE_NICKNAMES for nick,
// MANAGE_ROLES for roles, MUTE_MEMBERS/DEAFEN_MEMBERS for voice) or, for
// the caller's own nick, CHANGE_NICKNAME.
func (e *Engine) ModifyMember(ctx context.Context, actor, guildID, userID ID, mp MemberPatch) (*model.Member, error) {
	var out *model.Member
	err := e.withGuild(ctx, guildID, func(s *State) (*plan, error) {
		if s.Members[actor] == nil {
			return nil, apierr.ErrUnknownGuild
		}
		old := s.Members[userID]
		if old == nil {
			return nil, apierr.ErrUnknownMember
		}
		have := s.BasePerms(actor)
		if mp.Nick == nil && mp.Roles == nil && mp.Mute == nil && mp.Deaf == nil && mp.CommunicationDisabledUntil == nil && actor != userID &&
			have&(perm.ManageNicknames|perm.ManageRoles|perm.MuteMembers|perm.DeafenMembers|perm.ModerateMembers|perm.MoveMembers) == 0 {
			// Nothing to change, but a caller who could change nothing
			// of another member must not be told it went through.
			return nil, apierr.ErrMissingPermissions
		}
		nm := *old
		var f apierr.FormErrors
		if mp.Nick != nil {
			need := uint64(perm.ManageNicknames)
			if actor == userID {
				need = perm.ChangeNickname
				if have&perm.ManageNicknames != 0 {
					need = perm.ManageNicknames
				}
			}
			if have&need == 0 {
				return nil, apierr.ErrMissingPermissions
			}
			if actor != userID && !s.outranks(actor, userID) {
				return nil, apierr.ErrMissingPermissions
			}
			if n := *mp.Nick; n != nil {
				if utf8.RuneCountInString(*n) > 32 {
					f.Add("nick", "BASE_TYPE_MAX_LENGTH", "Must be 32 or fewer in length.")
				}
				if *n == "" {
					nm.Nick = nil
				} else {
					nm.Nick = n
				}
			} else {
				nm.Nick = nil
			}
		}
		if mp.Roles != nil {
			if have&perm.ManageRoles == 0 {
				return nil, apierr.ErrMissingPermissions
			}
			want := make([]ID, 0, len(*mp.Roles))
			for i, rid := range *mp.Roles {
				r := s.Roles[rid]
				if r == nil || rid == guildID {
					f.Addf("roles."+itoa(i), "ROLE_INVALID", "Unknown role %s.", rid)
					continue
				}
				if !slices.Contains(want, rid) {
					want = append(want, rid)
				}
			}
			// Every role added or removed must be manageable by the actor,
			// and managed roles (bots') cannot be moved by hand.
			for _, rid := range symmetricDiff(old.Roles, want) {
				r := s.Roles[rid]
				if r == nil {
					continue
				}
				if !s.canManageRole(actor, r) || r.Managed {
					return nil, apierr.ErrMissingPermissions
				}
			}
			nm.Roles = want
		}
		if mp.Mute != nil {
			if have&perm.MuteMembers == 0 {
				return nil, apierr.ErrMissingPermissions
			}
			nm.Mute = *mp.Mute
		}
		if mp.Deaf != nil {
			if have&perm.DeafenMembers == 0 {
				return nil, apierr.ErrMissingPermissions
			}
			nm.Deaf = *mp.Deaf
		}
		if mp.CommunicationDisabledUntil != nil {
			// MODERATE_MEMBERS, over a member ranked lower who is neither
			// the owner nor an administrator (those cannot be timed out).
			if have&perm.ModerateMembers == 0 || userID == s.Guild.OwnerID ||
				s.BasePerms(userID)&perm.Administrator != 0 || (actor != s.Guild.OwnerID && !s.outranks(actor, userID)) {
				return nil, apierr.ErrMissingPermissions
			}
			until := *mp.CommunicationDisabledUntil
			if until != nil {
				now := e.Now()
				if until.After(now.Add(MaxTimeout)) {
					f.Add("communication_disabled_until", "COMMUNICATION_DISABLED_TIMESTAMP_TOO_FAR",
						"Timeouts can last at most 28 days.")
				}
				if !until.After(now) {
					until = nil // a time past lifts the timeout
				} else {
					u := until.UTC()
					until = &u
				}
			}
			nm.CommunicationDisabledUntil = until
		}
		if err := f.Err(); err != nil {
			return nil, err
		}
		out = &nm
		p := &plan{}
		p.op(store.Op{Kind: store.OpPutMember, GuildID: guildID, Member: &nm})
		p.emit(Event{Type: "GUILD_MEMBER_UPDATE", GuildID: guildID, Data: &nm})
		return p, nil
	})
	return out, err
}

func symmetricDiff(a, b []ID) []ID {
	var out []ID
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			out = append(out, x)
		}
	}
	return out
}

// SetMemberRole adds or removes one role of a member (MANAGE_ROLES).
func (e *Engine) SetMemberRole(ctx context.Context, actor, guildID, userID, roleID ID, add bool) error {
	return e.withGuild(ctx, guildID, func(s *State) (*plan, error) {
		if err := s.requireGuild(actor, perm.ManageRoles); err != nil {
			return nil, err
		}
		m := s.Members[userID]
		if m == nil {
			return nil, apierr.ErrUnknownMember
		}
		r := s.Roles[roleID]
		if r == nil || roleID == guildID {
			return nil, apierr.ErrUnknownRole
		}
		if !s.canManageRole(actor, r) || r.Managed {
			return nil, apierr.ErrMissingPermissions
		}
		if hasID(m.Roles, roleID) == add {
			return nil, nil // already so: Discord answers 204 all the same
		}
		nm := *m
		if add {
			nm.Roles = append(slices.Clone(m.Roles), roleID)
		} else {
			nm.Roles = withoutID(m.Roles, roleID)
		}
		p := &plan{}
		p.op(store.Op{Kind: store.OpPutMember, GuildID: guildID, Member: &nm})
		p.emit(Event{Type: "GUILD_MEMBER_UPDATE", GuildID: guildID, Data: &nm})
		return p, nil
	})
}

// RemoveMember kicks a member (KICK_MEMBERS and hierarchy) or, when actor
// is the member, leaves the guild (the owner cannot leave).
func (e *Engine) RemoveMember(ctx context.Context, actor, guildID, userID ID) error {
	return e.withGuild(ctx, guildID, func(s *State) (*plan, error) {
		if s.Members[actor] == nil {
			return nil, apierr.ErrUnknownGuild
		}
		if s.Members[userID] == nil {
			return nil, apierr.ErrUnknownMember
		}
		if actor == userID {
			if actor == s.Guild.OwnerID {
				return nil, apierr.InvalidForm("guild_id", "GUILD_OWNER_CANNOT_LEAVE", "The owner cannot leave the guild; transfer or delete it.")
			}
		} else {
			if err := s.requireGuild(actor, perm.KickMembers); err != nil {
				return nil, err
			}
			if !s.outranks(actor, userID) {
				return nil, apierr.ErrMissingPermissions
			}
		}
		p := &plan{}
		removeMemberPlan(p, s, userID)
		return p, nil
	})
}

func removeMemberPlan(p *plan, s *State, userID ID) {
	gid := s.Guild.ID
	// A bot's managed role goes with the bot, as on Discord; otherwise a
	// re-added bot would get a second one.
	if m := s.Members[userID]; m != nil {
		for _, rid := range m.Roles {
			if r := s.Roles[rid]; r != nil && r.Managed {
				deleteRolePlan(p, s, rid, userID)
			}
		}
	}
	p.op(store.Op{Kind: store.OpDeleteMember, GuildID: gid, UserID: userID})
	p.emit(Event{Type: "GUILD_MEMBER_REMOVE", GuildID: gid, Data: &MemberRemoved{GuildID: gid, UserID: userID}})
	p.emit(Event{Type: "GUILD_DELETE", GuildID: gid, UserIDs: []ID{userID}, Data: &GuildDeleted{ID: gid}})
}

// Ban bans a user (BAN_MEMBERS and hierarchy), removing them if they are a
// member. Messages are kept; Discord's delete_message_seconds purge is not
// implemented.
func (e *Engine) Ban(ctx context.Context, actor, guildID, userID ID, reason *string) error {
	if e.User(userID) == nil {
		return apierr.ErrUnknownUser
	}
	return e.withGuild(ctx, guildID, func(s *State) (*plan, error) {
		if err := s.requireGuild(actor, perm.BanMembers); err != nil {
			return nil, err
		}
		if actor == userID || userID == s.Guild.OwnerID || (s.Members[userID] != nil && !s.outranks(actor, userID)) {
			return nil, apierr.ErrMissingPermissions
		}
		p := &plan{}
		if s.Members[userID] != nil {
			removeMemberPlan(p, s, userID)
		}
		b := &model.Ban{GuildID: guildID, UserID: userID, Reason: reason}
		p.op(store.Op{Kind: store.OpPutBan, GuildID: guildID, Ban: b})
		p.emit(Event{Type: "GUILD_BAN_ADD", GuildID: guildID, Data: b})
		return p, nil
	})
}

// Unban lifts a ban (BAN_MEMBERS).
func (e *Engine) Unban(ctx context.Context, actor, guildID, userID ID) error {
	return e.withGuild(ctx, guildID, func(s *State) (*plan, error) {
		if err := s.requireGuild(actor, perm.BanMembers); err != nil {
			return nil, err
		}
		b := s.Bans[userID]
		if b == nil {
			return nil, apierr.ErrUnknownBan
		}
		p := &plan{}
		p.op(store.Op{Kind: store.OpDeleteBan, GuildID: guildID, UserID: userID})
		p.emit(Event{Type: "GUILD_BAN_REMOVE", GuildID: guildID, Data: b})
		return p, nil
	})
}
