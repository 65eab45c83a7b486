package pebblestore

import (
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
)

// These tests look at the key space itself: the indexes are built so that
// reads tolerate stale entries, which means the conformance suite cannot
// see a leak. Here leaks fail.

func keysUnder(t *testing.T, s *Store, prefix []byte) [][]byte {
	t.Helper()
	var out [][]byte
	if err := scan(s.db, prefix, func(k, _ []byte) error {
		out = append(out, slices.Clone(k))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func commitOps(t *testing.T, s *Store, ops ...store.Op) {
	t.Helper()
	if err := s.Commit(t.Context(), &store.Batch{Ops: ops}); err != nil {
		t.Fatal(err)
	}
}

func putMsg(ch, id store.ID, pinned bool) store.Op {
	return store.Op{Kind: store.OpPutMessage, Message: &model.Message{ID: id, ChannelID: ch, Pinned: pinned}}
}

func pinnedIDs(t *testing.T, s *Store, ch store.ID) []store.ID {
	t.Helper()
	var out []store.ID
	for _, k := range keysUnder(t, s, channelPrefix(tPin, ch)) {
		out = append(out, pinIDFromKey(k))
	}
	return out
}

func TestPinIndexIsExact(t *testing.T) {
	s := openTemp(t, true)
	defer s.Close()
	const ch = 5
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b, c := snowflake.FromTime(base), snowflake.FromTime(base.Add(time.Hour)), snowflake.FromTime(base.Add(400*time.Hour))

	commitOps(t, s, putMsg(ch, a, true), putMsg(ch, b, true), putMsg(ch, c, false))
	if got, want := pinnedIDs(t, s, ch), []store.ID{b, a}; !slices.Equal(got, want) {
		t.Fatalf("pin index = %v, want %v", got, want)
	}
	commitOps(t, s, putMsg(ch, a, false))                      // unpin on its own
	commitOps(t, s, putMsg(ch, c, true), putMsg(ch, c, false)) // pin and unpin in one batch
	commitOps(t, s, putMsg(ch, b, true))                       // edit while pinned
	commitOps(t, s, store.Op{Kind: store.OpDeleteMessage, ChannelID: ch, ID: b})
	if got := pinnedIDs(t, s, ch); len(got) != 0 {
		t.Errorf("pin index = %v, want empty", got)
	}
}

func TestDeleteGuildLeavesNothing(t *testing.T) {
	s := openTemp(t, true)
	defer s.Close()
	id := snowflake.FromTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	guild := func(gid, ch store.ID, code string) []store.Op {
		return []store.Op{
			{Kind: store.OpPutGuild, Guild: &model.Guild{ID: gid}},
			{Kind: store.OpPutChannel, Channel: &model.Channel{ID: ch, GuildID: gid}},
			{Kind: store.OpPutChannel, Channel: &model.Channel{ID: ch + 1, GuildID: gid}},
			{Kind: store.OpPutRole, GuildID: gid, Role: &model.Role{ID: gid}},
			{Kind: store.OpPutMember, Member: &model.Member{GuildID: gid, UserID: 7}},
			{Kind: store.OpPutBan, Ban: &model.Ban{GuildID: gid, UserID: 8}},
			{Kind: store.OpPutInvite, Invite: &model.Invite{Code: code, GuildID: gid, ChannelID: ch}},
			putMsg(ch, id, true),
			{Kind: store.OpPutReaction, ChannelID: ch, ID: id, Emoji: "👍", UserID: 7},
		}
	}
	commitOps(t, s, guild(10, 11, "x")...)
	commitOps(t, s, guild(20, 21, "y")...)
	// A guild created and deleted within one batch exercises the indexed
	// batch: the deletion must find channels and invites not yet committed.
	ops := guild(30, 31, "z")
	ops = append(ops, store.Op{Kind: store.OpDeleteGuild, GuildID: 30})
	commitOps(t, s, ops...)
	commitOps(t, s, store.Op{Kind: store.OpDeleteGuild, GuildID: 10})

	for _, gone := range []struct {
		gid, ch store.ID
		code    string
	}{{10, 11, "x"}, {30, 31, "z"}} {
		prefixes := [][]byte{
			guildPrefix(gone.gid),
			idKey(tChannelDir, gone.ch), idKey(tChannelDir, gone.ch+1),
			bytesKey(tInviteIndex, []byte(gone.code)),
			channelPrefix(tMessage, gone.ch), channelPrefix(tReaction, gone.ch), channelPrefix(tPin, gone.ch),
		}
		for _, p := range prefixes {
			if ks := keysUnder(t, s, p); len(ks) != 0 {
				t.Errorf("guild %d: %d keys left under %x", gone.gid, len(ks), p)
			}
		}
	}
	// The other guild is untouched: 7 guild records, 2 directory entries,
	// 1 invite index entry, and its messages.
	for _, c := range []struct {
		prefix []byte
		n      int
	}{
		{guildPrefix(20), 7},
		{idKey(tChannelDir, 21), 1}, {idKey(tChannelDir, 22), 1},
		{bytesKey(tInviteIndex, []byte("y")), 1},
		{channelPrefix(tMessage, 21), 1}, {channelPrefix(tReaction, 21), 1}, {channelPrefix(tPin, 21), 1},
	} {
		if ks := keysUnder(t, s, c.prefix); len(ks) != c.n {
			t.Errorf("%d keys under %x, want %d", len(ks), c.prefix, c.n)
		}
	}
}

func TestInviteMovesBetweenGuilds(t *testing.T) {
	s := openTemp(t, true)
	defer s.Close()
	commitOps(t, s,
		store.Op{Kind: store.OpPutGuild, Guild: &model.Guild{ID: 1}},
		store.Op{Kind: store.OpPutGuild, Guild: &model.Guild{ID: 2}},
		store.Op{Kind: store.OpPutInvite, Invite: &model.Invite{Code: "m", GuildID: 1}},
	)
	commitOps(t, s, store.Op{Kind: store.OpPutInvite, Invite: &model.Invite{Code: "m", GuildID: 2}})
	if ks := keysUnder(t, s, guildKey(1, gInvite, 0)); len(ks) != 0 {
		t.Errorf("guild 1 still has %d invites", len(ks))
	}
	inv, err := s.GetInvite(t.Context(), "m")
	if err != nil || inv.GuildID != 2 {
		t.Errorf("GetInvite = %+v, %v; want guild 2", inv, err)
	}
}

func TestDeleteChannelFindsItsGuild(t *testing.T) {
	s := openTemp(t, true)
	defer s.Close()
	commitOps(t, s,
		store.Op{Kind: store.OpPutGuild, Guild: &model.Guild{ID: 1}},
		store.Op{Kind: store.OpPutChannel, Channel: &model.Channel{ID: 2, GuildID: 1}},
		store.Op{Kind: store.OpPutChannel, Channel: &model.Channel{ID: 3, GuildID: 1}},
	)
	// Without GuildID, by ChannelID and by ID.
	commitOps(t, s, store.Op{Kind: store.OpDeleteChannel, ChannelID: 2}, store.Op{Kind: store.OpDeleteChannel, ID: 3})
	if ks := keysUnder(t, s, guildKey(1, gChannel, 0)); len(ks) != 0 {
		t.Errorf("guild 1 still has %d channels", len(ks))
	}
	if ks := keysUnder(t, s, []byte{tChannelDir}); len(ks) != 0 {
		t.Errorf("%d channel directory entries left", len(ks))
	}
}

// Unserialized Commits on one message can leave a pin entry behind (see
// Commit); ListPins must not return such a message.
func TestListPinsIgnoresStaleEntries(t *testing.T) {
	s := openTemp(t, true)
	defer s.Close()
	const ch = 5
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b, c := snowflake.FromTime(base), snowflake.FromTime(base.Add(time.Hour)), snowflake.FromTime(base.Add(2*time.Hour))
	commitOps(t, s, putMsg(ch, a, true), putMsg(ch, b, false))
	for _, id := range []store.ID{b, c} { // unpinned, and missing
		if err := s.db.Set(pinKey(ch, id), nil, pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	pins, err := s.ListPins(t.Context(), ch)
	if err != nil || len(pins) != 1 || pins[0].ID != a {
		t.Errorf("ListPins = %v, %v; want only message %d", pins, err, a)
	}
}
