package node

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accord-chat/accord/internal/config"
)

// TestTrickledBodyIsCutOff: a client that sends a body at a byte per
// 50 ms does not hold its connection past the read deadline.
func TestTrickledBodyIsCutOff(t *testing.T) {
	saved := publicLimits
	publicLimits.read = time.Second
	defer func() { publicLimits = saved }()
	n := runNode(t, nil)
	c, err := net.Dial("tcp", n.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const body = 2000 // 100 s at this pace
	if _, err := io.WriteString(c, "POST /api/v10/auth/login HTTP/1.1\r\nHost: accord\r\nContent-Type: application/json\r\n"+
		"Content-Length: 2000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	ended := make(chan string, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(c, 400))
		line := string(b)
		if err != nil {
			line = "closed: " + err.Error()
		}
		ended <- line
	}()
	for sent := 0; sent < body; sent++ {
		select {
		case how := <-ended:
			if !strings.HasPrefix(how, "HTTP/1.1 408 ") && !strings.HasPrefix(how, "closed") {
				t.Fatalf("the trickled request got %q, want 408 or a closed connection", how)
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
		if _, err := c.Write([]byte{' '}); err != nil {
			return // the server closed the connection
		}
	}
	t.Fatalf("the connection stayed open for a %d-byte body trickled over %v", body, time.Duration(body)*50*time.Millisecond)
}

// pipeListener hands out the server ends of pipes that claim to come
// from addr.
type pipeListener struct {
	conns chan net.Conn
}

type fromConn struct {
	net.Conn
	addr net.Addr
}

func (c fromConn) RemoteAddr() net.Addr { return c.addr }

func (l *pipeListener) Accept() (net.Conn, error) {
	c, ok := <-l.conns
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}
func (l *pipeListener) Close() error   { return nil }
func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{} }

// TestConnectionsPerAddressAreLimited: a remote address holds at most the
// limit; a closed connection frees its place; loopback is not counted.
func TestConnectionsPerAddressAreLimited(t *testing.T) {
	pl := &pipeListener{conns: make(chan net.Conn, 16)}
	ln := limitPerIP(pl, 2)
	remote := &net.TCPAddr{IP: net.ParseIP("203.0.113.9"), Port: 4000}
	other := &net.TCPAddr{IP: net.ParseIP("198.51.100.1"), Port: 4000}
	dial := func(addr net.Addr) net.Conn {
		server, client := net.Pipe()
		pl.conns <- fromConn{server, addr}
		return client
	}
	accept := func() net.Conn {
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := dial(remote), dial(remote)
	sa, sb := accept(), accept()
	refused := dial(remote)
	d := dial(other)
	if got := accept(); got.RemoteAddr().String() != other.String() {
		t.Fatalf("accepted %v past the limit of 2", got.RemoteAddr())
	}
	// The third from the full address was closed at once.
	if _, err := refused.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection past the limit was kept open")
	}
	sa.Close()
	dial(remote)
	if got := accept(); got.RemoteAddr().String() != remote.String() {
		t.Fatalf("after a close, accepted %v", got.RemoteAddr())
	}
	for range 5 {
		dial(&net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 5000})
		if got := accept(); !strings.HasPrefix(got.RemoteAddr().String(), "127.0.0.1") {
			t.Fatalf("loopback: accepted %v", got.RemoteAddr())
		}
	}
	_, _, _, _ = a, b, sb, d
}

// TestAttachmentKeyIsKept: without a configured key a node makes one on
// first start and keeps it in the data directory, so URLs it signed still
// work after a restart; a configured key wins; a damaged file is an
// error, not a silent new key.
func TestAttachmentKeyIsKept(t *testing.T) {
	cfg := config.Default()
	cfg.Data = t.TempDir()
	k1, err := attachmentKey(cfg)
	if err != nil || len(k1) != 32 {
		t.Fatalf("first key: %x, %v", k1, err)
	}
	k2, err := attachmentKey(cfg)
	if err != nil || string(k1) != string(k2) {
		t.Fatalf("second start got another key: %x vs %x (%v)", k2, k1, err)
	}
	cfg.AttachmentKey = strings.Repeat("ab", 32)
	if k, err := attachmentKey(cfg); err != nil || k[0] != 0xab || len(k) != 32 {
		t.Fatalf("configured key: %x, %v", k, err)
	}
	cfg.AttachmentKey = ""
	if err := os.WriteFile(filepath.Join(cfg.Data, "attachment.key"), []byte("not hex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := attachmentKey(cfg); err == nil {
		t.Fatal("a damaged key file was accepted")
	}
}

// TestUploadLimitIsTheSetting: max_upload_mib reaches the API: with 1 MiB
// an upload of 1.5 MiB is refused with 413 (40005), one of half a MiB
// goes through.
func TestUploadLimitIsTheSetting(t *testing.T) {
	n := runNode(t, func(c *config.Config) { c.MaxUploadMiB = 1; c.RateLimits = "off" })
	base := "http://" + n.Addr() + "/api/v10"
	call := func(method, path, token, ctype string, body []byte) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	_, reg := call("POST", "/auth/register", "", "application/json", []byte(`{"username":"uploader","password":"a long password"}`))
	token, _ := reg["token"].(string)
	_, g := call("POST", "/guilds", token, "application/json", []byte(`{"name":"limits"}`))
	channel, _ := g["system_channel_id"].(string)
	if token == "" || channel == "" {
		t.Fatalf("set-up: %v %v", reg, g)
	}
	upload := func(size int) (int, map[string]any) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		fw, _ := mw.CreateFormFile("files[0]", "f.bin")
		_, _ = fw.Write(make([]byte, size))
		mw.Close()
		return call("POST", "/channels/"+channel+"/messages", token, mw.FormDataContentType(), b.Bytes())
	}
	if status, out := upload(1536 << 10); status != 413 || out["code"] != 40005.0 {
		t.Fatalf("1.5 MiB under a 1 MiB limit: %d %v, want 413 code 40005", status, out)
	}
	if status, out := upload(512 << 10); status != 200 {
		t.Fatalf("half a MiB under a 1 MiB limit: %d %v", status, out)
	}
}
