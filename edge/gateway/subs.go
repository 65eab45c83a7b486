package gateway

// guildSubs is one guild's sessions on this node. A fan-out reads snap,
// a slice rebuilt only after the set changes, so a message to 10,000
// sessions walks no map and allocates nothing per recipient. Presence
// goes only to the sessions that asked for it, kept apart so that a
// status change costs O(those sessions), not O(subscribers): in a guild
// of bots and clients without GUILD_PRESENCES it costs nothing.
type guildSubs struct {
	all      map[*session]struct{}
	presence map[*session]struct{}
	snap     []*session // all as a slice; nil after a change
}

// subscribeLocked adds sess to the guild's subscribers; s.mu must be
// held.
func (s *Server) subscribeLocked(sess *session, guildID ID) {
	g := s.subs[guildID]
	if g == nil {
		g = &guildSubs{all: map[*session]struct{}{}}
		s.subs[guildID] = g
	}
	if _, ok := g.all[sess]; !ok {
		g.all[sess] = struct{}{}
		g.snap = nil
		if sess.has(IntentGuildPresences) {
			if g.presence == nil {
				g.presence = map[*session]struct{}{}
			}
			g.presence[sess] = struct{}{}
		}
	}
	sess.mu.Lock()
	sess.addGuild(guildID)
	sess.mu.Unlock()
}

// unsubscribeLocked removes sess from the guild's subscribers; s.mu must
// be held.
func (s *Server) unsubscribeLocked(sess *session, guildID ID) {
	if g := s.subs[guildID]; g != nil {
		if _, ok := g.all[sess]; ok {
			delete(g.all, sess)
			delete(g.presence, sess)
			g.snap = nil
		}
		if len(g.all) == 0 {
			delete(s.subs, guildID)
		}
	}
	sess.mu.Lock()
	sess.removeGuild(guildID)
	sess.mu.Unlock()
}

// guildSessions returns the sessions subscribed to a guild. The slice is
// shared by every caller until the set changes: read it, never write it
// (keep filters without writing).
func (s *Server) guildSessions(guildID ID) []*session {
	s.mu.RLock()
	g := s.subs[guildID]
	if g == nil {
		s.mu.RUnlock()
		return nil
	}
	if snap := g.snap; snap != nil {
		s.mu.RUnlock()
		return snap
	}
	s.mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if g = s.subs[guildID]; g == nil {
		return nil
	}
	if g.snap == nil {
		g.snap = make([]*session, 0, len(g.all))
		for sess := range g.all {
			g.snap = append(g.snap, sess)
		}
	}
	return g.snap
}

// presenceSessions returns the guild's sessions that receive presences.
func (s *Server) presenceSessions(guildID ID) []*session {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g := s.subs[guildID]
	if g == nil || len(g.presence) == 0 {
		return nil
	}
	out := make([]*session, 0, len(g.presence))
	for sess := range g.presence {
		out = append(out, sess)
	}
	return out
}

// keep returns the sessions in in for which ok holds. in may be a shared
// snapshot (guildSessions), so it is never written: when every session
// passes, in itself is returned, otherwise a new slice.
func keep(in []*session, ok func(*session) bool) []*session {
	for i, sess := range in {
		if ok(sess) {
			continue
		}
		out := make([]*session, i, len(in)-1)
		copy(out, in[:i])
		for _, rest := range in[i+1:] {
			if ok(rest) {
				out = append(out, rest)
			}
		}
		return out
	}
	return in
}

// addGuild records that the session follows a guild; sess.mu must be
// held. A slice, not a map: most sessions follow a handful of guilds,
// and an idle connection should cost little.
func (sess *session) addGuild(id ID) {
	for _, g := range sess.guilds {
		if g == id {
			return
		}
	}
	sess.guilds = append(sess.guilds, id)
}

// removeGuild forgets a guild; sess.mu must be held.
func (sess *session) removeGuild(id ID) {
	for i, g := range sess.guilds {
		if g == id {
			last := len(sess.guilds) - 1
			sess.guilds[i] = sess.guilds[last]
			sess.guilds = sess.guilds[:last]
			return
		}
	}
}
