package gateway

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// ok calls the API and fails unless the answer is 2xx.
func (h *harness) ok(method, path, token string, body any) map[string]any {
	h.t.Helper()
	code, out := h.api(method, path, token, body)
	if code < 200 || code > 299 {
		h.t.Fatalf("%s %s: %d %v", method, path, code, out)
	}
	return out
}

// Shape checks for what discord.js, discordgo and discord.py parse.

var (
	snowflakeRE = regexp.MustCompile(`^[1-9][0-9]{0,19}$`)
	timestampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$`)
	permsRE     = regexp.MustCompile(`^[0-9]+$`)
)

type checker struct {
	t    *testing.T
	path string
}

func (c checker) at(p string) checker { return checker{c.t, c.path + "." + p} }

func (c checker) fail(format string, args ...any) {
	c.t.Helper()
	c.t.Errorf("%s: %s", c.path, fmt.Sprintf(format, args...))
}

func (c checker) snowflake(v any) {
	c.t.Helper()
	if s, ok := v.(string); !ok || !snowflakeRE.MatchString(s) {
		c.fail("not a snowflake string: %#v", v)
	}
}

func (c checker) timestamp(v any) {
	c.t.Helper()
	if s, ok := v.(string); !ok || !timestampRE.MatchString(s) {
		c.fail("not a …T….ffffff+00:00 timestamp: %#v", v)
	}
}

func (c checker) array(v any) []any {
	c.t.Helper()
	a, ok := v.([]any)
	if !ok {
		c.fail("not an array: %#v", v)
	}
	return a
}

func (c checker) object(v any) map[string]any {
	c.t.Helper()
	o, ok := v.(map[string]any)
	if !ok {
		c.fail("not an object: %#v", v)
		return map[string]any{}
	}
	return o
}

func (c checker) number(v any) {
	c.t.Helper()
	if _, ok := v.(float64); !ok {
		c.fail("not a number: %#v", v)
	}
}

func (c checker) boolean(v any) {
	c.t.Helper()
	if _, ok := v.(bool); !ok {
		c.fail("not a boolean: %#v", v)
	}
}

func (c checker) perms(v any) {
	c.t.Helper()
	if s, ok := v.(string); !ok || !permsRE.MatchString(s) {
		c.fail("permissions not a decimal string: %#v", v)
	}
}

func (c checker) user(v any) {
	c.t.Helper()
	u := c.object(v)
	c.at("id").snowflake(u["id"])
	if s, _ := u["username"].(string); s == "" {
		c.at("username").fail("missing")
	}
	if u["discriminator"] != "0" {
		c.at("discriminator").fail("%#v", u["discriminator"])
	}
	if _, ok := u["avatar"]; !ok {
		c.at("avatar").fail("missing (must be null or a hash)")
	}
}

// member checks a guild member; withUser says whether "user" must be there.
func (c checker) member(v any, withUser bool) {
	c.t.Helper()
	m := c.object(v)
	if withUser {
		c.at("user").user(m["user"])
	}
	for _, r := range c.at("roles").array(m["roles"]) {
		c.at("roles[]").snowflake(r)
	}
	c.at("joined_at").timestamp(m["joined_at"])
	c.at("flags").number(m["flags"])
	c.at("deaf").boolean(m["deaf"])
	c.at("mute").boolean(m["mute"])
	if _, ok := m["nick"]; !ok {
		c.at("nick").fail("missing")
	}
}

func (c checker) role(v any) {
	c.t.Helper()
	r := c.object(v)
	c.at("id").snowflake(r["id"])
	c.at("permissions").perms(r["permissions"])
	c.at("position").number(r["position"])
	c.at("color").number(r["color"])
	c.at("hoist").boolean(r["hoist"])
	c.at("managed").boolean(r["managed"])
	c.at("mentionable").boolean(r["mentionable"])
}

func (c checker) channel(v any, gid string) {
	c.t.Helper()
	ch := c.object(v)
	c.at("id").snowflake(ch["id"])
	c.at("type").number(ch["type"])
	if gid != "" && ch["guild_id"] != gid {
		c.at("guild_id").fail("%v, want %s", ch["guild_id"], gid)
	}
	c.at("position").number(ch["position"])
	for _, o := range c.at("permission_overwrites").array(ch["permission_overwrites"]) {
		ow := c.object(o)
		c.at("permission_overwrites[].id").snowflake(ow["id"])
		c.at("permission_overwrites[].allow").perms(ow["allow"])
		c.at("permission_overwrites[].deny").perms(ow["deny"])
		c.at("permission_overwrites[].type").number(ow["type"])
	}
}

func (c checker) message(v any, gid string) {
	c.t.Helper()
	m := c.object(v)
	c.at("id").snowflake(m["id"])
	c.at("channel_id").snowflake(m["channel_id"])
	if m["guild_id"] != gid {
		c.at("guild_id").fail("%v, want %s", m["guild_id"], gid)
	}
	c.at("author").user(m["author"])
	c.at("member").member(m["member"], false)
	c.at("timestamp").timestamp(m["timestamp"])
	if e := m["edited_timestamp"]; e != nil {
		c.at("edited_timestamp").timestamp(e)
	} else if _, ok := m["edited_timestamp"]; !ok {
		c.at("edited_timestamp").fail("missing")
	}
	for _, mu := range c.at("mentions").array(m["mentions"]) {
		c.at("mentions[]").user(mu)
		c.at("mentions[].member").member(c.object(mu)["member"], false)
	}
	for _, r := range c.at("mention_roles").array(m["mention_roles"]) {
		c.at("mention_roles[]").snowflake(r)
	}
	c.at("attachments").array(m["attachments"])
	c.at("embeds").array(m["embeds"])
	c.at("components").array(m["components"])
	c.at("flags").number(m["flags"])
	c.at("type").number(m["type"])
	c.at("tts").boolean(m["tts"])
	c.at("pinned").boolean(m["pinned"])
	c.at("mention_everyone").boolean(m["mention_everyone"])
}

// TestRESTActionsDispatchEvents performs every REST action that changes
// gateway-visible state and checks the event and its key fields.
func TestRESTActionsDispatchEvents(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	gid, text := h.guild(alice)
	bob, carol, dave := h.user("bob"), h.user("carol"), h.user("dave")
	h.join(alice, bob, text)
	h.join(alice, dave, text)

	ca := h.dial("?v=10&encoding=json")
	ca.identify(alice.token, nil)
	ca.waitFor("GUILD_CREATE")
	cc := h.dial("?v=10&encoding=json") // carol: not in the guild yet
	cc.identify(carol.token, nil)

	// State shared by the steps, in order.
	var news, roleID, msgID, invCode string
	base := "/channels/" + text + "/messages/"
	react := func(who account) {
		h.ok("PUT", base+msgID+"/reactions/"+thumbsPath+"/@me", who.token, nil)
	}
	steps := []struct {
		name   string
		do     func()
		client *client // default: alice's
		event  string
		match  func(d map[string]any) bool
		check  func(c checker, d map[string]any)
	}{
		{name: "guild update", event: "GUILD_UPDATE",
			do: func() {
				h.ok("PATCH", "/guilds/"+gid, alice.token, map[string]any{"name": "Renamed", "description": "about"})
			},
			check: func(c checker, d map[string]any) {
				if d["id"] != gid || d["name"] != "Renamed" || d["description"] != "about" || d["owner_id"] != alice.id {
					c.fail("%v", d)
				}
				for _, r := range c.at("roles").array(d["roles"]) {
					c.at("roles[]").role(r)
				}
			}},
		{name: "channel create", event: "CHANNEL_CREATE",
			do: func() {
				news = h.ok("POST", "/guilds/"+gid+"/channels", alice.token, map[string]any{"name": "news", "type": 0})["id"].(string)
			},
			check: func(c checker, d map[string]any) {
				c.channel(d, gid)
				if d["id"] != news || d["name"] != "news" || d["type"] != float64(0) {
					c.fail("%v", d)
				}
			}},
		{name: "channel update (topic)", event: "CHANNEL_UPDATE",
			do: func() { h.ok("PATCH", "/channels/"+news, alice.token, map[string]any{"topic": "headlines"}) },
			check: func(c checker, d map[string]any) {
				c.channel(d, gid)
				if d["topic"] != "headlines" {
					c.fail("topic %v", d["topic"])
				}
			}},
		{name: "channel update (overwrite)", event: "CHANNEL_UPDATE",
			do: func() {
				h.ok("PUT", "/channels/"+news+"/permissions/"+bob.id, alice.token, map[string]any{"type": 1, "allow": "1024", "deny": "2048"})
			},
			check: func(c checker, d map[string]any) {
				c.channel(d, gid)
				ows := d["permission_overwrites"].([]any)
				if len(ows) != 1 || fmt.Sprint(ows[0]) != fmt.Sprint(map[string]any{"id": bob.id, "type": float64(1), "allow": "1024", "deny": "2048"}) {
					c.fail("overwrites %v", ows)
				}
			}},
		{name: "role create", event: "GUILD_ROLE_CREATE",
			do: func() {
				roleID = h.ok("POST", "/guilds/"+gid+"/roles", alice.token, map[string]any{"name": "mods", "permissions": "8192"})["id"].(string)
			},
			check: func(c checker, d map[string]any) {
				if d["guild_id"] != gid {
					c.fail("guild_id %v", d["guild_id"])
				}
				c.at("role").role(d["role"])
				if r := d["role"].(map[string]any); r["id"] != roleID || r["permissions"] != "8192" || r["name"] != "mods" {
					c.fail("role %v", r)
				}
			}},
		{name: "role update", event: "GUILD_ROLE_UPDATE",
			do: func() {
				h.ok("PATCH", "/guilds/"+gid+"/roles/"+roleID, alice.token, map[string]any{"permissions": "1099511627776", "color": 255})
			},
			check: func(c checker, d map[string]any) {
				c.at("role").role(d["role"])
				// Above 2^32: must survive as a string.
				if r := d["role"].(map[string]any); r["permissions"] != "1099511627776" || r["color"] != float64(255) {
					c.fail("role %v", r)
				}
			}},
		{name: "invite create", event: "INVITE_CREATE",
			do: func() {
				invCode = h.ok("POST", "/channels/"+text+"/invites", alice.token, map[string]any{"max_age": 3600, "unique": true})["code"].(string)
			},
			check: func(c checker, d map[string]any) {
				if d["code"] != invCode || d["channel_id"] != text || d["guild_id"] != gid || d["max_age"] != float64(3600) || d["uses"] != float64(0) {
					c.fail("%v", d)
				}
				c.at("created_at").timestamp(d["created_at"])
				c.at("expires_at").timestamp(d["expires_at"])
				c.at("inviter").user(d["inviter"])
				c.at("temporary").boolean(d["temporary"])
				c.at("max_uses").number(d["max_uses"])
			}},
		{name: "member add", event: "GUILD_MEMBER_ADD",
			do: func() { h.ok("POST", "/invites/"+invCode, carol.token, nil) },
			match: func(d map[string]any) bool {
				return d["user"].(map[string]any)["id"] == carol.id
			},
			check: func(c checker, d map[string]any) {
				c.member(d, true)
				if d["guild_id"] != gid {
					c.fail("guild_id %v", d["guild_id"])
				}
			}},
		{name: "guild create on join", event: "GUILD_CREATE", client: cc,
			check: func(c checker, d map[string]any) {
				if d["id"] != gid || d["name"] != "Renamed" || d["unavailable"] != false || d["large"] != false || d["member_count"] != float64(4) {
					c.fail("id/name/unavailable/large/member_count: %v %v %v %v %v", d["id"], d["name"], d["unavailable"], d["large"], d["member_count"])
				}
				c.at("joined_at").timestamp(d["joined_at"])
				found := false
				for _, m := range c.at("members").array(d["members"]) {
					c.at("members[]").member(m, true)
					found = found || m.(map[string]any)["user"].(map[string]any)["id"] == carol.id
				}
				if !found {
					c.at("members").fail("carol missing")
				}
				for _, ch := range c.at("channels").array(d["channels"]) {
					c.at("channels[]").channel(ch, "")
				}
				for _, r := range c.at("roles").array(d["roles"]) {
					c.at("roles[]").role(r)
				}
				c.at("voice_states").array(d["voice_states"])
				c.at("presences").array(d["presences"])
				c.at("threads").array(d["threads"])
			}},
		{name: "invite delete", event: "INVITE_DELETE",
			do: func() { h.ok("DELETE", "/invites/"+invCode, alice.token, nil) },
			check: func(c checker, d map[string]any) {
				if d["code"] != invCode || d["channel_id"] != text || d["guild_id"] != gid {
					c.fail("%v", d)
				}
			}},
		{name: "member update", event: "GUILD_MEMBER_UPDATE",
			do: func() { h.ok("PUT", "/guilds/"+gid+"/members/"+bob.id+"/roles/"+roleID, alice.token, nil) },
			check: func(c checker, d map[string]any) {
				c.member(d, true)
				if d["guild_id"] != gid || fmt.Sprint(d["roles"]) != "["+roleID+"]" || d["user"].(map[string]any)["id"] != bob.id {
					c.fail("%v", d)
				}
			}},
		{name: "message create", event: "MESSAGE_CREATE",
			do: func() {
				msgID = h.ok("POST", "/channels/"+text+"/messages", alice.token,
					map[string]any{"content": "hi <@" + bob.id + "> and <@&" + roleID + ">", "tts": true})["id"].(string)
			},
			check: func(c checker, d map[string]any) {
				c.message(d, gid)
				if d["id"] != msgID || len(d["mentions"].([]any)) != 1 || fmt.Sprint(d["mention_roles"]) != "["+roleID+"]" {
					c.fail("mentions %v mention_roles %v", d["mentions"], d["mention_roles"])
				}
				if d["tts"] != true {
					c.fail("tts %v", d["tts"])
				}
				if _, ok := d["member"].(map[string]any)["user"]; ok {
					c.at("member.user").fail("present; Discord omits it in messages")
				}
			}},
		{name: "message update", event: "MESSAGE_UPDATE",
			do: func() { h.ok("PATCH", base+msgID, alice.token, map[string]any{"content": "edited"}) },
			check: func(c checker, d map[string]any) {
				c.message(d, gid)
				// Discord: "tts will always be false in message updates".
				if d["content"] != "edited" || d["edited_timestamp"] == nil || d["tts"] != false {
					c.fail("content %v edited_timestamp %v tts %v", d["content"], d["edited_timestamp"], d["tts"])
				}
			}},
		{name: "channel pins update", event: "CHANNEL_PINS_UPDATE",
			do: func() { h.ok("PUT", "/channels/"+text+"/pins/"+msgID, alice.token, nil) },
			check: func(c checker, d map[string]any) {
				if d["guild_id"] != gid || d["channel_id"] != text {
					c.fail("%v", d)
				}
				c.at("last_pin_timestamp").timestamp(d["last_pin_timestamp"])
			}},
		{name: "reaction add", event: "MESSAGE_REACTION_ADD",
			do: func() { react(bob) },
			check: func(c checker, d map[string]any) {
				if d["user_id"] != bob.id || d["message_id"] != msgID || d["channel_id"] != text || d["guild_id"] != gid ||
					d["message_author_id"] != alice.id || d["burst"] != false {
					c.fail("%v", d)
				}
				e := c.object(d["emoji"])
				if e["name"] != thumbs || e["id"] != nil {
					c.at("emoji").fail("%v", e)
				}
				c.at("member").member(d["member"], true)
			}},
		{name: "reaction remove", event: "MESSAGE_REACTION_REMOVE",
			do: func() { h.ok("DELETE", base+msgID+"/reactions/"+thumbsPath+"/@me", bob.token, nil) },
			check: func(c checker, d map[string]any) {
				if d["user_id"] != bob.id || d["message_id"] != msgID || d["guild_id"] != gid || c.object(d["emoji"])["name"] != thumbs {
					c.fail("%v", d)
				}
			}},
		{name: "reaction remove emoji", event: "MESSAGE_REACTION_REMOVE_EMOJI",
			do: func() { react(bob); h.ok("DELETE", base+msgID+"/reactions/"+thumbsPath, alice.token, nil) },
			check: func(c checker, d map[string]any) {
				if d["message_id"] != msgID || d["channel_id"] != text || d["guild_id"] != gid || c.object(d["emoji"])["name"] != thumbs {
					c.fail("%v", d)
				}
			}},
		{name: "reaction remove all", event: "MESSAGE_REACTION_REMOVE_ALL",
			do: func() { react(bob); h.ok("DELETE", base+msgID+"/reactions", alice.token, nil) },
			check: func(c checker, d map[string]any) {
				if d["message_id"] != msgID || d["channel_id"] != text || d["guild_id"] != gid {
					c.fail("%v", d)
				}
			}},
		{name: "typing start", event: "TYPING_START",
			do: func() { h.ok("POST", "/channels/"+text+"/typing", bob.token, nil) },
			check: func(c checker, d map[string]any) {
				if d["user_id"] != bob.id || d["channel_id"] != text || d["guild_id"] != gid {
					c.fail("%v", d)
				}
				c.at("timestamp").number(d["timestamp"])
				c.at("member").member(d["member"], true)
			}},
		{name: "message delete", event: "MESSAGE_DELETE",
			do: func() { h.ok("DELETE", base+msgID, alice.token, nil) },
			check: func(c checker, d map[string]any) {
				if d["id"] != msgID || d["channel_id"] != text || d["guild_id"] != gid {
					c.fail("%v", d)
				}
			}},
		{name: "message delete bulk", event: "MESSAGE_DELETE_BULK",
			do: func() {
				a, b := h.say(alice, text, "a")["id"], h.say(alice, text, "b")["id"]
				h.ok("POST", "/channels/"+text+"/messages/bulk-delete", alice.token, map[string]any{"messages": []any{a, b}})
			},
			check: func(c checker, d map[string]any) {
				ids := c.array(d["ids"])
				if len(ids) != 2 || d["channel_id"] != text || d["guild_id"] != gid {
					c.fail("%v", d)
				}
				for _, id := range ids {
					c.at("ids[]").snowflake(id)
				}
			}},
		{name: "role delete", event: "GUILD_ROLE_DELETE",
			do: func() { h.ok("DELETE", "/guilds/"+gid+"/roles/"+roleID, alice.token, nil) },
			check: func(c checker, d map[string]any) {
				if d["guild_id"] != gid || d["role_id"] != roleID {
					c.fail("%v", d)
				}
			}},
		{name: "channel delete", event: "CHANNEL_DELETE",
			do: func() { h.ok("DELETE", "/channels/"+news, alice.token, nil) },
			check: func(c checker, d map[string]any) {
				c.channel(d, gid)
				if d["id"] != news {
					c.fail("%v", d)
				}
			}},
		{name: "ban add", event: "GUILD_BAN_ADD",
			do: func() { h.ok("PUT", "/guilds/"+gid+"/bans/"+dave.id, alice.token, map[string]any{}) },
			check: func(c checker, d map[string]any) {
				c.at("user").user(d["user"])
				if d["guild_id"] != gid || d["user"].(map[string]any)["id"] != dave.id {
					c.fail("%v", d)
				}
			}},
		{name: "ban remove", event: "GUILD_BAN_REMOVE",
			do: func() { h.ok("DELETE", "/guilds/"+gid+"/bans/"+dave.id, alice.token, nil) },
			check: func(c checker, d map[string]any) {
				c.at("user").user(d["user"])
				if d["guild_id"] != gid || d["user"].(map[string]any)["id"] != dave.id {
					c.fail("%v", d)
				}
			}},
		{name: "member remove", event: "GUILD_MEMBER_REMOVE",
			do: func() { h.ok("DELETE", "/guilds/"+gid+"/members/"+carol.id, alice.token, nil) },
			check: func(c checker, d map[string]any) {
				c.at("user").user(d["user"])
				if d["guild_id"] != gid || d["user"].(map[string]any)["id"] != carol.id {
					c.fail("%v", d)
				}
			}},
		{name: "guild delete on kick", event: "GUILD_DELETE", client: cc,
			check: func(c checker, d map[string]any) {
				if d["id"] != gid {
					c.fail("%v", d)
				}
				if _, ok := d["unavailable"]; ok {
					c.fail("unavailable set: clients would wait for the guild to come back")
				}
			}},
		{name: "user update", event: "USER_UPDATE",
			do: func() { h.ok("PATCH", "/users/@me", alice.token, map[string]any{"global_name": "Alice A"}) },
			check: func(c checker, d map[string]any) {
				c.user(d)
				if d["id"] != alice.id || d["global_name"] != "Alice A" {
					c.fail("%v", d)
				}
			}},
	}
	for _, st := range steps {
		t.Run(strings.ReplaceAll(st.name, " ", "_"), func(t *testing.T) {
			if st.do != nil {
				st.do()
			}
			cl := st.client
			if cl == nil {
				cl = ca
			}
			cl.t = t
			m := cl.waitMatch(st.event, st.match)
			st.check(checker{t: t, path: st.event}, m.obj())
		})
		if t.Failed() {
			break // later steps depend on earlier ones
		}
	}

	// Carol, kicked, hears nothing more from the guild; USER_UPDATE went
	// to alice only.
	h.say(alice, text, "after the kick")
	h.ok("PATCH", "/users/@me", carol.token, map[string]any{"global_name": "Carol C"})
	for _, m := range cc.until("USER_UPDATE", nil) {
		if m.T != "USER_UPDATE" {
			t.Fatalf("kicked member got %s", m.T)
		}
	}
}
