package engine

import (
	"context"
	"sync"

	"github.com/accord-chat/accord/core/store"
)

// fanoutDepth bounds a shard's queue of entries applied and not yet
// published: when the publisher falls this far behind, applying waits for
// it, so a slow fan-out costs throughput, never memory.
const fanoutDepth = 256

// fanout publishes one shard's events off its apply goroutine, in log
// order. Rendering and handing frames to thousands of sessions is most of
// the cost of a message; on its own goroutine it overlaps with applying
// the next entries instead of delaying them.
//
// The publisher filters recipients with the engine's state (who may see
// the channel, which guilds a user is in) and renders with it (members of
// a reaction), so that state must be what it was when the entry applied.
// Only entries that change nothing such a filter reads are queued: those
// whose ops are messages and reactions, those with events only (such as
// typing), and watermarks (nothing to publish). Any other entry is a
// barrier: the apply goroutine waits for the queue to empty before
// applying it and publishes its events itself, so every event is filtered
// against the state its own entry left. Messages never change who sees what, which is why the
// common case pipelines.
type fanout struct {
	e     *Engine
	items chan fanoutItem
	stop  chan struct{}
	wg    sync.WaitGroup

	mu      sync.Mutex
	queued  int           // items sent and not yet published
	drained chan struct{} // closed when queued drops to 0; nil while 0
	last    uint64        // log index of the last item published
	changed chan struct{} // closed and replaced whenever an item is published
}

type fanoutItem struct {
	index  uint64
	events []Event
}

func newFanout(e *Engine) *fanout {
	f := &fanout{e: e, items: make(chan fanoutItem, fanoutDepth), stop: make(chan struct{}), changed: make(chan struct{})}
	f.wg.Add(1)
	go f.run()
	return f
}

func (f *fanout) run() {
	defer f.wg.Done()
	for {
		select {
		case <-f.stop:
			return
		case it := <-f.items:
			f.e.publish(it.events)
			f.mu.Lock()
			f.queued--
			f.last = it.index
			if f.queued == 0 && f.drained != nil {
				close(f.drained)
				f.drained = nil
			}
			close(f.changed)
			f.changed = make(chan struct{})
			f.mu.Unlock()
		}
	}
}

// enqueue hands the events of the entry at index to the shard's
// publisher goroutine, waiting while the queue is full. Called on the
// apply goroutine.
func (f *fanout) enqueue(index uint64, events []Event) {
	if len(events) == 0 {
		return
	}
	f.mu.Lock()
	f.queued++
	f.mu.Unlock()
	select {
	case f.items <- fanoutItem{index: index, events: events}:
	case <-f.stop:
	}
}

// waitThrough blocks until the events of every entry up to index are
// published: nothing is queued, or the queue has moved past index.
func (f *fanout) waitThrough(ctx context.Context, index uint64) error {
	for {
		f.mu.Lock()
		if f.queued == 0 || f.last >= index {
			f.mu.Unlock()
			return nil
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-f.stop:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitPublished blocks until the events of every entry this node applied
// to the shard when it was called have gone to the publisher. Commands
// wait for it before they return, so a caller's own sessions here have
// its events (or have them queued) by the time it hears back.
func (e *Engine) WaitPublished(ctx context.Context, shard int) error {
	return e.fanouts[shard].waitThrough(ctx, e.Applied(shard))
}

// drain waits until every queued event is published. Called on the apply
// goroutine before a barrier entry.
func (f *fanout) drain() {
	f.mu.Lock()
	if f.queued == 0 {
		f.mu.Unlock()
		return
	}
	if f.drained == nil {
		f.drained = make(chan struct{})
	}
	ch := f.drained
	f.mu.Unlock()
	select {
	case <-ch:
	case <-f.stop:
	}
}

// close stops the goroutine; events still queued are dropped (the node is
// shutting down and its sessions with it).
func (f *fanout) close() {
	close(f.stop)
	f.wg.Wait()
}

// pipelines reports whether an entry's events may be published through
// the queue: its ops change nothing the publisher reads (see fanout).
func pipelines(le *logEntry) bool {
	switch le.Kind {
	case entryWatermark:
		return true // no events and no state the publisher reads
	case entryPlan:
		for _, op := range le.Ops {
			switch op.Kind {
			case store.OpPutMessage, store.OpDeleteMessage, store.OpPutReaction, store.OpDeleteReaction, store.OpDeleteReactions:
			default:
				return false
			}
		}
		return true
	}
	return false
}
