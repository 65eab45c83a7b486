package gateway

import (
	"encoding/json"
	"sync"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/edge/discord"
	"github.com/accord-chat/accord/edge/guild"
	"github.com/accord-chat/accord/edge/perm"
)

func validStatus(s string) bool {
	switch s {
	case "online", "idle", "dnd", "invisible", "offline":
		return true
	}
	return false
}

// presenceState is a connected user's presence.
type presenceState struct {
	status     string
	activities []json.RawMessage
	since      *int64
	afk        bool
}

// presenceStore holds presence for users with a live session on this
// node. Users absent from it are offline.
type presenceStore struct {
	mu sync.RWMutex
	m  map[ID]*presenceState
}

func newPresenceStore() *presenceStore { return &presenceStore{m: map[ID]*presenceState{}} }

// connect marks the user online and reports whether they already were.
func (p *presenceStore) connect(uid ID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m[uid] != nil {
		return true
	}
	p.m[uid] = &presenceState{status: "online"}
	return false
}

// disconnect marks the user offline and reports whether they were online.
func (p *presenceStore) disconnect(uid ID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.m[uid]
	delete(p.m, uid)
	return ok
}

func (p *presenceStore) isConnected(uid ID) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.m[uid] != nil
}

func (p *presenceStore) set(uid ID, pu presenceUpdate) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.m[uid]
	if st == nil {
		return
	}
	st.status, st.activities, st.since, st.afk = pu.Status, pu.Activities, pu.Since, pu.AFK
}

// visibleStatus is what others see: invisible users look offline.
func (p *presenceStore) visible(uid ID) (status string, activities []json.RawMessage) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	st := p.m[uid]
	if st == nil || st.status == "invisible" || st.status == "offline" {
		return "offline", nil
	}
	return st.status, st.activities
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

// setPresence applies op 3 and tells the user's guilds.
func (s *Server) setPresence(uid ID, pu presenceUpdate) {
	s.presence.set(uid, pu)
	s.broadcastPresence(uid)
}

// broadcastPresence sends the user's presence to every session that
// shares a guild with them and asked for presences. The cost is one pass
// over each of the user's guilds' subscribers: O(subscribers), never
// O(members²).
func (s *Server) broadcastPresence(uid ID) {
	for _, gid := range s.eng.UserGuilds(uid) {
		subs := s.guildSessions(gid)
		if len(subs) == 0 {
			continue
		}
		p := s.share("PRESENCE_UPDATE", s.presenceObject(uid, gid))
		for _, sess := range subs {
			if sess.user.ID != uid && sess.has(IntentGuildPresences) {
				sess.dispatch(p)
			}
		}
	}
}

// voiceState is a user's voice connection in a guild.
type voiceState struct {
	ChannelID ID
	SessionID string
	SelfMute  bool
	SelfDeaf  bool
}

type voiceStore struct {
	mu sync.Mutex
	m  map[ID]map[ID]*voiceState // guild → user → state
}

func newVoiceStore() *voiceStore { return &voiceStore{m: map[ID]map[ID]*voiceState{}} }

func (v *voiceStore) guild(gid ID) map[ID]voiceState {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[ID]voiceState, len(v.m[gid]))
	for uid, st := range v.m[gid] {
		out[uid] = *st
	}
	return out
}

// voiceStateObject renders a voice state.
func voiceStateObject(gid, uid ID, st voiceState, m *model.Member, u *model.User) map[string]any {
	out := map[string]any{
		"guild_id": gid, "channel_id": st.ChannelID, "user_id": uid, "session_id": st.SessionID,
		"deaf": false, "mute": false, "self_deaf": st.SelfDeaf, "self_mute": st.SelfMute,
		"self_video": false, "suppress": false, "request_to_speak_timestamp": nil,
	}
	if m != nil {
		out["deaf"], out["mute"] = m.Deaf, m.Mute
		out["member"] = discord.NewMember(m, u)
	}
	return out
}

// updateVoiceState records op 4 (joining, moving, leaving a voice
// channel) and announces it. Media is the SFU's job.
func (s *Server) updateVoiceState(sess *session, vs voiceStateUpdate) {
	uid := sess.user.ID
	var member *model.Member
	ok := false
	_ = s.eng.View(vs.GuildID, func(st *guild.State) error {
		member = st.Members[uid]
		if member == nil {
			return nil
		}
		if vs.ChannelID == 0 {
			ok = true
			return nil
		}
		ch := st.Channels[vs.ChannelID]
		if ch == nil || ch.Type != model.ChannelGuildVoice {
			return nil
		}
		ok = st.ChannelPerms(uid, ch)&(perm.ViewChannel|perm.Connect) == perm.ViewChannel|perm.Connect
		return nil
	})
	if !ok {
		return
	}
	st := voiceState{ChannelID: vs.ChannelID, SessionID: sess.id, SelfMute: vs.SelfMute, SelfDeaf: vs.SelfDeaf}
	s.voice.mu.Lock()
	g := s.voice.m[vs.GuildID]
	if g == nil {
		g = map[ID]*voiceState{}
		s.voice.m[vs.GuildID] = g
	}
	if vs.ChannelID == 0 {
		delete(g, uid)
	} else {
		g[uid] = &st
	}
	s.voice.mu.Unlock()
	p := s.share("VOICE_STATE_UPDATE", voiceStateObject(vs.GuildID, uid, st, member, sess.user))
	for _, other := range s.guildSessions(vs.GuildID) {
		if other.has(IntentGuildVoiceStates) || other.user.ID == uid {
			other.dispatch(p)
		}
	}
}

// leaveVoice removes a user's voice state in a guild, if there is one, and
// announces that they left. Voice states belong to the gateway, so it
// drops them itself when their owner leaves the guild or their session
// ends; otherwise GUILD_CREATE would list ghosts in voice forever.
func (s *Server) leaveVoice(gid, uid ID) {
	s.voice.mu.Lock()
	st, ok := s.voice.m[gid][uid]
	if ok {
		delete(s.voice.m[gid], uid)
		if len(s.voice.m[gid]) == 0 {
			delete(s.voice.m, gid)
		}
	}
	s.voice.mu.Unlock()
	if !ok {
		return
	}
	p := s.share("VOICE_STATE_UPDATE", voiceStateObject(gid, uid, voiceState{SessionID: st.SessionID}, nil, nil))
	for _, other := range s.guildSessions(gid) {
		if other.has(IntentGuildVoiceStates) || other.user.ID == uid {
			other.dispatch(p)
		}
	}
}

// leaveVoiceSession drops the voice states a session created.
func (s *Server) leaveVoiceSession(sessionID string) {
	type key struct{ gid, uid ID }
	var gone []key
	s.voice.mu.Lock()
	for gid, g := range s.voice.m {
		for uid, st := range g {
			if st.SessionID == sessionID {
				gone = append(gone, key{gid, uid})
			}
		}
	}
	s.voice.mu.Unlock()
	for _, k := range gone {
		s.leaveVoice(k.gid, k.uid)
	}
}
