package node

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/accord-chat/accord/internal/config"
)

// runNode starts a node alone on loopback ports with a fresh data
// directory (edit changes its configuration first), and stops it when
// the test ends, failing the test if Run returns an error.
func runNode(t *testing.T, edit func(*config.Config)) *Node {
	t.Helper()
	cfg := config.Default()
	cfg.Listen, cfg.Data, cfg.PublicURL = "127.0.0.1:0", t.TempDir(), "http://127.0.0.1"
	if edit != nil {
		edit(&cfg)
	}
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
	return n
}

// TestHealthzReportsAHaltedShard: a node whose shard stopped applying (an
// entry of a newer format reached it) answers /healthz with 503 and why,
// and counts the shard in accord_raft_shards_halted.
func TestHealthzReportsAHaltedShard(t *testing.T) {
	n := runNode(t, nil)
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

// TestMetricsAreForTheOperator: /metrics on the public listener answers
// only a local client that came through no proxy, or the metrics token;
// with --metrics-listen it is on that listener only.
func TestMetricsAreForTheOperator(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("metrics")) })
	h := operatorOnly("s3cret", ok)
	cases := []struct {
		name, remote string
		header       map[string]string
		want         int
	}{
		{"loopback", "127.0.0.1:5000", nil, 200},
		{"loopback v6", "[::1]:5000", nil, 200},
		{"remote", "203.0.113.7:5000", nil, 404},
		{"private network", "10.1.2.3:5000", nil, 404},
		{"through a local proxy", "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "203.0.113.7"}, 404},
		{"through a local proxy, Forwarded", "127.0.0.1:5000", map[string]string{"Forwarded": "for=203.0.113.7"}, 404},
		{"remote with the token", "203.0.113.7:5000", map[string]string{"Authorization": "Bearer s3cret"}, 200},
		{"remote with a wrong token", "203.0.113.7:5000", map[string]string{"Authorization": "Bearer s3cre"}, 404},
		{"remote with the token as a bot token", "203.0.113.7:5000", map[string]string{"Authorization": "Bot s3cret"}, 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/metrics", nil)
			r.RemoteAddr = c.remote
			for k, v := range c.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != c.want {
				t.Fatalf("%d, want %d", w.Code, c.want)
			}
		})
	}

	t.Run("separate listener", func(t *testing.T) {
		n := runNode(t, func(cfg *config.Config) { cfg.MetricsListen = "127.0.0.1:0" })
		status := func(url string) int {
			res, err := http.Get(url)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			_, _ = io.Copy(io.Discard, res.Body)
			return res.StatusCode
		}
		if got := status("http://" + n.Addr() + "/metrics"); got != 404 {
			t.Fatalf("public /metrics: %d, want 404", got)
		}
		if got := status("http://" + n.MetricsAddr() + "/metrics"); got != 200 {
			t.Fatalf("metrics listener: %d, want 200", got)
		}
	})
}
