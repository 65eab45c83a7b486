package gateway

import "testing"

// READY reports the gateway version the client connected with.
func TestReadyVersionFollowsConnection(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	for _, v := range []float64{9, 10} {
		c := h.dial("?encoding=json&v=" + map[float64]string{9: "9", 10: "10"}[v])
		if got := c.identify(alice.token, nil)["v"]; got != v {
			t.Fatalf("READY v = %v on a v%v connection", got, v)
		}
	}
}

// A rename reaches other members as GUILD_MEMBER_UPDATE carrying the new
// user object, so their member caches do not go stale.
func TestRenameUpdatesMembersElsewhere(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	bob := h.user("bob")
	gid, text := h.guild(alice)
	h.join(alice, bob, text)
	c := h.dial("")
	c.identify(alice.token, nil)
	c.waitFor("GUILD_CREATE")
	h.ok("PATCH", "/users/@me", bob.token, map[string]any{"username": "robert_renamed"})
	ev := c.waitMatch("GUILD_MEMBER_UPDATE", func(d map[string]any) bool {
		u, _ := d["user"].(map[string]any)
		return u != nil && u["id"] == bob.id
	}).obj()
	if ev["guild_id"] != gid || ev["user"].(map[string]any)["username"] != "robert_renamed" {
		t.Fatalf("GUILD_MEMBER_UPDATE %v", ev)
	}
}
