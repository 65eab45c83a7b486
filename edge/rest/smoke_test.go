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
