package engine_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/secret"
	"github.com/accord-chat/accord/internal/accordtest"
	"github.com/accord-chat/accord/raftstore"
)

func init() { secret.BcryptCost = bcrypt.MinCost }

// setup registers a user and makes a guild through the cluster; it
// returns the user, the guild and its text channel once every member has
// applied them.
func setup(t *testing.T, c *accordtest.Cluster) (uid, gid, ch engine.ID) {
	t.Helper()
	ctx := context.Background()
	if err := c.OnLeader(func(e *engine.Engine) error {
		u, _, err := e.Register(ctx, fmt.Sprintf("alice%d", time.Now().UnixNano()), "correct horse battery")
		if err == nil {
			uid = u.ID
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// The guild's shard may be led elsewhere; it must have applied the
	// account first (REST requests wait for that, see edge/node).
	c.WaitConverged()
	if err := c.OnLeader(func(e *engine.Engine) error {
		var err error
		gid, err = e.CreateGuild(ctx, uid, "raft", nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	c.WaitConverged()
	_ = c.Live()[0].Engine.View(gid, func(s *engine.State) error {
		for _, cc := range s.SortedChannels() {
			if cc.Type == 0 {
				ch = cc.ID
			}
		}
		return nil
	})
	if ch == 0 {
		t.Fatal("the guild has no text channel")
	}
	return uid, gid, ch
}

// post creates a message through whichever member leads the channel's
// shard and returns its ID.
func post(c *accordtest.Cluster, uid, ch engine.ID, content string) (engine.ID, error) {
	var id engine.ID
	err := c.OnLeader(func(e *engine.Engine) error {
		ev, err := e.CreateMessage(context.Background(), uid, ch, engine.MessageParams{Content: content})
		if err == nil {
			id = ev.Message.ID
		}
		return err
	})
	return id, err
}

// messageIDs lists the MESSAGE_CREATEs a member published, in order.
func messageIDs(m *accordtest.Member) []engine.ID {
	var out []engine.ID
	for _, ev := range m.Events.Of("MESSAGE_CREATE") {
		out = append(out, ev.Value.Data.(*engine.MessageEvent).Message.ID)
	}
	return out
}

// checkAcked: every live member published every acknowledged message
// exactly once, all in one order (over their common suffix: a member that
// joined late has only the end), and the store holds them all.
func checkAcked(t *testing.T, c *accordtest.Cluster, ch engine.ID, acked map[engine.ID]bool) {
	t.Helper()
	c.WaitConverged()
	live := c.Live()
	for _, m := range live {
		count := map[engine.ID]int{}
		for _, id := range messageIDs(m) {
			count[id]++
		}
		for id := range acked {
			if count[id] != 1 {
				t.Fatalf("%s published acknowledged message %d %d times", m.ID, id, count[id])
			}
		}
	}
	for _, m := range live[1:] {
		accordtest.EnsureSameEvents(t, live[0].Events, m.Events, true)
	}
	accordtest.EnsureSameState(t, engines(live)...)
	// The leader persisted what the old one may not have.
	deadline := time.Now().Add(time.Minute)
	for id := range acked {
		for {
			_, err := c.Store.GetMessage(context.Background(), ch, id)
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

func engines(ms []*accordtest.Member) []*engine.Engine {
	var out []*engine.Engine
	for _, m := range ms {
		out = append(out, m.Engine)
	}
	return out
}

func TestReplicasApplyTheSameOrder(t *testing.T) {
	c := accordtest.NewCluster(t, accordtest.Options{})
	uid, _, ch := setup(t, c)
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[engine.ID]bool{}
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				id, err := post(c, uid, ch, fmt.Sprintf("w%d m%d", w, i))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	checkAcked(t, c, ch, acked)
}

func TestLeaderFailureLosesNothingAcknowledged(t *testing.T) {
	c := accordtest.NewCluster(t, accordtest.Options{Shards: 2})
	uid, gid, ch := setup(t, c)
	var mu sync.Mutex
	acked := map[engine.ID]bool{}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if id, err := post(c, uid, ch, fmt.Sprintf("w%d m%d", w, i)); err == nil {
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
			}
		})
	}
	accordtest.WaitFor(t, "20 messages acknowledged before the leader dies", func() bool { return count() >= 20 })
	leader := c.LeaderOf(c.ShardOf(gid))
	if leader == nil {
		t.Fatal("no leader")
	}
	c.Stop(leader)
	before := count()
	accordtest.WaitFor(t, "20 more acknowledged by the new leader", func() bool { return count() >= before+20 })
	close(stop)
	wg.Wait()
	checkAcked(t, c, ch, acked)
}

func TestPartitionedLeaderLosesNothingAcknowledged(t *testing.T) {
	c := accordtest.NewCluster(t, accordtest.Options{Shards: 2})
	uid, gid, ch := setup(t, c)
	acked := map[engine.ID]bool{}
	for i := range 20 {
		id, err := post(c, uid, ch, fmt.Sprintf("before %d", i))
		if err != nil {
			t.Fatal(err)
		}
		acked[id] = true
	}
	// Cut the shard's leader off: the majority elects another and goes
	// on; what the old leader still accepts cannot commit.
	old := c.LeaderOf(c.ShardOf(gid))
	c.Partition(old)
	var others []*accordtest.Member
	for _, m := range c.Live() {
		if m != old {
			others = append(others, m)
		}
	}
	accordtest.WaitFor(t, "a new leader on the majority side", func() bool {
		for _, m := range others {
			if m.Node.IsLeader(c.ShardOf(gid)) {
				return true
			}
		}
		return false
	})
	for i := range 20 {
		var id engine.ID
		var err error
		for _, m := range others {
			var ev *engine.MessageEvent
			if ev, err = m.Engine.CreateMessage(context.Background(), uid, ch, engine.MessageParams{Content: fmt.Sprintf("during %d", i)}); err == nil {
				id = ev.Message.ID
				break
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		acked[id] = true
	}
	c.Heal()
	checkAcked(t, c, ch, acked)
}

func TestSnapshotCatchUp(t *testing.T) {
	c := accordtest.NewCluster(t, accordtest.Options{Shards: 1, Raft: func(cfg *raftstore.Config) { cfg.TrailingLogs = 16 }})
	ctx := context.Background()
	uid, gid, ch := setup(t, c)
	for i := range 150 {
		if _, err := post(c, uid, ch, fmt.Sprintf("m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// State that lives only in the log and snapshots: a presence on two
	// nodes and a session record.
	for _, node := range []string{"node-a", "node-b"} {
		if err := c.OnLeader(func(e *engine.Engine) error {
			return e.SetPresence(ctx, node, uid, &engine.Presence{Status: "dnd"})
		}); err != nil {
			t.Fatal(err)
		}
	}
	rec := engine.SessionRecord{ID: "snapshotted", UserID: uid, Node: "node-a", Guilds: []engine.ID{gid}, Anchor: []uint64{7}}
	if err := c.OnLeader(func(e *engine.Engine) error {
		return e.ReplicateSessions(ctx, engine.SessionUpdate{Open: []engine.SessionRecord{rec}})
	}); err != nil {
		t.Fatal(err)
	}
	// Compact every log, then add a member that must be sent the
	// snapshot: no log reaches back to the guild's creation.
	c.WaitConverged()
	for _, m := range c.Live() {
		if err := m.Node.Snapshot(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if first, _, _ := m.Node.LogBounds(0); first <= 1 {
			t.Fatalf("%s: log not compacted: first index %d", m.ID, first)
		}
	}
	nm := c.AddMember()
	if _, err := post(c, uid, ch, "after join"); err != nil {
		t.Fatal(err)
	}
	c.WaitConverged()
	if !nm.Engine.InGuild(uid, gid) || nm.Engine.ChannelGuild(ch) != gid {
		t.Fatal("restored replica lost the membership or the channel")
	}
	if ids := messageIDs(nm); len(ids) != 1 {
		t.Fatalf("new member published %d messages, want only the one after it joined", len(ids))
	}
	if p, online := nm.Engine.Presence(uid); !online || p.Status != "dnd" {
		t.Fatalf("restored presence %+v online %v, want dnd", p, online)
	}
	if !nm.Engine.HasPresenceOn(uid, "node-a") || !nm.Engine.HasPresenceOn(uid, "node-b") {
		t.Fatal("restored presence lost one of the user's nodes")
	}
	if got := nm.Engine.Session("snapshotted"); got == nil || got.UserID != uid || !slices.Equal(got.Anchor, []uint64{7}) {
		t.Fatalf("restored session record %+v", got)
	}
	accordtest.EnsureSameState(t, engines(c.Live())...)
}

// TestPresenceAndVoiceAreReplicated: presence set through one replica and a
// voice state set through another are seen by all, and a node that stops
// heartbeating loses its presence and voice states everywhere.
func TestPresenceAndVoiceAreReplicated(t *testing.T) {
	c := accordtest.NewCluster(t, accordtest.Options{})
	ctx := context.Background()
	uid, gid, _ := setup(t, c)
	var voiceCh engine.ID
	_ = c.Members[0].Engine.View(gid, func(s *engine.State) error {
		for _, ch := range s.SortedChannels() {
			if ch.Type == 2 {
				voiceCh = ch.ID
			}
		}
		return nil
	})
	alive := func(nodes ...string) {
		for _, n := range nodes {
			if err := c.OnLeader(func(e *engine.Engine) error { return e.NodeAlive(ctx, n, "") }); err != nil {
				t.Fatal(err)
			}
		}
	}
	alive("n1", "n2", "n3")
	if err := c.OnLeader(func(e *engine.Engine) error {
		return e.SetPresence(ctx, "n1", uid, &engine.Presence{Status: "dnd"})
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.OnLeader(func(e *engine.Engine) error {
		return e.UpdateVoice(ctx, uid, gid, voiceCh, "sess-1", "n1", true, false)
	}); err != nil {
		t.Fatal(err)
	}
	accordtest.WaitFor(t, "presence and voice on every replica", func() bool {
		for _, m := range c.Members {
			p, online := m.Engine.Presence(uid)
			vs, ok := m.Engine.VoiceStates(gid)[uid]
			if !online || p.Status != "dnd" || !ok || vs.ChannelID != voiceCh || !vs.SelfMute {
				return false
			}
		}
		return true
	})
	for _, m := range c.Members {
		if len(m.Events.Of("PRESENCE_UPDATE")) == 0 || len(m.Events.Of("VOICE_STATE_UPDATE")) == 0 {
			t.Fatalf("%s did not publish the presence and voice events", m.ID)
		}
	}
	// n1 stops heartbeating: the others beat again, and a sweep with a
	// silence limit shorter than n1's silence drops what n1 held.
	const limit = 200 * time.Millisecond
	beatAt := time.Now()
	accordtest.WaitFor(t, "n1 silent past the limit", func() bool { return time.Since(beatAt) > 2*limit })
	alive("n2", "n3")
	for _, m := range c.Members {
		m.Engine.SweepNodes(ctx, limit)
	}
	accordtest.WaitFor(t, "dead node's presence and voice dropped", func() bool {
		for _, m := range c.Members {
			if _, online := m.Engine.Presence(uid); online {
				return false
			}
			if _, ok := m.Engine.VoiceStates(gid)[uid]; ok {
				return false
			}
		}
		return true
	})
}

// TestUnknownEntryHaltsTheShard: an entry this binary cannot apply (a
// newer format) stops its shard on every member, which reports itself
// unhealthy, instead of being skipped; the other shards go on.
func TestUnknownEntryHaltsTheShard(t *testing.T) {
	c := accordtest.NewCluster(t, accordtest.Options{})
	uid, gid, ch := setup(t, c)
	bad := c.ShardOf(gid)
	leader := c.LeaderOf(bad)
	err := leader.Node.Propose(bad, []byte{0xAC, 99, '{', '}'})()
	if !errors.Is(err, raftstore.ErrHalted) || !errors.Is(err, engine.ErrNewerEntry) {
		t.Fatalf("proposal of a newer entry answered %v, want a halt for a newer entry", err)
	}
	for _, m := range c.Live() {
		accordtest.WaitFor(t, m.ID+" halted", func() bool { return m.Node.Halted() == 1 })
		if h := m.Node.Health(); h == nil || !strings.Contains(h.Error(), fmt.Sprintf("shard %d halted", bad)) {
			t.Fatalf("%s health: %v", m.ID, h)
		}
	}
	// The halted shard takes nothing more; the others do.
	if _, err := post(c, uid, ch, "into a halted shard"); err == nil {
		t.Fatal("a message was applied in a halted shard")
	}
	ctx := context.Background()
	if c.ShardOf(engine.AccountKey) != bad {
		if err := c.OnLeader(func(e *engine.Engine) error { return e.NodeAlive(ctx, "n1", "") }); err != nil {
			t.Fatalf("the accounts' shard stopped with shard %d: %v", bad, err)
		}
	}
	for range 64 {
		var other engine.ID
		if err := c.OnLeader(func(e *engine.Engine) (err error) {
			other, err = e.CreateGuild(ctx, uid, "elsewhere", nil)
			return err
		}); err != nil && !errors.Is(err, raftstore.ErrHalted) {
			// A guild whose ID falls in the halted shard is refused
			// (its ID is not returned); any other failure is a defect.
			t.Fatalf("create a guild beside a halted shard: %v", err)
		}
		if other != 0 && c.ShardOf(other) != bad {
			return // a guild of a healthy shard was created and applied
		}
	}
	t.Fatal("no guild landed outside the halted shard")
}
