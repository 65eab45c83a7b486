package gateway

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestWrittenFrames: what the writer sends reads back through gorilla's
// client, at every header length boundary, with a pong and a close after
// the data, whether written at once or queued behind a busy writer.
func TestWrittenFrames(t *testing.T) {
	h := newHarness(t)
	pair := newWSPair(t)
	sizes := []int{0, 1, 125, 126, 127, 4000, 65535, 65536, 200000}
	for _, queued := range []bool{false, true} {
		peer, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(pair.srv.URL, "http"), nil)
		if err != nil {
			t.Fatal(err)
		}
		c := newConn(<-pair.conns, h.gw, "")
		if queued {
			// Hold the write side, so that every frame queues and one
			// flush writes them together.
			c.mu.Lock()
			c.writing = true
			c.mu.Unlock()
		}
		var want [][]byte
		for _, n := range sizes {
			b := bytes.Repeat([]byte{'a' + byte(n%26)}, n)
			want = append(want, b)
			c.push(&frame{raw: b})
		}
		c.push(&frame{ctrl: websocket.PongMessage, raw: []byte("pong")})
		c.push(&frame{close: 4321, reason: strings.Repeat("r", 200)})
		if queued {
			c.mu.Lock()
			c.writing = false
			c.mu.Unlock()
			go c.flush()
		}
		pongs := make(chan string, 1)
		peer.SetPongHandler(func(p string) error { pongs <- p; return nil })
		_ = peer.SetReadDeadline(time.Now().Add(30 * time.Second))
		for i, w := range want {
			mt, got, err := peer.ReadMessage()
			if err != nil || mt != websocket.TextMessage || !bytes.Equal(got, w) {
				t.Fatalf("queued=%v frame %d (%d bytes): type %d, %d bytes, %v", queued, i, len(w), mt, len(got), err)
			}
		}
		_, _, err = peer.ReadMessage()
		ce, ok := err.(*websocket.CloseError)
		if !ok || ce.Code != 4321 || len(ce.Text) != 123 {
			t.Fatalf("queued=%v: ended with %v, want close 4321 with the reason cut to fit 125 bytes", queued, err)
		}
		if p := <-pongs; p != "pong" {
			t.Fatalf("pong %q", p)
		}
		<-c.done
		peer.Close()
	}
}
