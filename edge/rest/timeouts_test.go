package rest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/core/snowflake"
)

// TestMemberTimeouts: Discord's timeouts. MODERATE_MEMBERS times out a
// lower-ranked member who is neither the owner nor an administrator, at
// most 28 days ahead; the member keeps only VIEW_CHANNEL and
// READ_MESSAGE_HISTORY (no sending, reacting or joining voice) until the
// timeout ends or is lifted with null.
func TestMemberTimeouts(t *testing.T) {
	h := newHarness(t)
	owner, mod, plain, admin := h.user("toowner"), h.user("tomod"), h.user("toplain"), h.user("toadmin")
	gid, text, voice := h.guild(owner)
	for _, u := range []user{mod, plain, admin} {
		h.join(owner, u, text)
	}
	h.giveRole(owner, gid, mod.ID, h.mkRole(owner, gid, "moderators", perm.ModerateMembers))
	h.giveRole(owner, gid, admin.ID, h.mkRole(owner, gid, "admins", perm.Administrator))
	f := &mtFix{h: h}
	msg := h.send(owner, text, "react to me")
	h.must(204, f.react(owner, text, msg, rpThumbs))
	patch := func(actor, target user, until any) resp {
		return h.do("PATCH", "/guilds/"+gid+"/members/"+target.ID, actor.Token, map[string]any{"communication_disabled_until": until})
	}
	soon := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)

	h.wantErr(patch(plain, mod, soon), 403, 50013)   // no MODERATE_MEMBERS
	h.wantErr(patch(mod, owner, soon), 403, 50013)   // the owner
	h.wantErr(patch(mod, admin, soon), 403, 50013)   // an administrator
	h.wantErr(patch(owner, admin, soon), 403, 50013) // not even by the owner
	h.wantFormErr(patch(mod, plain, time.Now().Add(29*24*time.Hour).UTC().Format(time.RFC3339)), "communication_disabled_until", "")

	m := h.must(200, patch(mod, plain, soon)).Obj()
	if m["communication_disabled_until"] == nil {
		t.Fatalf("member after the timeout: %v", m)
	}
	if got := h.must(200, h.do("GET", "/guilds/"+gid+"/members/"+plain.ID, owner.Token, nil)).Obj(); got["communication_disabled_until"] == nil {
		t.Fatalf("GET member: %v", got)
	}
	h.wantErr(f.post(plain, text, map[string]any{"content": "let me speak"}), 403, 50013)
	h.wantErr(f.react(plain, text, msg, rpThumbs), 403, 50013)
	h.must(200, h.do("GET", "/channels/"+text+"/messages", plain.Token, nil)) // reading stays
	vid, _ := snowflake.Parse(voice)
	if err := h.eng.UpdateVoice(context.Background(), mustSnowflake(t, plain.ID), mustSnowflake(t, gid), vid, "s", "n", false, false); !errors.Is(err, apierr.ErrMissingPermissions) {
		t.Fatalf("a timed-out member joined voice: %v", err)
	}
	// The owner and admins are not affected by their own timeouts (they
	// cannot have any), and a moderator still posts.
	h.must(200, f.post(mod, text, map[string]any{"content": "moderating"}))

	// Lifted: everything is back.
	if got := h.must(200, patch(mod, plain, nil)).Obj(); got["communication_disabled_until"] != nil {
		t.Fatalf("member after lifting: %v", got)
	}
	h.must(200, f.post(plain, text, map[string]any{"content": "thanks"}))
	h.must(204, f.react(plain, text, msg, rpThumbs))

	// A timeout that has ended is no timeout, and is not shown.
	h.must(200, patch(mod, plain, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)))
	h.must(200, f.post(plain, text, map[string]any{"content": "never was"}))
}

func mustSnowflake(t *testing.T, s string) snowflake.ID {
	t.Helper()
	id, err := snowflake.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
