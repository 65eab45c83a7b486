package gateway

import (
	"bytes"
	"errors"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Readiness-driven reads. An idle connection has no goroutine: the poller
// (poll_linux.go) waits on every socket at once and, when bytes arrive on
// one, starts readReady, which reads what is there without blocking,
// decodes it (wsReader), handles each message and hands the socket back
// to the poller. Gorilla still does the handshake and every write.
//
// Who ends a connection is decided by c.rstate, so that detach runs
// exactly once: the reader that saw EOF, a bad frame or a payload that
// ends the connection; or, when the poller was waiting on the socket,
// closeNow, because a socket closed by this side produces no event.

// c.rstate values.
const (
	readBusy  int32 = iota // a goroutine reads c, or c is being set up
	readArmed              // the poller waits on c
	readEnded              // c's end has been handled, or is being handled
)

var readBufPool = sync.Pool{New: func() any { b := make([]byte, 4096); return &b }}

// errWouldBlock: nothing to read right now.
var errWouldBlock = errors.New("gateway: read would block")

// watch hands a new connection to the poller. False: it cannot be polled
// (TLS, a switched-off or failed poller) and the caller must read it with
// readLoop.
func (s *Server) watch(c *conn) bool {
	tc, ok := tcpOf(c.nc)
	if !ok || !canPoll || s.cfg.GoroutineReaders {
		return false
	}
	p := s.poller()
	if p == nil {
		return false
	}
	if c.raw == nil {
		return false
	}
	_ = tc.SetReadDeadline(time.Time{}) // a read deadline would fail the reads
	c.poll = p
	c.beat = time.AfterFunc(s.heartbeatGrace(), func() {
		if !c.isClosing() {
			s.closeWith(c, CloseSessionTimedOut)
		}
	})
	c.rstate.Store(readArmed)
	if err := p.add(c); err != nil {
		if !c.rstate.CompareAndSwap(readArmed, readBusy) {
			return true // closed meanwhile, and closeNow ended it
		}
		c.beat.Stop()
		c.poll, c.beat = nil, nil
		s.log.Warn("gateway: poller refused a connection; reading it with a goroutine", "err", err)
		return false
	}
	// Gorilla's connection, with its read buffer and handlers, is not
	// used again: it only did the handshake.
	c.ws = nil
	return true
}

// poller returns the server's poller, starting it on first use; nil if
// it cannot start.
func (s *Server) poller() *poller {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.poll == nil && !s.pollFailed {
		p, err := newPoller()
		if err != nil {
			s.pollFailed = true
			s.log.Warn("gateway: no poller; one reader goroutine per connection", "err", err)
			return nil
		}
		s.poll = p
		go p.run(s)
	}
	return s.poll
}

// readReady runs when the poller saw c readable (or hung up): it reads
// until the socket is drained, then re-arms the poller or ends c.
func (s *Server) readReady(c *conn) {
	bp := readBufPool.Get().(*[]byte)
	buf := *bp
	more, invalidate := true, false
	for more {
		n, err := readSome(c.raw, buf)
		if errors.Is(err, errWouldBlock) {
			break
		}
		if err != nil || n == 0 { // reset, EOF, or closed by closeNow
			more = false
			break
		}
		more, invalidate = s.consume(c, buf[:n])
		if n < len(buf) {
			break // drained; if more came meanwhile, the poller says so at once
		}
	}
	readBufPool.Put(bp)
	if more {
		c.rstate.Store(readArmed)
		if c.poll.rearm(c) == nil {
			return
		}
		// The socket is gone. closeNow may have seen readArmed and
		// ended c already; whoever swaps ends it.
		if !c.rstate.CompareAndSwap(readArmed, readEnded) {
			return
		}
	} else {
		c.rstate.Store(readEnded)
	}
	s.endPolled(c, invalidate)
}

// consume decodes and handles bytes read from c, as readLoop handles what
// gorilla decodes. False: the connection ends; invalidate: the client
// closed with 1000 or 1001, which ends its session.
func (s *Server) consume(c *conn, p []byte) (more, invalidate bool) {
	err := c.rd.feed(p, func(data []byte) bool {
		if !c.allowEvent(time.Now(), s.cfg.EventLimit, s.cfg.EventWindow) {
			s.closeWith(c, CloseRateLimited)
			return false
		}
		return s.handle(c, data)
	}, func(payload []byte) {
		c.push(&frame{ctrl: websocket.PongMessage, raw: bytes.Clone(payload)})
	})
	var ce *websocket.CloseError
	var pe wsProtocolError
	switch {
	case err == nil:
		return true, false
	case errors.Is(err, errTooLarge):
		s.closeWith(c, CloseDecodeError)
	case errors.As(err, &ce):
		c.push(&frame{close: ce.Code}) // the echo, as gorilla's close handler sent it
		return false, ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway
	case errors.As(err, &pe):
		c.push(&frame{close: websocket.CloseProtocolError, reason: string(pe)})
	}
	return false, false
}

// endPolled ends a polled connection; the caller has moved c.rstate to
// readEnded, so it runs once.
func (s *Server) endPolled(c *conn, invalidate bool) {
	c.beat.Stop()
	c.poll.forget(c)
	s.detach(c, invalidate)
	s.connDone(c)
}

func (s *Server) heartbeatGrace() time.Duration {
	// The first heartbeat may come after interval*jitter; allow a grace
	// period on top of every interval before declaring the client gone.
	return s.cfg.HeartbeatInterval + s.cfg.HeartbeatInterval/2 + time.Second
}
