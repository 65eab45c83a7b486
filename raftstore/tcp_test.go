package raftstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

const tcpShards = 4

// tcpRegion holds what every node of a test region shares.
type tcpRegion struct {
	*cluster
	dir   string // per node data dirs and the certs
	certs string
}

func newTCPRegion(t *testing.T) *tcpRegion {
	dir := t.TempDir()
	return &tcpRegion{cluster: &cluster{t: t}, dir: dir, certs: filepath.Join(dir, "certs")}
}

func (r *tcpRegion) config(id string) Config {
	r.t.Helper()
	conf, err := LoadOrCreateDevCerts(r.certs, id)
	if err != nil {
		r.t.Fatal(err)
	}
	return Config{
		NodeID:    id,
		BindAddr:  "127.0.0.1:0",
		DataDir:   filepath.Join(r.dir, id),
		Shards:    tcpShards,
		TLS:       conf,
		MaxVoters: 3,
		Logger:    testLogger(r.t),
		// The default timing, as deployed.
	}
}

func (r *tcpRegion) start(cfg Config) *tnode {
	r.t.Helper()
	cfg, fsms := withFSMs(cfg)
	n, err := New(cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	tn := r.add(&tnode{Node: n, cfg: cfg, fsms: fsms})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		r.t.Fatalf("start %s: %v", cfg.NodeID, err)
	}
	if !cfg.Bootstrap && len(cfg.Join) == 0 {
		return tn // waits to be added
	}
	if err := n.WaitLeaders(ctx); err != nil {
		r.t.Fatalf("%s: %v", cfg.NodeID, err)
	}
	return tn
}

// threeNodes starts n1 with Bootstrap, then n2 and n3 with Join.
func (r *tcpRegion) threeNodes() {
	r.t.Helper()
	cfg := r.config("n1")
	cfg.Bootstrap = true
	n1 := r.start(cfg)
	for _, id := range []string{"n2", "n3"} {
		cfg := r.config(id)
		cfg.Join = []string{"127.0.0.1:1", n1.Addr()} // a dead address first: Join tries the next
		r.start(cfg)
	}
}

func (r *tcpRegion) writeAll(prefix string, count int) [][]ack {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	acks := make([][]ack, tcpShards)
	for s := range tcpShards {
		for i := range count {
			acks[s] = append(acks[s], r.mustApply(ctx, s, fmt.Sprintf("%s-%d", prefix, i)))
		}
	}
	return acks
}

// TestTCPRegion builds a region over TLS as deploy/local does and walks it
// through membership changes: join, a non-voter beyond MaxVoters added
// through a node that leads nothing, removal of the leader of every shard
// under write traffic, and the promotion that follows.
func TestTCPRegion(t *testing.T) {
	checkGoroutines(t)
	r := newTCPRegion(t)
	r.threeNodes()
	n1, n2, n3 := r.nodes[0], r.nodes[1], r.nodes[2]
	want := map[string]bool{"n1": true, "n2": true, "n3": true}
	checkMembers(t, n3.Node, want)
	acks := r.writeAll("a", 10)
	for s := range tcpShards {
		checkAcked(t, s, r.converge(s), acks[s])
	}

	// n1 bootstrapped every shard and normally still leads them all, so
	// AdminAddNode through n2 forwards every shard.
	via := n2
	if n2.IsLeader(0) {
		via = n3
	}
	led := 0
	for s := range tcpShards {
		if via.IsLeader(s) {
			led++
		}
	}
	if led == tcpShards {
		t.Fatalf("%s leads every shard; nothing to forward", via.ID())
	}
	cfg4 := r.config("n4")
	n4 := r.start(cfg4) // neither Bootstrap nor Join: waits to be added
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := AdminAddNode(ctx, via.cfg.TLS, via.Addr(), "n4", n4.Addr()); err != nil {
		t.Fatalf("AdminAddNode via %s: %v", via.ID(), err)
	}
	want["n4"] = false // MaxVoters 3
	checkMembers(t, n1.Node, want)
	checkMembers(t, n3.Node, want) // followers learn the change a moment later
	members, err := AdminMembers(ctx, n4.cfg.TLS, n3.Addr())
	if err != nil || len(members) != tcpShards {
		t.Fatalf("AdminMembers: %d shards, %v", len(members), err)
	}
	for _, sm := range members {
		if len(sm.Members) != 4 || !slices.ContainsFunc(sm.Members, func(m Member) bool { return m.Leader }) {
			t.Fatalf("shard %d: members %+v, want 4 with a leader", sm.Shard, sm.Members)
		}
	}
	more := r.writeAll("b", 10)
	for s := range tcpShards {
		list := r.converge(s) // includes the non-voter n4
		checkAcked(t, s, list, append(acks[s], more[s]...))
	}

	// Remove n1, the leader of every shard, through n3 while writes flow.
	writers := make([]*writer, tcpShards)
	for s := range writers {
		writers[s] = r.startWriter(s, "c")
	}
	waitMore(t, "writes on every shard before the removal", writers)
	if err := n3.RemoveNode(ctx, "n1"); err != nil {
		t.Fatalf("RemoveNode(n1): %v", err)
	}
	delete(want, "n1")
	want["n4"] = true // promoted into the freed slot
	checkMembers(t, n2.Node, want)
	waitMore(t, "writes on every shard after the removal", writers)
	n1.close(t)
	for s, w := range writers {
		flowing := w.finish()
		if len(flowing) == 0 {
			t.Errorf("shard %d: no write acknowledged during the removal", s)
		}
		list := r.converge(s)
		checkAcked(t, s, list, slices.Concat(acks[s], more[s], flowing))
	}
	if err := AdminRemoveNode(ctx, n2.cfg.TLS, n2.Addr(), "n1"); err != nil {
		t.Fatalf("AdminRemoveNode again: %v", err)
	}
}

// TestTCPRestart: a node closed and reopened on its DataDir finds its log
// and a snapshot on disk, restores, and catches up on what it missed.
func TestTCPRestart(t *testing.T) {
	checkGoroutines(t)
	r := newTCPRegion(t)
	r.threeNodes()
	acks := r.writeAll("a", 20)
	for s := range tcpShards {
		r.converge(s)
	}
	n3 := r.nodes[2]
	// Snapshot shard 0 so the restart restores it; the other shards replay
	// their whole log.
	snap := n3.Raft(0).Snapshot()
	if err := snap.Error(); err != nil {
		t.Fatal(err)
	}
	meta, rc, err := snap.Open()
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	lastIdx := make([]uint64, tcpShards)
	for s := range tcpShards {
		lastIdx[s] = n3.Raft(s).LastIndex()
	}
	n3.close(t)
	more := r.writeAll("b", 20) // while n3 is down

	cfg := n3.cfg
	cfg.BindAddr = n3.Addr()
	cfg, fsms := withFSMs(cfg)
	n, err := New(cfg)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	back := r.add(&tnode{Node: n, cfg: cfg, fsms: fsms})
	for s := range tcpShards {
		if got := n.Raft(s).LastIndex(); got < lastIdx[s] {
			t.Fatalf("shard %d: reopened with last index %d, had %d", s, got, lastIdx[s])
		}
	}
	if got := back.fsms[0].restoreCount(); got != 1 {
		t.Fatalf("shard 0 restored %d snapshots at start, want 1", got)
	}
	// The restored FSM knows the index it holds before any peer speaks.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	if err := n.WaitApplied(ctx, 0, meta.Index); err != nil {
		t.Fatalf("WaitApplied(snapshot index %d) after restore: %v", meta.Index, err)
	}
	cancel()
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for s := range tcpShards {
		checkAcked(t, s, r.converge(s), append(acks[s], more[s]...))
	}

	// Another ID on this DataDir is refused.
	cfg.NodeID = "impostor"
	if _, err := New(cfg); err == nil {
		t.Fatal("New with another NodeID on the DataDir succeeded")
	}
}

// TestTCPStreams: Listen and Dial carry application streams between nodes;
// a kind nobody listens for is closed; reserved kinds panic.
func TestTCPStreams(t *testing.T) {
	checkGoroutines(t)
	r := newTCPRegion(t)
	cfg := r.config("n1")
	cfg.Bootstrap = true
	cfg.Shards = 0 // the default, 16
	n1 := r.start(cfg)
	cfg = r.config("n2")
	cfg.Shards = 0
	n2 := r.start(cfg)
	if n2.Shards() != 16 {
		t.Fatalf("%d shards, want the default 16", n2.Shards())
	}
	checkNoPipeline(t, n1.Node)
	ln := n2.Listen(KindRequest)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := n1.Dial(ctx, n2.Addr(), 'H')
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q, %v", buf, err)
	}
	c.Close()

	if _, err := n1.Dial(ctx, n2.Addr(), 'Z'); err == nil {
		t.Fatal("Dial of a kind that is not registered succeeded")
	}
	// A peer that sends one anyway (an older or newer binary) is cut off.
	c, err = n1.mux.dial(ctx, n2.Addr(), []byte{'Z'})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Read(buf); err == nil {
		t.Fatal("a stream of an unheard kind stayed open")
	}
	c.Close()

	// Close is idempotent and ends the node's streams and calls.
	c, err = n1.Dial(ctx, n2.Addr(), 'H')
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := n1.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Read(buf); err == nil {
		t.Fatal("a stream outlived its node")
	}
	if _, _, err := n1.Apply(ctx, 0, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Apply after Close: %v, want ErrClosed", err)
	}
	if _, err := n1.Dial(ctx, n2.Addr(), 'H'); err == nil {
		t.Fatal("Dial after Close succeeded")
	}

	// Reserved, not registered, or already listened for.
	for _, k := range []byte{KindRaft, KindAdmin, KindPropose, 'Z', 'H'} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Listen(%q) did not panic", k)
				}
			}()
			n2.Listen(k)
		}()
	}
}

// TestTCPRejectsUntrusted: without a certificate from the region's CA a
// peer gets nothing, not even the member list.
func TestTCPRejectsUntrusted(t *testing.T) {
	checkGoroutines(t)
	r := newTCPRegion(t)
	cfg := r.config("n1")
	cfg.Bootstrap = true
	n1 := r.start(cfg)

	other := newTCPRegion(t) // another CA
	foreign, err := LoadOrCreateDevCerts(other.certs, "n1")
	if err != nil {
		t.Fatal(err)
	}
	noCert := n1.cfg.TLS.Clone()
	noCert.Certificates = nil
	for name, conf := range map[string]*tls.Config{"no client certificate": noCert, "foreign CA": foreign, "plain TCP": nil} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		ms, err := AdminMembers(ctx, conf, n1.Addr())
		cancel()
		if err == nil || ms != nil {
			t.Errorf("%s: AdminMembers succeeded: %v", name, ms)
		}
	}
	// The rejections did not disturb the node.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if ms, err := AdminMembers(ctx, n1.cfg.TLS, n1.Addr()); err != nil || len(ms) != tcpShards {
		t.Fatalf("AdminMembers with the region's certificate: %v", err)
	}
}
