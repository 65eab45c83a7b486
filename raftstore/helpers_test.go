package raftstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sh "github.com/accord-chat/accord/core/shard"

	"github.com/hashicorp/raft"
)

// listFSM is the test FSM: an append-only list of commands. Apply returns
// the list's new length, so a command's position proves its order.
type listFSM struct {
	mu       sync.Mutex
	entries  []string
	restores int
}

func (f *listFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, string(l.Data))
	return len(f.entries)
}

func (f *listFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return listSnapshot(slices.Clone(f.entries)), nil
}

func (f *listFSM) Restore(rc io.ReadCloser) error {
	var entries []string
	if err := json.NewDecoder(rc).Decode(&entries); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = entries
	f.restores++
	return nil
}

func (f *listFSM) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.entries)
}

func (f *listFSM) restoreCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.restores
}

type listSnapshot []string

func (s listSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode([]string(s)); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (listSnapshot) Release() {}

// tnode is a Node with its FSMs and the config it was built from.
type tnode struct {
	*Node
	cfg    Config
	fsms   []*listFSM
	closed atomic.Bool
}

// withFSMs gives cfg a fresh listFSM per shard.
func withFSMs(cfg Config) (Config, []*listFSM) {
	fsms := make([]*listFSM, max(cfg.Shards, 16))
	for i := range fsms {
		fsms[i] = &listFSM{}
	}
	cfg.FSM = func(shard int) raft.FSM { return fsms[shard] }
	return cfg, fsms
}

type cluster struct {
	t     *testing.T
	mu    sync.Mutex
	nodes []*tnode // in start order; closed ones stay
}

func (c *cluster) add(n *tnode) *tnode {
	c.mu.Lock()
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	c.t.Cleanup(func() { n.close(c.t) })
	return n
}

func (n *tnode) close(t testing.TB) {
	if n.closed.Swap(true) {
		return
	}
	if err := n.Close(); err != nil {
		t.Errorf("close %s: %v", n.ID(), err)
	}
}

func (c *cluster) live() []*tnode {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*tnode
	for _, n := range c.nodes {
		if !n.closed.Load() {
			out = append(out, n)
		}
	}
	return out
}

// leader returns the live node leading shard, waiting for an election.
func (c *cluster) leader(shard int) *tnode {
	c.t.Helper()
	var found *tnode
	waitFor(c.t, 10*time.Second, fmt.Sprintf("a leader of shard %d", shard), func() bool {
		for _, n := range c.live() {
			if n.IsLeader(shard) {
				found = n
				return true
			}
		}
		return false
	})
	return found
}

// apply writes cmd on the shard's current leader, following elections.
// It returns the command's position in the list; an error leaves the
// outcome unknown.
func (c *cluster) apply(ctx context.Context, shard int, cmd string) (uint64, int, error) {
	for {
		var lastErr error
		for _, n := range c.live() {
			if !n.IsLeader(shard) {
				continue
			}
			idx, resp, err := n.Apply(ctx, shard, []byte(cmd))
			if errors.Is(err, sh.ErrNotLeader) {
				lastErr = err
				break
			}
			if err != nil {
				return 0, 0, err
			}
			return idx, resp.(int), nil
		}
		select {
		case <-ctx.Done():
			return 0, 0, errors.Join(ctx.Err(), lastErr)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// mustApply writes cmd until one attempt is acknowledged: an attempt
// whose outcome is unknown (a leader lost mid-commit) is retried under a
// new name, so a command is in the list at most once. It returns the
// acknowledged write.
func (c *cluster) mustApply(ctx context.Context, shard int, cmd string) ack {
	c.t.Helper()
	name := cmd
	for try := 1; ; try++ {
		_, pos, err := c.apply(ctx, shard, name)
		if err == nil {
			return ack{name, pos}
		}
		if ctx.Err() != nil {
			c.t.Fatalf("shard %d: apply %s: %v", shard, name, err)
		}
		name = fmt.Sprintf("%s#%d", cmd, try)
	}
}

// converge waits until every live node has applied the shard's leader's
// last index, then checks that all lists are equal, and returns one.
func (c *cluster) converge(shard int) []string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	last := c.leader(shard).Raft(shard).LastIndex()
	var want []string
	for i, n := range c.live() {
		if err := n.WaitApplied(ctx, shard, last); err != nil {
			c.t.Fatalf("%s: %v", n.ID(), err)
		}
		got := n.fsms[shard].list()
		if i == 0 {
			want = got
		} else if !slices.Equal(got, want) {
			c.t.Fatalf("shard %d: %s has %d entries, %s has %d; lists differ",
				shard, c.live()[0].ID(), len(want), n.ID(), len(got))
		}
	}
	return want
}

// ack is an acknowledged write: the command and its position.
type ack struct {
	cmd string
	pos int
}

// checkAcked fails unless every acknowledged write sits at its position.
func checkAcked(t *testing.T, shard int, list []string, acks []ack) {
	t.Helper()
	for _, a := range acks {
		if a.pos > len(list) || list[a.pos-1] != a.cmd {
			t.Fatalf("shard %d: acknowledged %q at position %d lost (list has %d entries)", shard, a.cmd, a.pos, len(list))
		}
	}
}

// writer applies commands to a shard in a loop until stopped, recording
// what was acknowledged.
type writer struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	acks []ack
}

func (c *cluster) startWriter(shard int, prefix string) *writer {
	w := &writer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			cmd := fmt.Sprintf("%s-%d", prefix, i)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, pos, err := c.apply(ctx, shard, cmd)
			cancel()
			if err == nil {
				w.mu.Lock()
				w.acks = append(w.acks, ack{cmd, pos})
				w.mu.Unlock()
			}
		}
	}()
	return w
}

// acked is how many writes have been acknowledged so far.
func (w *writer) acked() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acks)
}

// waitMore waits until every writer has at least one more acknowledged
// write than it has now: writes are flowing, however busy the machine.
func waitMore(t testing.TB, what string, ws []*writer) {
	t.Helper()
	base := make([]int, len(ws))
	for i, w := range ws {
		base[i] = w.acked()
	}
	waitFor(t, time.Minute, what, func() bool {
		for i, w := range ws {
			if w.acked() <= base[i] {
				return false
			}
		}
		return true
	})
}

func (w *writer) finish() []ack {
	close(w.stop)
	<-w.done
	return w.acks
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkGoroutines fails the test if goroutines started during it outlive
// its cleanups. Call it first, so its cleanup runs last.
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			now := runtime.NumGoroutine()
			if now <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, now, buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// testLogger logs Warn and above through t.Log, until the test ends.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// checkNoPipeline fails unless every shard's transport refuses pipelined
// replication (see transportMaxInFlight).
func checkNoPipeline(t *testing.T, n *Node) {
	t.Helper()
	for i, s := range n.shards {
		if _, err := s.trans.AppendEntriesPipeline("peer", "peer:1"); !errors.Is(err, raft.ErrPipelineReplicationNotSupported) {
			t.Fatalf("shard %d: AppendEntriesPipeline: %v, want it refused", i, err)
		}
	}
}
