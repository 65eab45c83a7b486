package rest

import (
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/edge/discord"
)

// listMembers pages through members in user ID order (Discord's "list
// guild members": limit 1–1000, default 1; after).
func (s *Server) listMembers(r *request) (any, error) {
	gid, err := s.guildID(r)
	if err != nil {
		return nil, err
	}
	limit, err := queryInt(r.Request, "limit", 1, 1, 1000)
	if err != nil {
		return nil, err
	}
	after, err := querySnowflake(r.Request, "after")
	if err != nil {
		return nil, err
	}
	var ms []*model.Member
	err = s.eng.ViewAsMember(gid, r.user.ID, func(st *engine.State) error {
		ids := st.SortedMemberIDs()
		i := sort.Search(len(ids), func(i int) bool { return ids[i] > after })
		for ; i < len(ids) && len(ms) < limit; i++ {
			ms = append(ms, st.Members[ids[i]])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*discord.Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, s.member(m))
	}
	return out, nil
}

// searchMembers matches a username or nickname prefix.
func (s *Server) searchMembers(r *request) (any, error) {
	gid, err := s.guildID(r)
	if err != nil {
		return nil, err
	}
	q := strings.ToLower(r.URL.Query().Get("query"))
	if q == "" {
		return nil, apierr.InvalidForm("query", "BASE_TYPE_REQUIRED", "This field is required")
	}
	limit, err := queryInt(r.Request, "limit", 1, 1, 1000)
	if err != nil {
		return nil, err
	}
	var ms []*model.Member
	err = s.eng.ViewAsMember(gid, r.user.ID, func(st *engine.State) error {
		for _, id := range st.SortedMemberIDs() {
			m := st.Members[id]
			u := s.eng.User(id)
			if u != nil && (strings.HasPrefix(strings.ToLower(u.Username), q) || (m.Nick != nil && strings.HasPrefix(strings.ToLower(*m.Nick), q))) {
				ms = append(ms, m)
				if len(ms) >= limit {
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*discord.Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, s.member(m))
	}
	return out, nil
}

func (s *Server) memberIDs(r *request) (ID, ID, error) {
	gid, err := s.guildID(r)
	if err != nil {
		return 0, 0, err
	}
	uid, err := r.userParam("user_id")
	return gid, uid, err
}

func (s *Server) getMember(r *request) (any, error) {
	gid, uid, err := s.memberIDs(r)
	if err != nil {
		return nil, err
	}
	var m *model.Member
	err = s.eng.ViewAsMember(gid, r.user.ID, func(st *engine.State) error {
		if m = st.Members[uid]; m == nil {
			return apierr.ErrUnknownMember
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.member(m), nil
}

type memberBody struct {
	Nick                       opt[string]    `json:"nick"`
	Roles                      opt[[]ID]      `json:"roles"`
	Mute                       opt[bool]      `json:"mute"`
	Deaf                       opt[bool]      `json:"deaf"`
	CommunicationDisabledUntil opt[time.Time] `json:"communication_disabled_until"`
	// ChannelID moves a member who is in voice (null disconnects them).
	ChannelID opt[ID] `json:"channel_id"`
}

func (s *Server) modifyMember(r *request) (any, error) {
	gid, uid, err := s.memberIDs(r)
	if err != nil {
		return nil, err
	}
	var body memberBody
	if err := decodeJSON(r.Request, &body); err != nil {
		return nil, err
	}
	mp := engine.MemberPatch{Nick: body.Nick.nullable(), Mute: body.Mute.ptr(), Deaf: body.Deaf.ptr(),
		CommunicationDisabledUntil: body.CommunicationDisabledUntil.nullable()}
	if body.Roles.Set {
		roles := body.Roles.V
		mp.Roles = &roles
	}
	if body.ChannelID.Set && mp == (engine.MemberPatch{}) {
		// A move alone: MOVE_MEMBERS is the permission it needs.
		if err := s.eng.MoveVoiceMember(r.Context(), r.user.ID, gid, uid, body.ChannelID.V); err != nil {
			return nil, err
		}
		m := s.eng.Members(gid, []ID{uid})[uid]
		if m == nil {
			return nil, apierr.ErrUnknownMember
		}
		return s.member(m), nil
	}
	m, err := s.eng.ModifyMember(r.Context(), r.user.ID, gid, uid, mp)
	if err != nil {
		return nil, err
	}
	if body.ChannelID.Set {
		if err := s.eng.MoveVoiceMember(r.Context(), r.user.ID, gid, uid, body.ChannelID.V); err != nil {
			return nil, err
		}
	}
	return s.member(m), nil
}

func (s *Server) modifyMyMember(r *request) (any, error) {
	gid, err := s.guildID(r)
	if err != nil {
		return nil, err
	}
	var body memberBody
	if err := decodeJSON(r.Request, &body); err != nil {
		return nil, err
	}
	m, err := s.eng.ModifyMember(r.Context(), r.user.ID, gid, r.user.ID, engine.MemberPatch{Nick: body.Nick.nullable()})
	if err != nil {
		return nil, err
	}
	return s.member(m), nil
}

func (s *Server) kickMember(r *request) (any, error) {
	gid, uid, err := s.memberIDs(r)
	if err != nil {
		return nil, err
	}
	if err := s.eng.RemoveMember(r.Context(), r.user.ID, gid, uid); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

func (s *Server) setMemberRole(r *request, add bool) (any, error) {
	gid, uid, err := s.memberIDs(r)
	if err != nil {
		return nil, err
	}
	rid, err := r.idParam("role_id")
	if err != nil {
		return nil, err
	}
	if err := s.eng.SetMemberRole(r.Context(), r.user.ID, gid, uid, rid, add); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

func (s *Server) addMemberRole(r *request) (any, error) { return s.setMemberRole(r, true) }

func (s *Server) removeMemberRole(r *request) (any, error) { return s.setMemberRole(r, false) }

func (s *Server) listBans(r *request) (any, error) {
	gid, err := s.guildID(r)
	if err != nil {
		return nil, err
	}
	var bans []*model.Ban
	err = s.eng.View(gid, func(st *engine.State) error {
		if st.Members[r.user.ID] == nil {
			return apierr.ErrUnknownGuild
		}
		if st.BasePerms(r.user.ID)&perm.BanMembers == 0 {
			return apierr.ErrMissingPermissions
		}
		for _, b := range st.Bans {
			bans = append(bans, b)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(bans, func(i, j int) bool { return bans[i].UserID < bans[j].UserID })
	out := make([]discord.Ban, 0, len(bans))
	for _, b := range bans {
		out = append(out, discord.Ban{Reason: b.Reason, User: s.eng.User(b.UserID)})
	}
	return out, nil
}

func (s *Server) getBan(r *request) (any, error) {
	gid, uid, err := s.memberIDs(r)
	if err != nil {
		return nil, err
	}
	var ban *model.Ban
	err = s.eng.View(gid, func(st *engine.State) error {
		if st.Members[r.user.ID] == nil {
			return apierr.ErrUnknownGuild
		}
		if st.BasePerms(r.user.ID)&perm.BanMembers == 0 {
			return apierr.ErrMissingPermissions
		}
		if ban = st.Bans[uid]; ban == nil {
			return apierr.ErrUnknownBan
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return discord.Ban{Reason: ban.Reason, User: s.eng.User(uid)}, nil
}

func (s *Server) createBan(r *request) (any, error) {
	gid, uid, err := s.memberIDs(r)
	if err != nil {
		return nil, err
	}
	var body struct {
		DeleteMessageSeconds opt[int] `json:"delete_message_seconds"`
	}
	if r.ContentLength != 0 { // -1: chunked, still a body to check
		if err := decodeJSON(r.Request, &body); err != nil {
			return nil, err
		}
	}
	if v := body.DeleteMessageSeconds.V; v < 0 || v > 604800 {
		return nil, apierr.InvalidForm("delete_message_seconds", "NUMBER_TYPE_MAX", "Int value should be between 0 and 604800.")
	}
	var reason *string
	if v := r.Header.Get("X-Audit-Log-Reason"); v != "" {
		// Discord takes the reason URL-encoded (clients send
		// encodeURIComponent of it); a header that is not valid
		// percent-encoding is kept as sent.
		if dec, err := url.PathUnescape(v); err == nil {
			v = dec
		}
		reason = &v
	}
	if err := s.eng.Ban(r.Context(), r.user.ID, gid, uid, reason); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

func (s *Server) removeBan(r *request) (any, error) {
	gid, uid, err := s.memberIDs(r)
	if err != nil {
		return nil, err
	}
	if err := s.eng.Unban(r.Context(), r.user.ID, gid, uid); err != nil {
		return nil, err
	}
	return noContent{}, nil
}
