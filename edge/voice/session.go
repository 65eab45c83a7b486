package voice

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/accord-chat/accord/edge/sfu"
	"github.com/accord-chat/accord/edge/sfu/discordudp"
	"github.com/accord-chat/accord/edge/sfu/webrtcpeer"
)

// maxMessage bounds a client message; an SDP offer with a few dozen
// media sections fits many times over.
const maxMessage = 256 << 10

// replayLimit bounds the messages kept for a resume.
const replayLimit = 256

// wsConn is one WebSocket; writes from several goroutines are serialized.
type wsConn struct {
	c      *websocket.Conn
	mu     sync.Mutex
	closed bool
}

func (w *wsConn) write(b []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	_ = w.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := w.c.WriteMessage(websocket.TextMessage, b); err != nil {
		w.closed = true
		w.c.Close()
	}
}

func (w *wsConn) close(code int, reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	if len(reason) > closeReasonMaxBytes {
		reason = reason[:closeReasonMaxBytes]
	}
	_ = w.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	w.c.Close()
}

func encode(op int, d any, seq *int64) []byte {
	raw, _ := json.Marshal(d)
	b, _ := json.Marshal(frame{Op: op, D: raw, Seq: seq})
	return b
}

// session is one user's voice connection: it outlives its socket for the
// resume window, and its media flows meanwhile.
type session struct {
	srv                   *Server
	id                    string // the gateway session's ID
	guild, user, channel  ID
	token                 string
	ssrc                  uint32
	explicitSpeaking      atomic.Bool  // the client sends Speaking itself
	speakingNow           atomic.Int32 // the Speaking flags last announced
	mu                    sync.Mutex
	conn                  *wsConn
	detached              time.Time
	seq                   int64
	replay                [][]byte // sequenced messages not yet acknowledged, oldest first
	replaySeq             []int64
	peer                  *webrtcpeer.Peer
	native                *discordudp.Conn // its native UDP media, made at Ready
	part                  *sfu.Participant
	access                access
	ended                 bool
	video, stream, report bool
}

func (sess *session) participant() *sfu.Participant {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.part
}

func (sess *session) joined() bool { return sess.participant() != nil }

func (sess *session) detachedSince() time.Time {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.conn != nil {
		return time.Time{}
	}
	return sess.detached
}

// send queues a sequenced message (kept until acknowledged).
func (sess *session) send(op int, d any) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.ended {
		return
	}
	sess.seq++
	seq := sess.seq
	b := encode(op, d, &seq)
	if len(sess.replay) == replayLimit {
		sess.replay, sess.replaySeq = sess.replay[1:], sess.replaySeq[1:]
	}
	sess.replay = append(sess.replay, b)
	sess.replaySeq = append(sess.replaySeq, seq)
	if sess.conn != nil {
		sess.conn.write(b)
	}
}

// ack drops messages the client has.
func (sess *session) ack(seq int64) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	i := 0
	for i < len(sess.replaySeq) && sess.replaySeq[i] <= seq {
		i++
	}
	sess.replay, sess.replaySeq = sess.replay[i:], sess.replaySeq[i:]
}

func (sess *session) setAccess(a access) {
	sess.mu.Lock()
	sess.access = a
	part := sess.part
	sess.mu.Unlock()
	if part != nil {
		part.SetMuted(a.mute)
		part.SetDeafened(a.deaf)
	}
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	c, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	c.SetReadLimit(maxMessage)
	wc := &wsConn{c: c}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		wc.close(CloseServerCrashed, "voice server stopping")
		return
	}
	s.conns[wc] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, wc)
		s.mu.Unlock()
	}()
	interval := s.cfg.HeartbeatInterval
	wc.write(encode(OpHello, map[string]any{"heartbeat_interval": interval.Milliseconds(), "v": 8}, nil))
	var sess *session
	for {
		// A client heartbeats every interval; two missed is a dead one.
		_ = c.SetReadDeadline(time.Now().Add(2*interval + time.Second))
		_, msg, err := c.ReadMessage()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				wc.close(CloseSessionTimeout, "no heartbeat")
				if sess != nil {
					s.endSession(sess, CloseSessionTimeout, "no heartbeat")
				}
			} else if sess != nil {
				sess.detach(wc)
			}
			wc.close(websocket.CloseGoingAway, "")
			return
		}
		var f frame
		if err := json.Unmarshal(msg, &f); err != nil {
			s.fail(wc, sess, closeWith(CloseDecodeError, "invalid payload"))
			return
		}
		if err := s.handle(wc, &sess, &f); err != nil {
			s.fail(wc, sess, err)
			return
		}
	}
}

// fail closes a connection for err; a session ended by a protocol error
// cannot be resumed.
func (s *Server) fail(wc *wsConn, sess *session, err error) {
	var ce *closeError
	if !errors.As(err, &ce) {
		ce = &closeError{CloseBadRequest, err.Error()}
	}
	wc.close(ce.code, ce.reason)
	if sess != nil {
		s.endSession(sess, ce.code, ce.reason)
	}
}

func decode(raw json.RawMessage, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return closeWith(CloseDecodeError, "invalid payload")
	}
	return nil
}

func (s *Server) handle(wc *wsConn, sessp **session, f *frame) error {
	sess := *sessp
	switch f.Op {
	case OpHeartbeat:
		var hb heartbeat
		if err := decode(f.D, &hb); err != nil {
			return err
		}
		if sess != nil && hb.SeqAck != nil {
			sess.ack(*hb.SeqAck)
		}
		wc.write(encode(OpHeartbeatACK, map[string]any{"t": hb.T}, nil))
		return nil
	case OpIdentify, OpResume:
		if sess != nil {
			return closeWith(CloseAlreadyAuth, "already authenticated")
		}
		var err error
		if f.Op == OpIdentify {
			var id identify
			if err := decode(f.D, &id); err != nil {
				return err
			}
			sess, err = s.identify(wc, &id)
		} else {
			var re resume
			if err := decode(f.D, &re); err != nil {
				return err
			}
			sess, err = s.resume(wc, &re)
		}
		*sessp = sess
		return err
	}
	if sess == nil {
		if f.Op < 0 || f.Op > 31 {
			return closeWith(CloseUnknownOpcode, "unknown opcode")
		}
		return closeWith(CloseNotAuthenticated, "not authenticated")
	}
	switch f.Op {
	case OpSelectProtocol:
		var sp selectProtocol
		if err := decode(f.D, &sp); err != nil {
			return err
		}
		return s.selectProtocol(sess, &sp)
	case OpSessionDescription:
		var d description
		if err := decode(f.D, &d); err != nil {
			return err
		}
		return s.description(sess, &d)
	case OpSpeaking:
		var sp speaking
		if err := decode(f.D, &sp); err != nil {
			return err
		}
		sess.explicitSpeaking.Store(true)
		if !sess.mutedNow() {
			sess.speakingNow.Store(int32(sp.Speaking))
			s.broadcast(sess, OpSpeaking, sess.speakingEvent())
		}
		return nil
	case OpVideo:
		return nil // a WebRTC client's video travels in its SDP
	}
	return closeWith(CloseUnknownOpcode, "unknown opcode")
}

// speakingEvent is op 5 as others receive it for sess.
func (sess *session) speakingEvent() map[string]any {
	return map[string]any{"user_id": idString(sess.user), "ssrc": sess.ssrc, "speaking": int(sess.speakingNow.Load())}
}

func (sess *session) mutedNow() bool {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.access.mute
}

func idString(id ID) string { return strconv.FormatUint(uint64(id), 10) }

// identify opens a voice session for a gateway session whose voice state
// is in a channel this node hosts.
func (s *Server) identify(wc *wsConn, id *identify) (*session, error) {
	gid, uid := ID(id.ServerID), ID(id.UserID)
	var err error
	if err = s.tokens.Check(id.Token, uint64(gid), uint64(uid), id.SessionID, s.cfg.NodeName); err != nil {
		return nil, closeFor(err)
	}
	vs, ok := s.cfg.Engine.VoiceStates(gid)[uid]
	if !ok || vs.SessionID != id.SessionID {
		return nil, closeWith(CloseSessionInvalid, "no voice state for this session")
	}
	if vs.Host != s.cfg.NodeName {
		return nil, closeWith(CloseServerNotFound, "the channel is hosted by another voice server")
	}
	sess := &session{srv: s, id: id.SessionID, guild: gid, user: uid, channel: vs.ChannelID, token: id.Token, ssrc: s.allocSSRC()}
	a, ok := s.accessOf(sess)
	if !ok {
		return nil, closeWith(CloseSessionInvalid, "no voice state for this session")
	}
	if !a.connect {
		return nil, closeWith(CloseDisconnected, "missing permission to connect to the channel")
	}
	sess.access = a
	s.mu.Lock()
	old := s.sessions[sess.id]
	s.sessions[sess.id] = sess
	s.guilds[gid]++
	s.mu.Unlock()
	if old != nil {
		s.endSession(old, CloseSessionInvalid, "identified again elsewhere")
	}
	sess.attach(wc)
	ip, port := s.mediaAddr()
	modes := []string{}
	if s.cfg.Native != nil {
		if sess.native, err = s.cfg.Native.Expect(sess.ssrc); err != nil {
			s.endSession(sess, CloseServerCrashed, "no media session")
			return nil, closeWith(CloseServerCrashed, "no media session")
		}
		modes = discordudp.Modes
	}
	ready := map[string]any{"ssrc": sess.ssrc, "ip": ip, "port": port,
		"modes": modes, "experiments": []string{},
		"heartbeat_interval": s.cfg.HeartbeatInterval.Milliseconds()}
	if s.cfg.ICEServers != nil {
		ready["ice_servers"] = s.cfg.ICEServers(uid)
	} else {
		ready["ice_servers"] = []ICEServer{}
	}
	wc.write(encode(OpReady, ready, nil))
	return sess, nil
}

// attach gives the session a socket.
func (sess *session) attach(wc *wsConn) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	sess.conn, sess.detached = wc, time.Time{}
}

// detach notes the socket gone, if it is still the session's.
func (sess *session) detach(wc *wsConn) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.conn == wc {
		sess.conn, sess.detached = nil, time.Now()
	}
}

// resume re-attaches a socket to a session and re-sends what the client
// did not acknowledge.
func (s *Server) resume(wc *wsConn, re *resume) (*session, error) {
	s.mu.Lock()
	sess := s.sessions[re.SessionID]
	s.mu.Unlock()
	if sess == nil || sess.token != re.Token || sess.guild != ID(re.ServerID) {
		return nil, closeWith(CloseSessionInvalid, "session no longer valid")
	}
	sess.mu.Lock()
	if sess.ended {
		sess.mu.Unlock()
		return nil, closeWith(CloseSessionInvalid, "session no longer valid")
	}
	if prev := sess.conn; prev != nil && prev != wc {
		defer prev.close(CloseSessionInvalid, "resumed elsewhere")
	}
	sess.conn, sess.detached = wc, time.Time{}
	wc.write(encode(OpResumed, nil, nil))
	for i, b := range sess.replay {
		if re.SeqAck == nil || sess.replaySeq[i] > *re.SeqAck {
			wc.write(b)
		}
	}
	sess.mu.Unlock()
	return sess, nil
}

// selectProtocol starts the session's media: WebRTC (the offer is
// answered in Session Description) or Discord's native UDP (the key
// is), and the client joins the channel's room. A second Select
// Protocol renegotiates (WebRTC) or re-keys (UDP).
func (s *Server) selectProtocol(sess *session, sp *selectProtocol) error {
	switch sp.Protocol {
	case "webrtc":
		return s.selectWebRTC(sess, sp)
	case "udp":
		return s.selectUDP(sess, sp)
	}
	return closeWith(CloseUnknownProtocol, "unknown protocol: this server speaks udp and webrtc")
}

func (s *Server) selectWebRTC(sess *session, sp *selectProtocol) error {
	offer := sp.offerSDP()
	if offer == "" {
		return closeWith(CloseBadRequest, "select protocol without an SDP offer")
	}
	sess.mu.Lock()
	peer, part := sess.peer, sess.part
	sess.mu.Unlock()
	if peer != nil {
		return s.answer(sess, peer, offer)
	}
	if part != nil {
		return closeWith(CloseBadRequest, "media already started over udp")
	}
	peer, err := s.cfg.Transport.NewPeer(sess.signal, sess.sources, s.log.With("user", sess.user))
	if err != nil {
		return err
	}
	part, err = s.enterRoom(sess, peer)
	if err != nil {
		peer.Close()
		return err
	}
	sess.mu.Lock()
	sess.peer = peer
	sess.mu.Unlock()
	peer.Attach(part)
	if err := s.answer(sess, peer, offer); err != nil {
		return err
	}
	s.announce(sess)
	return nil
}

// enterRoom makes the session a participant of its channel's room with
// sub as its receiving side.
func (s *Server) enterRoom(sess *session, sub sfu.Subscriber) (*sfu.Participant, error) {
	part, err := s.room(sess.channel).Join(uint64(sess.user), sess.ssrc, sub)
	if err != nil {
		return nil, closeWith(CloseBadRequest, "already connected to this channel")
	}
	sess.mu.Lock()
	sess.part = part
	a := sess.access
	sess.mu.Unlock()
	part.SetMuted(a.mute)
	part.SetDeafened(a.deaf)
	return part, nil
}

// announce tells the room about a new participant and the participant
// about the room: Clients Connect both ways, and the newcomer a Speaking
// of each other participant, which is how Discord's clients learn whose
// SSRC is whose (discord.js maps SSRCs from Speaking alone).
func (s *Server) announce(sess *session) {
	var others []string
	room := s.roomSessions(sess.channel, sess)
	for _, o := range room {
		others = append(others, idString(o.user))
		o.send(OpClientsConnect, map[string]any{"user_ids": []string{idString(sess.user)}})
	}
	if len(others) > 0 {
		sess.send(OpClientsConnect, map[string]any{"user_ids": others})
	}
	for _, o := range room {
		sess.send(OpSpeaking, o.speakingEvent())
	}
	// Access may have changed between Identify and now.
	s.reconcile(sess)
}

func (s *Server) answer(sess *session, peer *webrtcpeer.Peer, offer string) error {
	answer, err := peer.HandleOffer(offer)
	if err != nil {
		return closeWith(CloseBadRequest, "malformed SDP offer")
	}
	sess.send(OpSessionDescription, map[string]any{
		"mode": "webrtc", "type": "answer", "sdp": answer,
		"audio_codec": "opus", "video_codec": "VP8", "media_session_id": idString(ID(sess.ssrc)),
		"dave_protocol_version": 0,
	})
	return nil
}

// description handles op 4 from a WebRTC client: the answer to a
// renegotiation offer of the server's, or an offer of its own.
func (s *Server) description(sess *session, d *description) error {
	sess.mu.Lock()
	peer := sess.peer
	sess.mu.Unlock()
	if peer == nil {
		return closeWith(CloseBadRequest, "session description before select protocol")
	}
	switch d.Type {
	case "answer":
		if err := peer.HandleAnswer(d.SDP); errors.Is(err, webrtcpeer.ErrBadSDP) {
			return closeWith(CloseBadRequest, "malformed SDP answer")
		}
		return nil // an answer to nothing (crossed offers) is dropped
	case "offer":
		return s.answer(sess, peer, d.SDP)
	}
	return closeWith(CloseBadRequest, "session description type must be offer or answer")
}

// signal sends the server's renegotiation offers (webrtcpeer.Signal).
func (sess *session) signal(typ, sdp string) {
	sess.send(OpSessionDescription, map[string]any{"mode": "webrtc", "type": typ, "sdp": sdp})
}

// sources records camera and screen share in the voice state.
func (sess *session) sources(video, stream bool) {
	s := sess.srv
	sess.mu.Lock()
	if sess.ended || (sess.report && sess.video == video && sess.stream == stream) {
		sess.mu.Unlock()
		return
	}
	sess.video, sess.stream, sess.report = video, stream, true
	sess.mu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		if err := s.cfg.Engine.SetVoiceMedia(s.bg, sess.guild, sess.user, sess.id, video, stream); err != nil && s.bg.Err() == nil {
			s.log.Warn("voice media state", "user", sess.user, "err", err)
		}
	}()
}

// endSession closes a session for good: its socket with code, its place
// in the room (the others get Client Disconnect) and its peer.
func (s *Server) endSession(sess *session, code int, reason string) {
	s.mu.Lock()
	if s.sessions[sess.id] == sess {
		delete(s.sessions, sess.id)
		if s.guilds[sess.guild]--; s.guilds[sess.guild] <= 0 {
			delete(s.guilds, sess.guild)
		}
	}
	s.mu.Unlock()
	sess.mu.Lock()
	if sess.ended {
		sess.mu.Unlock()
		return
	}
	sess.ended = true
	conn, peer, part, native := sess.conn, sess.peer, sess.part, sess.native
	sess.mu.Unlock()
	if native != nil {
		native.Close()
	}
	if conn != nil {
		conn.close(code, reason)
	}
	if part != nil {
		part.Leave()
		s.broadcast(sess, OpClientDisconnect, map[string]any{"user_id": idString(sess.user)})
	}
	if peer != nil {
		_ = peer.Close()
	}
	s.mu.Lock()
	if r := s.rooms[sess.channel]; r != nil && r.Empty() {
		delete(s.rooms, sess.channel)
	}
	s.mu.Unlock()
}
