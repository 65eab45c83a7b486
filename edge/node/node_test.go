package node

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/accord-chat/accord/internal/config"
)

// TestHealthzReportsAHaltedShard: a node whose shard stopped applying (an
// entry of a newer format reached it) answers /healthz with 503 and why,
// and counts the shard in accord_raft_shards_halted.
func TestHealthzReportsAHaltedShard(t *testing.T) {
	cfg := config.Default()
	cfg.Listen, cfg.Data, cfg.PublicURL = "127.0.0.1:0", t.TempDir(), "http://127.0.0.1"
	n, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get("http://" + n.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz = %d %q, want 200 ok", code, body)
	}
	if err := n.Raft().Propose(2, []byte{0xAC, 99, '{', '}'})(); err == nil {
		t.Fatal("an entry of a newer format was applied")
	}
	code, body := get("/healthz")
	if code != 503 || !strings.Contains(body, "shard 2 halted") || !strings.Contains(body, "newer format") {
		t.Fatalf("/healthz = %d %q, want 503 naming shard 2 and the newer format", code, body)
	}
	if _, metrics := get("/metrics"); !strings.Contains(metrics, "accord_raft_shards_halted 1") {
		t.Fatal("/metrics does not count the halted shard")
	}
}
