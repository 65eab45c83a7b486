package accordtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// API is a REST client of a running node (Base: its public URL).
type API struct {
	T    testing.TB
	Base string
}

// Call makes a request to /api/v10+path and returns the status and the
// decoded JSON body (nil when not an object).
func (a API) Call(method, path, token string, body any) (int, map[string]any) {
	a.T.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.T.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.Base+"/api/v10"+path, rd)
	if err != nil {
		a.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

// Must is Call that fails the test unless the status is want.
func (a API) Must(method, path, token string, body any, want int) map[string]any {
	a.T.Helper()
	status, out := a.Call(method, path, token, body)
	if status != want {
		a.T.Fatalf("%s %s: %d %v, want %d", method, path, status, out, want)
	}
	return out
}

// User is an account and its token.
type User struct{ ID, Token string }

// Register makes an account.
func (a API) Register(name string) User {
	a.T.Helper()
	out := a.Must("POST", "/auth/register", "", map[string]any{"username": name, "password": "correct horse battery"}, 201)
	return User{ID: out["user_id"].(string), Token: out["token"].(string)}
}

// Dispatch is one gateway event.
type Dispatch struct {
	T string
	D map[string]any
}

// Gateway is a gateway connection that records the events it gets.
type Gateway struct {
	t  testing.TB
	ws *websocket.Conn
	// SessionID is the session READY named.
	SessionID string

	wmu    sync.Mutex
	mu     sync.Mutex
	events []Dispatch
	more   chan struct{}
	done   chan struct{}
}

// DialGateway identifies with token (every intent) at the node's
// gateway and waits for READY. The connection closes when the test ends.
func DialGateway(t testing.TB, base, token string) *Gateway {
	t.Helper()
	url := "ws" + strings.TrimPrefix(base, "http") + "/gateway?v=10&encoding=json"
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("gateway dial: %v", err)
	}
	g := &Gateway{t: t, ws: ws, more: make(chan struct{}, 1), done: make(chan struct{})}
	g.Send(2, map[string]any{"token": token, "intents": 1 | 1<<7 | 1<<9, // guilds, voice states, guild messages
		"properties": map[string]any{"os": "linux", "browser": "accordtest", "device": "accordtest"}})
	go g.read()
	t.Cleanup(func() { ws.Close(); <-g.done })
	ready := g.Wait("READY", nil)
	g.SessionID, _ = ready["session_id"].(string)
	return g
}

// Send writes one gateway payload.
func (g *Gateway) Send(op int, d any) {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	if err := g.ws.WriteJSON(map[string]any{"op": op, "d": d}); err != nil {
		g.t.Errorf("gateway send: %v", err)
	}
}

func (g *Gateway) read() {
	defer close(g.done)
	for {
		var m struct {
			Op int             `json:"op"`
			T  string          `json:"t"`
			D  json.RawMessage `json:"d"`
		}
		if err := g.ws.ReadJSON(&m); err != nil {
			return
		}
		if m.Op == 10 {
			var hello struct {
				Interval int `json:"heartbeat_interval"`
			}
			_ = json.Unmarshal(m.D, &hello)
			go g.heartbeat(time.Duration(hello.Interval) * time.Millisecond)
		}
		if m.Op != 0 {
			continue
		}
		var d map[string]any
		_ = json.Unmarshal(m.D, &d)
		g.mu.Lock()
		g.events = append(g.events, Dispatch{T: m.T, D: d})
		g.mu.Unlock()
		select {
		case g.more <- struct{}{}:
		default:
		}
	}
}

// heartbeat keeps the session alive (op 1) until the connection ends.
func (g *Gateway) heartbeat(every time.Duration) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-g.done:
			return
		case <-t.C:
			g.wmu.Lock()
			err := g.ws.WriteJSON(map[string]any{"op": 1, "d": nil})
			g.wmu.Unlock()
			if err != nil {
				return
			}
		}
	}
}

// Wait returns the first event of type typ that match accepts (nil:
// any), seen since the connection opened, waiting up to 30 s for one.
// Each event is returned once.
func (g *Gateway) Wait(typ string, match func(map[string]any) bool) map[string]any {
	g.t.Helper()
	return g.WaitWithin(30*time.Second, typ, match)
}

// WaitWithin is Wait with its own patience (a fault takes the region
// longer to notice than an event takes to arrive).
func (g *Gateway) WaitWithin(patience time.Duration, typ string, match func(map[string]any) bool) map[string]any {
	g.t.Helper()
	deadline := time.After(patience)
	for {
		g.mu.Lock()
		for i, e := range g.events {
			if e.T == typ && (match == nil || match(e.D)) {
				g.events = append(g.events[:i:i], g.events[i+1:]...)
				g.mu.Unlock()
				return e.D
			}
		}
		g.mu.Unlock()
		select {
		case <-g.more:
		case <-g.done:
			g.t.Fatalf("gateway closed while waiting for %s", typ)
		case <-deadline:
			g.t.Fatalf("no %s in %v", typ, patience)
		}
	}
}

// Has reports whether an unconsumed event of type typ is there now.
func (g *Gateway) Has(typ string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range g.events {
		if e.T == typ {
			return true
		}
	}
	return false
}

// String is for failure messages.
func (d Dispatch) String() string { return fmt.Sprintf("%s %v", d.T, d.D) }
