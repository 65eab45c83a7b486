package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// centrifugoOverhead is what Centrifugo's JSON protocol wraps around the
// content of a publication, {"push":{"channel":"bench","pub":{"data":
// {"text":"…"}}}}; --frame-bytes subtracts it so that a delivered frame
// is as large as the frame Accord delivers.
const centrifugoOverhead = 48

// runCentrifugo runs the same phases as gateway against a Centrifugo v6
// server: anonymous clients subscribed to one channel, messages published
// through its HTTP API.
func runCentrifugo(args []string) error {
	var c fanoutConfig
	fs := flag.NewFlagSet("centrifugo", flag.ContinueOnError)
	c.flags(fs)
	base := fs.String("url", "http://127.0.0.1:8001", "Centrifugo base URL")
	key := fs.String("api-key", "bench", "HTTP API key (http_api.key)")
	channel := fs.String("channel", "bench", "channel every client subscribes to")
	frame := fs.Int("frame-bytes", 0, "size the delivered frames to this many bytes (overrides --size), e.g. Accord's MESSAGE_CREATE frame")
	metrics := fs.Bool("metrics", true, "read Go heap and stacks from /metrics (prometheus.enabled)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if *frame > 0 {
		c.size = max(48, *frame-centrifugoOverhead-len(*channel))
	}
	*base = strings.TrimRight(*base, "/")
	if *metrics {
		c.metricsURL = *base + "/metrics"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := waitCentrifugo(wctx, *base); err != nil {
		return err
	}
	t := &target{
		name:       "centrifugo",
		workerArgs: []string{"--proto", "centrifugo", "--url", "ws" + strings.TrimPrefix(*base, "http") + "/connection/websocket", "--channel", *channel},
		send:       centrifugoPublisher(*base, *key, *channel),
	}
	r, err := runFanout(ctx, &c, t)
	if ferr := c.finish(r); err == nil {
		err = ferr
	}
	return err
}

// centrifugoPublisher publishes one message per call through the server
// API. It dials from 127.0.0.1 like Accord's sender does.
func centrifugoPublisher(base, key, channel string) func(context.Context, string) error {
	tr := &http.Transport{DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext, MaxIdleConnsPerHost: 4, DisableCompression: true}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	return func(ctx context.Context, content string) error {
		body, _ := json.Marshal(map[string]any{"channel": channel, "data": map[string]string{"text": content}})
		req, err := http.NewRequestWithContext(ctx, "POST", base+"/api/publish", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", key)
		res, err := hc.Do(req)
		if err != nil {
			return err
		}
		raw, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return err
		}
		if res.StatusCode != 200 || bytes.Contains(raw, []byte(`"error"`)) {
			return fmt.Errorf("publish: %d %s", res.StatusCode, truncate(raw))
		}
		return nil
	}
}

// waitCentrifugo polls /health (enabled by the config below) until the
// server answers.
func waitCentrifugo(ctx context.Context, base string) error {
	hc := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/health", nil)
		res, err := hc.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("centrifugo at %s not healthy: %v", base, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// runCentrifugoConfig writes a Centrifugo v6 configuration for the
// benchmark: loopback only, anonymous connections without a token,
// anonymous subscriptions to channels without a namespace, the HTTP API
// behind a key, Prometheus metrics (for the Go heap) and /health. Every
// other setting keeps its default (memory engine, no history, 25 s
// pings), as Accord keeps its own.
func runCentrifugoConfig(args []string) error {
	fs := flag.NewFlagSet("centrifugo-config", flag.ContinueOnError)
	out := fs.String("out", "", "file to write (required)")
	addr := fs.String("listen", "127.0.0.1:8001", "address Centrifugo listens on")
	key := fs.String("api-key", "bench", "HTTP API key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("need --out")
	}
	host, ps, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		return fmt.Errorf("--listen: port %q: %w", ps, err)
	}
	cfg := map[string]any{
		"http_server": map[string]any{"address": host, "port": port},
		"log":         map[string]any{"level": "warn"},
		"client": map[string]any{
			"allow_anonymous_connect_without_token": true,
			"allowed_origins":                       []string{"*"},
		},
		"channel": map[string]any{"without_namespace": map[string]any{
			"allow_subscribe_for_anonymous": true,
			"allow_subscribe_for_client":    true,
		}},
		"http_api":   map[string]any{"key": *key},
		"prometheus": map[string]any{"enabled": true},
		"health":     map[string]any{"enabled": true},
	}
	raw, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(*out, append(raw, '\n'), 0o644)
}
