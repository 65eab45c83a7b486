package engine

import (
	"context"
	"sort"
	"sync"
	"time"
)

// SessionRecord is the replicated resume state of a gateway session, so
// that any node of the region can resume it. The node holding the session
// writes it; every replica applies it. Events are not copied: every node
// has applied the same shard logs, so it can rebuild what the session was
// sent from Anchor on. What it cannot know is how the holder interleaved
// the shards; Runs record that.
type SessionRecord struct {
	ID             string `json:"id"`
	UserID         ID     `json:"user"`
	Intents        int    `json:"intents"`
	Explicit       bool   `json:"explicit,omitempty"`
	Shard          [2]int `json:"shard"`
	LargeThreshold int    `json:"large"`
	Version        int    `json:"v"`
	Node           string `json:"node"`
	// TokenDigest is the digest of the token that opened the session:
	// only that token resumes it.
	TokenDigest []byte `json:"tok,omitempty"`
	// TokenAt is when that token was created: a password change closes
	// the sessions of tokens created before it.
	TokenAt time.Time `json:"tok_at,omitzero"`
	Guilds  []ID      `json:"guilds"`
	// BaseSeq is the session's sequence when it was (re)anchored: its next
	// dispatch is BaseSeq+1, and comes from an entry after Anchor.
	BaseSeq int64 `json:"base_seq"`
	// Anchor is, per shard, the last entry published before the anchor.
	Anchor []uint64 `json:"anchor"`
	// Runs are the dispatches since the anchor, as runs of one shard.
	// The last run is open: the holder appends a run only when the shard
	// changes, so a run's length is known once the next one starts.
	Runs      []Run     `json:"runs,omitempty"`
	UpdatedAt time.Time `json:"at"`
}

// Run is N consecutive dispatches from one shard. Shard -1 marks frames no
// replica can rebuild (presence and voice updates, member chunks).
type Run struct {
	I     int   `json:"i"` // position in the session's runs
	Shard int   `json:"s"`
	N     int64 `json:"n"`
}

// SessionUpdate is one batch of session changes from a node.
type SessionUpdate struct {
	Open  []SessionRecord  `json:"open,omitempty"`  // new or re-anchored sessions (replace)
	Runs  map[string][]Run `json:"runs,omitempty"`  // runs closed since the last update, per session
	Close []string         `json:"close,omitempty"` // invalidated or expired sessions
}

func (u *SessionUpdate) empty() bool {
	return len(u.Open) == 0 && len(u.Runs) == 0 && len(u.Close) == 0
}

// sessionTable is the replicated session records.
type sessionTable struct {
	mu   sync.RWMutex
	recs map[string]*SessionRecord
	hook func(*SessionRecord)
}

// SetSessionHook is called with every record a replica applies (the
// gateway drops its own copy of a session another node took over).
func (e *Engine) SetSessionHook(fn func(*SessionRecord)) {
	e.sessions.mu.Lock()
	e.sessions.hook = fn
	e.sessions.mu.Unlock()
}

// Session returns a copy of a session's replicated record, or nil.
func (e *Engine) Session(id string) *SessionRecord {
	e.sessions.mu.RLock()
	defer e.sessions.mu.RUnlock()
	r := e.sessions.recs[id]
	if r == nil {
		return nil
	}
	c := *r
	c.Runs = append([]Run(nil), r.Runs...)
	c.Anchor = append([]uint64(nil), r.Anchor...)
	c.Guilds = append([]ID(nil), r.Guilds...)
	return &c
}

// Shards is the number of shards of the region.
func (e *Engine) Shards() int { return e.rep.Shards() }

// ShardOf is the shard of a guild, or of AccountKey.
func (e *Engine) ShardOf(key ID) int { return e.shardOf(key) }

// ReplicateSessions proposes session changes to the account shard and
// returns once they are committed and applied here; off the shard's
// leader it is forwarded to the leader. The gateway calls it on
// goroutines of its own, never on a session's dispatch path: resume state
// trails the session by design, and the gateway copes with the tail it
// lacks.
func (e *Engine) ReplicateSessions(ctx context.Context, u SessionUpdate) error {
	if u.empty() {
		return nil
	}
	shard := e.shardOf(AccountKey)
	le := &logEntry{Kind: entrySessions, Sessions: &u, At: e.now().UnixMilli()}
	data, err := encodeEntry(le)
	if err != nil {
		return err
	}
	if ok, _ := e.leads(shard); ok {
		return e.rep.Propose(shard, data)()
	}
	return e.rep.Forward(ctx, shard, data)
}

func (e *Engine) applySessions(u *SessionUpdate, at time.Time) {
	t := &e.sessions
	t.mu.Lock()
	if t.recs == nil {
		t.recs = map[string]*SessionRecord{}
	}
	var changed []*SessionRecord
	for i := range u.Open {
		r := u.Open[i]
		r.UpdatedAt = at
		t.recs[r.ID] = &r
		changed = append(changed, &r)
	}
	for id, runs := range u.Runs {
		if r := t.recs[id]; r != nil {
			for _, run := range runs {
				switch {
				case run.I < len(r.Runs):
					r.Runs[run.I] = run
				case run.I == len(r.Runs):
					r.Runs = append(r.Runs, run)
				}
			}
			r.UpdatedAt = at
		}
	}
	for _, id := range u.Close {
		delete(t.recs, id)
	}
	hook := t.hook
	t.mu.Unlock()
	if hook != nil {
		for _, r := range changed {
			hook(r)
		}
	}
}

// expireSessions drops records not touched for longer than maxAge: their
// holder died and nobody resumed them in time.
func (e *Engine) expireSessions(now time.Time, maxAge time.Duration) []string {
	e.sessions.mu.RLock()
	defer e.sessions.mu.RUnlock()
	var old []string
	for id, r := range e.sessions.recs {
		if now.Sub(r.UpdatedAt) > maxAge {
			old = append(old, id)
		}
	}
	sort.Strings(old)
	return old
}

func (e *Engine) sessionSnapshot() []SessionRecord {
	e.sessions.mu.RLock()
	defer e.sessions.mu.RUnlock()
	out := make([]SessionRecord, 0, len(e.sessions.recs))
	for _, r := range e.sessions.recs {
		out = append(out, *r)
	}
	return out
}

func (e *Engine) restoreSessions(recs []SessionRecord) {
	e.sessions.mu.Lock()
	defer e.sessions.mu.Unlock()
	e.sessions.recs = map[string]*SessionRecord{}
	for i := range recs {
		r := recs[i]
		e.sessions.recs[r.ID] = &r
	}
}

// SweepSessions closes the records of sessions nobody has touched for
// maxAge. Only the account shard's leader does it, so replicas agree.
func (e *Engine) SweepSessions(ctx context.Context, maxAge time.Duration) {
	if ok, _ := e.leads(e.shardOf(AccountKey)); !ok {
		return
	}
	if old := e.expireSessions(e.now(), maxAge); len(old) > 0 {
		_ = e.ReplicateSessions(ctx, SessionUpdate{Close: old})
	}
}
