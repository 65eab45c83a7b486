package rest

import "github.com/accord-chat/accord/core/engine"

// voiceRegion is Discord's voice region object.
type voiceRegion struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Optimal    bool   `json:"optimal"`
	Deprecated bool   `json:"deprecated"`
	Custom     bool   `json:"custom"`
}

// voiceRegions lists the deployment's regions (GET /voice/regions). A
// region's nodes host its voice channels; this node's region is the
// optimal one for whoever reached it.
func (s *Server) voiceRegions(*request) (any, error) {
	name := s.cfg.Region
	if name == "" {
		name = "local"
	}
	return []voiceRegion{{ID: name, Name: name, Optimal: true, Custom: true}}, nil
}

// guildVoiceRegions is GET /guilds/{id}/regions: the same list, for a
// member of the guild.
func (s *Server) guildVoiceRegions(r *request) (any, error) {
	gid, err := s.guildID(r)
	if err != nil {
		return nil, err
	}
	if err := s.eng.ViewAsMember(gid, r.user.ID, func(*engine.State) error { return nil }); err != nil {
		return nil, err
	}
	return s.voiceRegions(r)
}
