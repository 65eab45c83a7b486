package gateway

import (
	"fmt"
	"strings"
	"testing"
)

// TestTransportCompression: READY, GUILD_CREATE, many message events and
// a member chunk larger than a zstd block all decode through one stream
// context per connection; each payload is exactly one WebSocket message
// (checked by the client), zlib messages end in 00 00 ff ff.
func TestTransportCompression(t *testing.T) {
	seed, sg := seedGuild(999, "z", nil, nil)
	h := newSeededHarness(t, seed)
	text := sg.channel.String()
	for _, mode := range []string{"zlib-stream", "zstd-stream"} {
		t.Run(mode, func(t *testing.T) {
			c := h.dial("?v=10&encoding=json&compress=" + mode)
			c.t = t
			ready := c.identifyWith(sg.owner.token, nil, map[string]any{"compress": false, "large_threshold": 250})
			if ready["session_id"] == "" || ready["user"].(map[string]any)["id"] != sg.owner.id {
				t.Fatalf("READY %v", ready)
			}
			gc := c.waitFor("GUILD_CREATE").obj()
			if gc["id"] != sg.guildID.String() || gc["member_count"] != float64(1000) || gc["large"] != true {
				t.Fatalf("GUILD_CREATE id=%v member_count=%v large=%v", gc["id"], gc["member_count"], gc["large"])
			}
			for i := 0; i < 150; i++ {
				content := fmt.Sprintf("%s message %d ", mode, i)
				if i%10 == 0 {
					content += strings.Repeat("ü", 900) // compressible, multi-byte, near the limit
				}
				h.say(sg.owner, text, content)
				m := c.waitFor("MESSAGE_CREATE").obj()
				if m["content"] != content {
					t.Fatalf("message %d decoded as %q", i, m["content"])
				}
			}
			c.send(OpRequestGuildMembers, map[string]any{"guild_id": sg.guildID.String(), "query": "", "limit": 0, "nonce": mode})
			chunk := c.waitFor("GUILD_MEMBERS_CHUNK").obj()
			if chunk["nonce"] != mode || len(chunk["members"].([]any)) != 1000 {
				t.Fatalf("chunk nonce %v with %d members", chunk["nonce"], len(chunk["members"].([]any)))
			}
			h.say(sg.owner, text, "after the big one")
			if m := c.waitFor("MESSAGE_CREATE").obj(); m["content"] != "after the big one" {
				t.Fatalf("got %q", m["content"])
			}
			c.checkSeqs()
		})
	}
}

func TestUnknownCompressionRefused(t *testing.T) {
	h := newHarness(t)
	res, err := h.srv.Client().Get(h.srv.URL + "/gateway?v=10&compress=gzip")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 {
		t.Fatalf("status %d, want 400", res.StatusCode)
	}
}
