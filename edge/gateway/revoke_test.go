package gateway

import (
	"testing"
	"time"
)

// TestRevokedTokenEndsItsSessions: resetting a bot's token closes the
// sessions opened with the old one (4004), and neither token resumes
// them; logging out closes the session of that token only.
func TestRevokedTokenEndsItsSessions(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	bot := h.bot(alice, "revokable")

	c := h.dial("")
	ready := c.identify(bot.token, intents(IntentGuilds))
	sid := ready["session_id"].(string)
	code, out := h.api("POST", "/applications/"+bot.id+"/bot/reset", alice.token, nil)
	if code != 200 {
		t.Fatalf("reset: %d %v", code, out)
	}
	fresh := "Bot " + out["token"].(string)
	if got := c.closeCode(); got != CloseAuthenticationFailed {
		t.Fatalf("the old token's session closed with %d, want 4004", got)
	}
	for name, tok := range map[string]string{"old": bot.token, "new": fresh} {
		r := h.dial("")
		r.t = t
		r.hello()
		r.send(OpResume, map[string]any{"token": tok, "session_id": sid, "seq": 1})
		m, err := r.next(10 * time.Second)
		switch {
		case err == nil && m.Op == OpInvalidSession && string(m.D) == "false":
		case err != nil && name == "old":
			if got := r.closeCode(); got != CloseAuthenticationFailed {
				t.Fatalf("resume with the old token: close %d, want 4004", got)
			}
		default:
			t.Fatalf("resume with the %s token: %v %v, want op 9 (or 4004 for the old one)", name, m, err)
		}
	}
	// The new token identifies as usual.
	h.dial("").identify(fresh, intents(IntentGuilds))

	// Logout: the session of that token ends, another of the same user stays.
	first, second := h.twoTokens("twodevices")
	keep := h.dial("")
	kept := keep.identify(first, nil)["session_id"].(string)
	drop := h.dial("")
	drop.identify(second, nil)
	if code, out := h.api("POST", "/auth/logout", second, nil); code != 204 {
		t.Fatalf("logout: %d %v", code, out)
	}
	if got := drop.closeCode(); got != CloseAuthenticationFailed {
		t.Fatalf("the logged-out session closed with %d, want 4004", got)
	}
	if h.gw.session(kept) == nil {
		t.Fatal("logging one token out ended the session of another")
	}
}

// TestPasswordChangeEndsEveryOlderSession: a password change closes the
// sessions of every token the user had (4004), none of them resumes, and
// the token the change answered with identifies.
func TestPasswordChangeEndsEveryOlderSession(t *testing.T) {
	h := newHarness(t)
	first, second := h.twoTokens("pwsessions")
	a, b := h.dial(""), h.dial("")
	sid := a.identify(first, nil)["session_id"].(string)
	b.identify(second, nil)

	code, out := h.api("PATCH", "/users/@me", second, map[string]any{"password": "password123", "new_password": "password456"})
	if code != 200 {
		t.Fatalf("password change: %d %v", code, out)
	}
	fresh := out["token"].(string)
	for name, c := range map[string]*client{"first": a, "second": b} {
		if got := c.closeCode(); got != CloseAuthenticationFailed {
			t.Fatalf("the %s token's session closed with %d, want 4004", name, got)
		}
	}
	r := h.dial("")
	r.hello()
	r.send(OpResume, map[string]any{"token": first, "session_id": sid, "seq": 1})
	if got := r.closeCode(); got != CloseAuthenticationFailed {
		t.Fatalf("resume with a token from before the change: close %d, want 4004", got)
	}
	kept := h.dial("")
	keptID := kept.identify(fresh, nil)["session_id"].(string)
	// A second change ends the session of the token the first one gave.
	code, out = h.api("PATCH", "/users/@me", fresh, map[string]any{"password": "password456", "new_password": "password789"})
	if code != 200 {
		t.Fatalf("second password change: %d %v", code, out)
	}
	if got := kept.closeCode(); got != CloseAuthenticationFailed {
		t.Fatalf("session %s of the first change's token closed with %d, want 4004", keptID, got)
	}
	h.dial("").identify(out["token"].(string), nil)
}

// twoTokens registers a user (password "password123") and logs in once
// more: two tokens of one user, as from two devices.
func (h *harness) twoTokens(name string) (first, second string) {
	h.t.Helper()
	code, out := h.api("POST", "/auth/register", "", map[string]any{"username": name, "password": "password123"})
	if code != 201 {
		h.t.Fatalf("register: %d %v", code, out)
	}
	first = out["token"].(string)
	code, out = h.api("POST", "/auth/login", "", map[string]any{"login": name, "password": "password123"})
	if code != 200 {
		h.t.Fatalf("login: %d %v", code, out)
	}
	return first, out["token"].(string)
}
