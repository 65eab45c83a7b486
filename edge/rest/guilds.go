package rest

import (
	"errors"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/edge/discord"
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
	err = s.eng.View(gid, func(st *engine.State) error {
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
	err = s.eng.ViewAsMember(gid, r.user.ID, func(st *engine.State) error {
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
	g, err := s.eng.ModifyGuild(r.Context(), r.user.ID, gid, engine.GuildPatch{
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
	err = s.eng.View(gid, func(st *engine.State) error {
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
	err = s.eng.ViewAsMember(gid, r.user.ID, func(st *engine.State) error {
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
		return nil, apierr.InvalidForm("name", "BASE_TYPE_REQUIRED", "This field is required")
	}
	c, err := s.eng.CreateChannel(r.Context(), r.user.ID, gid, engine.ChannelParams{
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
	ID              ID        `json:"id"`
	Position        opt[int]  `json:"position"`
	ParentID        opt[ID]   `json:"parent_id"`
	LockPermissions opt[bool] `json:"lock_permissions"`
}

func decodePositions(r *request) ([]engine.Position, error) {
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
		return nil, apierr.InvalidForm("_root", "BASE_TYPE_ARRAY", "Must be an array.")
	}
	out := make([]engine.Position, 0, len(body))
	for _, b := range body {
		p := engine.Position{ID: b.ID, Position: b.Position.ptr(), LockPermissions: b.LockPermissions.V}
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
	var de *apierr.Error
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

func (s *Server) guildInvites(r *request) (any, error) {
	gid, err := s.guildID(r)
	if err != nil {
		return nil, err
	}
	invs, err := s.eng.GuildInvites(r.user.ID, gid)
	if err != nil {
		return nil, err
	}
	return s.inviteList(invs), nil
}
