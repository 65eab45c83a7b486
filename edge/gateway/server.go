package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/edge/auth"
	"github.com/accord-chat/accord/edge/discord"
)

// MessageRenderer renders MESSAGE_CREATE/UPDATE payloads in the REST
// shape (the rest package implements it).
type MessageRenderer interface {
	RenderMessageEvent(ctx context.Context, viewer ID, ev *engine.MessageEvent) *discord.Message
}

// Config configures the gateway.
type Config struct {
	Engine   *engine.Engine
	Verifier *auth.Verifier
	Renderer MessageRenderer
	Logger   *slog.Logger
	// URL is this gateway's public URL, sent as resume_gateway_url.
	URL string
	// HeartbeatInterval is sent in HELLO (Discord: 41.25 s).
	HeartbeatInterval time.Duration
	// ResumeWindow is how long a disconnected session can be resumed.
	ResumeWindow time.Duration
	// EventLimit client payloads per EventWindow (Discord: 120 per 60 s).
	EventLimit  int
	EventWindow time.Duration
	Registerer  prometheus.Registerer
	// NodeName names this node in replicated session records (its Raft
	// ID); sessions held elsewhere are resumed from those records.
	NodeName string
	// GoroutineReaders gives every connection a goroutine blocked in a
	// read, as off Linux, instead of the epoll poller that reads only
	// when bytes arrive (about 9 KiB more per idle connection).
	GoroutineReaders bool
	// Voice, when set, names the voice server of a session that joined
	// a voice channel (VOICE_SERVER_UPDATE); without it op 4 only
	// records voice states.
	Voice VoiceServers
	// VoiceEndpoint is this node's voice endpoint, announced to the
	// region with the node's heartbeats so other nodes can send clients
	// to the channels it hosts.
	VoiceEndpoint string
}

// VoiceServers hands out voice servers. VoiceServer is called from a
// guild's publishing goroutine, possibly several at once, and must not
// block: it returns the token the session identifies with at the voice
// gateway of host (a node name) and that gateway's endpoint
// (host[:port], to which clients add wss:// and ?v=8).
type VoiceServers interface {
	VoiceServer(guildID, userID ID, sessionID, host string) (token, endpoint string, err error)
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = 41250 * time.Millisecond
	}
	if c.ResumeWindow == 0 {
		c.ResumeWindow = 3 * time.Minute
	}
	if c.EventLimit == 0 {
		c.EventLimit = 120
	}
	if c.EventWindow == 0 {
		c.EventWindow = time.Minute
	}
}

// Server is the gateway. It implements engine.Publisher.
type Server struct {
	cfg      Config
	eng      *engine.Engine
	log      *slog.Logger
	upgrader websocket.Upgrader
	metrics  *metrics
	presence presenceView
	voice    voiceView

	mu       sync.RWMutex
	sessions map[string]*session
	byUser   map[ID][]*session // a slice: a user has one or two sessions
	subs     map[ID]*guildSubs // guild → subscribed sessions
	// conns holds every open connection, identified or not, so that
	// shutdown can close them all; readersWG counts them until their end
	// has been handled.
	conns      map[*conn]struct{}
	closing    bool
	readersWG  sync.WaitGroup
	poll       *poller // started by the first connection
	pollFailed bool
	writers    *writers // started by the first connection

	region *regional      // nil unless the engine is a region replica
	bgWG   sync.WaitGroup // background replication of session state
	// inflight counts replications of session state under way.
	inflight atomic.Int64
}

// New builds the gateway; attach it to the engine with
// engine.SetPublisher(srv) and serve Handler at /gateway.
func New(cfg Config) *Server {
	cfg.defaults()
	s := &Server{
		cfg: cfg, eng: cfg.Engine, log: cfg.Logger, metrics: newMetrics(cfg.Registerer),
		sessions: map[string]*session{}, byUser: map[ID][]*session{}, subs: map[ID]*guildSubs{},
		conns: map[*conn]struct{}{},
	}
	s.presence = presenceView{eng: s.eng}
	s.voice = voiceView{eng: s.eng}
	s.region = newRegional(s.eng.Shards())
	s.eng.SetSessionHook(s.sessionMoved)
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "accord", Subsystem: "gateway", Name: "resume_state_pending",
			Help: "Sessions of this node whose resume state (record or runs) is not yet committed in the region; 0 means a resume on any node sees everything sent so far.",
		}, func() float64 { return float64(s.resumePending()) }))
	}
	readBuf := 512
	if canPoll && !cfg.GoroutineReaders {
		// Gorilla reads only for connections the poller cannot take
		// (TLS); it rounds this up to its minimum, 125 bytes.
		readBuf = 1
	}
	s.upgrader = websocket.Upgrader{
		// Small read buffers keep an idle connection cheap; client
		// payloads are at most 4 KiB anyway. Gorilla writes nothing
		// after the handshake (conn.go); with a pool it holds no write
		// buffer meanwhile.
		ReadBufferSize:  readBuf,
		WriteBufferSize: 4096,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     func(*http.Request) bool { return true },
	}
	return s
}

// Run expires detached sessions until ctx ends, then closes every
// connection and waits for their goroutines.
func (s *Server) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.ResumeWindow / 6)
	defer t.Stop()
	var runs, beats <-chan time.Time
	if s.region != nil {
		rt := time.NewTicker(runFlush)
		defer rt.Stop()
		runs = rt.C
		bt := time.NewTicker(nodeBeat)
		defer bt.Stop()
		beats = bt.C
		s.beat(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			s.shutdown()
			s.bgWG.Wait()
			return nil
		case now := <-t.C:
			s.expire(now)
			if s.region != nil {
				// Records whose holder died and nobody resumed.
				s.eng.SweepSessions(ctx, 2*s.cfg.ResumeWindow)
			}
		case <-runs:
			s.flushRuns()
		case <-beats:
			s.beat(ctx)
		}
	}
}

func (s *Server) shutdown() {
	s.mu.Lock()
	s.closing = true
	// Every connection, not only those with a session: one that has not
	// identified yet would otherwise keep its reader (and Run) waiting
	// for its heartbeat deadline.
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		// 1001 "going away": clients reconnect (and resume elsewhere).
		c.closeNow(websocket.CloseGoingAway, "server shutting down")
	}
	s.readersWG.Wait()
	s.mu.Lock()
	p, ws := s.poll, s.writers
	s.poll = nil // the writers stay, stopped: a latecomer's writes go to flush
	s.mu.Unlock()
	if p != nil {
		p.close()
	}
	if ws != nil {
		ws.stop()
	}
}

// writer assigns a new connection to a writer, starting the writers on
// first use.
func (s *Server) writer() *writerShard {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writers == nil {
		s.writers = startWriters()
	}
	return s.writers.pick()
}

// expire drops sessions detached for longer than the resume window.
func (s *Server) expire(now time.Time) {
	var dead []*session
	s.mu.RLock()
	for _, sess := range s.sessions {
		sess.mu.Lock()
		if sess.conn == nil && now.Sub(sess.detached) > s.cfg.ResumeWindow {
			dead = append(dead, sess)
		}
		sess.mu.Unlock()
	}
	s.mu.RUnlock()
	for _, sess := range dead {
		// Re-check under the lock: a RESUME may have reattached it since.
		sess.mu.Lock()
		expired := sess.conn == nil && now.Sub(sess.detached) > s.cfg.ResumeWindow
		if expired {
			sess.dead = true
		}
		sess.mu.Unlock()
		if expired {
			s.endSession(sess)
		}
	}
	if s.region != nil {
		s.region.forgetEnded(now.Add(-s.cfg.ResumeWindow))
	}
}

// endSession removes a session its client ended (closed with 1000/1001)
// or that expired, and closes its replicated record. Until that close is
// applied the record still looks resumable: the region remembers the ID
// meanwhile, so a RESUME here cannot bring it back through resumeRemote.
func (s *Server) endSession(sess *session) {
	if s.region != nil {
		s.region.markEnded(sess.id, time.Now())
	}
	s.removeSession(sess)
	s.replicate(engine.SessionUpdate{Close: []string{sess.id}})
}

// Handler upgrades /gateway requests. Query: v (9 or 10), encoding (json),
// compress (zlib-stream, zstd-stream).
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		version := 10
		if v := q.Get("v"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				n = -1
			}
			version = n
		}
		zmode := q.Get("compress")
		if zmode != "" && zmode != "zlib-stream" && zmode != "zstd-stream" {
			http.Error(w, "unsupported compress", http.StatusBadRequest)
			return
		}
		ws, err := s.upgrader.Upgrade(w, r, nil)
		if err != nil {
			return // Upgrade wrote the HTTP error
		}
		c := newConn(ws, s, zmode)
		c.version = version
		if enc := q.Get("encoding"); enc != "" && enc != "json" {
			// ETF (or anything else) is not spoken here. The client
			// could not parse a JSON HELLO, so it gets only the close;
			// 4012 is a code clients do not retry, unlike 4002.
			s.metrics.closes.WithLabelValues(strconv.Itoa(CloseInvalidAPIVersion)).Inc()
			c.closeNow(CloseInvalidAPIVersion, "Accord supports only encoding=json.")
			return
		}
		if version != 9 && version != 10 {
			s.metrics.closes.WithLabelValues(strconv.Itoa(CloseInvalidAPIVersion)).Inc()
			c.push(s.hello())
			c.close(CloseInvalidAPIVersion)
			return
		}
		// Register under the lock that shutdown takes, so a connection
		// is either refused here or closed by shutdown, and readersWG.Add
		// never races with readersWG.Wait.
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			c.closeNow(websocket.CloseGoingAway, "server shutting down")
			return
		}
		s.conns[c] = struct{}{}
		s.readersWG.Add(1)
		s.mu.Unlock()
		s.metrics.connections.Inc()
		c.push(s.hello())
		if s.watch(c) {
			return
		}
		// The HTTP handler's goroutine has a grown stack from request
		// parsing; reading on a fresh goroutine lets it go.
		go func() {
			defer s.connDone(c)
			s.readLoop(c)
		}()
	})
}

// connDone forgets a connection whose end has been handled.
func (s *Server) connDone(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.metrics.connections.Dec()
	s.readersWG.Done()
}

func (s *Server) hello() *frame {
	b := []byte(`{"heartbeat_interval":` + strconv.FormatInt(s.cfg.HeartbeatInterval.Milliseconds(), 10) + `}`)
	return opFrame(OpHello, b)
}

func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// addSession registers a new session and subscribes it to its guilds.
func (s *Server) addSession(sess *session, guildIDs []ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[sess.id] = sess
	if us := s.byUser[sess.user.ID]; !slices.Contains(us, sess) {
		s.byUser[sess.user.ID] = append(us, sess)
	}
	for _, g := range guildIDs {
		s.subscribeLocked(sess, g)
	}
}

func (s *Server) removeSession(sess *session) {
	s.mu.Lock()
	sess.mu.Lock()
	sess.dead = true
	sess.mu.Unlock()
	delete(s.sessions, sess.id)
	if us := slices.DeleteFunc(s.byUser[sess.user.ID], func(o *session) bool { return o == sess }); len(us) == 0 {
		delete(s.byUser, sess.user.ID)
	} else {
		s.byUser[sess.user.ID] = us
	}
	sess.mu.Lock()
	guilds := append([]ID(nil), sess.guilds...)
	sess.mu.Unlock()
	for _, g := range guilds {
		s.unsubscribeLocked(sess, g)
	}
	s.mu.Unlock()
	s.leaveVoiceSession(sess.user.ID, sess.id)
}

// session looks a session up by ID.
func (s *Server) session(id string) *session {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.sessions[id]
}

// userSessions snapshots a user's sessions.
func (s *Server) userSessions(userID ID) []*session {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.byUser[userID])
}

// online reports whether the user has a connected session.
func (s *Server) online(userID ID) bool {
	for _, sess := range s.userSessions(userID) {
		sess.mu.Lock()
		live := sess.conn != nil
		sess.mu.Unlock()
		if live {
			return true
		}
	}
	return false
}

// Sessions is the number of sessions (connected or resumable).
func (s *Server) Sessions() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.sessions)
}

// Node liveness: every node says it is alive every nodeBeat; presence and
// voice states of a node silent for nodeDeadAfter are dropped (it died
// with its connections).
const (
	nodeBeat      = 5 * time.Second
	nodeDeadAfter = 20 * time.Second
)

func (s *Server) beat(ctx context.Context) {
	s.bgWG.Add(1)
	go func() {
		defer s.bgWG.Done()
		bctx, cancel := context.WithTimeout(ctx, nodeBeat)
		defer cancel()
		if err := s.eng.NodeAlive(bctx, s.nodeName(), s.cfg.VoiceEndpoint); err != nil && ctx.Err() == nil {
			s.log.Warn("node heartbeat", "err", err)
		}
		s.eng.SweepNodes(bctx, nodeDeadAfter)
	}()
}
