package gateway

import (
	"bytes"
	"github.com/klauspost/compress/zlib"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/klauspost/compress/zstd"
)

// maxQueue bounds the frames waiting for one connection. A client that
// falls this far behind is disconnected (it can RESUME and replay).
const maxQueue = 4096

// writeTimeout bounds one flush; a peer that stops reading is dropped.
const writeTimeout = 10 * time.Second

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// conn is one WebSocket connection. The reader goroutine owns reads; a
// writer goroutine runs only while frames are queued.
type conn struct {
	ws  *websocket.Conn
	srv *Server

	mu      sync.Mutex
	queue   []*frame
	writing bool
	closed  bool
	sess    *session // set by IDENTIFY/RESUME

	// Transport compression: every frame goes through one stream context.
	zbuf  bytes.Buffer
	zlib  *zlib.Writer
	zstd  *zstd.Encoder
	zmode string

	// Client-sent event budget (120 per 60 s).
	windowStart time.Time
	windowCount int
}

// push queues a frame, starting the writer if it is idle. It reports false
// when the connection is closed or was just closed for falling behind.
func (c *conn) push(f *frame) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	if len(c.queue) >= maxQueue && f.close == 0 {
		// Too far behind: replace the backlog with a close. The session
		// keeps its replay buffer, so the client can resume.
		c.queue = append(c.queue[:0], &frame{close: CloseUnknownError, reason: "Too slow: connection could not keep up."})
		c.srv.metrics.slowConsumers.Inc()
	} else {
		c.queue = append(c.queue, f)
	}
	if !c.writing {
		c.writing = true
		go c.flush()
	}
	c.mu.Unlock()
	return true
}

// pushAll queues several frames under one lock.
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
