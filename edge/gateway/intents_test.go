package gateway

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

const thumbs = "👍"

var thumbsPath = url.PathEscape(thumbs)

// sig summarises a dispatch for comparing event streams.
func sig(m *msg) string {
	d := m.obj()
	str := func(v any) string { s, _ := v.(string); return s }
	user := func(v any) string {
		u, _ := v.(map[string]any)
		return str(u["username"])
	}
	switch m.T {
	case "MESSAGE_CREATE", "MESSAGE_UPDATE":
		return m.T + " " + str(d["content"])
	case "GUILD_MEMBER_ADD", "GUILD_MEMBER_UPDATE", "GUILD_MEMBER_REMOVE":
		return m.T + " " + user(d["user"])
	case "MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE":
		e, _ := d["emoji"].(map[string]any)
		return m.T + " " + str(e["name"])
	case "GUILD_UPDATE":
		return m.T + " " + str(d["name"])
	}
	return m.T
}

// drain reads until the GUILD_UPDATE that renamed the guild to marker and
// returns the signatures of what came before it.
func drain(c *client, marker string) []string {
	c.t.Helper()
	got := c.until("GUILD_UPDATE", func(d map[string]any) bool { return d["name"] == marker })
	out := []string{}
	for _, m := range got[:len(got)-1] {
		out = append(out, sig(m))
	}
	return out
}

func TestIntentsFiltering(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	gid, text := h.guild(alice)
	bot := h.bot(alice, "intentbot")
	h.addBot(alice, gid, bot)
	dave := h.user("dave")
	h.join(alice, dave, text)

	const G = IntentGuilds
	sessions := []struct {
		name    string
		token   string
		intents int
	}{
		{"guilds only", bot.token, G},
		{"messages", bot.token, G | IntentGuildMessages},
		{"messages+content", bot.token, G | IntentGuildMessages | IntentMessageContent},
		{"typing", bot.token, G | IntentGuildMessageTyping},
		{"reactions", bot.token, G | IntentGuildMessageReactions},
		{"members", bot.token, G | IntentGuildMembers},
		{"direct messages", bot.token, G | IntentDirectMessages},
		{"user without content intent", dave.token, G | IntentGuildMessages},
	}
	clients := map[string]*client{}
	for _, s := range sessions {
		c := h.dial("")
		c.identify(s.token, intents(s.intents))
		c.waitFor("GUILD_CREATE")
		clients[s.name] = c
	}

	// The actions, in order.
	plain := h.say(alice, text, "plain secret")
	h.say(alice, text, "hey <@"+bot.id+">")
	h.say(bot, text, "from the bot")
	h.must(204, "POST", "/channels/"+text+"/typing", alice.token, nil)
	h.must(204, "PUT", "/channels/"+text+"/messages/"+plain["id"].(string)+"/reactions/"+thumbsPath+"/@me", alice.token, nil)
	carol := h.user("carol")
	h.join(alice, carol, text)
	h.must(200, "PATCH", "/guilds/"+gid+"/members/"+bot.id, alice.token, map[string]any{"nick": "robo"})
	h.must(200, "PATCH", "/guilds/"+gid+"/members/"+carol.id, alice.token, map[string]any{"nick": "caz"})
	dm := h.must(200, "POST", "/users/@me/channels", alice.token, map[string]any{"recipient_id": bot.id})
	h.say(alice, dm["id"].(string), "dm secret")
	h.must(204, "DELETE", "/guilds/"+gid+"/members/"+carol.id, alice.token, nil)
	h.must(200, "PATCH", "/guilds/"+gid, alice.token, map[string]any{"name": "marker"})

	carolName := h.eng.User(carol.ID()).Username
	botName := "intentbot"
	selfUpdate := "GUILD_MEMBER_UPDATE " + botName
	want := map[string][]string{
		"guilds only":      {selfUpdate},
		"messages":         {"MESSAGE_CREATE ", "MESSAGE_CREATE hey <@" + bot.id + ">", "MESSAGE_CREATE from the bot", selfUpdate},
		"messages+content": {"MESSAGE_CREATE plain secret", "MESSAGE_CREATE hey <@" + bot.id + ">", "MESSAGE_CREATE from the bot", selfUpdate},
		"typing":           {"TYPING_START", selfUpdate},
		"reactions":        {"MESSAGE_REACTION_ADD " + thumbs, selfUpdate},
		"members": {"GUILD_MEMBER_ADD " + carolName, selfUpdate, "GUILD_MEMBER_UPDATE " + carolName,
			"GUILD_MEMBER_REMOVE " + carolName},
		"direct messages":             {selfUpdate, "MESSAGE_CREATE dm secret"},
		"user without content intent": {"MESSAGE_CREATE plain secret", "MESSAGE_CREATE hey <@" + bot.id + ">", "MESSAGE_CREATE from the bot"},
	}
	for _, s := range sessions {
		t.Run(s.name, func(t *testing.T) {
			c := clients[s.name]
			c.t = t
			got := drain(c, "marker")
			if fmt.Sprint(got) != fmt.Sprint(want[s.name]) {
				t.Fatalf("intents %b got\n  %q\nwant\n  %q", s.intents, got, want[s.name])
			}
		})
	}
}

// TestMessageContentStripping checks every field the intent guards, and
// the message a reply quotes.
func TestMessageContentStripping(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	gid, text := h.guild(alice)
	bot := h.bot(alice, "stripbot")
	h.addBot(alice, gid, bot)
	c := h.dial("")
	c.identify(bot.token, intents(IntentGuilds|IntentGuildMessages))
	c.waitFor("GUILD_CREATE")

	orig := h.say(alice, text, "the original")
	c.waitFor("MESSAGE_CREATE")
	h.must(200, "POST", "/channels/"+text+"/messages", alice.token, map[string]any{
		"content": "the reply", "embeds": []any{map[string]any{"title": "hidden"}},
		"message_reference": map[string]any{"message_id": orig["id"]},
	})
	d := c.waitFor("MESSAGE_CREATE").obj()
	if d["content"] != "" || len(d["embeds"].([]any)) != 0 || len(d["attachments"].([]any)) != 0 || len(d["components"].([]any)) != 0 {
		t.Fatalf("stripped message still has content: %v", d)
	}
	ref, ok := d["referenced_message"].(map[string]any)
	if !ok {
		t.Fatalf("reply without referenced_message: %v", d)
	}
	if ref["content"] != "" {
		t.Fatalf("referenced_message leaks content %q", ref["content"])
	}
	if d["id"] == nil || d["author"] == nil || d["member"] == nil || d["guild_id"] != gid {
		t.Fatalf("stripping removed more than content: %v", d)
	}
}

// TestPermissionFiltering: a member who cannot see a channel gets none of
// its message, typing or reaction events; a role that grants access
// restores them, and taking it away stops them again.
func TestPermissionFiltering(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	gid, text := h.guild(alice)
	bob, carol := h.user("bob"), h.user("carol")
	h.join(alice, bob, text)
	h.join(alice, carol, text)
	secret := h.must(201, "POST", "/guilds/"+gid+"/channels", alice.token, map[string]any{"name": "secret", "type": 0})["id"].(string)
	role := h.must(200, "POST", "/guilds/"+gid+"/roles", alice.token, map[string]any{"name": "seers"})["id"].(string)
	const view = 1 << 10
	h.must(204, "PUT", "/channels/"+secret+"/permissions/"+gid, alice.token, map[string]any{"type": 0, "allow": "0", "deny": fmt.Sprint(view)})
	h.must(204, "PUT", "/channels/"+secret+"/permissions/"+role, alice.token, map[string]any{"type": 0, "allow": fmt.Sprint(view), "deny": "0"})
	h.must(204, "PUT", "/guilds/"+gid+"/members/"+carol.id+"/roles/"+role, alice.token, nil)

	cb, cc := h.dial(""), h.dial("")
	cb.identify(bob.token, nil)
	cc.identify(carol.token, nil)
	cb.waitFor("GUILD_CREATE")
	cc.waitFor("GUILD_CREATE")

	round := func(tag string) {
		m := h.say(alice, secret, tag)
		h.must(204, "POST", "/channels/"+secret+"/typing", alice.token, nil)
		h.must(204, "PUT", "/channels/"+secret+"/messages/"+m["id"].(string)+"/reactions/"+thumbsPath+"/@me", alice.token, nil)
		h.must(204, "DELETE", "/channels/"+secret+"/messages/"+m["id"].(string)+"/reactions/"+thumbsPath+"/@me", alice.token, nil)
		h.must(200, "PATCH", "/channels/"+secret+"/messages/"+m["id"].(string), alice.token, map[string]any{"content": tag + " edited"})
		h.must(204, "DELETE", "/channels/"+secret+"/messages/"+m["id"].(string), alice.token, nil)
		h.must(200, "PATCH", "/guilds/"+gid, alice.token, map[string]any{"name": "marker " + tag})
	}
	channelEvents := func(c *client, marker string) []string {
		var out []string
		for _, s := range drain(c, marker) {
			if strings.HasPrefix(s, "MESSAGE_") || s == "TYPING_START" {
				out = append(out, s)
			}
		}
		return out
	}
	all := func(tag string) []string {
		return []string{"MESSAGE_CREATE " + tag, "TYPING_START", "MESSAGE_REACTION_ADD " + thumbs, "MESSAGE_REACTION_REMOVE " + thumbs,
			"MESSAGE_UPDATE " + tag + " edited", "MESSAGE_DELETE"}
	}
	check := func(c *client, tag string, want []string) {
		t.Helper()
		if got := channelEvents(c, "marker "+tag); !slices.Equal(got, want) {
			t.Fatalf("%s: got %q, want %q", tag, got, want)
		}
	}

	round("one")
	check(cb, "one", nil)
	check(cc, "one", all("one"))

	h.must(204, "PUT", "/guilds/"+gid+"/members/"+bob.id+"/roles/"+role, alice.token, nil)
	round("two")
	check(cb, "two", all("two"))
	check(cc, "two", all("two"))

	h.must(204, "DELETE", "/guilds/"+gid+"/members/"+bob.id+"/roles/"+role, alice.token, nil)
	round("three")
	check(cb, "three", nil)
	check(cc, "three", all("three"))
}

// TestBanEventsNeedPermission: GUILD_BAN_ADD/REMOVE go only to those with
// BAN_MEMBERS or VIEW_AUDIT_LOG (and GUILD_MODERATION).
func TestBanEventsNeedPermission(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	gid, text := h.guild(alice)
	bob, carol, dave := h.user("bob"), h.user("carol"), h.user("dave")
	h.join(alice, bob, text)
	h.join(alice, carol, text)
	auditors := h.must(200, "POST", "/guilds/"+gid+"/roles", alice.token, map[string]any{"name": "auditors", "permissions": "128"})["id"].(string)
	h.must(204, "PUT", "/guilds/"+gid+"/members/"+carol.id+"/roles/"+auditors, alice.token, nil)
	ca, cb, cc := h.dial(""), h.dial(""), h.dial("")
	for _, x := range []struct {
		c   *client
		tok string
	}{{ca, alice.token}, {cb, bob.token}, {cc, carol.token}} {
		x.c.identify(x.tok, nil)
		x.c.waitFor("GUILD_CREATE")
	}
	h.must(204, "PUT", "/guilds/"+gid+"/bans/"+dave.id, alice.token, map[string]any{})
	h.must(204, "DELETE", "/guilds/"+gid+"/bans/"+dave.id, alice.token, nil)
	h.must(200, "PATCH", "/guilds/"+gid, alice.token, map[string]any{"name": "marker"})
	bans := func(c *client) []string {
		var out []string
		for _, s := range drain(c, "marker") {
			if strings.HasPrefix(s, "GUILD_BAN") {
				out = append(out, s)
			}
		}
		return out
	}
	both := []string{"GUILD_BAN_ADD", "GUILD_BAN_REMOVE"}
	if got := bans(ca); !slices.Equal(got, both) {
		t.Fatalf("owner got %v", got)
	}
	if got := bans(cc); !slices.Equal(got, both) {
		t.Fatalf("VIEW_AUDIT_LOG member got %v", got)
	}
	if got := bans(cb); len(got) != 0 {
		t.Fatalf("member without permission got %v", got)
	}
}
