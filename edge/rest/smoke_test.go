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
