package rest

// Tests of guild create/get/modify/delete.

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/accord-chat/accord/core/perm"
)

func TestCreateGuild(t *testing.T) {
	h := newHarness(t)
	owner := h.user("cgowner")
	r := h.must(201, h.do("POST", "/guilds", owner.Token, map[string]any{"name": "  My Guild  "}))
	g := r.Obj()
	gid := h.wantSnowflake("id", g["id"])
	if g["name"] != "My Guild" || g["owner_id"] != owner.ID || g["afk_timeout"] != 300.0 || g["preferred_locale"] != "en-US" ||
		g["verification_level"] != 0.0 || g["default_message_notifications"] != 1.0 {
		t.Fatalf("guild = %s", r.Body)
	}
	for _, k := range []string{"emojis", "features", "stickers"} {
		if a, ok := g[k].([]any); !ok || len(a) != 0 {
			t.Fatalf("%s = %v, want []", k, g[k])
		}
	}
	for _, k := range []string{"icon", "description", "afk_channel_id"} {
		if v, ok := g[k]; !ok || v != nil {
			t.Fatalf("%s = %v (present %v), want null", k, v, ok)
		}
	}
	roles, _ := g["roles"].([]any)
	if len(roles) != 1 {
		t.Fatalf("roles = %v", g["roles"])
	}
	ev := asObj(roles[0])
	if ev["id"] != gid || ev["name"] != "@everyone" || ev["position"] != 0.0 || ev["managed"] != false ||
		h.wantPermString("@everyone permissions", ev["permissions"]) != perm.DefaultEveryone {
		t.Fatalf("@everyone = %v", ev)
	}

	chans := h.must(200, h.do("GET", "/guilds/"+gid+"/channels", owner.Token, nil)).Arr()
	if len(chans) != 2 {
		t.Fatalf("channels = %v", chans)
	}
	var text, voice map[string]any
	for _, c := range chans {
		m := asObj(c)
		h.wantSnowflake("channel id", m["id"])
		if m["guild_id"] != gid {
			t.Fatalf("channel guild_id = %v", m["guild_id"])
		}
		// Discord sends "permission_overwrites": []; Accord's
		// discord.Channel drops the empty list (omitempty), which clients
		// tolerate. Either way there must be no overwrite.
		if ow, ok := m["permission_overwrites"]; ok {
			if a, isArr := ow.([]any); !isArr || len(a) != 0 {
				t.Fatalf("overwrites = %v", ow)
			}
		}
		switch m["type"] {
		case 0.0:
			text = m
		case 2.0:
			voice = m
		}
	}
	if text == nil || voice == nil || text["name"] != "general" || voice["name"] != "General" || voice["bitrate"] != 64000.0 || voice["user_limit"] != 0.0 {
		t.Fatalf("default channels = %v", chans)
	}
	if g["system_channel_id"] != text["id"] {
		t.Fatalf("system_channel_id %v, want %v", g["system_channel_id"], text["id"])
	}
	if rs := h.must(200, h.do("GET", "/guilds/"+gid+"/roles", owner.Token, nil)).Arr(); len(rs) != 1 || asObj(rs[0])["id"] != gid {
		t.Fatalf("GET roles = %v", rs)
	}
	mem := h.must(200, h.do("GET", "/guilds/"+gid+"/members/"+owner.ID, owner.Token, nil)).Obj()
	if asObj(mem["user"])["id"] != owner.ID {
		t.Fatalf("owner member = %v", mem)
	}
	h.wantISOTime("joined_at", mem["joined_at"])
	mine := h.must(200, h.do("GET", "/users/@me/guilds", owner.Token, nil)).Arr()
	if len(mine) != 1 || asObj(mine[0])["id"] != gid || asObj(mine[0])["owner"] != true {
		t.Fatalf("my guilds = %v", mine)
	}

	// Name bounds: 2 and 100 are fine.
	for _, n := range []int{2, 100} {
		name := strings.Repeat("g", n)
		if got := h.must(201, h.do("POST", "/guilds", owner.Token, map[string]any{"name": name})).Str("name"); got != name {
			t.Fatalf("name %q", got)
		}
	}
	// The v9 prefix creates guilds too.
	if h.must(201, h.reqV("/api/v9", "POST", "/guilds", owner.Token, map[string]any{"name": "v9 guild"}, nil)).Str("name") != "v9 guild" {
		t.Fatal("v9 create")
	}

	cases := []struct {
		name  string
		token string
		body  any
		code  int // 0 with field set: 50035
		field string
		fcode string
	}{
		{name: "one char", token: owner.Token, body: map[string]any{"name": "a"}, field: "name", fcode: "BASE_TYPE_BAD_LENGTH"},
		{name: "trimmed to one char", token: owner.Token, body: map[string]any{"name": "  a  "}, field: "name", fcode: "BASE_TYPE_BAD_LENGTH"},
		{name: "101 chars", token: owner.Token, body: map[string]any{"name": strings.Repeat("g", 101)}, field: "name", fcode: "BASE_TYPE_BAD_LENGTH"},
		{name: "missing name", token: owner.Token, body: map[string]any{}, field: "name", fcode: "BASE_TYPE_BAD_LENGTH"},
		{name: "name is a number", token: owner.Token, body: map[string]any{"name": 12345}, field: "name", fcode: "BASE_TYPE_STRING"},
		{name: "name is an object", token: owner.Token, body: map[string]any{"name": map[string]any{}}, field: "name", fcode: "BASE_TYPE_STRING"},
		{name: "icon is a number", token: owner.Token, body: map[string]any{"name": "ok name", "icon": 5}, field: "icon", fcode: "BASE_TYPE_STRING"},
		{name: "malformed", token: owner.Token, body: `{"name": "x"`, code: 50109},
		{name: "array body", token: owner.Token, body: `["name"]`, code: 50109},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			r := h.do("POST", "/guilds", tc.token, tc.body)
			if tc.field != "" {
				h.wantFormErr(r, tc.field, tc.fcode)
				return
			}
			h.wantErr(r, 400, tc.code)
		})
	}
	h.t = t
	h.wantErr(h.do("POST", "/guilds", "", map[string]any{"name": "anon guild"}), 401, 0)
	if n := len(h.must(200, h.do("GET", "/users/@me/guilds", owner.Token, nil)).Arr()); n != 4 {
		t.Fatalf("%d guilds after failed creates, want 4", n)
	}
}

func TestGetGuild(t *testing.T) {
	h := newHarness(t)
	owner := h.user("ggowner")
	member := h.user("ggmember")
	outsider := h.user("ggoutsider")
	gid, text, _ := h.guild(owner)
	h.join(owner, member, text)
	for _, u := range []user{owner, member} {
		g := h.must(200, h.do("GET", "/guilds/"+gid, u.Token, nil)).Obj()
		if g["id"] != gid || g["owner_id"] != owner.ID || g["name"] != "Test Guild" {
			t.Fatalf("guild = %v", g)
		}
		if _, ok := g["approximate_member_count"]; ok {
			t.Fatalf("counts without with_counts: %v", g)
		}
	}
	g := h.must(200, h.reqV("/api/v9", "GET", "/guilds/"+gid+"?with_counts=true", member.Token, nil, nil)).Obj()
	if g["approximate_member_count"] != 2.0 {
		t.Fatalf("approximate_member_count = %v", g["approximate_member_count"])
	}
	h.wantErr(h.do("GET", "/guilds/"+gid, outsider.Token, nil), 404, 10004)
	h.wantErr(h.do("GET", "/guilds/"+gid+"/channels", outsider.Token, nil), 404, 10004)
	h.wantErr(h.do("GET", "/guilds/"+gid+"/roles", outsider.Token, nil), 404, 10004)
	h.wantErr(h.do("GET", "/guilds/1234567", owner.Token, nil), 404, 10004)
	h.wantFormErr(h.do("GET", "/guilds/not-an-id", owner.Token, nil), "guild_id", "NUMBER_TYPE_COERCE")
	h.wantErr(h.do("GET", "/guilds/"+gid, "", nil), 401, 0)
}

func TestModifyGuild(t *testing.T) {
	h := newHarness(t)
	owner := h.user("mgowner")
	member := h.user("mgmember")
	manager := h.user("mgmanager")
	outsider := h.user("mgoutsider")
	gid, text, voice := h.guild(owner)
	h.join(owner, member, text)
	h.join(owner, manager, text)
	h.giveRole(owner, gid, manager.ID, h.mkRole(owner, gid, "managers", perm.ManageGuild))

	type tcase struct {
		name   string
		actor  user
		body   any
		status int
		code   int
		field  string
		fcode  string
		check  func(g map[string]any) bool
	}
	cases := []tcase{
		{name: "owner renames", actor: owner, body: map[string]any{"name": "  Renamed  "}, status: 200,
			check: func(g map[string]any) bool { return g["name"] == "Renamed" }},
		{name: "manager sets description", actor: manager, body: map[string]any{"description": "about us"}, status: 200,
			check: func(g map[string]any) bool { return g["description"] == "about us" && g["name"] == "Renamed" }},
		{name: "clear description", actor: owner, body: map[string]any{"description": nil}, status: 200,
			check: func(g map[string]any) bool { v, ok := g["description"]; return ok && v == nil }},
		{name: "afk channel and timeout", actor: owner, body: map[string]any{"afk_channel_id": voice, "afk_timeout": 60}, status: 200,
			check: func(g map[string]any) bool { return g["afk_channel_id"] == voice && g["afk_timeout"] == 60.0 }},
		{name: "clear system channel", actor: owner, body: map[string]any{"system_channel_id": nil}, status: 200,
			check: func(g map[string]any) bool { v, ok := g["system_channel_id"]; return ok && v == nil }},
		{name: "levels", actor: manager, body: map[string]any{"verification_level": 4, "explicit_content_filter": 2, "default_message_notifications": 0}, status: 200,
			check: func(g map[string]any) bool {
				return g["verification_level"] == 4.0 && g["explicit_content_filter"] == 2.0 && g["default_message_notifications"] == 0.0
			}},
		{name: "name too short", actor: owner, body: map[string]any{"name": "x"}, field: "name", fcode: "BASE_TYPE_BAD_LENGTH"},
		{name: "name too long", actor: owner, body: map[string]any{"name": strings.Repeat("n", 101)}, field: "name", fcode: "BASE_TYPE_BAD_LENGTH"},
		{name: "name wrong type", actor: owner, body: map[string]any{"name": false}, field: "name", fcode: "BASE_TYPE_STRING"},
		{name: "afk_timeout not a choice", actor: owner, body: map[string]any{"afk_timeout": 61}, field: "afk_timeout", fcode: "BASE_TYPE_CHOICES"},
		{name: "afk_timeout wrong type", actor: owner, body: map[string]any{"afk_timeout": "60"}, field: "afk_timeout", fcode: "NUMBER_TYPE_COERCE"},
		{name: "verification level 5", actor: owner, body: map[string]any{"verification_level": 5}, field: "verification_level", fcode: "BASE_TYPE_CHOICES"},
		{name: "negative filter", actor: owner, body: map[string]any{"explicit_content_filter": -1}, field: "explicit_content_filter", fcode: "BASE_TYPE_CHOICES"},
		{name: "system channel is voice", actor: owner, body: map[string]any{"system_channel_id": voice}, field: "system_channel_id", fcode: "CHANNEL_INVALID"},
		{name: "afk channel is text", actor: owner, body: map[string]any{"afk_channel_id": text}, field: "afk_channel_id", fcode: "CHANNEL_INVALID"},
		{name: "afk channel unknown", actor: owner, body: map[string]any{"afk_channel_id": "98765"}, field: "afk_channel_id", fcode: "CHANNEL_INVALID"},
		{name: "description too long", actor: owner, body: map[string]any{"description": strings.Repeat("d", 121)}, field: "description", fcode: "BASE_TYPE_MAX_LENGTH"},
		{name: "owner to non-member", actor: owner, body: map[string]any{"owner_id": outsider.ID}, field: "owner_id", fcode: "GUILD_OWNER_INVALID"},
		{name: "two bad fields", actor: owner, body: map[string]any{"name": "", "afk_timeout": 1}, field: "afk_timeout", fcode: "BASE_TYPE_CHOICES"},
		{name: "malformed", actor: owner, body: `{"name":"x",}`, status: 400, code: 50109},
		{name: "member without MANAGE_GUILD", actor: member, body: map[string]any{"name": "Mine now"}, status: 403, code: 50013},
		{name: "manager transfers ownership", actor: manager, body: map[string]any{"owner_id": manager.ID}, status: 403, code: 50013},
		{name: "non-member", actor: outsider, body: map[string]any{"name": "Mine now"}, status: 404, code: 10004},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			before := h.must(200, h.do("GET", "/guilds/"+gid, owner.Token, nil)).Body
			r := h.do("PATCH", "/guilds/"+gid, tc.actor.Token, tc.body)
			switch {
			case tc.field != "":
				h.wantFormErr(r, tc.field, tc.fcode)
			case tc.status != 200:
				h.wantErr(r, tc.status, tc.code)
			default:
				h.must(200, r)
				if r.Str("id") != gid || !tc.check(r.Obj()) {
					t.Fatalf("PATCH = %s", r.Body)
				}
				if got := h.must(200, h.do("GET", "/guilds/"+gid, member.Token, nil)); !tc.check(got.Obj()) {
					t.Fatalf("GET after PATCH = %s", got.Body)
				}
				return
			}
			if after := h.must(200, h.do("GET", "/guilds/"+gid, owner.Token, nil)).Body; !bytes.Equal(before, after) {
				t.Fatalf("failed PATCH changed the guild:\n%s\n%s", before, after)
			}
		})
	}
	h.t = t
	h.wantErr(h.do("PATCH", "/guilds/"+gid, "", map[string]any{"name": "anon"}), 401, 0)
	h.wantFormErr(h.do("PATCH", "/guilds/abc", owner.Token, map[string]any{"name": "abc"}), "guild_id", "")

	// Ownership transfer: the new owner holds every permission, the old
	// one is an ordinary member.
	g := h.must(200, h.do("PATCH", "/guilds/"+gid, owner.Token, map[string]any{"owner_id": member.ID})).Obj()
	if g["owner_id"] != member.ID {
		t.Fatalf("owner_id = %v", g["owner_id"])
	}
	h.wantErr(h.do("PATCH", "/guilds/"+gid, owner.Token, map[string]any{"name": "Old owner"}), 403, 50013)
	h.wantErr(h.do("DELETE", "/guilds/"+gid, owner.Token, nil), 403, 50013)
	h.must(200, h.do("PATCH", "/guilds/"+gid, member.Token, map[string]any{"name": "New owner"}))
	h.must(204, h.do("DELETE", "/guilds/"+gid, member.Token, nil))
}

func TestDeleteGuild(t *testing.T) {
	h := newHarness(t)
	owner := h.user("dgowner")
	member := h.user("dgmember")
	admin := h.user("dgadmin")
	outsider := h.user("dgoutsider")
	gid, text, _ := h.guild(owner)
	h.join(owner, member, text)
	h.join(owner, admin, text)
	h.giveRole(owner, gid, admin.ID, h.mkRole(owner, gid, "admins", perm.Administrator))
	inv := h.must(200, h.do("POST", "/channels/"+text+"/invites", owner.Token, map[string]any{"max_age": 0})).Str("code")

	h.wantErr(h.do("DELETE", "/guilds/"+gid, outsider.Token, nil), 404, 10004)
	h.wantErr(h.do("DELETE", "/guilds/"+gid, member.Token, nil), 403, 50013)
	h.wantErr(h.do("DELETE", "/guilds/"+gid, admin.Token, nil), 403, 50013)
	h.wantErr(h.do("DELETE", "/guilds/"+gid, "", nil), 401, 0)
	h.wantFormErr(h.do("DELETE", "/guilds/x", owner.Token, nil), "guild_id", "")
	h.wantErr(h.do("DELETE", "/guilds/424242", owner.Token, nil), 404, 10004)
	h.must(200, h.do("GET", "/guilds/"+gid, member.Token, nil))

	h.must(204, h.reqV("/api/v9", "DELETE", "/guilds/"+gid, owner.Token, nil, nil))
	for _, u := range []user{owner, member, admin} {
		h.wantErr(h.do("GET", "/guilds/"+gid, u.Token, nil), 404, 10004)
		if gs := h.must(200, h.do("GET", "/users/@me/guilds", u.Token, nil)).Arr(); len(gs) != 0 {
			t.Fatalf("guilds after delete: %v", gs)
		}
	}
	h.wantErr(h.do("GET", "/channels/"+text, owner.Token, nil), 404, 10003)
	h.wantErr(h.do("GET", "/invites/"+inv, outsider.Token, nil), 404, 10006)
	h.wantErr(h.do("POST", "/invites/"+inv, outsider.Token, nil), 404, 10006)
	h.wantErr(h.do("DELETE", "/guilds/"+gid, owner.Token, nil), 404, 10004)
}

// A user may be in at most 100 guilds, by creating or by joining.
func TestGuildLimit(t *testing.T) {
	h := newHarness(t)
	u := h.user("limit")
	other := h.user("limitother")
	_, text, _ := h.guild(other)
	inv := h.must(200, h.do("POST", "/channels/"+text+"/invites", other.Token, map[string]any{"max_age": 0})).Str("code")
	for i := 0; i < 100; i++ {
		h.must(201, h.do("POST", "/guilds", u.Token, map[string]any{"name": "guild " + strconv.Itoa(i)}))
	}
	h.wantErr(h.do("POST", "/guilds", u.Token, map[string]any{"name": "one too many"}), 400, 30001)
	h.wantErr(h.do("POST", "/invites/"+inv, u.Token, nil), 400, 30001)
	if n := len(h.must(200, h.do("GET", "/users/@me/guilds", u.Token, nil)).Arr()); n != 100 {
		t.Fatalf("%d guilds", n)
	}
	// Leaving one makes room again.
	first := h.must(200, h.do("GET", "/users/@me/guilds?limit=1", u.Token, nil)).Arr()
	h.must(204, h.do("DELETE", "/guilds/"+asObj(first[0])["id"].(string), u.Token, nil))
	h.must(200, h.do("POST", "/invites/"+inv, u.Token, nil))
	h.wantErr(h.do("POST", "/guilds", u.Token, map[string]any{"name": "still too many"}), 400, 30001)
}

// Path IDs that are not snowflakes are a 50035 naming the parameter, on
// every guild and channel read.
func TestBadPathSnowflakes(t *testing.T) {
	h := newHarness(t)
	owner := h.user("badpath")
	gid, text, _ := h.guild(owner)
	cases := []struct{ path, field string }{
		{"/guilds/x1/channels", "guild_id"},
		{"/guilds/x1/roles", "guild_id"},
		{"/guilds/x1/members", "guild_id"},
		{"/guilds/x1/members/search?query=a", "guild_id"},
		{"/guilds/x1/bans", "guild_id"},
		{"/guilds/x1/invites", "guild_id"},
		{"/guilds/" + gid + "/bans/x1", "user_id"},
		{"/channels/x1", "channel_id"},
		{"/channels/x1/invites", "channel_id"},
		{"/users/@me/guilds/x1/member", "guild_id"},
		{"/guilds/99999999999999999999", "guild_id"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			h.t = t
			h.wantFormErr(h.do("GET", tc.path, owner.Token, nil), tc.field, "NUMBER_TYPE_COERCE")
		})
	}
	h.t = t
	// The same reads with real IDs succeed.
	for _, p := range []string{"/guilds/" + gid + "/channels", "/guilds/" + gid + "/roles", "/guilds/" + gid + "/members",
		"/guilds/" + gid + "/bans", "/guilds/" + gid + "/invites", "/channels/" + text, "/channels/" + text + "/invites"} {
		h.must(200, h.do("GET", p, owner.Token, nil))
	}
}
