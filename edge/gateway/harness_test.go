package gateway

// Test harness: a real node (Pebble store, engine, REST, gateway) on an
// httptest server, and a minimal gateway client over gorilla/websocket.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/crypto/bcrypt"

	"github.com/accord-chat/accord/core/store/pebblestore"
	"github.com/accord-chat/accord/edge/auth"
	"github.com/accord-chat/accord/edge/guild"
	"github.com/accord-chat/accord/edge/rest"
)

func init() { auth.BcryptCost = bcrypt.MinCost }

type harness struct {
	t   *testing.T
	srv *httptest.Server
	eng *guild.Engine
	gw  *Server
	ws  string // ws://.../gateway
}

func newHarness(t *testing.T, mod ...func(*Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	st, err := pebblestore.Open(pebblestore.Options{Dir: filepath.Join(dir, "store"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	eng := guild.New(guild.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err := eng.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	ver := auth.NewVerifier(st)
	api := rest.New(rest.Config{Engine: eng, Verifier: ver, Logger: slog.New(slog.DiscardHandler),
		AttachmentDir: filepath.Join(dir, "att"), PublicURL: srv.URL})
	cfg := Config{Engine: eng, Verifier: ver, Renderer: api, Logger: slog.New(slog.DiscardHandler),
		URL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/gateway", HeartbeatInterval: 5 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	gw := New(cfg)
	eng.SetPublisher(gw)
	mux.Handle("/api/", api.Handler())
	mux.Handle("/gateway", gw.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { gw.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
		st.Close()
	})
	return &harness{t: t, srv: srv, eng: eng, gw: gw, ws: cfg.URL}
}

// api calls the REST API and decodes the JSON answer.
func (h *harness) api(method, path, token string, body any) (int, map[string]any) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.srv.URL+"/api/v10"+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

type account struct{ token, id string }

var seq int

func (h *harness) user(name string) account {
	h.t.Helper()
	seq++
	code, out := h.api("POST", "/auth/register", "", map[string]any{"username": name + string(rune('a'+seq%26)) + strings.Repeat("x", seq/26), "password": "password123"})
	if code != 201 {
		h.t.Fatalf("register: %d %v", code, out)
	}
	return account{token: out["token"].(string), id: out["user_id"].(string)}
}

func (h *harness) bot(owner account, name string) account {
	h.t.Helper()
	code, out := h.api("POST", "/applications", owner.token, map[string]any{"name": name})
	if code != 201 {
		h.t.Fatalf("application: %d %v", code, out)
	}
	return account{token: "Bot " + out["token"].(string), id: out["id"].(string)}
}

// guild creates a guild and returns its ID and text channel ID.
func (h *harness) guild(owner account) (string, string) {
	h.t.Helper()
	code, g := h.api("POST", "/guilds", owner.token, map[string]any{"name": "Gateway Guild"})
	if code != 201 {
		h.t.Fatalf("guild: %d %v", code, g)
	}
	return g["id"].(string), g["system_channel_id"].(string)
}

func (h *harness) join(owner, u account, channel string) {
	h.t.Helper()
	_, inv := h.api("POST", "/channels/"+channel+"/invites", owner.token, map[string]any{"max_age": 0})
	if code, out := h.api("POST", "/invites/"+inv["code"].(string), u.token, nil); code != 200 {
		h.t.Fatalf("join: %d %v", code, out)
	}
}

func (h *harness) addBot(owner account, gid string, bot account) {
	h.t.Helper()
	code, out := h.api("POST", "/oauth2/authorize?client_id="+bot.id+"&scope=bot&permissions=0", owner.token,
		map[string]any{"guild_id": gid, "authorize": true})
	if code != 200 {
		h.t.Fatalf("authorize: %d %v", code, out)
	}
}

// client is a raw gateway client.
type client struct {
	t    *testing.T
	ws   *websocket.Conn
	zlib io.ReadCloser
	zbuf *bytes.Buffer
	zstd *zstd.Decoder
	mode string
}

type msg struct {
	Op int             `json:"op"`
	S  int64           `json:"s"`
	T  string          `json:"t"`
	D  json.RawMessage `json:"d"`
}

func (m *msg) obj() map[string]any {
	var out map[string]any
	_ = json.Unmarshal(m.D, &out)
	return out
}

func (h *harness) dial(query string) *client {
	h.t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(h.ws+query, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	c := &client{t: h.t, ws: ws}
	if strings.Contains(query, "zlib-stream") {
		c.mode = "zlib"
		c.zbuf = &bytes.Buffer{}
	}
	if strings.Contains(query, "zstd-stream") {
		c.mode = "zstd"
		c.zbuf = &bytes.Buffer{}
		c.zstd, _ = zstd.NewReader(c.zbuf)
	}
	h.t.Cleanup(func() { ws.Close() })
	return c
}

// zlibStreamReader feeds a growing buffer to one zlib reader.
type growReader struct{ b *bytes.Buffer }

func (g growReader) Read(p []byte) (int, error) { return g.b.Read(p) }

// next reads one payload, or fails after timeout.
func (c *client) next(timeout time.Duration) (*msg, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(timeout))
	mt, data, err := c.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	if mt == websocket.BinaryMessage {
		switch c.mode {
		case "zlib":
			if !bytes.HasSuffix(data, []byte{0, 0, 0xff, 0xff}) {
				c.t.Fatalf("zlib-stream message without sync-flush suffix")
			}
			c.zbuf.Write(data)
			if c.zlib == nil {
				c.zlib, err = zlib.NewReader(growReader{c.zbuf})
				if err != nil {
					return nil, err
				}
			}
			data, err = readAvailable(c.zlib)
			if err != nil {
				return nil, err
			}
		case "zstd":
			c.zbuf.Write(data)
			data, err = readAvailable(c.zstd)
			if err != nil {
				return nil, err
			}
		}
	}
	var m msg
	if err := json.Unmarshal(data, &m); err != nil {
		c.t.Fatalf("bad frame %q: %v", data, err)
	}
	return &m, nil
}

// readAvailable reads what a streaming decompressor can produce from the
// bytes fed so far (one gateway message).
func readAvailable(r io.Reader) ([]byte, error) {
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF || (err == nil && n == 0) || (err != nil && len(out) > 0 && json.Valid(out)) {
			return out, nil
		}
		if err != nil {
			if json.Valid(out) {
				return out, nil
			}
			return nil, err
		}
		if json.Valid(out) {
			return out, nil
		}
	}
}

func (c *client) mustNext() *msg {
	c.t.Helper()
	m, err := c.next(5 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

// waitFor reads until a dispatch of type t arrives.
func (c *client) waitFor(t string) *msg {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		m, err := c.next(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", t, err)
		}
		if m.Op == OpDispatch && m.T == t {
			return m
		}
	}
	c.t.Fatalf("no %s", t)
	return nil
}

func (c *client) send(op int, d any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(map[string]any{"op": op, "d": d}); err != nil {
		c.t.Fatal(err)
	}
}

// identify completes HELLO → IDENTIFY → READY and returns READY's data.
func (c *client) identify(token string, intents *int) map[string]any {
	c.t.Helper()
	hello := c.mustNext()
	if hello.Op != OpHello {
		c.t.Fatalf("first payload op %d, want HELLO", hello.Op)
	}
	d := map[string]any{"token": token, "properties": map[string]string{"os": "linux", "browser": "test", "device": "test"}}
	if intents != nil {
		d["intents"] = *intents
	}
	c.send(OpIdentify, d)
	return c.waitFor("READY").obj()
}

// closeCode reads until the server closes and returns the close code.
func (c *client) closeCode() int {
	c.t.Helper()
	for {
		_, err := c.next(10 * time.Second)
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if ok := asCloseError(err, &ce); ok {
			return ce.Code
		}
		c.t.Fatalf("connection ended without close frame: %v", err)
	}
}

func asCloseError(err error, out **websocket.CloseError) bool {
	ce, ok := err.(*websocket.CloseError)
	if ok {
		*out = ce
	}
	return ok
}

func intents(v int) *int { return &v }
