package engine

import (
	"context"
	"sync"
	"time"

	"github.com/accord-chat/accord/core/store"
)

// Persisting committed plans to the store, off the apply goroutine.
//
// The shard's leader writes every committed plan to the core's store; the
// Raft log is the durable copy meanwhile, so the write need not happen
// before the apply goes on, and does not: ApplyCommitted only queues the
// plans, and the shard's persister writes them in log order, several
// batches in flight at once (Pebble's CommitAsync groups their fsyncs,
// Cassandra's runs them concurrently: every op carries its leader-chosen
// write time, so their order of arrival does not matter). The completer
// waits for the batches in order and moves `through`, the index up to
// which the store holds everything applied, and now and then proposes it
// as the watermark. The watermark only ever names durable writes, so a
// new leader (or a node restored from a snapshot) rewrites exactly the
// plans that may be missing, and a snapshot needs no wait for the store.
//
// The apply goroutine never waits for the store. Who must see a write
// there waits for through instead (waitPersisted): a proposer before it
// acknowledges, a plan that reads the store before it is evaluated
// (sequenceReplicated), the history read that fills a hot ring, and
// reads of messages a client may know only from an event, since events
// are published as entries apply (storeCaughtUp).

const (
	// maxInflight is how many store batches a shard has in flight.
	maxInflight = 8
	// maxBatchOps bounds the ops of one store batch.
	maxBatchOps = 512
	// persistRetry bounds the pause between attempts of a failed write.
	persistRetry = 2 * time.Second
)

// persistItem is the plans of one applied batch of log entries, and the
// index of its last entry.
type persistItem struct {
	through uint64
	ops     []store.Op
}

// inflightBatch is a store batch being written.
type inflightBatch struct {
	through uint64
	batch   *store.Batch
	done    <-chan error // nil for a batch without plans
	term    uint64
}

// persister writes one shard's committed plans while this node leads it.
type persister struct {
	e     *Engine
	shard int

	mu      sync.Mutex
	queue   []persistItem
	term    uint64 // leadership term of the queue; bumped when it changes
	through uint64 // the store holds every plan applied up to here
	changed chan struct{}
	wake    chan struct{}

	inflight chan inflightBatch
	stop     chan struct{}
	wg       sync.WaitGroup
}

func newPersister(e *Engine, shard int) *persister {
	p := &persister{e: e, shard: shard, changed: make(chan struct{}), wake: make(chan struct{}, 1),
		inflight: make(chan inflightBatch, maxInflight), stop: make(chan struct{})}
	p.wg.Add(2)
	go p.issue()
	go p.complete()
	return p
}

func (p *persister) close() {
	close(p.stop)
	p.wg.Wait()
}

// lead starts a leadership term on the apply goroutine: everything up to
// watermark is in the store (another leader said so); the pending plans
// and what follows are this node's to write. It is called in log order,
// before the first batch applied as leader.
func (p *persister) lead(watermark uint64, pending []pendingPlan) {
	p.mu.Lock()
	p.term++
	p.queue = nil
	p.setThrough(watermark)
	for _, pp := range pending {
		p.queue = append(p.queue, persistItem{through: pp.Index, ops: pp.Ops})
	}
	p.mu.Unlock()
	p.poke()
}

// follow ends the term: what is queued is no longer this node's to write.
func (p *persister) follow() {
	p.mu.Lock()
	p.term++
	p.queue = nil
	p.mu.Unlock()
}

// add queues the plans of an applied batch (none is fine: through still
// moves past the batch once what came before is written). It never blocks.
func (p *persister) add(through uint64, ops []store.Op) {
	p.mu.Lock()
	p.queue = append(p.queue, persistItem{through: through, ops: ops})
	p.mu.Unlock()
	p.poke()
}

func (p *persister) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// setThrough moves through forward; p.mu is held.
func (p *persister) setThrough(i uint64) {
	if i > p.through {
		p.through = i
		close(p.changed)
		p.changed = make(chan struct{})
	}
}

// wait blocks until the store holds everything applied up to index, or
// ctx ends, or this node stops leading the shard.
func (p *persister) waitThrough(ctx context.Context, index uint64) error {
	for {
		p.mu.Lock()
		through, changed := p.through, p.changed
		p.mu.Unlock()
		if through >= index {
			return nil
		}
		if !p.e.rep.IsLeader(p.shard) {
			return p.e.notLeader(p.shard)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.stop:
			return ErrClosed
		case <-time.After(50 * time.Millisecond): // leadership may end unannounced
		}
	}
}

// issue turns the queue into store batches and starts writing them.
func (p *persister) issue() {
	defer p.wg.Done()
	defer close(p.inflight)
	for {
		select {
		case <-p.stop:
			return
		case <-p.wake:
		}
		for {
			p.mu.Lock()
			items, term := p.queue, p.term
			p.queue = nil
			p.mu.Unlock()
			if len(items) == 0 {
				break
			}
			for len(items) > 0 {
				b := &store.Batch{}
				n := 0
				for n < len(items) && (b.Len() == 0 || b.Len()+len(items[n].ops) <= maxBatchOps) {
					b.Add(items[n].ops...)
					n++
				}
				ib := inflightBatch{through: items[n-1].through, batch: b, term: term}
				items = items[n:]
				if b.Len() > 0 {
					ib.done = p.start(b)
				}
				select {
				case p.inflight <- ib: // blocks while maxInflight are in flight
				case <-p.stop:
					return
				}
			}
		}
	}
}

// start begins writing b; the channel gets the outcome. The write runs
// on a goroutine of its own, so Close never waits for a store that hangs.
func (p *persister) start(b *store.Batch) <-chan error {
	done := make(chan error, 1)
	go func() {
		if p.e.async == nil {
			done <- p.e.st.Commit(context.Background(), b)
			return
		}
		wait, err := p.e.async.CommitAsync(context.Background(), b)
		if err == nil && wait != nil {
			err = wait()
		}
		done <- err
	}()
	return done
}

// complete waits for the batches in order, retrying failed ones, moves
// through and proposes watermarks.
func (p *persister) complete() {
	defer p.wg.Done()
	// planned is the last index of a batch that had plans: watermarks are
	// only worth proposing past it (a watermark entry is itself applied,
	// and must not beget another).
	var proposed, planned uint64
	var proposedAt time.Time
	var timer *time.Timer
	var timerC <-chan time.Time
	propose := func(force bool) {
		p.mu.Lock()
		through := p.through
		p.mu.Unlock()
		if planned <= proposed || through <= proposed {
			return
		}
		if !force && through-proposed < watermarkEntries && time.Since(proposedAt) < watermarkPeriod {
			if timerC == nil {
				timer = time.NewTimer(watermarkPeriod)
				timerC = timer.C
			}
			return
		}
		if p.e.rep.IsLeader(p.shard) {
			p.e.proposeWatermark(p.shard, through)
			proposed, proposedAt = through, time.Now()
		}
	}
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		select {
		case <-timerC:
			timerC = nil
			propose(true)
		case ib, ok := <-p.inflight:
			if !ok {
				return
			}
			if ib.done != nil && !p.finish(ib) {
				return
			}
			p.mu.Lock()
			if ib.term == p.term {
				p.setThrough(ib.through)
				if ib.done != nil {
					planned = ib.through
				}
			}
			p.mu.Unlock()
			propose(false)
		}
	}
}

// finish waits for a batch and rewrites it until it is in the store, the
// term ends (the next leader writes it) or the persister stops; false on
// stop. A write that keeps failing holds back through, so nothing reads
// past it and no watermark covers it.
func (p *persister) finish(ib inflightBatch) bool {
	pause := 50 * time.Millisecond
	done := ib.done
	for {
		var err error
		select {
		case err = <-done:
		case <-p.stop:
			return false
		}
		if err == nil {
			return true
		}
		p.e.log.Error("persist committed entries; retrying", "shard", p.shard, "through", ib.through, "err", err)
		select {
		case <-p.stop:
			return false
		case <-time.After(pause):
		}
		pause = min(2*pause, persistRetry)
		p.mu.Lock()
		stale := ib.term != p.term
		p.mu.Unlock()
		if stale {
			return true
		}
		done = p.start(ib.batch)
	}
}

// waitPersisted blocks until the store holds everything this node applied
// to the shard when it was called. Only the shard's leader writes the
// store, so elsewhere it returns at once: a follower's reads of the store
// may miss the newest writes, as before.
func (e *Engine) waitPersisted(ctx context.Context, shard int) error {
	if !e.rep.IsLeader(shard) {
		return nil
	}
	return e.persisters[shard].waitThrough(ctx, e.Applied(shard))
}

// storeCaughtUp waits, on the leader of the channel's shard, until the
// store holds everything applied there. Events are published as entries
// apply, before their store write: a client that saw MESSAGE_CREATE and
// at once fetches, edits or replies to the message must find it. A
// follower has no such guarantee to give (the leader writes the store),
// and returns at once.
func (e *Engine) storeCaughtUp(ctx context.Context, channelID ID) error {
	return e.waitPersisted(ctx, e.shardOfChannel(channelID))
}

// shardOfChannel is the shard a channel's writes are sequenced on.
func (e *Engine) shardOfChannel(channelID ID) int {
	key := e.ChannelGuild(channelID)
	if key == 0 {
		key = AccountKey // DM channels are sequenced on the accounts' shard
	}
	return e.shardOf(key)
}

// persistedAll reports whether the store holds everything this node
// applied to the shard (always true where it does not lead the shard).
func (e *Engine) persistedAll(shard int) bool {
	if !e.rep.IsLeader(shard) {
		return true
	}
	return e.persisters[shard].persistedThrough() >= e.Applied(shard)
}

func (p *persister) persistedThrough() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.through
}

func (e *Engine) proposeWatermark(shard int, index uint64) {
	data, err := encodeEntry(&logEntry{Kind: entryWatermark, Watermark: index})
	if err != nil {
		return
	}
	// Nobody waits for a watermark: losing one only means the next
	// leader writes a few plans again.
	e.rep.Propose(shard, data)
}
