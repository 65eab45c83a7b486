package gateway

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestSlowConsumerDisconnected: a client that stops reading while events
// flow is disconnected once its queue overflows; a normal client on the
// same guild receives every event, in order.
func TestSlowConsumerDisconnected(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	_, text := h.guild(alice)
	bob := h.user("bob")
	h.join(alice, bob, text)
	normal, slow := h.dial(""), h.dial("")
	normal.identify(alice.token, nil)
	normal.waitFor("GUILD_CREATE")
	slowReady := slow.identify(bob.token, nil)
	slow.waitFor("GUILD_CREATE")
	slowSess := h.gw.session(slowReady["session_id"].(string))
	// From here on the slow client reads nothing.

	slowGone := func() bool {
		slowSess.mu.Lock()
		defer slowSess.mu.Unlock()
		return slowSess.conn == nil
	}
	ctx := context.Background()
	aliceID, channelID := alice.ID(), mustID(text)
	const batch = 1000
	total := 0
	// Produce in batches, the normal client reading each batch before the
	// next, until the server has dropped the slow one (the kernel's socket
	// buffers absorb an unknown amount first), then a few batches more.
	for extra := 0; extra < 3; {
		if total > 200*batch {
			t.Fatal("slow consumer never disconnected")
		}
		for i := 0; i < batch; i++ {
			if err := h.eng.Typing(ctx, aliceID, channelID); err != nil {
				t.Fatal(err)
			}
		}
		total += batch
		for i := 0; i < batch; i++ {
			m := normal.mustNext()
			for m.Op != OpDispatch || m.T != "TYPING_START" {
				m = normal.mustNext()
			}
		}
		if slowGone() {
			extra++
		}
	}
	normal.checkSeqs()
	if got := len(normal.seqs); got < total+2 { // READY, GUILD_CREATE, presences...
		t.Fatalf("normal client got %d dispatches for %d events", got, total)
	}

	// The slow client, reading at last, finds the connection ended before
	// the events did.
	n := 0
	for {
		m, err := slow.next(30 * time.Second)
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("slow connection still open after %d payloads", n)
			}
			break
		}
		if m.Op == OpDispatch && m.T == "TYPING_START" {
			n++
		}
	}
	if n >= total {
		t.Fatalf("slow client got all %d events", n)
	}
	if n+maxQueue > total {
		// Not a failure of the rule, just a sign the test did not
		// exercise it; make it loud.
		t.Fatalf("slow client got %d of %d events: queue never overflowed", n, total)
	}
	slow.checkSeqs() // what it did get was in order, without gaps
}

// TestGoroutinesReturnToBaseline: after the harness shuts down (gateway,
// HTTP server, store), no goroutine is left behind: readers, writers,
// idle connections that never identified, refused connections.
func TestGoroutinesReturnToBaseline(t *testing.T) {
	http.DefaultClient.CloseIdleConnections()
	baseline := runtime.NumGoroutine()

	// A long heartbeat interval: shutdown must not wait for it.
	h := newHarness(t, func(c *Config) { c.HeartbeatInterval = time.Minute })
	alice := h.user("alice")
	_, text := h.guild(alice)
	var clients []*client
	for _, q := range []string{"", "?compress=zlib-stream", "?compress=zstd-stream"} {
		c := h.dial(q)
		c.identify(alice.token, nil)
		c.waitFor("GUILD_CREATE")
		clients = append(clients, c)
	}
	idle := h.dial("") // never identifies
	idle.hello()
	refused := h.dial("?v=3") // closed at once
	refused.closeCode()
	dropped := h.dial("")
	dropped.identify(alice.token, nil)
	dropped.kill() // detached session, resumable
	stalled := h.dial("")
	stalled.identify(alice.token, nil) // never reads again
	for i := 0; i < 50; i++ {
		h.say(alice, text, strings.Repeat("x", 1000))
	}
	for _, c := range clients {
		for i := 0; i < 50; i++ {
			c.waitFor("MESSAGE_CREATE")
		}
	}

	done := make(chan struct{})
	go func() { h.shutdown(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("shutdown hangs")
	}
	for _, c := range append(clients, idle, refused, dropped, stalled) {
		// Every client sees the end of its connection.
		_ = c.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		for {
			if _, _, err := c.ws.ReadMessage(); err != nil {
				var ne interface{ Timeout() bool }
				if errors.As(err, &ne) && ne.Timeout() {
					t.Errorf("a client's connection is still open after shutdown")
				}
				break
			}
		}
		c.ws.Close()
	}
	http.DefaultClient.CloseIdleConnections()

	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= baseline {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, baseline %d:\n%s", n, baseline, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestShutdownClosesWith1001: connected clients are told the server is
// going away.
func TestShutdownClosesWith1001(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	c := h.dial("")
	c.identify(alice.token, nil)
	go h.shutdown()
	if code := c.closeCode(); code != websocket.CloseGoingAway {
		t.Fatalf("close %d, want 1001", code)
	}
}
