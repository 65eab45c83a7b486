package raftstore

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The kinds of stream on a node's internal port, all of them: every stream
// starts, after the TLS handshake, with one kind byte. A new kind is added
// here, so that this list stays the one registry of the port.
const (
	// KindRaft carries a shard's Raft RPCs; the shard follows as a uvarint.
	KindRaft byte = 'R'
	// KindAdmin carries the membership protocol (AddNode, RemoveNode,
	// Members and the Admin* functions).
	KindAdmin byte = 'A'
	// KindPropose carries an entry proposed through the shard's leader
	// (Node.Forward).
	KindPropose byte = 'P'
	// KindRequest carries a client request another node forwards to a
	// shard's leader (edge/node's forwarder; served through Listen).
	KindRequest byte = 'H'
)

// applicationKinds are the kinds Listen and Dial accept: the others are
// this package's own.
var applicationKinds = map[byte]bool{KindRequest: true}

// headerTimeout bounds the TLS handshake and the kind header of an inbound
// stream, so a silent peer cannot hold a goroutine.
const headerTimeout = 5 * time.Second

// mux sorts inbound streams by kind and tracks every stream and goroutine
// of the node, so that close ends all of them.
type mux struct {
	net   network
	log   *slog.Logger
	raft  []*streamLayer // per shard; nil entries on the in-memory network
	admin func(net.Conn) // serves one admin stream

	mu     sync.Mutex
	kinds  map[byte]*kindListener
	conns  map[*trackedConn]struct{}
	closed bool
	done   chan struct{}
	wg     sync.WaitGroup
}

func newMux(nw network, log *slog.Logger, shards int) *mux {
	return &mux{net: nw, log: log, raft: make([]*streamLayer, shards),
		kinds: map[byte]*kindListener{}, conns: map[*trackedConn]struct{}{}, done: make(chan struct{})}
}

// goFunc runs f in a goroutine that close waits for; after close it does
// nothing and reports false.
func (m *mux) goFunc(f func()) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f()
	}()
	return true
}

// close closes every tracked stream and waits for the mux's goroutines.
func (m *mux) close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	close(m.done)
	conns := m.conns
	m.conns = map[*trackedConn]struct{}{}
	m.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
	m.wg.Wait()
}

type trackedConn struct {
	net.Conn
	m    *mux
	once sync.Once
}

// Read reports a stream cut by the node's own Close as its end, io.EOF:
// that is what it is to the reader, and raft logs anything else as an
// error.
func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && err != io.EOF {
		select {
		case <-c.m.done:
			err = io.EOF
		default:
		}
	}
	return n, err
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.m.mu.Lock()
		delete(c.m.conns, c)
		c.m.mu.Unlock()
	})
	return c.Conn.Close()
}

func (m *mux) track(c net.Conn) (net.Conn, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		c.Close()
		return nil, ErrClosed
	}
	tc := &trackedConn{Conn: c, m: m}
	m.conns[tc] = struct{}{}
	return tc, nil
}

// serveConn reads the header of an inbound stream and hands it on.
func (m *mux) serveConn(raw net.Conn) {
	conn, err := m.track(raw)
	if err != nil {
		return
	}
	conn.SetDeadline(time.Now().Add(headerTimeout))
	if tc, ok := raw.(*tls.Conn); ok {
		if err := tc.Handshake(); err != nil {
			m.log.Warn("raftstore: rejected connection", "remote", raw.RemoteAddr(), "err", err)
			conn.Close()
			return
		}
	}
	br := byteReader{conn}
	kind, err := br.ReadByte()
	if err != nil {
		conn.Close()
		return
	}
	var shard uint64
	if kind == KindRaft {
		if shard, err = binary.ReadUvarint(br); err != nil || shard >= uint64(len(m.raft)) || m.raft[shard] == nil {
			conn.Close()
			return
		}
	}
	conn.SetDeadline(time.Time{})
	switch kind {
	case KindRaft:
		m.raft[shard].deliver(conn)
	case KindAdmin:
		m.admin(conn)
	default:
		m.mu.Lock()
		l := m.kinds[kind]
		m.mu.Unlock()
		if l == nil {
			conn.Close()
			return
		}
		l.deliver(conn)
	}
}

// byteReader reads the header a byte at a time so that nothing past it is
// consumed before the stream is handed on.
type byteReader struct{ r io.Reader }

func (b byteReader) ReadByte() (byte, error) {
	var p [1]byte
	_, err := io.ReadFull(b.r, p[:])
	return p[0], err
}

// dial opens a stream of the given header to addr.
func (m *mux) dial(ctx context.Context, addr string, header []byte) (net.Conn, error) {
	select {
	case <-m.done:
		return nil, ErrClosed
	default:
	}
	raw, err := m.net.dial(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("raftstore: dial %s: %w", addr, err)
	}
	conn, err := m.track(raw)
	if err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		conn.SetWriteDeadline(d)
	}
	if _, err := conn.Write(header); err != nil {
		conn.Close()
		return nil, fmt.Errorf("raftstore: dial %s: %w", addr, err)
	}
	conn.SetWriteDeadline(time.Time{})
	return conn, nil
}

// listen registers a listener for an application kind.
func (m *mux) listen(kind byte) net.Listener {
	if kind == KindRaft || kind == KindAdmin {
		panic(fmt.Sprintf("raftstore: stream kind %q is reserved", kind))
	}
	if !applicationKinds[kind] && kind != KindPropose {
		panic(fmt.Sprintf("raftstore: stream kind %q is not registered (see the kinds in mux.go)", kind))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kinds[kind] != nil {
		panic(fmt.Sprintf("raftstore: stream kind %q already has a listener", kind))
	}
	l := &kindListener{m: m, kind: kind, conns: make(chan net.Conn), closed: make(chan struct{})}
	m.kinds[kind] = l
	return l
}

// kindListener is a net.Listener of the streams of one kind. Streams wait
// in their own goroutine until accepted, so a slow Accept loop delays only
// its own kind.
type kindListener struct {
	m      *mux
	kind   byte
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *kindListener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.closed:
		c.Close()
	case <-l.m.done:
		c.Close()
	}
}

func (l *kindListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
	case <-l.m.done:
	}
	return nil, net.ErrClosed
}

func (l *kindListener) Close() error {
	l.once.Do(func() {
		close(l.closed)
		l.m.mu.Lock()
		if l.m.kinds[l.kind] == l {
			delete(l.m.kinds, l.kind)
		}
		l.m.mu.Unlock()
	})
	return nil
}

func (l *kindListener) Addr() net.Addr { return addr(l.m.net.addr()) }

// addr is a net.Addr that is already a dialable string.
type addr string

func (a addr) Network() string { return "tcp" }
func (a addr) String() string  { return string(a) }

// streamLayer is one shard's raft.StreamLayer over the node's port.
type streamLayer struct {
	m      *mux
	header []byte
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newStreamLayer(m *mux, shard int) *streamLayer {
	header := binary.AppendUvarint([]byte{KindRaft}, uint64(shard))
	s := &streamLayer{m: m, header: header, conns: make(chan net.Conn), closed: make(chan struct{})}
	m.raft[shard] = s
	return s
}

func (s *streamLayer) deliver(c net.Conn) {
	select {
	case s.conns <- c:
	case <-s.closed:
		c.Close()
	case <-s.m.done:
		c.Close()
	}
}

func (s *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.closed:
	case <-s.m.done:
	}
	return nil, net.ErrClosed
}

func (s *streamLayer) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

func (s *streamLayer) Addr() net.Addr { return addr(s.m.net.addr()) }

func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.m.dial(ctx, string(address), s.header)
}
