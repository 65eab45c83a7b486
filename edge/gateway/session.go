package gateway

import (
	"sync"
	"time"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/model"
)

// replayCap is how many dispatches a session keeps for RESUME. A client
// that missed more must start a new session.
const replayCap = 1024

// session is a gateway session: it outlives its connection for a while so
// a client can RESUME it on a new connection.
type session struct {
	id             string
	user           *model.User
	intents        int
	explicit       bool // the client sent intents (bots must)
	shard          [2]int
	largeThreshold int
	version        int       // gateway version the session was identified on
	token          []byte    // digest of the token that opened it; only it resumes
	tokenAt        time.Time // when that token was created (a password change voids older ones)
	reg            *regional // the region's bookkeeping; nil outside a region

	mu       sync.Mutex
	seq      int64
	replay   []*frame // ring, oldest at replayHead once full
	head     int
	conn     *conn     // nil while disconnected
	detached time.Time // when conn went away
	guilds   []ID      // the guilds it follows (subs.go)
	// voiceHost is, per guild the user is in voice in through this
	// session, the host/channel of the voice server it was last sent.
	voiceHost map[ID]string
	// ready is false until READY and the initial GUILD_CREATEs are
	// sequenced; events published meanwhile wait in pending so that
	// READY is always s=1 and no guild event precedes its GUILD_CREATE.
	ready   bool
	pending []*shared
	// dead: removed from the server (expired or invalidated); it can no
	// longer be resumed.
	dead bool

	// Region resume state (region.go): once anchored, every dispatch
	// after baseSeq is counted into runs; runs[unsent:] are not yet
	// replicated (unsent -1: all are).
	anchored bool
	recorded bool // the record is replicated; runs may follow
	baseSeq  int64
	runs     []engine.Run
	unsent   int
}

func (s *session) has(intent int) bool { return s.intents&intent != 0 }

// dispatch sequences a shared payload for this session, records it for
// replay and queues it to the live connection, if any.
func (s *session) dispatch(p *shared) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready {
		s.pending = append(s.pending, p)
		return
	}
	s.dispatchLocked(p)
}

// dispatchLocked sequences and queues p; s.mu must be held. Queueing under
// the session lock keeps frames in sequence order on the connection even
// when two goroutines (two guilds' publishers) dispatch at once; pushing
// after unlocking could queue s=6 before s=5.
func (s *session) dispatchLocked(p *shared) {
	s.track(p)
	s.seq++
	f := &frame{op: OpDispatch, seq: s.seq, p: p}
	// READY is never replayed: a client that did not get it has no
	// session to resume. Keeping it until the first heartbeat would
	// hold a kilobyte or more per connection through a connect storm.
	switch {
	case p.t == "READY":
	case p.rerender != nil:
		s.replay = appendReplay(s, &frame{op: OpDispatch, seq: s.seq,
			p: &shared{t: p.t, shard: p.shard, idx: p.idx, rerender: p.rerender}})
	default:
		s.replay = appendReplay(s, f)
	}
	if s.conn != nil {
		s.conn.push(f)
	}
}

// start sequences READY, the initial GUILD_CREATEs and whatever was
// published to the session while they were built, then lets dispatches
// through.
func (s *session) start(first []*shared) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range first {
		s.dispatchLocked(p)
	}
	// What follows READY and the initial GUILD_CREATEs comes from the
	// shard logs, from the anchor on.
	if s.reg != nil {
		s.anchorAt()
	}
	for _, p := range s.pending {
		s.dispatchLocked(p)
	}
	s.pending, s.ready = nil, true
}

// missedSince returns the frames after seq in order, or false when seq is
// not resumable (ahead of the session, or older than the replay buffer).
func (s *session) missedSince(seq int64) ([]*frame, bool) {
	if seq > s.seq || seq < 0 {
		return nil, false
	}
	n := len(s.replay)
	oldest := s.seq - int64(n) + 1 // seq of the oldest kept frame
	if seq+1 < oldest {
		return nil, false
	}
	out := make([]*frame, 0, s.seq-seq)
	for i := 0; i < n; i++ {
		f := s.replay[(s.head+i)%n]
		if f.seq > seq {
			out = append(out, f)
		}
	}
	return out, true
}

// ackReplay drops the replayed frames up to seq, which the client on c
// says (in a heartbeat) it has received: a RESUME, which carries the
// same last-received seq, never asks for them again. A RESUME from before
// seq then gets op 9, as one older than the ring does. Without this
// every idle session would hold READY and GUILD_CREATE (about 3 KiB) for
// as long as it lives. A heartbeat from a connection that no longer holds
// the session acknowledges nothing.
func (s *session) ackReplay(c *conn, seq int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != c {
		return
	}
	n := len(s.replay)
	drop := min(seq, s.seq) - (s.seq - int64(n)) // the kept frames are s.seq-n+1 … s.seq
	switch {
	case drop <= 0:
		return
	case drop >= int64(n):
		s.replay, s.head = nil, 0 // an idle session holds no frames
		return
	}
	kept := make([]*frame, n-int(drop))
	for i := range kept {
		kept[i] = s.replay[(s.head+int(drop)+i)%n]
	}
	s.replay, s.head = kept, 0
}

// inShard reports whether a guild belongs to the session's shard.
func (s *session) inShard(guildID ID) bool {
	if s.shard[1] <= 1 {
		return true
	}
	return int((uint64(guildID)>>22)%uint64(s.shard[1])) == s.shard[0]
}
