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

// MaxRoles is Discord's per-guild role limit.
const MaxRoles = 250

// RolePatch is a new role's fields or a change to a role; nil fields stay
// (or take Discord's defaults on create).
type RolePatch struct {
	Name        *string
	Permissions *uint64
	Color       *int
	Hoist       *bool
	Mentionable *bool
	Icon        **string
	Emoji       **string
}

func (rp *RolePatch) applyTo(f *apierr.FormErrors, r *model.Role) {
	if rp.Name != nil {
		if n := utf8.RuneCountInString(*rp.Name); n > 100 {
			f.Add("name", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
		}
		r.Name = strings.TrimSpace(*rp.Name)
	}
	if rp.Permissions != nil {
		r.Permissions = *rp.Permissions & perm.All
	}
	if rp.Color != nil {
		if *rp.Color < 0 || *rp.Color > 0xFFFFFF {
			f.Add("color", "BASE_TYPE_BAD_INT", "Must be between 0 and 16777215.")
		}
		r.Color = *rp.Color
	}
	setIf(&r.Hoist, rp.Hoist)
	setIf(&r.Mentionable, rp.Mentionable)
	setIf(&r.Icon, rp.Icon)
	setIf(&r.UnicodeEmoji, rp.Emoji)
}

// grantable checks Discord's rule that a member cannot give a role
// permissions they do not have themselves.
func (s *State) grantable(actor ID, bits uint64) error {
	if actor == s.Guild.OwnerID {
		return nil
	}
	have := s.BasePerms(actor)
	if have&perm.Administrator != 0 || bits&^have == 0 {
		return nil
	}
	return apierr.ErrMissingPermissions
}

// CreateRole adds a role at position 1, below every other role
// (MANAGE_ROLES).
func (e *Engine) CreateRole(ctx context.Context, actor, guildID ID, rp RolePatch) (*model.Role, error) {
	var out *model.Role
	err := e.withGuild(ctx, guildID, func(s *State) (*plan, error) {
		if err := s.requireGuild(actor, perm.ManageRoles); err != nil {
			return nil, err
		}
		if len(s.Roles) >= MaxRoles {
			return nil, apierr.ErrMaxRoles
		}
		r := &model.Role{ID: e.NewID(), Name: "new role", Position: 1}
		if ev := s.Everyone(); ev != nil {
			r.Permissions = ev.Permissions
		}
		var f apierr.FormErrors
		rp.applyTo(&f, r)
		if err := f.Err(); err != nil {
			return nil, err
		}
		if err := s.grantable(actor, r.Permissions); err != nil {
			return nil, err
		}
		if r.Name == "" {
			r.Name = "new role"
		}
		p := &plan{}
		// Discord puts new roles just above @everyone and shifts the rest.
		for _, o := range s.SortedRoles() {
			if o.ID != guildID && o.Position >= 1 {
				no := *o
				no.Position++
				p.op(store.Op{Kind: store.OpPutRole, GuildID: guildID, Role: &no})
			}
		}
		p.op(store.Op{Kind: store.OpPutRole, GuildID: guildID, Role: r})
		p.emit(Event{Type: "GUILD_ROLE_CREATE", GuildID: guildID, Data: r})
		out = r
		return p, nil
	})
	return out, err
}

// ModifyRole changes a role (MANAGE_ROLES, and the role must be below the
// actor's top role).
func (e *Engine) ModifyRole(ctx context.Context, actor, guildID, roleID ID, rp RolePatch) (*model.Role, error) {
	var out *model.Role
	err := e.withGuild(ctx, guildID, func(s *State) (*plan, error) {
		if err := s.requireGuild(actor, perm.ManageRoles); err != nil {
			return nil, err
		}
		old := s.Roles[roleID]
		if old == nil {
			return nil, apierr.ErrUnknownRole
		}
		if roleID != guildID && !s.canManageRole(actor, old) {
			return nil, apierr.ErrMissingPermissions
		}
		r := *old
		if roleID == guildID {
			rp.Name = nil // @everyone keeps its name
		}
		var f apierr.FormErrors
		rp.applyTo(&f, &r)
		if err := f.Err(); err != nil {
			return nil, err
		}
		if rp.Permissions != nil {
			if err := s.grantable(actor, r.Permissions&^old.Permissions); err != nil {
				return nil, err
			}
		}
		out = &r
		p := &plan{}
		p.op(store.Op{Kind: store.OpPutRole, GuildID: guildID, Role: &r})
		p.emit(Event{Type: "GUILD_ROLE_UPDATE", GuildID: guildID, Data: &r})
		return p, nil
	})
	return out, err
}

// DeleteRole removes a role and takes it from every member.
func (e *Engine) DeleteRole(ctx context.Context, actor, guildID, roleID ID) error {
	return e.withGuild(ctx, guildID, func(s *State) (*plan, error) {
		if err := s.requireGuild(actor, perm.ManageRoles); err != nil {
			return nil, err
		}
		r := s.Roles[roleID]
		if r == nil {
			return nil, apierr.ErrUnknownRole
		}
		if roleID == guildID {
			return nil, apierr.InvalidForm("role_id", "ROLE_INVALID", "Cannot delete the @everyone role.")
		}
		if !s.canManageRole(actor, r) {
			return nil, apierr.ErrMissingPermissions
		}
		p := &plan{}
		deleteRolePlan(p, s, roleID, 0)
		return p, nil
	})
}

// deleteRolePlan removes a role from every member holding it (but skip,
// a member the plan removes) and from every channel overwrite, then the
// role itself.
func deleteRolePlan(p *plan, s *State, roleID, skip ID) {
	guildID := s.Guild.ID
	for _, uid := range s.SortedMemberIDs() {
		m := s.Members[uid]
		if uid != skip && hasID(m.Roles, roleID) {
			nm := *m
			nm.Roles = withoutID(m.Roles, roleID)
			p.op(store.Op{Kind: store.OpPutMember, GuildID: guildID, Member: &nm})
			p.emit(Event{Type: "GUILD_MEMBER_UPDATE", GuildID: guildID, Data: &nm})
		}
	}
	for _, c := range s.SortedChannels() {
		for _, ow := range c.PermissionOverwrites {
			if ow.ID == roleID {
				nc := *c
				nc.PermissionOverwrites = nil
				for _, o := range c.PermissionOverwrites {
					if o.ID != roleID {
						nc.PermissionOverwrites = append(nc.PermissionOverwrites, o)
					}
				}
				p.op(store.Op{Kind: store.OpPutChannel, GuildID: guildID, Channel: &nc})
				p.emit(Event{Type: "CHANNEL_UPDATE", GuildID: guildID, ChannelID: nc.ID, Data: &nc})
				break
			}
		}
	}
	p.op(store.Op{Kind: store.OpDeleteRole, GuildID: guildID, ID: roleID})
	p.emit(Event{Type: "GUILD_ROLE_DELETE", GuildID: guildID, Data: &RoleDeleted{GuildID: guildID, RoleID: roleID}})
}

// RolePositions reorders roles (MANAGE_ROLES; only roles below the actor).
func (e *Engine) RolePositions(ctx context.Context, actor, guildID ID, moves []Position) error {
	return e.withGuild(ctx, guildID, func(s *State) (*plan, error) {
		if err := s.requireGuild(actor, perm.ManageRoles); err != nil {
			return nil, err
		}
		var f apierr.FormErrors
		p := &plan{}
		for i, mv := range moves {
			r := s.Roles[mv.ID]
			if r == nil || mv.ID == guildID {
				f.Add(itoa(i)+".id", "ROLE_INVALID", "Unknown role or @everyone.")
				continue
			}
			if mv.Position == nil {
				continue
			}
			if !s.canManageRole(actor, r) || (actor != s.Guild.OwnerID && *mv.Position >= s.HighestRolePosition(s.Members[actor])) {
				return nil, apierr.ErrMissingPermissions
			}
			if *mv.Position < 1 {
				f.Add(itoa(i)+".position", "BASE_TYPE_BAD_INT", "Must be 1 or more.")
				continue
			}
			nr := *r
			nr.Position = *mv.Position
			p.op(store.Op{Kind: store.OpPutRole, GuildID: guildID, Role: &nr})
			p.emit(Event{Type: "GUILD_ROLE_UPDATE", GuildID: guildID, Data: &nr})
		}
		if err := f.Err(); err != nil {
			return nil, err
		}
		return p, nil
	})
}

func hasID(ids []ID, id ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func withoutID(ids []ID, id ID) []ID {
	out := make([]ID, 0, len(ids))
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}
