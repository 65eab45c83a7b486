package gateway

import (
	"runtime"
	"sync"
)

// writers are long-lived goroutines, one per P, that write queued frames
// to connections. A goroutine started per delivery, and a write deadline
// (a runtime timer update) set per write, cost a fan-out about a fifth of
// its CPU. A writer writes without blocking: everything queued for a
// connection goes out in one write(2), and a connection whose socket
// cannot take it all is handed to a goroutine of its own (conn.flush)
// that waits for the socket. When fan-outs come faster than the writers
// write, frames pile up per connection and go out together, so a busy
// server makes fewer writes per delivery and wakes its clients less.
type writers struct {
	shards []*writerShard
	next   uint32 // guarded by the Server's mu
	wg     sync.WaitGroup
}

// writerShard is one writer and the connections waiting for it.
type writerShard struct {
	mu   sync.Mutex
	runq []*conn
	idle bool // the writer waits on wake
	stop bool
	wake chan struct{}
}

func startWriters() *writers {
	ws := &writers{}
	for range runtime.GOMAXPROCS(0) {
		w := &writerShard{wake: make(chan struct{}, 1)}
		ws.shards = append(ws.shards, w)
		ws.wg.Go(w.run)
	}
	return ws
}

// pick assigns a new connection to a writer; s.mu must be held.
func (ws *writers) pick() *writerShard {
	ws.next++
	return ws.shards[int(ws.next)%len(ws.shards)]
}

// stop ends the writers once their queues are empty.
func (ws *writers) stop() {
	for _, w := range ws.shards {
		w.mu.Lock()
		w.stop = true
		w.mu.Unlock()
		w.signal()
	}
	ws.wg.Wait()
}

// schedule puts c, whose write role the caller hands over, in line.
func (w *writerShard) schedule(c *conn) {
	w.mu.Lock()
	if w.stop { // the server has shut down; c is a latecomer
		w.mu.Unlock()
		go c.flush()
		return
	}
	w.runq = append(w.runq, c)
	wake := w.idle
	w.idle = false
	w.mu.Unlock()
	if wake {
		w.signal()
	}
}

func (w *writerShard) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *writerShard) run() {
	var batch []*conn
	var buf []byte
	rw := newRawWriter()
	for {
		w.mu.Lock()
		for len(w.runq) == 0 && !w.stop {
			w.idle = true
			w.mu.Unlock()
			<-w.wake
			w.mu.Lock()
		}
		if len(w.runq) == 0 {
			w.mu.Unlock()
			return
		}
		batch, w.runq = w.runq, batch[:0]
		w.mu.Unlock()
		for i, c := range batch {
			batch[i] = nil
			buf = c.writeQueued(rw, buf[:0])
		}
		if cap(buf) > 1<<20 {
			buf = nil // one huge GUILD_CREATE need not stay
		}
	}
}
