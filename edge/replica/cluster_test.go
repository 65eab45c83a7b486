package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"golang.org/x/crypto/bcrypt"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/secret"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
	"github.com/accord-chat/accord/core/store/pebblestore"
)

func init() { secret.BcryptCost = bcrypt.MinCost }

// events records what one replica published, in order.
type events struct {
	mu  sync.Mutex
	evs []engine.Event
}

func (p *events) Publish(evs []engine.Event) {
	p.mu.Lock()
	p.evs = append(p.evs, evs...)
	p.mu.Unlock()
}

// messageIDs lists the MESSAGE_CREATEs seen, in order.
func (p *events) messageIDs() []engine.ID {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []engine.ID
	for _, ev := range p.evs {
		if ev.Type == "MESSAGE_CREATE" {
			out = append(out, ev.Data.(*engine.MessageEvent).Message.ID)
		}
	}
	return out
}

// member is one replica of an in-memory cluster: an engine with its own
// Raft groups on raft's in-memory transport. The replicas share one store,
// as the nodes of a region share the core's Cassandra.
type member struct {
	id     raft.ServerID
	eng    *engine.Engine
	rep    *Replica
	pub    *events
	rafts  []*raft.Raft
	trans  []*raft.InmemTransport
	logs   []*raft.InmemStore
	snaps  []*raft.InmemSnapshotStore
	closed atomic.Bool
}

func (m *member) Shards() int               { return len(m.rafts) }
func (m *member) Raft(shard int) *raft.Raft { return m.rafts[shard] }

func (m *member) shutdown() {
	if m.closed.Swap(true) {
		return
	}
	m.rep.Close()
	for _, r := range m.rafts {
		_ = r.Shutdown().Error()
	}
}

type cluster struct {
	t       *testing.T
	shards  int
	st      store.Store
	members []*member
}

func raftConfig(id raft.ServerID) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = id
	c.HeartbeatTimeout = 100 * time.Millisecond
	c.ElectionTimeout = 100 * time.Millisecond
	c.LeaderLeaseTimeout = 50 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.SnapshotThreshold = 64
	c.TrailingLogs = 16
	c.Logger = hclog.NewNullLogger()
	return c
}

func newCluster(t *testing.T, n, shards int) *cluster {
	t.Helper()
	st, err := pebblestore.Open(pebblestore.Options{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, shards: shards, st: st}
	for i := 0; i < n; i++ {
		c.members = append(c.members, c.newMember(i))
	}
	for s := 0; s < shards; s++ {
		var cfg raft.Configuration
		for _, m := range c.members {
			cfg.Servers = append(cfg.Servers, raft.Server{ID: m.id, Address: m.trans[s].LocalAddr()})
		}
		for _, m := range c.members {
			if err := m.rafts[s].BootstrapCluster(cfg).Error(); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(func() {
		for _, m := range c.members {
			m.shutdown()
		}
		st.Close()
	})
	return c
}

// newMember builds a replica whose transports are connected to every
// existing member's.
func (c *cluster) newMember(i int) *member {
	t := c.t
	m := &member{id: raft.ServerID(fmt.Sprintf("n%d", i)), pub: &events{}}
	m.rep = New(c.shards, slog.New(slog.DiscardHandler))
	m.eng = engine.New(engine.Config{Store: c.st, IDs: snowflake.NewGenerator(uint8(i), 0), Logger: slog.New(slog.DiscardHandler),
		Publisher: m.pub, Replicator: m.rep})
	m.rep.SetEngine(m.eng)
	for s := 0; s < c.shards; s++ {
		addr, tr := raft.NewInmemTransport(raft.ServerAddress(fmt.Sprintf("n%d-s%d", i, s)))
		for _, o := range c.members {
			tr.Connect(o.trans[s].LocalAddr(), o.trans[s])
			o.trans[s].Connect(addr, tr)
		}
		logs := raft.NewInmemStore()
		snaps := raft.NewInmemSnapshotStore()
		r, err := raft.NewRaft(raftConfig(m.id), m.rep.FSM(s), logs, logs, snaps, tr)
		if err != nil {
			t.Fatal(err)
		}
		m.rafts, m.trans, m.logs, m.snaps = append(m.rafts, r), append(m.trans, tr), append(m.logs, logs), append(m.snaps, snaps)
	}
	m.rep.Attach(m)
	return m
}

func (c *cluster) live() []*member {
	var out []*member
	for _, m := range c.members {
		if !m.closed.Load() {
			out = append(out, m)
		}
	}
	return out
}

// onLeader runs fn on the member that leads the command's shard, as the
// REST layer's forwarding would, retrying through elections.
func (c *cluster) onLeader(fn func(e *engine.Engine) error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		for _, m := range c.live() {
			err = fn(m.eng)
			if !errors.Is(err, engine.ErrNotLeader) && !errors.Is(err, raft.ErrLeadershipLost) && !errors.Is(err, raft.ErrNotLeader) {
				return err
			}
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitConverged waits until every live replica has published every
// acknowledged message.
func (c *cluster) waitConverged(acked map[engine.ID]bool) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok := true
		for _, m := range c.live() {
			seen := map[engine.ID]bool{}
			for _, id := range m.pub.messageIDs() {
				seen[id] = true
			}
			for id := range acked {
				if !seen[id] {
					ok = false
				}
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			for _, m := range c.live() {
				c.t.Logf("%s saw %d messages, %d acknowledged", m.id, len(m.pub.messageIDs()), len(acked))
			}
			c.t.Fatal("replicas did not converge")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// setup registers a user and makes a guild; it returns the user and the
// guild's text channel.
func (c *cluster) setup(ctx context.Context) (engine.ID, engine.ID, engine.ID) {
	c.t.Helper()
	var uid engine.ID
	if err := c.onLeader(func(e *engine.Engine) error {
		u, _, err := e.Register(ctx, "alice", "correct horse battery")
		if err == nil {
			uid = u.ID
		}
		return err
	}); err != nil {
		c.t.Fatal(err)
	}
	// Another node may lead the guild's shard; it must have applied the
	// account shard's entry first (REST requests wait for that, see
	// edge/node's forwarding).
	for _, m := range c.live() {
		for m.eng.User(uid) == nil {
			time.Sleep(5 * time.Millisecond)
		}
	}
	var gid engine.ID
	if err := c.onLeader(func(e *engine.Engine) error {
		var err error
		gid, err = e.CreateGuild(ctx, uid, "raft", nil)
		return err
	}); err != nil {
		c.t.Fatal(err)
	}
	var ch engine.ID
	deadline := time.Now().Add(30 * time.Second)
	for ch == 0 {
		for _, m := range c.live() {
			_ = m.eng.View(gid, func(s *engine.State) error {
				for _, cc := range s.SortedChannels() {
					if cc.Type == 0 {
						ch = cc.ID
					}
				}
				return nil
			})
		}
		if time.Now().After(deadline) {
			c.t.Fatal("guild never appeared")
		}
	}
	for _, m := range c.live() {
		for m.eng.ChannelGuild(ch) != gid {
			time.Sleep(5 * time.Millisecond)
		}
	}
	return uid, gid, ch
}

func TestReplicasApplyTheSameOrder(t *testing.T) {
	c := newCluster(t, 3, 4)
	ctx := context.Background()
	uid, _, ch := c.setup(ctx)

	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[engine.ID]bool{}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				var id engine.ID
				err := c.onLeader(func(e *engine.Engine) error {
					ev, err := e.CreateMessage(ctx, uid, ch, engine.MessageParams{Content: fmt.Sprintf("m%d", i)})
					if err == nil {
						id = ev.Message.ID
					}
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked[id] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	c.waitConverged(acked)
	checkSameOrder(t, c, acked)
}

// checkSameOrder: every live replica published every acknowledged message
// exactly once, all in one order, and the store holds them all.
func checkSameOrder(t *testing.T, c *cluster, acked map[engine.ID]bool) {
	t.Helper()
	var ref []engine.ID
	for i, m := range c.live() {
		ids := m.pub.messageIDs()
		seen := map[engine.ID]int{}
		for _, id := range ids {
			seen[id]++
		}
		for id := range acked {
			if seen[id] != 1 {
				t.Fatalf("%s published acknowledged message %d %d times", m.id, id, seen[id])
			}
		}
		if i == 0 {
			ref = ids
			continue
		}
		// A replica that joined late (or restarted) has a suffix; compare
		// over the common tail.
		a, b := ref, ids
		if len(a) > len(b) {
			a = a[len(a)-len(b):]
		} else {
			b = b[len(b)-len(a):]
		}
		for k := range a {
			if a[k] != b[k] {
				t.Fatalf("%s order differs at %d: %d vs %d", m.id, k, a[k], b[k])
			}
		}
	}
}

func TestLeaderFailureLosesNothingAcknowledged(t *testing.T) {
	c := newCluster(t, 3, 2)
	ctx := context.Background()
	uid, gid, ch := c.setup(ctx)
	shard := c.members[0].rep.ShardOf(gid)

	var mu sync.Mutex
	acked := map[engine.ID]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var id engine.ID
				err := c.onLeader(func(e *engine.Engine) error {
					ev, err := e.CreateMessage(ctx, uid, ch, engine.MessageParams{Content: fmt.Sprintf("m%d", i)})
					if err == nil {
						id = ev.Message.ID
					}
					return err
				})
				if err == nil {
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
			}
		}()
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	eventually(t, "20 messages acknowledged before the leader dies", func() bool { return count() >= 20 })
	var leader *member
	for _, m := range c.members {
		if m.rafts[shard].State() == raft.Leader {
			leader = m
		}
	}
	if leader == nil {
		t.Fatal("no leader")
	}
	leader.shutdown()
	before := count()
	eventually(t, "20 more messages acknowledged by the new leader", func() bool { return count() >= before+20 })
	close(stop)
	wg.Wait()

	mu.Lock()
	n := len(acked)
	mu.Unlock()
	if n < 20 {
		t.Fatalf("only %d messages acknowledged", n)
	}
	// The survivors must agree and have every acknowledged message.
	c.waitConverged(acked)
	checkSameOrder(t, c, acked)
	// The new leader persisted what the old one may not have.
	deadline := time.Now().Add(30 * time.Second)
	for id := range acked {
		for {
			_, err := c.st.GetMessage(ctx, ch, id)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("acknowledged message %d not in the store: %v", id, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func TestSnapshotCatchUp(t *testing.T) {
	c := newCluster(t, 3, 1)
	ctx := context.Background()
	uid, gid, ch := c.setup(ctx)
	for i := 0; i < 150; i++ {
		if err := c.onLeader(func(e *engine.Engine) error {
			_, err := e.CreateMessage(ctx, uid, ch, engine.MessageParams{Content: fmt.Sprintf("m%d", i)})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	// State that lives only in the log and snapshots: a presence on two
	// nodes and a session record.
	for _, node := range []string{"node-a", "node-b"} {
		if err := c.onLeader(func(e *engine.Engine) error {
			return e.SetPresence(ctx, node, uid, &engine.Presence{Status: "dnd"})
		}); err != nil {
			t.Fatal(err)
		}
	}
	rec := engine.SessionRecord{ID: "snapshotted", UserID: uid, Node: "node-a", Guilds: []engine.ID{gid}, Anchor: []uint64{7}}
	if err := c.onLeader(func(e *engine.Engine) error {
		return e.ReplicateSessions(ctx, engine.SessionUpdate{Open: []engine.SessionRecord{rec}})
	}); err != nil {
		t.Fatal(err)
	}
	// Compact the leader's log, then add a member that must be sent the
	// snapshot: the log no longer reaches back to the guild's creation.
	var leader *member
	for _, m := range c.members {
		if m.rafts[0].State() == raft.Leader {
			leader = m
		}
	}
	if err := leader.rafts[0].Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	first, _ := leader.logs[0].FirstIndex()
	if first <= 1 {
		t.Fatalf("log not compacted: first index %d", first)
	}
	nm := c.newMember(len(c.members))
	c.members = append(c.members, nm)
	if err := leader.rafts[0].AddVoter(nm.id, nm.trans[0].LocalAddr(), 0, 0).Error(); err != nil {
		t.Fatal(err)
	}
	if err := c.onLeader(func(e *engine.Engine) error {
		_, err := e.CreateMessage(ctx, uid, ch, engine.MessageParams{Content: "after join"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for nm.eng.Applied(0) < leader.eng.Applied(0) {
		if time.Now().After(deadline) {
			t.Fatalf("new member applied %d, leader %d", nm.eng.Applied(0), leader.eng.Applied(0))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The restored state knows the guild, its channel and its member, and
	// the hot ring serves the latest page as the leader's does.
	if !nm.eng.InGuild(uid, gid) {
		t.Fatal("restored replica lost the membership")
	}
	if nm.eng.ChannelGuild(ch) != gid {
		t.Fatal("restored replica lost the channel")
	}
	if ids := nm.pub.messageIDs(); len(ids) != 1 {
		t.Fatalf("new member published %d messages, want only the one after it joined", len(ids))
	}
	if p, online := nm.eng.Presence(uid); !online || p.Status != "dnd" {
		t.Fatalf("restored presence %+v online %v, want dnd", p, online)
	}
	if !nm.eng.HasPresenceOn(uid, "node-a") || !nm.eng.HasPresenceOn(uid, "node-b") {
		t.Fatal("restored presence lost one of the user's nodes")
	}
	if got := nm.eng.Session("snapshotted"); got == nil || got.UserID != uid || len(got.Anchor) != 1 || got.Anchor[0] != 7 {
		t.Fatalf("restored session record %+v", got)
	}
}

// TestPresenceAndVoiceAreReplicated: presence set through one replica and a
// voice state set through another are seen by all, and a node that stops
// heartbeating loses its presence and voice states everywhere.
func TestPresenceAndVoiceAreReplicated(t *testing.T) {
	c := newCluster(t, 3, 4)
	ctx := context.Background()
	uid, gid, _ := c.setup(ctx)
	var voiceCh engine.ID
	_ = c.members[0].eng.View(gid, func(s *engine.State) error {
		for _, ch := range s.SortedChannels() {
			if ch.Type == 2 {
				voiceCh = ch.ID
			}
		}
		return nil
	})
	alive := func(ms ...*member) {
		for _, m := range ms {
			if err := c.onLeader(func(e *engine.Engine) error { return e.NodeAlive(ctx, string(m.id)) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	alive(c.members...)
	if err := c.onLeader(func(e *engine.Engine) error {
		return e.SetPresence(ctx, "n1", uid, &engine.Presence{Status: "dnd"})
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.onLeader(func(e *engine.Engine) error {
		return e.UpdateVoice(ctx, uid, gid, voiceCh, "sess-1", "n1", true, false)
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "presence and voice on every replica", func() bool {
		for _, m := range c.members {
			p, online := m.eng.Presence(uid)
			vs, ok := m.eng.VoiceStates(gid)[uid]
			if !online || p.Status != "dnd" || !ok || vs.ChannelID != voiceCh || !vs.SelfMute {
				return false
			}
		}
		return true
	})
	// Every replica published the events too.
	for _, m := range c.members {
		var pres, voice bool
		m.pub.mu.Lock()
		for _, ev := range m.pub.evs {
			pres = pres || ev.Type == "PRESENCE_UPDATE"
			voice = voice || ev.Type == "VOICE_STATE_UPDATE"
		}
		m.pub.mu.Unlock()
		if !pres || !voice {
			t.Fatalf("%s published presence %v, voice %v", m.id, pres, voice)
		}
	}
	// n1 stops heartbeating: the others keep beating, and the sweep
	// (with a short silence limit) drops what n1 held.
	time.Sleep(300 * time.Millisecond)
	alive(c.members[0], c.members[2])
	for _, m := range c.members {
		m.eng.SweepNodes(ctx, 200*time.Millisecond)
	}
	eventually(t, "dead node's presence and voice dropped", func() bool {
		for _, m := range c.members {
			if _, online := m.eng.Presence(uid); online {
				return false
			}
			if _, ok := m.eng.VoiceStates(gid)[uid]; ok {
				return false
			}
		}
		return true
	})
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
