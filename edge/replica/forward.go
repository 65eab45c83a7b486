package replica

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/hashicorp/raft"

	"github.com/accord-chat/accord/core/engine"
)

// kindPropose is the internal stream kind of entries a node proposes
// through another node, the shard's leader.
const kindPropose = 'P'

// maxForwarded bounds one forwarded entry.
const maxForwarded = 8 << 20

// Streams is the part of raftstore.Node that carries forwarded proposals.
type Streams interface {
	Listen(kind byte) net.Listener
	Dial(ctx context.Context, addr string, kind byte) (net.Conn, error)
}

// Shards implements engine.Replicator.
func (r *Replica) Shards() int { return r.n }

// Forward implements engine.Replicator: it sends the entry to the shard's
// leader, which proposes it and answers once it is committed.
func (r *Replica) Forward(ctx context.Context, shard int, data []byte) error {
	st, ok := r.shards.(Streams)
	if !ok {
		// No network to forward over (bare Raft groups in tests): the
		// caller must find the leader itself.
		_, leader := r.Leader(shard)
		return &engine.NotLeaderError{Shard: shard, Leader: leader}
	}
	for {
		self, leader := r.Leader(shard)
		if self {
			return r.Propose(shard, data)()
		}
		if leader != "" {
			err := r.forwardTo(ctx, st, leader, shard, data)
			if err == nil {
				return nil
			}
			if ctx.Err() != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("forward to shard %d leader: %w", shard, ctx.Err())
		case <-r.stop:
			return raft.ErrRaftShutdown
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (r *Replica) forwardTo(ctx context.Context, st Streams, leader string, shard int, data []byte) error {
	conn, err := st.Dial(ctx, leader, kindPropose)
	if err != nil {
		return err
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	} else {
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
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
		return errors.New("forwarded proposal: no answer")
	}
	if reply[0] != 0 {
		return fmt.Errorf("forwarded proposal: %s", reply[1:])
	}
	return nil
}

// serveForwarded proposes entries other nodes send, while this node leads
// their shard.
func (r *Replica) serveForwarded(ln net.Listener) {
	defer r.wg.Done()
	go func() {
		<-r.stop
		ln.Close()
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go r.handleForwarded(conn)
	}
}

func (r *Replica) handleForwarded(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	answer := func(err error) {
		if err == nil {
			_, _ = conn.Write([]byte{0})
			return
		}
		_, _ = conn.Write(append([]byte{1}, err.Error()...))
	}
	shard, err := binary.ReadUvarint(br)
	if err != nil || shard >= uint64(r.n) {
		answer(errors.New("bad shard"))
		return
	}
	n, err := binary.ReadUvarint(br)
	if err != nil || n > maxForwarded {
		answer(errors.New("bad length"))
		return
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(br, data); err != nil {
		return
	}
	if self, _ := r.Leader(int(shard)); !self {
		answer(errors.New("not the leader"))
		return
	}
	answer(r.Propose(int(shard), data)())
}
