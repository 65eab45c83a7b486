package accordtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/engine"
	sh "github.com/accord-chat/accord/core/shard"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
	"github.com/accord-chat/accord/core/store/pebblestore"
	"github.com/accord-chat/accord/raftstore"
)

// Options shape a Cluster; the zero value is three members, Shards
// shards, one Pebble store in a temporary directory.
type Options struct {
	Members int
	Shards  int
	// Store is shared by every member, as the nodes of a region share the
	// core's Cassandra. Nil: a new Pebble store.
	Store store.Store
	// Raft adjusts each member's raftstore configuration (snapshot
	// thresholds, say) after the harness's own settings.
	Raft func(*raftstore.Config)
	// Clock, when set, is every member's engine clock and the clock of
	// its ID generator: with one that stands still, two runs of the same
	// commands make the same times.
	Clock func() time.Time
	// Tap, when set, sees every committed entry each member applies,
	// before the member's engine does (to record real log entries).
	Tap func(member string, shard int, entries []sh.Entry)
}

// Member is one replica of a Cluster: an engine and its Raft groups.
type Member struct {
	ID     string
	Engine *engine.Engine
	Node   *raftstore.Node
	Events *Recorder
	// stopped is set once Stop has closed the member.
	stopped atomic.Bool
}

// Cluster is a region of replicas in one process, on raftstore's
// in-memory network: the production engine and raftstore, Raft RPCs over
// raft's in-memory transport. Build one with NewCluster; it shuts down
// when the test ends.
type Cluster struct {
	t       testing.TB
	opts    Options
	Net     *raftstore.InmemNetwork
	Store   store.Store
	Members []*Member
	seq     int
}

// fast Raft timing for tests: elections in tens of milliseconds.
func fastRaft(c *raftstore.Config) {
	c.HeartbeatTimeout = 50 * time.Millisecond
	c.ElectionTimeout = 50 * time.Millisecond
	c.LeaderLeaseTimeout = 50 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
}

// NewCluster starts a region of opts.Members replicas and waits until
// every shard has a leader.
func NewCluster(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Members == 0 {
		opts.Members = 3
	}
	if opts.Shards == 0 {
		opts.Shards = Shards
	}
	c := &Cluster{t: t, opts: opts, Net: raftstore.NewInmemNetwork(), Store: opts.Store}
	if c.Store == nil {
		st, err := pebblestore.Open(pebblestore.Options{Dir: filepath.Join(t.TempDir(), "store"), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		c.Store = st
		t.Cleanup(func() { st.Close() })
	}
	t.Cleanup(c.Shutdown)
	for range opts.Members {
		c.AddMember()
	}
	return c
}

// AddMember starts a replica: the region's first bootstraps it, later
// ones join through the members before them (catching up from their
// logs or snapshots). It returns once the member sees a leader for every
// shard.
func (c *Cluster) AddMember() *Member {
	c.t.Helper()
	c.seq++
	m := &Member{ID: fmt.Sprintf("m%d", c.seq), Events: &Recorder{}}
	log := slog.New(slog.DiscardHandler)
	ids := snowflake.NewGenerator(0, uint8(c.seq))
	if c.opts.Clock != nil {
		ids = snowflake.NewGeneratorWithClock(0, uint8(c.seq), c.opts.Clock)
	}
	m.Engine = engine.New(engine.Config{Store: c.Store, Logger: log, Shards: c.opts.Shards, Publisher: m.Events,
		IDs: ids, Now: c.opts.Clock})
	if err := m.Engine.Load(context.Background()); err != nil {
		c.t.Fatal(err)
	}
	var machine raftstore.StateMachine = m.Engine
	if c.opts.Tap != nil {
		machine = tapped{m.Engine, func(shard int, es []sh.Entry) { c.opts.Tap(m.ID, shard, es) }}
	}
	cfg := raftstore.Config{NodeID: m.ID, BindAddr: m.ID, Shards: c.opts.Shards, Machine: machine, Logger: log}
	fastRaft(&cfg)
	live := c.Live()
	if len(live) == 0 {
		cfg.Bootstrap = true
	}
	for _, o := range live {
		cfg.Join = append(cfg.Join, o.Node.Addr())
	}
	if c.opts.Raft != nil {
		c.opts.Raft(&cfg)
	}
	n, err := c.Net.New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	m.Node = n
	m.Engine.Attach(n)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		c.t.Fatalf("start %s: %v", m.ID, err)
	}
	if err := n.WaitLeaders(ctx); err != nil {
		c.t.Fatalf("%s: %v", m.ID, err)
	}
	c.Members = append(c.Members, m)
	return m
}

// Stop shuts a member down (as a node's death looks to the others; its
// in-memory state is gone).
func (c *Cluster) Stop(m *Member) {
	if !m.stopped.Swap(true) {
		_ = m.Node.Close()
		m.Engine.Close()
	}
}

// Shutdown stops every member.
func (c *Cluster) Shutdown() {
	for _, m := range c.Members {
		c.Stop(m)
	}
}

// Live is the members not stopped.
func (c *Cluster) Live() []*Member {
	var out []*Member
	for _, m := range c.Members {
		if !m.stopped.Load() {
			out = append(out, m)
		}
	}
	return out
}

// ShardOf is the shard of a guild ID (or engine.AccountKey).
func (c *Cluster) ShardOf(key engine.ID) int { return sh.Of(uint64(key), c.opts.Shards) }

// LeaderOf is the live member leading the shard, nil during an election.
func (c *Cluster) LeaderOf(shard int) *Member {
	for _, m := range c.Live() {
		if m.Node.IsLeader(shard) {
			return m
		}
	}
	return nil
}

// OnLeader runs fn on each live member in turn until one is not refused
// for leadership, as the REST layer's forwarding would, retrying through
// elections for up to a minute. It returns fn's last error.
func (c *Cluster) OnLeader(fn func(e *engine.Engine) error) error {
	deadline := time.Now().Add(time.Minute)
	for {
		var err error
		for _, m := range c.Live() {
			err = fn(m.Engine)
			if !retryable(err) {
				return err
			}
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// retryable is the errors of a command that met an election.
func retryable(err error) bool {
	return errors.Is(err, sh.ErrNotLeader) || errors.Is(err, raftstore.ErrClosed) ||
		errors.Is(err, engine.ErrDetached) || errors.Is(err, raftstore.ErrLeadershipLost)
}

// WaitConverged waits until every live member has applied, in every
// shard, what the shard's leader had applied when it was called, and
// published its events.
func (c *Cluster) WaitConverged() {
	c.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for s := range c.opts.Shards {
		var want uint64
		for want == 0 {
			if l := c.LeaderOf(s); l != nil {
				want = l.Node.Applied(s)
			} else if time.Now().After(deadline) {
				c.t.Fatalf("shard %d has no leader", s)
			} else {
				time.Sleep(10 * time.Millisecond)
			}
		}
		for _, m := range c.Live() {
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			err := m.Node.WaitApplied(ctx, s, want)
			if err == nil {
				err = m.Engine.WaitPublished(ctx, s)
			}
			cancel()
			if err != nil {
				c.t.Fatalf("%s: shard %d: %v", m.ID, s, err)
			}
		}
	}
}

// Partition cuts the members off from the rest of the cluster; Heal
// reconnects them.
func (c *Cluster) Partition(ms ...*Member) {
	var addrs []string
	for _, m := range ms {
		addrs = append(addrs, m.Node.Addr())
	}
	c.Net.Partition(addrs...)
}

// Heal undoes Partition.
func (c *Cluster) Heal() { c.Net.Heal() }

// tapped shows a machine's entries to a tap before applying them.
type tapped struct {
	*engine.Engine
	tap func(shard int, entries []sh.Entry)
}

func (t tapped) ApplyCommitted(shard int, entries []sh.Entry) (int, error) {
	t.tap(shard, entries)
	return t.Engine.ApplyCommitted(shard, entries)
}
