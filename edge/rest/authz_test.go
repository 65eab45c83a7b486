package rest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/perm"
)

// Who may call a route, for the authorization walk below. Every route in
// routes.go needs a row, so a new route cannot skip the walk.
const (
	azPublic  = "public"  // no credentials needed (register, login, gateway)
	azSelf    = "self"    // the caller's own things: anyone authenticated may
	azGuild   = "guild"   // a guild's: members only, permissions checked
	azChannel = "channel" // a guild channel's: members who can see it only
	azApp     = "app"     // an application's: its owner (or the bot) only
	azInvite  = "invite"  // an invite: anyone with its code may look and join
)

var azScope = map[string]string{
	"POST /auth/register":                                                             azPublic,
	"POST /auth/login":                                                                azPublic,
	"POST /auth/logout":                                                               azSelf,
	"POST /applications":                                                              azSelf,
	"POST /bots":                                                                      azPublic, // operator-only: not served on the public API
	"GET /applications/{application_id}":                                              azApp,
	"POST /applications/{application_id}/bot/reset":                                   azApp,
	"GET /oauth2/applications/@me":                                                    azSelf,
	"GET /applications/@me":                                                           azSelf,
	"PATCH /applications/@me":                                                         azSelf,
	"PATCH /applications/{application_id}":                                            azApp,
	"POST /oauth2/authorize":                                                          azGuild, // into a guild the caller manages
	"GET /gateway":                                                                    azPublic,
	"GET /gateway/bot":                                                                azSelf,
	"GET /users/{user_id}":                                                            azSelf,
	"PATCH /users/@me":                                                                azSelf,
	"GET /users/@me/guilds":                                                           azSelf,
	"GET /users/@me/guilds/{guild_id}/member":                                         azGuild,
	"DELETE /users/@me/guilds/{guild_id}":                                             azGuild,
	"GET /users/@me/channels":                                                         azSelf,
	"POST /users/@me/channels":                                                        azSelf,
	"POST /guilds":                                                                    azSelf,
	"GET /guilds/{guild_id}":                                                          azGuild,
	"PATCH /guilds/{guild_id}":                                                        azGuild,
	"DELETE /guilds/{guild_id}":                                                       azGuild,
	"GET /guilds/{guild_id}/channels":                                                 azGuild,
	"POST /guilds/{guild_id}/channels":                                                azGuild,
	"PATCH /guilds/{guild_id}/channels":                                               azGuild,
	"GET /guilds/{guild_id}/roles":                                                    azGuild,
	"POST /guilds/{guild_id}/roles":                                                   azGuild,
	"PATCH /guilds/{guild_id}/roles":                                                  azGuild,
	"GET /guilds/{guild_id}/roles/{role_id}":                                          azGuild,
	"PATCH /guilds/{guild_id}/roles/{role_id}":                                        azGuild,
	"DELETE /guilds/{guild_id}/roles/{role_id}":                                       azGuild,
	"GET /guilds/{guild_id}/members":                                                  azGuild,
	"GET /guilds/{guild_id}/members/search":                                           azGuild,
	"PATCH /guilds/{guild_id}/members/@me":                                            azGuild,
	"GET /guilds/{guild_id}/members/{user_id}":                                        azGuild,
	"PATCH /guilds/{guild_id}/members/{user_id}":                                      azGuild,
	"DELETE /guilds/{guild_id}/members/{user_id}":                                     azGuild,
	"PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}":                        azGuild,
	"DELETE /guilds/{guild_id}/members/{user_id}/roles/{role_id}":                     azGuild,
	"GET /guilds/{guild_id}/bans":                                                     azGuild,
	"GET /guilds/{guild_id}/bans/{user_id}":                                           azGuild,
	"PUT /guilds/{guild_id}/bans/{user_id}":                                           azGuild,
	"DELETE /guilds/{guild_id}/bans/{user_id}":                                        azGuild,
	"GET /guilds/{guild_id}/invites":                                                  azGuild,
	"GET /guilds/{guild_id}/regions":                                                  azGuild,
	"GET /voice/regions":                                                              azSelf,
	"GET /channels/{channel_id}":                                                      azChannel,
	"PATCH /channels/{channel_id}":                                                    azChannel,
	"DELETE /channels/{channel_id}":                                                   azChannel,
	"PUT /channels/{channel_id}/permissions/{overwrite_id}":                           azChannel,
	"DELETE /channels/{channel_id}/permissions/{overwrite_id}":                        azChannel,
	"GET /channels/{channel_id}/invites":                                              azChannel,
	"POST /channels/{channel_id}/invites":                                             azChannel,
	"POST /channels/{channel_id}/typing":                                              azChannel,
	"GET /channels/{channel_id}/pins":                                                 azChannel,
	"PUT /channels/{channel_id}/pins/{message_id}":                                    azChannel,
	"DELETE /channels/{channel_id}/pins/{message_id}":                                 azChannel,
	"GET /channels/{channel_id}/messages/pins":                                        azChannel,
	"PUT /channels/{channel_id}/messages/pins/{message_id}":                           azChannel,
	"GET /invites/{code}":                                                             azInvite,
	"POST /invites/{code}":                                                            azInvite,
	"DELETE /invites/{code}":                                                          azGuild,
	"GET /channels/{channel_id}/messages":                                             azChannel,
	"POST /channels/{channel_id}/messages":                                            azChannel,
	"POST /channels/{channel_id}/messages/bulk-delete":                                azChannel,
	"GET /channels/{channel_id}/messages/{message_id}":                                azChannel,
	"PATCH /channels/{channel_id}/messages/{message_id}":                              azChannel,
	"DELETE /channels/{channel_id}/messages/{message_id}":                             azChannel,
	"DELETE /channels/{channel_id}/messages/{message_id}/{sub}":                       azChannel,
	"GET /channels/{channel_id}/messages/{message_id}/reactions/{emoji}":              azChannel,
	"DELETE /channels/{channel_id}/messages/{message_id}/reactions/{emoji}":           azChannel,
	"PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me":          azChannel,
	"DELETE /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me":       azChannel,
	"DELETE /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user_id}": azChannel,
	"POST /attachments/refresh-urls":                                                  azSelf,
}

// azBody is a body every write route accepts as well formed, so that a
// refusal comes from authorization, not from validation.
func azBody(route, msg, guild string) any {
	switch {
	case strings.HasSuffix(route, "/bulk-delete"):
		return map[string]any{"messages": []string{msg, msg + "1"}}
	case strings.HasSuffix(route, "/channels") && strings.HasPrefix(route, "PATCH"),
		strings.HasSuffix(route, "/roles") && strings.HasPrefix(route, "PATCH"):
		return []any{}
	case strings.Contains(route, "/permissions/"):
		return map[string]any{"type": 1, "allow": "0", "deny": "0"}
	case strings.HasPrefix(route, "POST /oauth2/authorize"):
		return map[string]any{"authorize": true, "guild_id": guild}
	}
	return map[string]any{"content": "intruder", "name": "intruder", "nick": "intruder", "max_age": 0}
}

// TestEveryRouteRefusesOutsiders walks every route of routes.go: a user
// outside the guild, and a member who cannot see the channel, are refused
// every guild, channel and application route with Discord's 403 or 404
// codes; a member lacking a route's permission is refused with 50013 (or
// 50005, editing another's message); and nothing changes.
func TestEveryRouteRefusesOutsiders(t *testing.T) {
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, m := range regexp.MustCompile(`s\.handle\("([A-Z]+)", "([^"]+)"`).FindAllStringSubmatch(string(src), -1) {
		routes = append(routes, m[1]+" "+m[2])
	}
	for _, r := range routes {
		if _, ok := azScope[r]; !ok {
			t.Errorf("route %s has no row in azScope: say who may call it", r)
		}
	}
	for r := range azScope {
		if !slices.Contains(routes, r) {
			t.Errorf("azScope lists %s, which routes.go does not serve", r)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	f := mtSetup(t)
	h := f.h
	app, msg, role, code := f.furnish("authz bot")
	h.must(204, f.react(f.owner, f.text, msg, rpThumbs))
	h.must(204, h.do("PUT", "/channels/"+f.text+"/pins/"+msg, f.owner.Token, nil))
	// The member cannot see the text channel (and so none of its
	// messages); it still belongs to the guild.
	f.deny(f.text, f.member, perm.ViewChannel)
	params := map[string]string{
		"guild_id": f.gid, "channel_id": f.text, "message_id": msg, "role_id": role, "user_id": f.mod.ID,
		"application_id": app.ID, "overwrite_id": f.mod.ID, "code": code, "emoji": url.PathEscape(rpThumbs), "sub": "reactions",
	}
	placeholder := regexp.MustCompile(`\{([a-z_]+)\}`)
	path := func(route string) string {
		_, pattern, _ := strings.Cut(route, " ")
		p := placeholder.ReplaceAllStringFunc(pattern, func(p string) string {
			v, ok := params[p[1:len(p)-1]]
			if !ok {
				t.Fatalf("route %s: no value for %s; add one to the test", route, p)
			}
			return v
		})
		switch {
		case strings.HasPrefix(route, "POST /oauth2/authorize"):
			p += "?client_id=" + app.ID + "&scope=bot"
		case strings.HasSuffix(route, "/members/search"):
			p += "?query=o"
		}
		return p
	}
	snapshot := func() string {
		t.Helper()
		var b strings.Builder
		for _, p := range []string{
			"/guilds/" + f.gid, "/guilds/" + f.gid + "/channels", "/guilds/" + f.gid + "/roles",
			"/guilds/" + f.gid + "/members?limit=1000", "/guilds/" + f.gid + "/bans", "/guilds/" + f.gid + "/invites",
			"/channels/" + f.text, "/channels/" + f.text + "/messages?limit=100", "/channels/" + f.text + "/pins",
			"/channels/" + f.text + "/messages/" + msg + "/reactions/" + url.PathEscape(rpThumbs),
			"/applications/" + app.ID, "/invites/" + code,
		} {
			r := h.do("GET", p, f.owner.Token, nil)
			body := regexp.MustCompile(`[?&](ex|is|hm)=[0-9a-f]+`).ReplaceAllString(string(r.Body), "") // signed URLs change
			fmt.Fprintf(&b, "GET %s → %d %s\n", p, r.Status, body)
		}
		n := 0
		if err := h.eng.Store().ForEachUser(context.Background(), func(*model.User) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%d users\n", n)
		return b.String()
	}
	refusals := map[int]bool{10002: true, 10003: true, 10004: true, 10008: true, 50001: true, 50013: true}
	before := snapshot()
	for _, route := range routes {
		scope := azScope[route]
		actors := map[string]user{}
		switch scope {
		case azGuild, azApp:
			actors["outsider"] = f.outsider
		case azChannel:
			actors["outsider"] = f.outsider
			actors["member who cannot see the channel"] = f.member
		}
		method, _, _ := strings.Cut(route, " ")
		for who, u := range actors {
			var body any
			if method != "GET" && method != "DELETE" {
				body = azBody(route, msg, f.gid)
			}
			r := h.do(method, path(route), u.Token, body)
			if (r.Status != 403 && r.Status != 404) || !refusals[r.Code()] {
				t.Errorf("%s as %s: %d %s, want 403 or 404 with a Discord code", route, who, r.Status, r.Body)
			}
			if after := snapshot(); after != before {
				t.Fatalf("%s as %s changed data:\nbefore:\n%s\nafter:\n%s", route, who, before, after)
			}
		}
	}

	// A member who sees the channel but lacks each route's permission:
	// one every member has by default is denied to it in the channel.
	lacker := h.user("lacker")
	h.join(f.owner, lacker, f.text)
	for _, route := range routes {
		if s := azScope[route]; s != azGuild && s != azChannel {
			continue
		}
		need, ok := azNeeds[route]
		if !ok {
			t.Errorf("route %s has no row in azNeeds: say what a member needs for it", route)
			continue
		}
		if need == azAnyMember {
			continue
		}
		denied := need < azAuthor && need&perm.DefaultEveryone != 0
		if denied {
			f.overwrite(f.text, lacker.ID, 1, 0, need)
		}
		before := snapshot()
		method, _, _ := strings.Cut(route, " ")
		var body any
		if method != "GET" && method != "DELETE" {
			body = azBody(route, msg, f.gid)
		}
		r := h.do(method, path(route), lacker.Token, body)
		want := 50013
		if need == azAuthor {
			want = 50005
		}
		if r.Status != 403 || r.Code() != want {
			t.Errorf("%s as a member without what it needs: %d %s, want 403 %d", route, r.Status, r.Body, want)
		}
		if after := snapshot(); after != before {
			t.Fatalf("%s as a member without what it needs changed data:\nbefore:\n%s\nafter:\n%s", route, before, after)
		}
		if denied {
			h.must(204, h.do("DELETE", "/channels/"+f.text+"/permissions/"+lacker.ID, f.owner.Token, nil))
		}
	}
	for r := range azNeeds {
		if s := azScope[r]; s != azGuild && s != azChannel {
			t.Errorf("azNeeds lists %s, which is not a guild or channel route", r)
		}
	}
}

// Sentinels in azNeeds beside permission bits.
const (
	azAnyMember = 0
	azOwner     = 1 << 62 // the guild's owner only
	azAuthor    = 1 << 61 // the message's author only (50005 otherwise)
)

// azNeeds is what a member needs for each guild and channel route (the
// message and its reaction are the owner's; {user_id} is another
// member). A member lacking it is refused; azAnyMember routes are not
// walked here (their own tests cover what they do).
var azNeeds = map[string]uint64{
	"POST /oauth2/authorize":                                                          perm.ManageGuild,
	"GET /users/@me/guilds/{guild_id}/member":                                         azAnyMember,
	"DELETE /users/@me/guilds/{guild_id}":                                             azAnyMember,
	"GET /guilds/{guild_id}":                                                          azAnyMember,
	"PATCH /guilds/{guild_id}":                                                        perm.ManageGuild,
	"DELETE /guilds/{guild_id}":                                                       azOwner,
	"GET /guilds/{guild_id}/channels":                                                 azAnyMember,
	"POST /guilds/{guild_id}/channels":                                                perm.ManageChannels,
	"PATCH /guilds/{guild_id}/channels":                                               perm.ManageChannels,
	"GET /guilds/{guild_id}/roles":                                                    azAnyMember,
	"POST /guilds/{guild_id}/roles":                                                   perm.ManageRoles,
	"PATCH /guilds/{guild_id}/roles":                                                  perm.ManageRoles,
	"GET /guilds/{guild_id}/roles/{role_id}":                                          azAnyMember,
	"PATCH /guilds/{guild_id}/roles/{role_id}":                                        perm.ManageRoles,
	"DELETE /guilds/{guild_id}/roles/{role_id}":                                       perm.ManageRoles,
	"GET /guilds/{guild_id}/members":                                                  azAnyMember,
	"GET /guilds/{guild_id}/members/search":                                           azAnyMember,
	"PATCH /guilds/{guild_id}/members/@me":                                            azAnyMember, // CHANGE_NICKNAME: roles_members_test
	"GET /guilds/{guild_id}/members/{user_id}":                                        azAnyMember,
	"PATCH /guilds/{guild_id}/members/{user_id}":                                      perm.ManageNicknames,
	"DELETE /guilds/{guild_id}/members/{user_id}":                                     perm.KickMembers,
	"PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}":                        perm.ManageRoles,
	"DELETE /guilds/{guild_id}/members/{user_id}/roles/{role_id}":                     perm.ManageRoles,
	"GET /guilds/{guild_id}/bans":                                                     perm.BanMembers,
	"GET /guilds/{guild_id}/bans/{user_id}":                                           perm.BanMembers,
	"PUT /guilds/{guild_id}/bans/{user_id}":                                           perm.BanMembers,
	"DELETE /guilds/{guild_id}/bans/{user_id}":                                        perm.BanMembers,
	"GET /guilds/{guild_id}/invites":                                                  perm.ManageGuild,
	"GET /guilds/{guild_id}/regions":                                                  azAnyMember,
	"DELETE /invites/{code}":                                                          perm.ManageChannels,
	"GET /channels/{channel_id}":                                                      azAnyMember,
	"PATCH /channels/{channel_id}":                                                    perm.ManageChannels,
	"DELETE /channels/{channel_id}":                                                   perm.ManageChannels,
	"PUT /channels/{channel_id}/permissions/{overwrite_id}":                           perm.ManageRoles,
	"DELETE /channels/{channel_id}/permissions/{overwrite_id}":                        perm.ManageRoles,
	"GET /channels/{channel_id}/invites":                                              perm.ManageChannels,
	"POST /channels/{channel_id}/invites":                                             perm.CreateInstantInvite,
	"POST /channels/{channel_id}/typing":                                              perm.SendMessages,
	"GET /channels/{channel_id}/pins":                                                 azAnyMember, // empty without READ_MESSAGE_HISTORY
	"PUT /channels/{channel_id}/pins/{message_id}":                                    perm.PinMessages,
	"DELETE /channels/{channel_id}/pins/{message_id}":                                 perm.PinMessages,
	"GET /channels/{channel_id}/messages/pins":                                        azAnyMember,
	"PUT /channels/{channel_id}/messages/pins/{message_id}":                           perm.PinMessages,
	"GET /channels/{channel_id}/messages":                                             azAnyMember, // empty without READ_MESSAGE_HISTORY
	"POST /channels/{channel_id}/messages":                                            perm.SendMessages,
	"POST /channels/{channel_id}/messages/bulk-delete":                                perm.ManageMessages,
	"GET /channels/{channel_id}/messages/{message_id}":                                perm.ReadMessageHistory,
	"PATCH /channels/{channel_id}/messages/{message_id}":                              azAuthor,
	"DELETE /channels/{channel_id}/messages/{message_id}":                             perm.ManageMessages,
	"DELETE /channels/{channel_id}/messages/{message_id}/{sub}":                       perm.ManageMessages,
	"GET /channels/{channel_id}/messages/{message_id}/reactions/{emoji}":              perm.ReadMessageHistory,
	"DELETE /channels/{channel_id}/messages/{message_id}/reactions/{emoji}":           perm.ManageMessages,
	"PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me":          perm.ReadMessageHistory,
	"DELETE /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me":       azAnyMember,
	"DELETE /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user_id}": perm.ManageMessages,
}

// furnish gives the fixture's guild one of each thing routes act on: a
// bot of the owner's in the guild, a message, a role and an invite.
func (f *mtFix) furnish(botName string) (app user, msg, role, code string) {
	f.h.t.Helper()
	h := f.h
	app = h.bot(f.owner, botName)
	h.must(200, h.do("POST", "/oauth2/authorize?client_id="+app.ID+"&scope=bot", f.owner.Token,
		map[string]any{"guild_id": f.gid, "permissions": "0", "authorize": true}))
	msg = h.send(f.owner, f.text, "keep me")
	role = f.role(perm.SendMessages, false)
	code = h.must(200, h.do("POST", "/channels/"+f.text+"/invites", f.owner.Token, map[string]any{"max_age": 0})).Str("code")
	return app, msg, role, code
}
