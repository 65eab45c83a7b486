package gateway

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/edge/discord"
)

func validStatus(s string) bool {
	switch s {
	case "online", "idle", "dnd", "invisible", "offline":
		return true
	}
	return false
}

// presenceView reads presence from the engine, which replicates it
// through the region's account shard: a user is online if a session of
// theirs is connected to any node.
type presenceView struct{ eng *engine.Engine }

// visible is what others see: invisible users look offline.
func (p presenceView) visible(uid ID) (status string, activities []json.RawMessage) {
	pr, _ := p.eng.Presence(uid)
	if pr.Status == "offline" {
		return "offline", nil
	}
	return pr.Status, pr.Activities
}

func toPresence(pu presenceUpdate) *engine.Presence {
	return &engine.Presence{Status: pu.Status, Activities: pu.Activities, Since: pu.Since, AFK: pu.AFK}
}

// nodeName names this node in replicated presence and voice state.
func (s *Server) nodeName() string {
	if s.cfg.NodeName == "" {
		return "local"
	}
	return s.cfg.NodeName
}

// proposePresence records the user's presence on this node (nil: no
// session here any more). The PRESENCE_UPDATE goes out when every node
// applies it.
func (s *Server) proposePresence(uid ID, p *engine.Presence) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.eng.SetPresence(ctx, s.nodeName(), uid, p); err != nil {
		s.log.Warn("replicate presence", "user", uid, "err", err)
	}
}

// connectPresence marks the user present on this node, keeping the
// presence they had (on this node or another) unless they sent one.
func (s *Server) connectPresence(uid ID, sent *presenceUpdate) {
	if sent != nil && validStatus(sent.Status) {
		s.proposePresence(uid, toPresence(*sent))
		return
	}
	if s.eng.HasPresenceOn(uid, s.nodeName()) {
		return
	}
	p := s.eng.NewestPresence(uid)
	if p == nil {
		p = &engine.Presence{Status: "online"}
	}
	s.proposePresence(uid, p)
}

// presenceObject renders a presence for one guild.
func (s *Server) presenceObject(uid, guildID ID) map[string]any {
	status, acts := s.presence.visible(uid)
	if acts == nil {
		acts = []json.RawMessage{}
	}
	cs := map[string]string{}
	if status != "offline" {
		cs["web"] = status
	}
	out := map[string]any{"user": map[string]any{"id": uid}, "status": status, "activities": acts, "client_status": cs}
	if guildID != 0 {
		out["guild_id"] = guildID
	}
	return out
}

// broadcastPresence sends the user's presence to every session that
// shares a guild with them and asked for presences. The cost is one pass
// over the sessions of each of the user's guilds that asked for
// presences (subs.go), never O(members²) nor O(subscribers). ev places it in the log; only, when set, restricts it to
// one session being rebuilt (region.go).
func (s *Server) broadcastPresence(uid ID, ev *engine.Event, only *session) {
	for _, gid := range s.eng.UserGuilds(uid) {
		subs := restrict(s.presenceSessions(gid), only)
		if len(subs) == 0 {
			continue
		}
		p := at(s.share("PRESENCE_UPDATE", s.presenceObject(uid, gid)), ev)
		for _, sess := range subs {
			if sess.user.ID != uid {
				sess.dispatch(p)
			}
		}
	}
}

// voiceView reads voice states from the engine (the guild's shard).
type voiceView struct{ eng *engine.Engine }

func (v voiceView) guild(gid ID) map[ID]engine.VoiceState { return v.eng.VoiceStates(gid) }

// voiceStateObject renders a voice state.
func voiceStateObject(gid, uid ID, st engine.VoiceState, m *model.Member, u *model.User) map[string]any {
	out := map[string]any{
		"guild_id": gid, "channel_id": st.ChannelID, "user_id": uid, "session_id": st.SessionID,
		"deaf": false, "mute": false, "self_deaf": st.SelfDeaf, "self_mute": st.SelfMute,
		"self_video": st.SelfVideo, "suppress": false, "request_to_speak_timestamp": nil,
	}
	if st.SelfStream {
		out["self_stream"] = true // Discord sends it only while streaming
	}
	if m != nil {
		out["deaf"], out["mute"] = m.Deaf, m.Mute
		out["member"] = discord.NewMember(m, u)
	}
	return out
}

// updateVoiceState replicates op 4 (joining, moving, leaving a voice
// channel). A request the user may not make changes nothing, as on
// Discord. Media is the SFU's job.
func (s *Server) updateVoiceState(sess *session, vs voiceStateUpdate) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.eng.UpdateVoice(ctx, sess.user.ID, vs.GuildID, vs.ChannelID, sess.id, s.nodeName(), vs.SelfMute, vs.SelfDeaf)
}

// publishVoice announces a replicated voice state change to the guild's
// sessions that asked for voice states, and to the user's own.
func (s *Server) publishVoice(ev *engine.Event, d *engine.VoiceEvent, only *session) {
	st := engine.VoiceState{SessionID: d.SessionID}
	var member *model.Member
	var user *model.User
	if d.State != nil {
		st = *d.State
		member = s.eng.Members(d.GuildID, []ID{d.UserID})[d.UserID]
		user = s.eng.User(d.UserID)
	}
	p := at(s.share("VOICE_STATE_UPDATE", voiceStateObject(d.GuildID, d.UserID, st, member, user)), ev)
	for _, other := range restrict(s.guildSessions(d.GuildID), only) {
		if other.has(IntentGuildVoiceStates) || other.user.ID == d.UserID {
			other.dispatch(p)
			if only == nil && other.id == d.SessionID {
				s.voiceServerUpdate(other, d)
			}
		}
	}
}

// voiceServerUpdate sends the session that joined or moved the voice
// server that hosts its channel (VOICE_SERVER_UPDATE): once per channel
// and host, so that self mute and deafen send none, while a move (the
// voice server ends the old session with 4014) or a new host does.
func (s *Server) voiceServerUpdate(sess *session, d *engine.VoiceEvent) {
	sess.mu.Lock()
	last, had := sess.voiceHost[d.GuildID]
	var where string
	if d.State == nil {
		delete(sess.voiceHost, d.GuildID)
	} else {
		if sess.voiceHost == nil {
			sess.voiceHost = map[ID]string{}
		}
		where = d.State.Host + "/" + strconv.FormatUint(uint64(d.State.ChannelID), 10)
		sess.voiceHost[d.GuildID] = where
	}
	sess.mu.Unlock()
	if d.State == nil || s.cfg.Voice == nil || (had && last == where) {
		return
	}
	token, endpoint, err := s.cfg.Voice.VoiceServer(d.GuildID, d.UserID, d.SessionID, d.State.Host)
	if err != nil {
		s.log.Warn("voice server", "guild", d.GuildID, "host", d.State.Host, "err", err)
		return
	}
	sess.dispatch(s.share("VOICE_SERVER_UPDATE", map[string]any{"token": token, "guild_id": d.GuildID, "endpoint": endpoint}))
}

// leaveVoiceSession drops the voice states a session created, in the
// background (the caller may hold the server's lock).
func (s *Server) leaveVoiceSession(uid ID, sessionID string) {
	s.bgWG.Add(1)
	go func() {
		defer s.bgWG.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.eng.LeaveVoiceSession(ctx, uid, sessionID)
	}()
}
