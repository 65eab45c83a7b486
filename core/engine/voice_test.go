package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/internal/accordtest"
)

// TestVoiceHostAndUserLimit: the first to join a voice channel picks the
// host node, later joiners get the same one wherever they connected; a
// channel at its user limit refuses one more unless the joiner may move
// members; SetVoiceMedia records camera and screen share for the
// session that holds the state and for no other.
func TestVoiceHostAndUserLimit(t *testing.T) {
	c := accordtest.NewCluster(t, accordtest.Options{})
	ctx := context.Background()
	owner, gid, text := setup(t, c)
	on := func(fn func(e *engine.Engine) error) error { return c.OnLeader(fn) }
	limit := 2
	var voice engine.ID
	if err := on(func(e *engine.Engine) error {
		ch, err := e.CreateChannel(ctx, owner, gid, engine.ChannelParams{Name: "small", Type: 2, UserLimit: &limit})
		if err == nil {
			voice = ch.ID
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var code string
	if err := on(func(e *engine.Engine) error {
		inv, err := e.CreateInvite(ctx, owner, text, engine.InviteParams{})
		if err == nil {
			code = inv.Code
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	users := make([]engine.ID, 3)
	for i := range users {
		if err := on(func(e *engine.Engine) error {
			u, _, err := e.Register(ctx, fmt.Sprintf("voice%d_%d", i, time.Now().UnixNano()%1e6), "correct horse battery")
			if err == nil {
				users[i] = u.ID
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		c.WaitConverged()
		if err := on(func(e *engine.Engine) error { _, err := e.AcceptInvite(ctx, users[i], code); return err }); err != nil {
			t.Fatal(err)
		}
	}
	c.WaitConverged()
	join := func(uid engine.ID, sess, node string) error {
		return on(func(e *engine.Engine) error { return e.UpdateVoice(ctx, uid, gid, voice, sess, node, false, false) })
	}
	if err := join(users[0], "s0", "n2"); err != nil {
		t.Fatal(err)
	}
	if err := join(users[1], "s1", "n3"); err != nil {
		t.Fatal(err)
	}
	c.WaitConverged()
	for uid, vs := range c.Members[0].Engine.VoiceStates(gid) {
		if vs.Host != "n2" {
			t.Fatalf("%d in voice hosted by %q, want the first joiner's node n2", uid, vs.Host)
		}
	}
	if err := join(users[2], "s2", "n1"); !errors.Is(err, engine.ErrChannelFull) {
		t.Fatalf("third member into a channel of two: %v, want ErrChannelFull", err)
	}
	// The owner has every permission, MOVE_MEMBERS among them.
	if err := join(owner, "so", "n1"); err != nil {
		t.Fatalf("owner into a full channel: %v", err)
	}
	// Leaving makes room: user 1 goes, user 2 still does not fit (owner,
	// user 0 hold the two places), then user 0 goes and user 2 fits.
	leave := func(uid engine.ID, sess string) error {
		return on(func(e *engine.Engine) error { return e.UpdateVoice(ctx, uid, gid, 0, sess, "n3", false, false) })
	}
	if err := leave(users[1], "s1"); err != nil {
		t.Fatal(err)
	}
	if err := join(users[2], "s2", "n1"); !errors.Is(err, engine.ErrChannelFull) {
		t.Fatalf("third member with owner and one other in: %v, want ErrChannelFull", err)
	}
	if err := leave(users[0], "s0"); err != nil {
		t.Fatal(err)
	}
	if err := join(users[2], "s2", "n1"); err != nil {
		t.Fatal(err)
	}

	media := func(sess string, video, stream bool) error {
		return on(func(e *engine.Engine) error { return e.SetVoiceMedia(ctx, gid, users[2], sess, video, stream) })
	}
	if err := media("someone-else", true, true); err != nil {
		t.Fatal(err)
	}
	if err := media("s2", true, false); err != nil {
		t.Fatal(err)
	}
	accordtest.WaitFor(t, "self_video on every replica", func() bool {
		for _, m := range c.Members {
			vs := m.Engine.VoiceStates(gid)[users[2]]
			if !vs.SelfVideo || vs.SelfStream {
				return false
			}
		}
		return true
	})
}
