package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pturn "github.com/pion/turn/v4"

	"github.com/accord-chat/accord/internal/pionlog"
	"github.com/accord-chat/accord/internal/wait"
	"github.com/accord-chat/accord/turn"
)

// TestTurnCommand: `accord turn` alone serves allocations to holders of
// credentials made with its secret file, and refuses bad flags clearly.
func TestTurnCommand(t *testing.T) {
	bin := accordBinary(t)
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "turn-secret")
	if err := os.WriteFile(secretFile, []byte("region secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{
		{"turn", "--relay-ip", "127.0.0.1"},
		{"turn", "--secret-file", secretFile},
		{"turn", "--secret-file", secretFile, "--relay-ip", "nowhere"},
		{"turn", "--secret-file", secretFile, "--relay-ip", "127.0.0.1", "--allow-peers", "10.0.0.0/99"},
		{"turn", "--secret-file", secretFile, "--relay-ip", "127.0.0.1", "--min-port", "9", "--max-port", "8"},
	} {
		if out, err := exec.Command(bin, bad...).CombinedOutput(); err == nil || !strings.HasPrefix(string(out), "accord: ") {
			t.Errorf("%v: err %v, output %q", bad, err, out)
		}
	}

	addr := freeUDP(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "turn", "--secret-file", secretFile, "--udp", addr, "--tcp", "",
		"--relay-ip", "127.0.0.1", "--min-port", "40000", "--max-port", "40100", "--allow-peers", "127.0.0.2")
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	wait.For(t, "accord turn to log that it serves", func() bool { return strings.Contains(out.String(), "turn serving") })

	cred := turn.Issue([]byte("region secret"), "42", time.Now(), time.Minute)
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := pturn.NewClient(&pturn.ClientConfig{STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: cred.Username, Password: cred.Password, Realm: "accord", LoggerFactory: pionlog.Factory(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("allocate: %v\n%s", err, out.String())
	}
	defer relay.Close()
	if p := relay.LocalAddr().(*net.UDPAddr).Port; p < 40000 || p > 40100 {
		t.Fatalf("relay port %d outside --min-port/--max-port", p)
	}
	if err := c.CreatePermission(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 5000}); err != nil {
		t.Fatalf("permission to an --allow-peers address: %v", err)
	}
	if err := c.CreatePermission(&net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 5000}); err == nil {
		t.Fatal("permission to a private address granted")
	}
}

func freeUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}
