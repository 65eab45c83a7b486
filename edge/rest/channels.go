package rest

import (
	"strconv"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/edge/discord"
)

func (s *Server) channelID(r *request) (ID, error) { return r.idParam("channel_id") }

func (s *Server) renderChannel(c *model.Channel, viewer ID) *discord.Channel {
	if c.GuildID == 0 {
		return s.dmChannel(c, viewer)
	}
	return discord.NewChannel(c, nil)
}

func (s *Server) getChannel(r *request) (any, error) {
	cid, err := s.channelID(r)
	if err != nil {
		return nil, err
	}
	var c *model.Channel
	err = s.eng.ViewChannel(r.user.ID, cid, func(ch *engine.Chan) error {
		c = ch.Channel
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.renderChannel(c, r.user.ID), nil
}

func (s *Server) modifyChannel(r *request) (any, error) {
	cid, err := s.channelID(r)
	if err != nil {
		return nil, err
	}
	var body channelBody
	if err := decodeJSON(r.Request, &body); err != nil {
		return nil, err
	}
	patch := engine.ChannelPatch{Name: body.Name.ptr(), Topic: body.Topic.nullable(), Position: body.Position.ptr(),
		NSFW: body.NSFW.ptr(), Bitrate: body.Bitrate.ptr(), UserLimit: body.UserLimit.ptr(), RateLimitPerUser: body.RateLimitPerUser.ptr()}
	if body.ParentID.Set {
		v := body.ParentID.V
		patch.ParentID = &v
	}
	if body.PermissionOverwrites.Set {
		ows := overwrites(body.PermissionOverwrites)
		patch.PermissionOverwrites = &ows
	}
	c, err := s.eng.ModifyChannel(r.Context(), r.user.ID, cid, patch)
	if err != nil {
		return nil, err
	}
	return discord.NewChannel(c, nil), nil
}

func (s *Server) deleteChannel(r *request) (any, error) {
	cid, err := s.channelID(r)
	if err != nil {
		return nil, err
	}
	c, err := s.eng.DeleteChannel(r.Context(), r.user.ID, cid)
	if err != nil {
		return nil, err
	}
	return s.renderChannel(c, r.user.ID), nil
}

func (s *Server) editOverwrite(r *request) (any, error) {
	cid, err := s.channelID(r)
	if err != nil {
		return nil, err
	}
	oid, err := r.idParam("overwrite_id")
	if err != nil {
		return nil, err
	}
	var body overwriteBody
	if err := decodeJSON(r.Request, &body); err != nil {
		return nil, err
	}
	if !body.Type.Set {
		return nil, apierr.InvalidForm("type", "BASE_TYPE_REQUIRED", "This field is required")
	}
	body.ID = oid
	if err := s.eng.EditOverwrite(r.Context(), r.user.ID, cid, body.model()); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

func (s *Server) deleteOverwrite(r *request) (any, error) {
	cid, err := s.channelID(r)
	if err != nil {
		return nil, err
	}
	oid, err := r.idParam("overwrite_id")
	if err != nil {
		return nil, err
	}
	if err := s.eng.DeleteOverwrite(r.Context(), r.user.ID, cid, oid); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

func (s *Server) channelInvites(r *request) (any, error) {
	cid, err := s.channelID(r)
	if err != nil {
		return nil, err
	}
	invs, err := s.eng.ChannelInvites(r.user.ID, cid)
	if err != nil {
		return nil, err
	}
	return s.inviteList(invs), nil
}

func (s *Server) createInvite(r *request) (any, error) {
	cid, err := s.channelID(r)
	if err != nil {
		return nil, err
	}
	var body struct {
		MaxAge    opt[int] `json:"max_age"`
		MaxUses   int      `json:"max_uses"`
		Temporary bool     `json:"temporary"`
		Unique    bool     `json:"unique"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(r.Request, &body); err != nil {
			return nil, err
		}
	}
	inv, err := s.eng.CreateInvite(r.Context(), r.user.ID, cid, engine.InviteParams{
		MaxAge: body.MaxAge.ptr(), MaxUses: body.MaxUses, Temporary: body.Temporary, Unique: body.Unique,
	})
	if err != nil {
		return nil, err
	}
	return s.invite(inv, true), nil
}

func (s *Server) getInvite(r *request) (any, error) {
	inv, err := s.eng.Invite(r.Context(), r.PathValue("code"))
	if err != nil {
		return nil, err
	}
	out := s.invite(inv, false)
	if b, _ := strconv.ParseBool(r.URL.Query().Get("with_counts")); b {
		members, online := s.eng.MemberCounts(inv.GuildID)
		out.ApproximateMemberCount, out.ApproximatePresenceCount = &members, &online
	}
	return out, nil
}

func (s *Server) acceptInvite(r *request) (any, error) {
	inv, err := s.eng.AcceptInvite(r.Context(), r.user.ID, r.PathValue("code"))
	if err != nil {
		return nil, err
	}
	return s.invite(inv, false), nil
}

func (s *Server) deleteInvite(r *request) (any, error) {
	inv, err := s.eng.DeleteInvite(r.Context(), r.user.ID, r.PathValue("code"))
	if err != nil {
		return nil, err
	}
	return s.invite(inv, false), nil
}

func (s *Server) typing(r *request) (any, error) {
	cid, err := s.channelID(r)
	if err != nil {
		return nil, err
	}
	if err := s.eng.Typing(r.Context(), r.user.ID, cid); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

func (s *Server) listPins(r *request) (any, error) {
	cid, err := s.channelID(r)
	if err != nil {
		return nil, err
	}
	msgs, c, err := s.eng.Pins(r.Context(), r.user.ID, cid)
	if err != nil {
		return nil, err
	}
	return s.newRenderer(r.Context(), r.user.ID, c.GuildID(), msgs...).messages(msgs), nil
}

// listPinsV2 is the 2025 pins endpoint: items with pinned_at, and has_more.
func (s *Server) listPinsV2(r *request) (any, error) {
	cid, err := s.channelID(r)
	if err != nil {
		return nil, err
	}
	msgs, c, err := s.eng.Pins(r.Context(), r.user.ID, cid)
	if err != nil {
		return nil, err
	}
	rendered := s.newRenderer(r.Context(), r.user.ID, c.GuildID(), msgs...).messages(msgs)
	type item struct {
		PinnedAt *discord.Timestamp `json:"pinned_at"`
		Message  *discord.Message   `json:"message"`
	}
	items := make([]item, 0, len(rendered))
	for i, m := range rendered {
		items = append(items, item{PinnedAt: discord.TimePtr(msgs[i].PinnedAt), Message: m})
	}
	return map[string]any{"items": items, "has_more": false}, nil
}

func (s *Server) setPinned(r *request, pinned bool) (any, error) {
	cid, err := s.channelID(r)
	if err != nil {
		return nil, err
	}
	mid, err := r.idParam("message_id")
	if err != nil {
		return nil, err
	}
	if err := s.eng.SetPinned(r.Context(), r.user.ID, cid, mid, pinned); err != nil {
		return nil, err
	}
	return noContent{}, nil
}

func (s *Server) pin(r *request) (any, error)   { return s.setPinned(r, true) }
func (s *Server) unpin(r *request) (any, error) { return s.setPinned(r, false) }
