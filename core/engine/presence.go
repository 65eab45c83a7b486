package engine

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"time"
)

// Presence and voice state are hot state of the region, replicated like
// the rest: presence in the account shard (it spans the user's guilds),
// voice states in their guild's shard. Every node applies the changes and
// publishes the events to its own sessions. Neither is written to the
// store: both describe live connections, and they die with them.

// Presence is a user's presence as set on one node's sessions.
type Presence struct {
	Status     string            `json:"status"`
	Activities []json.RawMessage `json:"activities,omitempty"`
	Since      *int64            `json:"since,omitempty"`
	AFK        bool              `json:"afk,omitempty"`
}

// PresenceChange reports a user's presence on one node; nil Presence: the
// user has no session on that node any more.
type PresenceChange struct {
	Node     string    `json:"node"`
	UserID   ID        `json:"user"`
	Presence *Presence `json:"p,omitempty"`
}

// PresenceEvent is the payload of PRESENCE_UPDATE: whose presence changed.
type PresenceEvent struct {
	UserID ID `json:"user"`
}

// VoiceState is a user's voice connection in a guild.
type VoiceState struct {
	ChannelID ID     `json:"channel"`
	SessionID string `json:"session"`
	// Node is the node of the gateway session that joined; Host is the
	// node whose SFU serves the channel (the same for every state in a
	// channel: the first to join picks its own node).
	Node       string `json:"node"`
	Host       string `json:"host,omitempty"`
	SelfMute   bool   `json:"self_mute,omitempty"`
	SelfDeaf   bool   `json:"self_deaf,omitempty"`
	SelfVideo  bool   `json:"self_video,omitempty"`
	SelfStream bool   `json:"self_stream,omitempty"`
}

// VoiceChange sets (or, with nil State, removes) a user's voice state.
type VoiceChange struct {
	GuildID ID          `json:"guild"`
	UserID  ID          `json:"user"`
	State   *VoiceState `json:"state,omitempty"`
	// Rehost: State.Host is a new host for the whole channel (a sweep
	// moving a dead host's channel) rather than a proposal that the
	// channel's current host overrides.
	Rehost bool `json:"rehost,omitempty"`
}

// VoiceEvent is the payload of VOICE_STATE_UPDATE. State is nil when the
// user left (SessionID still names the session that had joined).
type VoiceEvent struct {
	GuildID   ID          `json:"guild"`
	UserID    ID          `json:"user"`
	State     *VoiceState `json:"state,omitempty"`
	SessionID string      `json:"session"`
}

// presenceTable is the account shard's presence: per user, per node, in
// the order set (the newest wins), and when each node was last heard of.
type presenceTable struct {
	mu     sync.RWMutex
	byUser map[ID]userPresence
	nodes  map[string]int64 // node → last heartbeat (ms, proposer clock)
	// endpoints: node → its voice endpoint, as its heartbeats announce
	// it (other nodes send clients there).
	endpoints map[string]string
}

// userPresence is one user's presence per node. A slice, not a map: a
// user is nearly always on one node, and a one-entry map costs ten times
// the entry (every connected user has one).
type userPresence []nodePresence

type nodePresence struct {
	node string
	presenceEntry
}

func (u userPresence) get(node string) (presenceEntry, bool) {
	for _, np := range u {
		if np.node == node {
			return np.presenceEntry, true
		}
	}
	return presenceEntry{}, false
}

func (u userPresence) set(node string, e presenceEntry) userPresence {
	for i := range u {
		if u[i].node == node {
			u[i].presenceEntry = e
			return u
		}
	}
	return append(u, nodePresence{node, e})
}

func (u userPresence) del(node string) userPresence {
	for i := range u {
		if u[i].node == node {
			return append(u[:i], u[i+1:]...)
		}
	}
	return u
}

type presenceEntry struct {
	P     Presence `json:"p"`
	Index uint64   `json:"i"` // log index that set it: the newest node wins
}

// visible is what others see of a user: the newest presence among the
// user's nodes, invisible shown as offline.
func (t *presenceTable) visibleLocked(uid ID) (Presence, bool) {
	var best presenceEntry
	found := false
	for _, e := range t.byUser[uid] {
		if !found || e.Index > best.Index {
			best, found = e.presenceEntry, true
		}
	}
	if !found || best.P.Status == "invisible" || best.P.Status == "offline" {
		return Presence{Status: "offline"}, false
	}
	return best.P, true
}

// Presence returns what others see of a user's presence, and whether the
// user has a session anywhere in the region.
func (e *Engine) Presence(uid ID) (p Presence, online bool) {
	e.presence.mu.RLock()
	defer e.presence.mu.RUnlock()
	p, _ = e.presence.visibleLocked(uid)
	return p, len(e.presence.byUser[uid]) > 0
}

// SetPresence records the user's presence on node (nil: gone from it).
// It returns once the change is committed; the PRESENCE_UPDATE reaches
// every node's sessions when they apply it.
func (e *Engine) SetPresence(ctx context.Context, node string, uid ID, p *Presence) error {
	return e.proposeTo(ctx, AccountKey, &logEntry{Kind: entryPresence, Presence: []PresenceChange{{Node: node, UserID: uid, Presence: p}},
		At: e.now().UnixMilli()})
}

// NodeAlive records that node is up, and where its voice endpoint is
// (empty: it serves no voice); SweepNodes forgets the presence and voice
// states of nodes silent for too long (they died) and moves the voice
// channels they hosted.
func (e *Engine) NodeAlive(ctx context.Context, node, endpoint string) error {
	return e.proposeTo(ctx, AccountKey, &logEntry{Kind: entryPresence, Alive: node, Endpoint: endpoint, At: e.now().UnixMilli()})
}

// NodeEndpoint is the voice endpoint a live node announced.
func (e *Engine) NodeEndpoint(node string) (string, bool) {
	e.presence.mu.RLock()
	defer e.presence.mu.RUnlock()
	ep, ok := e.presence.endpoints[node]
	return ep, ok && ep != ""
}

// SweepNodes: the account shard's leader drops the presence of nodes not
// heard of for maxSilence, and each guild shard's leader the voice states
// of their sessions; a voice channel whose host died moves to the node
// of one of its members (the first by user ID whose node lives), and
// every member's gateway sends them the new VOICE_SERVER_UPDATE.
func (e *Engine) SweepNodes(ctx context.Context, maxSilence time.Duration) {
	now := e.now().UnixMilli()
	e.presence.mu.RLock()
	var dead []string
	for node, at := range e.presence.nodes {
		if now-at > maxSilence.Milliseconds() {
			dead = append(dead, node)
		}
	}
	alive := func(node string) bool {
		at, ok := e.presence.nodes[node]
		return ok && now-at <= maxSilence.Milliseconds()
	}
	type gv struct {
		gid ID
		chs []VoiceChange
	}
	var ghosts []gv
	e.gmu.RLock()
	for gid, en := range e.guilds {
		if ok, _ := e.leads(e.shardOf(gid)); !ok {
			continue
		}
		en.mu.Lock()
		if en.state != nil {
			if chs := rehost(gid, en.state.Voice, alive); len(chs) > 0 {
				ghosts = append(ghosts, gv{gid, chs})
			}
		}
		en.mu.Unlock()
	}
	e.gmu.RUnlock()
	e.presence.mu.RUnlock()
	sort.Strings(dead)
	if ok, _ := e.leads(e.shardOf(AccountKey)); ok {
		for _, node := range dead {
			_ = e.proposeTo(ctx, AccountKey, &logEntry{Kind: entryPresence, Gone: node})
		}
	}
	for _, g := range ghosts {
		// One entry per guild: a channel's members move host together.
		_ = e.proposeTo(ctx, g.gid, &logEntry{Kind: entryVoice, Voice: g.chs})
	}
}

// proposeTo replicates an entry in key's shard from any node: proposed
// here when this node leads the shard, forwarded to the leader otherwise.
func (e *Engine) proposeTo(ctx context.Context, key ID, le *logEntry) error {
	data, err := encodeEntry(le)
	if err != nil {
		return err
	}
	shard := e.shardOf(key)
	if ok, _ := e.leads(shard); ok {
		return e.rep.Propose(shard, data)()
	}
	return e.rep.Forward(ctx, shard, data)
}

// applyPresence applies an account-shard presence entry and returns the
// events it causes.
func (e *Engine) applyPresence(le *logEntry, index uint64) []Event {
	t := &e.presence
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byUser == nil {
		t.byUser, t.nodes = map[ID]userPresence{}, map[string]int64{}
	}
	if le.Alive != "" {
		t.nodes[le.Alive] = le.At
		if le.Endpoint != "" {
			if t.endpoints == nil {
				t.endpoints = map[string]string{}
			}
			t.endpoints[le.Alive] = le.Endpoint
		}
	}
	var evs []Event
	change := func(uid ID, fn func()) {
		before, _ := t.visibleLocked(uid)
		fn()
		after, _ := t.visibleLocked(uid)
		if !samePresence(before, after) {
			evs = append(evs, Event{Type: "PRESENCE_UPDATE", Data: &PresenceEvent{UserID: uid}})
		}
	}
	for _, c := range le.Presence {
		change(c.UserID, func() {
			if c.Presence == nil {
				if m := t.byUser[c.UserID].del(c.Node); len(m) == 0 {
					delete(t.byUser, c.UserID)
				} else {
					t.byUser[c.UserID] = m
				}
				return
			}
			t.byUser[c.UserID] = t.byUser[c.UserID].set(c.Node, presenceEntry{P: *c.Presence, Index: index})
		})
		if _, ok := t.nodes[c.Node]; !ok && c.Presence != nil {
			t.nodes[c.Node] = le.At
		}
	}
	if le.Gone != "" {
		delete(t.nodes, le.Gone)
		delete(t.endpoints, le.Gone)
		uids := make([]ID, 0)
		for uid, m := range t.byUser {
			if _, ok := m.get(le.Gone); ok {
				uids = append(uids, uid)
			}
		}
		sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
		for _, uid := range uids {
			change(uid, func() {
				if m := t.byUser[uid].del(le.Gone); len(m) == 0 {
					delete(t.byUser, uid)
				} else {
					t.byUser[uid] = m
				}
			})
		}
	}
	return evs
}

func samePresence(a, b Presence) bool {
	if a.Status != b.Status || a.AFK != b.AFK || len(a.Activities) != len(b.Activities) {
		return false
	}
	for i := range a.Activities {
		if string(a.Activities[i]) != string(b.Activities[i]) {
			return false
		}
	}
	return true
}

// voiceSnapshot and presence snapshot types for shard snapshots.
type guildVoice struct {
	GuildID ID                 `json:"guild"`
	States  map[ID]*VoiceState `json:"states"`
}

type presenceSnapshot struct {
	ByUser map[ID]map[string]presenceEntry `json:"by_user"`
	Nodes  map[string]int64                `json:"nodes"`
	// Endpoints: node → voice endpoint (absent in snapshots of binaries
	// without voice).
	Endpoints map[string]string `json:"endpoints,omitempty"`
}

// presenceSnapshot copies the presence table for a snapshot: the nodes
// in ps, the users' presences in byUser (encodeSnapshot writes them as
// ps.ByUser). Each user's slice is copied: set changes them in place.
func (e *Engine) presenceSnapshot() (ps *presenceSnapshot, byUser map[ID]userPresence) {
	e.presence.mu.RLock()
	defer e.presence.mu.RUnlock()
	ps = &presenceSnapshot{Nodes: map[string]int64{}}
	byUser = make(map[ID]userPresence, len(e.presence.byUser))
	for uid, u := range e.presence.byUser {
		byUser[uid] = append(userPresence(nil), u...)
	}
	for n, at := range e.presence.nodes {
		ps.Nodes[n] = at
	}
	if len(e.presence.endpoints) > 0 {
		ps.Endpoints = make(map[string]string, len(e.presence.endpoints))
		for n, ep := range e.presence.endpoints {
			ps.Endpoints[n] = ep
		}
	}
	return ps, byUser
}

func (e *Engine) restorePresence(ps *presenceSnapshot) {
	e.presence.mu.Lock()
	defer e.presence.mu.Unlock()
	e.presence.byUser, e.presence.nodes, e.presence.endpoints = map[ID]userPresence{}, map[string]int64{}, map[string]string{}
	if ps == nil {
		return
	}
	for n, ep := range ps.Endpoints {
		e.presence.endpoints[n] = ep
	}
	for uid, m := range ps.ByUser {
		nodes := make([]string, 0, len(m))
		for n := range m {
			nodes = append(nodes, n)
		}
		sort.Strings(nodes) // every replica restores the same order
		u := make(userPresence, 0, len(m))
		for _, n := range nodes {
			u = append(u, nodePresence{n, m[n]})
		}
		e.presence.byUser[uid] = u
	}
	for n, at := range ps.Nodes {
		e.presence.nodes[n] = at
	}
}

// HasPresenceOn reports whether the user has a presence recorded on node.
func (e *Engine) HasPresenceOn(uid ID, node string) bool {
	e.presence.mu.RLock()
	defer e.presence.mu.RUnlock()
	_, ok := e.presence.byUser[uid].get(node)
	return ok
}

// NewestPresence is the user's most recently set presence on any node,
// as set (invisible included), or nil when the user has none.
func (e *Engine) NewestPresence(uid ID) *Presence {
	e.presence.mu.RLock()
	defer e.presence.mu.RUnlock()
	var best *presenceEntry
	for _, pe := range e.presence.byUser[uid] {
		if best == nil || pe.Index > best.Index {
			c := pe.presenceEntry
			best = &c
		}
	}
	if best == nil {
		return nil
	}
	p := best.P
	return &p
}

// MemberCounts returns how many members the guild has and how many of
// them others see online (idle and dnd count; invisible does not), for
// an invite's approximate counts.
func (e *Engine) MemberCounts(guildID ID) (members, online int) {
	_ = e.View(guildID, func(s *State) error {
		members = len(s.Members)
		e.presence.mu.RLock()
		defer e.presence.mu.RUnlock()
		for uid := range s.Members {
			if p, _ := e.presence.visibleLocked(uid); p.Status != "" && p.Status != "offline" {
				online++
			}
		}
		return nil
	})
	return members, online
}
