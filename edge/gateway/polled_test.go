package gateway

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// goroutineReaders makes newHarness build gateways with
// Config.GoroutineReaders, for TestGoroutineReaders.
var goroutineReaders bool

// TestGoroutineReaders runs tests of the read path with a reader
// goroutine per connection, the mode off Linux, for TLS, and behind the
// switch; everywhere else they run with the poller.
func TestGoroutineReaders(t *testing.T) {
	goroutineReaders = true
	defer func() { goroutineReaders = false }()
	for name, test := range map[string]func(*testing.T){
		"CloseCodes":                    TestCloseCodes,
		"Heartbeat":                     TestHeartbeat,
		"LargePayloadIsNotBuffered":     TestLargePayloadIsNotBuffered,
		"GarbageDoesNotDisturbOthers":   TestGarbageDoesNotDisturbOthers,
		"ResumeAfterDroppedConnection":  TestResumeAfterDroppedConnection,
		"NormalCloseInvalidatesSession": TestNormalCloseInvalidatesSession,
		"ClientFrames":                  TestClientFrames,
		"IdleConnectionGoroutines":      TestIdleConnectionGoroutines,
		"GoroutinesReturnToBaseline":    TestGoroutinesReturnToBaseline,
		"EndsRacingShutdown":            TestEndsRacingShutdown,
	} {
		t.Run(name, test)
	}
}

// TestClientFrames: WebSocket framing the gateway's own tests do not
// produce through gorilla's client: pings, control frames between
// fragments, frames split over many reads, and frames that break RFC 6455.
func TestClientFrames(t *testing.T) {
	h := newHarness(t)
	hb := []byte(`{"op":1,"d":null}`)
	cases := []struct {
		name        string
		stream      []byte
		byteAtATime bool
		pong        string // a pong with this payload must arrive before the ACK
		closeCode   int    // 0: expect a heartbeat ACK
	}{
		{name: "ping", stream: frames(clientFrame(wsPing, true, []byte("abc"), 0), clientFrame(wsText, true, hb, 0)), pong: "abc"},
		{name: "fragments with control frames between", stream: frames(clientFrame(wsText, false, hb[:4], 0),
			clientFrame(wsPing, true, []byte("x"), 0), clientFrame(wsContinuation, false, nil, 0), clientFrame(wsPong, true, nil, 0),
			clientFrame(wsContinuation, true, hb[4:], 2)), pong: "x"},
		{name: "one byte per read", stream: frames(clientFrame(wsPing, true, []byte("slow"), 0), clientFrame(wsText, false, hb[:9], 8),
			clientFrame(wsContinuation, true, hb[9:], 0)), byteAtATime: true, pong: "slow"},
		{name: "reserved bit", stream: append([]byte{0xc1}, clientFrame(wsText, true, hb, 0)[1:]...), closeCode: websocket.CloseProtocolError},
		{name: "unmasked", stream: append([]byte{0x81, byte(len(hb))}, hb...), closeCode: websocket.CloseProtocolError},
		{name: "long control frame", stream: clientFrame(wsPing, true, bytes.Repeat([]byte("p"), 126), 0), closeCode: websocket.CloseProtocolError},
		{name: "continuation without a start", stream: clientFrame(wsContinuation, true, hb, 0), closeCode: websocket.CloseProtocolError},
		{name: "bad close code", stream: clientFrame(wsClose, true, []byte{0x03, 0xed}, 0), closeCode: websocket.CloseProtocolError},
		{name: "length over 2^63", stream: []byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, closeCode: CloseDecodeError},
		{name: "client close", stream: clientFrame(wsClose, true, websocket.FormatCloseMessage(4321, "bye"), 0), closeCode: 4321},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := h.dial("")
			c.t = t
			c.hello()
			pongs := make(chan string, 4)
			c.ws.SetPongHandler(func(p string) error { pongs <- p; return nil })
			raw := c.ws.UnderlyingConn()
			if tc.byteAtATime {
				for i := range tc.stream {
					if _, err := raw.Write(tc.stream[i : i+1]); err != nil {
						t.Fatal(err)
					}
					time.Sleep(time.Millisecond)
				}
			} else if _, err := raw.Write(tc.stream); err != nil {
				t.Fatal(err)
			}
			if tc.closeCode != 0 {
				if got := c.closeCode(); got != tc.closeCode {
					t.Fatalf("close %d, want %d", got, tc.closeCode)
				}
				return
			}
			if m := c.mustNext(); m.Op != OpHeartbeatACK {
				t.Fatalf("op %d, want ACK", m.Op)
			}
			if tc.pong != "" {
				select {
				case p := <-pongs:
					if p != tc.pong {
						t.Fatalf("pong %q, want %q", p, tc.pong)
					}
				default:
					t.Fatal("no pong before the ACK")
				}
			}
		})
	}
}

// TestIdleConnectionGoroutines: with the poller, an identified idle
// connection has no goroutine of its own; with goroutine readers it has
// one.
func TestIdleConnectionGoroutines(t *testing.T) {
	polled := canPoll && !goroutineReaders
	h := newHarness(t, func(c *Config) { c.HeartbeatInterval = time.Minute })
	alice := h.user("alice")
	before := runtime.NumGoroutine()
	const n = 40
	for range n {
		c := h.dial("")
		c.identify(alice.token, nil)
	}
	var extra int
	for range 100 { // writers and identify's readers finish shortly
		if extra = runtime.NumGoroutine() - before; (polled && extra < n/4) || (!polled && extra <= n+2) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if polled && extra >= n/4 {
		t.Fatalf("%d idle polled connections: %d goroutines more", n, extra)
	}
	if !polled && extra < n*3/4 { // other goroutines (an idle HTTP connection's) may have ended meanwhile
		t.Fatalf("%d idle connections with goroutine readers: only %d goroutines more", n, extra)
	}
}

// TestEndsRacingShutdown: connections ending every way at once (client
// close, dropped socket, broken frame, heartbeat timeout, a fan-out in
// flight) while the server shuts down. Each end is handled once: a second
// would panic on readersWG or c.done; a missing one would hang shutdown.
func TestEndsRacingShutdown(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.HeartbeatInterval = 100 * time.Millisecond })
	alice := h.user("alice")
	_, text := h.guild(alice)
	var clients []*client
	for range 40 {
		c := h.dial("")
		c.identify(alice.token, nil)
		clients = append(clients, c)
	}
	published := make(chan struct{})
	go func() {
		defer close(published)
		for range 50 {
			_ = h.eng.Typing(context.Background(), alice.ID(), mustID(text))
		}
	}()
	for i, c := range clients {
		go func() {
			switch i % 4 {
			case 0:
				_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			case 1:
				c.kill()
			case 2:
				_, _ = c.ws.UnderlyingConn().Write([]byte{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'}) // unmasked
			} // 3: silent until the heartbeat timeout or the shutdown
		}()
	}
	time.Sleep(5 * time.Millisecond) // some ends are under way, some not yet
	done := make(chan struct{})
	go func() { h.gw.shutdown(); close(done) }() // the gateway's alone: the store stays up for Typing
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("shutdown hangs")
	}
	<-published
}
