//go:build unix

package main

// Crash tests against the real binary: build accord, run it as a child
// process on a temporary data directory, kill it with SIGKILL while
// message creates are in flight, restart it on the same directory and
// check that every write the server acknowledged is still there. They need
// only the Go toolchain (to build the binary) and run in a plain
// `go test ./cmd/accord/`.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// accordBinary builds this package once per test binary run.
func accordBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			if root := os.Getenv("GOROOT"); root != "" {
				goTool = filepath.Join(root, "bin", "go")
			} else {
				buildErr = fmt.Errorf("go tool not found: %w", err)
				return
			}
		}
		buildDir, buildErr = os.MkdirTemp("", "accord-kill-test-")
		if buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "accord")
		cmd := exec.Command(goTool, "build", "-o", buildBin, ".")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// lockedBuffer collects the child's stderr.
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

// proc is a running accord process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:PORT
	stderr *lockedBuffer
	done   chan struct{} // closed when the process has been reaped
	state  *os.ProcessState
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startAccord runs the binary on dataDir (with extra flags) and waits
// until /healthz answers.
// The process gets its own process group; a cleanup kills the group if
// the test did not stop it.
func startAccord(t *testing.T, bin, dataDir string, extra ...string) *proc {
	t.Helper()
	addr := freeAddr(t)
	// extra comes last, so its flags win.
	cmd := exec.Command(bin, append([]string{"--listen", addr, "--data", dataDir, "--rate-limits", "off", "--log-level", "warn"}, extra...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &proc{t: t, cmd: cmd, base: "http://" + addr, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout = p.stderr
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		p.state = cmd.ProcessState
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		if t.Failed() {
			t.Logf("accord pid %d output:\n%s", cmd.Process.Pid, p.stderr.String())
		}
	})
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("accord exited during startup (%v):\n%s", p.state, p.stderr.String())
		default:
		}
		res, err := hc.Get(p.base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("accord did not become healthy in 60s:\n%s", p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// signal sends sig to the process group and waits up to timeout for the
// process to exit.
func (p *proc) signal(sig syscall.Signal, timeout time.Duration) *os.ProcessState {
	p.t.Helper()
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil {
		p.t.Fatalf("kill %v: %v", sig, err)
	}
	select {
	case <-p.done:
		return p.state
	case <-time.After(timeout):
		p.t.Fatalf("accord did not exit within %s of %v", timeout, sig)
		return nil
	}
}

// client talks to the API as one user.
type client struct {
	t     *testing.T
	base  string
	token string
	hc    *http.Client
}

func newClient(t *testing.T, base, token string) *client {
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{t: t, base: base, token: token, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// do sends a request with a JSON body (nil for none) and returns the
// status and body. A transport error is returned, not fatal: writers
// expect them once the server is killed.
func (c *client) do(method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+"/api/v10"+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", c.token)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	return res.StatusCode, raw, err
}

// must sends a request that has to succeed with status want and decodes
// the body into out (if not nil).
func (c *client) must(want int, method, path string, body, out any) {
	c.t.Helper()
	status, raw, err := c.do(method, path, body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	if status != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
}

type apiMessage struct {
	ID        string `json:"id"`
	ChannelID string `json:"channel_id"`
	Content   string `json:"content"`
}

// acked is a message the server acknowledged with 200.
type acked struct {
	channel string
	id      uint64
	content string
}

// setup registers a user, creates a guild and n text channels, and
// returns an authenticated client and the channel IDs.
func setup(t *testing.T, base string, n int) (*client, []string) {
	t.Helper()
	anon := newClient(t, base, "")
	var reg struct {
		Token string `json:"token"`
	}
	anon.must(201, "POST", "/auth/register", map[string]any{"username": "crash.tester", "password": "correct horse battery"}, &reg)
	c := newClient(t, base, reg.Token)
	var g struct {
		ID string `json:"id"`
	}
	c.must(201, "POST", "/guilds", map[string]any{"name": "Crash Test Guild"}, &g)
	var chans []string
	for i := range n {
		var ch struct {
			ID string `json:"id"`
		}
		c.must(201, "POST", "/guilds/"+g.ID+"/channels", map[string]any{"name": fmt.Sprintf("load-%d", i), "type": 0}, &ch)
		chans = append(chans, ch.ID)
	}
	return c, chans
}

// writeUntil streams message creates from writers goroutines over the
// channels until stop returns true (checked against the number of acks so
// far), then calls interrupt (which kills or stops the server) while the
// writers are still sending, and returns what was acknowledged and how
// many requests failed.
func writeUntil(t *testing.T, c *client, chans []string, tag string, writers int,
	stop func(elapsed time.Duration, acks int64) bool, interrupt func()) ([]acked, int64) {
	t.Helper()
	var (
		mu      sync.Mutex
		acks    []acked
		nAcks   atomic.Int64
		nFailed atomic.Int64
		halt    atomic.Bool
		wg      sync.WaitGroup
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !halt.Load(); n++ {
				ch := chans[(w+n)%len(chans)]
				content := fmt.Sprintf("%s w%d n%d", tag, w, n)
				status, raw, err := c.do("POST", "/channels/"+ch+"/messages", map[string]any{"content": content})
				if err != nil || status != 200 {
					nFailed.Add(1)
					if err == nil && status != 200 && !halt.Load() {
						t.Errorf("create message: status %d: %s", status, raw)
						return
					}
					time.Sleep(5 * time.Millisecond)
					continue
				}
				var m apiMessage
				if err := json.Unmarshal(raw, &m); err != nil {
					t.Errorf("decode ack %s: %v", raw, err)
					return
				}
				id, err := strconv.ParseUint(m.ID, 10, 64)
				if err != nil || m.Content != content || m.ChannelID != ch {
					t.Errorf("bad ack %s for %q in %s", raw, content, ch)
					return
				}
				mu.Lock()
				acks = append(acks, acked{channel: ch, id: id, content: content})
				mu.Unlock()
				nAcks.Add(1)
			}
		}()
	}
	start := time.Now()
	for !stop(time.Since(start), nAcks.Load()) {
		if time.Since(start) > 60*time.Second {
			halt.Store(true)
			wg.Wait()
			t.Fatalf("only %d acknowledged writes after 60s", nAcks.Load())
		}
		if t.Failed() {
			halt.Store(true)
			wg.Wait()
			t.FailNow()
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := nAcks.Load()
	interrupt()
	halt.Store(true)
	wg.Wait()
	c.hc.Transport.(*http.Transport).CloseIdleConnections()
	t.Logf("%s: %d acknowledged (%d when interrupted, after %s), %d failed requests",
		tag, len(acks), before, time.Since(start).Round(time.Millisecond), nFailed.Load())
	return acks, nFailed.Load()
}

// verify checks that every acknowledged message can be fetched by ID, and
// that each channel's history, paged newest first, is in strictly
// descending ID order and contains every acknowledged message.
func verify(t *testing.T, c *client, chans []string, acks []acked) {
	t.Helper()
	for _, a := range acks {
		var m apiMessage
		path := "/channels/" + a.channel + "/messages/" + strconv.FormatUint(a.id, 10)
		status, raw, err := c.do("GET", path, nil)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if status != 200 {
			t.Fatalf("acknowledged message %d (%q) lost: GET %s: %d %s", a.id, a.content, path, status, raw)
		}
		if err := json.Unmarshal(raw, &m); err != nil || m.Content != a.content {
			t.Fatalf("acknowledged message %d: got %s, want content %q", a.id, raw, a.content)
		}
	}
	want := map[string][]acked{}
	for _, a := range acks {
		want[a.channel] = append(want[a.channel], a)
	}
	for _, ch := range chans {
		seen := map[uint64]string{}
		var last uint64
		before := ""
		for {
			var page []apiMessage
			c.must(200, "GET", "/channels/"+ch+"/messages?limit=100"+before, nil, &page)
			if len(page) == 0 {
				break
			}
			for _, m := range page {
				id, err := strconv.ParseUint(m.ID, 10, 64)
				if err != nil {
					t.Fatalf("history of %s: bad id %q", ch, m.ID)
				}
				if last != 0 && id >= last {
					t.Fatalf("history of %s out of order: %d after %d", ch, id, last)
				}
				last = id
				seen[id] = m.Content
			}
			before = "&before=" + page[len(page)-1].ID
		}
		for _, a := range want[ch] {
			if got, ok := seen[a.id]; !ok || got != a.content {
				t.Fatalf("history of %s lacks acknowledged message %d (%q)", ch, a.id, a.content)
			}
		}
		t.Logf("channel %s: %d messages in history, %d acknowledged", ch, len(seen), len(want[ch]))
	}
}

// checkFreshID posts one message and checks that its ID is above every
// acknowledged one: a restarted node must never reuse or go back.
func checkFreshID(t *testing.T, c *client, ch string, acks []acked) acked {
	t.Helper()
	var m apiMessage
	c.must(200, "POST", "/channels/"+ch+"/messages", map[string]any{"content": "after restart"}, &m)
	id, _ := strconv.ParseUint(m.ID, 10, 64)
	for _, a := range acks {
		if a.id >= id {
			t.Fatalf("new message ID %d is not above acknowledged %d", id, a.id)
		}
	}
	return acked{channel: ch, id: id, content: "after restart"}
}

func TestSIGKILLLosesNoAcknowledgedWrite(t *testing.T) {
	bin := accordBinary(t)
	data := t.TempDir()
	p := startAccord(t, bin, data)
	c, chans := setup(t, p.base, 4)

	var all []acked
	for cycle := 1; cycle <= 2; cycle++ {
		// Kill after 1.5 s (with at least some acks) or 20,000 acks,
		// whichever comes first, with all 16 writers mid-stream.
		stop := func(el time.Duration, n int64) bool { return (el >= 1500*time.Millisecond && n >= 20) || n >= 20000 }
		var state *os.ProcessState
		acks, failed := writeUntil(t, c, chans, fmt.Sprintf("cycle%d", cycle), 16, stop, func() {
			state = p.signal(syscall.SIGKILL, 10*time.Second)
		})
		if ws, ok := state.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("cycle %d: accord did not die of SIGKILL: %v", cycle, state)
		}
		if failed == 0 {
			t.Logf("cycle %d: no request was cut off by the kill", cycle)
		}
		all = append(all, acks...)

		p = startAccord(t, bin, data)
		c.base = p.base
		verify(t, c, chans, all)
		all = append(all, checkFreshID(t, c, chans[cycle%len(chans)], all))
	}
	// A clean stop at the end, so the store is closed properly.
	if st := p.signal(syscall.SIGTERM, 60*time.Second); st.ExitCode() != 0 {
		t.Fatalf("exit after SIGTERM: %v", st)
	}
}

func TestGracefulShutdown(t *testing.T) {
	bin := accordBinary(t)
	data := t.TempDir()
	p := startAccord(t, bin, data)
	c, chans := setup(t, p.base, 2)

	var state *os.ProcessState
	var took time.Duration
	stop := func(el time.Duration, n int64) bool { return el >= 500*time.Millisecond && n >= 10 }
	acks, _ := writeUntil(t, c, chans, "graceful", 8, stop, func() {
		start := time.Now()
		state = p.signal(syscall.SIGTERM, 30*time.Second)
		took = time.Since(start)
	})
	if state.ExitCode() != 0 {
		t.Fatalf("exit after SIGTERM: %v, want status 0; output:\n%s", state, p.stderr.String())
	}
	t.Logf("SIGTERM to exit: %s", took.Round(time.Millisecond))

	p = startAccord(t, bin, data)
	c.base = p.base
	verify(t, c, chans, acks)
	if st := p.signal(syscall.SIGTERM, 30*time.Second); st.ExitCode() != 0 {
		t.Fatalf("second exit after SIGTERM: %v", st)
	}
}
