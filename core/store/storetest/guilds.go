package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store"
)

// fullGuild returns a guild with some of everything. Its IDs are gid plus
// small offsets, so guilds a few thousand apart do not collide.
func fullGuild(gid ID) *store.GuildSnapshot {
	return &store.GuildSnapshot{
		Guild: &model.Guild{
			ID: gid, Name: fmt.Sprintf("guild %d", gid), Icon: ptr("0123abcd"), Description: ptr("a guild"),
			OwnerID: 100, AFKChannelID: gid + 2, AFKTimeout: 300, SystemChannelID: gid + 1,
			VerificationLevel: 1, DefaultMessageNotifications: 1, ExplicitContentFilter: 2, PreferredLocale: "en-US",
		},
		Channels: []*model.Channel{
			{
				ID: gid + 1, Type: model.ChannelGuildText, GuildID: gid, Position: 0, Name: "general",
				PermissionOverwrites: []model.Overwrite{
					{ID: gid, Type: model.OverwriteRole, Allow: 1024, Deny: 2048},
					{ID: 100, Type: model.OverwriteMember, Allow: 1 << 40, Deny: 1 << 63},
				},
				Topic: ptr("talk"), NSFW: true, LastMessageID: gid + 99, RateLimitPerUser: 5,
				ParentID: gid + 3, LastPinTimestamp: ptr(t0), Flags: 2,
			},
			{ID: gid + 2, Type: model.ChannelGuildVoice, GuildID: gid, Position: 1, Name: "voice", Bitrate: 64000, UserLimit: 10, ParentID: gid + 3},
			{ID: gid + 3, Type: model.ChannelGuildCategory, GuildID: gid, Position: 2, Name: "category"},
		},
		Roles: []*model.Role{
			{ID: gid, Name: "@everyone", Permissions: 1<<10 | 1<<11},
			{ID: gid + 10, Name: "mod", Color: 0xff0000, Hoist: true, Icon: ptr("r"), UnicodeEmoji: ptr("🛡"), Position: 1, Permissions: 1<<63 | 8, Managed: true, Mentionable: true, Flags: 1},
		},
		Members: []*model.Member{
			{GuildID: gid, UserID: 100, Nick: ptr("boss"), Roles: []ID{gid + 10}, JoinedAt: t0, Flags: 1},
			{GuildID: gid, UserID: 200, Roles: []ID{}, JoinedAt: t0.Add(time.Hour), Deaf: true, Mute: true, Pending: true},
		},
		Bans: []*model.Ban{
			{GuildID: gid, UserID: 666, Reason: ptr("spam")},
			{GuildID: gid, UserID: 667},
		},
		Invites: []*model.Invite{
			{Code: fmt.Sprintf("a%d", gid), GuildID: gid, ChannelID: gid + 1, InviterID: 100, MaxAge: 86400, MaxUses: 10, Uses: 2, CreatedAt: t0},
			{Code: fmt.Sprintf("b%d", gid), GuildID: gid, ChannelID: gid + 1, InviterID: 200, Temporary: true, CreatedAt: t0.Add(time.Second)},
		},
	}
}

// putGuild returns the ops that store all of g.
func putGuild(g *store.GuildSnapshot) []store.Op {
	ops := []store.Op{{Kind: store.OpPutGuild, Guild: g.Guild}}
	for _, c := range g.Channels {
		ops = append(ops, store.Op{Kind: store.OpPutChannel, Channel: c})
	}
	for _, r := range g.Roles {
		ops = append(ops, store.Op{Kind: store.OpPutRole, GuildID: g.Guild.ID, Role: r})
	}
	for _, m := range g.Members {
		ops = append(ops, store.Op{Kind: store.OpPutMember, Member: m})
	}
	for _, b := range g.Bans {
		ops = append(ops, store.Op{Kind: store.OpPutBan, Ban: b})
	}
	for _, i := range g.Invites {
		ops = append(ops, store.Op{Kind: store.OpPutInvite, Invite: i})
	}
	return ops
}

// normalize sorts a snapshot's slices and turns empty ones into nil, the
// freedoms a backend has.
func normalize(g *store.GuildSnapshot) *store.GuildSnapshot {
	c := *g
	c.Channels = slices.Clone(g.Channels)
	c.Roles = slices.Clone(g.Roles)
	c.Members = slices.Clone(g.Members)
	c.Bans = slices.Clone(g.Bans)
	c.Invites = slices.Clone(g.Invites)
	slices.SortFunc(c.Channels, func(a, b *model.Channel) int { return cmpID(a.ID, b.ID) })
	slices.SortFunc(c.Roles, func(a, b *model.Role) int { return cmpID(a.ID, b.ID) })
	slices.SortFunc(c.Members, func(a, b *model.Member) int { return cmpID(a.UserID, b.UserID) })
	slices.SortFunc(c.Bans, func(a, b *model.Ban) int { return cmpID(a.UserID, b.UserID) })
	slices.SortFunc(c.Invites, func(a, b *model.Invite) int { return strings.Compare(a.Code, b.Code) })
	for i, ch := range c.Channels {
		if len(ch.PermissionOverwrites) == 0 && ch.PermissionOverwrites != nil {
			x := *ch
			x.PermissionOverwrites = nil
			c.Channels[i] = &x
		}
	}
	for i, m := range c.Members {
		if len(m.Roles) == 0 && m.Roles != nil {
			x := *m
			x.Roles = nil
			c.Members[i] = &x
		}
	}
	if len(c.Channels) == 0 {
		c.Channels = nil
	}
	if len(c.Roles) == 0 {
		c.Roles = nil
	}
	if len(c.Members) == 0 {
		c.Members = nil
	}
	if len(c.Bans) == 0 {
		c.Bans = nil
	}
	if len(c.Invites) == 0 {
		c.Invites = nil
	}
	return &c
}

// guilds loads every guild, checking the ID order ForEachGuild promises.
func guilds(t testing.TB, s store.Store) map[ID]*store.GuildSnapshot {
	t.Helper()
	out := map[ID]*store.GuildSnapshot{}
	var last ID
	if err := s.ForEachGuild(ctx(t), func(g *store.GuildSnapshot) error {
		if g == nil || g.Guild == nil {
			t.Fatalf("ForEachGuild passed a snapshot without a guild: %+v", g)
		}
		if g.Guild.ID <= last {
			t.Errorf("ForEachGuild: guild %d after guild %d, want ascending IDs", g.Guild.ID, last)
		}
		last = g.Guild.ID
		out[g.Guild.ID] = g
		return nil
	}); err != nil {
		t.Fatalf("ForEachGuild: %v", err)
	}
	return out
}

func checkGuild(t testing.TB, s store.Store, want *store.GuildSnapshot) {
	t.Helper()
	got, ok := guilds(t, s)[want.Guild.ID]
	if !ok {
		t.Errorf("ForEachGuild: guild %d missing", want.Guild.ID)
		return
	}
	equalJSON(t, fmt.Sprintf("guild %d", want.Guild.ID), normalize(got), normalize(want))
}

func checkInvite(t testing.TB, s store.Store, want *model.Invite) {
	t.Helper()
	got, err := s.GetInvite(ctx(t), want.Code)
	if err != nil {
		t.Errorf("GetInvite(%q): %v", want.Code, err)
		return
	}
	equalJSON(t, "GetInvite", got, want)
}

func testGuilds(t *testing.T, s store.Store) {
	t.Run("Snapshot", func(t *testing.T) {
		a := fullGuild(10_000)
		// Children before their guild in one batch: a batch is applied as
		// a whole.
		b := &store.GuildSnapshot{
			Guild:    &model.Guild{ID: 9_000, Name: "small", OwnerID: 200},
			Channels: []*model.Channel{{ID: 9_001, Type: model.ChannelGuildText, GuildID: 9_000, Name: "only"}},
		}
		commit(t, s, putGuild(a)...)
		commit(t, s, store.Op{Kind: store.OpPutChannel, Channel: b.Channels[0]}, store.Op{Kind: store.OpPutGuild, Guild: b.Guild})
		// No phantom guilds (say, from the child rows of one): only these
		// two in this group's range of IDs.
		n := 0
		for id := range guilds(t, s) {
			if id >= 9_000 && id < 60_000 {
				n++
			}
		}
		if n != 2 {
			t.Errorf("ForEachGuild returned %d guilds with IDs in [9000, 60000), want 2", n)
		}
		checkGuild(t, s, a)
		checkGuild(t, s, b)
		for _, inv := range a.Invites {
			checkInvite(t, s, inv)
		}
	})

	t.Run("Replace", func(t *testing.T) {
		g := fullGuild(20_000)
		commit(t, s, putGuild(g)...)
		g.Guild = &model.Guild{ID: 20_000, Name: "renamed", OwnerID: 200}
		ch := *g.Channels[0]
		ch.Name, ch.Topic, ch.PermissionOverwrites = "renamed", nil, nil
		g.Channels[0] = &ch
		role := *g.Roles[1]
		role.Permissions = 0
		g.Roles[1] = &role
		mem := *g.Members[0]
		mem.Nick, mem.Roles = nil, nil
		g.Members[0] = &mem
		inv := *g.Invites[0]
		inv.Uses++
		g.Invites[0] = &inv
		commit(t, s,
			store.Op{Kind: store.OpPutGuild, Guild: g.Guild},
			store.Op{Kind: store.OpPutChannel, Channel: &ch},
			store.Op{Kind: store.OpPutRole, GuildID: 20_000, Role: &role},
			store.Op{Kind: store.OpPutMember, Member: &mem},
			store.Op{Kind: store.OpPutInvite, Invite: &inv},
		)
		checkGuild(t, s, g)
		checkInvite(t, s, &inv)
	})

	t.Run("DeleteOne", func(t *testing.T) {
		const gid = 30_000
		g := fullGuild(gid)
		commit(t, s, putGuild(g)...)
		goneInvite := g.Invites[1]
		cases := []struct {
			name string
			op   store.Op
			drop func(g *store.GuildSnapshot)
		}{
			{"Channel", store.Op{Kind: store.OpDeleteChannel, GuildID: gid, ChannelID: gid + 2},
				func(g *store.GuildSnapshot) { g.Channels = slices.Delete(g.Channels, 1, 2) }},
			{"Role", store.Op{Kind: store.OpDeleteRole, GuildID: gid, ID: gid + 10},
				func(g *store.GuildSnapshot) { g.Roles = g.Roles[:1] }},
			{"Member", store.Op{Kind: store.OpDeleteMember, GuildID: gid, UserID: 200},
				func(g *store.GuildSnapshot) { g.Members = g.Members[:1] }},
			{"Ban", store.Op{Kind: store.OpDeleteBan, GuildID: gid, UserID: 666},
				func(g *store.GuildSnapshot) { g.Bans = g.Bans[1:] }},
			{"Invite", store.Op{Kind: store.OpDeleteInvite, Code: goneInvite.Code},
				func(g *store.GuildSnapshot) { g.Invites = g.Invites[:1] }},
			{"LastChannels", store.Op{Kind: store.OpDeleteChannel, GuildID: gid, ChannelID: gid + 1},
				func(g *store.GuildSnapshot) { g.Channels = g.Channels[1:] }},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				commit(t, s, c.op)
				c.drop(g)
				checkGuild(t, s, g)
			})
		}
		_, err := s.GetInvite(ctx(t), goneInvite.Code)
		wantNotFound(t, "GetInvite after DeleteInvite", err)
		checkInvite(t, s, g.Invites[0])
	})

	t.Run("DeleteGuild", func(t *testing.T) {
		doomed, kept := fullGuild(40_000), fullGuild(41_000)
		commit(t, s, putGuild(doomed)...)
		commit(t, s, putGuild(kept)...)
		commit(t, s, store.Op{Kind: store.OpDeleteGuild, GuildID: 40_000})
		all := guilds(t, s)
		if _, ok := all[40_000]; ok {
			t.Errorf("ForEachGuild still returns guild 40000 after DeleteGuild")
		}
		for _, inv := range doomed.Invites {
			_, err := s.GetInvite(ctx(t), inv.Code)
			wantNotFound(t, "GetInvite of a deleted guild's invite", err)
		}
		checkGuild(t, s, kept)
		for _, inv := range kept.Invites {
			checkInvite(t, s, inv)
		}
		// Nothing of the old guild may come back with a new guild record.
		reborn := &store.GuildSnapshot{Guild: &model.Guild{ID: 40_000, Name: "reborn"}}
		commit(t, s, store.Op{Kind: store.OpPutGuild, Guild: reborn.Guild})
		checkGuild(t, s, reborn)
	})

	t.Run("BatchOrder", func(t *testing.T) {
		const gid = 50_000
		old := fullGuild(gid)
		commit(t, s, putGuild(old)...)
		fresh := &store.GuildSnapshot{
			Guild:   &model.Guild{ID: gid, Name: "fresh"},
			Roles:   []*model.Role{{ID: gid, Name: "@everyone"}},
			Invites: []*model.Invite{{Code: fmt.Sprintf("fresh%d", gid), GuildID: gid, ChannelID: gid + 5, CreatedAt: t0}},
		}
		temp := &model.Channel{ID: gid + 5, Type: model.ChannelGuildText, GuildID: gid, Name: "temp"}
		commit(t, s,
			store.Op{Kind: store.OpPutChannel, Channel: temp},
			store.Op{Kind: store.OpDeleteGuild, GuildID: gid},
			store.Op{Kind: store.OpPutGuild, Guild: fresh.Guild},
			store.Op{Kind: store.OpPutChannel, Channel: temp},
			store.Op{Kind: store.OpDeleteChannel, GuildID: gid, ChannelID: temp.ID},
			store.Op{Kind: store.OpPutRole, GuildID: gid, Role: fresh.Roles[0]},
			store.Op{Kind: store.OpPutInvite, Invite: fresh.Invites[0]},
		)
		checkGuild(t, s, fresh)
		checkInvite(t, s, fresh.Invites[0])
		for _, inv := range old.Invites {
			_, err := s.GetInvite(ctx(t), inv.Code)
			wantNotFound(t, "GetInvite of an invite deleted with its guild", err)
		}
	})

	t.Run("CallbackError", func(t *testing.T) {
		calls := 0
		err := s.ForEachGuild(ctx(t), func(*store.GuildSnapshot) error { calls++; return errStop })
		if !errors.Is(err, errStop) || calls != 1 {
			t.Errorf("ForEachGuild with a failing callback: err = %v after %d calls, want errStop after 1", err, calls)
		}
	})
}
