package engine

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/core/secret"
	"github.com/accord-chat/accord/core/store"
	"github.com/accord-chat/accord/core/store/pebblestore"
)

func init() { secret.BcryptCost = bcrypt.MinCost }

// recorder wraps a store and keeps every committed batch, encoded as it
// would travel through a replicated log.
type recorder struct {
	store.Store
	mu      sync.Mutex
	batches [][]byte
}

func (r *recorder) Commit(ctx context.Context, b *store.Batch) error {
	if err := r.Store.Commit(ctx, b); err != nil {
		return err
	}
	raw, err := json.Marshal(b)
	if err != nil {
		panic(err)
	}
	r.mu.Lock()
	r.batches = append(r.batches, raw)
	r.mu.Unlock()
	return nil
}

type recordedEvents struct {
	mu     sync.Mutex
	events []Event
}

func (p *recordedEvents) Publish(evs []Event) {
	p.mu.Lock()
	p.events = append(p.events, evs...)
	p.mu.Unlock()
}

func openStore(t *testing.T, dir string) store.Store {
	t.Helper()
	st, err := pebblestore.Open(pebblestore.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// busyGuild runs a representative mix of commands and returns the guild.
func busyGuild(t *testing.T, e *Engine) ID {
	t.Helper()
	ctx := context.Background()
	owner, _, err := e.Register(ctx, "owner", "password123")
	if err != nil {
		t.Fatal(err)
	}
	bob, _, err := e.Register(ctx, "bob", "password123")
	if err != nil {
		t.Fatal(err)
	}
	gid, err := e.CreateGuild(ctx, owner.ID, "Guild", nil)
	if err != nil {
		t.Fatal(err)
	}
	text, err := e.CreateChannel(ctx, owner.ID, gid, ChannelParams{Name: "Chat Room", Type: model.ChannelGuildText})
	if err != nil {
		t.Fatal(err)
	}
	if text.Name != "chat-room" {
		t.Errorf("text channel name %q, want Discord's normalised chat-room", text.Name)
	}
	inv, err := e.CreateInvite(ctx, owner.ID, text.ID, InviteParams{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.AcceptInvite(ctx, bob.ID, inv.Code); err != nil {
		t.Fatal(err)
	}
	mods := uint64(perm.ManageMessages)
	role, err := e.CreateRole(ctx, owner.ID, gid, RolePatch{Permissions: &mods})
	if err != nil {
		t.Fatal(err)
	}
	roles := []ID{role.ID}
	if _, err := e.ModifyMember(ctx, owner.ID, gid, bob.ID, MemberPatch{Roles: &roles}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, err := e.CreateMessage(ctx, bob.ID, text.ID, MessageParams{Content: "hello"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.EditOverwrite(ctx, owner.ID, text.ID, model.Overwrite{ID: gid, Type: model.OverwriteRole, Deny: perm.AddReactions}); err != nil {
		t.Fatal(err)
	}
	return gid
}

// snapshotOf copies a guild's state for comparison.
func snapshotOf(t *testing.T, e *Engine, gid ID) *State {
	t.Helper()
	var out *State
	if err := e.View(gid, func(s *State) error {
		out = newState()
		out.Guild = s.Guild
		for k, v := range s.Channels {
			c := *v
			c.LastMessageID = 0 // derived from the store on load
			out.Channels[k] = &c
		}
		for k, v := range s.Roles {
			out.Roles[k] = v
		}
		for k, v := range s.Members {
			out.Members[k] = v
		}
		for k, v := range s.Bans {
			out.Bans[k] = v
		}
		for k, v := range s.Invites {
			out.Invites[k] = v
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// The batches the engine commits are the deterministic commands: applying
// them, decoded from their log encoding, to an empty State on another
// "replica" must give the same State.
func TestBatchesReplayToSameState(t *testing.T) {
	rec := &recorder{Store: openStore(t, t.TempDir())}
	defer rec.Close()
	e := newTestEngine(t, Config{Store: rec, Logger: slog.New(slog.DiscardHandler)})
	gid := busyGuild(t, e)

	replica := newState()
	for _, raw := range rec.batches {
		var b store.Batch
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Fatal(err)
		}
		for _, op := range b.Ops {
			if op.GuildID == gid || (op.Guild != nil && op.Guild.ID == gid) {
				replica.Apply(op)
			}
		}
	}
	for _, c := range replica.Channels {
		c.LastMessageID = 0
	}
	want := snapshotOf(t, e, gid)
	if !reflect.DeepEqual(jsonOf(replica), jsonOf(want)) {
		t.Fatalf("replayed state differs:\nreplica %s\nengine  %s", jsonOf(replica), jsonOf(want))
	}
}

func jsonOf(s *State) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// What a restarted node loads from the store is what the engine held.
func TestRestartLoadsSameState(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	st := openStore(t, dir)
	e := newTestEngine(t, Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	gid := busyGuild(t, e)
	want := snapshotOf(t, e, gid)
	lastID := e.NewID()
	st.Close()

	st2 := openStore(t, dir)
	defer st2.Close()
	e2 := newTestEngine(t, Config{Store: st2, Logger: slog.New(slog.DiscardHandler)})
	if err := e2.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := snapshotOf(t, e2, gid); jsonOf(got) != jsonOf(want) {
		t.Fatalf("loaded state differs:\nloaded %s\nbefore %s", jsonOf(got), jsonOf(want))
	}
	if e2.NewID() <= lastID {
		t.Fatal("ID generator not advanced past stored IDs")
	}
	if u := e2.UserByLogin("BOB"); u == nil {
		t.Fatal("login index not rebuilt (case-insensitive)")
	}
	if len(e2.UserGuilds(e2.UserByLogin("bob").ID)) != 1 {
		t.Fatal("membership index not rebuilt")
	}
}

// Events of one guild are published in commit order even when many
// writers race.
func TestEventsPublishedInCommitOrder(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	pub := &recordedEvents{}
	e := newTestEngine(t, Config{Store: st, Logger: slog.New(slog.DiscardHandler), Publisher: pub})
	ctx := context.Background()
	owner, _, _ := e.Register(ctx, "owner", "password123")
	gid, err := e.CreateGuild(ctx, owner.ID, "Guild", nil)
	if err != nil {
		t.Fatal(err)
	}
	var text ID
	_ = e.View(gid, func(s *State) error { text = s.Guild.SystemChannelID; return nil })
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if _, err := e.CreateMessage(ctx, owner.ID, text, MessageParams{Content: "x"}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var last ID
	n := 0
	for _, ev := range pub.events {
		if ev.Type != "MESSAGE_CREATE" {
			continue
		}
		id := ev.Data.(*MessageEvent).Message.ID
		if id <= last {
			t.Fatalf("event %d out of order: %d after %d", n, id, last)
		}
		last = id
		n++
	}
	if n != 400 {
		t.Fatalf("%d MESSAGE_CREATE events, want 400", n)
	}
}
