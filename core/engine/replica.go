package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	sh "github.com/accord-chat/accord/core/shard"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store"
)

// Replicator orders the engine's writes in a region's replicated logs
// (raftstore's shards). The engine is a replica: the shard leader
// evaluates commands and proposes their plans; every replica, the leader
// included, changes its state only in ApplyCommitted, in log order, and
// publishes the events to its own gateway sessions there. raftstore.Node
// implements it. All methods are safe for concurrent use.
type Replicator interface {
	// Shards is the number of shards; keys map to them with shard.Of.
	Shards() int
	// IsLeader reports whether this node leads the shard now.
	IsLeader(shard int) bool
	// Leader is the shard's leader as this node knows it ("" while there
	// is none).
	Leader(shard int) (addr, id string)
	// Propose appends data to the shard's log after everything this node
	// proposed to it before. It never blocks: it is called under a
	// sequencer lock. wait returns once the entry is committed and
	// applied on this node, or failed.
	Propose(shard int, data []byte) (wait func() error)
	// Forward proposes data through the shard's leader, from any node,
	// and returns once it is committed and applied there.
	Forward(ctx context.Context, shard int, data []byte) error
}

// AccountKey is the shard key of everything that belongs to no guild:
// users, credentials, tokens, applications, DM channels. Those share one
// shard because their invariants (unique logins, one DM per pair) span
// every account.
const AccountKey ID = 0

// Attach gives the engine its Replicator, once. The replication must
// have as many shards as Config.Shards.
func (e *Engine) Attach(r Replicator) {
	if r.Shards() != e.rep.shards {
		panic(fmt.Sprintf("engine: replicator has %d shards, engine was configured with %d", r.Shards(), e.rep.shards))
	}
	if !e.rep.p.CompareAndSwap(nil, &r) {
		panic("engine: Attach called twice")
	}
	// Raft may have elected this node and replayed its log before Attach
	// (a restart): those applies did not see a leader, and the watermark
	// LeadershipChanged proposed went nowhere. Propose it again, so the
	// first apply as leader starts the persister's term.
	for s := range r.Shards() {
		if r.IsLeader(s) {
			e.proposeWatermark(s, e.watermark(s))
		}
	}
}

// attached is the engine's Replicator once Attach gave it one; before, it
// leads nothing and refuses proposals.
type attached struct {
	shards int
	p      atomic.Pointer[Replicator]
}

// ErrDetached is the answer to a proposal before Attach.
var ErrDetached = errors.New("engine: no replicator attached")

func (a *attached) Shards() int { return a.shards }

func (a *attached) IsLeader(shard int) bool {
	r := a.p.Load()
	return r != nil && (*r).IsLeader(shard)
}

func (a *attached) Leader(shard int) (string, string) {
	if r := a.p.Load(); r != nil {
		return (*r).Leader(shard)
	}
	return "", ""
}

func (a *attached) Propose(shard int, data []byte) func() error {
	if r := a.p.Load(); r != nil {
		return (*r).Propose(shard, data)
	}
	return func() error { return ErrDetached }
}

func (a *attached) Forward(ctx context.Context, shard int, data []byte) error {
	if r := a.p.Load(); r != nil {
		return (*r).Forward(ctx, shard, data)
	}
	return ErrDetached
}

// shardOf is the shard of a guild ID or AccountKey.
func (e *Engine) shardOf(key ID) int { return sh.Of(uint64(key), e.rep.Shards()) }

// leads reports whether this node leads the shard and, when it does not,
// the leader's address ("" while there is none).
func (e *Engine) leads(s int) (bool, string) {
	if e.rep.IsLeader(s) {
		return true, ""
	}
	addr, _ := e.rep.Leader(s)
	return false, addr
}

// notLeader is the error of a command that must run on the shard's leader.
func (e *Engine) notLeader(s int) error {
	_, addr := e.leads(s)
	return &sh.NotLeaderError{Shard: s, Leader: addr}
}

// watermarkEvery bounds how often the leader records its persistence
// watermark in the log: every this many entries or this long.
const (
	watermarkEntries = 256
	watermarkPeriod  = 100 * time.Millisecond
)

// shardPersist is one shard's persistence state. pending (identical on
// every replica, since it changes only in apply) holds the plans that were
// committed after the last watermark: a new leader writes them again.
// Store writes are idempotent puts and deletes, so writing twice is
// invisible to clients.
type shardPersist struct {
	mu        sync.Mutex
	pending   []pendingPlan
	watermark uint64 // last watermark applied
	applied   uint64
	lastTS    int64 // newest op write time stamped or applied
	// leading is whether the apply goroutine last saw this node lead the
	// shard (it starts and ends the persister's terms in log order).
	leading bool
}

type pendingPlan struct {
	Index uint64     `json:"i"`
	Ops   []store.Op `json:"ops"`
}

func (e *Engine) shardState(shard int) *shardPersist {
	e.shmu.Lock()
	defer e.shmu.Unlock()
	sp := e.shards[shard]
	if sp == nil {
		sp = &shardPersist{}
		e.shards[shard] = sp
	}
	return sp
}

// sequenceReplicated is sequence for a replica: evaluate under the
// entry's lock on the shard leader, propose, and wait for the entry to be
// applied here. Plans that only append new messages (or only carry
// events, like TYPING_START) are pipelined: they do not depend on the
// state the in-flight entries will produce. Any other plan waits until
// the guild has nothing in flight and is evaluated again, so it never
// plans against state that is about to change.
//
// A plan given rd reads the store through it: the reads it asks for are
// made here, without the lock, and the plan is evaluated again with the
// answers (reads.go).
func (e *Engine) sequenceReplicated(ctx context.Context, en *entry, rd *reads, fn func() (*plan, error)) error {
	shard := e.shardOf(en.key)
	for {
		if ok, _ := e.leads(shard); !ok {
			return e.notLeader(shard)
		}
		// A plan that reads the store (edits, deletes, reactions) must
		// see every applied write; after a leader change the store may
		// still lack some (the new leader rewrites them first).
		durable := e.persistedAll(shard)
		en.mu.Lock()
		if rd != nil {
			if rd.version != en.version {
				rd.reset(en.version)
			}
			rd.want = rd.want[:0]
		}
		p, err := fn()
		if rd != nil && len(rd.want) > 0 {
			want := slices.Clone(rd.want)
			en.mu.Unlock()
			if err := e.waitPersisted(ctx, shard); err != nil {
				return err
			}
			for _, read := range want {
				read(ctx)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			continue
		}
		if err != nil || p == nil || (p.empty() && len(p.events) == 0) {
			en.mu.Unlock()
			return err
		}
		if !durable && !p.appendOnly() && rd == nil { // rd's reads waited for the store already
			en.mu.Unlock()
			if err := e.waitPersisted(ctx, shard); err != nil {
				return err
			}
			continue
		}
		if en.inflight > 0 && !p.appendOnly() {
			if en.drained == nil {
				en.drained = make(chan struct{})
			}
			ch := en.drained
			en.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		e.stamp(shard, p.batch.Ops)
		le, err := newPlanEntry(p)
		if err != nil {
			en.mu.Unlock()
			return err
		}
		data, err := encodeEntry(le)
		if err != nil {
			en.mu.Unlock()
			return err
		}
		en.inflight++
		wait := e.rep.Propose(shard, data)
		en.mu.Unlock()
		// Wait even if ctx ends: inflight must only drop once the entry
		// is applied or known to have failed, and Raft resolves every
		// future (commit, lost leadership or shutdown).
		err = wait()
		if err == nil {
			// Acknowledged means in the store: a reply, or a plan of this
			// guild evaluated after the drain below, may read it there.
			// If this node stops leading meanwhile the entry is still
			// committed, and the next leader writes it before its reads.
			_ = e.waitPersisted(context.WithoutCancel(ctx), shard)
			_ = e.WaitPublished(context.WithoutCancel(ctx), shard)
		}
		en.mu.Lock()
		en.inflight--
		if en.inflight == 0 && en.drained != nil {
			close(en.drained)
			en.drained = nil
		}
		en.mu.Unlock()
		if err != nil {
			return fmt.Errorf("replicate: %w", err)
		}
		return nil
	}
}

// appendOnly reports whether the plan only creates messages (or only
// carries events), so it commutes with other in-flight plans of its guild.
func (p *plan) appendOnly() bool {
	for _, op := range p.batch.Ops {
		if op.Kind != store.OpPutMessage || !op.New {
			return false
		}
	}
	return true
}

// proposeGlobal replicates an account plan; the caller holds acct.wmu,
// which serializes account writes.
func (e *Engine) proposeGlobal(p *plan) error {
	shard := e.shardOf(AccountKey)
	if ok, _ := e.leads(shard); !ok {
		return e.notLeader(shard)
	}
	e.stamp(shard, p.batch.Ops)
	le, err := newPlanEntry(p)
	if err != nil {
		return err
	}
	data, err := encodeEntry(le)
	if err != nil {
		return err
	}
	if err := e.rep.Propose(shard, data)(); err != nil {
		return fmt.Errorf("replicate: %w", err)
	}
	// The caller's next account write (and its reply) may read this one
	// from the store.
	// It is committed whatever this returns (see sequenceReplicated).
	_ = e.waitPersisted(context.Background(), shard)
	_ = e.WaitPublished(context.Background(), shard)
	return nil
}

// ApplyCommitted applies a shard's committed entries in log order: state,
// indexes and hot rings change, the events go to the publisher, and the
// shard leader queues the ops for the store (persist.go). It is the only
// place a replica's state changes (raftstore.StateMachine), and it never
// waits for the store: proposers wait for the write before they
// acknowledge, and reads that must see it wait for it (storeCaughtUp).
// An entry it cannot decode stops it there: it applies the entries
// before it and reports the error, and raftstore halts the shard rather
// than let this node skip what others apply.
func (e *Engine) ApplyCommitted(shard int, entries []sh.Entry) (int, error) {
	sp := e.shardState(shard)
	isLeader := e.rep.IsLeader(shard)
	decoded := make([]*logEntry, 0, len(entries))
	var plans []pendingPlan
	var bad error
	for _, c := range entries {
		le, err := decodeEntry(c.Data)
		if err != nil {
			bad = fmt.Errorf("entry %d of shard %d: %w", c.Index, shard, err)
			break
		}
		decoded = append(decoded, le)
		if le.Kind == entryPlan && len(le.Ops) > 0 {
			plans = append(plans, pendingPlan{Index: c.Index, Ops: le.Ops})
		}
	}
	per := e.persisters[shard]
	sp.mu.Lock()
	if isLeader != sp.leading {
		sp.leading = isLeader
		if isLeader {
			// Leadership gained: what the last watermark does not cover
			// may be missing from the store; this node writes it first.
			per.lead(sp.watermark, slices.Clone(sp.pending))
		} else {
			per.follow()
		}
	}
	sp.pending = append(sp.pending, plans...)
	for _, pp := range plans {
		for _, op := range pp.Ops {
			sp.lastTS = max(sp.lastTS, op.TS)
		}
	}
	sp.mu.Unlock()
	if isLeader && len(decoded) > 0 {
		var ops []store.Op
		for _, pp := range plans {
			ops = append(ops, pp.Ops...)
		}
		per.add(entries[len(decoded)-1].Index, ops)
	}
	fan := e.fanouts[shard]
	for i, le := range decoded {
		queued := pipelines(le)
		if !queued {
			fan.drain() // a barrier: see fanout
		}
		switch le.Kind {
		case entryWatermark:
			sp.mu.Lock()
			if le.Watermark > sp.watermark {
				sp.watermark = le.Watermark
				n := 0
				for n < len(sp.pending) && sp.pending[n].Index <= le.Watermark {
					n++
				}
				sp.pending = append([]pendingPlan(nil), sp.pending[n:]...)
			}
			sp.mu.Unlock()
		case entryPlan:
			left := e.applyOps(le.Ops)
			evs := append(le.decoded, left...)
			for k := range evs {
				evs[k].Shard, evs[k].Index = shard, entries[i].Index
			}
			if queued {
				fan.enqueue(entries[i].Index, evs)
			} else {
				e.publish(evs)
			}
		case entrySessions:
			if le.Sessions != nil {
				e.applySessions(le.Sessions, time.UnixMilli(le.At))
			}
		case entryPresence, entryVoice:
			var evs []Event
			if le.Kind == entryPresence {
				evs = e.applyPresence(le, entries[i].Index)
			} else {
				evs = e.applyVoice(le.Voice)
			}
			for k := range evs {
				evs[k].Shard, evs[k].Index = shard, entries[i].Index
			}
			e.publish(evs)
		}
		sp.mu.Lock()
		sp.applied = entries[i].Index
		sp.mu.Unlock()
	}
	if bad != nil {
		e.log.Error("cannot apply a committed entry; the shard stops here", "shard", shard, "index", entries[len(decoded)].Index, "err", bad)
		return len(decoded), bad
	}
	return len(entries), nil
}

// stamp gives a plan's ops their write times: increasing within the
// shard, across leaders too, since every replica tracks the newest stamp
// it applied.
func (e *Engine) stamp(shard int, ops []store.Op) {
	if len(ops) == 0 {
		return
	}
	sp := e.shardState(shard)
	sp.mu.Lock()
	base := max(e.now().UnixMicro(), sp.lastTS+1)
	sp.lastTS = base + int64(len(ops)) - 1
	sp.mu.Unlock()
	for i := range ops {
		ops[i].TS = base + int64(i)
	}
}

// LeadershipChanged is told when this node gains or loses a shard's
// leadership (on raftstore's watcher goroutine). A new leader writes every
// plan past the last watermark, since the previous leader may have died
// before persisting them; that starts on the apply goroutine, in log
// order, at the first entry applied as leader, so a gain proposes an
// entry (a watermark that changes nothing) to make one come.
func (e *Engine) LeadershipChanged(shard int, leader bool) {
	sp := e.shardState(shard)
	if !leader {
		// Under sp.mu, so that the apply goroutine starts a new term at
		// the next gain even if it never applied as a follower meanwhile.
		sp.mu.Lock()
		sp.leading = false
		e.persisters[shard].follow()
		sp.mu.Unlock()
		return
	}
	sp.mu.Lock()
	wm, pending := sp.watermark, len(sp.pending)
	sp.mu.Unlock()
	// Every shard gains leadership on every start of a node alone; only a
	// gain with writes to catch up on is news to an operator.
	lv := slog.LevelDebug
	if pending > 0 {
		lv = slog.LevelInfo
	}
	e.log.Log(context.Background(), lv, "shard leadership gained", "shard", shard, "pending", pending)
	e.proposeWatermark(shard, wm)
}

func (e *Engine) watermark(shard int) uint64 {
	sp := e.shardState(shard)
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.watermark
}

// applyOps applies one entry's ops under the lock of the sequencer entry
// each op belongs to, creating entries for guilds and DMs this replica
// has not seen yet. A member who leaves a guild leaves its voice channels
// too; those events are returned.
func (e *Engine) applyOps(ops []store.Op) []Event {
	var held *entry
	var evs []Event
	for _, op := range ops {
		en := e.opEntry(op)
		if en != held {
			if held != nil {
				held.mu.Unlock()
			}
			if en != nil {
				en.mu.Lock()
			}
			held = en
		}
		if op.Kind == store.OpDeleteMember && en != nil && en.state != nil {
			if ev, ok := en.state.setVoice(VoiceChange{GuildID: op.GuildID, UserID: op.UserID}); ok {
				evs = append(evs, ev)
			}
		}
		e.applyOp(en, op)
		e.observeIDs(op)
		if en != nil && (op.Kind != store.OpPutMessage || !op.New) {
			en.version++ // answers a plan read from the store may be stale
		}
	}
	if held != nil {
		held.mu.Unlock()
	}
	return evs
}

// opEntry finds (or makes) the sequencer entry an op changes.
func (e *Engine) opEntry(op store.Op) *entry {
	switch op.Kind {
	case store.OpPutUser, store.OpPutCredentials, store.OpPutToken, store.OpDeleteToken, store.OpPutApplication:
		return nil
	case store.OpPutGuild:
		e.gmu.Lock()
		defer e.gmu.Unlock()
		en := e.guilds[op.Guild.ID]
		if en == nil {
			en = &entry{key: op.Guild.ID, state: e.own(newState())}
			e.guilds[op.Guild.ID] = en
		}
		return en
	case store.OpPutChannel:
		if op.Channel.Type == model.ChannelDM {
			e.gmu.Lock()
			defer e.gmu.Unlock()
			en := e.dms[op.Channel.ID]
			if en == nil {
				en = &entry{key: AccountKey, dm: op.Channel}
				e.dms[op.Channel.ID] = en
			}
			return en
		}
	}
	if op.GuildID != 0 {
		return e.entry(op.GuildID)
	}
	ch := op.ChannelID
	if op.Message != nil {
		ch = op.Message.ChannelID
	}
	if ch != 0 {
		if en, ok := e.locate(ch); ok {
			return en
		}
	}
	return nil
}

// observeIDs moves the ID generator past every ID a replica applies, so
// that it never hands out an ID the previous leader used.
func (e *Engine) observeIDs(op store.Op) {
	e.ids.Observe(op.ID)
	switch {
	case op.Message != nil:
		e.ids.Observe(op.Message.ID)
	case op.Channel != nil:
		e.ids.Observe(op.Channel.ID)
	case op.Role != nil:
		e.ids.Observe(op.Role.ID)
	case op.Guild != nil:
		e.ids.Observe(op.Guild.ID)
	case op.User != nil:
		e.ids.Observe(op.User.ID)
	case op.Application != nil:
		e.ids.Observe(op.Application.ID)
	}
}

// Applied is the last index of the shard this replica applied.
func (e *Engine) Applied(shard int) uint64 {
	sp := e.shardState(shard)
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.applied
}
