package gateway

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func presence(status string, activities ...map[string]any) map[string]any {
	acts := []any{}
	for _, a := range activities {
		acts = append(acts, a)
	}
	return map[string]any{"status": status, "activities": acts, "since": nil, "afk": false}
}

func TestPresence(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	gid, text := h.guild(alice)
	bob, carol := h.user("bob"), h.user("carol")
	h.join(alice, bob, text)
	h.join(alice, carol, text)
	bot := h.bot(alice, "nopresence")
	h.addBot(alice, gid, bot)

	cb := h.dial("")
	cb.identify(bob.token, nil) // users get every intent
	cb.waitFor("GUILD_CREATE")
	cbot := h.dial("")
	cbot.identify(bot.token, intents(IntentGuilds|IntentGuildMembers))
	cbot.waitFor("GUILD_CREATE")

	isAlice := func(d map[string]any) bool { return d["user"].(map[string]any)["id"] == alice.id }
	expect := func(status string) map[string]any {
		t.Helper()
		d := cb.waitMatch("PRESENCE_UPDATE", isAlice).obj()
		if d["status"] != status || d["guild_id"] != gid {
			t.Fatalf("PRESENCE_UPDATE %v, want status %s in guild %s", d, status, gid)
		}
		return d
	}

	ca := h.dial("")
	ca.identify(alice.token, nil)
	expect("online")

	ca.send(OpPresenceUpdate, presence("dnd", map[string]any{"name": "chess", "type": 0}))
	d := expect("dnd")
	acts := d["activities"].([]any)
	if len(acts) != 1 || acts[0].(map[string]any)["name"] != "chess" || d["client_status"].(map[string]any)["web"] != "dnd" {
		t.Fatalf("activities/client_status %v", d)
	}

	ca.send(OpPresenceUpdate, presence("invisible", map[string]any{"name": "hidden", "type": 0}))
	d = expect("offline")
	if len(d["activities"].([]any)) != 0 || len(d["client_status"].(map[string]any)) != 0 {
		t.Fatalf("invisible leaks activity or client status: %v", d)
	}
	ca.send(OpPresenceUpdate, presence("idle"))
	expect("idle")

	// A second session of alice coming and going leaves her idle.
	ca2 := h.dial("")
	r2 := ca2.identify(alice.token, nil)
	ca2.kill()
	waitDetached(t, h, r2["session_id"].(string))
	h.must(200, "PATCH", "/guilds/"+gid, alice.token, map[string]any{"name": "marker 1"})
	for _, m := range cb.until("GUILD_UPDATE", func(d map[string]any) bool { return d["name"] == "marker 1" }) {
		if m.T == "PRESENCE_UPDATE" {
			t.Fatalf("presence change from a second session: %s", m.D)
		}
	}
	// Then her first one goes: offline.
	ca.kill()
	expect("offline")

	// Carol connecting invisible announces nothing but offline.
	cc := h.dial("")
	cc.identifyWith(carol.token, nil, map[string]any{"presence": presence("invisible")})
	h.must(200, "PATCH", "/guilds/"+gid, alice.token, map[string]any{"name": "marker"})
	for _, m := range cb.until("GUILD_UPDATE", func(d map[string]any) bool { return d["name"] == "marker" }) {
		if m.T == "PRESENCE_UPDATE" {
			d := m.obj()
			if d["status"] != "offline" {
				t.Fatalf("presence %v seen (alice's second session or invisible carol)", d)
			}
		}
	}
	// The bot without GUILD_PRESENCES saw none of it.
	for _, m := range cbot.until("GUILD_UPDATE", func(d map[string]any) bool { return d["name"] == "marker" }) {
		if m.T == "PRESENCE_UPDATE" {
			t.Fatalf("PRESENCE_UPDATE without the intent: %s", m.D)
		}
	}

	t.Run("bad status closes with 4002", func(t *testing.T) {
		c := h.dial("")
		c.t = t
		c.identify(bob.token, nil)
		c.send(OpPresenceUpdate, presence("sleeping"))
		if code := c.closeCode(); code != CloseDecodeError {
			t.Fatalf("close %d", code)
		}
	})
}

func TestVoiceState(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	gid, text := h.guild(alice)
	bob := h.user("bob")
	h.join(alice, bob, text)
	bot := h.bot(alice, "novoice")
	h.addBot(alice, gid, bot)

	ca := h.dial("")
	ready := ca.identify(alice.token, nil)
	var voiceID string
	for _, ch := range ca.waitFor("GUILD_CREATE").obj()["channels"].([]any) {
		if c := ch.(map[string]any); c["type"] == float64(2) {
			voiceID = c["id"].(string)
		}
	}
	cb := h.dial("")
	cb.identify(bob.token, nil)
	cb.waitFor("GUILD_CREATE")
	cbot := h.dial("")
	cbot.identify(bot.token, intents(IntentGuilds))
	cbot.waitFor("GUILD_CREATE")

	isAlice := func(d map[string]any) bool { return d["user_id"] == alice.id }
	ca.send(OpVoiceStateUpdate, map[string]any{"guild_id": gid, "channel_id": voiceID, "self_mute": true, "self_deaf": false})
	for _, c := range []*client{cb, ca} {
		d := c.waitMatch("VOICE_STATE_UPDATE", isAlice).obj()
		member, _ := d["member"].(map[string]any)
		if d["channel_id"] != voiceID || d["guild_id"] != gid || d["session_id"] != ready["session_id"] || d["self_mute"] != true ||
			member == nil || member["user"].(map[string]any)["id"] != alice.id {
			t.Fatalf("VOICE_STATE_UPDATE %v", d)
		}
	}

	// Recorded: a new session sees it in GUILD_CREATE.
	c2 := h.dial("")
	c2.identify(bob.token, nil)
	vs := c2.waitFor("GUILD_CREATE").obj()["voice_states"].([]any)
	if len(vs) != 1 || vs[0].(map[string]any)["user_id"] != alice.id || vs[0].(map[string]any)["channel_id"] != voiceID {
		t.Fatalf("voice_states %v", vs)
	}
	if _, ok := vs[0].(map[string]any)["guild_id"]; ok {
		t.Fatal("voice state in GUILD_CREATE carries guild_id")
	}

	// A text channel is not joinable: ignored.
	ca.send(OpVoiceStateUpdate, map[string]any{"guild_id": gid, "channel_id": text, "self_mute": false, "self_deaf": false})
	// Leaving.
	ca.send(OpVoiceStateUpdate, map[string]any{"guild_id": gid, "channel_id": nil, "self_mute": false, "self_deaf": false})
	d := cb.waitMatch("VOICE_STATE_UPDATE", isAlice).obj()
	if d["channel_id"] != nil {
		t.Fatalf("after leaving: %v (the text channel join was not ignored?)", d)
	}
	c3 := h.dial("")
	c3.identify(bob.token, nil)
	if vs := c3.waitFor("GUILD_CREATE").obj()["voice_states"].([]any); len(vs) != 0 {
		t.Fatalf("voice_states after leaving %v", vs)
	}

	h.must(200, "PATCH", "/guilds/"+gid, alice.token, map[string]any{"name": "marker"})
	for _, m := range cbot.until("GUILD_UPDATE", func(d map[string]any) bool { return d["name"] == "marker" }) {
		if m.T == "VOICE_STATE_UPDATE" {
			t.Fatalf("VOICE_STATE_UPDATE without GUILD_VOICE_STATES: %s", m.D)
		}
	}

	isBob := func(d map[string]any) bool { return d["user_id"] == bob.id }
	t.Run("kicked member leaves voice", func(t *testing.T) {
		ca.t = t
		cb.send(OpVoiceStateUpdate, map[string]any{"guild_id": gid, "channel_id": voiceID})
		if d := ca.waitMatch("VOICE_STATE_UPDATE", isBob).obj(); d["channel_id"] != voiceID {
			t.Fatalf("join %v", d)
		}
		h.must(204, "DELETE", "/guilds/"+gid+"/members/"+bob.id, alice.token, nil)
		if d := ca.waitMatch("VOICE_STATE_UPDATE", isBob).obj(); d["channel_id"] != nil {
			t.Fatalf("after kick %v", d)
		}
		c := h.dial("")
		c.identify(alice.token, nil)
		if vs := c.waitFor("GUILD_CREATE").obj()["voice_states"].([]any); len(vs) != 0 {
			t.Fatalf("voice_states after kick %v", vs)
		}
	})
	t.Run("ended session leaves voice", func(t *testing.T) {
		ca.t = t
		cv := h.dial("")
		cv.identify(alice.token, nil)
		cv.send(OpVoiceStateUpdate, map[string]any{"guild_id": gid, "channel_id": voiceID})
		if d := ca.waitMatch("VOICE_STATE_UPDATE", isAlice).obj(); d["channel_id"] != voiceID {
			t.Fatalf("join %v", d)
		}
		// Closing with 1000 ends the session (not resumable).
		_ = cv.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		if d := ca.waitMatch("VOICE_STATE_UPDATE", isAlice).obj(); d["channel_id"] != nil {
			t.Fatalf("after the session ended %v", d)
		}
	})
}
