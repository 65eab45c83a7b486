package engine

import (
	"context"
	"sync"

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
}

type proposal struct {
	data []byte
	done chan error
}

const testShards = 4

// newTestEngine builds an engine over the loopback replicator; the
// replicator stops when the test ends.
func newTestEngine(t interface{ Cleanup(func()) }, cfg Config) *Engine {
	cfg.Shards = testShards
	e := New(cfg)
	lb := &loopback{e: e}
	for s := range testShards {
		ch := make(chan proposal, 4096) // never full in these tests: a full one would block Propose under a lock
		lb.shards = append(lb.shards, ch)
		lb.wg.Go(func() {
			var index uint64
			for p := range ch {
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
	return e
}

func (l *loopback) Shards() int                 { return len(l.shards) }
func (l *loopback) IsLeader(int) bool           { return true }
func (l *loopback) Leader(int) (string, string) { return "loopback", "loopback" }
func (l *loopback) Forward(_ context.Context, s int, data []byte) error {
	return l.Propose(s, data)()
}

func (l *loopback) Propose(s int, data []byte) func() error {
	p := proposal{data: data, done: make(chan error, 1)}
	l.shards[s] <- p
	return func() error { return <-p.done }
}
