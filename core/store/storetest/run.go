package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
)

type ID = store.ID

// group is a set of tests that share one store. Groups keep the number of
// opens small. Every group, and every test inside a group, uses IDs of its
// own, and scans (ForEachUser, ForEachDM, ForEachGuild) are checked only
// for what the group wrote, so groups may run on stores over the same data.
type group struct {
	name string
	fn   func(t *testing.T, s store.Store)
	// closes is set for groups that close the store themselves.
	closes bool
}

var groups = []group{
	// First: it needs the store empty (see Run).
	{name: "NotFound", fn: testNotFound},
	{name: "Accounts", fn: testAccounts},
	{name: "Guilds", fn: testGuilds},
	{name: "Messages", fn: testMessages},
	{name: "MessageWrites", fn: testMessageWrites},
	{name: "Reactions", fn: testReactions},
	{name: "Pins", fn: testPins},
	{name: "Batches", fn: testBatches},
	{name: "LargeChannel", fn: testLargeChannel},
	{name: "Files", fn: testFiles},
	{name: "Concurrent", fn: testConcurrent},
	{name: "Closed", fn: testClosed, closes: true},
}

// Run runs the conformance suite. open is called once per group and must
// return an empty store the first time; later calls may return stores over
// the data earlier groups wrote (one shared Cassandra keyspace, say), since
// groups use disjoint IDs. Run closes every store open returns.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			s := open(t)
			if s == nil {
				t.Fatal("open returned a nil store")
			}
			if !g.closes {
				t.Cleanup(func() {
					if err := s.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				})
			}
			g.fn(t, s)
		})
	}
}

// ctx is the context of the suite's calls. Backends get a live one; the
// tests that care about cancellation make their own.
func ctx(t testing.TB) context.Context { return t.Context() }

func commit(t testing.TB, s store.Store, ops ...store.Op) {
	t.Helper()
	if err := s.Commit(ctx(t), &store.Batch{Ops: ops}); err != nil {
		t.Fatalf("Commit(%s): %v", opKinds(ops), err)
	}
}

func opKinds(ops []store.Op) string {
	if len(ops) > 4 {
		return fmt.Sprintf("%s, … %d ops", opKinds(ops[:3]), len(ops))
	}
	var b []byte
	for i, op := range ops {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, op.Kind.String()...)
	}
	return string(b)
}

// equalJSON compares values by their JSON, which is what every backend
// promises to preserve (times to the millisecond, as the fixtures use).
func equalJSON(t testing.TB, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("%s: marshal got: %v", what, err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatalf("%s: marshal want: %v", what, err)
	}
	if string(g) != string(w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func wantNotFound(t testing.TB, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: err = %v, want ErrNotFound", what, err)
	}
}

// Fixtures. Times are UTC and whole milliseconds so every backend can
// store them exactly.

var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// idAt returns a snowflake at ms after the Discord epoch with the given
// increment bits.
func idAt(ms int64, inc uint64) ID { return ID(uint64(ms)<<22 | inc&0xfff) }

func idAtTime(tm time.Time, inc uint64) ID { return snowflake.FromTime(tm) | ID(inc&0xfff) }

func user(id ID) *model.User {
	return &model.User{
		ID: id, Username: fmt.Sprintf("user%d", id), Discriminator: "0",
		GlobalName: ptr(fmt.Sprintf("User %d", id)), Verified: true,
		Email: ptr(fmt.Sprintf("u%d@example.org", id)), AccentColor: ptr(0x5865f2),
		Flags: 64, PublicFlags: 64,
	}
}

func message(channelID, id ID) *model.Message {
	return &model.Message{
		ID: id, ChannelID: channelID, AuthorID: 4242,
		Content:   fmt.Sprintf("message %d in %d", id, channelID),
		Timestamp: id.Time(),
	}
}

// richMessage sets every field, so a backend that drops one fails.
func richMessage(channelID, guildID, id ID) *model.Message {
	edited := id.Time().Add(time.Minute)
	return &model.Message{
		ID: id, ChannelID: channelID, GuildID: guildID, AuthorID: 4242,
		Content:         "hello <@4343> & <#" + channelID.String() + ">",
		Timestamp:       id.Time(),
		EditedTimestamp: &edited,
		TTS:             true, MentionEveryone: true,
		Mentions:     []ID{4343, 4444},
		MentionRoles: []ID{guildID + 1},
		Attachments: []model.Attachment{{
			ID: id + 1, Filename: "cat.png", ContentType: "image/png", Size: 1234,
			URL: "https://cdn.example.org/cat.png", ProxyURL: "https://media.example.org/cat.png",
			Width: ptr(640), Height: ptr(480),
		}},
		Embeds:           []json.RawMessage{json.RawMessage(`{"title":"t","description":"d"}`)},
		Nonce:            json.RawMessage(`"nonce-1"`),
		Type:             model.MessageReply,
		Flags:            4,
		MessageReference: &model.MessageReference{Type: 0, MessageID: id - 1, ChannelID: channelID, GuildID: guildID},
		Reactions:        []model.ReactionCount{{Emoji: "👍", Count: 2}},
	}
}

func putMessages(ms ...*model.Message) []store.Op {
	ops := make([]store.Op, len(ms))
	for i, m := range ms {
		ops[i] = store.Op{Kind: store.OpPutMessage, Message: m}
	}
	return ops
}

// commitMessages puts messages in batches of at most 50 ops, small enough
// for any backend's batch limits.
func commitMessages(t testing.TB, s store.Store, ms []*model.Message) {
	t.Helper()
	for len(ms) > 0 {
		n := min(len(ms), 50)
		commit(t, s, putMessages(ms[:n]...)...)
		ms = ms[n:]
	}
}

func ids(ms []*model.Message) []ID {
	out := make([]ID, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// refPage is the contract of ListMessages, computed from a channel's IDs
// (any order).
func refPage(all []ID, q store.MessageQuery) []ID {
	asc := slices.Clone(all)
	slices.Sort(asc)
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = 50
	case limit > 100:
		limit = 100
	}
	var newer, older []ID // newer ascending from the pivot, older descending
	switch {
	case q.Around != 0:
		newer = takeNewer(asc, q.Around, limit/2)
		older = takeOlder(asc, q.Around, limit-limit/2)
	case q.Before != 0:
		older = takeOlder(asc, q.Before-1, limit)
	case q.After != 0:
		newer = takeNewer(asc, q.After, limit)
	default:
		older = takeOlder(asc, ^ID(0), limit)
	}
	out := slices.Clone(newer)
	slices.Reverse(out)
	return append(out, older...)
}

// takeNewer returns up to n IDs > after, ascending.
func takeNewer(asc []ID, after ID, n int) []ID {
	i, found := slices.BinarySearch(asc, after)
	if found {
		i++
	}
	rest := asc[i:]
	return slices.Clone(rest[:min(n, len(rest))])
}

// takeOlder returns up to n IDs ≤ from, descending.
func takeOlder(asc []ID, from ID, n int) []ID {
	i, found := slices.BinarySearch(asc, from)
	if found {
		i++
	}
	var out []ID
	for j := i - 1; j >= 0 && len(out) < n; j-- {
		out = append(out, asc[j])
	}
	return out
}

func fmtQuery(q store.MessageQuery) string {
	switch {
	case q.Around != 0:
		return fmt.Sprintf("around=%d limit=%d", q.Around, q.Limit)
	case q.Before != 0:
		return fmt.Sprintf("before=%d limit=%d", q.Before, q.Limit)
	case q.After != 0:
		return fmt.Sprintf("after=%d limit=%d", q.After, q.Limit)
	}
	return fmt.Sprintf("latest limit=%d", q.Limit)
}

// checkPage runs q and compares the IDs with the contract. It also checks
// each message is the one that was stored, by channel and content.
func checkPage(t testing.TB, s store.Store, channelID ID, all []ID, q store.MessageQuery) []*model.Message {
	t.Helper()
	got, err := s.ListMessages(ctx(t), channelID, q)
	if err != nil {
		t.Fatalf("ListMessages(%d, %s): %v", channelID, fmtQuery(q), err)
	}
	want := refPage(all, q)
	if !slices.Equal(ids(got), want) {
		t.Errorf("ListMessages(%d, %s):\n got %v\nwant %v", channelID, fmtQuery(q), ids(got), want)
		return got
	}
	for _, m := range got {
		if m.ChannelID != channelID || m.Content != message(channelID, m.ID).Content {
			t.Errorf("ListMessages(%d, %s): message %d is %+v", channelID, fmtQuery(q), m.ID, m)
		}
	}
	return got
}
