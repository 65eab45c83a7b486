package main

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
	"net/url"
	"strings"
	"sync"
	"time"
)

// api is one client of the REST API: its own transport (so its own
// keep-alive connection) and token.
type api struct {
	base  string // http://host:port, without /api/v10
	token string
	hc    *http.Client
}

// newAPI returns a client for base. Against a loopback IPv4 host, client
// number n dials from 127.0.0.(2+n%250), spreading connections over many
// source addresses.
func newAPI(base, token string, n int) (*api, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("--url %q: scheme must be http or https", base)
	}
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() && ip.To4() != nil {
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+n%250))}
	}
	tr := &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        4,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &api{base: strings.TrimRight(base, "/"), token: token, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

func (a *api) close() { a.hc.Transport.(*http.Transport).CloseIdleConnections() }

// do sends a request (body nil, []byte or a value to encode) and returns
// the status and the whole response body.
func (a *api) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var buf bytes.Buffer
	return a.doInto(ctx, &buf, method, path, body)
}

// doInto is do reading the response into buf, which it resets first; the
// returned body aliases buf. The load loops reuse one buffer per client
// so that reading responses costs the load generator little.
func (a *api) doInto(ctx context.Context, buf *bytes.Buffer, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+"/api/v10"+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", a.token)
	}
	res, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	buf.Reset()
	_, err = buf.ReadFrom(res.Body)
	res.Body.Close()
	return res.StatusCode, buf.Bytes(), err
}

// call is do for setup requests: any status but want is an error, and the
// body is decoded into out when out is not nil.
func (a *api) call(ctx context.Context, want int, method, path string, body, out any) error {
	status, raw, err := a.do(ctx, method, path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if status != want {
		return fmt.Errorf("%s %s: status %d (want %d): %s", method, path, status, want, truncate(raw))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// waitHealthy polls /healthz until it answers 200 or ctx ends.
func waitHealthy(ctx context.Context, base string) error {
	hc := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(base, "/")+"/healthz", nil)
		res, err := hc.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server at %s not healthy: %v", base, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// runID is a short random tag that keeps usernames of repeated runs
// against one server apart.
func runID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// register creates a user and returns its token.
func register(ctx context.Context, base, username, password string) (string, error) {
	anon, err := newAPI(base, "", 0)
	if err != nil {
		return "", err
	}
	defer anon.close()
	var out struct {
		Token string `json:"token"`
	}
	err = anon.call(ctx, 201, "POST", "/auth/register", map[string]any{"username": username, "password": password}, &out)
	return out.Token, err
}

// parallel runs fn(i) for i in [0, n) on at most workers goroutines and
// returns the first error.
func parallel(n, workers int, fn func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for range min(n, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}
