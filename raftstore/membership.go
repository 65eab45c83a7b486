package raftstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	sh "github.com/accord-chat/accord/core/shard"

	"github.com/hashicorp/raft"
)

// Membership changes act on every shard. Each shard's change must run on
// its leader; the node that takes the request drives them all: it applies
// those it leads, forwards the rest to their leaders (who act only as
// leaders, never forward again, so leadership in flux cannot loop a
// request), and retries what failed until ctx ends.

const (
	opAdd     = "add"
	opRemove  = "remove"
	opMembers = "members"
)

// changeTimeout bounds one configuration change when ctx has no deadline.
const changeTimeout = 10 * time.Second

// AddNode makes the node id, reachable at addr, a member of every shard: a
// voter while the shard has fewer than MaxVoters, else a non-voter. Adding
// a member again is a no-op; with a new address it updates the address.
func (n *Node) AddNode(ctx context.Context, id, addr string) error {
	if id == "" || addr == "" {
		return errors.New("raftstore: add node: id and addr are required")
	}
	return n.changeAll(ctx, adminRequest{Op: opAdd, ID: id, Addr: addr})
}

// RemoveNode removes the node id from every shard; removing a non-member is
// a no-op. A shard this node leads and would lose hands its leadership
// over first, so the shard does not wait out an election. Non-voters are
// promoted into the freed voter slots.
func (n *Node) RemoveNode(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("raftstore: remove node: id is required")
	}
	return n.changeAll(ctx, adminRequest{Op: opRemove, ID: id})
}

func (n *Node) changeAll(ctx context.Context, req adminRequest) error {
	ctx, cancel := n.bind(ctx)
	defer cancel()
	pending := make(map[int]error, len(n.shards)) // shard → its last error
	for i := range n.shards {
		pending[i] = nil
	}
	delay := 50 * time.Millisecond
	for {
		remote := map[string][]int{}
		for i := range pending {
			if n.IsLeader(i) {
				if err := n.changeLocal(ctx, i, req); err != nil {
					pending[i] = err
				} else {
					delete(pending, i)
				}
				continue
			}
			leader, _ := n.Leader(i)
			if leader == "" || leader == n.Addr() {
				pending[i] = &sh.NotLeaderError{Shard: i}
				continue
			}
			remote[leader] = append(remote[leader], i)
		}
		for leader, shards := range remote {
			fwd := req
			fwd.Shards = shards
			resp, err := n.adminCall(ctx, leader, fwd)
			if err != nil {
				for _, i := range shards {
					pending[i] = err
				}
				continue
			}
			for _, r := range resp.Results {
				if r.Error == "" {
					delete(pending, r.Shard)
				} else {
					pending[r.Shard] = fmt.Errorf("via %s: %s", leader, r.Error)
				}
			}
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if n.ctx.Err() != nil {
				return ErrClosed
			}
			return fmt.Errorf("raftstore: %s %s: %w", req.Op, req.ID, errors.Join(ctx.Err(), shardErrors(pending)))
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

func shardErrors(m map[int]error) error {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "shard %d: %v", k, m[k])
	}
	return errors.New(b.String())
}

// changeLocal applies req to one shard this node leads. It is idempotent:
// it compares against the current configuration first, and then fills
// free voter slots with non-voters, so a retry finishes a half-done change.
func (n *Node) changeLocal(ctx context.Context, shard int, req adminRequest) error {
	r := n.shards[shard].raft
	timeout := changeTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	f := r.GetConfiguration()
	if err := f.Error(); err != nil {
		return n.closedOr(err)
	}
	servers := f.Configuration().Servers
	voters := 0
	var cur *raft.Server
	for i, s := range servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
		if string(s.ID) == req.ID {
			cur = &servers[i]
		}
	}
	id := raft.ServerID(req.ID)
	var err error
	switch req.Op {
	case opAdd:
		if cur != nil && cur.Address == raft.ServerAddress(req.Addr) &&
			(cur.Suffrage == raft.Voter || voters >= n.cfg.MaxVoters) {
			break
		}
		if cur != nil && cur.Suffrage == raft.Voter {
			voters-- // a new address keeps the node's slot
		}
		addr := raft.ServerAddress(req.Addr)
		if voters < n.cfg.MaxVoters {
			_, err = n.run(ctx, func() raft.Future { return r.AddVoter(id, addr, 0, timeout) })
		} else {
			_, err = n.run(ctx, func() raft.Future { return r.AddNonvoter(id, addr, 0, timeout) })
		}
	case opRemove:
		if cur == nil {
			break
		}
		if req.ID == n.cfg.NodeID {
			// Hand over first; the new leader then removes us.
			if _, terr := n.run(ctx, r.LeadershipTransfer); terr == nil {
				return n.notLeader(shard)
			}
		}
		_, err = n.run(ctx, func() raft.Future { return r.RemoveServer(id, 0, timeout) })
	default:
		return fmt.Errorf("raftstore: unknown membership op %q", req.Op)
	}
	if err != nil {
		return err
	}
	return n.fillVoters(ctx, shard, timeout)
}

// fillVoters promotes non-voters while the shard has fewer than MaxVoters.
func (n *Node) fillVoters(ctx context.Context, shard int, timeout time.Duration) error {
	r := n.shards[shard].raft
	if r.State() != raft.Leader {
		return nil // we removed ourselves; the next leader fills the slot on a retry
	}
	f := r.GetConfiguration()
	if err := f.Error(); err != nil {
		return n.closedOr(err)
	}
	voters := 0
	var nonvoters []raft.Server
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters++
		} else {
			nonvoters = append(nonvoters, s)
		}
	}
	for _, s := range nonvoters {
		if voters >= n.cfg.MaxVoters {
			break
		}
		if _, err := n.run(ctx, func() raft.Future { return r.AddVoter(s.ID, s.Address, 0, timeout) }); err != nil {
			return fmt.Errorf("promote %s: %w", s.ID, err)
		}
		voters++
	}
	return nil
}
