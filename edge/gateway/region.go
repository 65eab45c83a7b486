package gateway

import (
	"bytes"
	"context"
	"sync"
	"time"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/model"
)

// Resume anywhere in a region.
//
// Every node applies every shard's log and publishes the same events at
// the same (shard, index) positions. A session's stream is therefore
// determined, on any node, by where it started in each shard (its anchor)
// and by how its holder interleaved the shards (runs of dispatches from
// one shard). The holder replicates those through the engine's session
// records: the anchor when the session starts, a run when the stream
// switches shard. Nothing is replicated per event. A node asked to resume
// a session it does not hold rebuilds the stream from its recent log
// (regionLog), numbers it the way the holder did, and sends what the
// client missed.
//
// What a replica cannot rebuild exactly: the holder's last run is open (a
// switch it made just before dying may not be replicated); if frames of
// another shard follow and the client had already seen part of the open
// run, the interleaving is unknown and the session is invalidated
// (INVALID_SESSION false: the client identifies again and gets fresh
// state). Frames that come from no log (presence and voice updates, member
// chunks) count as runs of shard -1; a client that missed them does not
// get them again. Visibility is checked against the state at resume time.

// regionLogCap is how many recent entries of each shard a node keeps for
// rebuilding sessions: a session whose anchor is older cannot resume here.
const regionLogCap = 4096

// runFlush is how often a holder replicates its sessions' new runs.
const runFlush = 100 * time.Millisecond

type loggedEntry struct {
	index  uint64
	events []engine.Event
}

// shardLog is one shard's recent published entries and the lock that
// orders publication against session anchoring.
type shardLog struct {
	mu      sync.Mutex
	last    uint64
	entries []loggedEntry // ring, oldest at head once full
	head    int
}

func (l *shardLog) add(idx uint64, evs []engine.Event) {
	l.last = idx
	e := loggedEntry{index: idx, events: evs}
	if len(l.entries) < regionLogCap {
		l.entries = append(l.entries, e)
		return
	}
	l.entries[l.head] = e
	l.head = (l.head + 1) % regionLogCap
}

// since returns the entries after idx, oldest first, or false when the log
// no longer reaches back that far.
func (l *shardLog) since(idx uint64) ([]loggedEntry, bool) {
	n := len(l.entries)
	if n == 0 {
		return nil, idx >= l.last
	}
	oldest := l.entries[l.head%n]
	if n == regionLogCap && idx+1 < oldest.index {
		return nil, false
	}
	var out []loggedEntry
	for i := 0; i < n; i++ {
		e := l.entries[(l.head+i)%n]
		if e.index > idx {
			out = append(out, e)
		}
	}
	return out, true
}

// regional is the gateway's region state; nil logs when the engine is not
// replicated.
type regional struct {
	logs []*shardLog

	// dirty holds the sessions with runs not yet replicated, so that the
	// periodic flush looks at those, not at every session of the node.
	dmu   sync.Mutex
	dirty map[*session]struct{}

	// ended holds sessions ended on this node, for one resume window.
	emu   sync.Mutex
	ended map[string]time.Time
}

func (r *regional) markEnded(id string, at time.Time) {
	r.emu.Lock()
	r.ended[id] = at
	r.emu.Unlock()
}

func (r *regional) isEnded(id string) bool {
	r.emu.Lock()
	defer r.emu.Unlock()
	_, ok := r.ended[id]
	return ok
}

// forgetEnded drops what ended before cutoff: its record is closed by now.
func (r *regional) forgetEnded(cutoff time.Time) {
	r.emu.Lock()
	defer r.emu.Unlock()
	for id, at := range r.ended {
		if at.Before(cutoff) {
			delete(r.ended, id)
		}
	}
}

// markDirty queues sess for the next flushRuns.
func (r *regional) markDirty(sess *session) {
	r.dmu.Lock()
	r.dirty[sess] = struct{}{}
	r.dmu.Unlock()
}

func newRegional(shards int) *regional {
	r := &regional{dirty: map[*session]struct{}{}, ended: map[string]time.Time{}}
	for i := 0; i < shards; i++ {
		r.logs = append(r.logs, &shardLog{})
	}
	return r
}

// lockAll stops publication on every shard and returns each shard's last
// published index.
func (r *regional) lockAll() []uint64 {
	anchor := make([]uint64, len(r.logs))
	for i, l := range r.logs {
		l.mu.Lock()
		anchor[i] = l.last
	}
	return anchor
}

func (r *regional) unlockAll() {
	for _, l := range r.logs {
		l.mu.Unlock()
	}
}

// publishLogged publishes a batch of events of one shard entry under the
// shard's lock, logging it for rebuilds.
func (s *Server) publishLogged(evs []engine.Event) {
	l := s.region.logs[evs[0].Shard]
	l.mu.Lock()
	defer l.mu.Unlock()
	// One Publish call carries one entry's events (ApplyCommitted
	// publishes per entry), all at one index.
	l.add(evs[0].Index, evs)
	for i := range evs {
		s.publishOne(&evs[i], nil)
	}
}

// track records a dispatch in the session's runs; sess.mu is held.
func (sess *session) track(p *shared) {
	if !sess.anchored {
		return
	}
	sh := -1
	if p.idx != 0 {
		sh = p.shard
	}
	n := len(sess.runs)
	if n > 0 && sess.runs[n-1].Shard == sh {
		sess.runs[n-1].N++
		return
	}
	sess.runs = append(sess.runs, engine.Run{I: n, Shard: sh, N: 1})
	// The run before this one is now closed; its length must reach the
	// replicas, and so must the start of this one.
	if sess.unsent < 0 || sess.unsent > max(n-1, 0) {
		if sess.unsent < 0 {
			sess.reg.markDirty(sess)
		}
		sess.unsent = max(n-1, 0)
	}
}

// resumePending counts the sessions whose replicated resume state lags
// what they were sent: records not committed yet, runs not flushed yet,
// and replications under way.
func (s *Server) resumePending() int {
	if s.region == nil {
		return 0
	}
	n := int(s.inflight.Load())
	s.region.dmu.Lock()
	n += len(s.region.dirty)
	s.region.dmu.Unlock()
	s.mu.Lock()
	sessions := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()
	for _, sess := range sessions {
		sess.mu.Lock()
		if !sess.dead && !sess.recorded {
			n++
		}
		sess.mu.Unlock()
	}
	return n
}

// replicateOpen replicates the session's record; its runs follow (see
// flushRuns) only once the record is committed, so they never arrive at
// a replica before it.
func (s *Server) replicateOpen(sess *session, anchor []uint64) {
	sess.mu.Lock()
	r := s.record(sess, anchor)
	sess.mu.Unlock()
	s.bgWG.Add(1)
	go func() {
		defer s.bgWG.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.eng.ReplicateSessions(ctx, engine.SessionUpdate{Open: []engine.SessionRecord{r}}); err != nil {
			s.log.Warn("replicate session", "session", sess.id, "err", err)
			return
		}
		sess.mu.Lock()
		sess.recorded = true
		sess.mu.Unlock()
	}()
}

// record builds the session's replicated record with the runs so far;
// sess.mu is held.
func (s *Server) record(sess *session, anchor []uint64) engine.SessionRecord {
	guilds := append([]ID(nil), sess.guilds...)
	rec := engine.SessionRecord{
		ID: sess.id, UserID: sess.user.ID, Intents: sess.intents, Explicit: sess.explicit, Shard: sess.shard,
		LargeThreshold: sess.largeThreshold, Version: sess.version, Node: s.cfg.NodeName, TokenDigest: sess.token, TokenAt: sess.tokenAt,
		Guilds: guilds, BaseSeq: sess.baseSeq, Anchor: anchor,
		Runs: append([]engine.Run(nil), sess.runs...),
	}
	sess.unsent = -1
	sess.recorded = false
	return rec
}

// anchorAt (re)starts the session's run tracking at its current
// sequence; sess.mu is held.
func (sess *session) anchorAt() {
	sess.anchored, sess.runs, sess.unsent, sess.baseSeq = true, nil, -1, sess.seq
}

// replicate sends a session record, in the background.
func (s *Server) replicate(u engine.SessionUpdate) {
	if s.region == nil {
		return
	}
	s.bgWG.Add(1)
	s.inflight.Add(1)
	go func() {
		defer s.bgWG.Done()
		defer s.inflight.Add(-1)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.eng.ReplicateSessions(ctx, u); err != nil {
			s.log.Warn("replicate session state", "err", err)
		}
	}()
}

// flushRuns replicates the runs sessions closed or opened since the last
// flush: one proposal for all of this node's sessions.
func (s *Server) flushRuns() {
	u := engine.SessionUpdate{Runs: map[string][]engine.Run{}}
	r := s.region
	r.dmu.Lock()
	dirty := make([]*session, 0, len(r.dirty))
	for sess := range r.dirty {
		dirty = append(dirty, sess)
	}
	clear(r.dirty)
	r.dmu.Unlock()
	for _, sess := range dirty {
		sess.mu.Lock()
		switch {
		case sess.dead || sess.unsent < 0 || sess.unsent >= len(sess.runs):
			// Gone, or flushed meanwhile with its record.
		case !sess.recorded:
			// Its record is not committed yet: the runs wait for it.
			r.markDirty(sess)
		default:
			u.Runs[sess.id] = append([]engine.Run(nil), sess.runs[sess.unsent:]...)
			sess.unsent = -1
		}
		sess.mu.Unlock()
	}
	if len(u.Runs) > 0 {
		s.replicate(u)
	}
}

// sessionMoved drops this node's copy of a session another node resumed.
func (s *Server) sessionMoved(rec *engine.SessionRecord) {
	if rec.Node == s.cfg.NodeName {
		return
	}
	sess := s.session(rec.ID)
	if sess == nil {
		return
	}
	sess.mu.Lock()
	c := sess.conn
	sess.dead = true
	sess.mu.Unlock()
	s.removeSession(sess)
	if c != nil {
		// Not on the caller's goroutine: it applies the log, and a close
		// frame can wait on a slow peer.
		go c.closeNow(CloseUnknownError, "Session resumed elsewhere.")
	}
}

// resumeRemote resumes a session this node does not hold, from its
// replicated record. It reports whether the session was resumed; false
// means the caller sends INVALID_SESSION.
func (s *Server) resumeRemote(c *conn, sessionID string, userID ID, token []byte, clientSeq int64) bool {
	if s.region == nil || s.region.isEnded(sessionID) {
		return false
	}
	rec := s.eng.Session(sessionID)
	if rec == nil || rec.UserID != userID || !bytes.Equal(rec.TokenDigest, token) || len(rec.Anchor) != len(s.region.logs) {
		return false
	}
	user := s.eng.User(userID)
	if user == nil {
		return false
	}
	// This node may trail the holder by a few entries: retry until it has
	// applied as far as the client has seen (a busy region can take
	// seconds; the client waits for RESUMED meanwhile).
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, retry := s.tryResumeRemote(c, rec, user, clientSeq)
		if ok || !retry || time.Now().After(deadline) {
			return ok
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (s *Server) tryResumeRemote(c *conn, rec *engine.SessionRecord, user *model.User, clientSeq int64) (ok, retry bool) {
	anchor := s.region.lockAll()
	defer s.region.unlockAll()

	sess := &session{id: rec.ID, user: user, intents: rec.Intents, explicit: rec.Explicit, shard: rec.Shard,
		largeThreshold: rec.LargeThreshold, version: rec.Version, seq: rec.BaseSeq, token: rec.TokenDigest, tokenAt: rec.TokenAt}
	// Rebuild each shard's stream for this session with the live
	// dispatch code: the session collects what it would have been sent.
	s.addSession(sess, rec.Guilds)
	queues := make([][]*shared, len(s.region.logs))
	for k, l := range s.region.logs {
		entries, ok := l.since(rec.Anchor[k])
		if !ok {
			s.removeSession(sess)
			return false, false
		}
		for _, e := range entries {
			for i := range e.events {
				s.publishOne(&e.events[i], sess)
			}
		}
		sess.mu.Lock()
		queues[k], sess.pending = sess.pending, nil
		sess.mu.Unlock()
	}
	// Number the frames the way the holder did.
	seq := rec.BaseSeq
	var frames []*frame
	pos := make([]int, len(queues))
	take := func(k int, n int64) bool {
		for ; n > 0; n-- {
			if pos[k] >= len(queues[k]) {
				return false
			}
			seq++
			frames = append(frames, &frame{op: OpDispatch, seq: seq, p: queues[k][pos[k]]})
			pos[k]++
		}
		return true
	}
	openStart := seq
	for i, run := range rec.Runs {
		last := i == len(rec.Runs)-1
		if last {
			openStart = seq
		}
		switch {
		case run.Shard < 0:
			if last {
				// Frames nobody can rebuild may still be coming; if the
				// client is past them, the count is unknown.
				if clientSeq > seq {
					s.removeSession(sess)
					return false, false
				}
				break
			}
			seq += run.N // the client saw them or cannot get them again
		case run.Shard >= len(queues):
			s.removeSession(sess)
			return false, false
		case last:
			// The open run: whatever this shard has left.
			take(run.Shard, int64(len(queues[run.Shard])-pos[run.Shard]))
		default:
			if !take(run.Shard, run.N) {
				s.removeSession(sess)
				return false, true // this node has not applied that far yet
			}
		}
	}
	if len(rec.Runs) == 0 {
		openStart = seq
	}
	leftover := false
	for k := range queues {
		if pos[k] < len(queues[k]) {
			leftover = true
		}
	}
	if leftover && clientSeq > openStart {
		s.removeSession(sess)
		return false, false
	}
	for k := range queues {
		take(k, int64(len(queues[k])-pos[k]))
	}
	if clientSeq > seq {
		// The client saw more than this node can rebuild: it is behind.
		s.removeSession(sess)
		return false, true
	}
	sess.mu.Lock()
	c.mu.Lock()
	c.sess = sess
	c.mu.Unlock()
	for _, f := range frames {
		sess.seq = f.seq
		sess.replay = appendReplay(sess, f)
		if f.seq > clientSeq {
			c.push(f)
		}
	}
	sess.conn = c
	sess.ready = true
	sess.dispatchLocked(&shared{t: "RESUMED", d: []byte("{}")})
	sess.anchorAt()
	sess.reg = s.region
	sess.mu.Unlock()
	s.replicateOpen(sess, anchor)
	s.metrics.remoteResumes.Inc()
	return true, false
}
