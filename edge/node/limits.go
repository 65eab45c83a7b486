package node

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits on the public listener, so that a client cannot hold the node's
// connections or memory by being slow: every phase of a request has a
// deadline (a body trickled at a byte a second is cut off), and one
// address holds at most perIP connections. Gateway connections are
// hijacked, which clears the deadlines; the gateway keeps its own
// (heartbeats, bounded write queues).
type listenerLimits struct {
	readHeader, read, write, idle time.Duration
	perIP                         int
}

// publicLimits are the public listener's. Uploads of the largest
// attachments fit in read; a history page or a file download in write.
var publicLimits = listenerLimits{
	readHeader: 10 * time.Second,
	read:       2 * time.Minute,
	write:      5 * time.Minute,
	idle:       2 * time.Minute,
	perIP:      512,
}

func (l listenerLimits) apply(srv *http.Server) *http.Server {
	srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout = l.readHeader, l.read, l.write, l.idle
	return srv
}

// perIPListener refuses (closes at once) a connection from an address
// that holds max already. Loopback is exempt: load tools and a proxy on
// the same host come from there, and the proxy is the place to limit.
type perIPListener struct {
	net.Listener
	max   int
	mu    sync.Mutex
	conns map[string]int
}

func limitPerIP(ln net.Listener, max int) net.Listener {
	if max <= 0 {
		return ln
	}
	return &perIPListener{Listener: ln, max: max, conns: map[string]int{}}
}

func (l *perIPListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return c, nil
		}
		l.mu.Lock()
		if l.conns[host] >= l.max {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.conns[host]++
		l.mu.Unlock()
		return &countedConn{Conn: c, l: l, host: host}, nil
	}
}

type countedConn struct {
	net.Conn
	l    *perIPListener
	host string
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		if c.l.conns[c.host]--; c.l.conns[c.host] <= 0 {
			delete(c.l.conns, c.host)
		}
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// TCPConn lets the gateway poll the descriptor itself (see
// gateway.tcpOf); closing still goes through Close, which counts.
func (c *countedConn) TCPConn() *net.TCPConn {
	tc, _ := c.Conn.(*net.TCPConn)
	return tc
}
