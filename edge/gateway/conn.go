package gateway

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// maxQueue bounds the frames waiting for one connection. A client that
// falls this far behind is disconnected (it can RESUME and replay).
const maxQueue = 4096

// writeTimeout bounds a blocking write; a peer that stops reading is
// dropped.
const writeTimeout = 10 * time.Second

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// conn is one WebSocket connection. Reads belong to the goroutine the
// poller starts while bytes arrive (polled.go), or to readLoop.
//
// Writes belong to one goroutine at a time (c.writing): the connection's
// writer (writers.go) while its queue waits for it or is being written
// without blocking, or flush, a goroutine that exists only while the
// socket is full or for sockets without non-blocking writes (TLS, off
// Linux). Gorilla did the handshake and writes nothing after it, so none
// of its writes can land inside a frame written here.
type conn struct {
	version int // the ?v= the client connected with (9 or 10)

	ws     *websocket.Conn
	nc     net.Conn // ws's socket
	srv    *Server
	writer *writerShard

	mu      sync.Mutex
	queue   []*frame
	writing bool
	// closing: a close frame is queued (or the queue overflowed); nothing
	// more is accepted, so the close is the last thing the peer gets.
	closing bool
	closed  bool
	yield   chan struct{} // closed by the writer when it stops for closeNow
	done    chan struct{} // closed once the socket is torn down
	sess    *session      // set by IDENTIFY/RESUME

	// rest is the end of a frame the socket took only part of; the
	// writer's, and written before anything else.
	rest []byte

	// Transport compression, if asked for (nil: none).
	z *compressor

	// Client-sent event budget (120 per 60 s).
	windowStart time.Time
	windowCount int

	// lastBeat is when the last heartbeat (or the connection) arrived;
	// owned by the reader goroutine.
	lastBeat time.Time

	// raw is the socket for non-blocking reads and writes; nil for TLS
	// and off Linux.
	raw syscall.RawConn
	// Readiness-driven reads (polled.go); nil poll: readLoop reads.
	poll   *poller
	pollID uint64
	rstate atomic.Int32 // readBusy, readArmed or readEnded
	rd     wsReader     // owned by whoever moved rstate to readBusy
	beat   *time.Timer  // fires when no heartbeat came in time
}

// tcpOf is the TCP connection under nc when the bytes on it are the
// WebSocket's own (not TLS): nc itself, or what a wrapper that only counts
// connections (the node's per-address limit) says it wraps. Reads and
// writes may then go to the descriptor; Close still goes through nc.
func tcpOf(nc net.Conn) (*net.TCPConn, bool) {
	if tc, ok := nc.(*net.TCPConn); ok {
		return tc, true
	}
	if w, ok := nc.(interface{ TCPConn() *net.TCPConn }); ok {
		if tc := w.TCPConn(); tc != nil {
			return tc, true
		}
	}
	return nil, false
}

func newConn(ws *websocket.Conn, srv *Server, zmode string) *conn {
	c := &conn{ws: ws, nc: ws.UnderlyingConn(), srv: srv, done: make(chan struct{}), lastBeat: time.Now()}
	if tc, ok := tcpOf(c.nc); ok && canPoll {
		c.raw, _ = tc.SyscallConn()
		c.writer = srv.writer()
	}
	c.z = newCompressor(zmode)
	// Where gorilla still reads (readLoop), its answers to pings and
	// closes go through the queue like every other write.
	ws.SetPingHandler(func(p string) error {
		c.push(&frame{ctrl: websocket.PongMessage, raw: []byte(p)})
		return nil
	})
	ws.SetCloseHandler(func(code int, _ string) error {
		c.push(&frame{close: code})
		return nil
	})
	return c
}

// push queues a frame and, if the connection has no writer at work,
// hands it to one. It reports false when the connection is closed or was
// just closed for falling behind.
func (c *conn) push(f *frame) bool {
	c.mu.Lock()
	if c.closed || c.closing {
		c.mu.Unlock()
		return false
	}
	if f.close != 0 {
		c.closing = true
	} else if len(c.queue) >= maxQueue {
		// Too far behind: drop the backlog and close now. Queueing the
		// close behind the backlog would leave it behind a writer that
		// may be blocked for writeTimeout on a peer that does not read.
		// closeNow runs on its own goroutine because its close frame
		// waits (up to a second) for that writer; the publisher calling
		// push must never wait. The session keeps its replay buffer, so
		// the client can resume.
		c.closing = true
		c.queue = nil
		c.mu.Unlock()
		c.srv.metrics.slowConsumers.Inc()
		go c.closeNow(CloseUnknownError, "Too slow: connection could not keep up.")
		return false
	}
	c.queue = append(c.queue, f)
	if c.writing {
		c.mu.Unlock()
		return true
	}
	c.writing = true
	c.mu.Unlock()
	if c.writer == nil || f.close != 0 {
		// No non-blocking writes here, or a close, whose write may
		// block for a second: a goroutine of its own writes it.
		go c.flush()
	} else {
		c.writer.schedule(c)
	}
	return true
}

// pushAll queues several frames in order.
func (c *conn) pushAll(fs []*frame) {
	for _, f := range fs {
		if !c.push(f) {
			return
		}
	}
}

// writeQueued writes everything queued for c, appended to b, in one
// write that does not block, and returns b for reuse. The caller is c's
// writer. What the socket does not take, and a close frame, whose write
// may block, are left to flush.
func (c *conn) writeQueued(w *rawWriter, b []byte) []byte {
	c.mu.Lock()
	if c.closed {
		c.yieldLocked()
		c.mu.Unlock()
		return b
	}
	frames := c.queue
	c.queue = nil
	c.mu.Unlock()
	var closing *frame
	for i, f := range frames {
		frames[i] = nil
		if f.close != 0 {
			closing = f // the last frame: nothing is accepted after it
			break
		}
		b = c.encode(b, f)
	}
	n, err := w.write(c.raw, b)
	if err != nil {
		c.closeAsWriter(0, "")
		return b
	}
	if n < len(b) {
		c.rest = append([]byte(nil), b[n:]...)
	}
	c.mu.Lock()
	if c.queue == nil && cap(frames) <= 4 {
		c.queue = frames[:0] // spares the next push an allocation
	}
	switch {
	case c.closed:
		c.yieldLocked()
		c.mu.Unlock()
	case closing != nil || c.rest != nil:
		if closing != nil {
			c.queue = append(c.queue, closing)
		}
		c.mu.Unlock()
		go c.flush()
	case len(c.queue) == 0:
		c.writing = false
		c.mu.Unlock()
	default: // more came meanwhile: back in line, behind the others
		c.mu.Unlock()
		c.writer.schedule(c)
	}
	return b
}

// flushBatch is about how much flush hands the socket in one write.
const flushBatch = 64 << 10

// flush writes c.rest and then the queue, blocking, several frames per
// write, until both are empty, and gives up the write role.
func (c *conn) flush() {
	bp := bufPool.Get().(*[]byte)
	b := (*bp)[:0]
	defer func() { *bp = b[:0]; bufPool.Put(bp) }()
	var batch []*frame
	deadline := false
	write := func() bool {
		if len(b) == 0 {
			return true
		}
		_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		deadline = true
		_, err := c.nc.Write(b)
		b = b[:0]
		return err == nil
	}
	for {
		c.mu.Lock()
		if c.closed {
			c.yieldLocked()
			c.mu.Unlock()
			return
		}
		if c.rest == nil && len(c.queue) == 0 {
			if deadline {
				// The writers' non-blocking writes would fail on it
				// once it passes; look again after clearing it.
				c.mu.Unlock()
				_ = c.nc.SetWriteDeadline(time.Time{})
				deadline = false
				continue
			}
			c.writing = false
			c.queue = nil
			c.mu.Unlock()
			return
		}
		batch, c.queue = c.queue, batch[:0]
		c.mu.Unlock()

		b = append(b, c.rest...)
		c.rest = nil
		for i, f := range batch {
			batch[i] = nil
			if f.close != 0 {
				if write() {
					c.closeAsWriter(f.close, f.reason)
				} else {
					c.closeAsWriter(0, "")
				}
				return
			}
			if b = c.encode(b, f); len(b) >= flushBatch && !write() {
				c.closeAsWriter(0, "")
				return
			}
		}
		if !write() {
			c.closeAsWriter(0, "")
			return
		}
		batch = batch[:0]
	}
}

// close queues a close frame behind what is already queued.
func (c *conn) close(code int) {
	c.push(&frame{close: code, reason: closeText[code]})
}

// closeNow sends a close frame (code 0: none) and tears the connection
// down. Safe to call more than once and from any goroutine but the
// writer, which calls closeAsWriter.
func (c *conn) closeNow(code int, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.queue = nil
	var yield chan struct{}
	if c.writing {
		yield = make(chan struct{})
		c.yield = yield
	}
	c.writing = true // nobody else may start writing
	c.mu.Unlock()
	canWrite := true
	if yield != nil {
		// Wait for the writer to finish its write: the close frame
		// must not cut into a frame. One blocked on a peer that does
		// not read is given up on.
		t := time.NewTimer(time.Second)
		select {
		case <-yield:
		case <-t.C:
			canWrite = false
		}
		t.Stop()
	}
	c.shut(code, reason, canWrite)
}

// closeAsWriter is closeNow for the writer.
func (c *conn) closeAsWriter(code int, reason string) {
	c.mu.Lock()
	if c.closed {
		c.yieldLocked()
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.queue = nil
	c.mu.Unlock()
	c.shut(code, reason, true)
}

// yieldLocked tells a waiting closeNow that the writer has stopped; c.mu
// must be held.
func (c *conn) yieldLocked() {
	if c.yield != nil {
		close(c.yield)
		c.yield = nil
	}
}

// shut writes the close frame, if any and if the socket is between
// frames, and closes the socket; the caller owns the write side.
func (c *conn) shut(code int, reason string, canWrite bool) {
	if code != 0 && canWrite && c.rest == nil {
		msg := websocket.FormatCloseMessage(code, reason)
		msg = msg[:min(len(msg), 125)] // a control frame's limit
		_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.nc.Write(appendControl(nil, websocket.CloseMessage, msg))
	}
	_ = c.nc.Close()
	close(c.done)
	// A socket closed here produces no event: if the poller was waiting
	// on it, nobody else will notice that it ended.
	if c.rstate.CompareAndSwap(readArmed, readEnded) {
		go c.srv.endPolled(c, false)
	}
}

// isClosing reports whether a close frame is queued or sent.
func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing || c.closed
}

func (c *conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// allowEvent charges one client-sent payload against the 120/60 s budget.
func (c *conn) allowEvent(now time.Time, limit int, window time.Duration) bool {
	if now.Sub(c.windowStart) >= window {
		c.windowStart, c.windowCount = now, 0
	}
	c.windowCount++
	return c.windowCount <= limit
}
