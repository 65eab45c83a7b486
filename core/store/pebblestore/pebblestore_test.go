package pebblestore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
	"github.com/accord-chat/accord/core/store/storetest"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openTemp(t testing.TB, noSync bool) *Store {
	t.Helper()
	s, err := Open(Options{Dir: t.TempDir(), Logger: quietLogger(), NoSync: noSync, CacheSize: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t, false) })
}

func TestReopen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	ids := []store.ID{snowflake.FromTime(now), snowflake.FromTime(now.Add(30 * 24 * time.Hour))}
	b := &store.Batch{}
	b.Add(
		store.Op{Kind: store.OpPutUser, User: &model.User{ID: 1, Username: "alice", Discriminator: "0"}},
		store.Op{Kind: store.OpPutGuild, Guild: &model.Guild{ID: 10, Name: "g"}},
		store.Op{Kind: store.OpPutChannel, Channel: &model.Channel{ID: 11, GuildID: 10, Name: "general"}},
		store.Op{Kind: store.OpPutInvite, Invite: &model.Invite{Code: "abc", GuildID: 10, ChannelID: 11}},
		store.Op{Kind: store.OpPutMessage, Message: &model.Message{ID: ids[0], ChannelID: 11, Content: "one", Pinned: true}},
		store.Op{Kind: store.OpPutMessage, Message: &model.Message{ID: ids[1], ChannelID: 11, Content: "two"}},
		store.Op{Kind: store.OpPutReaction, ChannelID: 11, ID: ids[1], Emoji: "👍", UserID: 1},
	)
	if err := s.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(Options{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if u, err := s.GetUser(ctx, 1); err != nil || u.Username != "alice" {
		t.Errorf("GetUser after reopen = %+v, %v", u, err)
	}
	if inv, err := s.GetInvite(ctx, "abc"); err != nil || inv.ChannelID != 11 {
		t.Errorf("GetInvite after reopen = %+v, %v", inv, err)
	}
	n := 0
	if err := s.ForEachGuild(ctx, func(g *store.GuildSnapshot) error {
		n++
		if g.Guild.ID != 10 || len(g.Channels) != 1 || len(g.Invites) != 1 {
			t.Errorf("guild after reopen = %+v", g)
		}
		return nil
	}); err != nil || n != 1 {
		t.Errorf("ForEachGuild after reopen: %d guilds, %v", n, err)
	}
	ms, err := s.ListMessages(ctx, 11, store.MessageQuery{})
	if err != nil || len(ms) != 2 || ms[0].ID != ids[1] || ms[1].ID != ids[0] {
		t.Errorf("ListMessages after reopen = %v, %v", ms, err)
	}
	pins, err := s.ListPins(ctx, 11)
	if err != nil || len(pins) != 1 || pins[0].ID != ids[0] {
		t.Errorf("ListPins after reopen = %v, %v", pins, err)
	}
	if ok, err := s.HasReaction(ctx, 11, ids[1], "👍", 1); !ok || err != nil {
		t.Errorf("HasReaction after reopen = %v, %v", ok, err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(Options{}); err == nil {
		t.Error("Open without a directory succeeded")
	}
	// The directory is locked while open.
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s2, err := Open(Options{Dir: dir, Logger: quietLogger()}); err == nil {
		s2.Close()
		t.Error("a second Open of the same directory succeeded")
	}
}

// Close must wait for calls in progress instead of pulling the database
// from under them (Pebble panics on use after close).
func TestCloseWhileBusy(t *testing.T) {
	s := openTemp(t, true)
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := snowflake.ID(uint64(w)<<40 | uint64(i+1))
				err := s.Commit(ctx, &store.Batch{Ops: []store.Op{{Kind: store.OpPutMessage, Message: &model.Message{ID: id, ChannelID: 5}}}})
				if err == nil {
					_, err = s.ListMessages(ctx, 5, store.MessageQuery{})
				}
				if errors.Is(err, store.ErrClosed) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	close(stop)
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// ForEach callbacks may call back into the store; Close meanwhile must
// make the nested call fail rather than deadlock.
func TestNestedCallDuringClose(t *testing.T) {
	s := openTemp(t, true)
	ctx := context.Background()
	if err := s.Commit(ctx, &store.Batch{Ops: []store.Op{{Kind: store.OpPutUser, User: &model.User{ID: 1}}}}); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error)
	err := s.ForEachUser(ctx, func(u *model.User) error {
		go func() { closed <- s.Close() }()
		// Wait until Close has begun, then call in again.
		for !s.closed.Load() {
			time.Sleep(time.Millisecond)
		}
		_, err := s.GetUser(ctx, u.ID)
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("GetUser during Close: %v, want ErrClosed", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}

func TestKeyOrder(t *testing.T) {
	// Newer messages must sort first within a channel, across buckets,
	// and channels must not interleave.
	day := 24 * time.Hour
	base := time.Date(2015, 1, 2, 0, 0, 0, 0, time.UTC)
	var ids []store.ID
	for _, d := range []time.Duration{0, 1, 9 * day, 10 * day, 11 * day, 400 * day, 4000 * day, 40000 * day} {
		ids = append(ids, snowflake.FromTime(base.Add(d)))
	}
	ids = append(ids, ^store.ID(0), 1)
	slices.Sort(ids)
	var keys [][]byte
	for _, ch := range []store.ID{7, 8} {
		for i := len(ids) - 1; i >= 0; i-- {
			k := messageKey(ch, ids[i])
			if got := messageIDFromKey(k); got != ids[i] {
				t.Fatalf("messageIDFromKey(messageKey(%d)) = %d", ids[i], got)
			}
			keys = append(keys, k)
		}
	}
	if !slices.IsSortedFunc(keys, bytes.Compare) {
		t.Error("message keys are not sorted newest first per channel")
	}

	p := reactionPrefix(1, 2, "a")
	if k := reactionKey(1, 2, "ab", 0); bytes.HasPrefix(k, p) {
		t.Error(`reaction key of "ab" falls under the prefix of "a"`)
	}
	if got := prefixEnd([]byte{1, 0xff, 0xff}); !bytes.Equal(got, []byte{2}) {
		t.Errorf("prefixEnd = %x", got)
	}
	if got := prefixEnd([]byte{0xff}); got != nil {
		t.Errorf("prefixEnd(ff) = %x, want nil", got)
	}
}
