package storetest

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store"
)

func react(ch, msg ID, emoji string, user ID) store.Op {
	return store.Op{Kind: store.OpPutReaction, ChannelID: ch, ID: msg, Emoji: emoji, UserID: user}
}

func unreact(ch, msg ID, emoji string, user ID) store.Op {
	return store.Op{Kind: store.OpDeleteReaction, ChannelID: ch, ID: msg, Emoji: emoji, UserID: user}
}

func testReactions(t *testing.T, s store.Store) {
	const ch = 9001
	var msgs []ID
	for i := range 6 {
		msgs = append(msgs, idAtTime(t0.Add(time.Duration(i)*time.Second), 0))
	}
	var ms []*model.Message
	for _, id := range msgs {
		ms = append(ms, message(ch, id))
	}
	commit(t, s, putMessages(ms...)...)
	a, b, c, d, e := msgs[0], msgs[1], msgs[2], msgs[3], msgs[4]

	t.Run("Idempotent", func(t *testing.T) {
		commit(t, s, react(ch, a, "👍", 5))
		commit(t, s, react(ch, a, "👍", 5), react(ch, a, "👍", 5))
		checkReactions(t, s, ch, a, "👍", []ID{5})
	})

	t.Run("Order", func(t *testing.T) {
		var users []ID
		for i := range 130 {
			users = append(users, ID(1_000_000+i*7))
		}
		shuffled := slices.Clone(users)
		rand.New(rand.NewPCG(3, 4)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		for i := 0; i < len(shuffled); i += 50 {
			var ops []store.Op
			for _, u := range shuffled[i:min(i+50, len(shuffled))] {
				ops = append(ops, react(ch, b, "⭐", u))
			}
			commit(t, s, ops...)
		}
		cases := []struct {
			name  string
			after ID
			limit int
			want  []ID
		}{
			{"first page", 0, 10, users[:10]},
			{"default limit", 0, 0, users[:25]},
			{"negative limit", 0, -3, users[:25]},
			{"max limit", 0, 100, users[:100]},
			{"over max limit", 0, 1000, users[:100]},
			{"after a user", users[10], 5, users[11:16]},
			{"after a missing ID", users[10] + 1, 5, users[11:16]},
			{"after the last", users[129], 10, nil},
			{"tail", users[120], 100, users[121:]},
		}
		for _, c := range cases {
			got, err := s.ListReactionUsers(ctx(t), ch, b, "⭐", c.after, c.limit)
			if err != nil {
				t.Fatalf("ListReactionUsers(%s): %v", c.name, err)
			}
			if !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
				t.Errorf("ListReactionUsers(%s, after %d, limit %d) = %v, want %v", c.name, c.after, c.limit, got, c.want)
			}
		}
		// Paging with after visits everyone once.
		var all []ID
		after := ID(0)
		for range len(users) {
			page, err := s.ListReactionUsers(ctx(t), ch, b, "⭐", after, 7)
			if err != nil {
				t.Fatalf("ListReactionUsers: %v", err)
			}
			if len(page) == 0 {
				break
			}
			all = append(all, page...)
			after = page[len(page)-1]
		}
		if !slices.Equal(all, users) {
			t.Errorf("paging reaction users: got %v, want %v", all, users)
		}
	})

	t.Run("Isolation", func(t *testing.T) {
		commit(t, s,
			react(ch, c, "a", 1), react(ch, c, "ab", 2), react(ch, c, "a:1", 3),
			react(ch, c, "custom:123", 4), react(ch+1, c, "a", 5),
		)
		checkReactions(t, s, ch, c, "a", []ID{1})
		checkReactions(t, s, ch, c, "ab", []ID{2})
		checkReactions(t, s, ch, c, "a:1", []ID{3})
		checkReactions(t, s, ch, c, "custom:123", []ID{4})
		checkReactions(t, s, ch+1, c, "a", []ID{5})
		checkReactions(t, s, ch, d, "a", nil)
		if ok, err := s.HasReaction(ctx(t), ch, c, "a", 2); ok || err != nil {
			t.Errorf("HasReaction of another emoji's user = %v, %v; want false", ok, err)
		}
	})

	t.Run("DeleteReaction", func(t *testing.T) {
		commit(t, s, react(ch, d, "👍", 1), react(ch, d, "👍", 2), react(ch, d, "👍", 3), react(ch, d, "🔥", 2))
		commit(t, s, unreact(ch, d, "👍", 2))
		checkReactions(t, s, ch, d, "👍", []ID{1, 3})
		checkReactions(t, s, ch, d, "🔥", []ID{2})
		commit(t, s, unreact(ch, d, "👍", 2)) // already gone: not an error
		// In one batch the last op wins.
		commit(t, s, unreact(ch, d, "🔥", 2), react(ch, d, "🔥", 2), react(ch, d, "🔥", 7), unreact(ch, d, "🔥", 7))
		checkReactions(t, s, ch, d, "🔥", []ID{2})
	})

	t.Run("DeleteReactions", func(t *testing.T) {
		commit(t, s,
			react(ch, e, "👍", 1), react(ch, e, "👍", 2),
			react(ch, e, "🔥", 1), react(ch, e, "🔥", 3),
			react(ch, e, "👍x", 9), // starts like 👍 but is another emoji
			react(ch, msgs[5], "👍", 1),
		)
		commit(t, s, store.Op{Kind: store.OpDeleteReactions, ChannelID: ch, ID: e, Emoji: "👍"})
		checkReactions(t, s, ch, e, "👍", nil)
		checkReactions(t, s, ch, e, "🔥", []ID{1, 3})
		checkReactions(t, s, ch, e, "👍x", []ID{9})

		commit(t, s, store.Op{Kind: store.OpDeleteReactions, ChannelID: ch, ID: e})
		for _, emoji := range []string{"👍", "🔥", "👍x"} {
			checkReactions(t, s, ch, e, emoji, nil)
		}
		checkReactions(t, s, ch, msgs[5], "👍", []ID{1})
		if _, err := s.GetMessage(ctx(t), ch, e); err != nil {
			t.Errorf("GetMessage after DeleteReactions: %v", err)
		}
		// Reacting again after a removal of all works.
		commit(t, s, store.Op{Kind: store.OpDeleteReactions, ChannelID: ch, ID: e}, react(ch, e, "🔥", 4))
		checkReactions(t, s, ch, e, "🔥", []ID{4})
	})
}

func pinned(ch, id ID, pin bool) *model.Message {
	m := message(ch, id)
	m.Pinned = pin
	return m
}

func testPins(t *testing.T, s store.Store) {
	const ch = 9101
	var msgs []ID
	for i := range 8 {
		msgs = append(msgs, idAtTime(t0.Add(time.Duration(i)*4*24*time.Hour), 0)) // several buckets
	}
	check := func(t *testing.T, want ...*model.Message) {
		t.Helper()
		got, err := s.ListPins(ctx(t), ch)
		if err != nil {
			t.Fatalf("ListPins: %v", err)
		}
		if len(got) == 0 && len(want) == 0 {
			return
		}
		equalJSON(t, "ListPins", got, want)
	}

	cur := map[int]*model.Message{}
	put := func(t *testing.T, ms ...*model.Message) {
		t.Helper()
		commit(t, s, putMessages(ms...)...)
	}

	t.Run("List", func(t *testing.T) {
		var ms []*model.Message
		for i, id := range msgs {
			cur[i] = pinned(ch, id, i == 1 || i == 3 || i == 4 || i == 6)
			ms = append(ms, cur[i])
		}
		rand.New(rand.NewPCG(5, 6)).Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
		put(t, ms...)
		check(t, cur[6], cur[4], cur[3], cur[1])
		got, err := s.GetMessage(ctx(t), ch, msgs[4])
		if err != nil || !got.Pinned {
			t.Errorf("GetMessage of a pinned message = %+v, %v; want Pinned", got, err)
		}
	})

	t.Run("Unpin", func(t *testing.T) {
		cur[3] = pinned(ch, msgs[3], false)
		put(t, cur[3])
		check(t, cur[6], cur[4], cur[1])
	})

	t.Run("EditPinned", func(t *testing.T) {
		m := pinned(ch, msgs[4], true)
		m.Content, m.EditedTimestamp = "edited while pinned", ptr(t0.Add(time.Hour))
		cur[4] = m
		put(t, m)
		check(t, cur[6], cur[4], cur[1])
	})

	t.Run("Pin", func(t *testing.T) {
		cur[0] = pinned(ch, msgs[0], true)
		put(t, cur[0])
		check(t, cur[6], cur[4], cur[1], cur[0])
	})

	t.Run("Delete", func(t *testing.T) {
		commit(t, s, store.Op{Kind: store.OpDeleteMessage, ChannelID: ch, ID: msgs[6]})
		check(t, cur[4], cur[1], cur[0])
		// Putting it back unpinned must not resurrect the pin.
		put(t, pinned(ch, msgs[6], false))
		check(t, cur[4], cur[1], cur[0])
	})

	t.Run("SameBatch", func(t *testing.T) {
		cur[5] = pinned(ch, msgs[5], true)
		commit(t, s, putMessages(pinned(ch, msgs[2], true), pinned(ch, msgs[2], false))...)
		commit(t, s, putMessages(pinned(ch, msgs[5], false), cur[5])...)
		commit(t, s,
			store.Op{Kind: store.OpPutMessage, Message: pinned(ch, msgs[7], true)},
			store.Op{Kind: store.OpDeleteMessage, ChannelID: ch, ID: msgs[7]},
		)
		check(t, cur[5], cur[4], cur[1], cur[0])
	})

	t.Run("OtherChannel", func(t *testing.T) {
		put(t, pinned(ch+1, msgs[3], true))
		check(t, cur[5], cur[4], cur[1], cur[0])
		got, err := s.ListPins(ctx(t), ch+2)
		if err != nil || len(got) != 0 {
			t.Errorf("ListPins(channel without messages) = %d messages, %v; want none", len(got), err)
		}
	})
}
