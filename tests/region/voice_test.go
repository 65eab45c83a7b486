package region_test

import (
	"context"
	"testing"
	"time"

	"github.com/accord-chat/accord/internal/accordtest"
	"github.com/accord-chat/accord/internal/voiceclient"
)

// inVoice is a user in the voice channel: their gateway on one node, and
// the voice server it was sent to.
type inVoice struct {
	u        user
	gw       *accordtest.Gateway
	endpoint string
	token    string
}

func joinVoice(t *testing.T, base string, u user, guild, channel string) *inVoice {
	t.Helper()
	gw := accordtest.DialGateway(t, base, u.token)
	gw.Send(4, map[string]any{"guild_id": guild, "channel_id": channel, "self_mute": false, "self_deaf": false})
	su := gw.Wait("VOICE_SERVER_UPDATE", nil)
	return &inVoice{u: u, gw: gw, endpoint: su["endpoint"].(string), token: su["token"].(string)}
}

// talk connects the user's voice client to its voice server and sends
// audio until the test ends.
func (v *inVoice) talk(t *testing.T, guild string) *voiceclient.Client {
	t.Helper()
	c, err := voiceclient.Dial(context.Background(), voiceclient.Options{URL: "ws://" + v.endpoint + "?v=8",
		ServerID: guild, UserID: v.u.id, SessionID: v.gw.SessionID, Token: v.token})
	if err != nil {
		t.Fatalf("voice connect to %s: %v", v.endpoint, err)
	}
	stop := c.Talk(func() bool { return true })
	t.Cleanup(func() { stop(); c.Close() })
	return c
}

// hear waits until each client got 25 more packets from the other.
func hear(t *testing.T, what string, a, b *voiceclient.Client, aID, bID string) {
	t.Helper()
	fromB, fromA := a.Stream(bID).Packets, b.Stream(aID).Packets
	accordtest.WaitFor(t, what, func() bool {
		return a.Stream(bID).Packets >= fromB+25 && b.Stream(aID).Packets >= fromA+25
	})
}

// TestRegionVoiceHostKilled: a voice channel hosted by node 1, with
// members whose gateways are on nodes 2 and 3 (sent to node 1's voice
// server: the endpoint of another node of the region). SIGKILL node 1:
// the region notices it is gone, moves the channel to a live node, both
// members get a new VOICE_SERVER_UPDATE naming it, reconnect, and hear
// each other again.
func TestRegionVoiceHostKilled(t *testing.T) {
	r := startRegion(t, 3)
	owner, a, b := register(t, r.url(1), "vowner"), register(t, r.url(2), "va"), register(t, r.url(3), "vb")
	guild := mustAPI(t, r.url(1), "POST", "/guilds", owner.token, map[string]any{"name": "voice region"}, 201)["id"].(string)
	channel := mustAPI(t, r.url(1), "POST", "/guilds/"+guild+"/channels", owner.token, map[string]any{"name": "talk", "type": 2}, 201)["id"].(string)
	code := mustAPI(t, r.url(1), "POST", "/channels/"+channel+"/invites", owner.token, map[string]any{}, 200)["code"].(string)
	for i, u := range []user{a, b} {
		// Through their own nodes, once those have the invite.
		accordtest.WaitFor(t, "the invite on every node", func() bool {
			status, _, err := api(r.url(i+2), "POST", "/invites/"+code, u.token, nil)
			return err == nil && status == 200
		})
	}

	// The owner joins first, through node 1: node 1 hosts the channel.
	host := joinVoice(t, r.url(1), owner, guild, channel)
	va, vb := joinVoice(t, r.url(2), a, guild, channel), joinVoice(t, r.url(3), b, guild, channel)
	if va.endpoint != host.endpoint || vb.endpoint != host.endpoint {
		t.Fatalf("endpoints %s and %s, want node 1's %s for both", va.endpoint, vb.endpoint, host.endpoint)
	}
	ca, cb := va.talk(t, guild), vb.talk(t, guild)
	hear(t, "a and b through node 1", ca, cb, a.id, b.id)

	r.kill(1)
	moved := func(d map[string]any) bool { return d["endpoint"] != host.endpoint }
	sa := va.gw.WaitWithin(2*time.Minute, "VOICE_SERVER_UPDATE", moved)
	sb := vb.gw.WaitWithin(2*time.Minute, "VOICE_SERVER_UPDATE", moved)
	if sa["endpoint"] != sb["endpoint"] {
		t.Fatalf("after node 1 died: a was sent to %v, b to %v (one channel, one host)", sa["endpoint"], sb["endpoint"])
	}
	t.Logf("channel moved from %s to %s", host.endpoint, sa["endpoint"])
	va.endpoint, va.token = sa["endpoint"].(string), sa["token"].(string)
	vb.endpoint, vb.token = sb["endpoint"].(string), sb["token"].(string)
	ca2, cb2 := va.talk(t, guild), vb.talk(t, guild)
	hear(t, "a and b through the new host", ca2, cb2, a.id, b.id)
}
