package gateway

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/edge/discord"
)

// readyPayload is READY: the user, its guilds as unavailable stubs (each
// followed by a GUILD_CREATE), its DMs and the resume details.
func (s *Server) readyPayload(sess *session, guilds []ID) *shared {
	stubs := make([]map[string]any, 0, len(guilds))
	for _, g := range guilds {
		stubs = append(stubs, map[string]any{"id": g, "unavailable": true})
	}
	dms := []*discord.Channel{}
	if sess.shard[0] == 0 { // DMs go to shard 0, as on Discord
		for _, c := range s.eng.UserDMs(sess.user.ID) {
			var others []ID
			for _, r := range c.Recipients {
				if r != sess.user.ID {
					others = append(others, r)
				}
			}
			dms = append(dms, discord.NewChannel(c, s.eng.Users(others)))
		}
	}
	shard := sess.shard
	if shard[1] == 0 {
		shard = [2]int{0, 1}
	}
	v := sess.version
	if v == 0 {
		v = 10
	}
	d := map[string]any{
		"v": v, "user": sess.user, "guilds": stubs, "session_id": sess.id, "session_type": "normal",
		"resume_gateway_url": s.cfg.URL, "shard": shard, "private_channels": dms,
		"relationships": []any{}, "presences": []any{}, "guild_join_requests": []any{},
		"geo_ordered_rtc_regions": []string{}, "user_settings": map[string]any{}, "_trace": []string{"accord"},
	}
	if sess.user.Bot {
		flags := 0
		if app, err := s.eng.Application(context.Background(), sess.user.ID, sess.user.ID); err == nil {
			flags = app.Flags
		}
		d["application"] = map[string]any{"id": sess.user.ID, "flags": flags}
	}
	return s.share("READY", d)
}

// guildCreate is guildCreatePayload that the replay ring can render again
// (shared.rerender) instead of keeping; a guild gone by then replays as
// unavailable.
func (s *Server) guildCreate(sess *session, gid ID) *shared {
	p := s.guildCreatePayload(sess, gid)
	if p != nil {
		p.rerender = func() *shared {
			if q := s.guildCreatePayload(sess, gid); q != nil {
				return q
			}
			return s.share("GUILD_CREATE", map[string]any{"id": gid, "unavailable": true})
		}
	}
	return p
}

// guildCreatePayload renders a full guild for one session. Members: all
// of them for small guilds; for large ones (more members than the
// session's large_threshold) only online ones; without GUILD_PRESENCES only
// the session's own member and those in voice, as Discord does.
func (s *Server) guildCreatePayload(sess *session, gid ID) *shared {
	var out map[string]any
	voice := s.voice.guild(gid)
	_ = s.eng.View(gid, func(st *engine.State) error {
		me := st.Members[sess.user.ID]
		if me == nil {
			return nil
		}
		g := discord.NewGuild(st.Guild, st.SortedRoles())
		raw, _ := json.Marshal(g)
		_ = json.Unmarshal(raw, &out)
		large := len(st.Members) > sess.largeThreshold
		var members []*discord.Member
		var presences []map[string]any
		addMember := func(m *model.Member) {
			members = append(members, discord.NewMember(m, s.userOrDeleted(m.UserID)))
		}
		switch {
		case !sess.has(IntentGuildPresences):
			addMember(me)
			for uid := range voice {
				if m := st.Members[uid]; m != nil && uid != me.UserID {
					addMember(m)
				}
			}
		default:
			// Large guilds: only members who are online, have a role or
			// a nickname, or are in voice (Discord's rule), plus the
			// session's own. Online means visibly online: an invisible
			// member listed here would give their status away.
			for _, uid := range st.SortedMemberIDs() {
				m := st.Members[uid]
				status, _ := s.presence.visible(uid)
				online := status != "offline"
				_, inVoice := voice[uid]
				if !large || online || uid == sess.user.ID || len(m.Roles) > 0 || m.Nick != nil || inVoice {
					addMember(m)
				}
				if online {
					presences = append(presences, s.presenceObject(uid, 0))
				}
			}
		}
		channels := []*discord.Channel{}
		for _, c := range st.SortedChannels() {
			channels = append(channels, discord.NewChannel(c, nil))
		}
		voiceStates := []map[string]any{}
		uids := make([]ID, 0, len(voice))
		for uid := range voice {
			uids = append(uids, uid)
		}
		sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
		for _, uid := range uids {
			vs := voiceStateObject(gid, uid, voice[uid], nil, nil)
			delete(vs, "guild_id")
			voiceStates = append(voiceStates, vs)
		}
		if members == nil {
			members = []*discord.Member{}
		}
		if presences == nil {
			presences = []map[string]any{}
		}
		out["joined_at"] = discord.Timestamp(me.JoinedAt)
		out["large"] = large
		out["unavailable"] = false
		out["member_count"] = len(st.Members)
		out["members"] = members
		out["channels"] = channels
		out["presences"] = presences
		out["voice_states"] = voiceStates
		out["threads"] = []any{}
		out["stage_instances"] = []any{}
		out["guild_scheduled_events"] = []any{}
		out["soundboard_sounds"] = []any{}
		return nil
	})
	if out == nil {
		return nil
	}
	return s.share("GUILD_CREATE", out)
}
