package engine

import (
	"slices"
	"sort"
	"time"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
)

type ID = snowflake.ID

// State is one guild's metadata. It is changed only by Apply, so that every
// replica that applies the same ops in the same order holds the same State.
// Callers hold the guild's lock while they read it.
type State struct {
	Guild    *model.Guild
	Channels map[ID]*model.Channel
	Roles    map[ID]*model.Role
	Members  map[ID]*model.Member
	Bans     map[ID]*model.Ban
	Invites  map[string]*model.Invite
	// Voice is who is in the guild's voice channels (hot state only).
	Voice map[ID]*VoiceState
	// clock tells permissions whether a timeout is still on (nil: the
	// wall clock). Only plans and reads consult it, never the apply.
	clock func() time.Time
}

func newState() *State {
	return &State{
		Channels: map[ID]*model.Channel{},
		Roles:    map[ID]*model.Role{},
		Members:  map[ID]*model.Member{},
		Bans:     map[ID]*model.Ban{},
		Invites:  map[string]*model.Invite{},
		Voice:    map[ID]*VoiceState{},
	}
}

// FromSnapshot builds a State from what the store loaded.
func FromSnapshot(s *store.GuildSnapshot) *State {
	st := newState()
	st.Guild = s.Guild
	for _, c := range s.Channels {
		st.Channels[c.ID] = c
	}
	for _, r := range s.Roles {
		st.Roles[r.ID] = r
	}
	for _, m := range s.Members {
		st.Members[m.UserID] = m
	}
	for _, b := range s.Bans {
		st.Bans[b.UserID] = b
	}
	for _, i := range s.Invites {
		st.Invites[i.Code] = i
	}
	return st
}

// Apply applies one op. Ops that do not concern guild metadata (messages,
// reactions, accounts) are ignored here. The op's values are owned by the
// State afterwards: callers must not change them.
func (s *State) Apply(op store.Op) {
	switch op.Kind {
	case store.OpPutGuild:
		s.Guild = op.Guild
	case store.OpPutChannel:
		s.Channels[op.Channel.ID] = op.Channel
	case store.OpDeleteChannel:
		delete(s.Channels, op.ID)
		for code, inv := range s.Invites {
			if inv.ChannelID == op.ID {
				delete(s.Invites, code)
			}
		}
	case store.OpPutRole:
		s.Roles[op.Role.ID] = op.Role
	case store.OpDeleteRole:
		delete(s.Roles, op.ID)
	case store.OpPutMember:
		s.Members[op.Member.UserID] = op.Member
	case store.OpDeleteMember:
		delete(s.Members, op.UserID)
	case store.OpPutBan:
		s.Bans[op.Ban.UserID] = op.Ban
	case store.OpDeleteBan:
		delete(s.Bans, op.UserID)
	case store.OpPutInvite:
		s.Invites[op.Invite.Code] = op.Invite
	case store.OpDeleteInvite:
		delete(s.Invites, op.Code)
	case store.OpPutMessage:
		// Only the channel's last_message_id lives in guild state; the
		// message itself is in the store.
		if c := s.Channels[op.Message.ChannelID]; c != nil && op.Message.ID > c.LastMessageID {
			cc := *c
			cc.LastMessageID = op.Message.ID
			s.Channels[c.ID] = &cc
		}
	}
}

// Everyone is the @everyone role (same ID as the guild).
func (s *State) Everyone() *model.Role { return s.Roles[s.Guild.ID] }

// SortedRoles returns the roles by position, then ID, as Discord lists them.
func (s *State) SortedRoles() []*model.Role {
	out := make([]*model.Role, 0, len(s.Roles))
	for _, r := range s.Roles {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Position != out[j].Position {
			return out[i].Position < out[j].Position
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// SortedChannels returns the channels by position, then ID.
func (s *State) SortedChannels() []*model.Channel {
	out := make([]*model.Channel, 0, len(s.Channels))
	for _, c := range s.Channels {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Position != out[j].Position {
			return out[i].Position < out[j].Position
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// SortedMemberIDs returns member user IDs in ascending order.
func (s *State) SortedMemberIDs() []ID {
	out := make([]ID, 0, len(s.Members))
	for id := range s.Members {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// HighestRolePosition is the position of the member's top role (0 for
// @everyone only).
func (s *State) HighestRolePosition(m *model.Member) int {
	top := 0
	for _, rid := range m.Roles {
		if r := s.Roles[rid]; r != nil && r.Position > top {
			top = r.Position
		}
	}
	return top
}

// setIf copies an optional patch field over its target when it is set.
func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// timedOut reports whether the member's timeout is on now.
func (s *State) timedOut(userID ID) bool {
	m := s.Members[userID]
	return m != nil && s.memberInput(m).TimedOut
}

// own gives a State the engine's clock (timeouts in permissions).
func (e *Engine) own(st *State) *State {
	st.clock = e.now
	return st
}
