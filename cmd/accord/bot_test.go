package main

import (
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBotCreate: `accord bot create` against a running node gives a token
// that node accepts at once; with the node stopped it creates the bot
// through the same write path offline, and the restarted node accepts
// both tokens.
func TestBotCreate(t *testing.T) {
	bin := accordBinary(t)
	data := t.TempDir()
	p := startAccord(t, bin, data)

	online := createBot(t, bin, data, "OnlineBot")
	wantBot(t, p.base, online, "OnlineBot")

	if st := p.signal(syscall.SIGTERM, 60*time.Second); st.ExitCode() != 0 {
		t.Fatalf("exit after SIGTERM: %v", st)
	}
	offline := createBot(t, bin, data, "OfflineBot")
	p = startAccord(t, bin, data)
	wantBot(t, p.base, online, "OnlineBot")
	wantBot(t, p.base, offline, "OfflineBot")
	if st := p.signal(syscall.SIGTERM, 60*time.Second); st.ExitCode() != 0 {
		t.Fatalf("exit after SIGTERM: %v", st)
	}
}

func createBot(t *testing.T, bin, data, name string) string {
	t.Helper()
	cmd := exec.Command(bin, "bot", "create", "--name", name, "--data", data, "--listen", freeAddr(t))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("accord bot create --name %s: %v\n%s", name, err, stderr.String())
	}
	tok := strings.TrimSpace(string(out))
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("accord bot create printed %q, want a token", out)
	}
	return tok
}

// wantBot checks that the node knows the token as the bot's.
func wantBot(t *testing.T, base, token, name string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/v10/users/@me", nil)
	req.Header.Set("Authorization", "Bot "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	body := string(raw)
	if res.StatusCode != 200 || !strings.Contains(body, `"username":"`+name+`"`) || !strings.Contains(body, `"bot":true`) {
		t.Fatalf("GET /users/@me as %s: %d %s", name, res.StatusCode, body)
	}
}
