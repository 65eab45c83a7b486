package rest

import (
	"errors"
	"net/url"
	"sort"
	"strings"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/edge/discord"
	"github.com/accord-chat/accord/edge/guild"
	"github.com/accord-chat/accord/edge/perm"
)

func (s *Server) createGuild(r *request) (any, error) {
	var body struct {
		Name string      `json:"name"`
		Icon opt[string] `json:"icon"`
	}
	if err := decodeJSON(r.Request, &body); err != nil {
		return nil, err
	}
	gid, err := s.eng.CreateGuild(r.Context(), r.user.ID, body.Name, body.Icon.ptr())
	if err != nil {
		return nil, err
	}
	var out *discord.Guild
	err = s.eng.View(gid, func(st *guild.State) error {
		out = discord.NewGuild(st.Guild, st.SortedRoles())
		return nil
	})
	return created{out}, err
}

func (s *Server) guildID(r *request) (ID, error) { return r.idParam("guild_id") }

func (s *Server) getGuild(r *request) (any, error) {
	gid, err := s.guildID(r)
	if err != nil {
		return nil, err
	}
	var out *discord.Guild
	err = s.eng.ViewAsMember(gid, r.user.ID, func(st *guild.State) error {
		out = discord.NewGuild(st.Guild, st.SortedRoles())
		if r.URL.Query().Get("with_counts") == "true" {
			out.ApproximateMemberCount = len(st.Members)
		}
		return nil
	})
	return out, err
}

func (s *Server) modifyGuild(r *request) (any, error) {
	gid, err := s.guildID(r)
	if err != nil {
		return nil, err
	}
	var body struct {
		Name                        opt[string] `json:"name"`
		Icon                        opt[string] `json:"icon"`
		Description                 opt[string] `json:"description"`
		OwnerID                     opt[ID]     `json:"owner_id"`
		AFKChannelID                opt[ID]     `json:"afk_channel_id"`
		AFKTimeout                  opt[int]    `json:"afk_timeout"`
		SystemChannelID             opt[ID]     `json:"system_channel_id"`
		VerificationLevel           opt[int]    `json:"verification_level"`
		DefaultMessageNotifications opt[int]    `json:"default_message_notifications"`
		ExplicitContentFilter       opt[int]    `json:"explicit_content_filter"`
		PreferredLocale             opt[string] `json:"preferred_locale"`
	}
	if err := decodeJSON(r.Request, &body); err != nil {
		return nil, err
	}
	zeroIfNull := func(o opt[ID]) *ID {
		if !o.Set {
			return nil
		}
		v := o.V
		return &v
	}
	g, err := s.eng.ModifyGuild(r.Context(), r.user.ID, gid, guild.GuildPatch{
		Name: body.Name.ptr(), Icon: body.Icon.nullable(), Description: body.Description.nullable(),
		OwnerID: body.OwnerID.ptr(), AFKChannelID: zeroIfNull(body.AFKChannelID), AFKTimeout: body.AFKTimeout.ptr(),
		SystemChannelID: zeroIfNull(body.SystemChannelID), VerificationLevel: body.VerificationLevel.ptr(),
		DefaultMessageNotifications: body.DefaultMessageNotifications.ptr(),
		ExplicitContentFilter:       body.ExplicitContentFilter.ptr(), PreferredLocale: body.PreferredLocale.ptr(),
	})
	if err != nil {
		return nil, err
	}
	var out *discord.Guild
	err = s.eng.View(gid, func(st *guild.State) error {
		out = discord.NewGuild(g, st.SortedRoles())
		return nil
	})
	return out, err
}

func (s *Server) deleteGuild(r *request) (any, error) {
	gid, err := s.guildID(r)
	if err != nil {
		return nil, err
	}
	if err := s.eng.DeleteGuild(r.Context(), r.user.ID, gid); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

// guildChannels lists the channels the caller can see.
func (s *Server) guildChannels(r *request) (any, error) {
	gid, err := s.guildID(r)
	if err != nil {
		return nil, err
	}
	out := []*discord.Channel{}
	err = s.eng.ViewAsMember(gid, r.user.ID, func(st *guild.State) error {
		for _, c := range st.SortedChannels() {
			if st.ChannelPerms(r.user.ID, c)&perm.ViewChannel != 0 {
				out = append(out, discord.NewChannel(c, nil))
			}
		}
		return nil
	})
	return out, err
}

type channelBody struct {
	Name                 opt[string]          `json:"name"`
	Type                 opt[int]             `json:"type"`
	Topic                opt[string]          `json:"topic"`
	Position             opt[int]             `json:"position"`
	ParentID             opt[ID]              `json:"parent_id"`
	NSFW                 opt[bool]            `json:"nsfw"`
	Bitrate              opt[int]             `json:"bitrate"`
	UserLimit            opt[int]             `json:"user_limit"`
	RateLimitPerUser     opt[int]             `json:"rate_limit_per_user"`
	PermissionOverwrites opt[[]overwriteBody] `json:"permission_overwrites"`
}

type overwriteBody struct {
	ID    ID         `json:"id"`
	Type  opt[int]   `json:"type"`
	Allow permString `json:"allow"`
	Deny  permString `json:"deny"`
}

func (ob overwriteBody) model() model.Overwrite {
	return model.Overwrite{ID: ob.ID, Type: ob.Type.V, Allow: uint64(ob.Allow) & perm.All, Deny: uint64(ob.Deny) & perm.All}
}

func overwrites(o opt[[]overwriteBody]) []model.Overwrite {
	if !o.Set || o.Null {
		return nil
	}
	out := make([]model.Overwrite, 0, len(o.V))
	for _, ob := range o.V {
		out = append(out, ob.model())
	}
	return out
}

func (s *Server) createChannel(r *request) (any, error) {
	gid, err := s.guildID(r)
	if err != nil {
		return nil, err
	}
	var body channelBody
	if err := decodeJSON(r.Request, &body); err != nil {
		return nil, err
	}
	if !body.Name.Set || body.Name.Null {
		return nil, discord.InvalidForm("name", "BASE_TYPE_REQUIRED", "This field is required")
	}
	c, err := s.eng.CreateChannel(r.Context(), r.user.ID, gid, guild.ChannelParams{
		Name: body.Name.V, Type: body.Type.V, Topic: body.Topic.ptr(), Position: body.Position.ptr(),
		ParentID: body.ParentID.V, NSFW: body.NSFW.V, Bitrate: body.Bitrate.ptr(), UserLimit: body.UserLimit.ptr(),
		RateLimitPerUser: body.RateLimitPerUser.ptr(), PermissionOverwrites: overwrites(body.PermissionOverwrites),
	})
	if err != nil {
		return nil, err
	}
	return created{discord.NewChannel(c, nil)}, nil
}

type positionBody struct {
	ID       ID       `json:"id"`
	Position opt[int] `json:"position"`
	ParentID opt[ID]  `json:"parent_id"`
}

func decodePositions(r *request) ([]guild.Position, error) {
	var body []positionBody
	// Position bodies are arrays; wrap so decodeBytes' object check holds.
	var wrapped struct {
		Items *[]positionBody `json:"items"`
	}
	wrapped.Items = &body
	raw, err := readAll(r)
	if err != nil {
		return nil, err
	}
	if err := decodeBytes(append(append([]byte(`{"items":`), raw...), '}'), &wrapped); err != nil {
		return nil, unwrapItems(err)
	}
	if body == nil { // "null" is not a list of moves
		return nil, discord.InvalidForm("_root", "BASE_TYPE_ARRAY", "Must be an array.")
	}
	out := make([]guild.Position, 0, len(body))
	for _, b := range body {
		p := guild.Position{ID: b.ID, Position: b.Position.ptr()}
		if b.ParentID.Set {
			v := b.ParentID.V
			p.ParentID = &v
		}
		out = append(out, p)
	}
	return out, nil
}

// unwrapItems takes decodePositions' wrapper out of a 50035 errors tree:
// the body is the array itself, so its errors belong at the root.
func unwrapItems(err error) error {
	var de *discord.Error
	if !errors.As(err, &de) {
		return err
	}
	sub, ok := de.Errors["items"].(map[string]any)
	if !ok {
		return err
	}
	ne := *de
	ne.Errors = map[string]any{}
	for k, v := range sub {
		if k == "_errors" {
			k = "_root" // decodeBytes' name for an error of the whole body
			v = map[string]any{"_errors": v}
		}
		ne.Errors[k] = v
	}
	return &ne
}

func (s *Server) channelPositions(r *request) (any, error) {
	gid, err := s.guildID(r)
	if err != nil {
		return nil, err
	}
	moves, err := decodePositions(r)
	if err != nil {
		return nil, err
	}
	if err := s.eng.ChannelPositions(r.Context(), r.user.ID, gid, moves); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

func (s *Server) guildRoles(r *request) (any, error) {
	gid, err := s.guildID(r)
	if err != nil {
		return nil, err
	}
	var out []*model.Role
	err = s.eng.ViewAsMember(gid, r.user.ID, func(st *guild.State) error {
		out = st.SortedRoles()
		return nil
	})
	return out, err
}

func (s *Server) roleIDs(r *request) (ID, ID, error) {
	gid, err := s.guildID(r)
	if err != nil {
		return 0, 0, err
	}
	rid, err := r.idParam("role_id")
	return gid, rid, err
}

func (s *Server) getRole(r *request) (any, error) {
	gid, rid, err := s.roleIDs(r)
	if err != nil {
		return nil, err
	}
	var out *model.Role
	err = s.eng.ViewAsMember(gid, r.user.ID, func(st *guild.State) error {
		out = st.Roles[rid]
		if out == nil {
			return discord.ErrUnknownRole
		}
		return nil
	})
	return out, err
}

type roleBody struct {
	Name         opt[string]     `json:"name"`
	Permissions  opt[permString] `json:"permissions"`
	Color        opt[int]        `json:"color"`
	Hoist        opt[bool]       `json:"hoist"`
	Mentionable  opt[bool]       `json:"mentionable"`
	Icon         opt[string]     `json:"icon"`
	UnicodeEmoji opt[string]     `json:"unicode_emoji"`
}

func (b roleBody) patch() guild.RolePatch {
	rp := guild.RolePatch{Name: b.Name.ptr(), Color: b.Color.ptr(), Hoist: b.Hoist.ptr(), Mentionable: b.Mentionable.ptr(),
		Icon: b.Icon.nullable(), Emoji: b.UnicodeEmoji.nullable()}
	if p := b.Permissions.ptr(); p != nil {
		v := uint64(*p)
		rp.Permissions = &v
	}
	return rp
}

func (s *Server) createRole(r *request) (any, error) {
	gid, err := s.guildID(r)
	if err != nil {
		return nil, err
	}
	var body roleBody
	if err := decodeJSON(r.Request, &body); err != nil {
		return nil, err
	}
	return s.eng.CreateRole(r.Context(), r.user.ID, gid, body.patch())
}

func (s *Server) modifyRole(r *request) (any, error) {
	gid, rid, err := s.roleIDs(r)
	if err != nil {
		return nil, err
	}
	var body roleBody
	if err := decodeJSON(r.Request, &body); err != nil {
		return nil, err
	}
	return s.eng.ModifyRole(r.Context(), r.user.ID, gid, rid, body.patch())
}

func (s *Server) deleteRole(r *request) (any, error) {
	gid, rid, err := s.roleIDs(r)
	if err != nil {
		return nil, err
	}
	if err := s.eng.DeleteRole(r.Context(), r.user.ID, gid, rid); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

func (s *Server) rolePositions(r *request) (any, error) {
	gid, err := s.guildID(r)
	if err != nil {
		return nil, err
	}
	moves, err := decodePositions(r)
	if err != nil {
		return nil, err
	}
	if err := s.eng.RolePositions(r.Context(), r.user.ID, gid, moves); err != nil {
		return nil, err
	}
	return s.guildRoles(r)
}

// listMembers pages through members in user ID order (Discord's
// "list guild members": limit 1–1000, default 1; after).
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
	err = s.eng.ViewAsMember(gid, r.user.ID, func(st *guild.State) error {
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
		return nil, discord.InvalidForm("query", "BASE_TYPE_REQUIRED", "This field is required")
	}
	limit, err := queryInt(r.Request, "limit", 1, 1, 1000)
	if err != nil {
		return nil, err
	}
	var ms []*model.Member
	err = s.eng.ViewAsMember(gid, r.user.ID, func(st *guild.State) error {
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
	err = s.eng.ViewAsMember(gid, r.user.ID, func(st *guild.State) error {
		if m = st.Members[uid]; m == nil {
			return discord.ErrUnknownMember
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.member(m), nil
}

type memberBody struct {
	Nick  opt[string] `json:"nick"`
	Roles opt[[]ID]   `json:"roles"`
	Mute  opt[bool]   `json:"mute"`
	Deaf  opt[bool]   `json:"deaf"`
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
	mp := guild.MemberPatch{Nick: body.Nick.nullable(), Mute: body.Mute.ptr(), Deaf: body.Deaf.ptr()}
	if body.Roles.Set {
		roles := body.Roles.V
		mp.Roles = &roles
	}
	m, err := s.eng.ModifyMember(r.Context(), r.user.ID, gid, uid, mp)
	if err != nil {
		return nil, err
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
	m, err := s.eng.ModifyMember(r.Context(), r.user.ID, gid, r.user.ID, guild.MemberPatch{Nick: body.Nick.nullable()})
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

func (s *Server) addMemberRole(r *request) (any, error)    { return s.setMemberRole(r, true) }
func (s *Server) removeMemberRole(r *request) (any, error) { return s.setMemberRole(r, false) }

func (s *Server) listBans(r *request) (any, error) {
	gid, err := s.guildID(r)
	if err != nil {
		return nil, err
	}
	var bans []*model.Ban
	err = s.eng.View(gid, func(st *guild.State) error {
		if st.Members[r.user.ID] == nil {
			return discord.ErrUnknownGuild
		}
		if st.BasePerms(r.user.ID)&perm.BanMembers == 0 {
			return discord.ErrMissingPermissions
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
	err = s.eng.View(gid, func(st *guild.State) error {
		if st.Members[r.user.ID] == nil {
			return discord.ErrUnknownGuild
		}
		if st.BasePerms(r.user.ID)&perm.BanMembers == 0 {
			return discord.ErrMissingPermissions
		}
		if ban = st.Bans[uid]; ban == nil {
			return discord.ErrUnknownBan
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
		return nil, discord.InvalidForm("delete_message_seconds", "NUMBER_TYPE_MAX", "Int value should be between 0 and 604800.")
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

func (s *Server) guildInvites(r *request) (any, error) {
	gid, err := s.guildID(r)
	if err != nil {
		return nil, err
	}
	invs, err := s.eng.GuildInvites(r.user.ID, gid)
	if err != nil {
		return nil, err
	}
	out := make([]*discord.Invite, 0, len(invs))
	for _, inv := range invs {
		out = append(out, s.invite(inv, true))
	}
	return out, nil
}
