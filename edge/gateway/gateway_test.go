package gateway

import (
	"testing"
)

func TestIdentifyReadyGuildCreateAndMessage(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	gid, text := h.guild(alice)
	c := h.dial("?v=10&encoding=json")
	ready := c.identify(alice.token, nil)
	if ready["session_id"] == "" || ready["resume_gateway_url"] != h.ws {
		t.Fatalf("ready %v", ready)
	}
	guilds := ready["guilds"].([]any)
	if len(guilds) != 1 || guilds[0].(map[string]any)["unavailable"] != true {
		t.Fatalf("guild stubs %v", guilds)
	}
	gc := c.waitFor("GUILD_CREATE").obj()
	if gc["id"] != gid || len(gc["channels"].([]any)) != 2 || gc["member_count"].(float64) != 1 {
		t.Fatalf("guild create %v", gc)
	}
	code, m := h.api("POST", "/channels/"+text+"/messages", alice.token, map[string]any{"content": "hello gateway"})
	if code != 200 {
		t.Fatal(code, m)
	}
	ev := c.waitFor("MESSAGE_CREATE").obj()
	if ev["id"] != m["id"] || ev["content"] != "hello gateway" || ev["guild_id"] != gid {
		t.Fatalf("event %v", ev)
	}
	if ev["member"] == nil {
		t.Fatal("MESSAGE_CREATE without member")
	}
}

func TestHeartbeatAck(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	c := h.dial("")
	c.identify(alice.token, nil)
	c.send(OpHeartbeat, 1)
	for {
		m := c.mustNext()
		if m.Op == OpHeartbeatACK {
			return
		}
	}
}
