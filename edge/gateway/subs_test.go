package gateway

import (
	"slices"
	"testing"

	"github.com/accord-chat/accord/core/model"
)

func TestKeepNeverWritesItsInput(t *testing.T) {
	mk := func(ids ...ID) []*session {
		var out []*session
		for _, id := range ids {
			out = append(out, &session{user: &model.User{ID: id}})
		}
		return out
	}
	ids := func(ss []*session) []ID {
		var out []ID
		for _, s := range ss {
			out = append(out, s.user.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   []ID
		drop ID
		want []ID
	}{
		{"all kept", []ID{1, 2, 3}, 9, []ID{1, 2, 3}},
		{"first dropped", []ID{1, 2, 3}, 1, []ID{2, 3}},
		{"middle dropped", []ID{1, 2, 3}, 2, []ID{1, 3}},
		{"last dropped", []ID{1, 2, 3}, 3, []ID{1, 2}},
		{"only one, dropped", []ID{4}, 4, nil},
		{"empty", nil, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := mk(tc.in...)
			before := slices.Clone(in)
			got := keep(in, func(s *session) bool { return s.user.ID != tc.drop })
			if !slices.Equal(ids(got), tc.want) {
				t.Fatalf("keep = %v, want %v", ids(got), tc.want)
			}
			if !slices.Equal(in, before) {
				t.Fatalf("keep wrote its input: %v, was %v", ids(in), ids(before))
			}
		})
	}
}

func TestGuildSessionsSnapshotFollowsChanges(t *testing.T) {
	s := &Server{subs: map[ID]*guildSubs{}}
	a := &session{user: &model.User{ID: 1}, intents: IntentGuilds}
	b := &session{user: &model.User{ID: 2}, intents: IntentGuilds | IntentGuildPresences}
	const g = ID(7)
	count := func() (int, int) { return len(s.guildSessions(g)), len(s.presenceSessions(g)) }

	s.mu.Lock()
	s.subscribeLocked(a, g)
	s.mu.Unlock()
	if all, pres := count(); all != 1 || pres != 0 {
		t.Fatalf("after a: %d sessions, %d with presences; want 1, 0", all, pres)
	}
	first := s.guildSessions(g)
	s.mu.Lock()
	s.subscribeLocked(b, g)
	s.subscribeLocked(b, g) // twice: still one
	s.mu.Unlock()
	if all, pres := count(); all != 2 || pres != 1 {
		t.Fatalf("after b: %d sessions, %d with presences; want 2, 1", all, pres)
	}
	if len(first) != 1 {
		t.Fatalf("an earlier snapshot changed under its reader: %d sessions", len(first))
	}
	s.mu.Lock()
	s.unsubscribeLocked(b, g)
	s.mu.Unlock()
	if all, pres := count(); all != 1 || pres != 0 {
		t.Fatalf("after b left: %d sessions, %d with presences; want 1, 0", all, pres)
	}
	if len(b.guilds) != 0 || !slices.Equal(a.guilds, []ID{g}) {
		t.Fatalf("session guild lists: a %v, b %v", a.guilds, b.guilds)
	}
	s.mu.Lock()
	s.unsubscribeLocked(a, g)
	s.mu.Unlock()
	if _, ok := s.subs[g]; ok || s.guildSessions(g) != nil {
		t.Fatal("an empty guild keeps its subscriber set")
	}
}
