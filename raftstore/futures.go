package raftstore

import (
	"context"
	"sync"

	"github.com/hashicorp/raft"
)

// Raft resolves most futures at shutdown, not all: an entry committed and
// queued for the FSM when Shutdown comes is dropped with its future, and a
// request still in a channel of the leader loop when leadership ends is
// never read; Error on those blocks forever. So the node never waits on a
// future unguarded: it counts the futures it waits on, Close lets them
// settle (for at most drainTimeout) before it shuts Raft down, and a
// waiter whose future is dropped anyway gets ErrClosed.
type futures struct {
	mu      sync.Mutex
	pending int
	closing bool
	idle    chan struct{} // closed when pending reaches 0 while closing
	down    chan struct{} // closed once Raft is shut down
}

func newFutures() *futures { return &futures{down: make(chan struct{})} }

// run issues a Raft request, unless the node is closing, and waits for its
// future, ctx or the end of Raft. The caller reads the future's other
// results only when err is nil, and never calls its Error again.
func (n *Node) run(ctx context.Context, issue func() raft.Future) (raft.Future, error) {
	fs := n.futures
	fs.mu.Lock()
	if fs.closing {
		fs.mu.Unlock()
		return nil, ErrClosed
	}
	fs.pending++
	fs.mu.Unlock()
	f := issue()
	done := make(chan error, 1)
	// Not a tracked goroutine: it ends with the future, and Close cannot
	// wait for a future Raft dropped.
	go func() {
		done <- f.Error()
		fs.mu.Lock()
		if fs.pending--; fs.pending == 0 && fs.idle != nil {
			close(fs.idle)
			fs.idle = nil
		}
		fs.mu.Unlock()
	}()
	select {
	case err := <-done:
		return f, n.closedOr(err)
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-fs.down:
		return nil, ErrClosed
	}
}

// drain refuses new requests and returns a channel closed once every
// pending future has settled.
func (fs *futures) drain() <-chan struct{} {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.closing = true
	ch := make(chan struct{})
	if fs.pending == 0 {
		close(ch)
	} else {
		fs.idle = ch
	}
	return ch
}
