package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/gorilla/websocket"

	"github.com/accord-chat/accord/edge/auth"
)

// maxClientPayload is Discord's limit for a payload a client sends.
const maxClientPayload = 4096

// readLoop serves one connection until it ends, on a goroutine of its
// own: off Linux, for TLS, and with Config.GoroutineReaders. Gorilla's
// answers to pings and closes go through the queue (newConn); only its
// close for a broken frame (1002) it writes itself, as the connection
// ends.
func (s *Server) readLoop(c *conn) {
	// Only heartbeats move the deadline: a client that sends other
	// payloads but no heartbeat is still a zombie to the protocol.
	grace := s.heartbeatGrace()
	invalidate := false
	defer func() { s.detach(c, invalidate) }()
	for {
		_ = c.ws.SetReadDeadline(c.lastBeat.Add(grace))
		data, err := readPayload(c.ws)
		if err != nil {
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				s.closeWith(c, CloseSessionTimedOut)
			case errors.Is(err, errTooLarge), errors.Is(err, websocket.ErrReadLimit): // frame lengths past 2⁶³
				s.closeWith(c, CloseDecodeError)
			case websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway):
				// Discord: closing with 1000 or 1001 invalidates the
				// session; any other close (or none) keeps it resumable.
				invalidate = true
			}
			return
		}
		if !c.allowEvent(time.Now(), s.cfg.EventLimit, s.cfg.EventWindow) {
			s.closeWith(c, CloseRateLimited)
			return
		}
		if !s.handle(c, data) {
			return
		}
	}
}

var errTooLarge = errors.New("gateway: payload over 4096 bytes")

// readPayload reads one client message of at most maxClientPayload bytes.
// It reads through NextReader rather than relying on gorilla's read limit,
// which answers with its own close frame (1009) before we could send 4002,
// and it never buffers more than the limit.
func readPayload(ws *websocket.Conn) ([]byte, error) {
	_, r, err := ws.NextReader() // text or binary; control frames are handled inside
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, maxClientPayload+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxClientPayload {
		return nil, errTooLarge
	}
	return data, nil
}

func (s *Server) closeWith(c *conn, code int) {
	s.metrics.closes.WithLabelValues(strconv.Itoa(code)).Inc()
	c.close(code)
}

// decodePayload parses a client payload strictly enough that garbage is
// rejected: one JSON object with an integer op and nothing after it.
// (json.Decoder.More, used before, let `{"op":1}}` through: a closing
// brace is not "more".)
func decodePayload(data []byte) (*payload, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	var p payload
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// handle processes one payload; false ends the connection.
func (s *Server) handle(c *conn, data []byte) bool {
	p, err := decodePayload(data)
	if err != nil {
		s.closeWith(c, CloseDecodeError)
		return false
	}
	c.mu.Lock()
	sess := c.sess
	c.mu.Unlock()
	switch p.Op {
	case OpHeartbeat:
		c.lastBeat = time.Now()
		if c.beat != nil {
			c.beat.Reset(s.heartbeatGrace())
		}
		c.push(opFrame(OpHeartbeatACK, nil))
		if seq, err := strconv.ParseInt(string(p.D), 10, 64); err == nil && sess != nil {
			sess.ackReplay(c, seq)
		}
		return true
	case OpIdentify:
		if sess != nil {
			s.closeWith(c, CloseAlreadyAuthenticated)
			return false
		}
		return s.identify(c, p.D)
	case OpResume:
		if sess != nil {
			s.closeWith(c, CloseAlreadyAuthenticated)
			return false
		}
		return s.resume(c, p.D)
	}
	if sess == nil {
		switch p.Op {
		case OpPresenceUpdate, OpVoiceStateUpdate, OpRequestGuildMembers, OpRequestSoundboard:
			s.closeWith(c, CloseNotAuthenticated)
		default:
			s.closeWith(c, CloseUnknownOpcode)
		}
		return false
	}
	switch p.Op {
	case OpPresenceUpdate:
		var pu presenceUpdate
		if json.Unmarshal(p.D, &pu) != nil || !validStatus(pu.Status) {
			s.closeWith(c, CloseDecodeError)
			return false
		}
		s.proposePresence(sess.user.ID, toPresence(pu))
	case OpVoiceStateUpdate:
		var vs voiceStateUpdate
		if json.Unmarshal(p.D, &vs) != nil {
			s.closeWith(c, CloseDecodeError)
			return false
		}
		s.updateVoiceState(sess, vs)
	case OpRequestGuildMembers:
		var rm requestMembers
		if json.Unmarshal(p.D, &rm) != nil {
			s.closeWith(c, CloseDecodeError)
			return false
		}
		return s.requestMembers(c, sess, rm)
	case OpRequestSoundboard:
		// No soundboard: nothing to send.
	default:
		s.closeWith(c, CloseUnknownOpcode)
		return false
	}
	return true
}

// identify starts a new session.
func (s *Server) identify(c *conn, raw json.RawMessage) bool {
	var id identify
	if err := json.Unmarshal(raw, &id); err != nil {
		s.closeWith(c, CloseDecodeError)
		return false
	}
	tok, _ := auth.ParseHeader(id.Token)
	t, err := s.cfg.Verifier.Verify(context.Background(), tok)
	if err != nil {
		s.closeWith(c, CloseAuthenticationFailed)
		return false
	}
	user := s.eng.User(t.UserID)
	if user == nil {
		s.closeWith(c, CloseAuthenticationFailed)
		return false
	}
	sess := &session{id: newSessionID(), user: user, largeThreshold: 50, version: c.version, token: t.Hash, tokenAt: t.CreatedAt}
	switch {
	case id.Intents != nil:
		sess.intents, sess.explicit = *id.Intents, true
	case user.Bot:
		// Intents are required on v8+; Discord closes with 4013.
		s.closeWith(c, CloseInvalidIntents)
		return false
	default:
		sess.intents = allIntents
	}
	if sess.intents&^allIntents != 0 || sess.intents < 0 {
		s.closeWith(c, CloseInvalidIntents)
		return false
	}
	if user.Bot {
		allowed := 0
		if app, err := s.eng.Application(context.Background(), user.ID, user.ID); err == nil {
			allowed = AllowedPrivileged(app.Flags)
		}
		if sess.intents&privilegedIntents&^allowed != 0 {
			s.closeWith(c, CloseDisallowedIntents)
			return false
		}
	}
	if id.Shard != nil {
		sh := *id.Shard
		if sh[1] < 1 || sh[0] < 0 || sh[0] >= sh[1] {
			s.closeWith(c, CloseInvalidShard)
			return false
		}
		sess.shard = sh
	}
	if lt := id.LargeThreshold; lt != 0 {
		if lt < 50 || lt > 250 {
			s.closeWith(c, CloseDecodeError)
			return false
		}
		sess.largeThreshold = lt
	}
	sess.conn = c
	c.mu.Lock()
	c.sess = sess
	c.mu.Unlock()
	// Register the session before listing its guilds: a guild joined
	// after the listing then reaches it through its GUILD_CREATE event
	// (held in pending until READY is out) instead of being missed. In a
	// region, publication stops meanwhile, so that the session's anchor
	// is exactly where its stream starts in every shard.
	sess.reg = s.region
	var anchor []uint64
	if s.region != nil {
		anchor = s.region.lockAll()
	}
	s.addSession(sess, nil)
	var guilds []ID
	for _, g := range s.eng.UserGuilds(user.ID) {
		if sess.inShard(g) {
			guilds = append(guilds, g)
		}
	}
	s.mu.Lock()
	for _, g := range guilds {
		s.subscribeLocked(sess, g)
	}
	s.mu.Unlock()
	if s.region != nil {
		s.region.unlockAll()
	}
	// The user is present before READY is built, so the session's own
	// presence is in its GUILD_CREATEs; the others hear of it when the
	// region applies the change.
	s.connectPresence(user.ID, id.Presence)
	first := []*shared{s.readyPayload(sess, guilds)}
	if sess.has(IntentGuilds) { // GUILD_CREATE belongs to the GUILDS intent
		for _, g := range guilds {
			if p := s.guildCreate(sess, g); p != nil {
				first = append(first, p)
			}
		}
	}
	sess.start(first)
	if s.region != nil {
		s.replicateOpen(sess, anchor)
	}
	return true
}

// resume reattaches a session to this connection and replays what it
// missed.
func (s *Server) resume(c *conn, raw json.RawMessage) bool {
	var r resume
	if err := json.Unmarshal(raw, &r); err != nil {
		s.closeWith(c, CloseDecodeError)
		return false
	}
	tok, _ := auth.ParseHeader(r.Token)
	t, err := s.cfg.Verifier.Verify(context.Background(), tok)
	if err != nil {
		s.closeWith(c, CloseAuthenticationFailed)
		return false
	}
	sess := s.session(r.SessionID)
	if sess == nil && s.resumeRemote(c, r.SessionID, t.UserID, t.Hash, r.Seq) {
		return true // held by another node of the region until now
	}
	if sess == nil || sess.user.ID != t.UserID || !bytes.Equal(sess.token, t.Hash) {
		// Another user's session, or this user's opened with another
		// token (one since revoked or reset): not resumable with this.
		s.invalidSession(c, false)
		return true
	}
	sess.mu.Lock()
	missed, ok := sess.missedSince(r.Seq)
	if !ok || sess.dead || !sess.ready {
		sess.mu.Unlock()
		s.invalidSession(c, false)
		return true
	}
	old := sess.conn
	// Queue the replay on the new connection before publishing it as the
	// session's connection, all under the session lock, so no dispatch can
	// slip between the replay and live events.
	c.mu.Lock()
	c.sess = sess
	c.mu.Unlock()
	c.pushAll(missed)
	sess.conn = c
	sess.dispatchLocked(&shared{t: "RESUMED", d: []byte("{}")})
	sess.mu.Unlock()
	if old != nil && old != c {
		old.closeNow(CloseUnknownError, "Session resumed elsewhere.")
	}
	s.connectPresence(sess.user.ID, nil)
	return true
}

// appendReplay adds a frame to the replay ring; sess.mu must be held.
func appendReplay(sess *session, f *frame) []*frame {
	if len(sess.replay) < replayCap {
		return append(sess.replay, f)
	}
	sess.replay[sess.head] = f
	sess.head = (sess.head + 1) % replayCap
	return sess.replay
}

// invalidSession sends op 9. The client waits 1–5 s and identifies anew
// (d=false) or resumes (d=true).
func (s *Server) invalidSession(c *conn, resumable bool) {
	d := []byte("false")
	if resumable {
		d = []byte("true")
	}
	time.Sleep(time.Duration(100+rand.IntN(400)) * time.Millisecond)
	c.push(opFrame(OpInvalidSession, d))
}

// detach runs once when a connection ends: the session stays
// resumable for the resume window, unless invalidate (the client closed
// with 1000/1001) ends it now.
func (s *Server) detach(c *conn, invalidate bool) {
	c.mu.Lock()
	sess := c.sess
	c.mu.Unlock()
	if sess != nil {
		sess.mu.Lock()
		mine := sess.conn == c
		if mine {
			sess.conn = nil
			sess.detached = time.Now()
			// Dead in the same step: a RESUME racing with the removal
			// below must not find it detached and alive.
			sess.dead = sess.dead || invalidate
		}
		sess.mu.Unlock()
		if mine && invalidate {
			s.endSession(sess)
		}
		if !s.online(sess.user.ID) && s.eng.HasPresenceOn(sess.user.ID, s.nodeName()) {
			s.proposePresence(sess.user.ID, nil)
		}
	}
	// A close frame queued by the reader (4002, 4009, ...) is written by
	// the writer after what precedes it; tearing the socket down here
	// right away, as before, raced with it and clients mostly saw 1006.
	// Wait for the writer, bounded by its write timeout.
	if c.isClosing() {
		t := time.NewTimer(writeTimeout + time.Second)
		select {
		case <-c.done:
		case <-t.C:
		}
		t.Stop()
	}
	c.closeNow(0, "")
}
