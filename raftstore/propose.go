package raftstore

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	sh "github.com/accord-chat/accord/core/shard"
)

// Proposals. A request holds locks of the state machine while it
// proposes (so that its place in the log is its place in the sequencer's
// order), and raft.Apply can block while Raft's pipeline is full; so
// Propose only queues the entry, and one goroutine per shard hands the
// queue to Raft in order. Propose never blocks.

// maxForwarded bounds one entry forwarded to a leader.
const maxForwarded = 8 << 20

// proposal is one queued entry and, once handed to Raft, its future.
type proposal struct {
	data   []byte
	issued chan struct{} // closed once fut or err is set
	fut    raft.ApplyFuture
	err    error
}

// proposer is a shard's queue of proposals.
type proposer struct {
	mu     sync.Mutex
	items  []*proposal
	closed bool
	signal chan struct{}
}

func newProposer() *proposer { return &proposer{signal: make(chan struct{}, 1)} }

// Propose appends data to the shard's log after every entry this node
// proposed to it before, and returns at once; wait returns once the entry
// is committed and applied on this node (nil, or the error the state
// machine answered), or failed: leadership lost, the node closed, the
// shard halted. It does not check leadership: off the leader, wait
// returns a *shard.NotLeaderError.
func (n *Node) Propose(shard int, data []byte) (wait func() error) {
	s, err := n.shard(shard)
	if err != nil {
		return func() error { return err }
	}
	p := &proposal{data: data, issued: make(chan struct{})}
	q := s.proposer
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return func() error { return ErrClosed }
	}
	q.items = append(q.items, p)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
	return func() error { return n.awaitProposal(shard, p) }
}

func (n *Node) awaitProposal(shard int, p *proposal) error {
	select {
	case <-p.issued:
	case <-n.ctx.Done():
		return ErrClosed
	}
	if p.err != nil {
		return p.err
	}
	// Raft never answers an Apply still queued when it shuts down: wait
	// for the future, or for the node's end.
	res := make(chan error, 1)
	go func() { res <- p.fut.Error() }()
	select {
	case err := <-res:
		if errors.Is(err, raft.ErrNotLeader) {
			return n.notLeader(shard)
		}
		if err != nil {
			return n.closedOr(err)
		}
	case <-n.futures.down:
		return ErrClosed
	}
	if err, ok := p.fut.Response().(error); ok && err != nil {
		return err
	}
	return nil
}

// runProposer hands the shard's queue to Raft until the node closes.
func (n *Node) runProposer(shard int, s *shard) {
	q := s.proposer
	for {
		select {
		case <-n.ctx.Done():
			q.mu.Lock()
			items := q.items
			q.items, q.closed = nil, true
			q.mu.Unlock()
			for _, p := range items {
				p.err = ErrClosed
				close(p.issued)
			}
			return
		case <-q.signal:
		}
		for {
			q.mu.Lock()
			items := q.items
			q.items = nil
			q.mu.Unlock()
			if len(items) == 0 {
				break
			}
			for _, p := range items {
				p.fut = s.raft.Apply(p.data, 0)
				close(p.issued)
			}
		}
	}
}

// watchLeadership tells the state machine when this node gains or loses
// the shard's leadership, until the node closes.
func (n *Node) watchLeadership(shard int, s *shard) {
	ch := make(chan raft.Observation, 8)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	s.raft.RegisterObserver(obs)
	defer s.raft.DeregisterObserver(obs)
	was := false
	check := func() {
		is := s.raft.State() == raft.Leader
		if is != was {
			was = is
			n.cfg.Machine.LeadershipChanged(shard, is)
		}
	}
	check()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-ch:
			check()
		}
	}
}

// Forward proposes data through the shard's leader from any node, and
// returns once the leader has it committed and applied: on the leader it
// is Propose; elsewhere the entry travels over a KindPropose stream. It
// retries while the shard elects a leader, until ctx ends.
func (n *Node) Forward(ctx context.Context, shard int, data []byte) error {
	if _, err := n.shard(shard); err != nil {
		return err
	}
	for {
		if n.IsLeader(shard) {
			return n.Propose(shard, data)()
		}
		if leader, _ := n.Leader(shard); leader != "" && leader != n.Addr() {
			err := n.forwardTo(ctx, leader, shard, data)
			if err == nil || ctx.Err() != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("raftstore: forward to the leader of shard %d: %w", shard, ctx.Err())
		case <-n.ctx.Done():
			return ErrClosed
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (n *Node) forwardTo(ctx context.Context, leader string, shard int, data []byte) error {
	if len(data) > maxForwarded {
		return fmt.Errorf("raftstore: forwarded entry of %d bytes exceeds %d", len(data), maxForwarded)
	}
	conn, err := n.mux.dial(ctx, leader, []byte{KindPropose})
	if err != nil {
		return err
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	} else {
		_ = conn.SetDeadline(time.Now().Add(forwardTimeout))
	}
	hdr := binary.AppendUvarint(nil, uint64(shard))
	hdr = binary.AppendUvarint(hdr, uint64(len(data)))
	if _, err := conn.Write(append(hdr, data...)); err != nil {
		return err
	}
	reply, err := io.ReadAll(io.LimitReader(conn, 4096))
	if err != nil {
		return err
	}
	if len(reply) == 0 {
		return errors.New("raftstore: forwarded proposal: no answer")
	}
	if reply[0] != 0 {
		return fmt.Errorf("raftstore: forwarded proposal: %s", reply[1:])
	}
	return nil
}

// forwardTimeout bounds a forwarded proposal without a deadline of its own.
const forwardTimeout = 30 * time.Second

// serveProposals proposes the entries other nodes forward, while this
// node leads their shard.
func (n *Node) serveProposals(ln net.Listener) {
	go func() {
		<-n.ctx.Done()
		ln.Close()
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		if !n.mux.goFunc(func() { n.handleProposal(conn) }) {
			conn.Close()
			return
		}
	}
}

func (n *Node) handleProposal(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(forwardTimeout))
	br := bufio.NewReader(conn)
	answer := func(err error) {
		if err == nil {
			_, _ = conn.Write([]byte{0})
			return
		}
		_, _ = conn.Write(append([]byte{1}, err.Error()...))
	}
	shard, err := binary.ReadUvarint(br)
	if err != nil || shard >= uint64(len(n.shards)) {
		answer(errors.New("bad shard"))
		return
	}
	size, err := binary.ReadUvarint(br)
	if err != nil || size > maxForwarded {
		answer(errors.New("bad length"))
		return
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(br, data); err != nil {
		return
	}
	if !n.IsLeader(int(shard)) {
		answer(&sh.NotLeaderError{Shard: int(shard)})
		return
	}
	answer(n.Propose(int(shard), data)())
}
