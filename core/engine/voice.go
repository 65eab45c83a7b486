package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/perm"
)

// Voice states live in their guild's shard like the rest of the guild;
// the host of a channel (the node whose SFU serves it) is chosen when the
// first member joins and recorded in every member's state, so that every
// node sends the same VOICE_SERVER_UPDATE.

// VoiceStates returns a copy of a guild's voice states by user.
func (e *Engine) VoiceStates(gid ID) map[ID]VoiceState {
	out := map[ID]VoiceState{}
	_ = e.readGuild(gid, func(s *State) error {
		for uid, vs := range s.Voice {
			out[uid] = *vs
		}
		return nil
	})
	return out
}

// UpdateVoice applies op 4 for the session's user: join, move or leave
// (channelID 0) a voice channel of the guild. It checks membership,
// CONNECT and the channel's user limit (which MOVE_MEMBERS passes, as on
// Discord) against this node's replica of the guild, then replicates the
// change through the guild's shard. A channel nobody is in is hosted by
// the joining session's node; later joiners get the same host.
func (e *Engine) UpdateVoice(ctx context.Context, uid, guildID, channelID ID, sessionID, node string, selfMute, selfDeaf bool) error {
	var ch VoiceChange
	err := e.readGuild(guildID, func(s *State) error {
		if s.Members[uid] == nil {
			return apierr.ErrUnknownMember
		}
		if channelID == 0 {
			if s.Voice[uid] == nil {
				return errNoChange
			}
			ch = VoiceChange{GuildID: guildID, UserID: uid}
			return nil
		}
		c := s.Channels[channelID]
		if c == nil || c.Type != model.ChannelGuildVoice {
			return apierr.ErrUnknownChannel
		}
		have := s.ChannelPerms(uid, c)
		if have&(perm.ViewChannel|perm.Connect) != perm.ViewChannel|perm.Connect {
			return apierr.ErrMissingPermissions
		}
		host, in := s.voiceHost(channelID, uid, node)
		if c.UserLimit > 0 && in >= c.UserLimit && have&perm.MoveMembers == 0 {
			return ErrChannelFull
		}
		st := &VoiceState{ChannelID: channelID, SessionID: sessionID, Node: node, Host: host, SelfMute: selfMute, SelfDeaf: selfDeaf}
		if old := s.Voice[uid]; old != nil && old.ChannelID == channelID && old.SessionID == sessionID {
			st.SelfVideo, st.SelfStream = old.SelfVideo, old.SelfStream
			if *old == *st {
				return errNoChange
			}
		}
		ch = VoiceChange{GuildID: guildID, UserID: uid, State: st}
		return nil
	})
	return e.proposeVoice(ctx, ch, err)
}

// proposeVoice replicates a voice change that a check under the guild's
// read lock decided on (err: what the check said; errNoChange is none).
func (e *Engine) proposeVoice(ctx context.Context, ch VoiceChange, err error) error {
	if err == errNoChange {
		return nil
	}
	if err != nil {
		return err
	}
	return e.proposeTo(ctx, ch.GuildID, &logEntry{Kind: entryVoice, Voice: []VoiceChange{ch}})
}

// voiceHost is the node that hosts a voice channel, that of anyone else
// in it or else joiner (the node of the one joining), and how many
// others are in it.
func (s *State) voiceHost(channelID, uid ID, joiner string) (host string, in int) {
	host = joiner
	for other, vs := range s.Voice {
		if vs.ChannelID == channelID && other != uid {
			in++
			if vs.Host != "" {
				host = vs.Host
			}
		}
	}
	return host, in
}

// MoveVoiceMember moves a member who is in voice to another voice
// channel of the guild, or disconnects them (channelID 0): PATCH
// /guilds/{id}/members/{id} with channel_id, as on Discord. The actor
// needs MOVE_MEMBERS in the member's channel and, for a move, in the
// destination together with CONNECT there; the user limit does not stop
// a move (MOVE_MEMBERS passes it). The member's session, node and self
// mute/deafen stay; the destination's host serves them from now on.
func (e *Engine) MoveVoiceMember(ctx context.Context, actor, guildID, uid, channelID ID) error {
	var ch VoiceChange
	err := e.readGuild(guildID, func(s *State) error {
		if s.Members[actor] == nil {
			return apierr.ErrUnknownGuild
		}
		if s.Members[uid] == nil {
			return apierr.ErrUnknownMember
		}
		old := s.Voice[uid]
		if old == nil {
			return apierr.ErrTargetNotInVoice
		}
		if from := s.Channels[old.ChannelID]; from == nil || s.ChannelPerms(actor, from)&perm.MoveMembers == 0 {
			return apierr.ErrMissingPermissions
		}
		if channelID == 0 {
			ch = VoiceChange{GuildID: guildID, UserID: uid}
			return nil
		}
		to := s.Channels[channelID]
		if to == nil || to.Type != model.ChannelGuildVoice {
			return apierr.ErrUnknownChannel
		}
		const need = perm.ViewChannel | perm.Connect | perm.MoveMembers
		if s.ChannelPerms(actor, to)&need != need {
			return apierr.ErrMissingPermissions
		}
		if old.ChannelID == channelID {
			return errNoChange
		}
		host, _ := s.voiceHost(channelID, uid, old.Node)
		st := &VoiceState{ChannelID: channelID, SessionID: old.SessionID, Node: old.Node, Host: host, SelfMute: old.SelfMute, SelfDeaf: old.SelfDeaf}
		ch = VoiceChange{GuildID: guildID, UserID: uid, State: st}
		return nil
	})
	return e.proposeVoice(ctx, ch, err)
}

// LeaveVoiceSession removes the voice states a gateway session created.
func (e *Engine) LeaveVoiceSession(ctx context.Context, uid ID, sessionID string) {
	for _, gid := range e.UserGuilds(uid) {
		vs, ok := e.VoiceStates(gid)[uid]
		if ok && vs.SessionID == sessionID {
			if err := e.proposeTo(ctx, gid, &logEntry{Kind: entryVoice, Voice: []VoiceChange{{GuildID: gid, UserID: uid}}}); err != nil {
				e.log.Warn("leave voice", "guild", gid, "user", uid, "err", err)
			}
		}
	}
}

var errNoChange = fmt.Errorf("no change")

// ErrChannelFull: the voice channel holds its user limit.
var ErrChannelFull = errors.New("voice channel full")

// SetVoiceMedia records whether a user in voice sends camera video and
// a screen share (self_video, self_stream), as its SFU sees them. It
// does nothing unless the state still belongs to sessionID.
func (e *Engine) SetVoiceMedia(ctx context.Context, guildID, uid ID, sessionID string, video, stream bool) error {
	var ch VoiceChange
	err := e.readGuild(guildID, func(s *State) error {
		old := s.Voice[uid]
		if old == nil || old.SessionID != sessionID {
			return errNoChange
		}
		if old.SelfVideo == video && old.SelfStream == stream {
			return errNoChange
		}
		st := *old
		st.SelfVideo, st.SelfStream = video, stream
		ch = VoiceChange{GuildID: guildID, UserID: uid, State: &st}
		return nil
	})
	return e.proposeVoice(ctx, ch, err)
}

// applyVoice applies voice changes to their guilds and returns the events.
func (e *Engine) applyVoice(changes []VoiceChange) []Event {
	var evs []Event
	for _, c := range changes {
		en := e.entry(c.GuildID)
		if en == nil {
			continue
		}
		en.mu.Lock()
		if en.state != nil {
			if ev, ok := en.state.setVoice(c); ok {
				evs = append(evs, ev)
			}
		}
		en.mu.Unlock()
	}
	return evs
}

// setVoice changes one voice state; it reports the event, if any. A
// joiner's Host is only a proposal: the node that proposed it decided on
// its own replica, which may not yet have applied another member's join
// through another node. Here, in log order, a channel that already has a
// host keeps it (that of the member with the lowest user ID, should they
// ever differ), so every member of a channel is sent to one SFU.
func (s *State) setVoice(c VoiceChange) (Event, bool) {
	old := s.Voice[c.UserID]
	if c.State == nil {
		if old == nil {
			return Event{}, false
		}
		delete(s.Voice, c.UserID)
		return Event{Type: "VOICE_STATE_UPDATE", GuildID: c.GuildID, Data: &VoiceEvent{GuildID: c.GuildID, UserID: c.UserID, SessionID: old.SessionID}}, true
	}
	st := *c.State
	if !c.Rehost {
		var by ID
		for other, vs := range s.Voice {
			if other != c.UserID && vs.ChannelID == st.ChannelID && vs.Host != "" && (by == 0 || other < by) {
				by, st.Host = other, vs.Host
			}
		}
	}
	s.Voice[c.UserID] = &st
	return Event{Type: "VOICE_STATE_UPDATE", GuildID: c.GuildID, Data: &VoiceEvent{GuildID: c.GuildID, UserID: c.UserID, State: &st, SessionID: st.SessionID}}, true
}

// rehost lists the voice changes a sweep makes in one guild: the states
// of sessions on dead nodes go, and each channel whose host died moves
// to the node of its first member (by user ID) that lives, so that all
// of its members get the same new host. Deterministic: every leader
// would decide the same.
func rehost(gid ID, states map[ID]*VoiceState, alive func(string) bool) []VoiceChange {
	uids := make([]ID, 0, len(states))
	for uid := range states {
		uids = append(uids, uid)
	}
	slices.Sort(uids)
	var out []VoiceChange
	newHost := map[ID]string{} // channel → its new host
	for _, uid := range uids {
		vs := states[uid]
		if !alive(vs.Node) {
			out = append(out, VoiceChange{GuildID: gid, UserID: uid})
			continue
		}
		if vs.Host == "" || alive(vs.Host) {
			continue
		}
		host, ok := newHost[vs.ChannelID]
		if !ok {
			host = vs.Node
			newHost[vs.ChannelID] = host
		}
		st := *vs
		st.Host, st.SelfVideo, st.SelfStream = host, false, false
		out = append(out, VoiceChange{GuildID: gid, UserID: uid, State: &st, Rehost: true})
	}
	return out
}
