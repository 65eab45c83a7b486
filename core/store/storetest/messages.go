package storetest

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store"
)

var bucketMs = model.BucketWindow.Milliseconds()

// spreadIDs returns message IDs, ascending, that exercise the bucket
// layout: a few from the first days of the epoch, pairs straddling bucket
// boundaries with runs of empty buckets between them, many in one
// millisecond, a dense run of one a minute, and one far in the future.
func spreadIDs() []ID {
	var out []ID
	for i := range int64(5) {
		out = append(out, idAt(1000+i*3_600_000, 0))
	}
	for _, k := range []int64{40, 41, 45, 100, 101, 102, 160} {
		b := k * bucketMs
		out = append(out, idAt(b-1, 0), idAt(b, 0), idAt(b, 1), idAt(b+1, 7))
	}
	for inc := range uint64(10) {
		out = append(out, idAt(300*bucketMs+5, inc))
	}
	for i := range 60 {
		out = append(out, idAtTime(t0.Add(time.Duration(i)*time.Minute), 3))
	}
	out = append(out, idAtTime(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), 0))
	slices.Sort(out)
	return slices.Compact(out)
}

func testMessages(t *testing.T, s store.Store) {
	const (
		chSpread = 7001 // spreadIDs
		chOther  = 7002 // every other spread ID, with other increment bits
		chSmall  = 7003 // ten messages, for hand-written expectations
		chEmpty  = 7004
	)
	spread := spreadIDs()
	var other []ID
	for i, id := range spread {
		if i%2 == 0 {
			other = append(other, id|0x800)
		}
	}
	small := make([]ID, 10)
	for i := range small {
		small[i] = idAtTime(t0.Add(time.Duration(i)*time.Hour), 0)
	}

	// Insert in shuffled order: the order of writes must not matter.
	var ms []*model.Message
	for _, set := range []struct {
		ch  ID
		ids []ID
	}{{chSpread, spread}, {chOther, other}, {chSmall, small}} {
		for _, id := range set.ids {
			ms = append(ms, message(set.ch, id))
		}
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
	commitMessages(t, s, ms)

	t.Run("Semantics", func(t *testing.T) {
		m := func(i int) ID { return small[i-1] } // m(1) oldest … m(10) newest
		cases := []struct {
			name string
			q    store.MessageQuery
			want []int
		}{
			{"latest", store.MessageQuery{Limit: 3}, []int{10, 9, 8}},
			{"latest all", store.MessageQuery{Limit: 20}, []int{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
			{"before", store.MessageQuery{Before: m(5), Limit: 3}, []int{4, 3, 2}},
			{"before short", store.MessageQuery{Before: m(3), Limit: 5}, []int{2, 1}},
			{"before oldest", store.MessageQuery{Before: m(1), Limit: 5}, nil},
			{"before missing ID", store.MessageQuery{Before: m(5) + 1, Limit: 2}, []int{5, 4}},
			{"after", store.MessageQuery{After: m(5), Limit: 3}, []int{8, 7, 6}},
			{"after short", store.MessageQuery{After: m(8), Limit: 5}, []int{10, 9}},
			{"after newest", store.MessageQuery{After: m(10), Limit: 5}, nil},
			{"after missing ID", store.MessageQuery{After: m(5) - 1, Limit: 2}, []int{6, 5}},
			{"around odd", store.MessageQuery{Around: m(5), Limit: 5}, []int{7, 6, 5, 4, 3}},
			{"around even", store.MessageQuery{Around: m(5), Limit: 4}, []int{7, 6, 5, 4}},
			{"around one", store.MessageQuery{Around: m(5), Limit: 1}, []int{5}},
			{"around two", store.MessageQuery{Around: m(5), Limit: 2}, []int{6, 5}},
			{"around missing ID", store.MessageQuery{Around: m(5) + 1, Limit: 4}, []int{7, 6, 5, 4}},
			{"around newest", store.MessageQuery{Around: m(10), Limit: 5}, []int{10, 9, 8}},
			{"around oldest", store.MessageQuery{Around: m(1), Limit: 5}, []int{3, 2, 1}},
			{"around beyond", store.MessageQuery{Around: m(10) + 1, Limit: 4}, []int{10, 9}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				got, err := s.ListMessages(ctx(t), chSmall, c.q)
				if err != nil {
					t.Fatalf("ListMessages(%s): %v", fmtQuery(c.q), err)
				}
				var want []ID
				for _, i := range c.want {
					want = append(want, m(i))
				}
				if !slices.Equal(ids(got), want) {
					t.Errorf("ListMessages(%s) = %v, want %v (m1…m10 = %v)", fmtQuery(c.q), ids(got), want, small)
				}
				// The reference implementation the other cases use must agree.
				if ref := refPage(small, c.q); !slices.Equal(ref, want) {
					t.Fatalf("storetest bug: refPage(%s) = %v, want %v", fmtQuery(c.q), ref, want)
				}
			})
		}
	})

	t.Run("Limits", func(t *testing.T) {
		for _, limit := range []int{0, -1, 1, 7, 49, 50, 51, 100, 101, 1000} {
			checkPage(t, s, chSpread, spread, store.MessageQuery{Limit: limit})
		}
		if n := len(checkPage(t, s, chSpread, spread, store.MessageQuery{})); n != 50 {
			t.Errorf("latest page with the default limit has %d messages, want 50", n)
		}
		if n := len(checkPage(t, s, chSpread, spread, store.MessageQuery{Limit: 500})); n != 100 {
			t.Errorf("latest page with limit 500 has %d messages, want 100", n)
		}
	})

	t.Run("AcrossBuckets", func(t *testing.T) {
		// Pivots at both ends, next to bucket boundaries, inside the
		// same-millisecond run, and between messages.
		pivots := []ID{1, spread[0], spread[1], spread[5] - 1, spread[6], spread[len(spread)-1], spread[len(spread)-1] + 1, ^ID(0) >> 1}
		for _, i := range []int{4, 5, 8, 9, 20, 33, 34, 38, 40, 70, 100} {
			if i < len(spread) {
				pivots = append(pivots, spread[i], spread[i]+1, spread[i]-1)
			}
		}
		for _, p := range pivots {
			for _, limit := range []int{0, 1, 2, 5, 10, 100} {
				checkPage(t, s, chSpread, spread, store.MessageQuery{Before: p, Limit: limit})
				checkPage(t, s, chSpread, spread, store.MessageQuery{After: p, Limit: limit})
				checkPage(t, s, chSpread, spread, store.MessageQuery{Around: p, Limit: limit})
				checkPage(t, s, chOther, other, store.MessageQuery{Around: p, Limit: limit})
			}
		}
	})

	t.Run("Paginate", func(t *testing.T) {
		for _, limit := range []int{1, 7, 100} {
			walkBefore(t, s, chSpread, spread, limit)
			walkAfter(t, s, chSpread, spread, limit)
			walkBefore(t, s, chOther, other, limit)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		for _, q := range []store.MessageQuery{{}, {Before: spread[3]}, {After: spread[3]}, {Around: spread[3]}} {
			got, err := s.ListMessages(ctx(t), chEmpty, q)
			if err != nil || len(got) != 0 {
				t.Errorf("ListMessages(empty channel, %s) = %v, %v; want nothing", fmtQuery(q), ids(got), err)
			}
		}
		if id, err := s.LatestMessageID(ctx(t), chEmpty); id != 0 || err != nil {
			t.Errorf("LatestMessageID(empty channel) = %d, %v; want 0, nil", id, err)
		}
	})

	t.Run("LatestMessageID", func(t *testing.T) {
		for _, c := range []struct {
			ch  ID
			ids []ID
		}{{chSpread, spread}, {chOther, other}, {chSmall, small}} {
			id, err := s.LatestMessageID(ctx(t), c.ch)
			if err != nil || id != slices.Max(c.ids) {
				t.Errorf("LatestMessageID(%d) = %d, %v; want %d", c.ch, id, err, slices.Max(c.ids))
			}
		}
	})
}

// walkBefore pages from the latest message to the oldest with Before and
// checks every message comes exactly once, in order.
func walkBefore(t testing.TB, s store.Store, channelID ID, all []ID, limit int) {
	t.Helper()
	want := slices.Clone(all)
	slices.Sort(want)
	slices.Reverse(want)
	var got []ID
	q := store.MessageQuery{Limit: limit}
	for range len(all) + 2 {
		page, err := s.ListMessages(ctx(t), channelID, q)
		if err != nil {
			t.Fatalf("ListMessages(%d, %s): %v", channelID, fmtQuery(q), err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > limit {
			t.Fatalf("ListMessages(%d, %s) returned %d messages", channelID, fmtQuery(q), len(page))
		}
		got = append(got, ids(page)...)
		q.Before = page[len(page)-1].ID
	}
	if !slices.Equal(got, want) {
		t.Errorf("paging channel %d with before, limit %d:\n got %v\nwant %v", channelID, limit, got, want)
	}
}

// walkAfter pages from the oldest message to the newest with After.
func walkAfter(t testing.TB, s store.Store, channelID ID, all []ID, limit int) {
	t.Helper()
	want := slices.Clone(all)
	slices.Sort(want)
	var got []ID
	q := store.MessageQuery{After: 1, Limit: limit}
	for range len(all) + 2 {
		page, err := s.ListMessages(ctx(t), channelID, q)
		if err != nil {
			t.Fatalf("ListMessages(%d, %s): %v", channelID, fmtQuery(q), err)
		}
		if len(page) == 0 {
			break
		}
		asc := ids(page)
		slices.Reverse(asc)
		got = append(got, asc...)
		q.After = page[0].ID
	}
	if !slices.Equal(got, want) {
		t.Errorf("paging channel %d with after, limit %d:\n got %v\nwant %v", channelID, limit, got, want)
	}
}

func testMessageWrites(t *testing.T, s store.Store) {
	t.Run("RoundTrip", func(t *testing.T) {
		m := richMessage(8001, 8000, idAtTime(t0, 1))
		commit(t, s, putMessages(m)...)
		got, err := s.GetMessage(ctx(t), 8001, m.ID)
		if err != nil {
			t.Fatalf("GetMessage: %v", err)
		}
		equalJSON(t, "GetMessage", got, m)
		page, err := s.ListMessages(ctx(t), 8001, store.MessageQuery{})
		if err != nil || len(page) != 1 {
			t.Fatalf("ListMessages = %d messages, %v; want 1", len(page), err)
		}
		equalJSON(t, "ListMessages", page[0], m)
		_, err = s.GetMessage(ctx(t), 8002, m.ID)
		wantNotFound(t, "GetMessage in another channel", err)
	})

	t.Run("Edit", func(t *testing.T) {
		const ch = 8101
		a, b := message(ch, idAtTime(t0, 0)), message(ch, idAtTime(t0.Add(time.Second), 0))
		commit(t, s, putMessages(a, b)...)
		edited := *a
		edited.Content = "edited"
		edited.EditedTimestamp = ptr(t0.Add(time.Hour))
		edited.Reactions = []model.ReactionCount{{Emoji: "🔥", Count: 1}}
		commit(t, s, putMessages(&edited)...)
		got, err := s.GetMessage(ctx(t), ch, a.ID)
		if err != nil {
			t.Fatalf("GetMessage: %v", err)
		}
		equalJSON(t, "GetMessage after edit", got, &edited)
		page, err := s.ListMessages(ctx(t), ch, store.MessageQuery{})
		if err != nil {
			t.Fatalf("ListMessages: %v", err)
		}
		equalJSON(t, "ListMessages after edit", page, []*model.Message{b, &edited})
	})

	t.Run("Delete", func(t *testing.T) {
		const ch = 8201
		var all []ID
		var ms []*model.Message
		for i := range 5 {
			id := idAtTime(t0.Add(time.Duration(i)*11*24*time.Hour), 0) // one per bucket
			all = append(all, id)
			ms = append(ms, message(ch, id))
		}
		commit(t, s, putMessages(ms...)...)
		commit(t, s,
			store.Op{Kind: store.OpPutReaction, ChannelID: ch, ID: all[2], Emoji: "👍", UserID: 1},
			store.Op{Kind: store.OpPutReaction, ChannelID: ch, ID: all[2], Emoji: "x:123", UserID: 2},
			store.Op{Kind: store.OpPutReaction, ChannelID: ch, ID: all[4], Emoji: "👍", UserID: 1},
			store.Op{Kind: store.OpPutReaction, ChannelID: ch, ID: all[1], Emoji: "👍", UserID: 3},
		)

		commit(t, s, store.Op{Kind: store.OpDeleteMessage, ChannelID: ch, ID: all[2]})
		_, err := s.GetMessage(ctx(t), ch, all[2])
		wantNotFound(t, "GetMessage after DeleteMessage", err)
		left := slices.Delete(slices.Clone(all), 2, 3)
		checkPage(t, s, ch, left, store.MessageQuery{})
		checkPage(t, s, ch, left, store.MessageQuery{Around: all[2], Limit: 4})
		for _, emoji := range []string{"👍", "x:123"} {
			checkReactions(t, s, ch, all[2], emoji, nil)
		}
		checkReactions(t, s, ch, all[4], "👍", []ID{1})
		checkReactions(t, s, ch, all[1], "👍", []ID{3})

		// Deleting the newest message moves LatestMessageID back.
		commit(t, s, store.Op{Kind: store.OpDeleteMessage, ChannelID: ch, ID: all[4]})
		checkLatest(t, s, ch, all[3])
		checkReactions(t, s, ch, all[4], "👍", nil)

		// A message put again after its deletion has no reactions left.
		commit(t, s, putMessages(ms[2])...)
		checkReactions(t, s, ch, all[2], "👍", nil)
		left = append(left[:3], all[2])
		checkPage(t, s, ch, left, store.MessageQuery{})

		var ops []store.Op
		for _, id := range all {
			ops = append(ops, store.Op{Kind: store.OpDeleteMessage, ChannelID: ch, ID: id})
		}
		commit(t, s, ops...)
		checkLatest(t, s, ch, 0)
	})

	t.Run("LatestMessageID", func(t *testing.T) {
		const ch = 8301
		spread := spreadIDs()
		ms := make([]*model.Message, len(spread))
		for i, id := range spread {
			ms[i] = message(ch, id)
		}
		// Newest first: the latest ID is whatever is greatest, not what
		// came last.
		slices.Reverse(ms)
		commitMessages(t, s, ms)
		checkLatest(t, s, ch, spread[len(spread)-1])
		checkLatest(t, s, ch+1, 0)
	})
}

func checkLatest(t testing.TB, s store.Store, channelID, want ID) {
	t.Helper()
	got, err := s.LatestMessageID(ctx(t), channelID)
	if err != nil || got != want {
		t.Errorf("LatestMessageID(%d) = %d, %v; want %d", channelID, got, err, want)
	}
}

func checkReactions(t testing.TB, s store.Store, channelID, messageID ID, emoji string, want []ID) {
	t.Helper()
	got, err := s.ListReactionUsers(ctx(t), channelID, messageID, emoji, 0, 100)
	if err != nil {
		t.Fatalf("ListReactionUsers(%d, %q): %v", messageID, emoji, err)
	}
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Errorf("ListReactionUsers(%d, %q) = %v, want %v", messageID, emoji, got, want)
	}
	for _, u := range want {
		if ok, err := s.HasReaction(ctx(t), channelID, messageID, emoji, u); !ok || err != nil {
			t.Errorf("HasReaction(%d, %q, %d) = %v, %v; want true", messageID, emoji, u, ok, err)
		}
	}
	if len(want) == 0 {
		for _, u := range []ID{1, 2, 3} {
			if ok, err := s.HasReaction(ctx(t), channelID, messageID, emoji, u); ok || err != nil {
				t.Errorf("HasReaction(%d, %q, %d) = %v, %v; want false", messageID, emoji, u, ok, err)
			}
		}
	}
}
