package rest

import (
	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/model"
)

func (s *Server) guildRoles(r *request) (any, error) {
	gid, err := s.guildID(r)
	if err != nil {
		return nil, err
	}
	var out []*model.Role
	err = s.eng.ViewAsMember(gid, r.user.ID, func(st *engine.State) error {
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
	err = s.eng.ViewAsMember(gid, r.user.ID, func(st *engine.State) error {
		out = st.Roles[rid]
		if out == nil {
			return apierr.ErrUnknownRole
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

func (b roleBody) patch() engine.RolePatch {
	rp := engine.RolePatch{Name: b.Name.ptr(), Color: b.Color.ptr(), Hoist: b.Hoist.ptr(), Mentionable: b.Mentionable.ptr(),
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
