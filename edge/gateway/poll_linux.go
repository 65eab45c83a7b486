package gateway

import (
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const canPoll = true

// poller is one epoll instance watching idle connections, and the
// goroutine that waits on it. Each socket is armed one-shot: after an
// event the poller leaves it alone until the reader re-arms it, so at
// most one reader runs per connection. Events carry a connection id, not
// the fd, because a closed fd's number is soon another connection's.
type poller struct {
	epfd int
	// The epoll instance is itself a pollable file: run waits for it in
	// the runtime's poller, parked like any goroutine waiting for a
	// socket, rather than in a blocking epoll_wait that would pin a
	// thread in a system call (and have sysmon look at it every 20 µs
	// after every wake-up).
	file *os.File
	ep   syscall.RawConn
	wake int // eventfd: a write ends run
	done chan struct{}

	mu     sync.Mutex
	conns  map[uint64]*conn
	nextID uint64
}

// pollEvents: readable, or the peer hung up; one-shot.
const pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	// id 0 is the wake-up; connections count from 1.
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN}); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, err
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, err
	}
	file := os.NewFile(uintptr(epfd), "gateway-epoll")
	ep, err := file.SyscallConn()
	if err != nil {
		file.Close()
		unix.Close(wake)
		return nil, err
	}
	return &poller{epfd: epfd, file: file, ep: ep, wake: wake, done: make(chan struct{}), conns: map[uint64]*conn{}}, nil
}

func pollEvent(id uint64) *unix.EpollEvent {
	return &unix.EpollEvent{Events: pollEvents, Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
}

// add registers c and arms it.
func (p *poller) add(c *conn) error {
	p.mu.Lock()
	p.nextID++
	c.pollID = p.nextID
	p.conns[c.pollID] = c
	p.mu.Unlock()
	err := p.ctl(c, unix.EPOLL_CTL_ADD)
	if err != nil {
		p.forget(c)
	}
	return err
}

// rearm lets the next event on c through.
func (p *poller) rearm(c *conn) error { return p.ctl(c, unix.EPOLL_CTL_MOD) }

// ctl runs inside RawConn.Control, which keeps the fd open meanwhile: a
// concurrent closeNow cannot hand its number to another socket between
// the lookup and the epoll_ctl.
func (p *poller) ctl(c *conn, op int) error {
	var err error
	if cerr := c.raw.Control(func(fd uintptr) {
		err = unix.EpollCtl(p.epfd, op, int(fd), pollEvent(c.pollID))
	}); cerr != nil {
		return cerr
	}
	return err
}

// forget drops c from the table. Its fd leaves the epoll set when it is
// closed (it is never duplicated), so no EPOLL_CTL_DEL is needed.
func (p *poller) forget(c *conn) {
	p.mu.Lock()
	delete(p.conns, c.pollID)
	p.mu.Unlock()
}

// run waits for events and starts a reader for each ready connection,
// until close.
func (p *poller) run(s *Server) {
	defer close(p.done)
	events := make([]unix.EpollEvent, 128)
	for {
		var n int
		var err error
		if rerr := p.ep.Read(func(fd uintptr) bool {
			n, err = unix.EpollWait(int(fd), events, 0)
			return n != 0 || err != nil // nothing yet: park until the instance is readable
		}); rerr != nil {
			s.log.Error("gateway: wait for the epoll instance", "err", rerr)
			return
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			s.log.Error("gateway: epoll_wait", "err", err)
			return
		}
		for i := range events[:n] {
			id := uint64(uint32(events[i].Fd)) | uint64(uint32(events[i].Pad))<<32
			if id == 0 {
				return
			}
			p.mu.Lock()
			c := p.conns[id]
			p.mu.Unlock()
			if c != nil && c.rstate.CompareAndSwap(readArmed, readBusy) {
				go s.readReady(c)
			}
		}
	}
}

// close stops run and releases the epoll instance. Connections must have
// ended first.
func (p *poller) close() {
	var one = [8]byte{1}
	_, _ = unix.Write(p.wake, one[:])
	<-p.done
	p.file.Close()
	unix.Close(p.wake)
}

// readSome reads what is already buffered on the socket, without waiting:
// errWouldBlock if nothing is.
func readSome(raw syscall.RawConn, buf []byte) (int, error) {
	var n int
	var err error
	if cerr := raw.Read(func(fd uintptr) bool {
		for {
			n, err = unix.Read(int(fd), buf)
			if err != unix.EINTR {
				return true // never wait in the runtime's poller
			}
		}
	}); cerr != nil {
		return 0, cerr
	}
	switch {
	case err == unix.EAGAIN:
		return 0, errWouldBlock
	case err != nil:
		return 0, err
	}
	return n, nil
}

// rawWriter writes what a socket takes now, without waiting. Each writer
// goroutine keeps one: a closure made per call to RawConn.Write would be
// an allocation per delivery.
type rawWriter struct {
	b   []byte
	n   int
	err error
	fn  func(fd uintptr)
}

func newRawWriter() *rawWriter {
	w := &rawWriter{}
	// A raw system call: the write never blocks (the socket is
	// non-blocking), so the runtime need not know a system call is under
	// way. With syscall.Syscall each of the thousands of writes of a
	// fan-out entered and left the scheduler's syscall state, and sysmon,
	// seeing writers in system calls all the time, kept waking every 20
	// µs to hand their Ps over: 7 % of the gateway's CPU at 50,000
	// deliveries a second.
	w.fn = func(fd uintptr) {
		for {
			r, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(w.b))), uintptr(len(w.b)))
			switch e {
			case unix.EINTR:
				continue
			case 0:
				w.n, w.err = int(r), nil
			default:
				w.n, w.err = 0, e
			}
			return
		}
	}
	return w
}

// write writes b, or its beginning: 0 bytes, and no error, if the socket
// takes nothing. Control, not Write: it only holds the descriptor open,
// without the write lock and poller reset that Write adds per call; the
// connection's write role (conn.writing) already makes the writer the only
// one writing.
func (w *rawWriter) write(raw syscall.RawConn, b []byte) (int, error) {
	w.b = b
	defer func() { w.b = nil }()
	if err := raw.Control(w.fn); err != nil {
		return 0, err
	}
	switch {
	case w.err == unix.EAGAIN:
		return 0, nil
	case w.err != nil:
		return 0, w.err
	}
	return w.n, nil
}
