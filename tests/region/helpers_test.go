// Package region_test runs a region of real accord processes on loopback
// (deploy/local/region.sh) against a real Cassandra, and injects faults:
// SIGKILL of a shard leader, a node's restart, membership changes.
//
// The tests need Cassandra at ACCORD_CASSANDRA_HOSTS (scripts/test.sh
// starts one). Without it they skip, unless ACCORD_REQUIRE_CASSANDRA=1.
package region_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sh "github.com/accord-chat/accord/core/shard"

	"github.com/gorilla/websocket"

	"github.com/accord-chat/accord/raftstore"
)

const shards = 16

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// accordBin builds the binary once per test process.
func accordBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "accord-region-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "accord")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/accord").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build accord: %v", buildErr)
	}
	return binPath
}

func cassandraHosts(t *testing.T) string {
	h := os.Getenv("ACCORD_CASSANDRA_HOSTS")
	if h == "" {
		if os.Getenv("ACCORD_REQUIRE_CASSANDRA") == "1" {
			t.Fatal("ACCORD_REQUIRE_CASSANDRA=1 but ACCORD_CASSANDRA_HOSTS is not set")
		}
		t.Skip("region tests need Cassandra: set ACCORD_CASSANDRA_HOSTS (scripts/test.sh does)")
	}
	return h
}

// freeBase finds a base port P such that P..P+9 and P+100..P+109 are free.
func freeBase(t *testing.T) int {
	t.Helper()
	for try := 0; try < 50; try++ {
		var b [2]byte
		_, _ = rand.Read(b[:])
		base := 20000 + (int(b[0])<<8|int(b[1]))%30000
		ok := true
		for _, p := range []int{base, base + 100} {
			for i := 0; i < 10 && ok; i++ {
				ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+i))
				if err != nil {
					ok = false
					break
				}
				ln.Close()
			}
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// region is a running region started by deploy/local/region.sh.
type region struct {
	t        *testing.T
	dir      string
	base     int
	keyspace string
	nodes    int
}

func startRegion(t *testing.T, nodes int) *region {
	t.Helper()
	hosts := cassandraHosts(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	r := &region{t: t, dir: t.TempDir(), base: freeBase(t), keyspace: "region_" + hex.EncodeToString(b[:])}
	t.Cleanup(func() {
		r.script("stop")
		if t.Failed() {
			for i := 1; i <= r.nodes; i++ {
				raw, _ := os.ReadFile(filepath.Join(r.dir, fmt.Sprintf("node%d.log", i)))
				if len(raw) > 6000 {
					raw = raw[len(raw)-6000:]
				}
				t.Logf("node%d.log (tail):\n%s", i, raw)
			}
		}
	})
	_ = hosts
	r.start(nodes)
	return r
}

func (r *region) script(args ...string) []byte {
	r.t.Helper()
	// --data goes first: what follows "--" is passed to accord.
	cmd := exec.Command("../../deploy/local/region.sh", append([]string{args[0], "--data", r.dir}, args[1:]...)...)
	cmd.Env = append(os.Environ(), "ACCORD_BIN="+accordBin(r.t))
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("region.sh %v: %v\n%s", args, err, out)
	}
	return out
}

// start starts (or restarts) nodes 1..n.
func (r *region) start(n int) {
	r.t.Helper()
	if n > r.nodes {
		r.nodes = n
	}
	r.script("start", "--nodes", strconv.Itoa(n), "--base-port", strconv.Itoa(r.base), "--keyspace", r.keyspace,
		"--", "--rate-limits", "off", "--log-level", "info", "--heartbeat-interval", "2s")
}

func (r *region) url(i int) string { return fmt.Sprintf("http://127.0.0.1:%d", r.base+i-1) }

// waitMetric waits until node i's /metrics reports name at want.
func (r *region) waitMetric(i int, name string, want float64) {
	r.t.Helper()
	deadline := time.Now().Add(time.Minute)
	last := "no answer"
	for time.Now().Before(deadline) {
		res, err := http.Get(r.url(i) + "/metrics")
		if err == nil {
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			for _, line := range strings.Split(string(raw), "\n") {
				if v, ok := strings.CutPrefix(line, name+" "); ok {
					last = v
					if f, err := strconv.ParseFloat(v, 64); err == nil && f == want {
						return
					}
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("node %d: %s is %s, want %v", i, name, last, want)
}
func (r *region) raftAddr(i int) string { return fmt.Sprintf("127.0.0.1:%d", r.base+100+i-1) }

func (r *region) pid(i int) int {
	raw, err := os.ReadFile(filepath.Join(r.dir, fmt.Sprintf("node%d.pid", i)))
	if err != nil {
		r.t.Fatalf("node %d pid: %v", i, err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	return pid
}

// kill SIGKILLs node i and waits for it to be gone.
func (r *region) kill(i int) {
	r.t.Helper()
	pid := r.pid(i)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		r.t.Fatalf("kill node %d: %v", i, err)
	}
	for syscall.Kill(pid, 0) == nil {
		// Reap if it is our child's child (region.sh detached it: it is not).
		time.Sleep(10 * time.Millisecond)
		var ws syscall.WaitStatus
		_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
	}
}

// leaderOf returns the node (1-based) leading the shard of key.
func (r *region) leaderOf(key uint64) int {
	r.t.Helper()
	conf, err := raftstore.LoadTLS(filepath.Join(r.dir, "tls/ca.pem"), filepath.Join(r.dir, "tls/node-1.pem"), filepath.Join(r.dir, "tls/node-1-key.pem"))
	if err != nil {
		r.t.Fatal(err)
	}
	shard := sh.Of(key, shards)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for i := 1; i <= r.nodes; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			ms, err := raftstore.AdminMembers(ctx, conf, r.raftAddr(i))
			cancel()
			if err != nil {
				continue
			}
			for _, s := range ms {
				if s.Shard != shard {
					continue
				}
				for _, m := range s.Members {
					if m.Leader {
						n, _ := strconv.Atoi(strings.TrimPrefix(m.ID, "node-"))
						return n
					}
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.t.Fatalf("no leader for shard %d", shard)
	return 0
}

// api calls node i's REST API.
func api(base, method, path, token string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+"/api/v10"+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out, nil
}

func mustAPI(t *testing.T, base, method, path, token string, body any, want int) map[string]any {
	t.Helper()
	var status int
	var out map[string]any
	var err error
	// A write can land during an election: 503, and libraries retry.
	for try := 0; try < 50; try++ {
		status, out, err = api(base, method, path, token, body)
		if err == nil && status != http.StatusServiceUnavailable {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || status != want {
		t.Fatalf("%s %s on %s: %d %v %v (want %d)", method, path, base, status, out, err, want)
	}
	return out
}

// user is an account and its token.
type user struct {
	id    string
	token string
}

func register(t *testing.T, base, name string) user {
	t.Helper()
	out := mustAPI(t, base, "POST", "/auth/register", "", map[string]any{"username": name, "password": "correct horse battery"}, 201)
	return user{id: out["user_id"].(string), token: out["token"].(string)}
}

// gwClient is a gateway client that records every MESSAGE_CREATE it gets.
type gwClient struct {
	t    *testing.T
	name string
	ws   *websocket.Conn

	mu        sync.Mutex
	sessionID string
	seq       int64
	msgs      []string // MESSAGE_CREATE ids, in order of arrival
	seqs      []int64
	guilds    map[string]map[string]any // GUILD_CREATE by guild ID
	ready     chan struct{}
	closed    chan struct{}
	err       error // why the connection ended, once closed is
	wmu       sync.Mutex
}

func dialGateway(t *testing.T, base, name string) (*websocket.Conn, error) {
	url := "ws" + strings.TrimPrefix(base, "http") + "/gateway?v=10&encoding=json"
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	return ws, err
}

// connect identifies as u on node base and waits for its GUILD_CREATE.
func connect(t *testing.T, base, name string, u user) *gwClient {
	t.Helper()
	return connectWith(t, base, name, u, 1|1<<9|1<<15)
}

// connectWith is connect with the given intents.
func connectWith(t *testing.T, base, name string, u user, intents int) *gwClient {
	t.Helper()
	ws, err := dialGateway(t, base, name)
	if err != nil {
		t.Fatalf("%s: dial: %v", name, err)
	}
	c := &gwClient{t: t, name: name, ws: ws, ready: make(chan struct{}), closed: make(chan struct{})}
	c.send(map[string]any{"op": 2, "d": map[string]any{"token": u.token, "intents": intents,
		"properties": map[string]any{"os": "linux", "browser": "test", "device": "test"}}})
	go c.read()
	select {
	case <-c.ready:
	case <-time.After(time.Minute):
		t.Fatalf("%s: no GUILD_CREATE", name)
	}
	t.Cleanup(func() { ws.Close() })
	return c
}

func (c *gwClient) send(v any) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.WriteJSON(v)
}

func (c *gwClient) read() {
	defer close(c.closed)
	readyOnce := sync.Once{}
	stop := make(chan struct{})
	defer close(stop)
	for {
		var p struct {
			Op int             `json:"op"`
			S  *int64          `json:"s"`
			T  string          `json:"t"`
			D  json.RawMessage `json:"d"`
		}
		if err := c.ws.ReadJSON(&p); err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		if p.S != nil {
			c.seq = *p.S
		}
		c.mu.Unlock()
		switch p.Op {
		case 10:
			var h struct {
				Interval int `json:"heartbeat_interval"`
			}
			_ = json.Unmarshal(p.D, &h)
			go func() {
				tk := time.NewTicker(time.Duration(h.Interval) * time.Millisecond)
				defer tk.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tk.C:
						c.mu.Lock()
						s := c.seq
						c.mu.Unlock()
						c.send(map[string]any{"op": 1, "d": s})
					}
				}
			}()
		case 0:
			switch p.T {
			case "READY":
				var d struct {
					SessionID string `json:"session_id"`
				}
				_ = json.Unmarshal(p.D, &d)
				c.mu.Lock()
				c.sessionID = d.SessionID
				c.mu.Unlock()
			case "GUILD_CREATE":
				var d map[string]any
				_ = json.Unmarshal(p.D, &d)
				c.mu.Lock()
				if c.guilds == nil {
					c.guilds = map[string]map[string]any{}
				}
				id, _ := d["id"].(string)
				c.guilds[id] = d
				c.mu.Unlock()
				readyOnce.Do(func() { close(c.ready) })
			case "RESUMED":
				readyOnce.Do(func() { close(c.ready) })
			case "MESSAGE_CREATE":
				var d struct {
					ID string `json:"id"`
				}
				_ = json.Unmarshal(p.D, &d)
				c.mu.Lock()
				c.msgs = append(c.msgs, d.ID)
				c.seqs = append(c.seqs, *p.S)
				c.mu.Unlock()
			}
		}
	}
}

func (c *gwClient) messages() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}

// waitAll waits until the client has every id in want.
func (c *gwClient) waitAll(want map[string]bool, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		have := map[string]bool{}
		for _, id := range c.messages() {
			have[id] = true
		}
		missing := 0
		for id := range want {
			if !have[id] {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: %d of %d acknowledged messages never arrived", c.name, missing, len(want))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkExactlyOnce: every acknowledged message arrived once.
func (c *gwClient) checkExactlyOnce(acked map[string]bool) {
	c.t.Helper()
	count := map[string]int{}
	for _, id := range c.messages() {
		count[id]++
	}
	for id, n := range count {
		if n != 1 {
			c.t.Fatalf("%s: message %s arrived %d times", c.name, id, n)
		}
	}
	for id := range acked {
		if count[id] != 1 {
			c.t.Fatalf("%s: acknowledged message %s arrived %d times", c.name, id, count[id])
		}
	}
}

// sender posts messages to a channel through the given nodes in turn
// until stopped, and records what was acknowledged.
type sender struct {
	mu     sync.Mutex
	acked  map[string]bool
	order  []string
	sentAt map[string]time.Time // when the request that created it started
}

func (s *sender) run(stop <-chan struct{}, wg *sync.WaitGroup, nodes func() []string, u user, channel, tag string) {
	defer wg.Done()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		ns := nodes()
		base := ns[i%len(ns)]
		start := time.Now()
		status, out, err := api(base, "POST", "/channels/"+channel+"/messages", u.token, map[string]any{"content": fmt.Sprintf("%s %d", tag, i)})
		if err == nil && status == 200 {
			s.mu.Lock()
			id := out["id"].(string)
			s.acked[id] = true
			s.order = append(s.order, id)
			if s.sentAt == nil {
				s.sentAt = map[string]time.Time{}
			}
			s.sentAt[id] = start
			s.mu.Unlock()
		}
		time.Sleep(15 * time.Millisecond)
	}
}

// waitAcked waits until at least n messages are acknowledged: traffic
// flows for as long as the machine needs, not for a fixed time.
func (s *sender) waitAcked(t *testing.T, n int, what string) int {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s.mu.Lock()
		got := len(s.acked)
		s.mu.Unlock()
		if got >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d messages acknowledged, want %d", what, got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *sender) snapshot() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]bool, len(s.acked))
	for k := range s.acked {
		out[k] = true
	}
	return out
}

func firstTextChannel(t *testing.T, base, token, guild string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v10/guilds/"+guild+"/channels", nil)
	req.Header.Set("Authorization", token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var chans []map[string]any
	if err := json.NewDecoder(res.Body).Decode(&chans); err != nil {
		t.Fatal(err)
	}
	for _, c := range chans {
		if c["type"].(float64) == 0 {
			return c["id"].(string)
		}
	}
	t.Fatal("no text channel")
	return ""
}

// guildCreate waits (briefly) for the guild's GUILD_CREATE.
func (c *gwClient) guildCreate(id string) map[string]any {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c.mu.Lock()
		g := c.guilds[id]
		c.mu.Unlock()
		if g != nil {
			return g
		}
	}
	return nil
}

func channelLastMessage(g map[string]any, channel string) string {
	chans, _ := g["channels"].([]any)
	for _, x := range chans {
		c, _ := x.(map[string]any)
		if c["id"] == channel {
			s, _ := c["last_message_id"].(string)
			return s
		}
	}
	return ""
}

func runAccord(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	return exec.Command(accordBin(t), args...).CombinedOutput()
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
