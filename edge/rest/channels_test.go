package rest

// Tests of guild channels: create, modify, delete, positions, permission
// overwrites and their effect, and invites.

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/perm"
)

// channelIDs lists the IDs of the guild's channels as u sees them.
func (h *harness) channelIDs(u user, gid string) []string {
	h.t.Helper()
	return idsOf(h.must(200, h.do("GET", "/guilds/"+gid+"/channels", u.Token, nil)).Arr())
}

func TestCreateChannel(t *testing.T) {
	h := newHarness(t)
	owner := h.user("ccowner")
	member := h.user("ccmember")
	chanMgr := h.user("ccmanager")
	outsider := h.user("ccoutsider")
	gid, text, voice := h.guild(owner)
	h.join(owner, member, text)
	h.join(owner, chanMgr, text)
	h.giveRole(owner, gid, chanMgr.ID, h.mkRole(owner, gid, "channel managers", perm.ManageChannels))
	cat := h.must(201, h.do("POST", "/guilds/"+gid+"/channels", owner.Token, map[string]any{"name": "Text Channels", "type": 4})).Obj()
	catID := h.wantSnowflake("category id", cat["id"])
	if cat["name"] != "Text Channels" || cat["type"] != 4.0 || cat["guild_id"] != gid {
		t.Fatalf("category = %v", cat)
	}

	type tcase struct {
		name   string
		actor  user
		body   any
		status int
		code   int
		field  string
		fcode  string
		check  func(c map[string]any) bool
	}
	cases := []tcase{
		{name: "text name normalised", actor: owner, body: map[string]any{"name": "  My Cool   Channel "}, status: 201,
			check: func(c map[string]any) bool {
				return c["name"] == "my-cool-channel" && c["type"] == 0.0 && c["nsfw"] == false && c["rate_limit_per_user"] == 0.0
			}},
		{name: "voice keeps its name", actor: owner, body: map[string]any{"name": "Lounge Room", "type": 2}, status: 201,
			check: func(c map[string]any) bool {
				return c["name"] == "Lounge Room" && c["type"] == 2.0 && c["bitrate"] == 64000.0 && c["user_limit"] == 0.0
			}},
		{name: "voice with bitrate and limit", actor: owner, body: map[string]any{"name": "Stage", "type": 2, "bitrate": 96000, "user_limit": 10}, status: 201,
			check: func(c map[string]any) bool { return c["bitrate"] == 96000.0 && c["user_limit"] == 10.0 }},
		{name: "category keeps its name", actor: owner, body: map[string]any{"name": "Voice Stuff", "type": 4}, status: 201,
			check: func(c map[string]any) bool { return c["name"] == "Voice Stuff" && c["type"] == 4.0 }},
		{name: "text in category with options", actor: owner, body: map[string]any{"name": "rules", "parent_id": catID, "topic": "be nice", "nsfw": true, "rate_limit_per_user": 30, "position": 7}, status: 201,
			check: func(c map[string]any) bool {
				return c["parent_id"] == catID && c["topic"] == "be nice" && c["nsfw"] == true && c["rate_limit_per_user"] == 30.0 && c["position"] == 7.0
			}},
		{name: "manager creates", actor: chanMgr, body: map[string]any{"name": "managed"}, status: 201,
			check: func(c map[string]any) bool { return c["name"] == "managed" }},
		{name: "with everyone overwrite", actor: owner, body: map[string]any{"name": "private", "permission_overwrites": []any{
			map[string]any{"id": gid, "type": 0, "allow": "0", "deny": permStr(perm.ViewChannel)}}}, status: 201,
			check: func(c map[string]any) bool {
				ows, _ := c["permission_overwrites"].([]any)
				return len(ows) == 1 && asObj(ows[0])["id"] == gid && asObj(ows[0])["deny"] == permStr(perm.ViewChannel) && asObj(ows[0])["allow"] == "0"
			}},
		{name: "missing name", actor: owner, body: map[string]any{"type": 0}, field: "name", fcode: "BASE_TYPE_REQUIRED"},
		{name: "null name", actor: owner, body: map[string]any{"name": nil}, field: "name", fcode: "BASE_TYPE_REQUIRED"},
		{name: "empty name", actor: owner, body: map[string]any{"name": ""}, field: "name", fcode: "BASE_TYPE_BAD_LENGTH"},
		{name: "blank name", actor: owner, body: map[string]any{"name": "   "}, field: "name", fcode: "BASE_TYPE_BAD_LENGTH"},
		{name: "101-char name", actor: owner, body: map[string]any{"name": strings.Repeat("c", 101)}, field: "name", fcode: "BASE_TYPE_BAD_LENGTH"},
		{name: "name wrong type", actor: owner, body: map[string]any{"name": 5}, field: "name", fcode: "BASE_TYPE_STRING"},
		{name: "DM type", actor: owner, body: map[string]any{"name": "dm", "type": 1}, field: "type", fcode: "BASE_TYPE_CHOICES"},
		{name: "announcement type", actor: owner, body: map[string]any{"name": "news", "type": 5}, field: "type", fcode: "BASE_TYPE_CHOICES"},
		{name: "type wrong type", actor: owner, body: map[string]any{"name": "x", "type": "text"}, field: "type", fcode: "NUMBER_TYPE_COERCE"},
		{name: "parent is text", actor: owner, body: map[string]any{"name": "child", "parent_id": text}, field: "parent_id", fcode: "CHANNEL_PARENT_INVALID"},
		{name: "parent is voice", actor: owner, body: map[string]any{"name": "child", "parent_id": voice}, field: "parent_id", fcode: "CHANNEL_PARENT_INVALID"},
		{name: "parent unknown", actor: owner, body: map[string]any{"name": "child", "parent_id": "31337"}, field: "parent_id", fcode: "CHANNEL_PARENT_INVALID"},
		{name: "category in category", actor: owner, body: map[string]any{"name": "nested", "type": 4, "parent_id": catID}, field: "parent_id", fcode: "CHANNEL_PARENT_INVALID"},
		{name: "bitrate too low", actor: owner, body: map[string]any{"name": "v", "type": 2, "bitrate": 1000}, field: "bitrate", fcode: "BASE_TYPE_BAD_INT"},
		{name: "user limit 100", actor: owner, body: map[string]any{"name": "v", "type": 2, "user_limit": 100}, field: "user_limit", fcode: "BASE_TYPE_BAD_INT"},
		{name: "slowmode too long", actor: owner, body: map[string]any{"name": "slow", "rate_limit_per_user": 21601}, field: "rate_limit_per_user", fcode: "BASE_TYPE_BAD_INT"},
		{name: "topic too long", actor: owner, body: map[string]any{"name": "t", "topic": strings.Repeat("t", 1025)}, field: "topic", fcode: "BASE_TYPE_MAX_LENGTH"},
		{name: "overwrite for unknown role", actor: owner, body: map[string]any{"name": "o", "permission_overwrites": []any{
			map[string]any{"id": "777", "type": 0, "allow": "0", "deny": "0"}}}, field: "permission_overwrites.0.id", fcode: "UNKNOWN_ROLE"},
		{name: "overwrite for non-member", actor: owner, body: map[string]any{"name": "o", "permission_overwrites": []any{
			map[string]any{"id": outsider.ID, "type": 1, "allow": "0", "deny": "0"}}}, field: "permission_overwrites.0.id", fcode: "UNKNOWN_MEMBER"},
		{name: "overwrite bad type", actor: owner, body: map[string]any{"name": "o", "permission_overwrites": []any{
			map[string]any{"id": gid, "type": 0, "allow": "0", "deny": "0"}, map[string]any{"id": gid, "type": 3}}}, field: "permission_overwrites.1.type", fcode: "BASE_TYPE_CHOICES"},
		{name: "malformed", actor: owner, body: `{"name": "x" "type": 0}`, status: 400, code: 50109},
		{name: "member without MANAGE_CHANNELS", actor: member, body: map[string]any{"name": "mine"}, status: 403, code: 50013},
		{name: "manager overwrite without MANAGE_ROLES", actor: chanMgr, body: map[string]any{"name": "locked", "permission_overwrites": []any{
			map[string]any{"id": gid, "type": 0, "allow": "0", "deny": permStr(perm.ViewChannel)}}}, status: 403, code: 50013},
		{name: "non-member", actor: outsider, body: map[string]any{"name": "mine"}, status: 404, code: 10004},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			before := h.channelIDs(owner, gid)
			r := h.do("POST", "/guilds/"+gid+"/channels", tc.actor.Token, tc.body)
			switch {
			case tc.field != "":
				h.wantFormErr(r, tc.field, tc.fcode)
			case tc.status != 201:
				h.wantErr(r, tc.status, tc.code)
			default:
				h.must(201, r)
				c := r.Obj()
				id := h.wantSnowflake("id", c["id"])
				if c["guild_id"] != gid || !tc.check(c) {
					t.Fatalf("created %s", r.Body)
				}
				if _, ok := c["position"].(float64); !ok {
					t.Fatalf("position = %v", c["position"])
				}
				got := h.must(200, h.do("GET", "/channels/"+id, owner.Token, nil))
				if !tc.check(got.Obj()) {
					t.Fatalf("GET channel = %s", got.Body)
				}
				if after := h.channelIDs(owner, gid); len(after) != len(before)+1 || !slices.Contains(after, id) {
					t.Fatalf("channel list %v", after)
				}
				return
			}
			if after := h.channelIDs(owner, gid); !slices.Equal(before, after) {
				t.Fatalf("failed create changed the channels: %v -> %v", before, after)
			}
		})
	}
	h.t = t
	h.wantErr(h.do("POST", "/guilds/"+gid+"/channels", "", map[string]any{"name": "anon"}), 401, 0)
	h.wantFormErr(h.do("POST", "/guilds/nope/channels", owner.Token, map[string]any{"name": "x"}), "guild_id", "")

	// Without a position a channel goes after every other one.
	var maxPos float64
	for _, c := range h.must(200, h.do("GET", "/guilds/"+gid+"/channels", owner.Token, nil)).Arr() {
		maxPos = max(maxPos, asObj(c)["position"].(float64))
	}
	last := h.must(201, h.do("POST", "/guilds/"+gid+"/channels", owner.Token, map[string]any{"name": "last"})).Obj()
	if last["position"] != maxPos+1 {
		t.Fatalf("position %v, want %v", last["position"], maxPos+1)
	}
}

func TestModifyChannel(t *testing.T) {
	h := newHarness(t)
	owner := h.user("mcowner")
	member := h.user("mcmember")
	outsider := h.user("mcoutsider")
	gid, text, voice := h.guild(owner)
	h.join(owner, member, text)
	cat := h.must(201, h.do("POST", "/guilds/"+gid+"/channels", owner.Token, map[string]any{"name": "Cat", "type": 4})).Str("id")
	hidden := h.must(201, h.do("POST", "/guilds/"+gid+"/channels", owner.Token, map[string]any{"name": "hidden", "permission_overwrites": []any{
		map[string]any{"id": gid, "type": 0, "deny": permStr(perm.ViewChannel)}}})).Str("id")

	type tcase struct {
		name    string
		actor   user
		channel string
		body    any
		status  int
		code    int
		field   string
		fcode   string
		check   func(c map[string]any) bool
	}
	cases := []tcase{
		{name: "rename text", actor: owner, channel: text, body: map[string]any{"name": "New Name"}, status: 200,
			check: func(c map[string]any) bool { return c["name"] == "new-name" }},
		{name: "topic nsfw slowmode", actor: owner, channel: text, body: map[string]any{"topic": "hello", "nsfw": true, "rate_limit_per_user": 5}, status: 200,
			check: func(c map[string]any) bool {
				return c["topic"] == "hello" && c["nsfw"] == true && c["rate_limit_per_user"] == 5.0 && c["name"] == "new-name"
			}},
		{name: "clear topic", actor: owner, channel: text, body: map[string]any{"topic": nil}, status: 200,
			check: func(c map[string]any) bool { return c["topic"] == nil && c["nsfw"] == true }},
		{name: "into category", actor: owner, channel: text, body: map[string]any{"parent_id": cat, "position": 3}, status: 200,
			check: func(c map[string]any) bool { return c["parent_id"] == cat && c["position"] == 3.0 }},
		{name: "out of category", actor: owner, channel: text, body: map[string]any{"parent_id": nil}, status: 200,
			check: func(c map[string]any) bool { v, ok := c["parent_id"]; return ok && v == nil }},
		{name: "rename voice", actor: owner, channel: voice, body: map[string]any{"name": "Big Room", "bitrate": 128000, "user_limit": 5}, status: 200,
			check: func(c map[string]any) bool {
				return c["name"] == "Big Room" && c["bitrate"] == 128000.0 && c["user_limit"] == 5.0
			}},
		{name: "empty name", actor: owner, channel: text, body: map[string]any{"name": ""}, field: "name", fcode: "BASE_TYPE_BAD_LENGTH"},
		{name: "long name", actor: owner, channel: text, body: map[string]any{"name": strings.Repeat("n", 101)}, field: "name", fcode: "BASE_TYPE_BAD_LENGTH"},
		{name: "name wrong type", actor: owner, channel: text, body: map[string]any{"name": []any{}}, field: "name", fcode: "BASE_TYPE_STRING"},
		{name: "parent is voice", actor: owner, channel: text, body: map[string]any{"parent_id": voice}, field: "parent_id", fcode: "CHANNEL_PARENT_INVALID"},
		{name: "category under category", actor: owner, channel: cat, body: map[string]any{"parent_id": cat}, field: "parent_id", fcode: "CHANNEL_PARENT_INVALID"},
		{name: "bitrate too high", actor: owner, channel: voice, body: map[string]any{"bitrate": 384001}, field: "bitrate", fcode: "BASE_TYPE_BAD_INT"},
		{name: "negative slowmode", actor: owner, channel: text, body: map[string]any{"rate_limit_per_user": -1}, field: "rate_limit_per_user", fcode: "BASE_TYPE_BAD_INT"},
		{name: "overwrite bad type", actor: owner, channel: text, body: map[string]any{"permission_overwrites": []any{map[string]any{"id": gid, "type": 9}}},
			field: "permission_overwrites.0.type", fcode: "BASE_TYPE_CHOICES"},
		{name: "malformed", actor: owner, channel: text, body: `{"name": }`, status: 400, code: 50109},
		{name: "member without MANAGE_CHANNELS", actor: member, channel: text, body: map[string]any{"name": "mine"}, status: 403, code: 50013},
		{name: "member cannot see", actor: member, channel: hidden, body: map[string]any{"name": "mine"}, status: 403, code: 50001},
		{name: "non-member", actor: outsider, channel: text, body: map[string]any{"name": "mine"}, status: 403, code: 50001},
		{name: "unknown channel", actor: owner, channel: "5555555", body: map[string]any{"name": "x"}, status: 404, code: 10003},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			var before []byte
			if tc.status != 404 {
				before = h.must(200, h.do("GET", "/channels/"+tc.channel, owner.Token, nil)).Body
			}
			r := h.do("PATCH", "/channels/"+tc.channel, tc.actor.Token, tc.body)
			switch {
			case tc.field != "":
				h.wantFormErr(r, tc.field, tc.fcode)
			case tc.status != 200:
				h.wantErr(r, tc.status, tc.code)
			default:
				h.must(200, r)
				if r.Str("id") != tc.channel || r.Str("guild_id") != gid || !tc.check(r.Obj()) {
					t.Fatalf("PATCH = %s", r.Body)
				}
				if got := h.must(200, h.do("GET", "/channels/"+tc.channel, member.Token, nil)); !tc.check(got.Obj()) {
					t.Fatalf("GET after PATCH = %s", got.Body)
				}
				return
			}
			if before != nil {
				if after := h.must(200, h.do("GET", "/channels/"+tc.channel, owner.Token, nil)).Body; !bytes.Equal(before, after) {
					t.Fatalf("failed PATCH changed the channel:\n%s\n%s", before, after)
				}
			}
		})
	}
	h.t = t
	h.wantErr(h.do("PATCH", "/channels/"+text, "", map[string]any{"name": "anon"}), 401, 0)
	h.wantFormErr(h.do("PATCH", "/channels/xyz", owner.Token, map[string]any{"name": "x"}), "channel_id", "NUMBER_TYPE_COERCE")
	// A DM cannot be modified as a guild channel.
	dm := h.must(200, h.do("POST", "/users/@me/channels", owner.Token, map[string]any{"recipient_id": member.ID})).Str("id")
	h.wantErr(h.do("PATCH", "/channels/"+dm, owner.Token, map[string]any{"name": "dm"}), 403, 50003)
}

func TestDeleteChannel(t *testing.T) {
	h := newHarness(t)
	owner := h.user("dcowner")
	member := h.user("dcmember")
	outsider := h.user("dcoutsider")
	gid, text, _ := h.guild(owner)
	h.join(owner, member, text)
	cat := h.must(201, h.do("POST", "/guilds/"+gid+"/channels", owner.Token, map[string]any{"name": "Cat", "type": 4})).Str("id")
	child := h.must(201, h.do("POST", "/guilds/"+gid+"/channels", owner.Token, map[string]any{"name": "child", "parent_id": cat})).Str("id")
	inv := h.must(200, h.do("POST", "/channels/"+text+"/invites", owner.Token, map[string]any{"max_age": 0})).Str("code")

	h.wantErr(h.do("DELETE", "/channels/"+text, member.Token, nil), 403, 50013)
	h.wantErr(h.do("DELETE", "/channels/"+text, outsider.Token, nil), 403, 50001)
	h.wantErr(h.do("DELETE", "/channels/"+text, "", nil), 401, 0)
	h.wantErr(h.do("DELETE", "/channels/99999", owner.Token, nil), 404, 10003)
	h.wantFormErr(h.do("DELETE", "/channels/general", owner.Token, nil), "channel_id", "")
	h.must(200, h.do("GET", "/channels/"+text, member.Token, nil))

	// Deleting the system channel returns it and clears the guild's pointer
	// and its invites.
	r := h.must(200, h.do("DELETE", "/channels/"+text, owner.Token, nil))
	if r.Str("id") != text || r.Str("name") != "general" || r.Str("guild_id") != gid {
		t.Fatalf("deleted = %s", r.Body)
	}
	h.wantErr(h.do("GET", "/channels/"+text, owner.Token, nil), 404, 10003)
	h.wantErr(h.do("DELETE", "/channels/"+text, owner.Token, nil), 404, 10003)
	if slices.Contains(h.channelIDs(member, gid), text) {
		t.Fatal("deleted channel still listed")
	}
	if g := h.must(200, h.do("GET", "/guilds/"+gid, owner.Token, nil)).Obj(); g["system_channel_id"] != nil {
		t.Fatalf("system_channel_id = %v", g["system_channel_id"])
	}
	h.wantErr(h.do("GET", "/invites/"+inv, member.Token, nil), 404, 10006)

	// Closing a DM answers with the channel and leaves it reachable.
	dm := h.must(200, h.do("POST", "/users/@me/channels", member.Token, map[string]any{"recipient_id": owner.ID})).Str("id")
	if r := h.must(200, h.do("DELETE", "/channels/"+dm, member.Token, nil)); r.Str("id") != dm || r.Obj()["type"] != 1.0 {
		t.Fatalf("closed DM = %s", r.Body)
	}
	h.wantErr(h.do("DELETE", "/channels/"+dm, outsider.Token, nil), 403, 50001)
	h.must(200, h.do("GET", "/channels/"+dm, owner.Token, nil))

	// Deleting a category orphans its children.
	h.must(200, h.reqV("/api/v9", "DELETE", "/channels/"+cat, owner.Token, nil, nil))
	if c := h.must(200, h.do("GET", "/channels/"+child, member.Token, nil)).Obj(); c["parent_id"] != nil {
		t.Fatalf("child parent_id = %v", c["parent_id"])
	}
}

func TestChannelPositions(t *testing.T) {
	h := newHarness(t)
	owner := h.user("cpowner")
	member := h.user("cpmember")
	outsider := h.user("cpoutsider")
	gid, text, voice := h.guild(owner)
	h.join(owner, member, text)
	cat := h.must(201, h.do("POST", "/guilds/"+gid+"/channels", owner.Token, map[string]any{"name": "Cat", "type": 4})).Str("id")
	get := func(id string) map[string]any {
		return h.must(200, h.do("GET", "/channels/"+id, owner.Token, nil)).Obj()
	}

	h.must(204, h.do("PATCH", "/guilds/"+gid+"/channels", owner.Token, []any{
		map[string]any{"id": voice, "position": 1},
		map[string]any{"id": text, "position": 5, "parent_id": cat},
		map[string]any{"id": cat, "position": 0},
	}))
	if c := get(text); c["position"] != 5.0 || c["parent_id"] != cat {
		t.Fatalf("text = %v", c)
	}
	if c := get(voice); c["position"] != 1.0 || c["parent_id"] != nil {
		t.Fatalf("voice = %v", c)
	}
	if ids := h.channelIDs(member, gid); !slices.Equal(ids, []string{cat, voice, text}) {
		t.Fatalf("order %v, want %v", ids, []string{cat, voice, text})
	}
	// parent_id null takes the channel out; absent leaves it.
	h.must(204, h.do("PATCH", "/guilds/"+gid+"/channels", owner.Token, []any{map[string]any{"id": text, "parent_id": nil}}))
	if c := get(text); c["parent_id"] != nil || c["position"] != 5.0 {
		t.Fatalf("text = %v", c)
	}

	// A manager (MANAGE_CHANNELS, not MANAGE_ROLES) who cannot see one
	// channel and one category.
	manager := h.user("cpmanager")
	h.join(owner, manager, text)
	h.giveRole(owner, gid, manager.ID, h.mkRole(owner, gid, "channel managers", perm.ManageChannels))
	hidden := h.must(201, h.do("POST", "/guilds/"+gid+"/channels", owner.Token, map[string]any{"name": "hidden"})).Str("id")
	hiddenCat := h.must(201, h.do("POST", "/guilds/"+gid+"/channels", owner.Token, map[string]any{"name": "Hidden", "type": 4})).Str("id")
	for _, c := range []string{hidden, hiddenCat} {
		h.must(204, h.do("PUT", "/channels/"+c+"/permissions/"+manager.ID, owner.Token,
			map[string]any{"type": 1, "deny": strconv.FormatUint(perm.ViewChannel, 10)}))
	}
	h.must(204, h.do("PATCH", "/guilds/"+gid+"/channels", manager.Token, []any{map[string]any{"id": voice, "position": 3}}))

	before := h.must(200, h.do("GET", "/guilds/"+gid+"/channels", owner.Token, nil)).Body
	cases := []struct {
		name   string
		actor  user
		body   any
		status int
		code   int
		field  string
		fcode  string
	}{
		{name: "manager moves a channel it cannot see", actor: manager, body: []any{map[string]any{"id": hidden, "position": 0}}, status: 403, code: 50001},
		{name: "manager moves one it sees and one it cannot", actor: manager, body: []any{map[string]any{"id": voice, "position": 4}, map[string]any{"id": hidden, "position": 0}}, status: 403, code: 50001},
		{name: "manager moves into a category it cannot see", actor: manager, body: []any{map[string]any{"id": voice, "parent_id": hiddenCat}}, status: 403, code: 50001},
		{name: "manager locks permissions without MANAGE_ROLES", actor: manager, body: []any{map[string]any{"id": voice, "parent_id": cat, "lock_permissions": true}}, status: 403, code: 50013},
		{name: "unknown channel", actor: owner, body: []any{map[string]any{"id": "12345", "position": 1}}, field: "0.id", fcode: "CHANNEL_INVALID"},
		{name: "second entry bad parent", actor: owner, body: []any{map[string]any{"id": voice, "position": 2}, map[string]any{"id": voice, "parent_id": text}}, field: "1.parent_id", fcode: "CHANNEL_PARENT_INVALID"},
		{name: "category into category", actor: owner, body: []any{map[string]any{"id": cat, "parent_id": cat}}, field: "0.parent_id", fcode: "CHANNEL_PARENT_INVALID"},
		{name: "object instead of array", actor: owner, body: map[string]any{"id": voice, "position": 1}, field: "_root", fcode: "BASE_TYPE_ARRAY"},
		{name: "position wrong type", actor: owner, body: []any{map[string]any{"id": voice, "position": "top"}}, status: 400, code: 50035},
		{name: "malformed", actor: owner, body: `[{"id": 1,]`, status: 400, code: 50109},
		{name: "member without MANAGE_CHANNELS", actor: member, body: []any{map[string]any{"id": voice, "position": 9}}, status: 403, code: 50013},
		{name: "non-member", actor: outsider, body: []any{map[string]any{"id": voice, "position": 9}}, status: 404, code: 10004},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			r := h.do("PATCH", "/guilds/"+gid+"/channels", tc.actor.Token, tc.body)
			if tc.field != "" {
				h.wantFormErr(r, tc.field, tc.fcode)
			} else {
				h.wantErr(r, tc.status, tc.code)
			}
			if _, leaked := asObj(r.Obj()["errors"])["items"]; leaked {
				t.Fatalf("errors name the decoder's wrapper: %s", r.Body)
			}
			if after := h.must(200, h.do("GET", "/guilds/"+gid+"/channels", owner.Token, nil)).Body; !bytes.Equal(before, after) {
				t.Fatalf("failed PATCH changed channels:\n%s\n%s", before, after)
			}
		})
	}
	h.t = t
	h.wantErr(h.do("PATCH", "/guilds/"+gid+"/channels", "", []any{}), 401, 0)

	// lock_permissions: the channel takes its new category's overwrites.
	h.must(204, h.do("PUT", "/channels/"+cat+"/permissions/"+member.ID, owner.Token,
		map[string]any{"type": 1, "deny": strconv.FormatUint(perm.SendMessages, 10)}))
	h.must(204, h.do("PATCH", "/guilds/"+gid+"/channels", owner.Token, []any{map[string]any{"id": voice, "parent_id": cat, "lock_permissions": true}}))
	if got, want := fmt.Sprint(get(voice)["permission_overwrites"]), fmt.Sprint(get(cat)["permission_overwrites"]); got != want {
		t.Fatalf("locked overwrites %s, the category's %s", got, want)
	}
}

func TestPermissionOverwrites(t *testing.T) {
	h := newHarness(t)
	owner := h.user("owowner")
	member := h.user("owmember")
	member2 := h.user("owmember2")
	mod := h.user("owmod")
	outsider := h.user("owoutsider")
	gid, text, voice := h.guild(owner)
	for _, u := range []user{member, member2, mod} {
		h.join(owner, u, text)
	}
	modRole := h.mkRole(owner, gid, "mods", perm.ManageRoles)
	h.giveRole(owner, gid, mod.ID, modRole)
	secret := h.must(201, h.do("POST", "/guilds/"+gid+"/channels", owner.Token, map[string]any{"name": "secret"})).Str("id")
	putOW := func(actor user, channel, id string, body any) resp {
		return h.do("PUT", "/channels/"+channel+"/permissions/"+id, actor.Token, body)
	}
	overwrites := func(channel string) []any {
		ows, _ := h.must(200, h.do("GET", "/channels/"+channel, owner.Token, nil)).Obj()["permission_overwrites"].([]any)
		return ows
	}

	// Deny VIEW_CHANNEL to @everyone: the channel disappears for members.
	h.must(204, putOW(owner, secret, gid, map[string]any{"type": 0, "allow": "0", "deny": permStr(perm.ViewChannel)}))
	ows := overwrites(secret)
	if len(ows) != 1 {
		t.Fatalf("overwrites = %v", ows)
	}
	ow := asObj(ows[0])
	if ow["id"] != gid || ow["type"] != 0.0 || ow["allow"] != "0" || ow["deny"] != permStr(perm.ViewChannel) {
		t.Fatalf("overwrite = %v", ow)
	}
	for _, u := range []user{member, member2, mod} {
		h.wantErr(h.do("GET", "/channels/"+secret, u.Token, nil), 403, 50001)
		h.wantErr(h.do("GET", "/channels/"+secret+"/messages", u.Token, nil), 403, 50001)
		h.wantErr(h.do("POST", "/channels/"+secret+"/messages", u.Token, map[string]any{"content": "hi"}), 403, 50001)
		if ids := h.channelIDs(u, gid); slices.Contains(ids, secret) || !slices.Contains(ids, text) || !slices.Contains(ids, voice) {
			t.Fatalf("%s sees %v", u.Name, ids)
		}
	}
	if !slices.Contains(h.channelIDs(owner, gid), secret) {
		t.Fatal("owner lost the channel")
	}

	// A role overwrite lets the role's holders back in, and only them.
	h.must(204, putOW(owner, secret, modRole, map[string]any{"type": 0, "allow": permStr(perm.ViewChannel)}))
	h.must(200, h.do("GET", "/channels/"+secret, mod.Token, nil))
	if !slices.Contains(h.channelIDs(mod, gid), secret) || slices.Contains(h.channelIDs(member2, gid), secret) {
		t.Fatal("role overwrite did not apply to exactly the role")
	}
	h.must(204, h.do("DELETE", "/channels/"+secret+"/permissions/"+modRole, owner.Token, nil))
	h.wantErr(h.do("GET", "/channels/"+secret, mod.Token, nil), 403, 50001)

	// A member overwrite lets one member back in.
	h.must(204, putOW(owner, secret, member.ID, map[string]any{"type": 1, "allow": permStr(perm.ViewChannel), "deny": "0"}))
	if c := h.must(200, h.do("GET", "/channels/"+secret, member.Token, nil)).Obj(); c["id"] != secret {
		t.Fatalf("member GET = %v", c)
	}
	if !slices.Contains(h.channelIDs(member, gid), secret) || slices.Contains(h.channelIDs(member2, gid), secret) {
		t.Fatal("member overwrite did not apply to exactly that member")
	}
	h.send(member, secret, "back in")
	h.wantErr(h.do("GET", "/channels/"+secret, member2.Token, nil), 403, 50001)
	// PUT replaces an overwrite rather than adding a second.
	h.must(204, putOW(owner, secret, member.ID, map[string]any{"type": 1, "allow": permStr(perm.ViewChannel), "deny": permStr(perm.SendMessages)}))
	if n := len(overwrites(secret)); n != 2 {
		t.Fatalf("%d overwrites, want 2", n)
	}
	h.wantErr(h.do("POST", "/channels/"+secret+"/messages", member.Token, map[string]any{"content": "muted"}), 403, 50013)

	// Removing the member overwrite hides the channel again; removing the
	// @everyone one shows it to all.
	h.must(204, h.do("DELETE", "/channels/"+secret+"/permissions/"+member.ID, owner.Token, nil))
	h.wantErr(h.do("GET", "/channels/"+secret, member.Token, nil), 403, 50001)
	h.wantErr(h.do("DELETE", "/channels/"+secret+"/permissions/"+member.ID, owner.Token, nil), 404, 10009)
	h.must(204, h.reqV("/api/v9", "DELETE", "/channels/"+secret+"/permissions/"+gid, owner.Token, nil, nil))
	h.must(200, h.do("GET", "/channels/"+secret, member2.Token, nil))
	if n := len(overwrites(secret)); n != 0 {
		t.Fatalf("%d overwrites left", n)
	}

	// Role overwrites apply to the role's holders only.
	h.must(204, putOW(owner, text, modRole, map[string]any{"type": 0, "deny": permStr(perm.SendMessages)}))
	h.wantErr(h.do("POST", "/channels/"+text+"/messages", mod.Token, map[string]any{"content": "x"}), 403, 50013)
	h.send(member, text, "still talking")
	h.must(204, h.do("DELETE", "/channels/"+text+"/permissions/"+modRole, owner.Token, nil))

	before := h.must(200, h.do("GET", "/channels/"+text, owner.Token, nil)).Body
	cases := []struct {
		name    string
		actor   user
		channel string
		target  string
		body    any
		status  int
		code    int
		field   string
		fcode   string
	}{
		{name: "type missing", actor: owner, channel: text, target: gid, body: map[string]any{"allow": "0"}, field: "type", fcode: "BASE_TYPE_REQUIRED"},
		{name: "type 2", actor: owner, channel: text, target: gid, body: map[string]any{"type": 2}, field: "type", fcode: "BASE_TYPE_CHOICES"},
		{name: "unknown role", actor: owner, channel: text, target: "8888", body: map[string]any{"type": 0}, field: "overwrite_id", fcode: "UNKNOWN_ROLE"},
		{name: "non-member", actor: owner, channel: text, target: outsider.ID, body: map[string]any{"type": 1}, field: "overwrite_id", fcode: "UNKNOWN_MEMBER"},
		{name: "allow not a number", actor: owner, channel: text, target: gid, body: map[string]any{"type": 0, "allow": "lots"}, field: "allow", fcode: "NUMBER_TYPE_COERCE"},
		{name: "type wrong type", actor: owner, channel: text, target: gid, body: map[string]any{"type": "role"}, field: "type", fcode: "NUMBER_TYPE_COERCE"},
		{name: "bad overwrite id", actor: owner, channel: text, target: "everyone", body: map[string]any{"type": 0}, field: "overwrite_id", fcode: "NUMBER_TYPE_COERCE"},
		{name: "malformed", actor: owner, channel: text, target: gid, body: `{"type":0`, status: 400, code: 50109},
		{name: "member without MANAGE_ROLES", actor: member, channel: text, target: gid, body: map[string]any{"type": 0, "deny": permStr(perm.SendMessages)}, status: 403, code: 50013},
		{name: "member empty overwrite", actor: member, channel: text, target: member.ID, body: map[string]any{"type": 1}, status: 403, code: 50013},
		{name: "mod allows a bit it lacks", actor: mod, channel: text, target: member.ID, body: map[string]any{"type": 1, "allow": permStr(perm.BanMembers)}, status: 403, code: 50013},
		{name: "mod denies a bit it lacks", actor: mod, channel: text, target: gid, body: map[string]any{"type": 0, "deny": permStr(perm.ManageGuild)}, status: 403, code: 50013},
		{name: "non-member actor", actor: outsider, channel: text, target: gid, body: map[string]any{"type": 0}, status: 403, code: 50001},
		{name: "unknown channel", actor: owner, channel: "4444", target: gid, body: map[string]any{"type": 0}, status: 404, code: 10003},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			r := putOW(tc.actor, tc.channel, tc.target, tc.body)
			if tc.field != "" {
				h.wantFormErr(r, tc.field, tc.fcode)
			} else {
				h.wantErr(r, tc.status, tc.code)
			}
			if after := h.must(200, h.do("GET", "/channels/"+text, owner.Token, nil)).Body; !bytes.Equal(before, after) {
				t.Fatalf("failed PUT changed the channel:\n%s\n%s", before, after)
			}
		})
	}
	h.t = t

	// A moderator with MANAGE_ROLES may set bits it holds.
	h.must(204, putOW(mod, text, member.ID, map[string]any{"type": 1, "allow": permStr(perm.AddReactions), "deny": permStr(perm.SendMessages)}))
	h.wantErr(h.do("POST", "/channels/"+text+"/messages", member.Token, map[string]any{"content": "x"}), 403, 50013)
	h.wantErr(h.do("DELETE", "/channels/"+text+"/permissions/"+member.ID, member.Token, nil), 403, 50013)
	h.wantErr(h.do("DELETE", "/channels/"+text+"/permissions/"+member.ID, outsider.Token, nil), 403, 50001)
	h.wantFormErr(h.do("DELETE", "/channels/"+text+"/permissions/x", owner.Token, nil), "overwrite_id", "")
	h.must(204, h.do("DELETE", "/channels/"+text+"/permissions/"+member.ID, mod.Token, nil))
	h.send(member, text, "unmuted")
	// A moderator who cannot see a channel cannot touch its overwrites.
	h.must(204, putOW(owner, secret, modRole, map[string]any{"type": 0, "deny": permStr(perm.ViewChannel)}))
	h.wantErr(putOW(mod, secret, member.ID, map[string]any{"type": 1, "allow": permStr(perm.AddReactions)}), 403, 50001)
	h.wantErr(h.do("DELETE", "/channels/"+secret+"/permissions/"+modRole, mod.Token, nil), 403, 50001)
	// Overwrites have no meaning in DMs.
	dm := h.must(200, h.do("POST", "/users/@me/channels", member.Token, map[string]any{"recipient_id": member2.ID})).Str("id")
	h.wantErr(putOW(member, dm, member2.ID, map[string]any{"type": 1}), 403, 50003)
}

func TestInvites(t *testing.T) {
	h := newHarness(t)
	owner := h.user("invowner")
	member := h.user("invmember")
	chanMgr := h.user("invchanmgr")
	outsider := h.user("invoutsider")
	gid, text, voice := h.guild(owner)
	h.join(owner, member, text)
	h.join(owner, chanMgr, text)
	h.giveRole(owner, gid, chanMgr.ID, h.mkRole(owner, gid, "channel managers", perm.ManageChannels))

	// Create: metadata, expiry and the partial guild and channel.
	r := h.must(200, h.do("POST", "/channels/"+text+"/invites", owner.Token, map[string]any{"max_age": 3600, "max_uses": 2, "unique": true}))
	inv := r.Obj()
	code := inv["code"].(string)
	if len(code) < 6 || inv["uses"] != 0.0 || inv["max_uses"] != 2.0 || inv["max_age"] != 3600.0 || inv["temporary"] != false {
		t.Fatalf("invite = %s", r.Body)
	}
	if g := asObj(inv["guild"]); g["id"] != gid || g["name"] != "Test Guild" {
		t.Fatalf("guild = %v", inv["guild"])
	}
	if c := asObj(inv["channel"]); c["id"] != text || c["name"] != "general" || c["type"] != 0.0 {
		t.Fatalf("channel = %v", inv["channel"])
	}
	if asObj(inv["inviter"])["id"] != owner.ID {
		t.Fatalf("inviter = %v", inv["inviter"])
	}
	created := h.wantISOTime("created_at", inv["created_at"])
	if exp := h.wantISOTime("expires_at", inv["expires_at"]); !exp.Equal(created.Add(time.Hour)) {
		t.Fatalf("expires_at %v, created_at %v", exp, created)
	}
	// Defaults: a day; the same settings reuse an unused invite; max_age 0
	// never expires.
	def := h.must(200, h.do("POST", "/channels/"+text+"/invites", owner.Token, nil)).Obj()
	if def["max_age"] != 86400.0 || def["max_uses"] != 0.0 {
		t.Fatalf("default invite = %v", def)
	}
	if again := h.must(200, h.do("POST", "/channels/"+text+"/invites", owner.Token, map[string]any{})).Obj(); again["code"] != def["code"] {
		t.Fatalf("same settings gave %v, want %v", again["code"], def["code"])
	}
	if uniq := h.must(200, h.do("POST", "/channels/"+text+"/invites", owner.Token, map[string]any{"unique": true})).Obj(); uniq["code"] == def["code"] {
		t.Fatal("unique invite reused a code")
	}
	forever := h.must(200, h.do("POST", "/channels/"+voice+"/invites", member.Token, map[string]any{"max_age": 0})).Obj()
	if v, ok := forever["expires_at"]; !ok || v != nil {
		t.Fatalf("expires_at = %v", v)
	}
	if asObj(forever["channel"])["type"] != 2.0 || asObj(forever["inviter"])["id"] != member.ID {
		t.Fatalf("voice invite = %v", forever)
	}

	hiddenCh := h.must(201, h.do("POST", "/guilds/"+gid+"/channels", owner.Token, map[string]any{"name": "hidden", "permission_overwrites": []any{
		map[string]any{"id": gid, "type": 0, "deny": permStr(perm.ViewChannel)}}})).Str("id")
	noInvite := h.must(201, h.do("POST", "/guilds/"+gid+"/channels", owner.Token, map[string]any{"name": "no-invites", "permission_overwrites": []any{
		map[string]any{"id": gid, "type": 0, "deny": permStr(perm.CreateInstantInvite)}}})).Str("id")
	dm := h.must(200, h.do("POST", "/users/@me/channels", member.Token, map[string]any{"recipient_id": owner.ID})).Str("id")
	createCases := []struct {
		name    string
		actor   user
		channel string
		body    any
		status  int
		code    int
		field   string
	}{
		{name: "negative max_age", actor: owner, channel: text, body: map[string]any{"max_age": -1}, field: "max_age"},
		{name: "max_age over a week", actor: owner, channel: text, body: map[string]any{"max_age": 604801}, field: "max_age"},
		{name: "max_uses 101", actor: owner, channel: text, body: map[string]any{"max_uses": 101}, field: "max_uses"},
		{name: "max_age wrong type", actor: owner, channel: text, body: map[string]any{"max_age": "forever"}, field: "max_age"},
		{name: "malformed", actor: owner, channel: text, body: `{"max_age"`, status: 400, code: 50109},
		{name: "no CREATE_INSTANT_INVITE", actor: member, channel: noInvite, body: map[string]any{}, status: 403, code: 50013},
		{name: "hidden channel", actor: member, channel: hiddenCh, body: map[string]any{}, status: 403, code: 50001},
		{name: "non-member", actor: outsider, channel: text, body: map[string]any{}, status: 403, code: 50001},
		{name: "unknown channel", actor: owner, channel: "1212", body: map[string]any{}, status: 404, code: 10003},
		{name: "DM", actor: member, channel: dm, body: map[string]any{}, status: 403, code: 50003},
	}
	for _, tc := range createCases {
		t.Run("create/"+tc.name, func(t *testing.T) {
			h.t = t
			r := h.do("POST", "/channels/"+tc.channel+"/invites", tc.actor.Token, tc.body)
			if tc.field != "" {
				h.wantFormErr(r, tc.field, "")
				return
			}
			h.wantErr(r, tc.status, tc.code)
		})
	}
	h.t = t
	h.wantErr(h.do("POST", "/channels/"+text+"/invites", "", map[string]any{}), 401, 0)
	h.must(200, h.do("POST", "/channels/"+noInvite+"/invites", owner.Token, map[string]any{}))

	// GET: anyone, signed in or not (an invite link shows its guild to
	// someone without an account yet), no metadata; the counts only with
	// with_counts, as on Discord.
	for _, tok := range []string{outsider.Token, ""} {
		pub := h.must(200, h.do("GET", "/invites/"+code, tok, nil))
		po := pub.Obj()
		if po["code"] != code || asObj(po["guild"])["id"] != gid || asObj(po["channel"])["id"] != text {
			t.Fatalf("public invite = %s", pub.Body)
		}
		if _, ok := po["approximate_member_count"]; ok {
			t.Fatalf("counts without with_counts: %s", pub.Body)
		}
		counted := h.must(200, h.do("GET", "/invites/"+code+"?with_counts=true", tok, nil)).Obj()
		// Nobody has a gateway session in this test: all offline.
		if counted["approximate_member_count"] != 3.0 || counted["approximate_presence_count"] != 0.0 {
			t.Fatalf("with_counts: member count %v, presence count %v; want 3 and 0", counted["approximate_member_count"], counted["approximate_presence_count"])
		}
	}
	h.wantErr(h.do("GET", "/invites/nosuchcode", "", nil), 404, 10006)
	pub := h.must(200, h.do("GET", "/invites/"+code, outsider.Token, nil))
	po := pub.Obj()
	for _, k := range []string{"uses", "max_uses", "created_at"} {
		if _, ok := po[k]; ok {
			t.Fatalf("public invite shows %s: %s", k, pub.Body)
		}
	}
	h.wantISOTime("expires_at", po["expires_at"])
	h.wantErr(h.do("GET", "/invites/nosuchcode", outsider.Token, nil), 404, 10006)
	h.wantErr(h.do("GET", "/invites/"+strings.Repeat("x", 100), outsider.Token, nil), 404, 10006)

	// Accept: max_uses is consumed by new members only, then the invite is
	// gone.
	joiner1, joiner2, late := h.user("invjoin"), h.user("invjoin"), h.user("invlate")
	acc := h.must(200, h.reqV("/api/v9", "POST", "/invites/"+code, joiner1.Token, nil, nil)).Obj()
	if acc["code"] != code || asObj(acc["guild"])["id"] != gid {
		t.Fatalf("accept = %v", acc)
	}
	h.must(200, h.do("GET", "/guilds/"+gid, joiner1.Token, nil))
	h.must(200, h.do("POST", "/invites/"+code, joiner1.Token, nil)) // already a member: no use
	h.must(200, h.do("POST", "/invites/"+code, owner.Token, nil))
	uses := -1.0
	for _, v := range h.must(200, h.do("GET", "/channels/"+text+"/invites", owner.Token, nil)).Arr() {
		if asObj(v)["code"] == code {
			uses = asObj(v)["uses"].(float64)
		}
	}
	if uses != 1 {
		t.Fatalf("uses = %v after one join", uses)
	}
	h.must(200, h.do("POST", "/invites/"+code, joiner2.Token, nil))
	h.wantErr(h.do("POST", "/invites/"+code, late.Token, nil), 404, 10006)
	h.wantErr(h.do("GET", "/invites/"+code, late.Token, nil), 404, 10006)
	h.wantErr(h.do("GET", "/guilds/"+gid, late.Token, nil), 404, 10004)
	if got := h.must(200, h.do("GET", "/guilds/"+gid+"?with_counts=true", owner.Token, nil)).Obj()["approximate_member_count"]; got != 5.0 {
		t.Fatalf("member count %v, want 5", got)
	}

	// Banned users are refused; bots cannot accept invites.
	banned := h.user("invbanned")
	h.must(204, h.do("PUT", "/guilds/"+gid+"/bans/"+banned.ID, owner.Token, nil))
	open := h.must(200, h.do("POST", "/channels/"+text+"/invites", owner.Token, map[string]any{"max_age": 0, "unique": true})).Str("code")
	h.wantErr(h.do("POST", "/invites/"+open, banned.Token, nil), 403, 40007)
	h.wantErr(h.do("GET", "/guilds/"+gid, banned.Token, nil), 404, 10004)
	bot := h.bot(owner, "Invite Bot")
	h.wantErr(h.do("POST", "/invites/"+open, bot.Token, nil), 403, 20001)
	h.wantErr(h.do("POST", "/invites/zzzzzz", late.Token, nil), 404, 10006)
	h.wantErr(h.do("POST", "/invites/"+open, "", nil), 401, 0)

	// Lists: channel invites need MANAGE_CHANNELS, guild invites MANAGE_GUILD.
	chInv := h.must(200, h.do("GET", "/channels/"+text+"/invites", chanMgr.Token, nil)).Arr()
	for _, v := range chInv {
		m := asObj(v)
		if asObj(m["channel"])["id"] != text {
			t.Fatalf("channel list has %v", m)
		}
		h.wantISOTime("created_at", m["created_at"])
		if _, ok := m["uses"].(float64); !ok {
			t.Fatalf("no uses in %v", m)
		}
	}
	codes := func(arr []any) []string {
		var out []string
		for _, v := range arr {
			out = append(out, asObj(v)["code"].(string))
		}
		return out
	}
	if cs := codes(chInv); !slices.Contains(cs, open) || slices.Contains(cs, code) || slices.Contains(cs, forever["code"].(string)) {
		t.Fatalf("channel invites %v", cs)
	}
	all := codes(h.must(200, h.do("GET", "/guilds/"+gid+"/invites", owner.Token, nil)).Arr())
	if !slices.Contains(all, open) || !slices.Contains(all, forever["code"].(string)) || slices.Contains(all, code) {
		t.Fatalf("guild invites %v", all)
	}
	h.wantErr(h.do("GET", "/channels/"+text+"/invites", member.Token, nil), 403, 50013)
	h.wantErr(h.do("GET", "/channels/"+text+"/invites", outsider.Token, nil), 403, 50001)
	h.wantErr(h.do("GET", "/channels/"+dm+"/invites", member.Token, nil), 403, 50003)
	h.wantErr(h.do("GET", "/guilds/"+gid+"/invites", member.Token, nil), 403, 50013)
	h.wantErr(h.do("GET", "/guilds/"+gid+"/invites", chanMgr.Token, nil), 403, 50013)
	h.wantErr(h.do("GET", "/guilds/"+gid+"/invites", outsider.Token, nil), 404, 10004)

	// Delete: MANAGE_CHANNELS or MANAGE_GUILD.
	fc := forever["code"].(string)
	h.wantErr(h.do("DELETE", "/invites/"+fc, member.Token, nil), 403, 50013)
	h.wantErr(h.do("DELETE", "/invites/"+fc, outsider.Token, nil), 403, 50001)
	h.wantErr(h.do("DELETE", "/invites/"+fc, "", nil), 401, 0)
	del := h.must(200, h.do("DELETE", "/invites/"+fc, chanMgr.Token, nil)).Obj()
	if del["code"] != fc || asObj(del["channel"])["id"] != voice {
		t.Fatalf("deleted = %v", del)
	}
	h.wantErr(h.do("GET", "/invites/"+fc, member.Token, nil), 404, 10006)
	h.wantErr(h.do("DELETE", "/invites/"+fc, owner.Token, nil), 404, 10006)
	h.wantErr(h.do("POST", "/invites/"+fc, late.Token, nil), 404, 10006)
	h.must(200, h.do("DELETE", "/invites/"+open, owner.Token, nil))
}
