package rest

import "testing"

func TestSmoke(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	bob := h.user("bob")
	_, text, _ := h.guild(alice)
	h.join(alice, bob, text)
	id := h.send(bob, text, "hi")
	msgs := h.must(200, h.do("GET", "/channels/"+text+"/messages", alice.Token, nil)).Arr()
	if len(msgs) != 1 || msgs[0].(map[string]any)["id"] != id {
		t.Fatalf("history %v", msgs)
	}
	h.wantErr(h.do("GET", "/channels/"+text+"/messages", "", nil), 401, 0)
}

// Discord takes bot tokens only with the "Bot " prefix and user tokens
// only without it.
func TestTokenPrefixMustMatchAccountKind(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	bot := h.bot(alice, "Prefixed")
	bare := bot.Token[len("Bot "):]
	h.must(200, h.do("GET", "/users/@me", bot.Token, nil))
	h.wantErr(h.do("GET", "/users/@me", bare, nil), 401, 0)
	h.must(200, h.do("GET", "/users/@me", alice.Token, nil))
	h.wantErr(h.do("GET", "/users/@me", "Bot "+alice.Token, nil), 401, 0)
}

// Guild channels always carry permission_overwrites and, for text
// channels, topic (null when unset): libraries read both unconditionally.
func TestChannelShapeAlwaysHasOverwritesAndTopic(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	_, text, voice := h.guild(alice)
	tc := h.must(200, h.do("GET", "/channels/"+text, alice.Token, nil)).Obj()
	if ows, ok := tc["permission_overwrites"].([]any); !ok || len(ows) != 0 {
		t.Fatalf("text channel permission_overwrites = %v", tc["permission_overwrites"])
	}
	if v, ok := tc["topic"]; !ok || v != nil {
		t.Fatalf("text channel topic = %v (present %v), want null", v, ok)
	}
	vc := h.must(200, h.do("GET", "/channels/"+voice, alice.Token, nil)).Obj()
	if _, ok := vc["permission_overwrites"].([]any); !ok {
		t.Fatalf("voice channel without permission_overwrites: %v", vc)
	}
}

// enforce_nonce: the same nonce from the same author in the same channel
// returns the first message instead of creating a second one.
func TestEnforceNonce(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	_, text, _ := h.guild(alice)
	body := map[string]any{"content": "once", "nonce": "n-1", "enforce_nonce": true}
	a := h.must(200, h.do("POST", "/channels/"+text+"/messages", alice.Token, body)).Str("id")
	b := h.must(200, h.do("POST", "/channels/"+text+"/messages", alice.Token, body)).Str("id")
	if a != b {
		t.Fatalf("enforced nonce created two messages %s and %s", a, b)
	}
	body["enforce_nonce"] = false
	c := h.must(200, h.do("POST", "/channels/"+text+"/messages", alice.Token, body)).Str("id")
	if c == a {
		t.Fatal("without enforce_nonce the nonce must not deduplicate")
	}
	if n := len(h.must(200, h.do("GET", "/channels/"+text+"/messages", alice.Token, nil)).Arr()); n != 2 {
		t.Fatalf("%d messages stored, want 2", n)
	}
}

// A reply whose target was deleted renders referenced_message: null, and
// an edited reply still carries its referenced message.
func TestReferencedMessageNullWhenDeleted(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	_, text, _ := h.guild(alice)
	target := h.send(alice, text, "target")
	reply := h.must(200, h.do("POST", "/channels/"+text+"/messages", alice.Token, map[string]any{
		"content": "reply", "message_reference": map[string]any{"message_id": target}})).Str("id")
	edited := h.must(200, h.do("PATCH", "/channels/"+text+"/messages/"+reply, alice.Token, map[string]any{"content": "edited"})).Obj()
	if rm, _ := edited["referenced_message"].(map[string]any); rm == nil || rm["id"] != target {
		t.Fatalf("edited reply referenced_message = %v", edited["referenced_message"])
	}
	h.must(204, h.do("DELETE", "/channels/"+text+"/messages/"+target, alice.Token, nil))
	got := h.must(200, h.do("GET", "/channels/"+text+"/messages/"+reply, alice.Token, nil)).Obj()
	if v, ok := got["referenced_message"]; !ok || v != nil {
		t.Fatalf("referenced_message = %v (present %v), want null", v, ok)
	}
}

// Unpinning makes the channel's last_pin_timestamp the newest remaining
// pin's time (null when none is left).
func TestUnpinRestoresLastPinTimestamp(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	_, text, _ := h.guild(alice)
	a := h.send(alice, text, "a")
	b := h.send(alice, text, "b")
	h.must(204, h.do("PUT", "/channels/"+text+"/pins/"+a, alice.Token, nil))
	afterA := h.must(200, h.do("GET", "/channels/"+text, alice.Token, nil)).Str("last_pin_timestamp")
	h.must(204, h.do("PUT", "/channels/"+text+"/pins/"+b, alice.Token, nil))
	if got := h.must(200, h.do("GET", "/channels/"+text, alice.Token, nil)).Str("last_pin_timestamp"); got == afterA || got == "" {
		t.Fatalf("pinning b left last_pin_timestamp at %q", got)
	}
	h.must(204, h.do("DELETE", "/channels/"+text+"/pins/"+b, alice.Token, nil))
	if got := h.must(200, h.do("GET", "/channels/"+text, alice.Token, nil)).Str("last_pin_timestamp"); got != afterA {
		t.Fatalf("after unpinning b last_pin_timestamp = %q, want a's %q", got, afterA)
	}
	h.must(204, h.do("DELETE", "/channels/"+text+"/pins/"+a, alice.Token, nil))
	// The field is optional and nullable on Discord: absent or null.
	if v := h.must(200, h.do("GET", "/channels/"+text, alice.Token, nil)).Obj()["last_pin_timestamp"]; v != nil {
		t.Fatalf("with no pins last_pin_timestamp = %v, want none", v)
	}
}

// A known route asked with a method it does not have is 405 with
// Discord's JSON error and an Allow header; an unknown path stays 404.
func TestWrongMethodIs405(t *testing.T) {
	h := newHarness(t)
	u := h.user("methods")
	_, text := h.acquaint(u)
	cases := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"PUT", "/channels/" + text + "/messages", 405, "GET, POST"},
		{"DELETE", "/users/@me", 405, "GET, PATCH"},
		{"POST", "/gateway", 405, "GET"},
		{"GET", "/oauth2/authorize", 405, "POST"},
		{"GET", "/no/such/route", 404, ""},
		{"PUT", "/no/such/route", 404, ""},
	}
	for _, c := range cases {
		r := h.do(c.method, c.path, u.Token, nil)
		h.wantErr(r, c.status, 0)
		if got := r.Header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
		if want := map[int]string{404: "404: Not Found", 405: "405: Method Not Allowed"}[c.status]; r.Str("message") != want {
			t.Errorf("%s %s: message %q, want %q", c.method, c.path, r.Str("message"), want)
		}
	}
	// The same under the other API prefixes.
	r := h.reqV("/api/v9", "PATCH", "/channels/"+text+"/messages", u.Token, nil, nil)
	h.wantErr(r, 405, 0)
}
