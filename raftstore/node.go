package raftstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	sh "github.com/accord-chat/accord/core/shard"

	"github.com/hashicorp/raft"
)

// Node is one member of a region: it runs every shard's raft.Raft and owns
// the node's internal port.
type Node struct {
	cfg    Config
	log    *slog.Logger
	net    network
	mux    *mux
	shards []*shard

	ctx    context.Context // ends at Close; bounds background and admin work
	cancel context.CancelFunc

	futures *futures

	closeOnce sync.Once
	closeErr  error
}

type shard struct {
	raft     *raft.Raft
	fsm      *appliedFSM
	proposer *proposer
	halt     atomic.Pointer[HaltError]
	logs     raft.LogStore
	trans    raft.Transport
	hadState bool // before this start; decides bootstrap and join
	close    func() error
}

// New opens every shard's stores under cfg.DataDir, binds cfg.BindAddr and
// starts every shard's Raft. A node with state rejoins its shards by
// itself; a new one waits for Start to bootstrap or join.
func New(cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.DataDir != "" {
		if err := claimDataDir(cfg.DataDir, cfg.NodeID); err != nil {
			return nil, err
		}
	}
	nw, err := listenTCP(cfg)
	if err != nil {
		return nil, err
	}
	return newNode(cfg, nw)
}

// newNode builds a Node on any network; cfg has its defaults.
func newNode(cfg Config, nw network) (*Node, error) {
	n := &Node{cfg: cfg, log: cfg.Logger, net: nw, futures: newFutures()}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.mux = newMux(nw, n.log, cfg.Shards)
	n.mux.admin = n.serveAdmin
	for i := range cfg.Shards {
		s, err := n.openShard(i)
		if err != nil {
			n.Close()
			return nil, err
		}
		n.shards = append(n.shards, s)
	}
	nw.serve(n.mux)
	if cfg.Machine != nil {
		ln := n.mux.listen(KindPropose)
		n.mux.goFunc(func() { n.serveProposals(ln) })
		for i, s := range n.shards {
			n.mux.goFunc(func() { n.runProposer(i, s) })
			n.mux.goFunc(func() { n.watchLeadership(i, s) })
		}
	}
	return n, nil
}

func (n *Node) openShard(i int) (*shard, error) {
	rc := n.cfg.raftConfig(i)
	io, err := n.net.openShard(n.cfg, i, n.mux, rc.Logger)
	if err != nil {
		return nil, err
	}
	hadState, err := raft.HasExistingState(io.logs, io.stable, io.snaps)
	if err != nil {
		io.close()
		return nil, fmt.Errorf("raftstore: shard %d: %w", i, err)
	}
	s := &shard{proposer: newProposer()}
	var inner raft.FSM
	if n.cfg.Machine != nil {
		inner = &machineFSM{m: n.cfg.Machine, shard: i, halted: func(h *HaltError) { n.halted(s, h) }}
	} else {
		inner = n.cfg.FSM(i)
	}
	fsm := newAppliedFSM(inner)
	r, err := raft.NewRaft(rc, fsm, io.logs, io.stable, indexedSnapshots{io.snaps}, io.trans)
	if err != nil {
		if c, ok := io.trans.(raft.WithClose); ok {
			c.Close()
		}
		io.close()
		return nil, fmt.Errorf("raftstore: shard %d: start raft: %w", i, err)
	}
	s.raft, s.fsm, s.logs, s.trans, s.hadState, s.close = r, fsm, io.logs, io.trans, hadState, io.close
	return s, nil
}

// halted records that a shard stopped applying (on its apply goroutine)
// and, if this node leads it, hands the leadership to a node that may
// still apply.
func (n *Node) halted(s *shard, h *HaltError) {
	s.halt.Store(h)
	n.log.Error("raftstore: shard halted: an entry cannot be applied; this node stays unhealthy until restarted with a binary that can apply it",
		"shard", h.Shard, "index", h.Index, "err", h.Err)
	if s.raft.State() == raft.Leader {
		// Not waited for: this is the apply goroutine, which the transfer
		// needs to make progress.
		n.mux.goFunc(func() { s.raft.LeadershipTransfer() })
	}
}

// Health is nil while every shard applies; otherwise it says which shards
// halted and why (see StateMachine).
func (n *Node) Health() error {
	var errs []error
	for _, s := range n.shards {
		if h := s.halt.Load(); h != nil {
			errs = append(errs, h)
		}
	}
	return errors.Join(errs...)
}

// Halted is the number of shards that stopped applying.
func (n *Node) Halted() int {
	c := 0
	for _, s := range n.shards {
		if s.halt.Load() != nil {
			c++
		}
	}
	return c
}

// Start makes a new node a member: with Bootstrap it becomes the sole voter
// of every shard without state; with Join it asks the listed members, in
// turn, to add it, and returns once one has, or when ctx ends. A node that
// already has state in every shard does nothing. Elections follow; see
// WaitLeaders.
func (n *Node) Start(ctx context.Context) error {
	ctx, cancel := n.bind(ctx)
	defer cancel()
	switch {
	case n.cfg.Bootstrap:
		self := raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(n.cfg.NodeID), Address: raft.ServerAddress(n.Addr())}
		for i, s := range n.shards {
			if s.hadState {
				continue
			}
			_, err := n.run(ctx, func() raft.Future {
				return s.raft.BootstrapCluster(raft.Configuration{Servers: []raft.Server{self}})
			})
			if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
				return fmt.Errorf("raftstore: bootstrap shard %d: %w", i, err)
			}
		}
	case len(n.cfg.Join) > 0:
		for _, s := range n.shards {
			if !s.hadState {
				return n.join(ctx)
			}
		}
	}
	return nil
}

func (n *Node) join(ctx context.Context) error {
	req := adminRequest{Op: opAdd, ID: n.cfg.NodeID, Addr: n.Addr()}
	delay := 100 * time.Millisecond
	for {
		var errs []error
		for _, via := range n.cfg.Join {
			if via == n.Addr() {
				continue
			}
			if _, err := n.adminCall(ctx, via, req); err != nil {
				errs = append(errs, fmt.Errorf("via %s: %w", via, err))
				continue
			}
			n.log.Info("raftstore: joined", "via", via)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("raftstore: join: %w", errors.Join(append(errs, ctx.Err())...))
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// WaitLeaders blocks until every shard knows a leader: after Start, before
// serving; or to wait out an election in tests.
func (n *Node) WaitLeaders(ctx context.Context) error {
	ctx, cancel := n.bind(ctx)
	defer cancel()
	for i := range n.shards {
		for {
			if addr, _ := n.Leader(i); addr != "" {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("raftstore: shard %d has no leader: %w", i, ctx.Err())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return nil
}

// Close stops every shard's Raft, the port, every stream and goroutine of
// the node, then closes the stores. Raft requests in flight (Apply,
// membership changes) first get up to 2×ElectionTimeout+2s to settle;
// new ones fail with ErrClosed. It is safe to call more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.cancel()
		// Let requests in flight settle while Raft and the network still
		// work (see futures).
		select {
		case <-n.futures.drain():
		case <-time.After(2*n.cfg.ElectionTimeout + transportTimeout):
			n.log.Warn("raftstore: closing with Raft requests unsettled")
		}
		n.net.close()
		// Raft before the streams: peers see it go without error noise.
		var wg sync.WaitGroup
		errs := make([]error, len(n.shards))
		for i, s := range n.shards {
			wg.Go(func() {
				if err := s.raft.Shutdown().Error(); err != nil {
					errs[i] = fmt.Errorf("shard %d: shutdown: %w", i, err)
				}
			})
		}
		wg.Wait()
		close(n.futures.down)
		n.mux.close()
		for i, s := range n.shards {
			if err := s.close(); err != nil {
				errs = append(errs, fmt.Errorf("shard %d: close store: %w", i, err))
			}
		}
		if err := errors.Join(errs...); err != nil {
			n.closeErr = fmt.Errorf("raftstore: close: %w", err)
		}
	})
	return n.closeErr
}

// bind returns a context that also ends when the node closes.
func (n *Node) bind(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(n.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// Addr is the node's advertised address: what peers dial and what Leader
// and NotLeaderError report.
func (n *Node) Addr() string { return n.net.addr() }

// ID is the node's raft.ServerID.
func (n *Node) ID() string { return n.cfg.NodeID }

// Shards is the number of Raft groups.
func (n *Node) Shards() int { return len(n.shards) }

// Raft gives direct access to a shard's Raft, for what this package does
// not wrap (stats, observers, forced snapshots). Like Leader and IsLeader
// it panics on a shard outside [0, Shards).
func (n *Node) Raft(shard int) *raft.Raft { return n.shards[shard].raft }

func (n *Node) shard(i int) (*shard, error) {
	if i < 0 || i >= len(n.shards) {
		return nil, fmt.Errorf("%w: %d of %d", ErrNoShard, i, len(n.shards))
	}
	if n.ctx.Err() != nil {
		return nil, ErrClosed
	}
	return n.shards[i], nil
}

// Leader returns the address and ID of the shard's leader as this node
// knows it; both are empty during an election.
func (n *Node) Leader(shard int) (addr, id string) {
	a, i := n.shards[shard].raft.LeaderWithID()
	return string(a), string(i)
}

// IsLeader reports whether this node leads the shard. It can be stale by up
// to LeaderLeaseTimeout; Apply is what decides.
func (n *Node) IsLeader(shard int) bool { return n.shards[shard].raft.State() == raft.Leader }

// Apply proposes cmd on shard and returns once this node's FSM has applied
// it: the entry's log index and what the FSM's Apply returned (an error
// there is a response, not a failure of Apply). Off the leader it returns
// a *NotLeaderError. Any other error, including ctx ending and
// raft.ErrLeadershipLost, leaves the outcome unknown: the entry may still
// commit.
func (n *Node) Apply(ctx context.Context, shard int, cmd []byte) (index uint64, resp any, err error) {
	s, err := n.shard(shard)
	if err != nil {
		return 0, nil, err
	}
	if s.raft.State() != raft.Leader {
		return 0, nil, n.notLeader(shard)
	}
	var timeout time.Duration // 0: wait as long as it takes to enqueue
	if d, ok := ctx.Deadline(); ok {
		if timeout = time.Until(d); timeout <= 0 {
			return 0, nil, fmt.Errorf("raftstore: apply on shard %d: %w", shard, context.DeadlineExceeded)
		}
	}
	f, err := n.run(ctx, func() raft.Future { return s.raft.Apply(cmd, timeout) })
	if err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return 0, nil, n.notLeader(shard)
		}
		return 0, nil, fmt.Errorf("raftstore: apply on shard %d: %w", shard, err)
	}
	af := f.(raft.ApplyFuture)
	return af.Index(), af.Response(), nil
}

func (n *Node) notLeader(shard int) error {
	addr, _ := n.Leader(shard)
	return &sh.NotLeaderError{Shard: shard, Leader: addr}
}

func (n *Node) closedOr(err error) error {
	if errors.Is(err, raft.ErrRaftShutdown) && n.ctx.Err() != nil {
		return ErrClosed
	}
	return err
}

// WaitApplied blocks until this node's FSM for shard has applied index:
// after it, a read of this node's FSM sees every write acknowledged up to
// index anywhere in the region.
func (n *Node) WaitApplied(ctx context.Context, shard int, index uint64) error {
	s, err := n.shard(shard)
	if err != nil {
		return err
	}
	var tick *time.Ticker
	for {
		changed := s.fsm.wait()
		if s.appliedThrough(index) {
			return nil
		}
		if tick == nil {
			// Entries the FSM never sees (a new leader's no-op) move no
			// notification; a slow poll covers them.
			tick = time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("raftstore: wait for index %d on shard %d: %w", index, shard, ctx.Err())
		case <-n.ctx.Done():
			return ErrClosed
		}
	}
}

// appliedThrough reports whether the FSM reflects every entry up to index.
func (s *shard) appliedThrough(index uint64) bool {
	applied := s.fsm.applied.Load()
	if applied >= index {
		return true
	}
	if s.raft.AppliedIndex() < index {
		return false // not even handed to the FSM yet
	}
	// Handed over: done unless a command or configuration in (applied,
	// index] is still queued for the FSM. Only no-ops and barriers are
	// skipped by it, one per term at most, so the scan is short.
	const maxScan = 1024
	for i := applied + 1; i <= index && i <= applied+maxScan; i++ {
		var l raft.Log
		if err := s.logs.GetLog(i, &l); err != nil {
			continue // compacted into a snapshot, which the FSM already holds
		}
		if l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			return false
		}
	}
	return index-applied <= maxScan
}

// Applied is the last index of the shard this node's state machine has
// applied: a read here after Applied returns i sees every write the
// region acknowledged up to i.
func (n *Node) Applied(shard int) uint64 { return n.shards[shard].fsm.applied.Load() }

// Snapshot takes a snapshot of the shard now and compacts its log (down
// to TrailingLogs entries), as Raft does by itself every SnapshotInterval.
func (n *Node) Snapshot(ctx context.Context, shard int) error {
	s, err := n.shard(shard)
	if err != nil {
		return err
	}
	if _, err := n.run(ctx, func() raft.Future { return s.raft.Snapshot() }); err != nil {
		return fmt.Errorf("raftstore: snapshot shard %d: %w", shard, err)
	}
	return nil
}

// LogBounds is the first and last index of the shard's log on this node:
// entries before first are only in snapshots.
func (n *Node) LogBounds(shard int) (first, last uint64, err error) {
	s, err := n.shard(shard)
	if err != nil {
		return 0, 0, err
	}
	if first, err = s.logs.FirstIndex(); err == nil {
		last, err = s.logs.LastIndex()
	}
	return first, last, err
}

// Member is one server of a shard's configuration.
type Member struct {
	ID     string `json:"id"`
	Addr   string `json:"addr"`
	Voter  bool   `json:"voter"`
	Leader bool   `json:"leader"`
}

// Members returns the shard's configuration as this node last saw it.
func (n *Node) Members(shard int) ([]Member, error) {
	s, err := n.shard(shard)
	if err != nil {
		return nil, err
	}
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("raftstore: members of shard %d: %w", shard, n.closedOr(err))
	}
	_, leader := s.raft.LeaderWithID()
	var ms []Member
	for _, srv := range f.Configuration().Servers {
		ms = append(ms, Member{ID: string(srv.ID), Addr: string(srv.Address),
			Voter: srv.Suffrage == raft.Voter, Leader: srv.ID == leader})
	}
	return ms, nil
}

// Listen returns the streams other nodes open with Dial(addr, kind). The
// kinds KindRaft and KindAdmin are reserved, and a kind has one listener
// at a time; both mistakes panic. Streams of a kind nobody listens for are
// closed. Close the listener to stop; the node's Close ends it too.
func (n *Node) Listen(kind byte) net.Listener {
	if !applicationKinds[kind] {
		panic(fmt.Sprintf("raftstore: stream kind %q is not an application kind (see the kinds in mux.go)", kind))
	}
	return n.mux.listen(kind)
}

// Dial opens a stream of the given kind to the node at addr, over the same
// mutual TLS as Raft. The reserved kinds are refused. The node's Close
// closes the stream.
func (n *Node) Dial(ctx context.Context, addr string, kind byte) (net.Conn, error) {
	if !applicationKinds[kind] {
		return nil, fmt.Errorf("raftstore: dial %s: stream kind %q is not an application kind", addr, kind)
	}
	return n.mux.dial(ctx, addr, []byte{kind})
}
