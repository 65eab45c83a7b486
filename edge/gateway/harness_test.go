package gateway

// Test harness: a real node (Pebble store, engine, REST, gateway) on an
// httptest server, and a minimal gateway client over gorilla/websocket.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/crypto/bcrypt"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/core/secret"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
	"github.com/accord-chat/accord/core/store/pebblestore"
	"github.com/accord-chat/accord/edge/auth"
	"github.com/accord-chat/accord/edge/rest"
	"github.com/accord-chat/accord/internal/accordtest"
	"github.com/accord-chat/accord/internal/teststore"
)

func init() { secret.BcryptCost = bcrypt.MinCost }

type harness struct {
	t   testing.TB
	srv *httptest.Server
	eng *engine.Engine
	gw  *Server
	ws  string // ws://.../gateway

	stopOnce sync.Once
	stop     func()
}

func newHarness(t testing.TB, mod ...func(*Config)) *harness {
	t.Helper()
	return newSeededHarness(t, nil, mod...)
}

// newSeededHarness is newHarness with a seed function that writes straight
// into the store before the engine loads it (for bulk data that would take
// too long through the API, e.g. thousands of members).
func newSeededHarness(t testing.TB, seed func(st store.Store) error, mod ...func(*Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	// NoSync: the tests do not crash the machine, and fsync per commit
	// would dominate their run time.
	var st store.Store
	if teststore.Cassandra() {
		st = teststore.Open(t, dir)
	} else {
		var err error
		st, err = pebblestore.Open(pebblestore.Options{Dir: filepath.Join(dir, "store"), Logger: slog.New(slog.DiscardHandler),
			NoSync: true, CacheSize: 8 << 20})
		if err != nil {
			t.Fatal(err)
		}
	}
	if seed != nil {
		if err := seed(st); err != nil {
			t.Fatal(err)
		}
	}
	eng, stopRegion := accordtest.Engine(t, st)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	ver := auth.NewVerifier(st)
	api := rest.New(rest.Config{Engine: eng, Verifier: ver, Logger: slog.New(slog.DiscardHandler),
		AttachmentDir: filepath.Join(dir, "att"), PublicURL: srv.URL})
	cfg := Config{Engine: eng, Verifier: ver, Renderer: api, Logger: slog.New(slog.DiscardHandler),
		URL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/gateway",
		// Discord's interval: the test clients do not heartbeat unless a
		// test says so, and a test slowed by a busy machine must not see
		// its connections time out (tests of the timeout set their own).
		HeartbeatInterval: 41250 * time.Millisecond,
		GoroutineReaders:  goroutineReaders}
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
	h := &harness{t: t, srv: srv, eng: eng, gw: gw, ws: cfg.URL}
	h.stop = func() {
		cancel()
		<-done
		srv.Close()
		stopRegion()
		st.Close()
	}
	t.Cleanup(h.shutdown)
	return h
}

// shutdown stops the gateway, the HTTP server and the store; it runs once.
func (h *harness) shutdown() { h.stopOnce.Do(h.stop) }

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

// must calls the API and fails the test unless the status is want.
func (h *harness) must(want int, method, path, token string, body any) map[string]any {
	h.t.Helper()
	code, out := h.api(method, path, token, body)
	if code != want {
		h.t.Fatalf("%s %s: %d %v (want %d)", method, path, code, out, want)
	}
	return out
}

type account struct{ token, id string }

func (a account) ID() snowflake.ID {
	id, err := snowflake.Parse(a.id)
	if err != nil {
		panic(err)
	}
	return id
}

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

// say posts a message and returns it.
func (h *harness) say(who account, channel, content string) map[string]any {
	h.t.Helper()
	return h.must(200, "POST", "/channels/"+channel+"/messages", who.token, map[string]any{"content": content})
}

// seededGuild describes a guild written by seedGuild.
type seededGuild struct {
	owner   account
	guildID snowflake.ID
	channel snowflake.ID
	roleID  snowflake.ID    // a role given to roleHolders
	members []snowflake.ID  // the seeded members (not the owner), by ID
	names   []string        // their usernames, same order
	tokens  map[int]account // tokens of the members asked for, by index
	byID    map[snowflake.ID]int
}

// seedGuild returns a seed function that writes a guild with an owner
// (who gets a token) and n other members named prefix00000, prefix00001,
// ... Members at the indexes in withTokens get tokens; those in
// roleHolders get the guild's one extra role.
func seedGuild(n int, prefix string, withTokens, roleHolders []int) (func(store.Store) error, *seededGuild) {
	sg := &seededGuild{tokens: map[int]account{}, byID: map[snowflake.ID]int{}}
	seed := func(st store.Store) error {
		ids := snowflake.NewGenerator(31, 31)
		now := time.Now().UTC()
		var b store.Batch
		ownerID := ids.Next()
		tok, digest := secret.NewToken(ownerID, now)
		sg.owner = account{token: tok, id: ownerID.String()}
		b.Add(store.Op{Kind: store.OpPutUser, User: &model.User{ID: ownerID, Username: prefix + "owner", Discriminator: "0"}},
			store.Op{Kind: store.OpPutToken, Token: &model.Token{Hash: digest, UserID: ownerID, CreatedAt: now}})
		gid, cid, rid := ids.Next(), ids.Next(), ids.Next()
		sg.guildID, sg.channel, sg.roleID = gid, cid, rid
		b.Add(store.Op{Kind: store.OpPutGuild, Guild: &model.Guild{ID: gid, Name: "Seeded", OwnerID: ownerID, AFKTimeout: 300,
			SystemChannelID: cid, PreferredLocale: "en-US"}},
			store.Op{Kind: store.OpPutRole, GuildID: gid, Role: &model.Role{ID: gid, Name: "@everyone", Permissions: perm.DefaultEveryone}},
			store.Op{Kind: store.OpPutRole, GuildID: gid, Role: &model.Role{ID: rid, Name: "regular", Position: 1}},
			store.Op{Kind: store.OpPutChannel, GuildID: gid, Channel: &model.Channel{ID: cid, Type: model.ChannelGuildText, GuildID: gid,
				Name: "general", PermissionOverwrites: []model.Overwrite{}}},
			store.Op{Kind: store.OpPutMember, GuildID: gid, Member: &model.Member{GuildID: gid, UserID: ownerID, Roles: []snowflake.ID{}, JoinedAt: now}})
		wantTok := map[int]bool{}
		for _, i := range withTokens {
			wantTok[i] = true
		}
		hasRole := map[int]bool{}
		for _, i := range roleHolders {
			hasRole[i] = true
		}
		for i := 0; i < n; i++ {
			uid := ids.Next()
			name := fmt.Sprintf("%s%05d", prefix, i)
			sg.members = append(sg.members, uid)
			sg.names = append(sg.names, name)
			sg.byID[uid] = i
			b.Add(store.Op{Kind: store.OpPutUser, User: &model.User{ID: uid, Username: name, Discriminator: "0"}})
			roles := []snowflake.ID{}
			if hasRole[i] {
				roles = []snowflake.ID{rid}
			}
			b.Add(store.Op{Kind: store.OpPutMember, GuildID: gid, Member: &model.Member{GuildID: gid, UserID: uid, Roles: roles, JoinedAt: now}})
			if wantTok[i] {
				tok, digest := secret.NewToken(uid, now)
				sg.tokens[i] = account{token: tok, id: uid.String()}
				b.Add(store.Op{Kind: store.OpPutToken, Token: &model.Token{Hash: digest, UserID: uid, CreatedAt: now}})
			}
		}
		return st.Commit(context.Background(), &b)
	}
	return seed, sg
}

// client is a raw gateway client. Compressed transports are decoded with
// one streaming decompressor per connection that pulls WebSocket messages
// on demand; every payload must be exactly one message.
type client struct {
	t    testing.TB
	ws   *websocket.Conn
	mode string // "", "zlib" or "zstd"

	feed    *feed
	dec     *json.Decoder
	decoded int

	lastSeq int64 // s of the last dispatch read
	seqs    []int64
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
	switch {
	case strings.Contains(query, "zlib-stream"):
		c.mode = "zlib"
	case strings.Contains(query, "zstd-stream"):
		c.mode = "zstd"
	}
	h.t.Cleanup(func() { ws.Close() })
	return c
}

// feed hands a streaming decompressor the bytes of one WebSocket message
// at a time, reading the next message only when the decompressor needs
// more input.
type feed struct {
	c    *client
	buf  []byte
	msgs int
	err  error
}

func (f *feed) pull() error {
	if f.err != nil {
		return f.err
	}
	mt, data, err := f.c.ws.ReadMessage()
	if err == nil && mt != websocket.BinaryMessage {
		err = fmt.Errorf("text message %q on a compressed transport", data)
	}
	if err == nil && f.c.mode == "zlib" && !bytes.HasSuffix(data, []byte{0, 0, 0xff, 0xff}) {
		err = errors.New("zlib-stream message without the 00 00 ff ff sync-flush suffix")
	}
	if err != nil {
		f.err = err
		return err
	}
	f.msgs++
	f.buf = data
	return nil
}

func (f *feed) Read(p []byte) (int, error) {
	for len(f.buf) == 0 {
		if err := f.pull(); err != nil {
			return 0, err
		}
	}
	n := copy(p, f.buf)
	f.buf = f.buf[n:]
	return n, nil
}

func (f *feed) ReadByte() (byte, error) {
	for len(f.buf) == 0 {
		if err := f.pull(); err != nil {
			return 0, err
		}
	}
	b := f.buf[0]
	f.buf = f.buf[1:]
	return b, nil
}

// next reads one payload, or fails after timeout. A timeout leaves the
// connection unusable (gorilla's reads are not restartable).
func (c *client) next(timeout time.Duration) (*msg, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(timeout))
	var m msg
	if c.mode == "" {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			return nil, err
		}
		if mt != websocket.TextMessage {
			c.t.Fatalf("binary message on an uncompressed connection")
		}
		if err := json.Unmarshal(data, &m); err != nil {
			c.t.Fatalf("bad frame %q: %v", data, err)
		}
	} else {
		if c.dec == nil {
			c.feed = &feed{c: c}
			var r io.Reader
			switch c.mode {
			case "zlib":
				zr, err := zlib.NewReader(c.feed)
				if err != nil {
					return nil, c.feedErr(err)
				}
				r = zr
			case "zstd":
				zr, err := zstd.NewReader(c.feed, zstd.WithDecoderConcurrency(1))
				if err != nil {
					return nil, err
				}
				r = zr
			}
			c.dec = json.NewDecoder(r)
		}
		if err := c.dec.Decode(&m); err != nil {
			return nil, c.feedErr(err)
		}
		c.decoded++
		// One payload per message: a payload split over messages, or two
		// in one, would break this count.
		if c.decoded != c.feed.msgs {
			c.t.Fatalf("%s-stream: %d payloads decoded from %d messages", c.mode, c.decoded, c.feed.msgs)
		}
	}
	if m.Op == OpDispatch {
		c.lastSeq = m.S
		c.seqs = append(c.seqs, m.S)
	}
	return &m, nil
}

// feedErr prefers the WebSocket error (a close frame, say) to what the
// decompressor made of it.
func (c *client) feedErr(err error) error {
	if c.feed != nil && c.feed.err != nil {
		return c.feed.err
	}
	return err
}

func (c *client) mustNext() *msg {
	c.t.Helper()
	m, err := c.next(30 * time.Second)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

// waitFor reads until a dispatch of type t arrives.
func (c *client) waitFor(t string) *msg {
	c.t.Helper()
	return c.waitMatch(t, nil)
}

// waitMatch reads until a dispatch of type t for which match returns true
// (nil: any) arrives.
func (c *client) waitMatch(t string, match func(map[string]any) bool) *msg {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		m, err := c.next(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", t, err)
		}
		if m.Op == OpDispatch && m.T == t && (match == nil || match(m.obj())) {
			return m
		}
	}
	c.t.Fatalf("no %s", t)
	return nil
}

// until reads dispatches until one of type t matching match arrives and
// returns every dispatch read, the matching one last.
func (c *client) until(t string, match func(map[string]any) bool) []*msg {
	c.t.Helper()
	var out []*msg
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		m, err := c.next(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", t, err)
		}
		if m.Op != OpDispatch {
			continue
		}
		out = append(out, m)
		if m.T == t && (match == nil || match(m.obj())) {
			return out
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

func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatal(err)
	}
}

// hello reads HELLO.
func (c *client) hello() map[string]any {
	c.t.Helper()
	m := c.mustNext()
	if m.Op != OpHello {
		c.t.Fatalf("first payload op %d, want HELLO", m.Op)
	}
	return m.obj()
}

func identifyData(token string, intents *int) map[string]any {
	d := map[string]any{"token": token, "properties": map[string]string{"os": "linux", "browser": "test", "device": "test"}}
	if intents != nil {
		d["intents"] = *intents
	}
	return d
}

// identify completes HELLO → IDENTIFY → READY and returns READY's data.
func (c *client) identify(token string, intents *int) map[string]any {
	c.t.Helper()
	c.hello()
	c.send(OpIdentify, identifyData(token, intents))
	return c.waitFor("READY").obj()
}

// identifyWith sends IDENTIFY with extra fields and returns READY's data.
func (c *client) identifyWith(token string, intents *int, extra map[string]any) map[string]any {
	c.t.Helper()
	c.hello()
	d := identifyData(token, intents)
	for k, v := range extra {
		d[k] = v
	}
	c.send(OpIdentify, d)
	return c.waitFor("READY").obj()
}

// kill drops the TCP connection without a close frame.
func (c *client) kill() { _ = c.ws.UnderlyingConn().Close() }

// closeCode reads until the server closes and returns the close code.
func (c *client) closeCode() int {
	c.t.Helper()
	for {
		_, err := c.next(10 * time.Second)
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		c.t.Fatalf("connection ended without close frame: %v", err)
	}
}

func intents(v int) *int { return &v }

// checkSeqs fails unless the dispatch sequence numbers read so far are
// 1, 2, 3, ... with no gap and no repeat.
func (c *client) checkSeqs() {
	c.t.Helper()
	for i, s := range c.seqs {
		if s != int64(i+1) {
			c.t.Fatalf("sequence %v: position %d has s=%d", c.seqs, i, s)
		}
	}
}

func mustID(s string) snowflake.ID {
	id, err := snowflake.Parse(s)
	if err != nil {
		panic(err)
	}
	return id
}
