package engine

import (
	"time"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/perm"
)

// memberInput gathers what the permission engine needs about a member.
func (s *State) memberInput(m *model.Member) perm.Input {
	in := perm.Input{OwnerID: s.Guild.OwnerID, GuildID: s.Guild.ID, UserID: m.UserID}
	if t := m.CommunicationDisabledUntil; t != nil {
		now := time.Now
		if s.clock != nil {
			now = s.clock
		}
		in.TimedOut = t.After(now())
	}
	if ev := s.Everyone(); ev != nil {
		in.Everyone = ev.Permissions
	}
	if len(m.Roles) > 0 {
		in.RoleIDs = m.Roles
		in.RolePerms = make([]uint64, 0, len(m.Roles))
		for _, rid := range m.Roles {
			if r := s.Roles[rid]; r != nil {
				in.RolePerms = append(in.RolePerms, r.Permissions)
			}
		}
	}
	return in
}

// BasePerms is the user's guild-level permissions (0 for non-members).
func (s *State) BasePerms(userID ID) uint64 {
	m := s.Members[userID]
	if m == nil {
		return 0
	}
	return perm.ComputeBase(s.memberInput(m))
}

// ChannelPerms is the user's permissions in a channel, overwrites and
// implicit rules applied (0 for non-members).
func (s *State) ChannelPerms(userID ID, c *model.Channel) uint64 {
	m := s.Members[userID]
	if m == nil {
		return 0
	}
	in := s.memberInput(m)
	in.Overwrites = c.PermissionOverwrites
	in.ChannelType = c.Type
	return perm.Compute(in)
}

// requireGuild fails with Missing Permissions unless the user holds every
// bit at guild level.
func (s *State) requireGuild(userID ID, bits uint64) error {
	if s.Members[userID] == nil {
		return apierr.ErrUnknownGuild
	}
	if s.BasePerms(userID)&bits != bits {
		return apierr.ErrMissingPermissions
	}
	return nil
}

// requireChannel fails with Missing Access when the user cannot see the
// channel and Missing Permissions when a bit is missing.
func (s *State) requireChannel(userID ID, c *model.Channel, bits uint64) error {
	p := s.ChannelPerms(userID, c)
	if p&perm.ViewChannel == 0 {
		return apierr.ErrMissingAccess
	}
	if p&bits != bits {
		return apierr.ErrMissingPermissions
	}
	return nil
}

// outranks reports whether actor may act on target by the role hierarchy:
// the owner always may; others only on members whose top role is lower.
func (s *State) outranks(actor, target ID) bool {
	if actor == s.Guild.OwnerID {
		return true
	}
	if target == s.Guild.OwnerID {
		return false
	}
	am, tm := s.Members[actor], s.Members[target]
	if am == nil {
		return false
	}
	tp := 0
	if tm != nil {
		tp = s.HighestRolePosition(tm)
	}
	return s.HighestRolePosition(am) > tp
}

// canManageRole reports whether actor may assign, edit or delete a role:
// the owner may; others need MANAGE_ROLES and a top role above it.
func (s *State) canManageRole(actor ID, r *model.Role) bool {
	if actor == s.Guild.OwnerID {
		return true
	}
	am := s.Members[actor]
	return am != nil && s.HighestRolePosition(am) > r.Position
}
