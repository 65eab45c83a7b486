package gateway

import (
	"bytes"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// maxQueue bounds the frames waiting for one connection. A client that
// falls this far behind is disconnected (it can RESUME and replay).
const maxQueue = 4096

// writeTimeout bounds one flush; a peer that stops reading is dropped.
const writeTimeout = 10 * time.Second

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// conn is one WebSocket connection. Reads belong to the goroutine the
// poller starts while bytes arrive (polled.go), or to readLoop; a writer
// goroutine runs only while frames are queued.
type conn struct {
	version int // the ?v= the client connected with (9 or 10)

	ws  *websocket.Conn
	srv *Server

	mu      sync.Mutex
	queue   []*frame
	writing bool
	// closing: a close frame is queued (or the queue overflowed); nothing
	// more is accepted, so the close is the last thing the peer gets.
	closing bool
	closed  bool
	done    chan struct{} // closed once closeNow has torn the socket down
	sess    *session      // set by IDENTIFY/RESUME

	// Transport compression: every frame goes through one stream context.
	zbuf  bytes.Buffer
	zlib  *zlib.Writer
	zstd  *zstd.Encoder
	zmode string

	// Client-sent event budget (120 per 60 s).
	windowStart time.Time
	windowCount int

	// lastBeat is when the last heartbeat (or the connection) arrived;
	// owned by the reader goroutine.
	lastBeat time.Time

	// Readiness-driven reads (polled.go); nil raw: readLoop reads.
	raw    syscall.RawConn
	poll   *poller
	pollID uint64
	rstate atomic.Int32 // readBusy, readArmed or readEnded
	rd     wsReader     // owned by whoever moved rstate to readBusy
	beat   *time.Timer  // fires when no heartbeat came in time
}

func newConn(ws *websocket.Conn, srv *Server, zmode string) *conn {
	c := &conn{ws: ws, srv: srv, zmode: zmode, done: make(chan struct{}), lastBeat: time.Now()}
	switch zmode {
	case "zlib-stream":
		c.zlib, _ = zlib.NewWriterLevel(&c.zbuf, zlib.BestSpeed)
	case "zstd-stream":
		c.zstd, _ = zstd.NewWriter(&c.zbuf, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithWindowSize(1<<17), zstd.WithLowerEncoderMem(true))
	}
	return c
}

// push queues a frame, starting the writer if it is idle. It reports false
// when the connection is closed or was just closed for falling behind.
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
	if !c.writing {
		c.writing = true
		go c.flush()
	}
	c.mu.Unlock()
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

// flush writes queued frames until the queue is empty, then exits.
func (c *conn) flush() {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	var batch []*frame
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || c.closed {
			c.writing = false
			c.queue = nil
			c.mu.Unlock()
			return
		}
		batch, c.queue = c.queue, batch[:0]
		c.mu.Unlock()

		_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
		for i, f := range batch {
			batch[i] = nil
			if f.close != 0 {
				c.closeNow(f.close, f.reason)
				return
			}
			*bp = f.appendTo((*bp)[:0])
			if err := c.writeMessage(*bp); err != nil {
				c.closeNow(0, "")
				return
			}
		}
		batch = batch[:0]
	}
}

func (c *conn) writeMessage(b []byte) error {
	switch c.zmode {
	case "zlib-stream":
		c.zbuf.Reset()
		if _, err := c.zlib.Write(b); err != nil {
			return err
		}
		if err := c.zlib.Flush(); err != nil {
			return err
		}
		return c.ws.WriteMessage(websocket.BinaryMessage, c.zbuf.Bytes())
	case "zstd-stream":
		c.zbuf.Reset()
		if _, err := c.zstd.Write(b); err != nil {
			return err
		}
		if err := c.zstd.Flush(); err != nil {
			return err
		}
		return c.ws.WriteMessage(websocket.BinaryMessage, c.zbuf.Bytes())
	}
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// close queues a close frame behind what is already queued.
func (c *conn) close(code int) {
	c.push(&frame{close: code, reason: closeText[code]})
}

// closeNow sends a close frame (code 0: none) and tears the connection
// down. Safe to call more than once and from any goroutine.
func (c *conn) closeNow(code int, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.queue = nil
	c.mu.Unlock()
	if code != 0 {
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	}
	_ = c.ws.Close()
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
