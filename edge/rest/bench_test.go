package rest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accord-chat/accord/core/engine"
	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store/pebblestore"
	"github.com/accord-chat/accord/edge/auth"
	"github.com/accord-chat/accord/internal/accordtest"
)

// benchHarness is newHarness for benchmarks: the same stack (a real
// Pebble store with synced commits, the engine, the API behind an
// httptest server), built from a *testing.B because newHarness takes a
// *testing.T. Only the server fields of the harness are set; its request
// helpers need the *testing.T and are not used here.
func benchHarness(b *testing.B) *harness {
	b.Helper()
	dir := b.TempDir()
	st, err := pebblestore.Open(pebblestore.Options{Dir: filepath.Join(dir, "store"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	eng, _ := accordtest.Engine(b, st)
	h := &harness{eng: eng, dir: dir}
	mux := http.NewServeMux()
	h.srv = httptest.NewServer(mux)
	h.api = New(Config{Engine: eng, Verifier: auth.NewVerifier(st), Logger: slog.New(slog.DiscardHandler),
		AttachmentDir: filepath.Join(dir, "attachments"), PublicURL: h.srv.URL, GatewayURL: "ws" + h.srv.URL[4:] + "/gateway"})
	mux.Handle("/", h.api.Handler())
	b.Cleanup(func() {
		h.srv.Close()
		st.Close()
	})
	return h
}

// BenchmarkCreateMessage is POST /channels/{id}/messages over HTTP from
// 16 goroutines per CPU (64 on 4 CPUs), each on its own keep-alive
// connection, spread over 64 channels of one guild, with every commit
// synced. It reports msgs/s; the per-op time is wall time divided by all
// requests, so it is the inverse of throughput, not a latency.
func BenchmarkCreateMessage(b *testing.B) {
	h := benchHarness(b)
	ctx := context.Background()
	u, tok, err := h.eng.Register(ctx, "bench", "correct horse")
	if err != nil {
		b.Fatal(err)
	}
	gid, err := h.eng.CreateGuild(ctx, u.ID, "Bench Guild", nil)
	if err != nil {
		b.Fatal(err)
	}
	var chans []string
	for i := range 64 {
		c, err := h.eng.CreateChannel(ctx, u.ID, gid, engine.ChannelParams{Name: fmt.Sprintf("bench-%d", i), Type: model.ChannelGuildText})
		if err != nil {
			b.Fatal(err)
		}
		chans = append(chans, c.ID.String())
	}
	tr := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	body := []byte(`{"content":"the quick brown fox jumps over the lazy dog, the quick brown fox jumps over the lazy dog"}`)
	var worker atomic.Int64

	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		w := int(worker.Add(1))
		for n := 0; pb.Next(); n++ {
			url := h.srv.URL + "/api/v10/channels/" + chans[(w+n)%len(chans)] + "/messages"
			req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", tok)
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
