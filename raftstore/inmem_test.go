package raftstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	sh "github.com/accord-chat/accord/core/shard"
)

const inmemShards = 4

func inmemConfig(t *testing.T, id string) Config {
	return Config{
		NodeID:   id,
		BindAddr: id,
		Shards:   inmemShards,
		Logger:   testLogger(t),
		// A fifth of the defaults: quick elections, with room for -race
		// on a busy machine.
		HeartbeatTimeout:   200 * time.Millisecond,
		ElectionTimeout:    200 * time.Millisecond,
		LeaderLeaseTimeout: 100 * time.Millisecond,
	}
}

// inmemCluster starts n nodes: the first bootstraps, the others join
// through it, as a region is built over sockets.
func inmemCluster(t *testing.T, n int, tweak func(*Config)) (*cluster, *InmemNetwork) {
	t.Helper()
	nw := NewInmemNetwork()
	c := &cluster{t: t}
	for i := range n {
		cfg := inmemConfig(t, fmt.Sprintf("n%d", i+1))
		if i == 0 {
			cfg.Bootstrap = true
		} else {
			cfg.Join = []string{"n1"}
		}
		if tweak != nil {
			tweak(&cfg)
		}
		c.startInmem(nw, cfg)
	}
	return c, nw
}

func (c *cluster) startInmem(nw *InmemNetwork, cfg Config) *tnode {
	c.t.Helper()
	cfg, fsms := withFSMs(cfg)
	n, err := nw.New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	tn := c.add(&tnode{Node: n, cfg: cfg, fsms: fsms})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		c.t.Fatalf("start %s: %v", cfg.NodeID, err)
	}
	if err := n.WaitLeaders(ctx); err != nil {
		c.t.Fatalf("%s: %v", cfg.NodeID, err)
	}
	return tn
}

// TestInmemReplicationOrder: concurrent writes on every shard's leader are
// applied on every node in one order, the one the leader acknowledged.
func TestInmemReplicationOrder(t *testing.T) {
	checkGoroutines(t)
	c, _ := inmemCluster(t, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	acks := make([][]ack, inmemShards)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for s := range inmemShards {
		for g := range 4 {
			wg.Go(func() {
				for i := range 25 {
					cmd := fmt.Sprintf("s%d-g%d-%d", s, g, i)
					_, pos, err := c.apply(ctx, s, cmd)
					if err != nil { // outcome unknown: allowed, not counted
						continue
					}
					mu.Lock()
					acks[s] = append(acks[s], ack{cmd, pos})
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for s := range inmemShards {
		list := c.converge(s)
		if len(acks[s]) < 90 || len(list) > 100 {
			t.Errorf("shard %d: %d acknowledged, %d applied of 100", s, len(acks[s]), len(list))
		}
		checkAcked(t, s, list, acks[s])
	}
}

// TestInmemNotLeader: a follower refuses Apply with the leader's address.
func TestInmemNotLeader(t *testing.T) {
	checkGoroutines(t)
	c, _ := inmemCluster(t, 3, nil)
	checkNoPipeline(t, c.nodes[0].Node)
	leader := c.leader(0)
	for _, n := range c.nodes {
		if n == leader {
			continue
		}
		_, _, err := n.Apply(context.Background(), 0, []byte("x"))
		var nle *sh.NotLeaderError
		if !errors.As(err, &nle) || !errors.Is(err, sh.ErrNotLeader) {
			t.Fatalf("Apply on follower: %v, want a NotLeaderError", err)
		}
		if nle.Leader != leader.Addr() || nle.Shard != 0 {
			t.Fatalf("NotLeaderError %+v, want leader %s of shard 0", nle, leader.Addr())
		}
		if addr, id := n.Leader(0); addr != leader.Addr() || id != leader.ID() {
			t.Fatalf("Leader(0) = %s, %s; want %s, %s", addr, id, leader.Addr(), leader.ID())
		}
	}
	expired, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	if _, _, err := leader.Apply(expired, 0, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Apply with an expired context: %v", err)
	}
	if _, _, err := leader.Apply(context.Background(), inmemShards, nil); !errors.Is(err, ErrNoShard) {
		t.Fatalf("Apply on shard %d: %v, want ErrNoShard", inmemShards, err)
	}
}

// TestInmemLeaderFailure: writes flow while the leader of shard 0 dies; a
// new leader takes over and no acknowledged write is lost. WaitApplied
// also returns for the new leader's no-op entry, which the FSM never sees.
func TestInmemLeaderFailure(t *testing.T) {
	checkGoroutines(t)
	c, _ := inmemCluster(t, 3, nil)
	old := c.leader(0)
	w := c.startWriter(0, "w")
	waitFor(t, 10*time.Second, "writes before the failure", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.acks) >= 20
	})
	old.close(t)
	waitFor(t, 10*time.Second, "a new leader", func() bool {
		l := c.leader(0)
		return l != old
	})
	w.mu.Lock()
	atFailure := len(w.acks)
	w.mu.Unlock()
	waitFor(t, 10*time.Second, "writes after the failure", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.acks) >= atFailure+20
	})
	acks := w.finish()
	list := c.converge(0)
	checkAcked(t, 0, list, acks)

	// A new leader of shard 1 appends a no-op; followers must still see
	// WaitApplied return for it.
	l1 := c.leader(1)
	if l1.Raft(1).LeadershipTransfer().Error() == nil {
		nl := c.leader(1)
		waitFor(t, 30*time.Second, "the new leader of shard 1", func() bool { return nl != l1 })
		last := nl.Raft(1).LastIndex()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, n := range c.live() {
			if err := n.WaitApplied(ctx, 1, last); err != nil {
				t.Fatalf("%s: WaitApplied(no-op %d): %v", n.ID(), last, err)
			}
		}
	}
}

// TestInmemSnapshotInstall: after a forced snapshot has compacted the log,
// a new node catches up through InstallSnapshot (its FSM is restored) and
// then through the log.
func TestInmemSnapshotInstall(t *testing.T) {
	checkGoroutines(t)
	c, nw := inmemCluster(t, 3, func(cfg *Config) { cfg.TrailingLogs = 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var acks []ack
	for i := range 50 {
		acks = append(acks, c.mustApply(ctx, 0, fmt.Sprintf("before-%d", i)))
	}
	c.converge(0)
	for _, n := range c.nodes {
		if err := n.Raft(0).Snapshot().Error(); err != nil {
			t.Fatalf("%s: snapshot: %v", n.ID(), err)
		}
	}
	if first, _ := c.leader(0).shards[0].logs.FirstIndex(); first <= 1 {
		t.Fatalf("log not compacted: first index %d", first)
	}
	for i := range 5 {
		acks = append(acks, c.mustApply(ctx, 0, fmt.Sprintf("after-%d", i)))
	}
	cfg := inmemConfig(t, "n4")
	cfg.Join = []string{"n2"} // a follower: the request is forwarded
	n4 := c.startInmem(nw, cfg)
	list := c.converge(0)
	checkAcked(t, 0, list, acks)
	if got := n4.fsms[0].restoreCount(); got != 1 {
		t.Fatalf("n4 restored %d snapshots, want 1 (InstallSnapshot)", got)
	}
	if len(list) < 55 {
		t.Fatalf("%d entries, want at least 55", len(list))
	}
}

// TestInmemMembership: with MaxVoters 3 a fourth node joins as a
// non-voter; removing a voter promotes it; removing a node that leads
// shards hands them over; both operations are idempotent.
func TestInmemMembership(t *testing.T) {
	checkGoroutines(t)
	c, nw := inmemCluster(t, 3, func(cfg *Config) { cfg.MaxVoters = 3 })
	cfg := inmemConfig(t, "n4")
	cfg.MaxVoters = 3
	cfg.Join = []string{"n3"}
	n4 := c.startInmem(nw, cfg)
	checkMembers(t, c.nodes[0].Node, map[string]bool{"n1": true, "n2": true, "n3": true, "n4": false})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.nodes[1].AddNode(ctx, "n4", n4.Addr()); err != nil {
		t.Fatalf("add again: %v", err)
	}
	// n1 leads every shard (it bootstrapped them); remove it through itself.
	if err := c.nodes[0].RemoveNode(ctx, "n1"); err != nil {
		t.Fatalf("remove n1: %v", err)
	}
	checkMembers(t, n4.Node, map[string]bool{"n2": true, "n3": true, "n4": true})
	if err := n4.RemoveNode(ctx, "n1"); err != nil {
		t.Fatalf("remove again: %v", err)
	}
	c.nodes[0].close(t)
	for s := range inmemShards {
		c.mustApply(ctx, s, "after")
		c.converge(s)
	}
}

// checkMembers waits until every shard, as n sees it, has exactly the
// given members (ID → voter).
func checkMembers(t *testing.T, n *Node, want map[string]bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s := 0; s < n.Shards(); {
		ms, err := n.Members(s)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, m := range ms {
			got[m.ID] = m.Voter
		}
		if mapsEqual(got, want) {
			s++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("shard %d members (ID: voter) %v, want %v", s, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestShardOfSpread: sequential snowflakes, whose low bits are a sequence
// that restarts every millisecond, still spread evenly; and the mapping
// never changes (guilds would move shard).
func TestShardOfSpread(t *testing.T) {
	const ids = 10000
	gens := map[string]func(i int) uint64{
		"one per ms":  func(i int) uint64 { return uint64(1_700_000_000_000+i) << 22 },
		"burst of 64": func(i int) uint64 { return uint64(1_700_000_000_000+i/64)<<22 | uint64(i%64) },
		"worker 3":    func(i int) uint64 { return uint64(1_700_000_000_000+i)<<22 | 3<<17 },
	}
	for name, gen := range gens {
		for _, shards := range []int{3, 16, 64} {
			counts := make([]int, shards)
			for i := range ids {
				counts[sh.Of(gen(i), shards)]++
			}
			mean := ids / shards
			lo, hi := slices.Min(counts), slices.Max(counts)
			// Binomial spread: a bound of 5 standard deviations.
			if tol := 5 * isqrt(mean); lo < mean-tol || hi > mean+tol {
				t.Errorf("%s, %d shards: counts %d..%d, mean %d", name, shards, lo, hi, mean)
			}
		}
	}
	for _, tc := range []struct {
		key    uint64
		shards int
		want   int
	}{{0, 16, 15}, {1, 16, 1}, {1_234_567_890_123_456_789, 16, 2}, {1 << 22, 16, 11}} {
		if got := sh.Of(tc.key, tc.shards); got != tc.want {
			t.Errorf("sh.Of(%d, %d) = %d, want %d: the mapping changed", tc.key, tc.shards, got, tc.want)
		}
	}
}

func isqrt(n int) int {
	r := 0
	for (r+1)*(r+1) <= n {
		r++
	}
	return r
}
