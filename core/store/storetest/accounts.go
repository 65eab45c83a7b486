package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store"
)

var errStop = errors.New("storetest: stop")

func testAccounts(t *testing.T, s store.Store) {
	t.Run("Users", func(t *testing.T) {
		// Put out of order: ForEachUser must sort by ID.
		users := []*model.User{user(300), user(100), user(200), user(1 << 60)}
		bot := user(150)
		bot.Bot, bot.GlobalName, bot.Email, bot.AccentColor = true, nil, nil, nil
		users = append(users, bot)
		var ops []store.Op
		for _, u := range users {
			ops = append(ops, store.Op{Kind: store.OpPutUser, User: u})
		}
		commit(t, s, ops...)

		renamed := user(200)
		renamed.Username, renamed.Avatar = "renamed", ptr("a_1234")
		commit(t, s, store.Op{Kind: store.OpPutUser, User: renamed})
		users[2] = renamed

		for _, u := range users {
			got, err := s.GetUser(ctx(t), u.ID)
			if err != nil {
				t.Fatalf("GetUser(%d): %v", u.ID, err)
			}
			equalJSON(t, "GetUser", got, u)
		}

		// Only this test's users: the store may hold other groups' too.
		mine := map[ID]bool{}
		for _, u := range users {
			mine[u.ID] = true
		}
		var seen []*model.User
		var last ID
		first := true
		if err := s.ForEachUser(ctx(t), func(u *model.User) error {
			if !first && u.ID <= last {
				t.Errorf("ForEachUser: user %d after user %d, want ascending IDs", u.ID, last)
			}
			first, last = false, u.ID
			if mine[u.ID] {
				seen = append(seen, u)
			}
			return nil
		}); err != nil {
			t.Fatalf("ForEachUser: %v", err)
		}
		want := slices.Clone(users)
		slices.SortFunc(want, func(a, b *model.User) int { return cmpID(a.ID, b.ID) })
		equalJSON(t, "ForEachUser", seen, want)

		calls := 0
		err := s.ForEachUser(ctx(t), func(*model.User) error { calls++; return errStop })
		if !errors.Is(err, errStop) || calls != 1 {
			t.Errorf("ForEachUser with a failing callback: err = %v after %d calls, want errStop after 1", err, calls)
		}
	})

	t.Run("Credentials", func(t *testing.T) {
		a := &model.Credentials{UserID: 100, Login: "alice", PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA"}
		b := &model.Credentials{UserID: 101, Login: "alice2", PasswordHash: "$argon2id$x"}
		commit(t, s, store.Op{Kind: store.OpPutCredentials, Credentials: a}, store.Op{Kind: store.OpPutCredentials, Credentials: b})
		a2 := *a
		a2.PasswordHash = "$argon2id$changed"
		commit(t, s, store.Op{Kind: store.OpPutCredentials, Credentials: &a2})
		for _, want := range []*model.Credentials{&a2, b} {
			got, err := s.GetCredentials(ctx(t), want.Login)
			if err != nil {
				t.Fatalf("GetCredentials(%q): %v", want.Login, err)
			}
			equalJSON(t, "GetCredentials", got, want)
		}
		_, err := s.GetCredentials(ctx(t), "alic")
		wantNotFound(t, "GetCredentials(prefix of a login)", err)
	})

	t.Run("Tokens", func(t *testing.T) {
		h1 := sha256.Sum256([]byte("token one"))
		h2 := sha256.Sum256([]byte("token two"))
		tok1 := &model.Token{Hash: h1[:], UserID: 100, CreatedAt: t0}
		tok2 := &model.Token{Hash: h2[:], UserID: 150, Bot: true, CreatedAt: t0.Add(1500 * time.Millisecond)}
		commit(t, s, store.Op{Kind: store.OpPutToken, Token: tok1}, store.Op{Kind: store.OpPutToken, Token: tok2})
		for _, want := range []*model.Token{tok1, tok2} {
			got, err := s.GetToken(ctx(t), want.Hash)
			if err != nil {
				t.Fatalf("GetToken: %v", err)
			}
			equalJSON(t, "GetToken", got, want)
		}
		commit(t, s, store.Op{Kind: store.OpDeleteToken, Hash: bytes.Clone(h1[:])})
		_, err := s.GetToken(ctx(t), h1[:])
		wantNotFound(t, "GetToken after DeleteToken", err)
		if _, err := s.GetToken(ctx(t), h2[:]); err != nil {
			t.Errorf("GetToken of the other token after DeleteToken: %v", err)
		}
		_, err = s.GetToken(ctx(t), h2[:16])
		wantNotFound(t, "GetToken(prefix of a hash)", err)
	})

	t.Run("Applications", func(t *testing.T) {
		app := &model.Application{ID: 150, Name: "Bot", Description: "does things", OwnerID: 100, BotPublic: true, VerifyKey: "abcd", Flags: 1 << 23}
		commit(t, s, store.Op{Kind: store.OpPutApplication, Application: app})
		app2 := *app
		app2.Name = "Renamed bot"
		commit(t, s, store.Op{Kind: store.OpPutApplication, Application: &app2})
		got, err := s.GetApplication(ctx(t), 150)
		if err != nil {
			t.Fatalf("GetApplication: %v", err)
		}
		equalJSON(t, "GetApplication", got, &app2)
	})

	t.Run("DMs", func(t *testing.T) {
		dm := &model.Channel{ID: 5001, Type: model.ChannelDM, Recipients: []ID{100, 200}, LastMessageID: 77}
		group := &model.Channel{ID: 5000, Type: model.ChannelGroupDM, Name: "friends", Recipients: []ID{100, 200, 300}}
		gone := &model.Channel{ID: 5002, Type: model.ChannelDM, Recipients: []ID{100, 300}}
		// A guild channel is not a DM and must not show up in ForEachDM.
		guild := &model.Guild{ID: 5900, Name: "g", OwnerID: 100}
		text := &model.Channel{ID: 5003, Type: model.ChannelGuildText, GuildID: 5900, Name: "general"}
		commit(t, s,
			store.Op{Kind: store.OpPutChannel, Channel: dm},
			store.Op{Kind: store.OpPutChannel, Channel: group},
			store.Op{Kind: store.OpPutChannel, Channel: gone},
			store.Op{Kind: store.OpPutGuild, Guild: guild},
			store.Op{Kind: store.OpPutChannel, Channel: text},
		)
		commit(t, s, store.Op{Kind: store.OpDeleteChannel, ChannelID: gone.ID})
		dm2 := *dm
		dm2.LastMessageID = 78
		commit(t, s, store.Op{Kind: store.OpPutChannel, Channel: &dm2})

		got := allDMs(t, s, dm.ID, group.ID, gone.ID, text.ID)
		equalJSON(t, "ForEachDM", got, []*model.Channel{group, &dm2})

		calls := 0
		err := s.ForEachDM(ctx(t), func(*model.Channel) error { calls++; return errStop })
		if !errors.Is(err, errStop) || calls != 1 {
			t.Errorf("ForEachDM with a failing callback: err = %v after %d calls, want errStop after 1", err, calls)
		}
	})
}

func cmpID(a, b ID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// allDMs returns the DM channels ForEachDM passes among the given IDs
// (other groups' DMs may be in the store), sorted by ID.
func allDMs(t testing.TB, s store.Store, ids ...ID) []*model.Channel {
	t.Helper()
	var out []*model.Channel
	if err := s.ForEachDM(ctx(t), func(c *model.Channel) error {
		if slices.Contains(ids, c.ID) {
			out = append(out, c)
		}
		return nil
	}); err != nil {
		t.Fatalf("ForEachDM: %v", err)
	}
	slices.SortFunc(out, func(a, b *model.Channel) int { return cmpID(a.ID, b.ID) })
	return out
}
