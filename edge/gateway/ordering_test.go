package gateway

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestSequenceOrderAcrossGuilds: events of three guilds published at once
// from three goroutines reach a member of both with s = 1, 2, 3, ... in
// order on the wire.
func TestSequenceOrderAcrossGuilds(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	_, t1 := h.guild(alice)
	_, t2 := h.guild(alice)
	_, t3 := h.guild(alice)
	c := h.dial("")
	c.identify(alice.token, nil)
	for i := 0; i < 3; i++ {
		c.waitFor("GUILD_CREATE")
	}

	const n = 1000
	var wg sync.WaitGroup
	for _, ch := range []string{t1, t2, t3} {
		wg.Add(1)
		go func(ch string) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				_ = h.eng.Typing(context.Background(), alice.ID(), mustID(ch))
			}
		}(ch)
	}
	got := 0
	for got < 3*n {
		if m := c.mustNext(); m.T == "TYPING_START" {
			got++
		}
	}
	wg.Wait()
	c.checkSeqs()
}

// TestReadyComesFirst: a session identifying while its guild is busy
// gets READY as s=1, then its GUILD_CREATE, and only then the guild's
// events, with no gap.
func TestReadyComesFirst(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	_, text := h.guild(alice)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = h.eng.Typing(context.Background(), alice.ID(), mustID(text))
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for i := 0; i < 20; i++ {
		c := h.dial("")
		c.hello()
		c.send(OpIdentify, identifyData(alice.token, nil))
		var types []string
		for len(types) < 5 {
			m := c.mustNext()
			if m.Op == OpDispatch {
				types = append(types, m.T)
			}
		}
		if types[0] != "READY" || types[1] != "GUILD_CREATE" {
			t.Fatalf("identify %d: first dispatches %v", i, types)
		}
		c.checkSeqs()
		c.ws.Close()
	}
}

// TestWithoutGuildsIntent: no GUILD_CREATE (on connect or on join) and no
// GUILD_DELETE without GUILDS, but the guild's other events still come.
func TestWithoutGuildsIntent(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	gid, text := h.guild(alice)
	bot := h.bot(alice, "noguilds")
	h.addBot(alice, gid, bot)
	c := h.dial("")
	ready := c.identify(bot.token, intents(IntentGuildMessages|IntentMessageContent))
	if len(ready["guilds"].([]any)) != 1 {
		t.Fatalf("READY guilds %v", ready["guilds"])
	}
	gid2, text2 := h.guild(alice)
	h.addBot(alice, gid2, bot)
	h.say(alice, text, "one")
	h.say(alice, text2, "two")
	h.must(204, "DELETE", "/guilds/"+gid2+"/members/"+bot.id, alice.token, nil)
	h.say(alice, text, "three")
	var got []string
	for _, m := range c.until("MESSAGE_CREATE", func(d map[string]any) bool { return d["content"] == "three" }) {
		got = append(got, sig(m))
	}
	want := []string{"MESSAGE_CREATE one", "MESSAGE_CREATE two", "MESSAGE_CREATE three"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestShardRouting: a bot on two shards gets each guild's events on the
// guild's shard only, and DMs on shard 0 only.
func TestShardRouting(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	bot := h.bot(alice, "sharded")
	shardOf := func(gid string) int { return int((mustID(gid) >> 22) % 2) }
	// Guilds until each shard has one (IDs carry the millisecond).
	var guilds [][2]string // id, text
	has := [2]bool{}
	for !(has[0] && has[1]) {
		if len(guilds) > 50 {
			t.Fatal("could not spread guilds over two shards")
		}
		id, text := h.guild(alice)
		h.addBot(alice, id, bot)
		guilds = append(guilds, [2]string{id, text})
		has[shardOf(id)] = true
		time.Sleep(time.Millisecond)
	}
	shards := make([]*client, 2)
	for i := range shards {
		shards[i] = h.dial("")
		ready := shards[i].identifyWith(bot.token, intents(IntentGuilds|IntentGuildMessages|IntentDirectMessages|IntentMessageContent),
			map[string]any{"shard": []int{i, 2}})
		if sh := ready["shard"].([]any); sh[0] != float64(i) || sh[1] != float64(2) {
			t.Fatalf("READY shard %v", ready["shard"])
		}
		for _, g := range ready["guilds"].([]any) {
			if id := g.(map[string]any)["id"].(string); shardOf(id) != i {
				t.Fatalf("shard %d READY lists guild %s", i, id)
			}
		}
	}
	for _, g := range guilds {
		h.say(alice, g[1], "in "+g[0])
	}
	dm := h.must(200, "POST", "/users/@me/channels", alice.token, map[string]any{"recipient_id": bot.id})
	h.say(alice, dm["id"].(string), "dm")
	markers := [2]string{}
	for _, g := range guilds {
		if markers[shardOf(g[0])] == "" {
			markers[shardOf(g[0])] = g[0]
			h.must(200, "PATCH", "/guilds/"+g[0], alice.token, map[string]any{"name": "marker"})
		}
	}
	for i, c := range shards {
		gotDM, msgs := false, 0
		for _, m := range c.until("GUILD_UPDATE", func(d map[string]any) bool { return d["id"] == markers[i] }) {
			d := m.obj()
			switch m.T {
			case "GUILD_CREATE", "GUILD_UPDATE":
				if shardOf(d["id"].(string)) != i {
					t.Fatalf("shard %d got %s of guild %v", i, m.T, d["id"])
				}
			case "MESSAGE_CREATE":
				if d["content"] == "dm" {
					gotDM = true
					continue
				}
				msgs++
				if shardOf(d["guild_id"].(string)) != i {
					t.Fatalf("shard %d got a message of guild %v", i, d["guild_id"])
				}
			}
		}
		if gotDM != (i == 0) {
			t.Fatalf("shard %d: DM received = %v", i, gotDM)
		}
		want := 0
		for _, g := range guilds {
			if shardOf(g[0]) == i {
				want++
			}
		}
		if msgs != want {
			t.Fatalf("shard %d: %d guild messages, want %d", i, msgs, want)
		}
	}
}
