package gateway

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// chunks reads GUILD_MEMBERS_CHUNK events until chunk_count of them with
// the nonce arrived.
func chunks(c *client, nonce string) []map[string]any {
	c.t.Helper()
	var out []map[string]any
	for {
		d := c.waitMatch("GUILD_MEMBERS_CHUNK", func(d map[string]any) bool { return d["nonce"] == nonce }).obj()
		out = append(out, d)
		if len(out) == int(d["chunk_count"].(float64)) {
			return out
		}
	}
}

func memberNames(chs []map[string]any) []string {
	var out []string
	for _, ch := range chs {
		for _, m := range ch["members"].([]any) {
			out = append(out, m.(map[string]any)["user"].(map[string]any)["username"].(string))
		}
	}
	return out
}

func TestRequestGuildMembers(t *testing.T) {
	seed, sg := seedGuild(4999, "m", []int{7}, nil) // 5,000 members with the owner
	h := newSeededHarness(t, seed)
	gid := sg.guildID.String()
	online := h.dial("")
	online.identify(sg.tokens[7].token, nil)

	c := h.dial("")
	c.identify(sg.owner.token, intents(IntentGuilds|IntentGuildMembers|IntentGuildPresences))
	c.waitFor("GUILD_CREATE")
	noPres := h.dial("")
	noPres.identify(sg.owner.token, intents(IntentGuilds|IntentGuildMembers))
	noPres.waitFor("GUILD_CREATE")

	t.Run("everyone in chunks of 1000", func(t *testing.T) {
		c.t = t
		c.send(OpRequestGuildMembers, map[string]any{"guild_id": gid, "query": "", "limit": 0, "nonce": "all"})
		chs := chunks(c, "all")
		if len(chs) != 5 {
			t.Fatalf("%d chunks, want 5", len(chs))
		}
		seen := map[string]bool{}
		for i, ch := range chs {
			if ch["chunk_index"] != float64(i) || ch["chunk_count"] != float64(5) || ch["guild_id"] != gid {
				t.Fatalf("chunk %d: index %v count %v guild %v", i, ch["chunk_index"], ch["chunk_count"], ch["guild_id"])
			}
			ms := ch["members"].([]any)
			if len(ms) != 1000 {
				t.Fatalf("chunk %d has %d members", i, len(ms))
			}
			if _, ok := ch["presences"]; ok {
				t.Fatal("presences without presences:true")
			}
			for _, m := range ms {
				mm := m.(map[string]any)
				u := mm["user"].(map[string]any)
				if seen[u["id"].(string)] {
					t.Fatalf("member %v twice", u["id"])
				}
				seen[u["id"].(string)] = true
				if _, ok := mm["roles"].([]any); !ok || mm["joined_at"] == nil {
					t.Fatalf("member without roles/joined_at: %v", mm)
				}
			}
		}
		if len(seen) != 5000 {
			t.Fatalf("%d distinct members", len(seen))
		}
	})
	t.Run("user_ids with unknown ones", func(t *testing.T) {
		c.t = t
		ids := []string{sg.members[1].String(), sg.members[4000].String(), "12345", "67890"}
		c.send(OpRequestGuildMembers, map[string]any{"guild_id": gid, "user_ids": ids, "nonce": "ids"})
		chs := chunks(c, "ids")
		if len(chs) != 1 {
			t.Fatalf("%d chunks", len(chs))
		}
		if got := memberNames(chs); !slices.Equal(got, []string{sg.names[1], sg.names[4000]}) {
			t.Fatalf("members %v", got)
		}
		if nf := fmt.Sprint(chs[0]["not_found"]); nf != "[12345 67890]" {
			t.Fatalf("not_found %s", nf)
		}
	})
	t.Run("one user_id as a plain snowflake", func(t *testing.T) {
		c.t = t
		c.send(OpRequestGuildMembers, map[string]any{"guild_id": gid, "user_ids": sg.members[2].String(), "nonce": "one"})
		if got := memberNames(chunks(c, "one")); !slices.Equal(got, []string{sg.names[2]}) {
			t.Fatalf("members %v", got)
		}
	})
	t.Run("presences with GUILD_PRESENCES", func(t *testing.T) {
		c.t = t
		ids := []string{sg.members[7].String(), sg.members[8].String()}
		c.send(OpRequestGuildMembers, map[string]any{"guild_id": gid, "user_ids": ids, "presences": true, "nonce": "pres"})
		ch := chunks(c, "pres")[0]
		pres, ok := ch["presences"].([]any)
		if !ok {
			t.Fatalf("no presences: %v", ch)
		}
		status := map[string]string{}
		for _, p := range pres {
			pm := p.(map[string]any)
			status[pm["user"].(map[string]any)["id"].(string)] = pm["status"].(string)
		}
		if status[sg.members[7].String()] != "online" {
			t.Fatalf("connected member's presence %v", status)
		}
		if s, ok := status[sg.members[8].String()]; ok && s != "offline" {
			t.Fatalf("offline member shown %q", s)
		}
	})
	t.Run("presences without GUILD_PRESENCES are ignored, not fatal", func(t *testing.T) {
		noPres.t = t
		noPres.send(OpRequestGuildMembers, map[string]any{"guild_id": gid, "user_ids": []string{sg.members[7].String()}, "presences": true, "nonce": "np"})
		ch := chunks(noPres, "np")[0]
		if _, ok := ch["presences"]; ok {
			t.Fatalf("presences sent without the intent: %v", ch["presences"])
		}
		noPres.send(OpHeartbeat, nil) // still connected
		for m := noPres.mustNext(); m.Op != OpHeartbeatACK; m = noPres.mustNext() {
		}
	})
	t.Run("query prefix with limit", func(t *testing.T) {
		c.t = t
		c.send(OpRequestGuildMembers, map[string]any{"guild_id": gid, "query": "M001", "limit": 5, "nonce": "q"})
		got := memberNames(chunks(c, "q"))
		if len(got) != 5 {
			t.Fatalf("%d members for limit 5: %v", len(got), got)
		}
		for _, n := range got {
			if !strings.HasPrefix(n, "m001") {
				t.Fatalf("%q does not match the prefix", n)
			}
		}
	})
	t.Run("query prefix caps at 100", func(t *testing.T) {
		c.t = t
		c.send(OpRequestGuildMembers, map[string]any{"guild_id": gid, "query": "m0", "limit": 0, "nonce": "cap"})
		if got := memberNames(chunks(c, "cap")); len(got) != 100 {
			t.Fatalf("%d members, want 100", len(got))
		}
	})
	t.Run("no match is one empty chunk", func(t *testing.T) {
		c.t = t
		c.send(OpRequestGuildMembers, map[string]any{"guild_id": gid, "query": "nobody", "limit": 10, "nonce": "none"})
		chs := chunks(c, "none")
		if len(chs) != 1 || len(chs[0]["members"].([]any)) != 0 {
			t.Fatalf("chunks %v", chs)
		}
	})
	t.Run("over-long nonce is dropped", func(t *testing.T) {
		c.t = t
		long := strings.Repeat("n", 33)
		c.send(OpRequestGuildMembers, map[string]any{"guild_id": gid, "user_ids": []string{sg.members[3].String()}, "nonce": long})
		d := c.waitFor("GUILD_MEMBERS_CHUNK").obj()
		if _, ok := d["nonce"]; ok {
			t.Fatalf("nonce %v echoed", d["nonce"])
		}
	})
	t.Run("whole list without GUILD_MEMBERS", func(t *testing.T) {
		cl := h.dial("")
		cl.t = t
		cl.identify(sg.owner.token, intents(IntentGuilds))
		cl.send(OpRequestGuildMembers, map[string]any{"guild_id": gid, "query": "", "limit": 0})
		if code := cl.closeCode(); code != CloseDisallowedIntents {
			t.Fatalf("close %d, want 4014", code)
		}
	})
}

// TestLargeThreshold: a guild over the session's large_threshold is sent
// with large:true and, with GUILD_PRESENCES, only the members who are
// visibly online, have a role, or are the session's own; presences only
// for those online. Without GUILD_PRESENCES only the own member.
func TestLargeThreshold(t *testing.T) {
	seed, sg := seedGuild(60, "l", []int{1, 2, 3}, []int{10})
	h := newSeededHarness(t, seed)
	for _, i := range []int{1, 2} {
		c := h.dial("")
		c.identify(sg.tokens[i].token, nil)
	}
	inv := h.dial("")
	inv.identifyWith(sg.tokens[3].token, nil, map[string]any{"presence": map[string]any{"status": "invisible", "activities": []any{}, "since": nil, "afk": false}})

	names := func(gc map[string]any, key string) []string {
		var out []string
		for _, x := range gc[key].([]any) {
			u := x.(map[string]any)["user"].(map[string]any)
			if n, ok := u["username"].(string); ok {
				out = append(out, n)
			} else {
				out = append(out, u["id"].(string))
			}
		}
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct {
		name      string
		threshold int
		intents   int
		large     bool
		members   []string
		presences []string
	}{
		{"over the threshold", 50, allIntents, true,
			[]string{sg.names[1], sg.names[10], sg.names[2], "lowner"},
			[]string{sg.members[1].String(), sg.members[2].String(), sg.owner.id}},
		{"under a higher threshold", 100, allIntents, false, nil,
			[]string{sg.members[1].String(), sg.members[2].String(), sg.owner.id}},
		{"without GUILD_PRESENCES", 50, IntentGuilds | IntentGuildMembers, true, []string{"lowner"}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := h.dial("")
			c.t = t
			c.identifyWith(sg.owner.token, intents(tc.intents), map[string]any{"large_threshold": tc.threshold})
			gc := c.waitFor("GUILD_CREATE").obj()
			if gc["large"] != tc.large || gc["member_count"] != float64(61) {
				t.Fatalf("large=%v member_count=%v", gc["large"], gc["member_count"])
			}
			slices.Sort(tc.members)
			slices.Sort(tc.presences)
			got := names(gc, "members")
			if tc.members == nil {
				if len(got) != 61 {
					t.Fatalf("%d members, want all 61", len(got))
				}
			} else if !slices.Equal(got, tc.members) {
				t.Fatalf("members %v, want %v", got, tc.members)
			}
			if p := names(gc, "presences"); !slices.Equal(p, tc.presences) && !(len(p) == 0 && len(tc.presences) == 0) {
				t.Fatalf("presences %v, want %v", p, tc.presences)
			}
		})
	}
}
