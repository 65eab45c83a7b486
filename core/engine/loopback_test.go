package engine

import (
	"context"
	"sync"
	"time"

	sh "github.com/accord-chat/accord/core/shard"
)

// loopback is a Replicator for this package's unit tests: one node that
// leads every shard and commits each proposal at once, in order, on a
// goroutine per shard (as Raft's apply goroutine would: never under the
// proposer's lock). The real replication is raftstore; tests of the
// engine over it are in internal/accordtest.
type loopback struct {
	e      *Engine
	shards []chan proposal
	wg     sync.WaitGroup

	mu      sync.Mutex
	held    map[int]chan struct{} // shards whose commits wait for the channel to close
	queued  map[int]int           // proposals received by each held shard
	changed chan struct{}         // closed and replaced when queued grows
}

// hold makes the shard's proposals wait, uncommitted, until release.
func (l *loopback) hold(s int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held[s] = make(chan struct{})
	l.queued[s] = 0
}

func (l *loopback) release(s int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if g := l.held[s]; g != nil {
		close(g)
		delete(l.held, s)
	}
}

// awaitQueued waits until the held shard has received n proposals, or a
// minute passed (false).
func (l *loopback) awaitQueued(s, n int) bool {
	deadline := time.After(time.Minute)
	for {
		l.mu.Lock()
		got, changed := l.queued[s], l.changed
		l.mu.Unlock()
		if got >= n {
			return true
		}
		select {
		case <-changed:
		case <-deadline:
			return false
		}
	}
}

// gate is what the shard's next commit waits for (nil: nothing).
func (l *loopback) gate(s int) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held[s]
}

type proposal struct {
	data []byte
	done chan error
}

const testShards = 4

// newTestEngine builds an engine over the loopback replicator; the
// replicator stops when the test ends.
func newTestEngine(t interface{ Cleanup(func()) }, cfg Config) *Engine {
	e, _ := newLoopbackEngine(t, cfg)
	return e
}

// newLoopbackEngine is newTestEngine that also returns the replicator, to
// hold a shard's commits.
func newLoopbackEngine(t interface{ Cleanup(func()) }, cfg Config) (*Engine, *loopback) {
	cfg.Shards = testShards
	e := New(cfg)
	lb := &loopback{e: e, held: map[int]chan struct{}{}, queued: map[int]int{}, changed: make(chan struct{})}
	for s := range testShards {
		ch := make(chan proposal, 4096) // never full in these tests: a full one would block Propose under a lock
		lb.shards = append(lb.shards, ch)
		lb.wg.Go(func() {
			var index uint64
			for p := range ch {
				if g := lb.gate(s); g != nil {
					<-g
				}
				index++
				_, err := e.ApplyCommitted(s, []sh.Entry{{Index: index, Data: p.data}})
				p.done <- err
			}
		})
	}
	e.Attach(lb)
	for s := range testShards {
		e.LeadershipChanged(s, true)
	}
	t.Cleanup(func() {
		// The engine first: its persisters propose watermarks until
		// they stop, and a proposal must not meet a closed channel.
		e.Close()
		for _, ch := range lb.shards {
			close(ch)
		}
		lb.wg.Wait()
	})
	return e, lb
}

func (l *loopback) Shards() int                 { return len(l.shards) }
func (l *loopback) IsLeader(int) bool           { return true }
func (l *loopback) Leader(int) (string, string) { return "loopback", "loopback" }
func (l *loopback) Forward(_ context.Context, s int, data []byte) error {
	return l.Propose(s, data)()
}

func (l *loopback) Propose(s int, data []byte) func() error {
	p := proposal{data: data, done: make(chan error, 1)}
	l.mu.Lock()
	if l.held[s] != nil {
		l.queued[s]++
		close(l.changed)
		l.changed = make(chan struct{})
	}
	l.mu.Unlock()
	l.shards[s] <- p
	return func() error { return <-p.done }
}
