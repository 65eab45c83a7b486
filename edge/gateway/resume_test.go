package gateway

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// resumeSetup: alice owns a guild; her session has read READY,
// GUILD_CREATE and a few messages.
type resumeSetup struct {
	h       *harness
	alice   account
	text    string
	c       *client
	session string
}

func newResumeSetup(t *testing.T, mod ...func(*Config)) *resumeSetup {
	h := newHarness(t, mod...)
	alice := h.user("alice")
	_, text := h.guild(alice)
	c := h.dial("?v=10&encoding=json")
	ready := c.identify(alice.token, nil)
	c.waitFor("GUILD_CREATE")
	return &resumeSetup{h: h, alice: alice, text: text, c: c, session: ready["session_id"].(string)}
}

// waitDetached waits until the server noticed the dropped connection.
func waitDetached(t *testing.T, h *harness, sessionID string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if sess := h.gw.session(sessionID); sess != nil {
			sess.mu.Lock()
			gone := sess.conn == nil
			sess.mu.Unlock()
			if gone {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("server did not notice the dropped connection")
}

func TestResumeAfterDroppedConnection(t *testing.T) {
	for _, mode := range []string{"", "&compress=zlib-stream", "&compress=zstd-stream"} {
		t.Run("transport"+mode, func(t *testing.T) {
			rs := newResumeSetup(t)
			h, c := rs.h, rs.c
			c.t = t
			for i := 0; i < 5; i++ {
				h.say(rs.alice, rs.text, fmt.Sprintf("before %d", i))
				c.waitFor("MESSAGE_CREATE")
			}
			c.checkSeqs()
			last := c.lastSeq
			before := append([]int64(nil), c.seqs...)

			c.kill()
			waitDetached(t, h, rs.session)
			var sent []string
			for i := 0; i < 20; i++ {
				m := h.say(rs.alice, rs.text, fmt.Sprintf("away %d", i))
				sent = append(sent, m["id"].(string))
			}

			c2 := h.dial("?v=10&encoding=json" + mode)
			c2.t = t
			c2.hello()
			c2.send(OpResume, map[string]any{"token": rs.alice.token, "session_id": rs.session, "seq": last})
			got := c2.until("RESUMED", nil)
			var ids []string
			for _, m := range got[:len(got)-1] {
				if m.T != "MESSAGE_CREATE" {
					t.Fatalf("replayed %s, want only the missed MESSAGE_CREATEs", m.T)
				}
				ids = append(ids, m.obj()["id"].(string))
			}
			if fmt.Sprint(ids) != fmt.Sprint(sent) {
				t.Fatalf("replayed %v\nwant      %v", ids, sent)
			}
			// One unbroken sequence across both connections.
			all := append(before, c2.seqs...)
			for i, s := range all {
				if s != int64(i+1) {
					t.Fatalf("sequence across resume %v: position %d has s=%d", all, i, s)
				}
			}
			// Live events continue the sequence.
			h.say(rs.alice, rs.text, "after")
			m := c2.waitFor("MESSAGE_CREATE")
			if m.S != all[len(all)-1]+1 || m.obj()["content"] != "after" {
				t.Fatalf("live event s=%d %v after resume ending at s=%d", m.S, m.obj()["content"], all[len(all)-1])
			}
			if h.gw.Sessions() != 1 {
				t.Fatalf("%d sessions, want the one resumed", h.gw.Sessions())
			}
		})
	}
}

// TestResumeWhileStillConnected: RESUME of a session whose old connection
// the server still holds moves it to the new connection and closes the old
// one.
func TestResumeWhileStillConnected(t *testing.T) {
	rs := newResumeSetup(t)
	h := rs.h
	h.say(rs.alice, rs.text, "one")
	rs.c.waitFor("MESSAGE_CREATE")
	c2 := h.dial("")
	c2.hello()
	c2.send(OpResume, map[string]any{"token": rs.alice.token, "session_id": rs.session, "seq": rs.c.lastSeq})
	c2.waitFor("RESUMED")
	if code := rs.c.closeCode(); code != CloseUnknownError {
		t.Fatalf("old connection closed with %d, want 4000", code)
	}
	h.say(rs.alice, rs.text, "two")
	if m := c2.waitFor("MESSAGE_CREATE"); m.obj()["content"] != "two" {
		t.Fatalf("got %v", m.obj()["content"])
	}
}

func TestResumeRefused(t *testing.T) {
	rs := newResumeSetup(t)
	h := rs.h
	bob := h.user("bob")
	rs.c.kill()
	waitDetached(t, h, rs.session)
	// Push the session's sequence past the replay ring.
	for i := 0; i < replayCap+10; i++ {
		if err := h.eng.Typing(context.Background(), rs.alice.ID(), mustID(rs.text)); err != nil {
			t.Fatal(err)
		}
	}
	sess := h.gw.session(rs.session)
	sess.mu.Lock()
	top := sess.seq
	sess.mu.Unlock()

	cases := []struct {
		name  string
		token string
		sid   string
		seq   int64
	}{
		{"seq older than the replay ring", rs.alice.token, rs.session, 2},
		{"seq ahead of the session", rs.alice.token, rs.session, top + 5},
		{"negative seq", rs.alice.token, rs.session, -1},
		{"unknown session", rs.alice.token, "0123456789abcdef0123456789abcdef", 0},
		{"another user's token", bob.token, rs.session, top},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := h.dial("")
			c.t = t
			c.hello()
			c.send(OpResume, map[string]any{"token": tc.token, "session_id": tc.sid, "seq": tc.seq})
			m := c.mustNext()
			if m.Op != OpInvalidSession || string(m.D) != "false" {
				t.Fatalf("got op %d %s, want op 9 false", m.Op, m.D)
			}
			// The connection stays usable: identify on it, as discordgo
			// does after op 9.
			c.send(OpIdentify, identifyData(rs.alice.token, nil))
			if r := c.waitFor("READY").obj(); r["session_id"] == rs.session {
				t.Fatal("identify after op 9 reused the old session")
			}
		})
	}
	t.Run("the session itself still resumes from the ring", func(t *testing.T) {
		c := h.dial("")
		c.t = t
		c.hello()
		c.send(OpResume, map[string]any{"token": rs.alice.token, "session_id": rs.session, "seq": top - 3})
		got := c.until("RESUMED", nil)
		if len(got) != 4 || got[0].S != top-2 || got[3].S != top+1 {
			t.Fatalf("resume from %d: %d dispatches, first s=%d", top-3, len(got), got[0].S)
		}
	})
	t.Run("bad token", func(t *testing.T) {
		c := h.dial("")
		c.t = t
		c.hello()
		c.send(OpResume, map[string]any{"token": "nope", "session_id": rs.session, "seq": top})
		if code := c.closeCode(); code != CloseAuthenticationFailed {
			t.Fatalf("close %d, want 4004", code)
		}
	})
}

// TestNormalCloseInvalidatesSession: Discord ends a session whose client
// closes with 1000 or 1001; other closes keep it resumable.
func TestNormalCloseInvalidatesSession(t *testing.T) {
	for _, tc := range []struct {
		code      int
		resumable bool
	}{{websocket.CloseNormalClosure, false}, {websocket.CloseGoingAway, false}, {4200, true}, {websocket.CloseServiceRestart, true}} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			rs := newResumeSetup(t)
			h := rs.h
			_ = rs.c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(tc.code, ""), time.Now().Add(time.Second))
			deadline := time.Now().Add(30 * time.Second)
			for {
				sess := h.gw.session(rs.session)
				if sess == nil {
					break
				}
				sess.mu.Lock()
				gone := sess.conn == nil
				sess.mu.Unlock()
				if gone {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("server did not notice the close")
				}
				time.Sleep(5 * time.Millisecond)
			}
			c := h.dial("")
			c.hello()
			c.send(OpResume, map[string]any{"token": rs.alice.token, "session_id": rs.session, "seq": rs.c.lastSeq})
			m := c.mustNext()
			resumed := m.Op == OpDispatch && m.T == "RESUMED"
			if resumed != tc.resumable {
				t.Fatalf("after close %d: op %d %s %s; resumable=%v", tc.code, m.Op, m.T, m.D, tc.resumable)
			}
		})
	}
}

// TestSessionExpires: a session detached longer than the resume window
// cannot be resumed.
func TestSessionExpires(t *testing.T) {
	rs := newResumeSetup(t, func(c *Config) { c.ResumeWindow = 300 * time.Millisecond })
	h := rs.h
	rs.c.kill()
	deadline := time.Now().Add(30 * time.Second)
	for h.gw.Sessions() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("session did not expire")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := h.dial("")
	c.hello()
	c.send(OpResume, map[string]any{"token": rs.alice.token, "session_id": rs.session, "seq": rs.c.lastSeq})
	if m := c.mustNext(); m.Op != OpInvalidSession {
		t.Fatalf("op %d, want 9", m.Op)
	}
}
