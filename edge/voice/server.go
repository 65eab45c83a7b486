package voice

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/edge/sfu"
	"github.com/accord-chat/accord/edge/sfu/discordudp"
	"github.com/accord-chat/accord/edge/sfu/webrtcpeer"
)

// ID is a snowflake.
type ID = engine.ID

// Config configures a node's voice gateway.
type Config struct {
	Engine    *engine.Engine
	Transport *webrtcpeer.Transport
	// Native, when set, serves Discord's native UDP voice (bots) on the
	// same socket as Transport.
	Native *discordudp.Mux
	// MediaIP is the address Ready gives clients for media; empty: the
	// socket's own (fine unless it is bound to all interfaces or behind
	// NAT).
	MediaIP string
	// Key is the region's shared secret the token key is derived from.
	Key []byte
	// NodeName is this node's name in voice states' Host.
	NodeName string
	// Endpoint is this node's voice endpoint as clients are given it:
	// host[:port]/voice (clients add the scheme and ?v=8).
	Endpoint string
	// Peers gives the endpoint of another node of the region (the one
	// its heartbeats announced).
	Peers func(node string) (endpoint string, ok bool)
	// ICEServers gives the STUN/TURN servers (TURN credentials are made
	// per user) handed to a client in Ready; nil: none.
	ICEServers func(userID ID) []ICEServer
	// HeartbeatInterval is sent in Hello (Discord: 13.75 s).
	HeartbeatInterval time.Duration
	// ResumeWindow is how long a session whose socket dropped can be
	// resumed; its media keeps flowing meanwhile.
	ResumeWindow time.Duration
	// TokenTTL bounds how long after VOICE_SERVER_UPDATE a token
	// identifies.
	TokenTTL   time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

func (c *Config) defaults() {
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 13750 * time.Millisecond
	}
	if c.ResumeWindow == 0 {
		c.ResumeWindow = 30 * time.Second
	}
	if c.TokenTTL == 0 {
		c.TokenTTL = 2 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Peers == nil {
		c.Peers = func(string) (string, bool) { return "", false }
	}
}

// Server is a node's voice gateway and the rooms it hosts.
type Server struct {
	cfg    Config
	log    *slog.Logger
	tokens *Tokens
	up     websocket.Upgrader

	meter sfu.Meter // what this node's rooms forward

	mu       sync.Mutex
	sessions map[string]*session // by gateway session ID
	rooms    map[ID]*sfu.Room    // by channel
	guilds   map[ID]int          // sessions per guild
	conns    map[*wsConn]bool
	nextSSRC uint32
	closed   bool

	dirtyMu sync.Mutex
	dirty   map[ID]bool
	wake    chan struct{}

	bg     context.Context // ends at Close: background engine writes
	stopBg context.CancelFunc
	wg     sync.WaitGroup
}

// New makes the voice gateway; Run drives it.
func New(cfg Config) (*Server, error) {
	cfg.defaults()
	if cfg.Engine == nil || cfg.Transport == nil || len(cfg.Key) == 0 {
		return nil, errors.New("voice: engine, transport and key are required")
	}
	bg, stop := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, log: cfg.Logger, tokens: NewTokens(cfg.Key, cfg.TokenTTL, nil),
		up:       websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }},
		sessions: map[string]*session{}, rooms: map[ID]*sfu.Room{}, guilds: map[ID]int{}, conns: map[*wsConn]bool{},
		nextSSRC: 1000, dirty: map[ID]bool{}, wake: make(chan struct{}, 1), bg: bg, stopBg: stop}
	if cfg.Registerer != nil {
		s.register(cfg.Registerer)
	}
	return s, nil
}

func (s *Server) register(reg prometheus.Registerer) {
	gauge := func(name, help string, fn func() float64) {
		_ = reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
	}
	gauge("accord_voice_sessions", "Voice gateway sessions on this node.", func() float64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return float64(len(s.sessions))
	})
	gauge("accord_voice_rooms", "Voice channels hosted on this node.", func() float64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return float64(len(s.rooms))
	})
	gauge("accord_voice_participants", "Participants in the voice channels this node hosts (with media started).", func() float64 {
		n := 0
		for _, r := range s.roomList() {
			n += len(r.Participants())
		}
		return float64(n)
	})
	gauge("accord_voice_tracks", "Incoming media tracks (microphone, camera, screen) of those participants.", func() float64 {
		n := 0
		for _, r := range s.roomList() {
			for _, p := range r.Participants() {
				n += len(p.Tracks())
			}
		}
		return float64(n)
	})
	counter := func(name, help string, v *atomic.Uint64) {
		_ = reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) }))
	}
	counter("accord_voice_packets_in_total", "RTP packets the SFU received from senders, all transports.", &s.meter.PacketsIn)
	counter("accord_voice_bytes_in_total", "RTP payload bytes the SFU received (rate() is the bitrate in).", &s.meter.BytesIn)
	counter("accord_voice_packets_out_total", "RTP packets the SFU forwarded to receivers.", &s.meter.PacketsOut)
	counter("accord_voice_bytes_out_total", "RTP payload bytes the SFU forwarded (rate() is the bitrate out).", &s.meter.BytesOut)
	counter("accord_voice_packets_withheld_total", "Packets held back from receivers: server mute, no SPEAK, deafen.", &s.meter.Withheld)
	counter("accord_voice_keyframes_requested_total", "Key frame requests passed on to video senders.", &s.meter.KeyFrames)
}

// Tokens exposes the token issuer (tests forge and expire tokens).
func (s *Server) Tokens() *Tokens { return s.tokens }

// Endpoint is this node's voice endpoint (host[:port]/voice).
func (s *Server) Endpoint() string { return s.cfg.Endpoint }

// VoiceServer implements gateway.VoiceServers: a fresh token for the
// session and the endpoint of the node that hosts the channel.
func (s *Server) VoiceServer(guildID, userID ID, sessionID, host string) (string, string, error) {
	endpoint := s.cfg.Endpoint
	if host != s.cfg.NodeName {
		var ok bool
		if endpoint, ok = s.cfg.Peers(host); !ok {
			return "", "", errors.New("voice: no endpoint known for node " + host)
		}
	}
	return s.tokens.Issue(uint64(guildID), uint64(userID), sessionID, host), endpoint, nil
}

// Publish (part of the node's engine publisher) notes the guilds whose
// events may change what this node's voice sessions may do; Run's
// goroutine looks at them. It never blocks the engine.
func (s *Server) Publish(evs []engine.Event) {
	s.mu.Lock()
	n := len(s.guilds)
	s.mu.Unlock()
	if n == 0 {
		return
	}
	marked := false
	s.dirtyMu.Lock()
	for i := range evs {
		if g := evs[i].GuildID; g != 0 {
			s.dirty[g] = true
			marked = true
		}
	}
	s.dirtyMu.Unlock()
	if marked {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Run reconciles sessions with the engine, reports speaking, and ends
// sessions whose resume window passed, until ctx ends; then it closes
// every session and waits for their goroutines.
func (s *Server) Run(ctx context.Context) error {
	speak := time.NewTicker(100 * time.Millisecond)
	defer speak.Stop()
	sweep := time.NewTicker(time.Second)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			s.shutdown()
			return nil
		case <-s.wake:
			s.dirtyMu.Lock()
			gids := s.dirty
			s.dirty = map[ID]bool{}
			s.dirtyMu.Unlock()
			for gid := range gids {
				for _, sess := range s.guildSessions(gid) {
					s.reconcile(sess)
				}
			}
		case now := <-speak.C:
			s.reportSpeaking(now)
		case now := <-sweep.C:
			s.sweepDetached(now)
		}
	}
}

func (s *Server) shutdown() {
	s.mu.Lock()
	s.closed = true
	var all []*session
	for _, sess := range s.sessions {
		all = append(all, sess)
	}
	conns := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, sess := range all {
		// The node is going away, not the call: the client may resume
		// elsewhere (Discord's "voice server crashed").
		s.endSession(sess, CloseServerCrashed, "voice server stopping")
	}
	for _, c := range conns {
		c.close(CloseServerCrashed, "voice server stopping")
	}
	s.stopBg()
	s.wg.Wait()
}

func (s *Server) guildSessions(gid ID) []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*session
	for _, sess := range s.sessions {
		if sess.guild == gid {
			out = append(out, sess)
		}
	}
	return out
}

// roomSessions lists the other sessions in a session's room.
func (s *Server) roomSessions(channel ID, except *session) []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*session
	for _, sess := range s.sessions {
		if sess.channel == channel && sess != except && sess.joined() {
			out = append(out, sess)
		}
	}
	return out
}

// access is what the engine says a user may do in a voice channel.
type access struct {
	connect, mute, deaf bool
}

// accessOf reads the user's voice state, member flags and permissions;
// ok is false when the state no longer belongs to the session here.
func (s *Server) accessOf(sess *session) (a access, ok bool) {
	err := s.cfg.Engine.View(sess.guild, func(st *engine.State) error {
		vs := st.Voice[sess.user]
		if vs == nil || vs.SessionID != sess.id || vs.ChannelID != sess.channel || vs.Host != s.cfg.NodeName {
			return errGone
		}
		c, m := st.Channels[sess.channel], st.Members[sess.user]
		if c == nil || m == nil {
			return errGone
		}
		have := st.ChannelPerms(sess.user, c)
		a.connect = have&(perm.ViewChannel|perm.Connect) == perm.ViewChannel|perm.Connect
		a.mute = m.Mute || have&perm.Speak == 0
		a.deaf = m.Deaf || vs.SelfDeaf
		return nil
	})
	return a, err == nil
}

var errGone = errors.New("voice state gone")

// reconcile applies the engine's view to a session: flags in the SFU,
// or the end of the session when its voice state left, moved or went to
// another host.
func (s *Server) reconcile(sess *session) {
	a, ok := s.accessOf(sess)
	if !ok {
		s.endSession(sess, CloseDisconnected, "disconnected from the channel")
		return
	}
	sess.setAccess(a)
}

// roomList copies the rooms.
func (s *Server) roomList() []*sfu.Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*sfu.Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		out = append(out, r)
	}
	return out
}

func (s *Server) reportSpeaking(now time.Time) {
	s.mu.Lock()
	rooms := make(map[ID]*sfu.Room, len(s.rooms))
	for ch, r := range s.rooms {
		rooms[ch] = r
	}
	s.mu.Unlock()
	for ch, r := range rooms {
		for _, c := range r.Speaking(now) {
			sess := s.sessionOf(ch, c.Participant)
			if sess == nil || sess.explicitSpeaking.Load() {
				continue
			}
			flag := int32(0)
			if c.Speaking {
				flag = 1 // microphone
			}
			sess.speakingNow.Store(flag)
			s.broadcast(sess, OpSpeaking, sess.speakingEvent())
		}
	}
}

func (s *Server) sessionOf(channel ID, p *sfu.Participant) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessions {
		if sess.channel == channel && sess.participant() == p {
			return sess
		}
	}
	return nil
}

// broadcast sends a sequenced message to everyone else in from's room.
func (s *Server) broadcast(from *session, op int, d any) {
	for _, other := range s.roomSessions(from.channel, from) {
		other.send(op, d)
	}
}

func (s *Server) sweepDetached(now time.Time) {
	s.mu.Lock()
	var old []*session
	for _, sess := range s.sessions {
		if at := sess.detachedSince(); !at.IsZero() && now.Sub(at) > s.cfg.ResumeWindow {
			old = append(old, sess)
		}
	}
	s.mu.Unlock()
	for _, sess := range old {
		s.endSession(sess, CloseSessionTimeout, "not resumed in time")
	}
}

// room returns the channel's room, making it.
func (s *Server) room(channel ID) *sfu.Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[channel]
	if r == nil {
		r = sfu.NewRoom(&s.meter)
		s.rooms[channel] = r
	}
	return r
}

func (s *Server) allocSSRC() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextSSRC++
	return s.nextSSRC
}

// mediaAddr is where Ready says media goes (the UDP mux).
func (s *Server) mediaAddr() (string, int) {
	if a, ok := s.cfg.Transport.Addr().(*net.UDPAddr); ok {
		if s.cfg.MediaIP != "" {
			return s.cfg.MediaIP, a.Port
		}
		return a.IP.String(), a.Port
	}
	return "", 0
}

// Handler serves the voice gateway WebSocket.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveWS) }
