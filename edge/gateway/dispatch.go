package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/edge/discord"
)

// share encodes an event payload once for every recipient.
func (s *Server) share(t string, d any) *shared {
	var b []byte
	var err error
	if m, ok := d.(*discord.Message); ok {
		b = m.AppendJSON(make([]byte, 0, 1024)) // skips encoding/json's re-validation
	} else {
		b, err = json.Marshal(d)
	}
	if err != nil {
		s.log.Error("encode event", "type", t, "err", err)
		b = []byte("{}")
	}
	return &shared{t: t, d: b}
}

// eventIntent is the intent a session needs to receive an event type.
func eventIntent(t string, dm bool) int {
	switch t {
	case "MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK":
		if dm {
			return IntentDirectMessages
		}
		return IntentGuildMessages
	case "MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE", "MESSAGE_REACTION_REMOVE_ALL", "MESSAGE_REACTION_REMOVE_EMOJI":
		if dm {
			return IntentDirectMessageReactions
		}
		return IntentGuildMessageReactions
	case "TYPING_START":
		if dm {
			return IntentDirectMessageTyping
		}
		return IntentGuildMessageTyping
	case "CHANNEL_PINS_UPDATE":
		if dm {
			return IntentDirectMessages
		}
		return IntentGuilds
	case "GUILD_MEMBER_ADD", "GUILD_MEMBER_UPDATE", "GUILD_MEMBER_REMOVE":
		return IntentGuildMembers
	case "GUILD_BAN_ADD", "GUILD_BAN_REMOVE":
		return IntentGuildModeration
	case "INVITE_CREATE", "INVITE_DELETE":
		return IntentGuildInvites
	case "VOICE_STATE_UPDATE":
		return IntentGuildVoiceStates
	case "PRESENCE_UPDATE":
		return IntentGuildPresences
	case "USER_UPDATE":
		return 0
	}
	return IntentGuilds
}

// Publish implements engine.Publisher: it fans committed events out to the
// sessions allowed to see them. The engine calls it in commit order per
// guild, so each session sees a guild's events in order.
func (s *Server) Publish(events []engine.Event) {
	if len(events) == 0 {
		return
	}
	if s.region != nil && events[0].Index != 0 {
		s.publishLogged(events)
		return
	}
	for i := range events {
		s.publishOne(&events[i], nil)
	}
}

// recipients keeps only the session only, when set (rebuilding one
// session's stream, region.go).
func restrict(sessions []*session, only *session) []*session {
	if only == nil {
		return sessions
	}
	for _, sess := range sessions {
		if sess == only {
			return []*session{only}
		}
	}
	return nil
}

// at marks a payload with the event's log position.
func at(p *shared, ev *engine.Event) *shared {
	if p != nil {
		p.shard, p.idx = ev.Shard, ev.Index
	}
	return p
}

func (s *Server) publishOne(ev *engine.Event, only *session) {
	switch d := ev.Data.(type) {
	case *engine.TokenRevoked:
		if only == nil { // not when rebuilding a stream: nothing to send
			s.revoke(d)
		}
		return
	case *engine.PresenceEvent:
		s.broadcastPresence(d.UserID, ev, only)
		return
	case *engine.VoiceEvent:
		s.publishVoice(ev, d, only)
		return
	}
	switch {
	case ev.Type == "GUILD_CREATE" && ev.UserIDs != nil:
		for _, uid := range ev.UserIDs {
			for _, sess := range restrict(s.userSessions(uid), only) {
				if !sess.inShard(ev.GuildID) {
					continue
				}
				s.mu.Lock()
				s.subscribeLocked(sess, ev.GuildID)
				s.mu.Unlock()
				// The session follows the guild's events either way;
				// GUILD_CREATE itself needs the GUILDS intent.
				if !sess.has(IntentGuilds) {
					continue
				}
				if p := s.guildCreate(sess, ev.GuildID); p != nil {
					sess.dispatch(at(p, ev))
				}
			}
		}
		return
	case ev.Type == "GUILD_DELETE" && ev.UserIDs != nil:
		p := at(s.share("GUILD_DELETE", map[string]any{"id": ev.GuildID}), ev)
		for _, uid := range ev.UserIDs {
			for _, sess := range restrict(s.userSessions(uid), only) {
				if !sess.inShard(ev.GuildID) {
					continue // never got this guild's GUILD_CREATE
				}
				s.mu.Lock()
				s.unsubscribeLocked(sess, ev.GuildID)
				s.mu.Unlock()
				if sess.has(IntentGuilds) {
					sess.dispatch(p)
				}
			}

		}
		return
	}

	dm := ev.GuildID == 0
	var recipients []*session
	if ev.UserIDs != nil {
		for _, uid := range ev.UserIDs {
			for _, sess := range s.userSessions(uid) {
				// DMs go to shard 0 only, as on Discord (READY lists them
				// there too).
				if dm && sess.shard[0] != 0 {
					continue
				}
				recipients = append(recipients, sess)
			}
		}
	} else {
		recipients = s.guildSessions(ev.GuildID)
	}
	recipients = restrict(recipients, only)
	if len(recipients) == 0 {
		return
	}
	intent := eventIntent(ev.Type, dm)
	// Discord sends a member's own GUILD_MEMBER_UPDATE without the
	// GUILD_MEMBERS intent.
	var self ID
	if m, ok := ev.Data.(*model.Member); ok && ev.Type == "GUILD_MEMBER_UPDATE" {
		self = m.UserID
	}
	kept := recipients
	if intent != 0 {
		kept = keep(recipients, func(sess *session) bool {
			return sess.has(intent) || (self != 0 && sess.user.ID == self)
		})
	}
	if len(kept) == 0 {
		return
	}
	if !dm && ev.ChannelID != 0 {
		kept = s.filterVisible(ev, kept)
	}
	if ev.Type == "GUILD_BAN_ADD" || ev.Type == "GUILD_BAN_REMOVE" {
		// Only for those who may see bans: BAN_MEMBERS or VIEW_AUDIT_LOG.
		kept = s.filterGuildPerm(ev.GuildID, kept, perm.BanMembers|perm.ViewAuditLog)
	}
	if len(kept) == 0 {
		return
	}
	full, stripped, msg := s.render(ev)
	if full == nil {
		return
	}
	at(full, ev)
	at(stripped, ev)
	for _, sess := range kept {
		p := full
		if stripped != nil && needsStripping(sess, msg) {
			p = stripped
		}
		sess.dispatch(p)
		s.metrics.dispatches.Inc()
	}
}

// filterGuildPerm keeps the sessions whose user holds any of bits at guild
// level.
func (s *Server) filterGuildPerm(guildID ID, sessions []*session, bits uint64) []*session {
	var out []*session
	_ = s.eng.View(guildID, func(st *engine.State) error {
		out = keep(sessions, func(sess *session) bool { return st.BasePerms(sess.user.ID)&bits != 0 })
		return nil
	})
	return out
}

// needsStripping applies the MESSAGE_CONTENT rule: a bot without the
// intent gets empty content except in DMs, its own messages and messages
// that mention it.
func needsStripping(sess *session, m *model.Message) bool {
	if m == nil || !sess.user.Bot || sess.has(IntentMessageContent) || m.GuildID == 0 || m.AuthorID == sess.user.ID {
		return false
	}
	for _, id := range m.Mentions {
		if id == sess.user.ID {
			return false
		}
	}
	return true
}

// filterVisible keeps the sessions whose user can see the event's
// channel. A channel without overwrites that @everyone can read is
// visible to every member, which spares a permission computation per
// recipient in the common case.
func (s *Server) filterVisible(ev *engine.Event, sessions []*session) []*session {
	var out []*session
	_ = s.eng.View(ev.GuildID, func(st *engine.State) error {
		ch := st.Channels[ev.ChannelID]
		if c, ok := ev.Data.(*model.Channel); ok && (ch == nil || ev.Type == "CHANNEL_DELETE") {
			ch = c
		}
		if ch == nil {
			out = sessions
			return nil
		}
		need := uint64(perm.ViewChannel)
		if ch.Type == model.ChannelGuildVoice && ev.Type != "CHANNEL_CREATE" && ev.Type != "CHANNEL_UPDATE" && ev.Type != "CHANNEL_DELETE" {
			need |= perm.Connect // a voice channel's text chat needs CONNECT
		}
		if ev := st.Everyone(); ev != nil && len(ch.PermissionOverwrites) == 0 && ev.Permissions&need == need {
			out = sessions
			return nil
		}
		out = keep(sessions, func(sess *session) bool { return st.ChannelPerms(sess.user.ID, ch)&need == need })
		return nil
	})
	return out
}

// render encodes an event's payload. For messages it also returns the
// content-stripped variant and the message.
func (s *Server) render(ev *engine.Event) (full, stripped *shared, msg *model.Message) {
	switch d := ev.Data.(type) {
	case *engine.MessageEvent:
		m := s.cfg.Renderer.RenderMessageEvent(context.Background(), 0, d)
		if ev.Type == "MESSAGE_UPDATE" {
			m.TTS = false // Discord: "always false in message updates"
		}
		full = s.share(ev.Type, m)
		if ev.GuildID != 0 {
			stripped = s.share(ev.Type, stripContent(m))
		}
		return full, stripped, d.Message
	case *engine.ReactionEvent:
		out := map[string]any{"channel_id": d.ChannelID, "message_id": d.MessageID}
		if d.GuildID != 0 {
			out["guild_id"] = d.GuildID
		}
		switch ev.Type {
		case "MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE":
			out["user_id"], out["emoji"], out["burst"], out["type"] = d.UserID, discord.EmojiFromKey(d.Emoji), false, 0
			if ev.Type == "MESSAGE_REACTION_ADD" {
				out["message_author_id"], out["burst_colors"] = d.AuthorID, []string{}
				if d.GuildID != 0 {
					if m := s.eng.Members(d.GuildID, []ID{d.UserID})[d.UserID]; m != nil {
						out["member"] = discord.NewMember(m, s.eng.User(d.UserID))
					}
				}
			}
		case "MESSAGE_REACTION_REMOVE_EMOJI":
			out["emoji"] = discord.EmojiFromKey(d.Emoji)
		}
		return s.share(ev.Type, out), nil, nil
	case *model.Channel:
		return s.share(ev.Type, discord.NewChannel(d, nil)), nil, nil
	case *model.Role:
		return s.share(ev.Type, map[string]any{"guild_id": ev.GuildID, "role": d}), nil, nil
	case *model.Member:
		dm := discord.NewMember(d, s.userOrDeleted(d.UserID))
		dm.GuildID = ev.GuildID
		return s.share(ev.Type, dm), nil, nil
	case *model.Ban:
		return s.share(ev.Type, map[string]any{"guild_id": ev.GuildID, "user": s.userOrDeleted(d.UserID)}), nil, nil
	case *model.Invite:
		if ev.Type == "INVITE_DELETE" {
			return s.share(ev.Type, map[string]any{"channel_id": d.ChannelID, "guild_id": d.GuildID, "code": d.Code}), nil, nil
		}
		var expires *discord.Timestamp
		if d.MaxAge > 0 {
			t := discord.Timestamp(d.CreatedAt.Add(time.Duration(d.MaxAge) * time.Second))
			expires = &t
		}
		return s.share(ev.Type, map[string]any{
			"channel_id": d.ChannelID, "guild_id": d.GuildID, "code": d.Code, "created_at": discord.Timestamp(d.CreatedAt),
			"inviter": s.eng.User(d.InviterID), "max_age": d.MaxAge, "max_uses": d.MaxUses, "temporary": d.Temporary, "uses": d.Uses,
			"expires_at": expires,
		}), nil, nil
	case *model.Guild:
		var out *discord.Guild
		_ = s.eng.View(d.ID, func(st *engine.State) error {
			out = discord.NewGuild(d, st.SortedRoles())
			return nil
		})
		if out == nil {
			out = discord.NewGuild(d, []*model.Role{})
		}
		return s.share(ev.Type, out), nil, nil
	case *model.User:
		return s.share(ev.Type, d), nil, nil
	case *engine.GuildDeleted, *engine.MessageDeleted, *engine.MessagesDeleted, *engine.RoleDeleted:
		return s.share(ev.Type, d), nil, nil
	case *engine.MemberRemoved:
		return s.share(ev.Type, map[string]any{"guild_id": d.GuildID, "user": s.userOrDeleted(d.UserID)}), nil, nil
	case *engine.PinsUpdated:
		out := map[string]any{"channel_id": d.ChannelID, "last_pin_timestamp": discord.TimePtr(d.LastPinTimestamp)}
		if d.GuildID != 0 {
			out["guild_id"] = d.GuildID
		}
		return s.share(ev.Type, out), nil, nil
	case *engine.Typing:
		out := map[string]any{"channel_id": d.ChannelID, "user_id": d.UserID, "timestamp": d.Timestamp}
		if d.GuildID != 0 {
			out["guild_id"] = d.GuildID
			if m := s.eng.Members(d.GuildID, []ID{d.UserID})[d.UserID]; m != nil {
				out["member"] = discord.NewMember(m, s.eng.User(d.UserID))
			}
		}
		return s.share(ev.Type, out), nil, nil
	}
	s.log.Warn("event without renderer", "type", ev.Type)
	return nil, nil, nil
}

// stripContent is m without the fields the MESSAGE_CONTENT intent guards,
// in the message and in the message it replies to (which would otherwise
// leak the content of another message).
func stripContent(m *discord.Message) *discord.Message {
	sm := *m
	sm.Content, sm.Embeds, sm.Attachments, sm.Components = "", []json.RawMessage{}, []model.Attachment{}, []json.RawMessage{}
	if ref, ok := sm.ReferencedMessage.(*discord.Message); ok && ref != nil {
		sm.ReferencedMessage = stripContent(ref)
	}
	return &sm
}

func (s *Server) userOrDeleted(id ID) *model.User {
	if u := s.eng.User(id); u != nil {
		return u
	}
	return &model.User{ID: id, Username: "Deleted User", Discriminator: "0"}
}

// revoke acts on a revoked token on this node: the token cache forgets it
// (so REST here refuses it at once), and every session opened with it
// ends, its connection closed with 4004 and the session not resumable.
// A revocation by cutoff (a password change) does the same for every
// token of the user created before the cutoff. Every node applies the
// revocation, so this happens region-wide.
func (s *Server) revoke(d *engine.TokenRevoked) {
	byCutoff := !d.Before.IsZero()
	if v := s.cfg.Verifier; v != nil {
		if byCutoff {
			v.RevokeBefore(d.UserID, d.Before)
		} else {
			v.Forget(d.Digest)
		}
	}
	for _, sess := range s.userSessions(d.UserID) {
		if byCutoff && !sess.tokenAt.Before(d.Before) || !byCutoff && !bytes.Equal(sess.token, d.Digest) {
			continue
		}
		sess.mu.Lock()
		c := sess.conn
		sess.mu.Unlock()
		s.removeSession(sess)
		if c != nil {
			s.closeWith(c, CloseAuthenticationFailed)
		}
	}
}
