package gateway

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestCloseCodes drives every close code Accord sends. Each case gets a
// fresh connection; before, if set, identifies first.
func TestCloseCodes(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.EventLimit, c.EventWindow = 5, time.Minute })
	alice := h.user("alice")
	owner := h.user("owner")
	bot := h.bot(owner, "closebot")
	noPriv := h.bot(owner, "nopriv")
	h.must(200, "PATCH", "/applications/@me", noPriv.token, map[string]any{"flags": 0})

	big := []byte(`{"op":1,"d":null,"x":"` + strings.Repeat("a", 5000) + `"}`)
	cases := []struct {
		name     string
		query    string
		identify bool // identify alice first
		send     func(c *client)
		want     int
	}{
		{name: "unknown opcode before identify", send: func(c *client) { c.send(42, nil) }, want: CloseUnknownOpcode},
		{name: "unknown opcode after identify", identify: true, send: func(c *client) { c.send(42, nil) }, want: CloseUnknownOpcode},
		{name: "dispatch opcode from client", identify: true, send: func(c *client) { c.send(OpDispatch, map[string]any{}) }, want: CloseUnknownOpcode},
		{name: "garbage bytes", send: func(c *client) { c.sendRaw([]byte{0xff, 0x00, 0x13, 0x37}) }, want: CloseDecodeError},
		{name: "JSON array", send: func(c *client) { c.sendRaw([]byte(`[1,2,3]`)) }, want: CloseDecodeError},
		{name: "JSON string", send: func(c *client) { c.sendRaw([]byte(`"op"`)) }, want: CloseDecodeError},
		{name: "JSON null", send: func(c *client) { c.sendRaw([]byte(`null`)) }, want: CloseDecodeError},
		{name: "op as string", send: func(c *client) { c.sendRaw([]byte(`{"op":"1"}`)) }, want: CloseDecodeError},
		{name: "trailing brace", send: func(c *client) { c.sendRaw([]byte(`{"op":1,"d":null}}`)) }, want: CloseDecodeError},
		{name: "two objects", send: func(c *client) { c.sendRaw([]byte(`{"op":1}{"op":1}`)) }, want: CloseDecodeError},
		{name: "binary garbage", send: func(c *client) {
			if err := c.ws.WriteMessage(websocket.BinaryMessage, []byte{0x83, 0x74, 0, 0}); err != nil {
				t.Fatal(err)
			}
		}, want: CloseDecodeError},
		{name: "payload over 4096 bytes", send: func(c *client) { c.sendRaw(big) }, want: CloseDecodeError},
		{name: "presence before identify", send: func(c *client) {
			c.send(OpPresenceUpdate, map[string]any{"status": "online", "activities": []any{}, "since": nil, "afk": false})
		}, want: CloseNotAuthenticated},
		{name: "voice state before identify", send: func(c *client) {
			c.send(OpVoiceStateUpdate, map[string]any{"guild_id": "1", "channel_id": nil})
		}, want: CloseNotAuthenticated},
		{name: "request members before identify", send: func(c *client) {
			c.send(OpRequestGuildMembers, map[string]any{"guild_id": "1", "query": "", "limit": 0})
		}, want: CloseNotAuthenticated},
		{name: "bad token", send: func(c *client) { c.send(OpIdentify, identifyData("nope", nil)) }, want: CloseAuthenticationFailed},
		{name: "empty identify", send: func(c *client) { c.send(OpIdentify, nil) }, want: CloseAuthenticationFailed},
		{name: "identify twice", identify: true, send: func(c *client) { c.send(OpIdentify, identifyData(alice.token, nil)) }, want: CloseAlreadyAuthenticated},
		{name: "resume after identify", identify: true, send: func(c *client) {
			c.send(OpResume, map[string]any{"token": alice.token, "session_id": "x", "seq": 0})
		}, want: CloseAlreadyAuthenticated},
		{name: "rate limited", send: func(c *client) {
			for i := 0; i < 6; i++ {
				c.send(OpHeartbeat, nil)
			}
		}, want: CloseRateLimited},
		{name: "shard id out of range", send: func(c *client) {
			d := identifyData(alice.token, nil)
			d["shard"] = []int{2, 2}
			c.send(OpIdentify, d)
		}, want: CloseInvalidShard},
		{name: "shard count zero", send: func(c *client) {
			d := identifyData(alice.token, nil)
			d["shard"] = []int{0, 0}
			c.send(OpIdentify, d)
		}, want: CloseInvalidShard},
		{name: "negative shard", send: func(c *client) {
			d := identifyData(alice.token, nil)
			d["shard"] = []int{-1, 2}
			c.send(OpIdentify, d)
		}, want: CloseInvalidShard},
		{name: "undefined intent bits", send: func(c *client) { c.send(OpIdentify, identifyData(alice.token, intents(1<<30))) }, want: CloseInvalidIntents},
		{name: "negative intents", send: func(c *client) { c.send(OpIdentify, identifyData(alice.token, intents(-1))) }, want: CloseInvalidIntents},
		{name: "bot without intents", send: func(c *client) { c.send(OpIdentify, identifyData(bot.token, nil)) }, want: CloseInvalidIntents},
		{name: "bot with privileged intents its app allows", send: func(c *client) {
			c.send(OpIdentify, identifyData(bot.token, intents(IntentGuilds|IntentGuildMembers)))
			c.waitFor("READY")
			c.send(42, nil)
		}, want: CloseUnknownOpcode},
		{name: "bot requesting GUILD_MEMBERS without the flag", send: func(c *client) {
			c.send(OpIdentify, identifyData(noPriv.token, intents(IntentGuilds|IntentGuildMembers)))
		}, want: CloseDisallowedIntents},
		{name: "bot requesting GUILD_PRESENCES without the flag", send: func(c *client) {
			c.send(OpIdentify, identifyData(noPriv.token, intents(IntentGuilds|IntentGuildPresences)))
		}, want: CloseDisallowedIntents},
		{name: "bot requesting MESSAGE_CONTENT without the flag", send: func(c *client) {
			c.send(OpIdentify, identifyData(noPriv.token, intents(IntentGuildMessages|IntentMessageContent)))
		}, want: CloseDisallowedIntents},
		{name: "bad api version", query: "?v=8&encoding=json", want: CloseInvalidAPIVersion},
		{name: "non-numeric api version", query: "?v=abc", want: CloseInvalidAPIVersion},
		{name: "etf encoding", query: "?v=10&encoding=etf", want: CloseInvalidAPIVersion},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.query
			if q == "" {
				q = "?v=10&encoding=json"
			}
			c := h.dial(q)
			c.t = t
			if tc.send == nil { // refused at connection time
				if got := c.closeCode(); got != tc.want {
					t.Fatalf("close code %d, want %d", got, tc.want)
				}
				return
			}
			if tc.identify {
				c.identify(alice.token, nil)
			} else {
				c.hello()
			}
			tc.send(c)
			if got := c.closeCode(); got != tc.want {
				t.Fatalf("close code %d, want %d", got, tc.want)
			}
		})
	}
}

// TestETFIsRefusedBeforeAnyJSON: a client asking for ETF cannot parse
// JSON, so it must get the close frame and nothing else.
func TestETFIsRefusedBeforeAnyJSON(t *testing.T) {
	h := newHarness(t)
	ws, _, err := websocket.DefaultDialer.Dial(h.ws+"?v=10&encoding=etf", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, data, err := ws.ReadMessage()
	ce, ok := err.(*websocket.CloseError)
	if !ok || ce.Code != CloseInvalidAPIVersion {
		t.Fatalf("got %q, %v; want close %d before any payload", data, err, CloseInvalidAPIVersion)
	}
}

func TestHeartbeat(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.HeartbeatInterval = 300 * time.Millisecond })
	alice := h.user("alice")

	t.Run("HELLO carries the interval", func(t *testing.T) {
		c := h.dial("")
		c.t = t
		if got := c.hello()["heartbeat_interval"]; got != float64(300) {
			t.Fatalf("heartbeat_interval %v", got)
		}
	})
	t.Run("ACK before identify", func(t *testing.T) {
		c := h.dial("")
		c.t = t
		c.hello()
		c.send(OpHeartbeat, nil)
		if m := c.mustNext(); m.Op != OpHeartbeatACK {
			t.Fatalf("op %d, want ACK", m.Op)
		}
	})
	t.Run("ACK after identify", func(t *testing.T) {
		c := h.dial("")
		c.t = t
		c.identify(alice.token, nil)
		c.send(OpHeartbeat, c.lastSeq)
		for {
			if m := c.mustNext(); m.Op == OpHeartbeatACK {
				break
			}
		}
	})
	t.Run("silence times out with 4009", func(t *testing.T) {
		c := h.dial("")
		c.t = t
		c.identify(alice.token, nil)
		if got := c.closeCode(); got != CloseSessionTimedOut {
			t.Fatalf("close %d, want 4009", got)
		}
	})
	t.Run("heartbeats keep the connection", func(t *testing.T) {
		c := h.dial("")
		c.t = t
		c.identify(alice.token, nil)
		stop := time.Now().Add(2500 * time.Millisecond) // past the timeout without heartbeats
		for time.Now().Before(stop) {
			c.send(OpHeartbeat, c.lastSeq)
			for {
				m := c.mustNext()
				if m.Op == OpHeartbeatACK {
					break
				}
			}
			time.Sleep(150 * time.Millisecond)
		}
	})
	t.Run("other payloads are not heartbeats", func(t *testing.T) {
		c := h.dial("")
		c.t = t
		c.identify(alice.token, nil)
		// Presence updates every 150 ms, but no heartbeat: still a
		// zombie as far as the heartbeat protocol goes.
		done := make(chan int, 1)
		go func() {
			for i := 0; i < 20; i++ {
				if c.ws.WriteJSON(map[string]any{"op": OpPresenceUpdate, "d": map[string]any{"status": "online", "activities": []any{}, "since": nil, "afk": false}}) != nil {
					break
				}
				time.Sleep(150 * time.Millisecond)
			}
			done <- 0
		}()
		if got := c.closeCode(); got != CloseSessionTimedOut {
			t.Fatalf("close %d, want 4009", got)
		}
		<-done
	})
}

// TestLargePayloadIsNotBuffered: the 4096-byte limit holds for a message
// whose header claims far more, without the server reading it whole.
func TestLargePayloadIsNotBuffered(t *testing.T) {
	h := newHarness(t)
	c := h.dial("")
	c.hello()
	w, err := c.ws.NextWriter(websocket.TextMessage)
	if err != nil {
		t.Fatal(err)
	}
	// Write 64 KiB in fragments; the server must close after 4 KiB.
	chunk := bytes.Repeat([]byte("x"), 1024)
	for i := 0; i < 64; i++ {
		if _, err := w.Write(chunk); err != nil {
			break
		}
	}
	_ = w.Close()
	if got := c.closeCode(); got != CloseDecodeError {
		t.Fatalf("close %d, want 4002", got)
	}
}
