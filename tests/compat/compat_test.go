// Package compat runs real Discord bot libraries against a real Accord
// node: discord.js v14 (tests/compat/js), discordgo v0.29 (in-process) and
// discord.py 2.x (tests/compat/py). Each bot logs in, sees its guild,
// answers a message a user sends (reply, edit, reaction, delete), and the
// user's own gateway connection must receive each of those events.
//
// The JavaScript and Python bots need their dependencies installed
// (scripts/test.sh does it: `npm ci --prefix tests/compat/js` and a venv at
// tests/compat/py/.venv). Without them the tests skip, unless
// ACCORD_REQUIRE_COMPAT=1 (set by scripts/test.sh), which makes a missing
// dependency a failure.
package compat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/accord-chat/accord/core/secret"
	"github.com/accord-chat/accord/edge/node"
	"github.com/accord-chat/accord/internal/config"
	"github.com/accord-chat/accord/internal/teststore"
)

func init() { secret.BcryptCost = bcrypt.MinCost }

// testTimeout bounds one library's whole scenario, bot start included.
const testTimeout = 3 * time.Minute

// replyEmoji is the reaction every bot adds to the user's message.
const replyEmoji = "👍"

// lockedBuffer is an io.Writer safe for concurrent use (logs, child
// output).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// requireCompat reports whether missing bot dependencies are a failure
// rather than a skip.
func requireCompat() bool { return os.Getenv("ACCORD_REQUIRE_COMPAT") == "1" }

// missing skips or fails a test whose library is not installed.
func missing(t *testing.T, what string) {
	t.Helper()
	if requireCompat() {
		t.Fatal("ACCORD_REQUIRE_COMPAT=1 but " + what)
	}
	t.Skip(what + "; scripts/test.sh installs it (and sets ACCORD_REQUIRE_COMPAT=1, which makes this a failure)")
}

// accord is a node running in-process on a loopback port.
type accord struct {
	url  string // http://127.0.0.1:PORT
	data string // its data directory
	logs *lockedBuffer
}

// freePort returns a loopback address that was free a moment ago; the
// node needs its public URL (sent as the gateway URL) before it binds.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startAccord runs a node with Discord's real rate limits until the test
// ends.
func startAccord(t *testing.T) *accord {
	t.Helper()
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var n *node.Node
	var err error
	var cfg config.Config
	for try := 0; try < 5; try++ {
		cfg = config.Default()
		cfg.Listen = freePort(t)
		cfg.PublicURL = "http://" + cfg.Listen
		cfg.Data = t.TempDir()
		cfg.RateLimits = "on"
		teststore.Configure(t, &cfg)
		n, err = node.New(context.Background(), cfg, log)
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("start accord: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	a := &accord{url: "http://" + n.Addr(), data: cfg.Data, logs: logs}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("accord stopped with: %v", err)
		}
		if t.Failed() {
			t.Logf("accord log:\n%s", logs.String())
		}
	})
	return a
}

// api calls Accord's REST API v10 and decodes the answer into out (if
// not nil). It fails the test on any status other than want.
func (a *accord) api(t *testing.T, method, path, token string, body any, want int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.url+"/api/v10"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: %d %s (want %d)", method, path, res.StatusCode, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
}

// world is one scenario's accounts: a user who owns a guild, and a bot
// the user added to it.
type world struct {
	srv       *accord
	userToken string // bare, as a user client sends it
	userID    string
	botToken  string // without the "Bot " prefix
	botID     string
	guildID   string
	guildName string
	channelID string // the guild's text channel
}

var worlds atomic.Int64

func newWorld(t *testing.T) *world {
	t.Helper()
	a := startAccord(t)
	w := &world{srv: a, guildName: "Compat Guild"}
	var reg struct {
		Token  string `json:"token"`
		UserID string `json:"user_id"`
	}
	// A name of this world's own: on Cassandra, the tests of this process
	// share one keyspace (teststore.Configure), and usernames are unique.
	name := fmt.Sprintf("alice_%d", worlds.Add(1))
	a.api(t, "POST", "/auth/register", "", map[string]any{"username": name, "password": "a long password"}, 201, &reg)
	w.userToken, w.userID = reg.Token, reg.UserID

	var app struct {
		ID    string `json:"id"`
		Token string `json:"token"`
		Flags int    `json:"flags"`
	}
	a.api(t, "POST", "/applications", w.userToken, map[string]any{"name": "CompatBot"}, 201, &app)
	w.botToken, w.botID = app.Token, app.ID

	var g struct {
		ID              string `json:"id"`
		SystemChannelID string `json:"system_channel_id"`
	}
	a.api(t, "POST", "/guilds", w.userToken, map[string]any{"name": w.guildName}, 201, &g)
	w.guildID = g.ID
	var chans []struct {
		ID   string `json:"id"`
		Type int    `json:"type"`
	}
	a.api(t, "GET", "/guilds/"+g.ID+"/channels", w.userToken, nil, 200, &chans)
	for _, c := range chans {
		if c.Type == 0 && (w.channelID == "" || c.ID == g.SystemChannelID) {
			w.channelID = c.ID
		}
	}
	if w.channelID == "" {
		t.Fatalf("guild %s has no text channel: %+v", g.ID, chans)
	}

	// VIEW_CHANNEL, SEND_MESSAGES, ADD_REACTIONS, READ_MESSAGE_HISTORY.
	const botPerms = 1<<10 | 1<<11 | 1<<6 | 1<<16
	a.api(t, "POST", fmt.Sprintf("/oauth2/authorize?client_id=%s&scope=bot&permissions=%d", w.botID, botPerms), w.userToken,
		map[string]any{"guild_id": w.guildID, "authorize": true}, 200, nil)
	return w
}

// gatewayURL asks GET /gateway, as a user's client does, and checks the
// answer is this node's gateway.
func (w *world) gatewayURL(t *testing.T) string {
	t.Helper()
	var g struct {
		URL string `json:"url"`
	}
	w.srv.api(t, "GET", "/gateway", "", nil, 200, &g)
	if want := "ws" + strings.TrimPrefix(w.srv.url, "http") + "/gateway"; g.URL != want {
		t.Fatalf("GET /gateway: url %q, want %q", g.URL, want)
	}
	return g.URL
}

// dispatch is one event the user's client received.
type dispatch struct {
	T string
	S int64
	D map[string]any
}

// userClient is the user's own gateway connection (as an official
// client would hold one), recording every dispatch.
type userClient struct {
	ws     *websocket.Conn
	mu     sync.Mutex
	events []dispatch
	err    error
	wake   chan struct{} // signalled on every event or error
}

// connectUser identifies the user on the gateway and waits for READY and
// the guild's GUILD_CREATE.
func connectUser(t *testing.T, ctx context.Context, w *world) *userClient {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, w.gatewayURL(t)+"?v=10&encoding=json", nil)
	if err != nil {
		t.Fatalf("user gateway: %v", err)
	}
	c := &userClient{ws: ws, wake: make(chan struct{}, 1)}
	t.Cleanup(func() { ws.Close() })

	var hello struct {
		Op int `json:"op"`
		D  struct {
			HeartbeatInterval int `json:"heartbeat_interval"`
		} `json:"d"`
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := ws.ReadJSON(&hello); err != nil || hello.Op != 10 || hello.D.HeartbeatInterval <= 0 {
		t.Fatalf("user gateway: HELLO: %+v, %v", hello, err)
	}
	_ = ws.SetReadDeadline(time.Time{})
	var wmu sync.Mutex
	send := func(v any) error {
		wmu.Lock()
		defer wmu.Unlock()
		_ = ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
		return ws.WriteJSON(v)
	}
	// GUILDS | GUILD_MESSAGES | GUILD_MESSAGE_REACTIONS | MESSAGE_CONTENT
	const intents = 1<<0 | 1<<9 | 1<<10 | 1<<15
	if err := send(map[string]any{"op": 2, "d": map[string]any{
		"token": w.userToken, "intents": intents,
		"properties": map[string]string{"os": "linux", "browser": "accord-compat", "device": "accord-compat"},
	}}); err != nil {
		t.Fatalf("user gateway: IDENTIFY: %v", err)
	}

	var seqMu sync.Mutex
	var lastSeq *int64
	go func() {
		for {
			var p struct {
				Op int            `json:"op"`
				S  *int64         `json:"s"`
				T  string         `json:"t"`
				D  map[string]any `json:"d"`
			}
			_, data, err := ws.ReadMessage()
			if err == nil {
				err = json.Unmarshal(data, &p)
			}
			c.mu.Lock()
			if err != nil {
				c.err = err
			} else if p.Op == 0 && p.S != nil {
				c.events = append(c.events, dispatch{T: p.T, S: *p.S, D: p.D})
			}
			c.mu.Unlock()
			if p.S != nil {
				seqMu.Lock()
				lastSeq = p.S
				seqMu.Unlock()
			}
			select {
			case c.wake <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		tick := time.NewTicker(time.Duration(hello.D.HeartbeatInterval) * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			seqMu.Lock()
			s := lastSeq
			seqMu.Unlock()
			if send(map[string]any{"op": 1, "d": s}) != nil {
				return
			}
		}
	}()
	if _, _, err := c.waitFor(ctx, "READY", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.waitFor(ctx, "GUILD_CREATE", func(d map[string]any) bool { return d["id"] == w.guildID }); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitFor returns the index and payload of the first dispatch of type
// typ that matches (nil: any), waiting for it until ctx ends.
func (c *userClient) waitFor(ctx context.Context, typ string, match func(map[string]any) bool) (int, map[string]any, error) {
	for {
		c.mu.Lock()
		for i, e := range c.events {
			if e.T == typ && (match == nil || match(e.D)) {
				c.mu.Unlock()
				return i, e.D, nil
			}
		}
		err := c.err
		c.mu.Unlock()
		if err != nil {
			return 0, nil, fmt.Errorf("user gateway: waiting for %s: connection ended: %v\nreceived: %s", typ, err, c.summary())
		}
		select {
		case <-c.wake:
		case <-ctx.Done():
			return 0, nil, fmt.Errorf("user gateway: no matching %s before the deadline\nreceived: %s", typ, c.summary())
		}
	}
}

// summary lists the dispatches received so far, for failure messages.
func (c *userClient) summary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, e := range c.events {
		raw, _ := json.Marshal(e.D)
		if len(raw) > 400 {
			raw = append(raw[:400], "…"...)
		}
		fmt.Fprintf(&b, "\n  #%d %s %s", e.S, e.T, raw)
	}
	return b.String()
}

// botRun is a bot under test: in a child process or in-process.
type botRun struct {
	ready  chan struct{} // closed when the bot has seen its guild
	done   chan error    // the bot's result, once
	output func() string // everything the bot printed, for failures

	mu      sync.Mutex
	replyID string // as the library reported it ("REPLY <id>")
	heard   int    // voice packets it reported from the user ("HEARD <n>")
}

func newBotRun() *botRun {
	return &botRun{ready: make(chan struct{}), done: make(chan error, 1)}
}

// line interprets one line of the bot protocol: READY, REPLY <id>,
// HEARD <n>.
func (b *botRun) line(l string) {
	switch f := strings.Fields(l); {
	case len(f) == 1 && f[0] == "READY":
		select {
		case <-b.ready:
		default:
			close(b.ready)
		}
	case len(f) == 2 && f[0] == "REPLY":
		b.mu.Lock()
		b.replyID = f[1]
		b.mu.Unlock()
	case len(f) == 2 && f[0] == "HEARD":
		n, _ := strconv.Atoi(f[1])
		b.mu.Lock()
		b.heard = max(b.heard, n)
		b.mu.Unlock()
	}
}

// botEnv is what every bot is told, as environment variables.
func (w *world) botEnv(content string) []string {
	return []string{
		"ACCORD_URL=" + w.srv.url,
		"BOT_TOKEN=" + w.botToken,
		"BOT_ID=" + w.botID,
		"GUILD_ID=" + w.guildID,
		"GUILD_NAME=" + w.guildName,
		"CHANNEL_ID=" + w.channelID,
		"USER_ID=" + w.userID,
		"EXPECT_CONTENT=" + content,
		"REPLY_EMOJI=" + replyEmoji,
	}
}

// startProcess runs a bot program; its stdout carries the bot protocol.
// The process is killed when ctx ends or the test finishes.
func startProcess(t *testing.T, ctx context.Context, env []string, dir, name string, args ...string) *botRun {
	t.Helper()
	b := newBotRun()
	out := &lockedBuffer{}
	b.output = out.String
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = out
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fmt.Fprintf(out, "[stdout] %s\n", sc.Text())
			b.line(sc.Text())
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		<-scanned
		b.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		// Normally gone already (it exits when done, and ctx's end
		// kills it); never leave it running past the test.
		_ = cmd.Process.Kill()
		<-exited
	})
	return b
}

// runScenario is the common part of every library's test: the user's
// client is connected, the bot is started, the user says something and
// the user's client must see the bot's reply, edit, reaction and delete.
func runScenario(t *testing.T, start func(ctx context.Context, w *world, content string) *botRun) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	w := newWorld(t)
	user := connectUser(t, ctx, w)

	content := fmt.Sprintf("hello bot, this is %s at %d", t.Name(), time.Now().UnixNano())
	bot := start(ctx, w, content)
	var botErr error
	botExited := false
	fail := func(format string, args ...any) {
		t.Helper()
		status := "still running"
		if botExited {
			status = fmt.Sprintf("exited: %v", botErr)
		}
		t.Fatalf("%s\nbot (%s) output:\n%s\nuser's gateway events:%s", fmt.Sprintf(format, args...), status, bot.output(), user.summary())
	}

	select {
	case <-bot.ready:
	case botErr = <-bot.done:
		botExited = true
		fail("bot ended before it signalled READY")
	case <-ctx.Done():
		fail("bot did not signal READY within %v", testTimeout)
	}

	var sent struct {
		ID string `json:"id"`
	}
	w.srv.api(t, "POST", "/channels/"+w.channelID+"/messages", w.userToken, map[string]any{"content": content}, 200, &sent)

	// Wait for the bot to finish (it exits after deleting its reply), then
	// check what the user's client saw.
	select {
	case botErr = <-bot.done:
		botExited = true
		if botErr != nil {
			fail("bot failed: %v", botErr)
		}
	case <-ctx.Done():
		fail("bot did not finish within %v", testTimeout)
	}

	isReply := func(d map[string]any) bool {
		author, _ := d["author"].(map[string]any)
		return author != nil && author["id"] == w.botID
	}
	iCreate, reply, err := user.waitFor(ctx, "MESSAGE_CREATE", isReply)
	if err != nil {
		fail("the bot's reply: %v", err)
	}
	replyID, _ := reply["id"].(string)
	ref, _ := reply["message_reference"].(map[string]any)
	if ref == nil || ref["message_id"] != sent.ID || ref["channel_id"] != w.channelID {
		fail("reply's message_reference = %v, want message_id %s in channel %s", reply["message_reference"], sent.ID, w.channelID)
	}
	if refd, _ := reply["referenced_message"].(map[string]any); refd == nil || refd["id"] != sent.ID {
		fail("reply's referenced_message = %v, want message %s", reply["referenced_message"], sent.ID)
	}
	if reply["channel_id"] != w.channelID || reply["guild_id"] != w.guildID {
		fail("reply in channel %v guild %v, want %s %s", reply["channel_id"], reply["guild_id"], w.channelID, w.guildID)
	}
	if author := reply["author"].(map[string]any); author["bot"] != true {
		fail("reply's author is not flagged bot: %v", author)
	}
	bot.mu.Lock()
	libReplyID := bot.replyID
	bot.mu.Unlock()
	if libReplyID != replyID {
		fail("the bot's library reported reply %q, the user's gateway saw %q", libReplyID, replyID)
	}

	iUpdate, upd, err := user.waitFor(ctx, "MESSAGE_UPDATE", func(d map[string]any) bool { return d["id"] == replyID })
	if err != nil {
		fail("the bot's edit: %v", err)
	}
	if upd["edited_timestamp"] == nil || upd["content"] == reply["content"] {
		fail("MESSAGE_UPDATE of the reply is not an edit: content %q (was %q), edited_timestamp %v",
			upd["content"], reply["content"], upd["edited_timestamp"])
	}

	iReact, react, err := user.waitFor(ctx, "MESSAGE_REACTION_ADD", func(d map[string]any) bool { return d["message_id"] == sent.ID })
	if err != nil {
		fail("the bot's reaction: %v", err)
	}
	emoji, _ := react["emoji"].(map[string]any)
	if react["user_id"] != w.botID || react["channel_id"] != w.channelID || react["guild_id"] != w.guildID ||
		emoji == nil || emoji["name"] != replyEmoji || emoji["id"] != nil {
		fail("MESSAGE_REACTION_ADD = %v, want the bot's %s on message %s", react, replyEmoji, sent.ID)
	}

	iDelete, del, err := user.waitFor(ctx, "MESSAGE_DELETE", func(d map[string]any) bool { return d["id"] == replyID })
	if err != nil {
		fail("the bot's delete: %v", err)
	}
	if del["channel_id"] != w.channelID || del["guild_id"] != w.guildID {
		fail("MESSAGE_DELETE = %v, want channel %s guild %s", del, w.channelID, w.guildID)
	}

	if !(iCreate < iUpdate && iUpdate < iReact && iReact < iDelete) {
		fail("events out of order: create #%d, update #%d, reaction #%d, delete #%d", iCreate, iUpdate, iReact, iDelete)
	}
	t.Logf("reply %s to %s: create, update, reaction, delete seen by the user", replyID, sent.ID)
	if testing.Verbose() {
		t.Logf("bot output:\n%s", bot.output())
	}
}

// TestDiscordJS runs tests/compat/js/bot.mjs (discord.js v14) with node.
func TestDiscordJS(t *testing.T) {
	dir, _ := filepath.Abs("js")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "discord.js", "package.json")); err != nil {
		missing(t, "discord.js is not installed in tests/compat/js/node_modules (npm ci --prefix tests/compat/js)")
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node is not on PATH")
	}
	runScenario(t, func(ctx context.Context, w *world, content string) *botRun {
		return startProcess(t, ctx, w.botEnv(content), dir, nodeBin, "bot.mjs")
	})
}

// TestDiscordPy runs tests/compat/py/bot.py (discord.py 2.x) with the
// venv's python.
func TestDiscordPy(t *testing.T) {
	dir, _ := filepath.Abs("py")
	python := filepath.Join(dir, ".venv", "bin", "python")
	if _, err := os.Stat(python); err != nil {
		missing(t, "no venv at tests/compat/py/.venv (python3 -m venv tests/compat/py/.venv && tests/compat/py/.venv/bin/pip install -r tests/compat/py/requirements.txt)")
	}
	if err := exec.Command(python, "-c", "import discord").Run(); err != nil {
		missing(t, "discord.py is not installed in tests/compat/py/.venv ("+err.Error()+")")
	}
	runScenario(t, func(ctx context.Context, w *world, content string) *botRun {
		return startProcess(t, ctx, append(w.botEnv(content), "PYTHONUNBUFFERED=1"), dir, python, "bot.py")
	})
}
