package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// wsPair gives server-side *websocket.Conns whose peer reads and discards
// everything, so handle can be driven directly, without a read loop.
type wsPair struct {
	srv   *httptest.Server
	conns chan *websocket.Conn
}

func newWSPair(tb testing.TB) *wsPair {
	p := &wsPair{conns: make(chan *websocket.Conn, 1)}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err == nil {
			p.conns <- ws
		}
	}))
	tb.Cleanup(p.srv.Close)
	return p
}

// conn returns a gateway conn over a fresh server-side socket.
func (p *wsPair) conn(tb testing.TB, gw *Server) *conn {
	peer, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(p.srv.URL, "http"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	go func() {
		defer peer.Close()
		for {
			if _, _, err := peer.ReadMessage(); err != nil {
				return
			}
		}
	}()
	return newConn(<-p.conns, gw, "")
}

// FuzzDecodePayload feeds arbitrary client payloads to decodePayload and
// to handle, on a connection before IDENTIFY and on one with a session.
// Nothing may panic; a payload decodePayload rejects must close the
// connection with 4002.
func FuzzDecodePayload(f *testing.F) {
	h := newHarness(f)
	alice := h.user("alice")
	gid, text := h.guild(alice)
	pair := newWSPair(f)

	// A session for the authenticated half, built the way identify does.
	live := h.dial("")
	ready := live.identify(alice.token, nil)
	sess := h.gw.session(ready["session_id"].(string))

	for _, s := range []string{
		``, ` `, `{`, `}`, `{}`, `[]`, `null`, `true`, `1`, `"x"`, "\x00\xff", `{"op":1}`, `{"op":1,"d":null}`, `{"op":1,"d":42}`,
		`{"op":-1}`, `{"op":1e3}`, `{"op":1.5}`, `{"op":"1"}`, `{"op":null}`, `{"op":1}}`, `{"op":1} {"op":1}`, `{"op":1,"op":2}`,
		`{"op":2}`, `{"op":2,"d":null}`, `{"op":2,"d":[]}`, `{"op":2,"d":{"token":5}}`,
		`{"op":2,"d":{"token":"` + alice.token + `","intents":513,"shard":[0,1],"large_threshold":250}}`,
		`{"op":2,"d":{"token":"x","shard":[1]}}`, `{"op":2,"d":{"token":"x","presence":{"status":"dnd","activities":[{}]}}}`,
		`{"op":3,"d":{"status":"idle","activities":[{"name":"x","type":0}],"since":null,"afk":false}}`,
		`{"op":3,"d":{"status":"online","activities":"nope"}}`, `{"op":3,"d":null}`,
		`{"op":4,"d":{"guild_id":"` + gid + `","channel_id":"` + text + `"}}`, `{"op":4,"d":{"guild_id":"x"}}`,
		`{"op":4,"d":{"guild_id":"` + gid + `","channel_id":null,"self_mute":true}}`,
		`{"op":6,"d":{"token":"x","session_id":"y","seq":-5}}`, `{"op":6,"d":{"seq":"1"}}`,
		`{"op":8,"d":{"guild_id":"` + gid + `","query":"","limit":0,"presences":true,"nonce":"n"}}`,
		`{"op":8,"d":{"guild_id":"` + gid + `","user_ids":"` + alice.id + `"}}`,
		`{"op":8,"d":{"guild_id":"` + gid + `","user_ids":[1,2,"x"]}}`, `{"op":8,"d":{"guild_id":"` + gid + `","query":"a","limit":-1}}`,
		`{"op":8,"d":{"guild_id":"` + gid + `","query":"a","user_ids":["1"]}}`, `{"op":8,"d":{"guild_id":"` + gid + `"}}`,
		`{"op":8,"d":{"guild_id":"1","query":"","limit":0}}`, `{"op":8,"d":{"guild_id":["1","2"],"query":""}}`,
		`{"op":31,"d":{"guild_ids":[]}}`, `{"op":11}`, `{"op":0,"t":"MESSAGE_CREATE","s":1,"d":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, decErr := decodePayload(data)

		c := pair.conn(t, h.gw)
		keep := h.gw.handle(c, data)
		if decErr != nil && (keep || !c.isClosing()) {
			t.Fatalf("undecodable %q: connection kept", data)
		}
		c.closeNow(0, "")

		c = pair.conn(t, h.gw)
		c.sess = sess
		h.gw.handle(c, data)
		c.closeNow(0, "")
	})
}

// TestGarbageDoesNotDisturbOthers: one client sending garbage is closed
// with 4002 while another on the same guild goes on receiving events.
func TestGarbageDoesNotDisturbOthers(t *testing.T) {
	h := newHarness(t)
	alice := h.user("alice")
	_, text := h.guild(alice)
	bob := h.user("bob")
	h.join(alice, bob, text)
	good, bad := h.dial(""), h.dial("")
	good.identify(alice.token, nil)
	bad.identify(bob.token, nil)
	good.waitFor("GUILD_CREATE")
	bad.waitFor("GUILD_CREATE")

	h.say(alice, text, "before")
	if m := good.waitFor("MESSAGE_CREATE").obj(); m["content"] != "before" {
		t.Fatal(m)
	}
	bad.sendRaw([]byte("\x00\x01garbage{{{"))
	if code := bad.closeCode(); code != CloseDecodeError {
		t.Fatalf("garbage closed with %d", code)
	}
	for i := 0; i < 20; i++ {
		h.say(alice, text, "after")
	}
	for i := 0; i < 20; i++ {
		if m := good.waitFor("MESSAGE_CREATE").obj(); m["content"] != "after" {
			t.Fatal(m)
		}
	}
	good.checkSeqs()
}
