package gateway

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/accord-chat/accord/internal/accordtest"
)

// TestAckReplay: after a heartbeat acknowledges seq, a RESUME from seq or
// later replays exactly what follows it, one from before seq is refused,
// and the ring keeps working as a ring afterwards, wrapped or not.
func TestAckReplay(t *testing.T) {
	p := &shared{t: "TYPING_START", d: []byte("{}")}
	check := func(t *testing.T, s *session, acked int64) {
		t.Helper()
		oldest := max(acked, s.seq-replayCap, 0) // the oldest seq a RESUME may carry
		for from := int64(-1); from <= s.seq+1; from++ {
			missed, ok := s.missedSince(from)
			if want := from >= oldest && from <= s.seq; ok != want {
				t.Fatalf("seq %d, acked %d, top %d: resumable %v, want %v", from, acked, s.seq, ok, want)
			}
			if !ok {
				continue
			}
			if int64(len(missed)) != s.seq-from {
				t.Fatalf("resume from %d: %d frames, want %d", from, len(missed), s.seq-from)
			}
			for i, f := range missed {
				if f.seq != from+1+int64(i) {
					t.Fatalf("resume from %d: frame %d has s=%d", from, i, f.seq)
				}
			}
		}
	}
	for _, sent := range []int64{0, 5, replayCap - 1, replayCap, replayCap + 7, 3*replayCap + 100} {
		for _, ack := range []int64{-1, 0, 1, sent / 2, sent - 1, sent, sent + 5, sent - replayCap + 3} {
			t.Run(fmt.Sprintf("sent %d ack %d", sent, ack), func(t *testing.T) {
				s := &session{ready: true}
				for range sent {
					s.dispatch(p)
				}
				s.ackReplay(nil, ack)
				acked := max(min(ack, s.seq), 0)
				check(t, s, acked)
				if acked == s.seq && s.replay != nil {
					t.Fatalf("everything acknowledged, ring still holds %d frames (cap %d)", len(s.replay), cap(s.replay))
				}
				// Later dispatches land after what was kept, through a wrap.
				for range replayCap + 30 {
					s.dispatch(p)
					if s.seq%97 == 0 {
						check(t, s, acked)
					}
				}
				check(t, s, acked)
			})
		}
	}
}

// TestHeartbeatReleasesReplay: an idle session whose client has
// acknowledged everything holds no frames; what it has not acknowledged
// is still replayed, and a RESUME from before the acknowledgement gets
// op 9.
func TestHeartbeatReleasesReplay(t *testing.T) {
	rs := newResumeSetup(t)
	h, c := rs.h, rs.c
	sess := h.gw.session(rs.session)
	ringLen := func() int {
		sess.mu.Lock()
		defer sess.mu.Unlock()
		return len(sess.replay)
	}
	heartbeat := func(seq int64) {
		c.send(OpHeartbeat, seq)
		for c.mustNext().Op != OpHeartbeatACK {
		}
	}
	if ringLen() == 0 {
		t.Fatal("GUILD_CREATE not in the ring before any heartbeat")
	}
	sess.mu.Lock()
	for _, f := range sess.replay {
		if f.p.t == "READY" {
			t.Error("READY kept for replay: no client can resume without having it")
		}
	}
	sess.mu.Unlock()
	acked := c.lastSeq
	heartbeat(acked)
	// The ACK is queued before the ring is trimmed; wait for the trim.
	accordtest.WaitFor(t, "the ring to empty", func() bool { return ringLen() == 0 })
	sess.mu.Lock()
	released := sess.replay == nil
	sess.mu.Unlock()
	if !released {
		t.Fatal("empty ring still holds its array")
	}

	h.say(rs.alice, rs.text, "unacknowledged")
	c.waitFor("MESSAGE_CREATE")
	c.kill()
	waitDetached(t, h, rs.session)

	c2 := h.dial("")
	c2.hello()
	c2.send(OpResume, map[string]any{"token": rs.alice.token, "session_id": rs.session, "seq": acked - 1})
	if m := c2.mustNext(); m.Op != OpInvalidSession || string(m.D) != "false" {
		t.Fatalf("resume from before the ack: op %d %s, want op 9 false", m.Op, m.D)
	}
	c3 := h.dial("")
	c3.hello()
	c3.send(OpResume, map[string]any{"token": rs.alice.token, "session_id": rs.session, "seq": acked})
	got := c3.until("RESUMED", nil)
	if len(got) != 2 || got[0].T != "MESSAGE_CREATE" || got[0].S != acked+1 {
		t.Fatalf("resume from the ack replayed %d dispatches, first %s s=%d", len(got), got[0].T, got[0].S)
	}
}

// TestResumeRerendersGuildCreate: the ring keeps GUILD_CREATE as a stub
// to render again, not its bytes, and a client that resumes from READY
// still gets the whole guild, as it is now.
func TestResumeRerendersGuildCreate(t *testing.T) {
	rs := newResumeSetup(t)
	h, c := rs.h, rs.c
	sess := h.gw.session(rs.session)
	sess.mu.Lock()
	var stub *shared
	for _, f := range sess.replay {
		if f.p.t == "GUILD_CREATE" {
			stub = f.p
		}
	}
	sess.mu.Unlock()
	if stub == nil || stub.d != nil || stub.rerender == nil {
		t.Fatalf("ring's GUILD_CREATE: %+v, want a stub without bytes that renders again", stub)
	}
	c.kill()
	waitDetached(t, h, rs.session)

	c2 := h.dial("")
	c2.hello()
	c2.send(OpResume, map[string]any{"token": rs.alice.token, "session_id": rs.session, "seq": 1})
	got := c2.until("RESUMED", nil)
	if len(got) != 2 || got[0].T != "GUILD_CREATE" || got[0].S != 2 {
		t.Fatalf("resume from READY replayed %d dispatches, first %+v", len(got), got[0])
	}
	var g struct {
		ID       string            `json:"id"`
		Channels []json.RawMessage `json:"channels"`
		Members  []json.RawMessage `json:"members"`
	}
	if err := json.Unmarshal(got[0].D, &g); err != nil {
		t.Fatal(err)
	}
	if g.ID == "" || len(g.Channels) == 0 || len(g.Members) == 0 {
		t.Fatalf("replayed GUILD_CREATE is not a full guild: %s", got[0].D)
	}
}
