package voice

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/accord-chat/accord/edge/sfu/webrtcpeer"
	"github.com/accord-chat/accord/internal/accordtest"
	"github.com/accord-chat/accord/internal/teststore"
)

func TestTokens(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	a := NewTokens([]byte("region secret"), time.Minute, clock)
	b := NewTokens([]byte("region secret"), time.Minute, clock) // another node of the region
	tok := a.Issue(1, 2, "sess", "node-1")
	for _, tc := range []struct {
		name            string
		tokens          *Tokens
		token           string
		guild, user     uint64
		session         string
		host            string // the node checking; "" is node-1, whose voice server the token names
		want            error
		advance         time.Duration
		otherRootTokens bool
	}{
		{name: "wrong guild", tokens: b, token: tok, guild: 9, user: 2, session: "sess", want: ErrTokenInvalid},
		{name: "wrong user", tokens: b, token: tok, guild: 1, user: 9, session: "sess", want: ErrTokenInvalid},
		{name: "wrong session", tokens: b, token: tok, guild: 1, user: 2, session: "other", want: ErrTokenInvalid},
		{name: "garbage", tokens: b, token: "%%%", guild: 1, user: 2, session: "sess", want: ErrTokenInvalid},
		{name: "truncated", tokens: b, token: tok[:len(tok)-2], guild: 1, user: 2, session: "sess", want: ErrTokenInvalid},
		{name: "another region's key", tokens: NewTokens([]byte("other"), time.Minute, clock), token: tok, guild: 1, user: 2, session: "sess", want: ErrTokenInvalid},
		{name: "at a voice server it does not name", tokens: b, token: tok, guild: 1, user: 2, session: "sess", host: "node-2", want: ErrTokenInvalid},
		{name: "good at the node it names", tokens: b, token: tok, guild: 1, user: 2, session: "sess"},
		{name: "reused there", tokens: b, token: tok, guild: 1, user: 2, session: "sess", want: ErrTokenReused},
		{name: "expired", tokens: NewTokens([]byte("region secret"), time.Minute, func() time.Time { return now.Add(time.Minute) }), token: tok, guild: 1, user: 2, session: "sess", want: ErrTokenExpired},
	} {
		if tc.host == "" {
			tc.host = "node-1"
		}
		if err := tc.tokens.Check(tc.token, tc.guild, tc.user, tc.session, tc.host); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// Close codes: a token not made for the session fails
	// authentication, a spent or expired one invalidates the session.
	for err, code := range map[error]int{ErrTokenInvalid: CloseAuthFailed, ErrTokenReused: CloseSessionInvalid, ErrTokenExpired: CloseSessionInvalid} {
		var ce *closeError
		if !errors.As(closeFor(err), &ce) || ce.code != code {
			t.Errorf("%v closes with %v, want %d", err, closeFor(err), code)
		}
	}
}

func FuzzTokenCheck(f *testing.F) {
	tk := NewTokens([]byte("k"), time.Minute, nil)
	f.Add(tk.Issue(1, 2, "s", "h"), uint64(1), uint64(2), "s")
	f.Add("", uint64(0), uint64(0), "")
	f.Fuzz(func(t *testing.T, token string, g, u uint64, s string) {
		// Anything but a token Issue made is refused with one of the
		// three errors, never accepted.
		err := tk.Check(token, g, u, s, "h")
		if err == nil && (g != 1 || u != 2 || s != "s") {
			t.Fatalf("accepted %q for %d/%d/%q", token, g, u, s)
		}
		if err != nil && !errors.Is(err, ErrTokenInvalid) && !errors.Is(err, ErrTokenExpired) && !errors.Is(err, ErrTokenReused) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// testServer is a voice gateway on an engine and a UDP socket of its own.
func testServer(t testing.TB) *httptest.Server {
	t.Helper()
	st := teststore.Open(t, t.TempDir())
	eng, stop := accordtest.Engine(t, st)
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := webrtcpeer.New(webrtcpeer.Config{UDP: udp, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Engine: eng, Transport: tr, Key: []byte("k"), NodeName: "node-0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
		tr.Close()
		udp.Close()
		stop()
		st.Close()
	})
	return srv
}

// FuzzVoiceGateway: whatever a client sends, the gateway answers with
// messages or a close code of Discord's voice range, and never falls over.
func FuzzVoiceGateway(f *testing.F) {
	for _, s := range []string{
		`{"op":3,"d":{"t":1,"seq_ack":0}}`, `{"op":3,"d":12}`, `{"op":0,"d":{"server_id":"1","user_id":"2","session_id":"s","token":"t"}}`,
		`{"op":7,"d":{"server_id":"1","session_id":"s","token":"t","seq_ack":3}}`, `{"op":1,"d":{"protocol":"webrtc","data":"v=0"}}`,
		`{"op":4,"d":{"type":"answer","sdp":""}}`, `{"op":5,"d":{"speaking":1}}`, `{"op":-1}`, `[]`, `null`, "\x00",
	} {
		f.Add(s)
	}
	srv := testServer(f)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	f.Fuzz(func(t *testing.T, msg string) {
		ws, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		var hello map[string]any
		if err := ws.ReadJSON(&hello); err != nil || hello["op"] != float64(OpHello) {
			t.Fatalf("hello: %v %v", hello, err)
		}
		_ = ws.WriteMessage(websocket.TextMessage, []byte(msg))
		// A heartbeat after it: either it is answered or the connection
		// was closed for the first message, with a voice close code.
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"op":3,"d":{"t":7,"seq_ack":0}}`))
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			var m map[string]any
			err := ws.ReadJSON(&m)
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				if ce.Code < 4001 || ce.Code > 4022 {
					t.Fatalf("%q: closed with %d", msg, ce.Code)
				}
				return
			}
			if err != nil {
				t.Fatalf("%q: %v", msg, err)
			}
			if m["op"] == float64(OpHeartbeatACK) {
				return
			}
		}
	})
}
