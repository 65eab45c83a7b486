package rest

// Test harness shared by the REST tests: a real server over a real
// Pebble store in a temporary directory, reached over real HTTP.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/secret"
	"github.com/accord-chat/accord/core/store"
	"github.com/accord-chat/accord/edge/auth"
	"github.com/accord-chat/accord/edge/ratelimit"
	"github.com/accord-chat/accord/internal/accordtest"
	"github.com/accord-chat/accord/internal/teststore"
)

func init() { secret.BcryptCost = bcrypt.MinCost }

type harness struct {
	t     *testing.T
	srv   *httptest.Server
	eng   *engine.Engine
	api   *Server
	dir   string
	files *liveFiles
}

// liveFiles is the store's FileStore, remembering which files it holds,
// so tests can see that a refused upload left none behind.
type liveFiles struct {
	store.FileStore
	mu   sync.Mutex
	live map[[2]ID]bool
}

func (l *liveFiles) PutFile(ctx context.Context, ch, id ID, r io.Reader) (int64, error) {
	n, err := l.FileStore.PutFile(ctx, ch, id, r)
	if err == nil {
		l.mu.Lock()
		l.live[[2]ID{ch, id}] = true
		l.mu.Unlock()
	}
	return n, err
}

func (l *liveFiles) DeleteFile(ctx context.Context, ch, id ID) error {
	err := l.FileStore.DeleteFile(ctx, ch, id)
	if err == nil {
		l.mu.Lock()
		delete(l.live, [2]ID{ch, id})
		l.mu.Unlock()
	}
	return err
}

// keys lists the files held, as "channel/attachment".
func (l *liveFiles) keys() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for k := range l.live {
		out = append(out, k[0].String()+"/"+k[1].String())
	}
	return out
}

type harnessOpt func(*Config)

// withRateLimits turns Discord's default limits on (they are off in the
// harness so tests can send bursts).
func withRateLimits(cfg ratelimit.Config) harnessOpt {
	return func(c *Config) {
		l, err := ratelimit.New(cfg, nil)
		if err != nil {
			panic(err)
		}
		c.Limiter = l
	}
}

func newHarness(t *testing.T, opts ...harnessOpt) *harness {
	t.Helper()
	dir := t.TempDir()
	st := teststore.Open(t, dir)
	eng, _ := accordtest.Engine(t, st)
	h := &harness{t: t, eng: eng, dir: dir, files: &liveFiles{FileStore: st, live: map[[2]ID]bool{}}}
	mux := http.NewServeMux()
	h.srv = httptest.NewServer(mux)
	cfg := Config{Engine: eng, Verifier: auth.NewVerifier(st), Logger: slog.New(slog.DiscardHandler), Files: h.files,
		AttachmentDir: filepath.Join(dir, "attachments"), PublicURL: h.srv.URL, GatewayURL: "ws" + h.srv.URL[4:] + "/gateway"}
	for _, o := range opts {
		o(&cfg)
	}
	h.api = New(cfg)
	mux.Handle("/", h.api.Handler())
	t.Cleanup(func() {
		h.srv.Close()
		st.Close()
	})
	return h
}

// resp is a decoded response.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value.
func (r resp) JSON() any {
	var v any
	_ = json.Unmarshal(r.Body, &v)
	return v
}

// Obj returns the body as an object (nil if it is not one).
func (r resp) Obj() map[string]any {
	m, _ := r.JSON().(map[string]any)
	return m
}

// Arr returns the body as an array.
func (r resp) Arr() []any {
	a, _ := r.JSON().([]any)
	return a
}

// Str returns a string field of the body object.
func (r resp) Str(key string) string {
	s, _ := r.Obj()[key].(string)
	return s
}

// Code is the Discord error code of an error body.
func (r resp) Code() int {
	f, _ := r.Obj()["code"].(float64)
	return int(f)
}

// do sends a request. body may be nil, a []byte/string (sent as is) or any
// value (JSON-encoded). token "" sends no Authorization header.
func (h *harness) do(method, path, token string, body any) resp {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, h.srv.URL+"/api/v10"+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// must fails the test unless the response has the wanted status.
func (h *harness) must(want int, r resp) resp {
	h.t.Helper()
	if r.Status != want {
		h.t.Fatalf("status %d, want %d; body %s", r.Status, want, r.Body)
	}
	return r
}

// wantErr fails unless the response is a Discord error with the status
// and code.
func (h *harness) wantErr(r resp, status, code int) {
	h.t.Helper()
	if r.Status != status || r.Code() != code {
		h.t.Fatalf("got %d code %d (%s), want %d code %d", r.Status, r.Code(), r.Body, status, code)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		h.t.Fatalf("error Content-Type %q", ct)
	}
}

// user registers an account and returns its token and ID.
type user struct {
	Token string
	ID    string
	Name  string
}

var userSeq int

func (h *harness) user(name string) user {
	h.t.Helper()
	userSeq++
	uname := fmt.Sprintf("%s%d", name, userSeq)
	r := h.must(201, h.do("POST", "/auth/register", "", map[string]any{"username": uname, "password": "correct horse"}))
	return user{Token: r.Str("token"), ID: r.Str("user_id"), Name: uname}
}

// bot creates a bot application owned by owner and returns the bot's
// "Bot <token>" header value and ID.
func (h *harness) bot(owner user, name string) user {
	h.t.Helper()
	r := h.must(201, h.do("POST", "/applications", owner.Token, map[string]any{"name": name}))
	return user{Token: "Bot " + r.Str("token"), ID: r.Str("id"), Name: name}
}

// guild creates a guild owned by owner and returns its ID with the IDs
// of its text and voice channels.
func (h *harness) guild(owner user) (gid, text, voice string) {
	h.t.Helper()
	g := h.must(201, h.do("POST", "/guilds", owner.Token, map[string]any{"name": "Test Guild"}))
	gid = g.Str("id")
	for _, c := range h.must(200, h.do("GET", "/guilds/"+gid+"/channels", owner.Token, nil)).Arr() {
		m := c.(map[string]any)
		switch m["type"].(float64) {
		case 0:
			text = m["id"].(string)
		case 2:
			voice = m["id"].(string)
		}
	}
	return gid, text, voice
}

// join makes u a member of the guild through an invite made by owner.
func (h *harness) join(owner, u user, textChannel string) {
	h.t.Helper()
	inv := h.must(200, h.do("POST", "/channels/"+textChannel+"/invites", owner.Token, map[string]any{"max_age": 0}))
	h.must(200, h.do("POST", "/invites/"+inv.Str("code"), u.Token, nil))
}

// acquaint puts the users in a guild of a's, so that they may DM.
func (h *harness) acquaint(a user, others ...user) (gid, text string) {
	h.t.Helper()
	gid, text, _ = h.guild(a)
	for _, u := range others {
		h.join(a, u, text)
	}
	return gid, text
}

// send posts a message and returns its ID.
func (h *harness) send(u user, channel, content string) string {
	h.t.Helper()
	return h.must(200, h.do("POST", "/channels/"+channel+"/messages", u.Token, map[string]any{"content": content})).Str("id")
}
