package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store"
)

func testBatches(t *testing.T, s store.Store) {
	t.Run("EveryKind", func(t *testing.T) {
		hash := sha256.Sum256([]byte("batch token"))
		g := fullGuild(60_000)
		dm := &model.Channel{ID: 60_500, Type: model.ChannelDM, Recipients: []ID{100, 200}}
		msg := richMessage(60_001, 60_000, idAtTime(t0, 9))
		ops := []store.Op{
			{Kind: store.OpPutUser, User: user(60_100)},
			{Kind: store.OpPutCredentials, Credentials: &model.Credentials{UserID: 60_100, Login: "batch", PasswordHash: "x"}},
			{Kind: store.OpPutToken, Token: &model.Token{Hash: hash[:], UserID: 60_100, CreatedAt: t0}},
			{Kind: store.OpPutApplication, Application: &model.Application{ID: 60_100, Name: "app"}},
			{Kind: store.OpPutChannel, Channel: dm},
			{Kind: store.OpPutMessage, Message: msg},
			react(60_001, msg.ID, "👍", 60_100),
		}
		ops = append(ops, putGuild(g)...)
		commit(t, s, ops...)

		if _, err := s.GetUser(ctx(t), 60_100); err != nil {
			t.Errorf("GetUser: %v", err)
		}
		if _, err := s.GetCredentials(ctx(t), "batch"); err != nil {
			t.Errorf("GetCredentials: %v", err)
		}
		if _, err := s.GetToken(ctx(t), hash[:]); err != nil {
			t.Errorf("GetToken: %v", err)
		}
		if _, err := s.GetApplication(ctx(t), 60_100); err != nil {
			t.Errorf("GetApplication: %v", err)
		}
		equalJSON(t, "ForEachDM", allDMs(t, s, dm.ID, g.Channels[0].ID), []*model.Channel{dm})
		if got, err := s.GetMessage(ctx(t), msg.ChannelID, msg.ID); err != nil {
			t.Errorf("GetMessage: %v", err)
		} else {
			equalJSON(t, "GetMessage", got, msg)
		}
		checkReactions(t, s, 60_001, msg.ID, "👍", []ID{60_100})
		checkGuild(t, s, g)
		checkInvite(t, s, g.Invites[0])
	})

	t.Run("InvalidOpRejectsBatch", func(t *testing.T) {
		cases := []struct {
			name string
			op   store.Op
		}{
			{"zero kind", store.Op{}},
			{"unknown kind", store.Op{Kind: 200}},
			{"PutUser without user", store.Op{Kind: store.OpPutUser}},
			{"PutMessage without message", store.Op{Kind: store.OpPutMessage}},
			{"PutChannel without channel", store.Op{Kind: store.OpPutChannel}},
			{"PutGuild without guild", store.Op{Kind: store.OpPutGuild}},
			{"PutRole without guild", store.Op{Kind: store.OpPutRole, Role: &model.Role{ID: 5}}},
			{"PutReaction without emoji", store.Op{Kind: store.OpPutReaction, ChannelID: 1, ID: 2, UserID: 3}},
		}
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				uid := ID(61_000 + i)
				m := message(61_000, idAtTime(t0, uint64(i)))
				for _, ops := range [][]store.Op{
					{{Kind: store.OpPutUser, User: user(uid)}, {Kind: store.OpPutMessage, Message: m}, c.op},
					{c.op, {Kind: store.OpPutUser, User: user(uid)}, {Kind: store.OpPutMessage, Message: m}},
				} {
					if err := s.Commit(ctx(t), &store.Batch{Ops: ops}); err == nil {
						t.Errorf("Commit(%s) succeeded, want an error", opKinds(ops))
					}
					_, err := s.GetUser(ctx(t), uid)
					wantNotFound(t, "GetUser after a rejected batch", err)
					_, err = s.GetMessage(ctx(t), m.ChannelID, m.ID)
					wantNotFound(t, "GetMessage after a rejected batch", err)
				}
			})
		}
	})

	t.Run("Order", func(t *testing.T) {
		const ch = 62_000
		id1, id2, id3 := idAtTime(t0, 1), idAtTime(t0, 2), idAtTime(t0, 3)
		v1, v2 := message(ch, id1), message(ch, id1)
		v1.Content, v2.Content = "first", "second"
		commit(t, s,
			store.Op{Kind: store.OpPutMessage, Message: v1},
			store.Op{Kind: store.OpPutMessage, Message: v2},
			store.Op{Kind: store.OpPutMessage, Message: message(ch, id2)},
			store.Op{Kind: store.OpDeleteMessage, ChannelID: ch, ID: id2},
			store.Op{Kind: store.OpDeleteMessage, ChannelID: ch, ID: id3},
			store.Op{Kind: store.OpPutMessage, Message: message(ch, id3)},
		)
		got, err := s.GetMessage(ctx(t), ch, id1)
		if err != nil || got.Content != "second" {
			t.Errorf("GetMessage after two puts in one batch = %+v, %v; want the second", got, err)
		}
		_, err = s.GetMessage(ctx(t), ch, id2)
		wantNotFound(t, "GetMessage after put and delete in one batch", err)
		if _, err := s.GetMessage(ctx(t), ch, id3); err != nil {
			t.Errorf("GetMessage after delete and put in one batch: %v", err)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		if err := s.Commit(ctx(t), &store.Batch{}); err != nil {
			t.Errorf("Commit(empty batch): %v", err)
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		c, cancel := context.WithCancel(ctx(t))
		cancel()
		err := s.Commit(c, &store.Batch{Ops: []store.Op{{Kind: store.OpPutUser, User: user(63_000)}}})
		if err == nil {
			t.Errorf("Commit with a cancelled context succeeded")
		}
		_, err = s.GetUser(ctx(t), 63_000)
		wantNotFound(t, "GetUser after a Commit with a cancelled context", err)
	})
}

func testNotFound(t *testing.T, s store.Store) {
	checkEmpty := func(t *testing.T) {
		t.Helper()
		lookups := []struct {
			name string
			fn   func() error
		}{
			{"GetUser", func() error { _, err := s.GetUser(ctx(t), 1); return err }},
			{"GetCredentials", func() error { _, err := s.GetCredentials(ctx(t), "nobody"); return err }},
			{"GetToken", func() error { _, err := s.GetToken(ctx(t), []byte("nope")); return err }},
			{"GetApplication", func() error { _, err := s.GetApplication(ctx(t), 1); return err }},
			{"GetInvite", func() error { _, err := s.GetInvite(ctx(t), "nope"); return err }},
			{"GetMessage", func() error { _, err := s.GetMessage(ctx(t), 1, 2); return err }},
		}
		for _, l := range lookups {
			wantNotFound(t, l.name, l.fn())
		}
		if ms, err := s.ListMessages(ctx(t), 1, store.MessageQuery{}); len(ms) != 0 || err != nil {
			t.Errorf("ListMessages = %d messages, %v; want none", len(ms), err)
		}
		if ms, err := s.ListPins(ctx(t), 1); len(ms) != 0 || err != nil {
			t.Errorf("ListPins = %d messages, %v; want none", len(ms), err)
		}
		if us, err := s.ListReactionUsers(ctx(t), 1, 2, "👍", 0, 10); len(us) != 0 || err != nil {
			t.Errorf("ListReactionUsers = %v, %v; want none", us, err)
		}
		if ok, err := s.HasReaction(ctx(t), 1, 2, "👍", 3); ok || err != nil {
			t.Errorf("HasReaction = %v, %v; want false", ok, err)
		}
		checkLatest(t, s, 1, 0)
		n := 0
		errs := []error{
			s.ForEachUser(ctx(t), func(*model.User) error { n++; return nil }),
			s.ForEachDM(ctx(t), func(*model.Channel) error { n++; return nil }),
			s.ForEachGuild(ctx(t), func(*store.GuildSnapshot) error { n++; return nil }),
		}
		if err := errors.Join(errs...); err != nil || n != 0 {
			t.Errorf("ForEach on an empty store: %d calls, %v; want none", n, err)
		}
	}
	checkEmpty(t)

	// Deleting what does not exist succeeds and creates nothing.
	deletes := []store.Op{
		{Kind: store.OpDeleteToken, Hash: []byte("nope")},
		{Kind: store.OpDeleteGuild, GuildID: 1},
		{Kind: store.OpDeleteChannel, ChannelID: 1},
		{Kind: store.OpDeleteChannel, GuildID: 1, ChannelID: 2},
		{Kind: store.OpDeleteRole, GuildID: 1, ID: 2},
		{Kind: store.OpDeleteMember, GuildID: 1, UserID: 2},
		{Kind: store.OpDeleteBan, GuildID: 1, UserID: 2},
		{Kind: store.OpDeleteInvite, Code: "nope"},
		{Kind: store.OpDeleteMessage, ChannelID: 1, ID: 2},
		{Kind: store.OpDeleteReaction, ChannelID: 1, ID: 2, Emoji: "👍", UserID: 3},
		{Kind: store.OpDeleteReactions, ChannelID: 1, ID: 2, Emoji: "👍"},
		{Kind: store.OpDeleteReactions, ChannelID: 1, ID: 2},
	}
	for _, op := range deletes {
		if err := s.Commit(ctx(t), &store.Batch{Ops: []store.Op{op}}); err != nil {
			t.Errorf("Commit(%s of something missing): %v", op.Kind, err)
		}
	}
	checkEmpty(t)
}

func testClosed(t *testing.T, s store.Store) {
	commit(t, s, store.Op{Kind: store.OpPutUser, User: user(1)})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	calls := []struct {
		name string
		fn   func() error
	}{
		{"Commit", func() error {
			return s.Commit(ctx(t), &store.Batch{Ops: []store.Op{{Kind: store.OpPutUser, User: user(2)}}})
		}},
		{"GetUser", func() error { _, err := s.GetUser(ctx(t), 1); return err }},
		{"ListMessages", func() error { _, err := s.ListMessages(ctx(t), 1, store.MessageQuery{}); return err }},
		{"ForEachGuild", func() error {
			return s.ForEachGuild(ctx(t), func(*store.GuildSnapshot) error { return nil })
		}},
	}
	for _, c := range calls {
		if err := c.fn(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", c.name, err)
		}
	}
}
